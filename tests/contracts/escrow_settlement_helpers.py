"""What the TradeEscrow settlement and dispute tests share: an order of the world in a given state, a
dispute opened (and answered) on the world's delivered order, and refusals as (error, arguments).

Plain functions over the world of ``tests.support.escrow``, no fixtures: each test module declares
its own pair (``module_world, world = world_fixtures(open_world)``, ``tests.support.worlds``) so that
its world is built once per module and backend.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from ledger.domain.escrow import OrderStatus
from tests.support.deployments import Deployed
from tests.support.escrow import World, acct, escrow_of, inspect, open_dispute, revert_of

REASON = keccak(text="goods damaged")
RESPONSE = keccak(text="photos of the packed goods")


def order_in(deployed: Deployed, world: World, state: str) -> int:
    """One of the world's orders, moved on to ``state`` where the world has none in it."""
    escrow = escrow_of(deployed)
    if state in ("created", "funded", "shipped", "delivered"):
        return int(getattr(world, state))
    if state == "inspected":
        inspect(deployed, world.inspecting)
        return world.inspecting
    if state == "disputed":
        open_dispute(deployed, world.delivered)
        return world.delivered
    if state == "released":
        escrow.confirm_receipt(world.delivered, acct(deployed, "core"))
        return world.delivered
    if state == "cancelled":
        escrow.cancel_unfunded(world.created, acct(deployed, "core"))
        return world.created
    raise ValueError(state)


def disputed(deployed: Deployed, world: World, *, answered: bool = False) -> int:
    open_dispute(deployed, world.delivered)
    if answered:
        escrow_of(deployed).answer_dispute(world.delivered, RESPONSE, acct(deployed, "tier1"))
    return world.delivered


def refused(call: Any) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(call)
    return caught.error, caught.error_args


def invalid_status(order_id: int, status: OrderStatus) -> tuple[str, dict[str, Any]]:
    return "TradeEscrowInvalidStatus", {"orderId": order_id, "status": status}
