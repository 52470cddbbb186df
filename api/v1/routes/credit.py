"""``/v1/credit``: limits banks published on chain, and the scorer's decisions, reports and evaluation.

* ``/limits``: the limits as they stand (CreditRegistry, as indexed): a party sees the limits
  granted to it, a bank the limits it published, an auditor all.
* ``/decisions/{party}``: the decision as of the last final block (the indexed head less the
  confirmation depth) or ``?as_of_block=N``: score, PD, grade, limit, the top four reasons in
  plain words, the model's version hash, the as-of block and the decision's hash.
  ``INSUFFICIENT_HISTORY`` is a decision, not an error; a block beyond the last final one is a
  422 naming ``as_of_block``.
* ``/reports/{party}``: the decision with every feature it rests on, by window.
* ``/history/{party}``: every limit published for (or revoked from) the party, from the events.
* ``/evaluation``: the last evaluation report written (``scf score evaluate --json``), if any.

Who reads what is in ``api.v1.credit`` (a bank reads any trading party's decision, only its own
clients' reports); anything else answers 404 like a party that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy import or_, select

from api.errors import NotFound
from api.v1.auth import Party
from api.v1.credit import CreditDesk, Scored
from api.v1.deps import ERRORS, Me, Svc
from api.v1.reads import MAX_PAGE
from api.v1.schemas import CreditLimitOut, CreditReportOut, DecisionOut, EvaluationOut, LimitEventOut, LimitHistoryPage
from ledger.sql.models import CreditLimit, Event

router = APIRouter(prefix="/credit", tags=["credit"], responses=ERRORS)

AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="the party's address")]
AsOfBlock = Annotated[
    int | None,
    Query(ge=0, lt=2**63, description="decide as of this block (default: the indexed head less the confirmations)"),
]
LIMIT_EVENTS = ("LimitPublished", "LimitRevoked")


@router.get("/limits", response_model=list[CreditLimitOut])
async def limits(
    svc: Svc,
    party: Me,
    include_revoked: Annotated[bool, Query(alias="includeRevoked")] = False,
) -> list[CreditLimitOut]:
    query = select(CreditLimit).where(CreditLimit.chain_id == svc.chain_id)
    if not party.auditor:
        query = query.where(or_(CreditLimit.party == party.address, CreditLimit.bank == party.address))
    if not include_revoked:
        query = query.where(CreditLimit.revoked.is_(False))
    with svc.engine.connect() as connection:
        rows = connection.execute(query.order_by(CreditLimit.party, CreditLimit.bank)).all()
    return [
        CreditLimitOut(
            bank=row.bank,
            party=row.party,
            limit=str(row.limit),
            score=row.score,
            grade=row.grade,
            modelHash=row.model_hash,
            validUntil=row.valid_until,
            publishedAt=row.published_at,
            revoked=row.revoked,
            updatedBlock=row.updated_block,
        )
        for row in rows
    ]


async def _scored(desk: CreditDesk, as_of_block: int | None) -> Scored:
    block = desk.as_of(as_of_block)
    # A ready table is a dictionary lookup; a build reads the whole history: a worker thread's job.
    found = desk.peek(block)
    if found is not None:
        return found
    return await anyio.to_thread.run_sync(desk.scored, block)


def _may_ask(party: Party, target: str) -> bool:
    """Who may ask at all: the rest is refused before anything is read or built (no probing)."""
    return party.auditor or party.address == target or party.has("bank")


@router.get("/decisions/{party}", response_model=DecisionOut)
async def decision(svc: Svc, me: Me, party: AddressPath, as_of_block: AsOfBlock = None) -> Response:
    target = to_checksum_address(party)
    if not _may_ask(me, target):
        raise NotFound("credit decision", target)
    scored = await _scored(svc.credit, as_of_block)
    # The answer's JSON is made once per party and block (DecisionOut), then served as bytes.
    return Response(svc.credit.answer(me, target, scored), media_type="application/json")


@router.get("/reports/{party}", response_model=CreditReportOut)
async def report(svc: Svc, me: Me, party: AddressPath, as_of_block: AsOfBlock = None) -> CreditReportOut:
    target = to_checksum_address(party)
    if not svc.credit.may_read_report(me, target):
        raise NotFound("credit report", target)
    scored = await _scored(svc.credit, as_of_block)
    return CreditReportOut(**svc.credit.report(me, target, scored))


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _limit_event(row: Any) -> LimitEventOut:
    a = row.args
    published = row.event == "LimitPublished"
    return LimitEventOut(
        kind="published" if published else "revoked",
        bank=a["bank"],
        party=a["party"],
        limit=str(a["limit"]) if published else None,
        score=int(a["score"]) if published else None,
        grade=int(a["grade"]) if published else None,
        modelHash=a["modelHash"] if published else None,
        validUntil=int(a["validUntil"]) if published else None,
        nonce=str(a["nonce"]) if published else None,
        submitter=a["submitter"] if published else None,
        blockNumber=row.block_number,
        logIndex=row.log_index,
        txHash=row.tx_hash,
        timestamp=row.block_timestamp,
    )


@router.get("/history/{party}", response_model=LimitHistoryPage)
async def history(
    svc: Svc,
    me: Me,
    party: AddressPath,
    after: Annotated[int, Query(ge=0, lt=2**63, description="the nextAfter of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> LimitHistoryPage:
    target = to_checksum_address(party)
    if not _may_ask(me, target):
        raise NotFound("credit history", target)
    svc.credit.require_member(target)
    # The registry's events carry bank and party as indexed topics 1 and 2.
    query = select(Event).where(
        Event.chain_id == svc.chain_id,
        Event.contract == "CreditRegistry",
        Event.event.in_(LIMIT_EVENTS),
        Event.topic2 == _topic(target),
        Event.id > after,
    )
    if not (me.auditor or me.address == target):
        query = query.where(Event.topic1 == _topic(me.address))  # a bank sees what it published itself
    with svc.engine.connect() as connection:
        rows = connection.execute(query.order_by(Event.id).limit(limit + 1)).all()
    items = [_limit_event(row) for row in rows[:limit]]
    return LimitHistoryPage(items=items, nextAfter=rows[limit - 1].id if len(rows) > limit else None)


@router.get("/evaluation", response_model=EvaluationOut)
async def evaluation(svc: Svc, me: Me) -> EvaluationOut:
    return EvaluationOut(**svc.credit.evaluation_report(me))
