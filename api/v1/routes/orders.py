"""``/v1/orders``: purchase orders the party is a side of (reads); the write flow is in ``order_writes``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.v1.deps import AUTH_ERRORS, Me, Svc
from api.v1.schemas import OrderDetailOut, OrderPage

router = APIRouter(prefix="/orders", tags=["orders"], responses=AUTH_ERRORS)

OrderId = Annotated[int, Path(ge=1, lt=2**63)]
STATUSES = r"^(CREATED|FUNDED|SHIPPED|DELIVERED|INSPECTED|DISPUTED|RELEASED|REFUNDED|SETTLED|CANCELLED)$"


@router.get("", response_model=OrderPage)
def orders(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
) -> OrderPage:
    items, next_after = svc.reads.orders(party, after, limit, status)
    return OrderPage(items=items, nextAfter=next_after)


@router.get("/{order_id}", response_model=OrderDetailOut)
def order(svc: Svc, party: Me, order_id: OrderId) -> OrderDetailOut:
    return svc.reads.order(party, order_id)
