"""``/v1/audit/runs``: an auditor starts a replay of the ledger from the chain and reads its report.

The replay (``ledger.audit``) re-reads the chain, not the SQL the other routes serve, so its
report is independent of this API's index. One run at a time per API process; it runs in a
thread of its own and its report is kept in the API's store.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, insert, select, update

from api.errors import Conflict, Forbidden, NotFound
from api.v1 import store
from api.v1.auth import Party
from api.v1.deps import ERRORS, Me, Services, Svc
from api.v1.schemas import AuditRunOut
from ledger.audit import Deployment, replay

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)

RunId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
_running = threading.Lock()


def _auditor(party: Party, action: str) -> None:
    if not party.auditor:
        raise Forbidden(party.address, action, "only auditors (AUDITOR or ADMIN role) run and read audits")


def _run(svc: Services, run_id: str) -> None:
    engine: Engine = svc.store
    try:
        settings = svc.settings
        deployment = Deployment.of(svc.chain_id, settings.addresses, settings.build, settings.start_block)
        result = replay(svc.chain, deployment, progress=False)
        values: dict[str, Any] = {
            "state": "done",
            "ok": int(result.report.ok),
            "report": json.dumps(result.report.to_json()),
        }
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
def start(svc: Svc, party: Me) -> JSONResponse:
    _auditor(party, "start an audit replay")
    if not _running.acquire(blocking=False):
        raise Conflict("audit_running", "an audit replay is already running; poll its status")
    run_id = str(uuid.uuid4())
    created = int(time.time())
    row = {"id": run_id, "requested_by": party.address, "state": "running", "created_at": created}
    try:
        with svc.store.begin() as connection:
            connection.execute(insert(store.audit_runs).values(**row))
    except BaseException:
        _running.release()
        raise
    threading.Thread(target=_run, args=(svc, run_id), name=f"audit-{run_id}", daemon=True).start()
    url = f"/v1/audit/runs/{run_id}"
    body = AuditRunOut(
        id=run_id, requestedBy=party.address, state="running", createdAt=created, finishedAt=None,
        ok=None, report=None, error=None,
    )  # fmt: skip
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})


@router.get("/runs/{run_id}", response_model=AuditRunOut)
def run(svc: Svc, party: Me, run_id: RunId) -> AuditRunOut:
    _auditor(party, "read audit reports")
    with svc.store.connect() as connection:
        row = connection.execute(select(store.audit_runs).where(store.audit_runs.c.id == run_id)).one_or_none()
    if row is None:
        raise NotFound("audit run", run_id)
    return _out(row)
