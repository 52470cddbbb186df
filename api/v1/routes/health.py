"""``GET /v1/health``: the node, the index and how far behind the head it is (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from api.v1.deps import ERRORS, Svc
from api.v1.schemas import HealthOut
from ledger.index.sql.models import Cursor

router = APIRouter(tags=["health"], responses=ERRORS)


@router.get("/health", response_model=HealthOut)
def health(svc: Svc) -> HealthOut:
    head: int | None
    try:
        head = svc.chain.block_number
    except Exception:  # any transport failure: the node is down, which is what health reports
        head = None
    indexed: int | None
    try:
        with svc.engine.connect() as connection:
            indexed = connection.execute(
                select(Cursor.block_number).where(Cursor.chain_id == svc.chain_id)
            ).scalar_one_or_none()
        database = "ok"
        now = svc.reads.financing.now()
    except Exception:  # the database is down or has no schema yet
        indexed, database, now = None, "unavailable", None
    lag = head - indexed if head is not None and indexed is not None else None
    status = "ok" if head is not None and database == "ok" and indexed is not None else "degraded"
    return HealthOut(
        status=status,
        chainId=svc.chain_id,
        headBlock=head,
        indexedBlock=indexed,
        lagBlocks=lag,
        database=database,
        contracts=svc.settings.addresses,
        now=now,
    )
