"""``/v1/parties``: the members of the ledger (Membership, as indexed) and the caller itself."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, Response

from api.v1.deps import AUTH_ERRORS, Me, Svc
from api.v1.read_answers import response
from api.v1.schemas import MemberOut

router = APIRouter(prefix="/parties", tags=["parties"], responses=AUTH_ERRORS)

AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]


@router.get("", response_model=list[MemberOut])
async def parties(
    svc: Svc,
    _party: Me,
    after: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[MemberOut]:
    return svc.reads.members(after, limit)


@router.get("/me", response_model=MemberOut)
async def me(svc: Svc, party: Me) -> Response:
    return response(svc.reads.member_json(party.address))


@router.get("/{address}", response_model=MemberOut)
async def party(svc: Svc, _party: Me, address: AddressPath) -> Response:
    return response(svc.reads.member_json(to_checksum_address(address)))
