"""``/v1/audit``: an auditor replays the ledger from the chain, recomputes what was published, reads histories.

* ``POST /runs`` starts a replay (``ledger.audit``); with ``{"limits": true}`` the run also recomputes
  every published credit limit, with ``{"offers": true}`` every offer in this API's store
  (``api.v1.audit_reads``). ``GET /runs/{id}`` is its report, ``GET /runs`` the runs, newest first.
* ``GET /history/orders/{id}``, ``GET /history/pieces/{id}``: the decoded history of an order or a
  piece: its events, the calls that made them, the refused calls that named it.
* ``GET /scores``: every trading member's decision with its supply tier (the score-by-tier picture).

The replay re-reads the chain, not the SQL the other routes serve, so its report is independent of
this API's index. One run at a time per API process; it runs in a thread of its own and its report
is kept in the API's store. The replay reports no progress while it runs (``ledger.audit.replay``
takes no progress callback; its progress bar writes to a terminal): a running run says when it started.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, insert, select, update

from api.errors import Conflict, Forbidden, NotFound
from api.v1 import audit_reads, store
from api.v1.audit_schemas import AuditRunIn, AuditRunPage, HistoryOut, ScoresOut
from api.v1.auth import Party
from api.v1.deps import ERRORS, Me, Services, Svc
from api.v1.reads import MAX_PAGE
from api.v1.schemas import AuditRunOut
from ledger.audit import Deployment, replay
from scoring.audit import refused_calls

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)

RunId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
ObjectId = Annotated[int, Path(ge=1, lt=2**63)]
_running = threading.Lock()


def _auditor(party: Party, action: str) -> None:
    if not party.auditor:
        raise Forbidden(party.address, action, "only auditors (AUDITOR or ADMIN role) run and read audits")


def _run_id() -> str:
    """A UUIDv7 (RFC 9562): its first 48 bits are the milliseconds since 1970, the rest random, so runs started
    within one second (``created_at``'s grain) still list newest first by id."""
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    rand_a, rand_b = int.from_bytes(os.urandom(2), "big") & 0xFFF, int.from_bytes(os.urandom(8), "big") >> 2
    return str(uuid.UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b))


def _part(name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A recomputation's JSON, or why it could not run: its failure is reported, the replay's report kept."""
    try:
        found: dict[str, Any] = work()
    except Exception as exc:
        return {"ok": False, "error": f"the {name} could not be recomputed: {type(exc).__name__}: {exc}"}
    return found


def _run(svc: Services, run_id: str, options: AuditRunIn) -> None:
    engine: Engine = svc.store
    try:
        settings = svc.settings
        deployment = Deployment.of(svc.chain_id, settings.addresses, settings.build, settings.start_block)
        result = replay(svc.chain, deployment, progress=False, keep_logs=options.offers)
        document = result.report.to_json()
        document["requested"] = options.model_dump()
        if options.limits or options.offers:
            refused = refused_calls(deployment, result)
            if options.limits:
                document["scores"] = _part(
                    "published limits", lambda: audit_reads.recompute_limits(svc, deployment, result, refused)
                )
            if options.offers:
                document["offers"] = _part(
                    "offers", lambda: audit_reads.recompute_offers(svc, deployment, result, refused)
                )
        values: dict[str, Any] = {"state": "done", "ok": int(result.report.ok), "report": json.dumps(document)}
    except Exception as exc:  # the run's failure is its outcome, reported, never lost in a thread
        values = {"state": "failed", "report": json.dumps({"error": f"{type(exc).__name__}: {exc}"})}
    finally:
        _running.release()
    with engine.begin() as connection:
        connection.execute(
            update(store.audit_runs)
            .where(store.audit_runs.c.id == run_id)
            .values(finished_at=int(time.time()), **values)
        )


def _out(row: Any) -> AuditRunOut:
    report = json.loads(row.report) if row.report else None
    error = report.get("error") if isinstance(report, dict) and row.state == "failed" else None
    return AuditRunOut(
        id=row.id,
        requestedBy=row.requested_by,
        state=row.state,
        createdAt=row.created_at,
        finishedAt=row.finished_at,
        ok=None if row.ok is None else bool(row.ok),
        report=None if error else report,
        error=error,
    )


@router.post("/runs", status_code=202, response_model=AuditRunOut)
def start(svc: Svc, party: Me, body: Annotated[AuditRunIn | None, Body()] = None) -> JSONResponse:
    """Start a replay from the deployment's first block; poll ``Location`` until its state is not ``running``.

    With ``limits`` the report also holds ``scores`` (every published limit recomputed), with ``offers`` it
    holds ``offers`` (every offer in this API's store recomputed): what ``scf audit replay --scores --offers
    --json`` writes, under the models and policy files this server holds (``api.v1.audit_reads``). The run's
    ``ok`` is the replay's verdict; each recomputation carries its own ``ok``."""
    _auditor(party, "start an audit replay")
    options = body or AuditRunIn()
    if not _running.acquire(blocking=False):
        raise Conflict("audit_running", "an audit replay is already running; poll its status")
    run_id = _run_id()
    created = int(time.time())
    row = {"id": run_id, "requested_by": party.address, "state": "running", "created_at": created}
    try:
        with svc.store.begin() as connection:
            connection.execute(insert(store.audit_runs).values(**row))
    except BaseException:
        _running.release()
        raise
    threading.Thread(target=_run, args=(svc, run_id, options), name=f"audit-{run_id}", daemon=True).start()
    url = f"/v1/audit/runs/{run_id}"
    answer = AuditRunOut(
        id=run_id, requestedBy=party.address, state="running", createdAt=created, finishedAt=None,
        ok=None, report=None, error=None,
    )  # fmt: skip
    return JSONResponse(answer.model_dump(), status_code=202, headers={"Location": url})


@router.get("/runs", response_model=AuditRunPage)
def runs(
    svc: Svc,
    party: Me,
    after: Annotated[
        str | None, Query(pattern=r"^[0-9a-f-]{36}$", description="the nextAfter of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditRunPage:
    """Every run, newest first, each in a line (verdicts, digest, counts); the report is ``/runs/{id}``."""
    _auditor(party, "read audit reports")
    items, next_after = audit_reads.run_page(svc.store, after, limit)
    return AuditRunPage(items=items, nextAfter=next_after)


@router.get("/runs/{run_id}", response_model=AuditRunOut)
def run(svc: Svc, party: Me, run_id: RunId) -> AuditRunOut:
    _auditor(party, "read audit reports")
    with svc.store.connect() as connection:
        row = connection.execute(select(store.audit_runs).where(store.audit_runs.c.id == run_id)).one_or_none()
    if row is None:
        raise NotFound("audit run", run_id)
    return _out(row)


@router.get("/history/orders/{order_id}", response_model=HistoryOut)
def order_history(svc: Svc, party: Me, order_id: ObjectId) -> HistoryOut:
    """The order's events (with every other log of their transactions), the calls that made them, decoded, and
    the refused calls that named it; ``refusedScope`` says which refused calls can be found at all."""
    _auditor(party, "read decoded histories")
    return audit_reads.Histories(svc).order(party, order_id)


@router.get("/history/pieces/{piece_id}", response_model=HistoryOut)
def piece_history(svc: Svc, party: Me, piece_id: ObjectId) -> HistoryOut:
    """The piece's events and its receivable's (issued, repaid, defaulted), with every other log of their
    transactions, the calls that made them, decoded, and the refused calls that named either."""
    _auditor(party, "read decoded histories")
    return audit_reads.Histories(svc).piece(party, piece_id)


@router.get("/scores", response_model=ScoresOut)
def scores(svc: Svc, party: Me) -> ScoresOut:
    """Every trading member's credit decision as of the last final block, with its supply tier."""
    _auditor(party, "read every party's scores")
    return audit_reads.scores(svc)
