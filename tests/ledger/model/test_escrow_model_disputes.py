"""The escrow model's disputes: who may open one and when, the supplier's answer, the arbiter's split,
co-signed settlements, and the expiry that refunds the buyer. Deadlines are checked on their own
second and the next: a dispute is in time at its deadline and expired one second later.
"""

from __future__ import annotations

from functools import partial

import pytest

from ledger.domain.escrow import Milestone, OrderStatus
from ledger.model import Effect, Transfer
from ledger.model.escrow import DEFAULT_WINDOWS, ZERO_HASH
from tests.ledger.model.escrow_model_helpers import (
    AMOUNT,
    ARBITER,
    BUYER,
    ESCROW,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    attest,
    delivered,
    funded,
    new_model,
    rejected,
)


def test_goods_that_never_arrive_can_be_disputed_once_deliver_by_has_passed() -> None:
    model = new_model()
    order_id = funded(model)
    attest(model, order_id, Milestone.SHIPPED, T0)
    deliver_by = model.order(order_id).terms.deliver_by
    waiting = rejected(lambda: model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=deliver_by))
    assert waiting.error_args == {"orderId": order_id, "deliverBy": deliver_by}
    assert rejected(lambda: model.open_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=T0)).error == (
        "TradeEscrowNotBuyer"
    )
    model.open_dispute(order_id, b"\x07" * 32, caller=BUYER, now=deliver_by + 1)
    dispute = model.dispute(order_id)
    assert (dispute.opened_at, dispute.answer_by, dispute.resolve_by, dispute.reason_hash) == (
        deliver_by + 1,
        deliver_by + 1 + DEFAULT_WINDOWS.answer_window,
        deliver_by + 1 + DEFAULT_WINDOWS.resolve_window,
        b"\x07" * 32,
    )


def test_the_supplier_answers_once_and_within_the_answer_window() -> None:
    model = new_model()
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    answer_by = model.dispute(order_id).answer_by
    assert rejected(lambda: model.answer_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)).error == (
        "TradeEscrowNotSupplier"
    )
    late = rejected(lambda: model.answer_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=answer_by + 1))
    assert late.error_args == {"orderId": order_id, "answerBy": answer_by}
    model.answer_dispute(order_id, b"\x08" * 32, caller=SUPPLIER, now=answer_by)
    assert model.dispute(order_id).answered and model.dispute(order_id).response_hash == b"\x08" * 32
    twice = rejected(lambda: model.answer_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=answer_by))
    assert twice.error == "TradeEscrowAlreadyAnswered"


def test_an_unanswered_dispute_closes_in_the_buyers_favour_after_the_answer_window() -> None:
    model = new_model()
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    d = model.dispute(order_id)
    still = rejected(lambda: model.close_expired_dispute(order_id, caller=STRANGER, now=d.answer_by))
    assert still.error_args == {"orderId": order_id, "answerBy": d.answer_by, "resolveBy": d.resolve_by}
    effect = model.close_expired_dispute(order_id, caller=STRANGER, now=d.answer_by + 1)
    assert effect == Effect(("DisputeResolved",), (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),))
    assert model.order(order_id).status is OrderStatus.REFUNDED


def test_an_answered_dispute_expires_only_after_the_resolve_window() -> None:
    model = new_model()
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    model.answer_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=T0)
    d = model.dispute(order_id)
    assert rejected(lambda: model.close_expired_dispute(order_id, caller=STRANGER, now=d.resolve_by)).error == (
        "TradeEscrowDisputeStillOpen"
    )
    model.close_expired_dispute(order_id, caller=STRANGER, now=d.resolve_by + 1)
    assert model.order(order_id).refunded_to_buyer == AMOUNT


def test_an_arbiter_splits_the_escrow_and_is_checked_before_the_order() -> None:
    model = new_model()
    assert rejected(lambda: model.arbitrate(99, 0, caller=BUYER, now=T0)).error == "TradeEscrowNotArbiter"
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    over = rejected(lambda: model.arbitrate(order_id, AMOUNT + 1, caller=ARBITER, now=T0))
    assert over.error_args == {"orderId": order_id, "buyerAmount": AMOUNT + 1, "amount": AMOUNT}
    effect = model.arbitrate(order_id, 300_000, caller=ARBITER, now=T0 + 9)
    assert effect.transfers == (
        Transfer(TOKEN, ESCROW, BUYER, 300_000),
        Transfer(TOKEN, ESCROW, SUPPLIER, 700_000),
    )
    order = model.order(order_id)
    assert (order.status, order.refunded_to_buyer, order.paid_to_supplier, order.closed_at) == (
        OrderStatus.SETTLED,
        300_000,
        700_000,
        T0 + 9,
    )


@pytest.mark.parametrize("answered", [False, True])
def test_an_expired_dispute_can_no_longer_be_arbitrated_or_settled_only_closed_for_the_buyer(answered: bool) -> None:
    model = new_model()
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    if answered:
        model.answer_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=T0)
    d = model.dispute(order_id)
    deadline = d.resolve_by if answered else d.answer_by

    def arbitrate(now: int) -> Effect:
        return model.clone().arbitrate(order_id, 0, caller=ARBITER, now=now)

    def settle(now: int) -> Effect:
        return model.clone().settle_dispute(
            order_id, 0, now, buyer_signer=BUYER, supplier_signer=SUPPLIER, caller=STRANGER, now=now
        )

    for call in (arbitrate, settle):
        assert call(deadline).events == ("DisputeResolved",)  # the deadline's own second is still in time
        late = rejected(partial(call, deadline + 1))
        assert (late.error, late.error_args) == (
            "TradeEscrowDisputeExpired",
            {"orderId": order_id, "deadline": deadline},
        )
    # An answered dispute past resolve-by names resolve-by, an unanswered one answer-by.
    very_late = rejected(lambda: arbitrate(d.resolve_by + 1))
    assert very_late.error_args == {"orderId": order_id, "deadline": deadline}
    effect = model.close_expired_dispute(order_id, caller=STRANGER, now=deadline + 1)
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)


def test_a_settlement_needs_both_signatures_before_its_deadline() -> None:
    model = new_model()
    order_id = delivered(model)
    model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)

    def settle(deadline: int, supplier_signer: str) -> Effect:
        return model.settle_dispute(
            order_id, AMOUNT, deadline, buyer_signer=BUYER, supplier_signer=supplier_signer, caller=STRANGER, now=T0
        )

    assert rejected(lambda: settle(T0 - 1, SUPPLIER)).error_args == {"deadline": T0 - 1, "nowTimestamp": T0}
    assert rejected(lambda: settle(T0, BUYER)).error_args == {"expected": SUPPLIER, "recovered": BUYER}
    assert settle(T0, SUPPLIER).transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
