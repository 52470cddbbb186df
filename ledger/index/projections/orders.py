"""Projections of TradeEscrow's orders and disputes.

An order row equals ``orderOf`` (less the signature deadline, which no event carries), with
the status as OrderStatus's name; a milestone row records each attestation (one per event); a
dispute row equals ``disputeOf`` plus what the contest and the resolution said. The payout
rules follow ``TradeEscrow._payout`` (``_pay_out``). Pre-payments, guarantees and pools, which
also change order rows, are in ``guarantees``.
"""

from __future__ import annotations

from ledger.domain.escrow import Milestone, OrderStatus, Resolution
from ledger.index.projections.bulk import Row
from ledger.index.projections.projector import Event, Page, Touch, on
from ledger.index.sql.types import ZERO_ADDRESS, ZERO_HASH

#: OrderStatus's names by value (an order row's ``status``); raises at import if a value is missing.
ORDER_STATUS = tuple(OrderStatus(value).name for value in range(len(OrderStatus)))
#: Milestone's names by value, with NONE (0) which is never attested (a milestone row's ``name``).
MILESTONE = ("NONE", *(Milestone(value).name for value in range(1, len(Milestone) + 1)))
RESOLVED_BY_ARBITER, RESOLVED_BY_SETTLEMENT = int(Resolution.ARBITER), int(Resolution.SETTLEMENT)

# The enum members the handlers use, bound once as plain str and int: reading an enum member is
# a descriptor call (a few hundred ns), and a handler runs once per event.
_CREATED, _FUNDED, _DISPUTED, _RELEASED, _REFUNDED, _SETTLED, _CANCELLED = (
    status.name
    for status in (
        OrderStatus.CREATED,
        OrderStatus.FUNDED,
        OrderStatus.DISPUTED,
        OrderStatus.RELEASED,
        OrderStatus.REFUNDED,
        OrderStatus.SETTLED,
        OrderStatus.CANCELLED,
    )
)
_SHIPPED, _DELIVERED = int(Milestone.SHIPPED), int(Milestone.DELIVERED)


# -- TradeEscrow: orders -------------------------------------------------------------------------


def _order(log: Event) -> list[Touch]:
    return [("orders", (log.args["orderId"],))]


@on("TradeEscrow", "OrderCreated", _order)
def _order_created(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    page.create(
        "orders",
        (a["orderId"],),
        {
            "buyer": a["buyer"],
            "supplier": a["supplier"],
            "token": a["token"],
            "amount": a["amount"],
            "ship_by": a["shipBy"],
            "deliver_by": a["deliverBy"],
            "inspection_required": a["inspectionRequired"],
            "terms_hash": a["termsHash"],
            "po_ref_hash": a["poRefHash"],
            "nonce": a["nonce"],
            "submitter": a["submitter"],
            "open_account": False,
            "status": _CREATED,
            "created_at": timestamp,
            "funded_at": 0,
            "funded_via_permit": None,
            "shipped_at": 0,
            "delivered_at": 0,
            "delivered_recorded_at": 0,
            "inspected_at": 0,
            "closed_at": 0,
            "receipt_confirmed": False,
            "refund_reason": None,
            "escrowed": 0,
            "prepaid": 0,
            "guarantor": ZERO_ADDRESS,
            "prepayment_fee": 0,
            "paid_to_supplier": 0,
            "refunded_to_buyer": 0,
            "guarantee_claimed": 0,
            "created_block": log.block_number,
        },
    )


@on("TradeEscrow", "OpenAccountOrderCreated", _order)
def _open_account(page: Page, log: Event) -> None:
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row["open_account"] = True


@on("TradeEscrow", "OrderFunded", _order)
def _order_funded(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row.update(status=_FUNDED, funded_at=timestamp, escrowed=log.args["amount"])
        row["funded_via_permit"] = log.args["viaPermit"]


@on("TradeEscrow", "OrderCancelled", _order)
def _order_cancelled(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row.update(status=_CANCELLED, closed_at=timestamp)


@on("TradeEscrow", "MilestoneAttested", _order)
def _milestone_attested(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    milestone, status = a["milestone"], ORDER_STATUS[a["status"]]
    row = page.get("orders", (a["orderId"],))
    if row is not None:
        row["status"] = status
        if milestone == _SHIPPED:
            row["shipped_at"] = a["occurredAt"]
        elif milestone == _DELIVERED:
            row["delivered_at"], row["delivered_recorded_at"] = a["occurredAt"], timestamp
        else:
            row["inspected_at"] = a["occurredAt"]
            if status == _CANCELLED:  # rejected goods on open account: closed, nothing owed
                row["closed_at"] = timestamp
    page.fact(
        "milestones",
        {
            "order_id": a["orderId"],
            "milestone": milestone,
            "name": MILESTONE[milestone] if milestone < len(MILESTONE) else str(milestone),
            "occurred_at": a["occurredAt"],
            "recorded_at": timestamp,
            "evidence_hash": a["evidenceHash"],
            "signers": list(a["signers"]),
            "status_after": status,
        },
    )


@on("TradeEscrow", "ReceiptConfirmed", _order)
def _receipt_confirmed(page: Page, log: Event) -> None:
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row["receipt_confirmed"] = True


def _pay_out(row: Row, status: str, to_buyer: int, from_escrow: int, from_pool: int, timestamp: int) -> None:
    """TradeEscrow._payout: the escrow left goes to the buyer first (``from_escrow``), the rest to
    the supplier; what the buyer gets beyond the escrow comes from the guarantee pool."""
    row["paid_to_supplier"] += row["escrowed"] - from_escrow
    row.update(
        status=status,
        escrowed=0,
        closed_at=timestamp,
        refunded_to_buyer=to_buyer,
        guarantee_claimed=from_pool,
    )


@on("TradeEscrow", "OrderReleased", _order)
def _order_released(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        _pay_out(row, _RELEASED, 0, 0, 0, timestamp)


@on("TradeEscrow", "OrderRefunded", _order)
def _order_refunded(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("orders", (a["orderId"],))
    if row is not None:
        _pay_out(row, _REFUNDED, a["fromEscrow"] + a["fromPool"], a["fromEscrow"], a["fromPool"], timestamp)
        row["refund_reason"] = a["reason"]


# -- TradeEscrow: disputes -----------------------------------------------------------------------


def _order_and_dispute(log: Event) -> list[Touch]:
    return [("orders", (log.args["orderId"],)), ("disputes", (log.args["orderId"],))]


def _new_dispute() -> Row:
    return {
        "buyer": None,
        "opened_at": 0,
        "answer_by": 0,
        "resolve_by": 0,
        "answered": False,
        "reason_hash": ZERO_HASH,
        "response_hash": ZERO_HASH,
        "contested_milestone": None,
        "contested_evidence_hash": None,
        "contest_reason_hash": None,
        "contest_declared_at": None,
        "contest_signers": None,
        "resolved_at": None,
        "resolution": None,
        "to_buyer": None,
        "to_supplier": None,
        "from_pool": None,
        "resolved_by": None,
        "opened_block": 0,
    }


@on("TradeEscrow", "MilestoneContested", lambda log: [("disputes", (log.args["orderId"],))])
def _milestone_contested(page: Page, log: Event) -> None:
    a = log.args
    row = page.get_or_create("disputes", (a["orderId"],), _new_dispute)
    row.update(
        contested_milestone=a["milestone"],
        contested_evidence_hash=a["evidenceHash"],
        contest_reason_hash=a["reasonHash"],
        contest_declared_at=a["declaredAt"],
        contest_signers=list(a["signers"]),
    )


@on("TradeEscrow", "DisputeOpened", _order_and_dispute)
def _dispute_opened(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        order["status"] = _DISPUTED
    row = page.get_or_create("disputes", (a["orderId"],), _new_dispute)
    row.update(
        buyer=a["buyer"],
        opened_at=timestamp,
        answer_by=a["answerBy"],
        resolve_by=a["resolveBy"],
        answered=False,
        reason_hash=a["reasonHash"],
        response_hash=ZERO_HASH,
        opened_block=log.block_number,
    )


@on("TradeEscrow", "DisputeAnswered", lambda log: [("disputes", (log.args["orderId"],))])
def _dispute_answered(page: Page, log: Event) -> None:
    row = page.get("disputes", (log.args["orderId"],))
    if row is not None:
        row.update(answered=True, response_hash=log.args["responseHash"])


@on("TradeEscrow", "DisputeResolved", _order_and_dispute)
def _dispute_resolved(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    to_buyer, from_pool, how = a["toBuyer"], a["fromPool"], a["how"]
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        status = _SETTLED if how in (RESOLVED_BY_ARBITER, RESOLVED_BY_SETTLEMENT) else _REFUNDED
        _pay_out(order, status, to_buyer, to_buyer - from_pool, from_pool, timestamp)
    row = page.get("disputes", (a["orderId"],))
    if row is not None:
        row.update(
            resolved_at=timestamp,
            resolution=how,
            to_buyer=to_buyer,
            to_supplier=a["toSupplier"],
            from_pool=from_pool,
            resolved_by=a["by"],
        )
