"""Projections of TradeEscrow's assured pre-payment: guarantees per (guarantor, supplier), and pools.

A pre-payment moves part of an order's escrow out at FUNDED on the guarantor's signed offer,
``amount - fee`` to the supplier and ``fee`` to the guarantor, backed by the guarantor's pool
for the whole ``amount``: the order row records it (``prepaid`` the whole amount,
``prepayment_fee``, ``paid_to_supplier`` the net), the guarantee row carries the exposure and
the shortfall (``exposure``, ``shortfall``) and the totals (``prepaid_total`` of whole amounts,
``fees_total`` of the fees in them, ``claimed_total``), the pool row what is available and
reserved (``pool``). A guarantee or pool row is created by the first event that touches it.
"""

from __future__ import annotations

from ledger.index.projections.bulk import Row
from ledger.index.projections.projector import Event, Page, Touch, on


def _new_guarantee() -> Row:
    return {"exposure": 0, "shortfall": 0, "prepaid_total": 0, "fees_total": 0, "claimed_total": 0}


def _new_pool() -> Row:
    return {"available": 0, "reserved": 0}


@on(
    "TradeEscrow",
    "PrepaymentReleased",
    lambda log: [
        ("orders", (log.args["orderId"],)),
        ("guarantees", (log.args["guarantor"], log.args["supplier"])),
        ("pools", (log.args["guarantor"],)),
    ],
)
def _prepayment(page: Page, log: Event) -> None:
    a = log.args
    amount, fee = a["amount"], a["fee"]
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        order.update(prepaid=amount, guarantor=a["guarantor"], prepayment_fee=fee, paid_to_supplier=amount - fee)
        order["escrowed"] -= amount
    guarantee = page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)
    guarantee["exposure"] += amount
    guarantee["prepaid_total"] += amount
    guarantee["fees_total"] += fee
    pool = page.get_or_create("pools", (a["guarantor"],), _new_pool)
    pool["available"] -= amount
    pool["reserved"] += amount


def _guarantee_and_pool(log: Event) -> list[Touch]:
    return [("guarantees", (log.args["guarantor"], log.args["supplier"])), ("pools", (log.args["guarantor"],))]


# The pool's reserve: a payout frees the whole pre-payment (GuaranteeClaimed: what the pool paid
# the buyer; ExposureReleased: the rest, back to available). A shortfall repayment adds to the
# available currency only: ShortfallRepaid puts its amount in reserve, so that the
# ExposureReleased that follows it moves it on to available.


@on("TradeEscrow", "GuaranteeClaimed", _guarantee_and_pool)
def _guarantee_claimed(page: Page, log: Event) -> None:
    a = log.args
    guarantee = page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)
    guarantee["shortfall"] += a["amount"]
    guarantee["claimed_total"] += a["amount"]
    page.get_or_create("pools", (a["guarantor"],), _new_pool)["reserved"] -= a["amount"]


@on("TradeEscrow", "ExposureReleased", _guarantee_and_pool)
def _exposure_released(page: Page, log: Event) -> None:
    a = log.args
    page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)["exposure"] -= a["amount"]
    pool = page.get_or_create("pools", (a["guarantor"],), _new_pool)
    pool["reserved"] -= a["amount"]
    pool["available"] += a["amount"]


@on("TradeEscrow", "ShortfallRepaid", _guarantee_and_pool)
def _shortfall_repaid(page: Page, log: Event) -> None:
    a = log.args
    page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)["shortfall"] = a["remaining"]
    page.get_or_create("pools", (a["guarantor"],), _new_pool)["reserved"] += a["amount"]


def _pool(log: Event) -> list[Touch]:
    return [("pools", (log.args["guarantor"],))]


@on("TradeEscrow", "PoolFunded", _pool)
@on("TradeEscrow", "PoolWithdrawn", _pool)
def _pool_changed(page: Page, log: Event) -> None:
    page.get_or_create("pools", (log.args["guarantor"],), _new_pool)["available"] = log.args["available"]
