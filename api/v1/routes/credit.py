"""``/v1/credit``: limits banks published on chain, and the scorer's decisions, reports and evaluation.

* ``/limits``: the limits as they stand (CreditRegistry, as indexed): a party sees the limits
  granted to it, a bank the limits it published, an auditor all.
* ``/decisions/{party}``: the decision as of the last final block (the indexed head less the
  confirmation depth) or ``?as_of_block=N``: score, PD, grade, limit, the top four reasons in
  plain words, the model's version hash, the as-of block and the decision's hash.
  ``INSUFFICIENT_HISTORY`` is a decision, not an error; a block beyond the last final one is a
  422 naming ``as_of_block``.
* ``/reports/{party}``: the decision with every feature it rests on, by window: the party's
  own, an auditor's, or a bank's with the party's consent or an open financing request.
* ``/history/{party}``: every limit published for (or revoked from) the party, from the events.
* ``/evaluation``: the last evaluation report written (``scf score evaluate --json``), if any.
* ``/consents``: a supplier's signed consents for banks to read its report (``api.v1.consents``):
  ``POST /consents/typed-data`` serves what to sign, ``POST /consents`` stores the signed consent,
  ``GET /consents[/{id}]`` lists what the party gave (a supplier) or received (a bank),
  ``POST /consents/{id}/revoke`` ends it at once.

Who reads what is in ``api.v1.credit`` (a bank reads any trading party's decision; a report only
with the party's consent or an open financing request). The API's convention holds: what the
party may not see answers 404, like one that does not exist (a report without a grant, another
pair's consent); what it sees but may not do answers 403 (a bank revoking a consent given to
it; a bank or auditor giving one).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.errors import InvalidField, NotFound
from api.v1.auth import Party
from api.v1.consents import ConsentTerms, consent_domain
from api.v1.deps import ERRORS, Me, Svc
from api.v1.reads import MAX_PAGE
from api.v1.routes.common import typed
from api.v1.schemas import (
    ConsentIn,
    ConsentOut,
    ConsentPage,
    ConsentTermsIn,
    CreditLimitOut,
    CreditReportOut,
    DecisionOut,
    EvaluationOut,
    LimitEventOut,
    LimitHistoryPage,
    TypedDataOut,
)
from ledger.domain.typed_data import Domain

router = APIRouter(prefix="/credit", tags=["credit"], responses=ERRORS)

AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="the party's address")]
AsOfBlock = Annotated[
    int | None,
    Query(ge=0, lt=2**63, description="decide as of this block (default: the indexed head less the confirmations)"),
]


@router.get("/limits", response_model=list[CreditLimitOut])
async def limits(
    svc: Svc,
    party: Me,
    include_revoked: Annotated[bool, Query(alias="includeRevoked")] = False,
) -> list[CreditLimitOut]:
    rows = svc.reads.credit_limits(party, include_revoked=include_revoked)
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


def _may_ask(party: Party, target: str) -> bool:
    """Who may ask at all: the rest is refused before anything is read or built (no probing)."""
    return party.auditor or party.address == target or party.has("bank")


@router.get("/decisions/{party}", response_model=DecisionOut)
async def decision(svc: Svc, me: Me, party: AddressPath, as_of_block: AsOfBlock = None) -> Response:
    target = to_checksum_address(party)
    if not _may_ask(me, target):
        raise NotFound("credit decision", target)
    scored = await svc.credit.scored_async(as_of_block)
    # The answer's JSON is made once per party and block (DecisionOut), then served as bytes.
    return Response(svc.credit.answer(me, target, scored), media_type="application/json")


@router.get("/reports/{party}", response_model=CreditReportOut)
async def report(svc: Svc, me: Me, party: AddressPath, as_of_block: AsOfBlock = None) -> CreditReportOut:
    """The party's credit report: for the party itself, an auditor, or a bank the party let in.

    A bank reads it while the party's signed consent to that bank is unexpired and unrevoked
    (``POST /v1/credit/consents``), or while the party has an open financing request to it (a
    piece it still holds and could still sell). A limit the bank published grants nothing.
    Without a grant the answer is 404, the same as for a party that does not exist, so a bank
    cannot probe who is a member; both grants are checked on every read.
    """
    target = to_checksum_address(party)
    # The grants are SQL reads (consents, requests, pieces): a worker thread's job, not the event loop's.
    if not await anyio.to_thread.run_sync(svc.credit.may_read_report, me, target):
        raise NotFound("credit report", target)
    scored = await svc.credit.scored_async(as_of_block)
    return CreditReportOut(**svc.credit.report(me, target, scored))


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
    rows = svc.reads.limit_events(me, target, after, limit + 1)
    items = [_limit_event(row) for row in rows[:limit]]
    return LimitHistoryPage(items=items, nextAfter=rows[limit - 1].id if len(rows) > limit else None)


@router.get("/evaluation", response_model=EvaluationOut)
async def evaluation(svc: Svc, me: Me) -> EvaluationOut:
    return EvaluationOut(**svc.credit.evaluation_report(me))


# -- consents: a supplier lets one bank read its report, until it expires or is revoked -----------

ConsentId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="the consent's id")]


def _consent_terms(svc: Svc, me: Party, body: ConsentTermsIn) -> ConsentTerms:
    terms = ConsentTerms(me.address, body.bank, body.expiresAt, body.nonce)
    svc.credit.consents.check_terms(me, terms)
    bank = svc.reads.member_or_none(body.bank)
    if bank is None or "bank" not in bank.roles or bank.status != "ACTIVE":
        raise InvalidField("bank", f"{body.bank} is not an active bank on the ledger")
    return terms


def _consent_out(svc: Svc, row: dict[str, Any]) -> ConsentOut:
    return ConsentOut(
        id=row["id"],
        supplier=row["supplier"],
        bank=row["bank"],
        expiresAt=row["expires_at"],
        nonce=row["nonce"],
        signature=row["signature"],
        createdAt=row["created_at"],
        revokedAt=row["revoked_at"],
        state=svc.credit.consents.state(row),
    )


def _domain(svc: Svc) -> Domain:
    return consent_domain(svc.chain_id, svc.settings.addresses["CreditRegistry"])


@router.post("/consents/typed-data", response_model=TypedDataOut)
def consent_typed_data(svc: Svc, me: Me, body: ConsentTermsIn) -> TypedDataOut:
    """The EIP-712 ``CreditReportConsent`` you (the supplier) sign to let ``bank`` read your credit report.

    Sign ``typedData`` as served (``eth_signTypedData_v4``; its integers are decimal strings), then
    ``POST /v1/credit/consents`` with the same terms and the signature.
    """
    return typed(_consent_terms(svc, me, body).document(_domain(svc)))


@router.post("/consents", status_code=201, response_model=ConsentOut)
def give_consent(svc: Svc, me: Me, body: ConsentIn) -> ConsentOut:
    """Store your signed consent: ``bank`` reads your credit report until ``expiresAt`` or until you revoke it.

    A signature by anyone but you is a 422 naming ``signature``; posting the same consent again
    answers the stored one; a nonce you used before (also in a revoked consent) is a 422 naming ``nonce``.
    """
    terms = _consent_terms(svc, me, body)
    return _consent_out(svc, svc.credit.consents.give(me, terms, body.signature, _domain(svc), svc.chain))


@router.get("/consents", response_model=ConsentPage)
def consents(
    svc: Svc,
    me: Me,
    include_inactive: Annotated[bool, Query(alias="includeInactive", description="revoked and expired too")] = False,
    after: Annotated[int, Query(ge=0, lt=2**63, description="the nextAfter of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> ConsentPage:
    """The consents you gave (a supplier) or were given (a bank), oldest first; an auditor sees all."""
    rows, next_after = svc.credit.consents.page(me, after, limit, include_inactive)
    return ConsentPage(items=[_consent_out(svc, row) for row in rows], nextAfter=next_after)


@router.get("/consents/{consent_id}", response_model=ConsentOut)
def consent(svc: Svc, me: Me, consent_id: ConsentId) -> ConsentOut:
    return _consent_out(svc, svc.credit.consents.find(me, consent_id))


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke_consent(svc: Svc, me: Me, consent_id: ConsentId) -> ConsentOut:
    """Revoke your consent: the bank's next read of your report is refused. Revoking twice keeps the first time.

    Only the supplier that gave it revokes (the bank it was given to gets 403; anyone else 404).
    """
    return _consent_out(svc, svc.credit.consents.revoke(me, consent_id))
