"""The escrow model's milestones: oracle attestations (quorum, freshness, order, sequence), what each
milestone unlocks (confirm, release after the claim window, inspection), and the refund of goods never
shipped. The claim window's last second is pinned down on both sides, as the contract must match it.
"""

from __future__ import annotations

from functools import partial

import pytest

from ledger.domain.escrow import Milestone, OrderStatus
from ledger.model import Effect, ModelInputError, OracleKind, Transfer
from ledger.model.escrow import DEFAULT_WINDOWS, ZERO_ADDRESS, ZERO_HASH
from tests.ledger.model.escrow_model_helpers import (
    ADMIN,
    AMOUNT,
    BUYER,
    CARRIER,
    CLAIM,
    DAY,
    ESCROW,
    INSPECTOR,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    attest,
    delivered,
    funded,
    new_model,
    rejected,
    terms,
)


def test_release_waits_for_the_claim_window_counted_from_when_delivery_was_recorded() -> None:
    model = new_model()
    order_id = funded(model)
    attest(model, order_id, Milestone.SHIPPED, T0 + DAY)
    # The carrier reports a delivery that happened 20 days before the chain heard of it.
    recorded = T0 + 25 * DAY
    attest(model, order_id, Milestone.DELIVERED, recorded, occurred_at=T0 + 5 * DAY)
    order = model.order(order_id)
    assert (order.delivered_at, order.delivered_recorded_at) == (T0 + 5 * DAY, recorded)
    early = rejected(lambda: model.release(order_id, caller=STRANGER, now=recorded + CLAIM))
    assert early.error_args == {"orderId": order_id, "endsAt": recorded + CLAIM}
    effect = model.release(order_id, caller=STRANGER, now=recorded + CLAIM + 1)
    assert effect == Effect(("OrderReleased",), (Transfer(TOKEN, ESCROW, SUPPLIER, AMOUNT),))
    order = model.order(order_id)
    assert (order.status, order.paid_to_supplier, order.escrowed, model.held()) == (OrderStatus.RELEASED, AMOUNT, 0, 0)


def test_the_last_second_of_the_claim_window_allows_only_a_dispute_and_the_next_only_a_release() -> None:
    model = new_model()
    order_id = delivered(model)
    ends = model.claim_window_end(order_id)
    at_end = rejected(lambda: model.clone().release(order_id, caller=STRANGER, now=ends))
    assert (at_end.error, at_end.error_args) == ("TradeEscrowClaimWindowOpen", {"orderId": order_id, "endsAt": ends})
    assert model.clone().open_dispute(order_id, ZERO_HASH, caller=BUYER, now=ends).events == ("DisputeOpened",)
    closed = rejected(lambda: new_dispute_after(ends + 1))
    assert (closed.error, closed.error_args) == ("TradeEscrowClaimWindowClosed", {"orderId": 1, "endedAt": ends})
    assert model.release(order_id, caller=STRANGER, now=ends + 1).events == ("OrderReleased",)


def new_dispute_after(now: int) -> Effect:
    model = new_model()
    order_id = delivered(model)
    return model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=now)


def test_the_buyer_may_confirm_receipt_as_soon_as_goods_ship() -> None:
    model = new_model()
    order_id = funded(model)
    assert rejected(lambda: model.confirm_receipt(order_id, caller=BUYER, now=T0)).error == "TradeEscrowInvalidStatus"
    attest(model, order_id, Milestone.SHIPPED, T0)
    assert rejected(lambda: model.confirm_receipt(order_id, caller=SUPPLIER, now=T0)).error == "TradeEscrowNotBuyer"
    effect = model.confirm_receipt(order_id, caller=BUYER, now=T0)
    assert effect.events == ("ReceiptConfirmed", "OrderReleased")
    assert model.order(order_id).status is OrderStatus.RELEASED


def test_an_order_needing_inspection_is_released_only_after_it_passes() -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=True))
    late = T0 + CLAIM + 1
    assert rejected(lambda: model.release(order_id, caller=STRANGER, now=late)).error == "TradeEscrowInvalidStatus"
    attest(model, order_id, Milestone.INSPECTION_PASSED, T0 + DAY)
    assert model.order(order_id).status is OrderStatus.INSPECTED
    # The claim window still runs from delivery, not from the inspection.
    assert model.release(order_id, caller=STRANGER, now=late).events == ("OrderReleased",)


def test_a_failed_inspection_refunds_the_buyer_at_once() -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=True))
    effect = attest(model, order_id, Milestone.INSPECTION_FAILED, T0 + 2)
    assert effect == Effect(("MilestoneAttested", "OrderRefunded"), (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),))
    order = model.order(order_id)
    assert (order.status, order.refunded_to_buyer, order.closed_at, order.inspected_at) == (
        OrderStatus.REFUNDED,
        AMOUNT,
        T0 + 2,
        T0 + 2,
    )


def test_inspection_milestones_need_an_order_that_asked_for_inspection() -> None:
    model = new_model()
    order_id = delivered(model)
    failure = rejected(lambda: attest(model, order_id, Milestone.INSPECTION_PASSED, T0))
    assert (failure.error, failure.error_args) == ("TradeEscrowInspectionNotRequired", {"orderId": order_id})


def test_attestations_are_refused_from_the_future_when_stale_or_reused() -> None:
    model = new_model()
    order_id = funded(model)
    max_age = DEFAULT_WINDOWS.max_attestation_age
    now = T0 + 40 * DAY

    def ship(occurred_at: int, evidence: bytes = b"\x01" * 32) -> Effect:
        return model.attest(order_id, Milestone.SHIPPED, occurred_at, evidence, [CARRIER], caller=STRANGER, now=now)

    assert rejected(lambda: ship(now + 1)).error_args == {"occurredAt": now + 1, "nowTimestamp": now}
    stale = rejected(lambda: ship(now - max_age - 1))
    assert stale.error_args == {"occurredAt": now - max_age - 1, "maxAge": max_age, "nowTimestamp": now}
    ship(now - max_age)  # exactly max_age old is still fresh
    other = funded(model)
    reused = rejected(
        lambda: model.attest(other, Milestone.SHIPPED, now, b"\x01" * 32, [CARRIER], caller=STRANGER, now=now)
    )
    assert (reused.error, reused.error_args) == ("TradeEscrowEvidenceReused", {"evidenceHash": b"\x01" * 32})


def test_milestones_come_once_and_in_order() -> None:
    model = new_model()
    order_id = funded(model)
    early = rejected(lambda: attest(model, order_id, Milestone.DELIVERED, T0))
    assert (early.error, early.error_args) == (
        "TradeEscrowMilestoneOutOfOrder",
        {"orderId": 1, "milestone": Milestone.DELIVERED, "status": OrderStatus.FUNDED},
    )
    model.attest(order_id, Milestone.SHIPPED, T0, b"\x02" * 32, [CARRIER], caller=STRANGER, now=T0)
    again = rejected(
        lambda: model.attest(order_id, Milestone.SHIPPED, T0, b"\x03" * 32, [CARRIER], caller=STRANGER, now=T0)
    )
    assert again.error == "TradeEscrowMilestoneAlreadyRecorded"
    unknown = rejected(lambda: model.attest(order_id, 0, T0, b"\x04" * 32, [CARRIER], caller=STRANGER, now=T0))
    assert (unknown.error, unknown.error_args) == ("TradeEscrowUnknownMilestone", {"milestone": 0})
    with pytest.raises(ModelInputError):
        model.attest(order_id, 5, T0, b"\x05" * 32, [CARRIER], caller=STRANGER, now=T0)


def test_milestone_times_run_in_sequence_but_shipment_may_predate_the_order() -> None:
    model = new_model()
    order_id = funded(model, terms(inspection_required=True))
    shipped = T0 - DAY  # a PO signed after dispatch: SHIPPED before the order existed is fine
    attest(model, order_id, Milestone.SHIPPED, T0 + DAY, occurred_at=shipped)
    before = rejected(lambda: attest(model, order_id, Milestone.DELIVERED, T0 + DAY, occurred_at=shipped - 1))
    assert (before.error, before.error_args) == (
        "TradeEscrowMilestoneOutOfSequence",
        {"orderId": order_id, "occurredAt": shipped - 1, "previousAt": shipped},
    )
    attest(model, order_id, Milestone.DELIVERED, T0 + DAY, occurred_at=shipped)  # the same second is in sequence
    for milestone in (Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED):
        early = rejected(partial(attest, model, order_id, milestone, T0 + 2 * DAY, occurred_at=shipped - 1))
        assert (early.error, early.error_args) == (
            "TradeEscrowMilestoneOutOfSequence",
            {"orderId": order_id, "occurredAt": shipped - 1, "previousAt": shipped},
        )
    attest(model, order_id, Milestone.INSPECTION_PASSED, T0 + 2 * DAY, occurred_at=shipped)
    assert model.order(order_id).status is OrderStatus.INSPECTED


@pytest.mark.parametrize(
    ("signers", "threshold", "error", "args"),
    [
        ([INSPECTOR], 1, "TradeEscrowUnauthorizedOracle", {"signer": INSPECTOR, "kind": OracleKind.CARRIER}),
        ([None], 1, "TradeEscrowUnauthorizedOracle", {"signer": ZERO_ADDRESS, "kind": OracleKind.CARRIER}),
        ([CARRIER, CARRIER], 1, "TradeEscrowDuplicateSigner", {"signer": CARRIER}),
        ([], 1, "TradeEscrowQuorumNotMet", {"signers": 0, "threshold": 1}),
        ([CARRIER], 2, "TradeEscrowQuorumNotMet", {"signers": 1, "threshold": 2}),
    ],
)
def test_a_milestone_needs_a_quorum_of_distinct_oracles_of_the_right_kind(
    signers: list[str | None], threshold: int, error: str, args: dict[str, object]
) -> None:
    model = new_model()
    model.set_threshold(OracleKind.CARRIER, threshold, caller=ADMIN)
    order_id = funded(model)
    failure = rejected(
        lambda: model.attest(order_id, Milestone.SHIPPED, T0, b"\x06" * 32, signers, caller=STRANGER, now=T0)
    )
    assert (failure.error, failure.error_args) == (error, args)
    assert not model.evidence_used(b"\x06" * 32)


def test_an_unshipped_order_is_refunded_only_after_ship_by() -> None:
    model = new_model()
    order_id = funded(model)
    ship_by = model.order(order_id).terms.ship_by
    early = rejected(lambda: model.refund_unshipped(order_id, caller=STRANGER, now=ship_by))
    assert early.error_args == {"orderId": order_id, "shipBy": ship_by}
    effect = model.refund_unshipped(order_id, caller=STRANGER, now=ship_by + 1)
    assert effect == Effect(("OrderRefunded",), (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),))
