"""The pure-Python TradeEscrow model: the rules, the order of its checks, the money it moves.

These run without a chain. ``tests/contracts/test_trade_escrow_properties.py`` holds the model
to the real contract; here each rule is pinned down on its own, boundaries included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ledger.escrow import Dispute, Milestone, OrderStatus, OrderTerms, Windows
from ledger.model import CreditLimits, Effect, EscrowModel, ModelInputError, ModelRejected, OracleKind, Roster, Transfer
from ledger.model.escrow import (
    DEFAULT_WINDOWS,
    ROLE_ADMIN,
    ROLE_ARBITER,
    ROLE_BANK,
    ROLE_CORE,
    ROLE_ORACLE,
    ROLE_SUPPLIER,
    ZERO_ADDRESS,
    ZERO_HASH,
    address,
    transfers_by_holder,
)


def party(tag: str) -> str:
    return to_checksum_address("0x" + keccak(text=tag)[:20].hex())


ADMIN, BUYER, SUPPLIER, OTHER_SUPPLIER = party("admin"), party("buyer"), party("supplier"), party("supplier-2")
BANK, CARRIER, INSPECTOR, ARBITER = party("bank"), party("carrier"), party("inspector"), party("arbiter")
STRANGER, ESCROW, TOKEN, OTHER_TOKEN = party("stranger"), party("escrow"), party("token"), party("other-token")
DAY = 86_400
T0 = 1_800_000_000
AMOUNT = 1_000_000
CLAIM = DEFAULT_WINDOWS.claim_window


def roster() -> Roster:
    r = Roster()
    r.set_member(ADMIN, ROLE_ADMIN)
    r.set_member(BUYER, ROLE_CORE)
    r.set_member(SUPPLIER, ROLE_SUPPLIER)
    r.set_member(OTHER_SUPPLIER, ROLE_SUPPLIER)
    r.set_member(BANK, ROLE_BANK)
    r.set_member(CARRIER, ROLE_ORACLE, OracleKind.CARRIER)
    r.set_member(INSPECTOR, ROLE_ORACLE, OracleKind.INSPECTOR)
    r.set_member(ARBITER, ROLE_ARBITER)
    return r


def new_model() -> EscrowModel:
    return EscrowModel(escrow=ESCROW, currency=TOKEN, roster=roster())


def terms(nonce: int = 0, **changes: Any) -> OrderTerms:
    base = OrderTerms(
        buyer=BUYER,
        supplier=SUPPLIER,
        token=TOKEN,
        amount=AMOUNT,
        ship_by=T0 + 10 * DAY,
        deliver_by=T0 + 20 * DAY,
        inspection_required=False,
        terms_hash=keccak(text="incoterms FCA"),
        po_ref_hash=keccak(text=f"PO-{nonce}"),
        nonce=nonce,
        deadline=T0 + DAY,
    )
    return replace(base, **changes)


def create(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    t = t or terms(nonce=model.order_count)
    effect = model.create_order(t, buyer_signer=t.buyer, supplier_signer=t.supplier, caller=t.supplier, now=now)
    assert effect.order_id is not None
    return effect.order_id


def funded(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    order_id = create(model, t, now)
    model.fund(order_id, caller=model.order(order_id).terms.buyer, now=now)
    return order_id


def attest(model: EscrowModel, order_id: int, milestone: Milestone, now: int, occurred_at: int | None = None) -> Effect:
    oracle = CARRIER if milestone <= Milestone.DELIVERED else INSPECTOR
    evidence = keccak(text=f"epcis:{order_id}:{milestone.name}")
    return model.attest(
        order_id, milestone, now if occurred_at is None else occurred_at, evidence, [oracle], caller=STRANGER, now=now
    )


def delivered(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    order_id = funded(model, t, now)
    attest(model, order_id, Milestone.SHIPPED, now)
    attest(model, order_id, Milestone.DELIVERED, now)
    return order_id


def with_credit(model: EscrowModel, limit: int = AMOUNT, pool: int = AMOUNT, valid_until: int = T0 + 90 * DAY) -> None:
    nonce = model.credit.nonce(BANK)
    model.credit.publish(
        bank=BANK, party=SUPPLIER, limit=limit, valid_until=valid_until, nonce=nonce, signer=BANK, now=T0
    )
    model.fund_pool(pool, caller=BANK, now=T0)


def rejected(call: Callable[[], object]) -> ModelRejected:
    with pytest.raises(ModelRejected) as raised:
        call()
    return raised.value


# -- orders ---------------------------------------------------------------------------------


def test_a_new_order_takes_the_next_id_and_uses_up_its_nonce_and_po_reference() -> None:
    model = new_model()
    t = terms()
    assert create(model, t) == 1 and create(model, terms(nonce=1)) == 2
    assert model.order(1).status is OrderStatus.CREATED and model.order(1).created_at == T0
    assert model.nonce_used(BUYER, 0) and model.order_id_of_po_ref(t.po_ref_hash) == 1
    again = rejected(lambda: create(model, replace(t, po_ref_hash=keccak(text="other"))))
    assert (again.error, again.error_args) == ("TradeEscrowNonceUsed", {"buyer": BUYER, "nonce": 0})
    taken = rejected(lambda: create(model, replace(t, nonce=7)))
    assert (taken.error, taken.error_args) == ("TradeEscrowPoRefTaken", {"poRefHash": t.po_ref_hash, "orderId": 1})


@pytest.mark.parametrize(
    ("change", "caller", "error"),
    [
        # Every one of these terms is wrong in several ways; the contract reports the first check.
        ({"deadline": T0 - 1, "amount": 0}, STRANGER, "TradeEscrowNotParty"),
        ({"deadline": T0 - 1, "supplier": BUYER}, BUYER, "TradeEscrowSignatureExpired"),
        ({"supplier": BUYER, "amount": 0}, BUYER, "TradeEscrowSelfTrade"),
        ({"buyer": STRANGER, "token": OTHER_TOKEN}, SUPPLIER, "TradeEscrowBuyerNotEligible"),
        ({"supplier": BANK, "amount": 0}, BUYER, "TradeEscrowSupplierNotEligible"),
        ({"token": OTHER_TOKEN, "amount": 0}, BUYER, "TradeEscrowTokenNotAllowed"),
        ({"amount": 0, "ship_by": T0}, BUYER, "TradeEscrowInvalidAmount"),
        ({"ship_by": T0, "po_ref_hash": ZERO_HASH}, BUYER, "TradeEscrowInvalidDates"),
        ({"deliver_by": T0 + 10 * DAY - 1}, BUYER, "TradeEscrowInvalidDates"),
        ({"po_ref_hash": ZERO_HASH}, BUYER, "TradeEscrowMissingPoRef"),
    ],
)
def test_order_terms_are_checked_in_the_contracts_order(change: dict[str, Any], caller: str, error: str) -> None:
    model = new_model()
    t = terms(**change)
    failure = rejected(
        lambda: model.create_order(t, buyer_signer=t.buyer, supplier_signer=t.supplier, caller=caller, now=T0)
    )
    assert failure.error == error
    assert model.order_count == 0


def test_order_boundaries_accept_deadline_now_and_deliver_by_equal_to_ship_by() -> None:
    model = new_model()
    create(model, terms(deadline=T0, ship_by=T0 + 1, deliver_by=T0 + 1))
    assert model.order(1).terms.deadline == T0


def test_a_co_signature_by_anyone_else_names_who_was_expected_and_who_signed() -> None:
    model = new_model()
    t = terms()
    forged = rejected(
        lambda: model.create_order(t, buyer_signer=t.buyer, supplier_signer=STRANGER, caller=t.supplier, now=T0)
    )
    assert (forged.error, forged.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": SUPPLIER, "recovered": STRANGER},
    )
    garbage = rejected(lambda: model.create_order(t, buyer_signer=None, supplier_signer=None, caller=BUYER, now=T0))
    assert garbage.error_args == {"expected": BUYER, "recovered": ZERO_ADDRESS}


def test_funding_moves_the_amount_from_the_buyer_into_escrow() -> None:
    model = new_model()
    order_id = create(model)
    not_buyer = rejected(lambda: model.fund(order_id, caller=SUPPLIER, now=T0))
    assert (not_buyer.error, not_buyer.error_args) == ("TradeEscrowNotBuyer", {"orderId": 1, "caller": SUPPLIER})
    effect = model.fund(order_id, caller=BUYER, now=T0 + 5)
    assert effect == Effect(("OrderFunded",), (Transfer(TOKEN, BUYER, ESCROW, AMOUNT),))
    order = model.order(order_id)
    assert (order.status, order.funded_at, order.escrowed, model.held()) == (OrderStatus.FUNDED, T0 + 5, AMOUNT, AMOUNT)
    twice = rejected(lambda: model.fund(order_id, caller=BUYER, now=T0))
    assert twice.error_args == {"orderId": 1, "status": OrderStatus.FUNDED}


def test_either_party_may_cancel_an_unfunded_order_and_nobody_a_funded_one() -> None:
    model = new_model()
    first, second = create(model), create(model)
    assert rejected(lambda: model.cancel_unfunded(first, caller=STRANGER, now=T0)).error == "TradeEscrowNotParty"
    model.cancel_unfunded(first, caller=SUPPLIER, now=T0 + 1)
    assert (model.order(first).status, model.order(first).closed_at) == (OrderStatus.CANCELLED, T0 + 1)
    model.fund(second, caller=BUYER, now=T0)
    assert rejected(lambda: model.cancel_unfunded(second, caller=BUYER, now=T0)).error == "TradeEscrowInvalidStatus"


def test_unknown_orders_read_as_zero_and_reject_every_call() -> None:
    model = new_model()
    assert model.order(9).status is OrderStatus.NONE and model.order(9).terms.buyer == ZERO_ADDRESS
    assert rejected(lambda: model.release(9, caller=BUYER, now=T0)).error_args == {"orderId": 9}


# -- milestones -----------------------------------------------------------------------------


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


# -- disputes -------------------------------------------------------------------------------


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


# -- contesting an attested milestone -------------------------------------------------------


def evidence(order_id: int, milestone: Milestone) -> bytes:
    """The evidence hash ``attest`` uses for ``milestone`` of ``order_id``."""
    return keccak(text=f"epcis:{order_id}:{milestone.name}")


REASON = keccak(text="urn:epcglobal:cbv:er:did_not_occur")


def contest(
    model: EscrowModel,
    evidence_hash: bytes,
    now: int,
    *,
    declared_at: int | None = None,
    signers: list[str | None] | None = None,
    reason: bytes = REASON,
) -> Effect:
    return model.contest_milestone(
        evidence_hash,
        reason,
        now if declared_at is None else declared_at,
        [CARRIER] if signers is None else signers,
        caller=STRANGER,
        now=now,
    )


def open_account_shipped(model: EscrowModel) -> int:
    t = terms(nonce=model.order_count)
    order_id = model.create_open_account_order(
        t, buyer_signer=BUYER, supplier_signer=SUPPLIER, caller=SUPPLIER, now=T0
    ).order_id
    assert order_id is not None
    attest(model, order_id, Milestone.SHIPPED, T0)
    return order_id


def test_attested_evidence_names_its_order_and_milestone() -> None:
    model = new_model()
    first, second = delivered(model), funded(model)
    attest(model, second, Milestone.SHIPPED, T0)
    assert model.evidence_of(evidence(first, Milestone.SHIPPED)) == (first, Milestone.SHIPPED)
    assert model.evidence_of(evidence(first, Milestone.DELIVERED)) == (first, Milestone.DELIVERED)
    assert model.evidence_of(evidence(second, Milestone.SHIPPED)) == (second, Milestone.SHIPPED)
    assert model.evidence_of(evidence(second, Milestone.DELIVERED)) is None
    assert model.evidence_used(evidence(first, Milestone.DELIVERED))


def test_a_contested_delivery_disputes_the_order_as_its_buyer_would_after_the_claim_window() -> None:
    model = new_model()
    order_id = delivered(model)
    now = model.claim_window_end(order_id) + DAY  # too late for the buyer, not for the oracles
    assert rejected(lambda: model.clone().open_dispute(order_id, ZERO_HASH, caller=BUYER, now=now)).error == (
        "TradeEscrowClaimWindowClosed"
    )
    effect = contest(model, evidence(order_id, Milestone.DELIVERED), now, declared_at=now - DAY)
    assert effect == Effect(("MilestoneContested", "DisputeOpened"))
    assert model.order(order_id).status is OrderStatus.DISPUTED and model.held() == AMOUNT
    assert model.dispute(order_id) == Dispute(
        now, now + DEFAULT_WINDOWS.answer_window, now + DEFAULT_WINDOWS.resolve_window, False, REASON, ZERO_HASH
    )
    # From here the dispute runs as any other: unanswered, it refunds the buyer.
    effect = model.close_expired_dispute(order_id, caller=STRANGER, now=now + DEFAULT_WINDOWS.answer_window + 1)
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
    assert model.invariant_violations() == []


@pytest.mark.parametrize(
    ("stage", "milestone", "oracle"),
    [
        ("shipped", Milestone.SHIPPED, CARRIER),
        ("delivered", Milestone.SHIPPED, CARRIER),
        ("delivered", Milestone.DELIVERED, CARRIER),
        ("inspected", Milestone.DELIVERED, CARRIER),
        ("inspected", Milestone.INSPECTION_PASSED, INSPECTOR),
    ],
)
def test_any_attested_milestone_of_a_shipped_delivered_or_inspected_order_can_be_contested(
    stage: str, milestone: Milestone, oracle: str
) -> None:
    model = new_model()
    order_id = funded(model, terms(inspection_required=True))
    attest(model, order_id, Milestone.SHIPPED, T0)  # before deliver-by: no buyer could dispute yet
    if stage != "shipped":
        attest(model, order_id, Milestone.DELIVERED, T0)
    if stage == "inspected":
        attest(model, order_id, Milestone.INSPECTION_PASSED, T0)
    assert contest(model, evidence(order_id, milestone), T0 + 1, signers=[oracle]).events[0] == "MilestoneContested"
    assert model.order(order_id).status is OrderStatus.DISPUTED


def test_a_contest_needs_a_quorum_of_the_contested_milestones_kind() -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=True))
    attest(model, order_id, Milestone.INSPECTION_PASSED, T0)
    passed, shipped = evidence(order_id, Milestone.INSPECTION_PASSED), evidence(order_id, Milestone.SHIPPED)
    wrong = rejected(lambda: contest(model, passed, T0, signers=[CARRIER]))
    assert (wrong.error, wrong.error_args) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": CARRIER, "kind": OracleKind.INSPECTOR},
    )
    wrong = rejected(lambda: contest(model, shipped, T0, signers=[INSPECTOR]))
    assert wrong.error_args == {"signer": INSPECTOR, "kind": OracleKind.CARRIER}
    assert rejected(lambda: contest(model, shipped, T0, signers=[None])).error_args == {
        "signer": ZERO_ADDRESS,
        "kind": OracleKind.CARRIER,
    }
    assert rejected(lambda: contest(model, shipped, T0, signers=[CARRIER, CARRIER])).error_args == {"signer": CARRIER}
    model.set_threshold(OracleKind.CARRIER, 2, caller=ADMIN)
    short = rejected(lambda: contest(model, shipped, T0, signers=[CARRIER]))
    assert (short.error, short.error_args) == ("TradeEscrowQuorumNotMet", {"signers": 1, "threshold": 2})
    assert model.order(order_id).status is OrderStatus.INSPECTED


def test_a_declaration_is_refused_from_the_future_and_once_stale() -> None:
    model = new_model()
    order_id = delivered(model)
    delivery = evidence(order_id, Milestone.DELIVERED)
    now, max_age = T0 + 10 * DAY, DEFAULT_WINDOWS.max_attestation_age
    future = rejected(lambda: contest(model, delivery, now, declared_at=now + 1))
    assert (future.error, future.error_args) == (
        "TradeEscrowAttestationFromFuture",
        {"occurredAt": now + 1, "nowTimestamp": now},
    )
    stale = rejected(lambda: contest(model, delivery, now + max_age + 1, declared_at=now))
    assert (stale.error, stale.error_args) == (
        "TradeEscrowStaleAttestation",
        {"occurredAt": now, "maxAge": max_age, "nowTimestamp": now + max_age + 1},
    )
    assert contest(model.clone(), delivery, now, declared_at=now).events[0] == "MilestoneContested"
    assert contest(model, delivery, now + max_age, declared_at=now).events[0] == "MilestoneContested"


@pytest.mark.parametrize(
    ("end", "status"),
    [
        ("disputed", OrderStatus.DISPUTED),
        ("released", OrderStatus.RELEASED),
        ("settled", OrderStatus.SETTLED),
        ("refunded", OrderStatus.REFUNDED),
    ],
)
def test_a_disputed_or_closed_order_is_not_reopened(end: str, status: OrderStatus) -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=end == "refunded"))
    if end in ("disputed", "settled"):
        model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    if end == "settled":
        model.arbitrate(order_id, 0, caller=ARBITER, now=T0)
    if end == "released":
        model.confirm_receipt(order_id, caller=BUYER, now=T0)
    if end == "refunded":
        attest(model, order_id, Milestone.INSPECTION_FAILED, T0)
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        closed = rejected(partial(contest, model, evidence(order_id, milestone), T0 + 1))
        assert (closed.error, closed.error_args) == (
            "TradeEscrowInvalidStatus",
            {"orderId": order_id, "status": status},
        )
    if end == "refunded":
        failed = rejected(
            lambda: contest(model, evidence(order_id, Milestone.INSPECTION_FAILED), T0, signers=[INSPECTOR])
        )
        assert failed.error_args == {"orderId": order_id, "status": OrderStatus.REFUNDED}


def test_a_declaration_is_accepted_once_the_order_then_being_disputed() -> None:
    model = new_model()
    order_id = delivered(model)
    contest(model, evidence(order_id, Milestone.DELIVERED), T0 + 1)
    for milestone in (Milestone.DELIVERED, Milestone.SHIPPED):
        again = rejected(partial(contest, model, evidence(order_id, milestone), T0 + 2))
        assert again.error_args == {"orderId": order_id, "status": OrderStatus.DISPUTED}
    assert model.dispute(order_id).opened_at == T0 + 1


def test_a_contest_of_an_open_account_order_is_refused_nothing_being_escrowed() -> None:
    model = new_model()
    order_id = open_account_shipped(model)
    refused = rejected(lambda: contest(model, evidence(order_id, Milestone.SHIPPED), T0))
    assert (refused.error, refused.error_args) == ("TradeEscrowOpenAccountOrder", {"orderId": order_id})
    assert model.order(order_id).status is OrderStatus.SHIPPED


def test_unknown_evidence_is_refused_also_when_only_a_refused_attestation_quoted_it() -> None:
    model = new_model()
    order_id = funded(model)
    unused = evidence(order_id, Milestone.SHIPPED)
    rejected(lambda: model.attest(order_id, Milestone.SHIPPED, T0, unused, [INSPECTOR], caller=STRANGER, now=T0))
    unknown = rejected(lambda: contest(model, unused, T0))
    assert (unknown.error, unknown.error_args) == ("TradeEscrowEvidenceUnknown", {"evidenceHash": unused})
    assert model.evidence_of(unused) is None


@pytest.mark.parametrize(
    ("case", "error"),
    [
        # Each declaration is wrong in several ways; the contract reports the first check.
        ("unknown+future", "TradeEscrowEvidenceUnknown"),
        ("future+open-account", "TradeEscrowAttestationFromFuture"),
        ("stale+disputed", "TradeEscrowStaleAttestation"),
        ("open-account+no-quorum", "TradeEscrowOpenAccountOrder"),
        ("disputed+no-quorum", "TradeEscrowInvalidStatus"),
    ],
)
def test_declarations_are_checked_in_the_contracts_order(case: str, error: str) -> None:
    model = new_model()
    escrowed = delivered(model)
    open_account = open_account_shipped(model)
    now = T0 + DAY
    model.open_dispute(escrowed, ZERO_HASH, caller=BUYER, now=T0)
    target = evidence(open_account if "open-account" in case else escrowed, Milestone.SHIPPED)
    declared_at = now
    if "unknown" in case:
        target = keccak(text="never attested")
    if "future" in case:
        declared_at = now + 1
    if "stale" in case:
        declared_at = now - DEFAULT_WINDOWS.max_attestation_age - 1
    signers: list[str | None] = [] if "no-quorum" in case else [CARRIER]
    before = model.state()
    assert rejected(lambda: contest(model, target, now, declared_at=declared_at, signers=signers)).error == error
    assert model.state() == before


# -- assured pre-payment --------------------------------------------------------------------


def test_a_prepayment_draws_on_the_limit_and_reserves_the_pool() -> None:
    model = new_model()
    with_credit(model, limit=600_000, pool=500_000)
    order_id = funded(model)
    assert rejected(lambda: model.request_prepayment(order_id, BANK, 400_000, caller=BUYER, now=T0)).error == (
        "TradeEscrowNotSupplier"
    )
    assert rejected(lambda: model.request_prepayment(order_id, BUYER, 400_000, caller=SUPPLIER, now=T0)).error_args == {
        "account": BUYER
    }
    too_much = rejected(lambda: model.request_prepayment(order_id, BANK, 500_001, caller=SUPPLIER, now=T0))
    assert (too_much.error, too_much.error_args) == (
        "TradeEscrowPoolInsufficient",
        {"guarantor": BANK, "requested": 500_001, "available": 500_000},
    )
    effect = model.request_prepayment(order_id, BANK, 400_000, caller=SUPPLIER, now=T0)
    assert effect == Effect(("PrepaymentReleased",), (Transfer(TOKEN, ESCROW, SUPPLIER, 400_000),))
    order = model.order(order_id)
    assert (order.prepaid, order.escrowed, order.paid_to_supplier, order.guarantor) == (400_000, 600_000, 400_000, BANK)
    assert model.pool(BANK) == (100_000, 400_000)
    assert (model.exposure(BANK, SUPPLIER), model.available_limit(BANK, SUPPLIER, T0)) == (400_000, 200_000)
    again = rejected(lambda: model.request_prepayment(order_id, BANK, 1, caller=SUPPLIER, now=T0))
    assert again.error == "TradeEscrowAlreadyPrepaid"
    second = funded(model)
    over_limit = rejected(lambda: model.request_prepayment(second, BANK, 200_001, caller=SUPPLIER, now=T0))
    assert over_limit.error_args == {"supplier": SUPPLIER, "requested": 200_001, "available": 200_000}


def test_a_supplier_suspended_since_the_order_was_signed_cannot_draw_a_prepayment() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    model.roster.set_active(SUPPLIER, False)
    suspended = rejected(lambda: model.request_prepayment(order_id, BANK, 1, caller=SUPPLIER, now=T0))
    assert (suspended.error, suspended.error_args) == ("TradeEscrowSupplierNotEligible", {"supplier": SUPPLIER})
    # Checked after who is asking: a stranger still hears that only the supplier may draw.
    assert rejected(lambda: model.request_prepayment(order_id, BANK, 1, caller=STRANGER, now=T0)).error == (
        "TradeEscrowNotSupplier"
    )
    model.roster.set_active(SUPPLIER, True)
    assert model.request_prepayment(order_id, BANK, 1, caller=SUPPLIER, now=T0).events == ("PrepaymentReleased",)


def test_releasing_a_prepaid_order_frees_the_guarantee() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    model.request_prepayment(order_id, BANK, 250_000, caller=SUPPLIER, now=T0)
    attest(model, order_id, Milestone.SHIPPED, T0)
    effect = model.confirm_receipt(order_id, caller=BUYER, now=T0)
    assert effect.events == ("ReceiptConfirmed", "ExposureReleased", "OrderReleased")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, SUPPLIER, 750_000),)
    assert model.order(order_id).paid_to_supplier == AMOUNT
    assert (model.pool(BANK), model.exposure(BANK, SUPPLIER), model.shortfall(BANK, SUPPLIER)) == ((AMOUNT, 0), 0, 0)


def test_refunding_a_prepaid_order_claims_the_guarantee_and_records_a_shortfall_until_repaid() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    model.request_prepayment(order_id, BANK, 250_000, caller=SUPPLIER, now=T0)
    effect = model.refund_unshipped(order_id, caller=STRANGER, now=T0 + 11 * DAY)
    assert effect.events == ("GuaranteeClaimed", "OrderRefunded")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
    order = model.order(order_id)
    assert (order.paid_to_supplier, order.refunded_to_buyer, order.guarantee_claimed) == (250_000, AMOUNT, 250_000)
    assert order.paid_to_supplier + order.refunded_to_buyer == order.terms.amount + order.guarantee_claimed
    # The pool paid the buyer: it is 250k poorer, and that much of the limit stays in use.
    assert (model.pool(BANK), model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER)) == (
        (750_000, 0),
        250_000,
        250_000,
    )
    assert model.available_limit(BANK, SUPPLIER, T0) == 750_000
    over = rejected(lambda: model.repay_shortfall(SUPPLIER, BANK, 250_001, caller=SUPPLIER, now=T0))
    assert over.error_args == {"supplier": SUPPLIER, "amount": 250_001, "shortfall": 250_000}
    repaid = model.repay_shortfall(SUPPLIER, BANK, 100_000, caller=STRANGER, now=T0)
    assert repaid == Effect(("ShortfallRepaid", "ExposureReleased"), (Transfer(TOKEN, STRANGER, ESCROW, 100_000),))
    assert (model.pool(BANK), model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER)) == (
        (850_000, 0),
        150_000,
        150_000,
    )
    assert model.invariant_violations() == []


def test_a_split_larger_than_what_is_left_in_escrow_is_topped_up_by_the_pool() -> None:
    model = new_model()
    with_credit(model)
    order_id = delivered(model)
    # Prepaid orders must be prepaid while FUNDED; build one by hand.
    second = funded(model, terms(nonce=1))
    model.request_prepayment(second, BANK, 400_000, caller=SUPPLIER, now=T0)
    attest(model, second, Milestone.SHIPPED, T0)
    attest(model, second, Milestone.DELIVERED, T0)
    model.open_dispute(second, ZERO_HASH, caller=BUYER, now=T0)
    effect = model.arbitrate(second, 700_000, caller=ARBITER, now=T0)
    assert effect.events == ("GuaranteeClaimed", "ExposureReleased", "DisputeResolved")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, 700_000),)
    order = model.order(second)
    assert (order.paid_to_supplier, order.refunded_to_buyer, order.guarantee_claimed) == (400_000, 700_000, 100_000)
    assert (model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER), model.pool(BANK)) == (
        100_000,
        100_000,
        (900_000, 0),
    )
    assert model.order(order_id).status is OrderStatus.DELIVERED


def test_a_limit_lapses_at_valid_until_and_with_the_banks_role() -> None:
    model = new_model()
    with_credit(model, valid_until=T0 + DAY)
    assert model.available_limit(BANK, SUPPLIER, T0 + DAY - 1) == AMOUNT
    assert model.available_limit(BANK, SUPPLIER, T0 + DAY) == 0
    model.roster.set_active(BANK, False)
    assert model.credit.limit_of(BANK, SUPPLIER, T0) == 0
    assert rejected(lambda: model.fund_pool(1, caller=BANK, now=T0)).error == "TradeEscrowNotGuarantor"
    # A suspended bank still takes back what is unreserved: withdrawPool checks no role.
    assert model.withdraw_pool(AMOUNT, caller=BANK, now=T0).transfers == (Transfer(TOKEN, ESCROW, BANK, AMOUNT),)


def test_pools_take_and_return_only_positive_available_amounts() -> None:
    model = new_model()
    assert rejected(lambda: model.fund_pool(0, caller=BANK, now=T0)).error_args == {"amount": 0}
    assert rejected(lambda: model.fund_pool(5, caller=STRANGER, now=T0)).error_args == {"account": STRANGER}
    model.fund_pool(10, caller=BANK, now=T0)
    assert rejected(lambda: model.withdraw_pool(0, caller=BANK, now=T0)).error == "TradeEscrowInvalidAmount"
    assert rejected(lambda: model.withdraw_pool(11, caller=BANK, now=T0)).error_args == {
        "guarantor": BANK,
        "requested": 11,
        "available": 10,
    }
    model.withdraw_pool(10, caller=BANK, now=T0)
    assert model.pool(BANK) == (0, 0) and model.held() == 0


# -- the credit registry and administration -------------------------------------------------


def test_limits_are_published_with_the_banks_next_nonce_and_its_own_signature() -> None:
    credit = CreditLimits(roster())

    def publish(**changes: object) -> Effect:
        grant: dict[str, object] = {
            "bank": BANK,
            "party": SUPPLIER,
            "limit": 5,
            "valid_until": T0 + 1,
            "nonce": credit.nonce(BANK),
            "signer": BANK,
            "now": T0,
        }
        grant.update(changes)
        return credit.publish(**grant)  # type: ignore[arg-type]

    assert rejected(lambda: publish(bank=SUPPLIER, signer=SUPPLIER)).error_args == {"bank": SUPPLIER}
    assert rejected(lambda: publish(party=STRANGER)).error == "CreditRegistryNotMember"
    assert rejected(lambda: publish(valid_until=T0)).error_args == {"validUntil": T0, "nowTimestamp": T0}
    assert rejected(lambda: publish(nonce=1)).error_args == {"bank": BANK, "nonce": 1, "expected": 0}
    assert rejected(lambda: publish(signer=None)).error == "CreditRegistryInvalidSignature"
    assert rejected(lambda: publish(signer=STRANGER)).error_args == {"bank": BANK, "signer": STRANGER}
    assert publish().events == ("LimitPublished",)
    assert (credit.nonce(BANK), credit.limit_of(BANK, SUPPLIER, T0)) == (1, 5)
    assert rejected(lambda: credit.revoke(SUPPLIER, caller=SUPPLIER)).contract == "CreditRegistry"
    credit.revoke(SUPPLIER, caller=BANK)
    assert credit.limit_of(BANK, SUPPLIER, T0) == 0


def test_only_an_admin_changes_thresholds_windows_and_tokens_and_only_to_sane_values() -> None:
    model = new_model()
    assert rejected(lambda: model.set_threshold(1, 2, caller=BUYER)).error_args == {"caller": BUYER}
    for kind, threshold in ((0, 1), (4, 1), (1, 0)):
        failure = rejected(partial(model.set_threshold, kind, threshold, caller=ADMIN))
        assert failure.error_args == {"kind": kind, "threshold": threshold}
    bad = Windows(DAY, 3 * DAY, 2 * DAY, DAY)  # resolve window shorter than the answer window
    assert rejected(lambda: model.set_windows(bad, caller=ADMIN)).error == "TradeEscrowInvalidWindows"
    year = 365 * DAY
    for too_long in (
        Windows(year + 1, DAY, DAY, DAY),
        Windows(DAY, year + 1, year + 1, DAY),
        Windows(DAY, DAY, year + 1, DAY),
        Windows(DAY, DAY, DAY, year + 1),
    ):
        assert rejected(partial(model.set_windows, too_long, caller=ADMIN)).error == "TradeEscrowInvalidWindows"
    model.set_windows(Windows(year, year, year, year), caller=ADMIN)  # a year each is the most allowed
    model.set_windows(Windows(DAY, DAY, DAY, DAY), caller=ADMIN)
    model.set_token_allowed(OTHER_TOKEN, True, caller=ADMIN)
    t = terms(token=OTHER_TOKEN)
    create(model, t)
    model.fund(1, caller=BUYER, now=T0)
    assert model.held(OTHER_TOKEN) == AMOUNT and model.held() == 0
    # Pre-payment pays in the registry's currency only.
    failure = rejected(lambda: model.request_prepayment(1, BANK, 1, caller=SUPPLIER, now=T0))
    assert failure.error_args == {"token": OTHER_TOKEN, "currency": TOKEN}


# -- the model as a value -------------------------------------------------------------------


def test_a_rejected_call_changes_nothing() -> None:
    model = new_model()
    with_credit(model)
    order_id = delivered(model)
    before = model.state()
    for call in (
        lambda: model.release(order_id, caller=STRANGER, now=T0),
        lambda: model.request_prepayment(order_id, BANK, 1, caller=SUPPLIER, now=T0),
        lambda: model.arbitrate(order_id, 0, caller=ARBITER, now=T0),
        lambda: model.repay_shortfall(SUPPLIER, BANK, 1, caller=SUPPLIER, now=T0),
        lambda: model.create_order(terms(), buyer_signer=BUYER, supplier_signer=BUYER, caller=BUYER, now=T0),
    ):
        rejected(call)
        assert model.state() == before


def test_state_exports_every_view_and_clones_are_independent() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    model.request_prepayment(order_id, BANK, 100, caller=SUPPLIER, now=T0)
    state = model.state()
    assert state.order_count == 1 and state.orders[order_id] == model.order(order_id)
    assert state.pools == {BANK: (AMOUNT - 100, 100)}
    assert state.exposure == {(BANK, SUPPLIER): 100} and state.shortfall == {}
    assert state.held == {TOKEN: 2 * AMOUNT - 100}
    copy = model.clone()
    copy.refund_unshipped(order_id, caller=STRANGER, now=T0 + 11 * DAY)
    assert model.state() == state and copy.state() != state


def test_addresses_are_compared_in_checksum_form_whatever_the_case_given() -> None:
    model = new_model()
    t = terms(buyer=BUYER.lower(), supplier=SUPPLIER.upper().replace("0X", "0x"))
    order_id = create(model, t)
    assert model.order(order_id).terms.buyer == BUYER
    model.fund(order_id, caller=BUYER.lower(), now=T0)
    assert address(BUYER.lower()) == BUYER


def test_transfers_net_out_per_holder() -> None:
    transfers = [
        Transfer(TOKEN, BUYER, ESCROW, 5),
        Transfer(TOKEN, ESCROW, SUPPLIER, 3),
        Transfer(OTHER_TOKEN, BUYER, ESCROW, 9),
    ]
    assert transfers_by_holder(transfers, TOKEN) == {BUYER: -5, ESCROW: 2, SUPPLIER: 3}


# -- the rules hold under any sequence of calls ---------------------------------------------


class ModelOnly(RuleBasedStateMachine):
    """Random calls on the model alone (fast): its books always balance."""

    def __init__(self) -> None:
        super().__init__()
        self.model = new_model()
        self.now = T0
        self.paid: dict[int, int] = {}
        self.evidence: dict[tuple[int, Milestone], bytes] = {}
        self.model.credit.publish(
            bank=BANK, party=SUPPLIER, limit=10**9, valid_until=T0 + 400 * DAY, nonce=0, signer=BANK, now=T0
        )

    def attempt(self, call: Callable[[], Effect], order_id: int = 0) -> None:
        try:
            effect = call()
        except ModelRejected:
            return
        for t in effect.transfers:
            if t.source == ESCROW and order_id:
                self.paid[order_id] = self.paid.get(order_id, 0) + t.amount

    def pick(self, index: int) -> int:
        return index % max(self.model.order_count, 1) + 1

    @rule(amount=st.integers(1, 10**7), inspection=st.booleans())
    def create(self, amount: int, inspection: bool) -> None:
        t = terms(
            nonce=self.model.order_count,
            amount=amount,
            inspection_required=inspection,
            ship_by=self.now + 10 * DAY,
            deliver_by=self.now + 20 * DAY,
            deadline=self.now,
        )
        self.attempt(
            lambda: self.model.create_order(t, buyer_signer=BUYER, supplier_signer=SUPPLIER, caller=BUYER, now=self.now)
        )

    @rule(seconds=st.integers(0, 40 * DAY))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @rule(i=st.integers(0, 50), milestone=st.sampled_from(list(Milestone)))
    def attest(self, i: int, milestone: Milestone) -> None:
        order_id = self.pick(i)
        oracle = CARRIER if milestone <= Milestone.DELIVERED else INSPECTOR
        evidence = keccak(text=f"{order_id}:{milestone}:{self.now}")
        self.attempt(
            lambda: self.model.attest(order_id, milestone, self.now, evidence, [oracle], caller=STRANGER, now=self.now),
            order_id,
        )
        if self.model.evidence_of(evidence) is not None:
            self.evidence[(order_id, milestone)] = evidence

    @rule(i=st.integers(0, 50), age=st.one_of(st.integers(-1, DAY), st.integers(-1, 31 * DAY)))
    def contest(self, i: int, age: int) -> None:
        """Declare the event behind an attested milestone erroneous (one in five never was attested)."""
        attested = list(self.evidence.items())
        if attested and i % 5:
            (order_id, milestone), evidence = attested[i % len(attested)]
        else:
            order_id, milestone, evidence = self.pick(i), Milestone.SHIPPED, keccak(text=f"unattested:{i}")
        oracle = CARRIER if milestone <= Milestone.DELIVERED else INSPECTOR
        reason = keccak(text=f"did_not_occur:{self.now}")
        self.attempt(
            lambda: self.model.contest_milestone(
                evidence, reason, self.now - age, [oracle], caller=STRANGER, now=self.now
            ),
            order_id,
        )

    @rule(
        i=st.integers(0, 50),
        what=st.sampled_from(["fund", "confirm", "release", "refund", "dispute", "answer", "close"]),
    )
    def act(self, i: int, what: str) -> None:
        order_id, m, now = self.pick(i), self.model, self.now
        calls: dict[str, Callable[[], Effect]] = {
            "fund": lambda: m.fund(order_id, caller=BUYER, now=now),
            "confirm": lambda: m.confirm_receipt(order_id, caller=BUYER, now=now),
            "release": lambda: m.release(order_id, caller=STRANGER, now=now),
            "refund": lambda: m.refund_unshipped(order_id, caller=STRANGER, now=now),
            "dispute": lambda: m.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=now),
            "answer": lambda: m.answer_dispute(order_id, ZERO_HASH, caller=SUPPLIER, now=now),
            "close": lambda: m.close_expired_dispute(order_id, caller=STRANGER, now=now),
        }
        self.attempt(calls[what], order_id)

    @rule(i=st.integers(0, 50), bps=st.integers(0, 10_000))
    def arbitrate(self, i: int, bps: int) -> None:
        order_id = self.pick(i)
        buyer_amount = self.model.order(order_id).terms.amount * bps // 10_000
        self.attempt(lambda: self.model.arbitrate(order_id, buyer_amount, caller=ARBITER, now=self.now), order_id)

    @rule(i=st.integers(0, 50), bps=st.integers(1, 10_000))
    def prepay(self, i: int, bps: int) -> None:
        order_id = self.pick(i)
        amount = max(1, self.model.order(order_id).terms.amount * bps // 10_000)
        self.attempt(
            lambda: self.model.request_prepayment(order_id, BANK, amount, caller=SUPPLIER, now=self.now), order_id
        )

    @rule(amount=st.integers(1, 10**7))
    def fund_pool(self, amount: int) -> None:
        self.attempt(lambda: self.model.fund_pool(amount, caller=BANK, now=self.now))

    @precondition(lambda self: self.model.shortfall(BANK, SUPPLIER) > 0)
    @rule(bps=st.integers(1, 10_000))
    def repay(self, bps: int) -> None:
        amount = max(1, self.model.shortfall(BANK, SUPPLIER) * bps // 10_000)
        self.attempt(lambda: self.model.repay_shortfall(SUPPLIER, BANK, amount, caller=OTHER_SUPPLIER, now=self.now))

    @invariant()
    def books_balance(self) -> None:
        assert self.model.invariant_violations() == []
        for order_id in self.model.order_ids():
            order = self.model.order(order_id)
            assert self.paid.get(order_id, 0) == order.paid_to_supplier + order.refunded_to_buyer


def test_the_models_books_balance_after_any_sequence_of_calls() -> None:
    run_state_machine_as_test(
        ModelOnly,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
