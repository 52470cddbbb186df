"""``/v1/financing-requests``: the inbox of financing requests, and the holder's withdrawal.

A holder asks for financing on its piece (``POST /v1/receivables/pieces/{id}/financing-requests``,
one bank or every bank); ``GET /v1/financing-requests`` lists the requests the party may see (a
bank those addressed to it or to every bank, a holder its own, an auditor all; anyone else
none), oldest first, keyset-paged by request id (``after``, ``limit``, ``nextAfter``), filtered
by ``state`` (open, offered, accepted, expired, withdrawn) and ``pieceId``. A bank's desk polls
it: a page costs a fixed handful of queries, whatever its size. ``POST .../{id}/withdraw`` takes
a request back: its holder only (another party's answers 404), again answers the first
withdrawal, and an accepted request cannot be withdrawn (409). ``POST .../{id}/decline`` is a
bank's answer when it makes no offer: its reasons in words, which the holder reads with the request
(``declines``; ``api.v1.declines``); a request open to that bank only (404 for a party it is not
addressed to, 409 when not open to the bank), again answers the first decline. States and
visibility are ``api.v1.financing``'s.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.v1.declines import DeclineIn, reasons_text
from api.v1.deps import ERRORS, Me, Svc
from api.v1.schemas import FinancingRequestOut, FinancingRequestPage, RequestState

router = APIRouter(prefix="/financing-requests", tags=["financing"], responses=ERRORS)

RequestId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


@router.get("", response_model=FinancingRequestPage)
async def inbox(
    svc: Svc,
    party: Me,
    state: RequestState | None = None,
    piece_id: Annotated[int | None, Query(alias="pieceId", ge=1, lt=2**63)] = None,
    after: Annotated[str | None, Query(pattern=r"^[0-9a-f-]{36}$", description="nextAfter of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FinancingRequestPage:
    items, next_after = svc.reads.financing.page(party, state, piece_id, after, limit)
    return FinancingRequestPage(items=items, nextAfter=next_after)


@router.post("/{request_id}/withdraw", response_model=FinancingRequestOut)
def withdraw(svc: Svc, party: Me, request_id: RequestId) -> FinancingRequestOut:
    """The holder takes its request back: banks no longer see the piece through it, and it opens no report."""
    return svc.reads.financing.withdraw(party, request_id)


@router.post("/{request_id}/decline", response_model=FinancingRequestOut)
def decline(svc: Svc, party: Me, request_id: RequestId, body: DeclineIn) -> FinancingRequestOut:
    """A bank addressed makes no offer on the request's current ask, and says why: the holder reads the reasons."""
    return svc.reads.financing.decline(party, request_id, reasons_text(body))
