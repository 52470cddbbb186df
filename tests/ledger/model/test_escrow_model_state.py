"""The escrow model as a value, and its books under any sequence of calls.

A rejected call leaves the state as it was (the lock-step suite asks the model first and carries on
from its state when the contract reverts as predicted); ``state()`` exports every view, which the
audit replay compares with the chain; a ``clone()`` is independent of its original. ``ModelOnly``
then throws random calls at the model alone (fast, no chain) and checks after each that the books
balance and that every token that left the escrow is accounted to an order.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ledger.domain.escrow import Milestone
from ledger.model import Effect, ModelRejected, Transfer
from ledger.model.escrow import ZERO_HASH, address, transfers_by_holder
from tests.ledger.model.escrow_model_helpers import (
    AMOUNT,
    ARBITER,
    BANK,
    BUYER,
    CARRIER,
    DAY,
    ESCROW,
    INSPECTOR,
    OTHER_SUPPLIER,
    OTHER_TOKEN,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    create,
    delivered,
    funded,
    new_model,
    prepay,
    rejected,
    terms,
    with_credit,
)

# -- the model as a value -------------------------------------------------------------------


def test_a_rejected_call_changes_nothing() -> None:
    model = new_model()
    with_credit(model)
    order_id = delivered(model)
    before = model.state()
    for call in (
        lambda: model.release(order_id, caller=STRANGER, now=T0),
        lambda: prepay(model, order_id, 1),
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
    prepay(model, order_id, 100)
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

    @rule(i=st.integers(0, 50), bps=st.integers(1, 10_000), fee_bps=st.integers(0, 10_000))
    def prepay(self, i: int, bps: int, fee_bps: int) -> None:
        order_id = self.pick(i)
        amount = max(1, self.model.order(order_id).terms.amount * bps // 10_000)
        fee = amount * fee_bps // 10_000  # all of it (refused) at 10,000 bp
        self.attempt(lambda: prepay(self.model, order_id, amount, fee=fee, now=self.now), order_id)

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
            # To the supplier, to the buyer, and the guarantor's fee out of a pre-payment.
            paid = order.paid_to_supplier + order.refunded_to_buyer + order.prepayment_fee
            assert self.paid.get(order_id, 0) == paid


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
