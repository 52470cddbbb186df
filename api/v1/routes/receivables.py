"""``/v1/receivables``: receivable roots, their trees (as far as the party may see) and pieces (reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.v1.deps import AUTH_ERRORS, Me, Svc
from api.v1.reads import piece_out
from api.v1.schemas import PieceOut, PiecePage, ReceivableDetailOut, ReceivablePage

router = APIRouter(prefix="/receivables", tags=["receivables"], responses=AUTH_ERRORS)

Id = Annotated[int, Path(ge=1, lt=2**63)]
STATUSES = r"^(OUTSTANDING|REPAID|DEFAULTED)$"


@router.get("", response_model=ReceivablePage)
def receivables(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
) -> ReceivablePage:
    items, next_after = svc.reads.receivables(party, after, limit, status)
    return ReceivablePage(items=items, nextAfter=next_after)


@router.get("/pieces", response_model=PiecePage)
def pieces_held(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PiecePage:
    items, next_after = svc.reads.pieces_held(party, after, limit)
    return PiecePage(items=items, nextAfter=next_after)


@router.get("/pieces/{piece_id}", response_model=PieceOut)
def piece(svc: Svc, party: Me, piece_id: Id) -> PieceOut:
    found, _root = svc.reads.piece_row(party, piece_id)
    return piece_out(found)


@router.get("/{root_id}", response_model=ReceivableDetailOut)
def receivable(svc: Svc, party: Me, root_id: Id) -> ReceivableDetailOut:
    return svc.reads.receivable(party, root_id)
