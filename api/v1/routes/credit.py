"""``/v1/credit``: credit limits banks published on chain (CreditRegistry, as indexed).

A party sees the limits granted to it, a bank the limits it published, an auditor all. The
scorer's routes (a decision with its reason codes, the report, the history of decisions, the
model's evaluation) belong here too and arrive with ``scoring/``: they read the scorer's
tables and call it, the way the routes above read the indexer's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from api.v1.deps import ERRORS, Me, Svc
from api.v1.schemas import CreditLimitOut
from ledger.sql.models import CreditLimit

router = APIRouter(prefix="/credit", tags=["credit"], responses=ERRORS)


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
