"""The rules and the invariant of the TradeEscrow lock-step suite (see ``test_trade_escrow_properties``).

A running start seeds a few orders some way along their lifecycle; then one rule favoured by
hypothesis advances an order along a path (happy, pre-payment, dispute, failure, cancel, contest),
the others call every operation from right and wrong callers (one call in ten strays to the wrong
order, party or amount), and time jumps, sometimes onto the very second a window opens or closes.
After every step the invariant compares the contract's views and the token balances with the model.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from ledger.domain.escrow import Dispute, Milestone, OrderStatus
from ledger.eth.reads import RawView
from tests.contracts.escrow_properties_lockstep import TradeEscrowLockstep
from tests.contracts.escrow_properties_world import (
    ATTESTABLE,
    BUYERS,
    CREATED,
    DAY,
    DISPUTED,
    FUNDED,
    PAID_OUT,
    PAYERS,
    RECEIVABLE,
    RELEASABLE,
    SUPPLIERS,
    TIMED,
    UNIT,
    order_from_raw,
)
from tests.contracts.lockstep import HOUR

# -- strategies -------------------------------------------------------------------------

STAGES: tuple[str, ...] = ("created", "funded", "shipped", "delivered", "inspected", "disputed")
SEED_ORDERS = st.tuples(
    st.sampled_from(BUYERS),
    st.sampled_from(SUPPLIERS),
    st.integers(1, 20_000 * UNIT),
    st.booleans(),  # inspection required
    st.sampled_from(STAGES),
    st.booleans(),  # drew a pre-payment while funded
    st.integers(1, 10_000),  # how much of what it could draw, in basis points
    st.integers(0, 7).map(lambda n: n == 5),  # on open account: never funded, prepaid or disputed
)
# Where advance_an_order takes an order next; see its branches for what each means per status.
PATHS = ("happy", "happy", "prepay", "dispute", "dispute", "fail", "cancel", "contest")

PICK = st.integers(0, 1 << 16)
BPS = st.integers(0, 10_000)
# One call in ten goes to the wrong order, party or amount: the error paths need visits too.
STRAY = st.integers(0, 9).map(lambda n: n == 9)
AMOUNTS = st.one_of(st.integers(1, 20_000 * UNIT), st.sampled_from([1, 2, UNIT, 0]))
AGES = st.sampled_from([0, 0, 0, HOUR, DAY, "max", "max+1", "future"])
SIGNERS = st.sampled_from(["right"] * 8 + ["none", "twice", "wrong", "stranger", "right+wrong"])
# What is wrong with a bank's pre-payment offer, if anything: its fee (all of the draw or more is
# refused, one unit less is not), its deadline (now is its last good second), a nonce already spent,
# or a signature that is not the guarantor's (someone else's, or one that recovers to no one).
# Sound offers come from advance_an_order and the running start; this is for request_prepayment.
OFFER_FLAWS = st.sampled_from(
    (
        "none",
        "expired",
        "replayed",
        "fee=amount",
        "wrong-signer",
        "fee>amount",
        "no-signer",
        "last-second",
        "fee=amount-1",
        "no-fee",
    )
)
SPLITS = st.sampled_from(["fraction", "fraction", "zero", "all", "escrowed", "escrowed+1", "over"])
JUMPS = st.one_of(st.sampled_from([1, HOUR, DAY, 3 * DAY, 10 * DAY]), st.integers(1, 40 * DAY))


class TradeEscrowMachine(TradeEscrowLockstep):
    """The rules and the invariant; the operations and the state are ``TradeEscrowLockstep``'s."""

    # -- rules: a running start -----------------------------------------------------------

    @initialize(
        credit=st.tuples(
            st.integers(1, 40_000 * UNIT), st.integers(1, 60_000 * UNIT), st.sampled_from([True] * 3 + [False])
        ),
        orders=st.lists(SEED_ORDERS, min_size=1, max_size=3),
        ship_in=st.integers(1, 20 * DAY),
    )
    def seed_ledger(
        self,
        credit: tuple[int, int, bool],
        orders: list[tuple[str, str, int, bool, str, bool, int, bool]],
        ship_in: int,
    ) -> None:
        """Start most examples with bank limits and a pool, and every example with a few orders
        already some way along their lifecycle (each step checked like any other), so that
        30 random steps are spent around disputes, guarantees and shortfalls, not on setup."""
        limit, pool, enabled = credit
        if enabled:
            for supplier in SUPPLIERS:
                self.publish("bank", supplier, limit, 90 * DAY)
            self.fund_pool_as("bank", pool)
        for buyer, supplier, amount, inspection, stage, prepaid, bps, open_account in orders:
            if buyer == supplier:
                supplier = SUPPLIERS[(SUPPLIERS.index(supplier) + 1) % len(SUPPLIERS)]
            self.create(buyer, supplier, amount, ship_in, 10 * DAY, inspection, open_account=open_account)
            order_id = self.model.order_count
            reached = STAGES.index(stage)
            escrowed = not open_account
            if reached >= STAGES.index("funded") and escrowed:
                self.fund(order_id, self.acct(buyer))
            if reached >= STAGES.index("funded") and prepaid and escrowed:
                bank = self.addr("bank")
                amount = self.prepayment_amount(order_id, bank, "fraction", bps)
                fee = self.prepayment_fee(amount, bps // 4)  # at most a quarter of the draw
                self.prepay(order_id, bank, amount, self.acct(supplier), fee=fee)
            if reached >= STAGES.index("shipped"):
                self.attest(order_id, Milestone.SHIPPED, 0, "fresh", "right")
            if reached >= STAGES.index("delivered"):
                self.attest(order_id, Milestone.DELIVERED, 0, "fresh", "right")
            if reached >= STAGES.index("inspected") and inspection:
                self.attest(order_id, Milestone.INSPECTION_PASSED, 0, "fresh", "right")
            if stage == "disputed" and escrowed:
                self.dispute(order_id, self.acct(buyer))

    # -- rules: the lifecycle, one legitimate step at a time --------------------------------

    # Hypothesis sorts rules by their number of arguments and favours the first: one tuple
    # argument puts this rule there, so most examples travel deep into the lifecycle.
    @precondition(lambda self: bool(self.advanceable()))
    @rule(move=st.tuples(PICK, st.sampled_from(PATHS), st.sampled_from(["most", "fraction"]), SPLITS, BPS))
    def advance_an_order(self, move: tuple[int, str, str, str, int]) -> None:
        """The next step of some open order along a path: the happy one, pre-payment, dispute."""
        pick, path, prepay_how, split_how, bps = move
        ids = self.advanceable()
        order_id = ids[pick % len(ids)]
        order = self.model.order(order_id)
        buyer, supplier = self.party(order_id, "buyer", False, 0), self.party(order_id, "supplier", False, 0)
        relayer = self.acct("relayer")
        status = order.status
        open_account = self.model.is_open_account(order_id)
        if path == "contest":
            evidence = self.evidence_for(order_id, pick)
            if status in RECEIVABLE and evidence is not None and not open_account:
                # The oracles retract what they attested: the order goes into dispute.
                self.contest(evidence, 0, "right", relayer)
                return
            path = "happy"
        if open_account and path not in ("happy", "fail", "cancel"):
            path = "happy"  # only milestones move an open-account order
        if status is OrderStatus.CREATED and open_account and path != "cancel":
            self.attest(order_id, Milestone.SHIPPED, 0, "fresh", "right")  # nothing to fund
        elif status is OrderStatus.CREATED:
            if path == "cancel":
                self.execute(
                    "cancelUnfunded",
                    lambda: self.model.cancel_unfunded(order_id, caller=buyer.address, now=self.now),
                    lambda: self.escrow.cancel_unfunded(order_id, buyer),
                )
            else:
                self.fund(order_id, buyer)
        elif status is OrderStatus.FUNDED:
            if path in ("prepay", "dispute") and not order.prepaid:
                bank = self.addr("bank")
                amount = self.prepayment_amount(order_id, bank, prepay_how, bps)
                self.prepay(order_id, bank, amount, supplier, fee=self.prepayment_fee(amount, bps // 8))
            elif path == "cancel":  # the supplier never ships
                self.refund_late(order_id, relayer)
            else:
                self.attest(order_id, Milestone.SHIPPED, 0, "fresh", "right")
        elif status is OrderStatus.DISPUTED:
            if path in ("happy", "fail") and not self.model.dispute(order_id).answered:
                self.answer(order_id, supplier)
            elif path in ("happy", "prepay"):
                self.arbitrate(order_id, self.split(order_id, split_how, bps), self.acct("arbiter"))
            elif path == "dispute":
                self.settle(
                    order_id, self.split(order_id, split_how, bps), self.now + DAY, forged=False, sender=relayer
                )
            else:
                self.close_expired(order_id, relayer)
        elif status is OrderStatus.SHIPPED:
            if path == "dispute" and self.now > order.terms.deliver_by:  # the goods never arrived
                self.dispute(order_id, buyer)
            elif path == "cancel":
                self.confirm(order_id, buyer)
            else:
                self.attest(order_id, Milestone.DELIVERED, 0, "fresh", "right")
        elif path == "dispute":
            self.dispute(order_id, buyer)
        elif status is OrderStatus.DELIVERED and order.terms.inspection_required and path != "cancel":
            milestone = Milestone.INSPECTION_FAILED if path == "fail" else Milestone.INSPECTION_PASSED
            self.attest(order_id, milestone, 0, "fresh", "right")
        elif path == "cancel" or self.now < self.model.claim_window_end(order_id):
            self.confirm(order_id, buyer)  # the buyer need not wait for the claim window
        else:
            self.release(order_id, relayer)

    # -- rules: every call, from right and wrong callers -----------------------------------

    @rule(
        buyer=st.sampled_from(["core", "core", "tier1", "tier2", "tier3", "bank", "relayer"]),
        supplier=st.sampled_from(["tier1", "tier2", "tier3", "tier1", "tier2", "tier3", "core", "relayer"]),
        amount=AMOUNTS,
        ship_in=st.one_of(st.integers(1, 20 * DAY), st.sampled_from([0, -1])),
        deliver_after=st.one_of(st.integers(0, 20 * DAY), st.just(-1)),
        inspection=st.booleans(),
        deadline_in=st.sampled_from([DAY, DAY, DAY, 0, -1]),
        nonce_mode=st.sampled_from(["fresh"] * 6 + ["reuse"]),
        po_mode=st.sampled_from(["fresh"] * 6 + ["reuse", "missing"]),
        submitter=st.sampled_from(["supplier", "buyer", "relayer"]),
        forged=STRAY,
        open_account=st.integers(0, 7).map(lambda n: n == 5),
    )
    def create_order(
        self,
        buyer: str,
        supplier: str,
        amount: int,
        ship_in: int,
        deliver_after: int,
        inspection: bool,
        deadline_in: int,
        nonce_mode: str,
        po_mode: str,
        submitter: str,
        forged: bool,
        open_account: bool,
    ) -> None:
        self.create(
            buyer,
            supplier,
            amount,
            ship_in,
            deliver_after,
            inspection,
            deadline_in=deadline_in,
            nonce_mode=nonce_mode,
            po_mode=po_mode,
            submitter=submitter,
            forged=forged,
            open_account=open_account,
        )

    @precondition(lambda self: self.any_in(CREATED))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def fund_order(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, CREATED, stray)
        self.fund(order_id, self.party(order_id, "buyer", stray, who))

    @precondition(lambda self: self.any_in(CREATED))
    @rule(pick=PICK, stray=STRAY, by_buyer=st.booleans(), who=PICK)
    def cancel_unfunded(self, pick: int, stray: bool, by_buyer: bool, who: int) -> None:
        order_id = self.pick_order(pick, CREATED, stray)
        actor = self.party(order_id, "buyer" if by_buyer else "supplier", stray, who)
        self.execute(
            "cancelUnfunded",
            lambda: self.model.cancel_unfunded(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.cancel_unfunded(order_id, actor),
        )

    @precondition(lambda self: self.any_in(ATTESTABLE))
    @rule(
        pick=PICK,
        stray=STRAY,
        passed=st.booleans(),
        age=AGES,
        reuse_evidence=STRAY,
        signers=SIGNERS,
        milestone=st.sampled_from(list(Milestone)),
    )
    def attest_milestone(
        self,
        pick: int,
        stray: bool,
        passed: bool,
        age: int | str,
        reuse_evidence: bool,
        signers: str,
        milestone: Milestone,
    ) -> None:
        order_id = self.pick_order(pick, ATTESTABLE, stray)
        if not stray:
            inspection = Milestone.INSPECTION_PASSED if passed else Milestone.INSPECTION_FAILED
            milestone = {
                OrderStatus.FUNDED: Milestone.SHIPPED,
                OrderStatus.SHIPPED: Milestone.DELIVERED,
                OrderStatus.DELIVERED: inspection,
            }.get(self.model.status_of(order_id), milestone)
        self.attest(order_id, milestone, age, "reuse" if reuse_evidence else "fresh", signers)

    @precondition(lambda self: self.any_in(RECEIVABLE))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def confirm_receipt(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, RECEIVABLE, stray)
        self.confirm(order_id, self.party(order_id, "buyer", stray, who))

    @precondition(lambda self: self.any_in(RELEASABLE))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def release_order(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, RELEASABLE, stray)
        self.release(order_id, self.someone(who))

    @precondition(lambda self: self.any_in(FUNDED))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def refund_unshipped(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, FUNDED, stray)
        self.refund_late(order_id, self.someone(who))

    @precondition(lambda self: self.any_in(RECEIVABLE))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def open_dispute(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, RECEIVABLE, stray)
        self.dispute(order_id, self.party(order_id, "buyer", stray, who))

    @precondition(lambda self: bool(self.contestable()))
    @rule(
        pick=PICK,
        evidence_of=st.sampled_from(["contestable"] * 7 + ["any", "any", "unknown"]),
        age=AGES,
        signers=SIGNERS,
        who=PICK,
    )
    def contest_milestone(self, pick: int, evidence_of: str, age: int | str, signers: str, who: int) -> None:
        """Oracles declare the event behind an attested milestone erroneous; anyone relays it. Of
        what: evidence of an order one can contest, of any order (closed, disputed, on open
        account), or never attested."""
        if evidence_of == "unknown":
            evidence = self.fresh("epcis")
        else:
            candidates = self.evidence if evidence_of == "any" else self.contestable()
            evidence = candidates[pick % len(candidates)]
        self.contest(evidence, age, signers, self.someone(who))

    def contestable(self) -> list[bytes]:
        """Evidence of escrowed orders still SHIPPED, DELIVERED or INSPECTED."""
        return [
            e
            for e in self.evidence
            if (use := self.model.evidence_of(e))
            and self.model.status_of(use[0]) in RECEIVABLE
            and not self.model.is_open_account(use[0])
        ]

    @precondition(lambda self: self.any_in(DISPUTED))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def answer_dispute(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, DISPUTED, stray)
        self.answer(order_id, self.party(order_id, "supplier", stray, who))

    @precondition(lambda self: self.any_in(DISPUTED))
    @rule(pick=PICK, stray=STRAY, how=SPLITS, bps=BPS, who=PICK)
    def arbitrate_dispute(self, pick: int, stray: bool, how: str, bps: int, who: int) -> None:
        order_id = self.pick_order(pick, DISPUTED, stray)
        actor = self.someone(who) if stray else self.acct("arbiter")
        self.arbitrate(order_id, self.split(order_id, how, bps), actor)

    @precondition(lambda self: self.any_in(DISPUTED))
    @rule(
        pick=PICK,
        stray=STRAY,
        how=SPLITS,
        bps=BPS,
        deadline_in=st.sampled_from([DAY, DAY, 0, -1]),
        forged=STRAY,
        who=PICK,
    )
    def settle_dispute(
        self, pick: int, stray: bool, how: str, bps: int, deadline_in: int, forged: bool, who: int
    ) -> None:
        order_id = self.pick_order(pick, DISPUTED, stray)
        buyer_amount = self.split(order_id, how, bps)
        self.settle(order_id, buyer_amount, self.now + deadline_in, forged=forged, sender=self.someone(who))

    @precondition(lambda self: self.any_in(DISPUTED))
    @rule(pick=PICK, stray=STRAY, who=PICK)
    def close_expired_dispute(self, pick: int, stray: bool, who: int) -> None:
        order_id = self.pick_order(pick, DISPUTED, stray)
        self.close_expired(order_id, self.someone(who))

    @rule(
        bank=st.sampled_from(["bank"] * 6 + ["tier1"]),
        party=st.sampled_from([*SUPPLIERS, *SUPPLIERS, "relayer"]),
        limit=st.one_of(st.integers(1, 40_000 * UNIT), st.just(0)),
        valid_for=st.sampled_from([90 * DAY, 10 * DAY, DAY, 1, 0]),
        nonce_skew=st.sampled_from([0] * 8 + [1, -1]),
        forged=STRAY,
    )
    def publish_limit(self, bank: str, party: str, limit: int, valid_for: int, nonce_skew: int, forged: bool) -> None:
        self.publish(bank, party, limit, valid_for, nonce_skew=nonce_skew, forged=forged)

    @precondition(lambda self: bool(self.model.credit.records))
    @rule(bank=st.sampled_from(["bank"] * 4 + ["tier1"]), party=st.sampled_from(SUPPLIERS))
    def revoke_limit(self, bank: str, party: str) -> None:
        caller = self.acct(bank)
        self.execute(
            "revokeLimit",
            lambda: self.model.credit.revoke(self.addr(party), caller=caller.address),
            lambda: self.registry.revoke(self.addr(party), caller),
        )

    @rule(bank=st.sampled_from(["bank"] * 6 + ["tier1"]), amount=st.integers(1, 60_000 * UNIT), zero=STRAY)
    def fund_pool(self, bank: str, amount: int, zero: bool) -> None:
        self.fund_pool_as(bank, 0 if zero else amount)

    @precondition(lambda self: self.model.pool(self.addr("bank"))[0] > 0)
    @rule(
        bank=st.sampled_from(["bank"] * 6 + ["core"]),
        how=st.sampled_from(["fraction", "all", "over", "zero"]),
        bps=BPS,
    )
    def withdraw_pool(self, bank: str, how: str, bps: int) -> None:
        caller = self.acct(bank)
        available = self.model.pool(caller.address)[0]
        amount = {"fraction": available * bps // 10_000, "all": available, "over": available + 1, "zero": 0}[how]
        self.execute(
            "withdrawPool",
            lambda: self.model.withdraw_pool(amount, caller=caller.address, now=self.now),
            lambda: self.escrow.withdraw_pool(amount, caller),
        )

    # One tuple argument, as advance_an_order's: hypothesis favours rules with fewer arguments, and
    # the offer's flaws (fee, deadline, nonce, signature) each need visits in a CI-sized run.
    @precondition(lambda self: self.any_in(FUNDED))
    @rule(
        call=st.tuples(
            PICK,
            STRAY,
            st.sampled_from(["bank"] * 8 + ["core"]),  # the guarantor
            st.sampled_from(["most", "most", "fraction", "all", "zero", "over", "limit+1", "pool+1"]),
            BPS,
            PICK,  # who calls, when straying
            OFFER_FLAWS,
            BPS,  # the fee of a sound offer, in bp of half the draw
        )
    )
    def request_prepayment(self, call: tuple[int, bool, str, str, int, int, str, int]) -> None:
        pick, stray, guarantor, how, bps, who, flaw, fee_bps = call
        undrawn = [i for i in self.model.order_ids() if self.model.status_of(i) in FUNDED and not self.prepaid(i)]
        order_id = undrawn[pick % len(undrawn)] if undrawn and not stray else self.pick_order(pick, FUNDED, stray)
        g = self.addr(guarantor)
        # A flawed offer draws what the order, limit and pool allow, so its flaw is what is refused.
        amount = self.prepayment_amount(order_id, g, "most" if flaw != "none" else how, bps)
        fee = {
            "no-fee": 0,
            "fee=amount-1": max(amount - 1, 0),
            "fee=amount": amount,
            "fee>amount": amount + 1,
        }.get(flaw, self.prepayment_fee(amount, fee_bps // 2))
        self.prepay(
            order_id,
            g,
            amount,
            self.party(order_id, "supplier", stray, who),
            fee=fee,
            deadline_in={"last-second": 0, "expired": -1}.get(flaw, DAY),
            nonce_mode="reuse" if flaw == "replayed" else "fresh",
            signer={"wrong-signer": "wrong", "no-signer": "none"}.get(flaw, "right"),
        )

    @precondition(lambda self: any(self.model.shortfall(self.addr("bank"), self.addr(s)) for s in SUPPLIERS))
    @rule(
        pick=PICK,
        guarantor=st.sampled_from(["bank"] * 8 + ["core"]),
        how=st.sampled_from(["all", "fraction", "fraction", "over", "zero"]),
        bps=BPS,
        payer=st.sampled_from(PAYERS),
    )
    def repay_shortfall(self, pick: int, guarantor: str, how: str, bps: int, payer: str) -> None:
        bank = self.addr("bank")
        owing = [s for s in SUPPLIERS if self.model.shortfall(bank, self.addr(s))]
        supplier = self.addr(owing[pick % len(owing)])
        g = self.addr(guarantor)
        owed = self.model.shortfall(g, supplier)
        amount = {"all": owed, "fraction": max(1, owed * bps // 10_000), "over": owed + 1, "zero": 0}[how]
        caller = self.acct(payer)
        self.execute(
            "repayShortfall",
            lambda: self.model.repay_shortfall(supplier, g, amount, caller=caller.address, now=self.now),
            lambda: self.escrow.repay_shortfall(supplier, g, amount, caller),
        )

    # -- rules: time ----------------------------------------------------------------------

    @rule(seconds=JUMPS)
    def let_time_pass(self, seconds: int) -> None:
        self.clock.jump(seconds)
        self.w.stats["time:jump"] += 1

    @precondition(lambda self: self.any_in(TIMED))
    @rule(probe=st.tuples(PICK, st.sampled_from([0, 1, -1]), st.booleans()))
    def probe_a_window(self, probe: tuple[int, int, bool]) -> None:
        """Jump onto, or one second either side of, the moment a window opens or closes for some
        order and act right there: the off-by-ones between <, <= and > live on these seconds."""
        pick, offset, variant = probe
        order_id = self.pick_order(pick, TIMED, False)
        order = self.model.order(order_id)
        bank = self.addr("bank")
        if order.status is OrderStatus.FUNDED and variant:
            # The bank's limit lapses at valid_until: draw against it just before, at, after.
            record = self.model.credit.records.get((bank, order.terms.supplier))
            target, act = (record.valid_until if record else self.now), "prepay"
        elif order.status is OrderStatus.FUNDED:
            target, act = order.terms.ship_by, "refund"
        elif order.status is OrderStatus.SHIPPED:
            target, act = order.terms.deliver_by, "dispute"
        elif order.status is OrderStatus.DISPUTED:
            dispute = self.model.dispute(order_id)
            if not dispute.answered:
                target, act = dispute.answer_by, "answer" if variant else "close"
            else:
                target, act = dispute.resolve_by, "close"
        else:
            target, act = self.model.claim_window_end(order_id), "release" if variant else "dispute"
        if target + offset > self.now:
            self.clock.jump(target + offset - self.now)
            self.w.stats["time:probe"] += 1
        buyer, supplier = self.party(order_id, "buyer", False, 0), self.party(order_id, "supplier", False, 0)
        if act == "prepay":
            amount = self.prepayment_amount(order_id, bank, "most", 0)
            self.prepay(order_id, bank, amount, supplier, fee=self.prepayment_fee(amount, 100))
        elif act == "refund":
            self.refund_late(order_id, self.acct("relayer"))
        elif act == "dispute":
            self.dispute(order_id, buyer)
        elif act == "answer":
            self.answer(order_id, supplier)
        elif act == "close":
            self.close_expired(order_id, self.acct("relayer"))
        else:
            self.release(order_id, self.acct("relayer"))

    @precondition(lambda self: self.model.order_count > 0)
    @rule(pick=PICK, offset=st.sampled_from([0, 1, -1]))
    def jump_to_a_deadline(self, pick: int, offset: int) -> None:
        """To the second some window opens or closes (or one either side): where off-by-ones live."""
        moments = sorted({t + offset for t in self.deadlines() if t + offset > self.now})
        if not moments:
            return
        self.clock.jump(moments[pick % len(moments)] - self.now)
        self.w.stats["time:deadline"] += 1

    def deadlines(self) -> list[int]:
        found: list[int] = []
        for order_id in self.model.order_ids():
            order = self.model.order(order_id)
            status = order.status
            if status in (OrderStatus.CREATED, OrderStatus.FUNDED):
                found.append(order.terms.ship_by)
            elif status is OrderStatus.SHIPPED:
                found.append(order.terms.deliver_by)
            elif status in (OrderStatus.DELIVERED, OrderStatus.INSPECTED):
                found.append(self.model.claim_window_end(order_id))
            elif status is OrderStatus.DISPUTED:
                dispute = self.model.dispute(order_id)
                found += [dispute.answer_by, dispute.resolve_by]
        found += [record.valid_until for record in self.model.credit.records.values()]
        return found

    # -- invariants -----------------------------------------------------------------------

    @invariant(check_during_init=True)
    def chain_agrees_with_model(self) -> None:
        self.w.stats["checks"] += 1
        views = self.w.views
        model = self.model
        order_ids = model.order_ids()
        disputed = [i for i in order_ids if model.has_dispute(i)]
        bank = self.addr("bank")
        suppliers = [self.addr(s) for s in SUPPLIERS]
        holders = list(self.balances)
        calls: list[tuple[RawView, tuple[Any, ...]]] = [(views.order_count, ()), (views.pool, (bank,))]
        calls += [(views.order_of, (i,)) for i in order_ids]
        calls += [(views.dispute_of, (i,)) for i in disputed]
        for s in suppliers:
            calls += [(views.exposure, (bank, s)), (views.shortfall, (bank, s)), (views.available_limit, (bank, s))]
        calls += [(views.balance_of, (h,)) for h in holders]
        calls += [(views.is_open_account, (i,)) for i in order_ids]
        calls += [(views.evidence_of, (e,)) for e in self.evidence]
        offers = sorted(self.offers_tried)
        calls += [(views.prepayment_nonce_used, offer) for offer in offers]
        answers = iter(views.read(calls))

        assert next(answers)[0] == model.order_count, "orderCount"
        pool = next(answers)
        assert tuple(pool) == model.pool(bank), f"pool: chain {pool}, model {model.pool(bank)}"
        orders = {i: order_from_raw(i, next(answers)[0]) for i in order_ids}
        for i, order in orders.items():
            assert order == model.order(i), f"order {i}:\n chain {order}\n model {model.order(i)}"
        for i in disputed:
            dispute = Dispute(*next(answers)[0])
            assert dispute == model.dispute(i), f"dispute {i}: chain {dispute}, model {model.dispute(i)}"
        for s in suppliers:
            got = (next(answers)[0], next(answers)[0], next(answers)[0])
            want = (
                model.exposure(bank, s),
                model.shortfall(bank, s),
                model.available_limit(bank, s, self.clock.view_time),
            )
            assert got == want, (
                f"(exposure, shortfall, availableLimit) of {self.label_of(s)}: chain {got}, model {want}"
            )
        balances = {h: next(answers)[0] for h in holders}
        assert balances == self.balances, f"token balances: chain {balances}, expected {self.balances}"
        open_account = {i for i in order_ids if next(answers)[0]}
        assert open_account == {i for i in order_ids if model.is_open_account(i)}, "isOpenAccount"
        for e in self.evidence:
            got = tuple(next(answers))
            use = model.evidence_of(e)
            assert got == ((use[0], int(use[1])) if use else (0, 0)), f"evidenceOf({e.hex()}): chain {got}, model {use}"
        for guarantor, nonce in offers:
            used = next(answers)[0]
            assert used == model.prepayment_nonce_used(guarantor, nonce), f"prepaymentNonceUsed({guarantor}, {nonce})"

        # The escrow holds exactly the open escrows plus the guarantee pools, read from the chain alone.
        escrowed = sum(order.escrowed for order in orders.values())
        assert balances[self.escrow.address] == escrowed + sum(pool), "escrow balance != escrows + pools"
        for i, order in orders.items():
            # No order pays out twice: one closing event at most, and the tokens that left for it
            # are exactly what its view says it paid: to the supplier, to the buyer and, out of a
            # pre-payment, the guarantor's fee.
            assert self.closings[i] <= 1, f"order {i} closed {self.closings[i]} times"
            paid = order.paid_to_supplier + order.refunded_to_buyer + order.prepayment_fee
            assert self.paid_out[i] == paid, f"order {i} payouts"
            assert order.prepayment_fee < order.prepaid or order.prepayment_fee == 0, f"order {i} fee"
            if order.status in PAID_OUT:
                assert self.closings[i] == 1 and order.escrowed == 0, f"order {i} ended without one payout"
                assert paid == order.terms.amount + order.guarantee_claimed, f"order {i} paid {paid}"
        assert model.invariant_violations() == []
        if orders and not self.w.client_cross_checked:
            # Once per run: the hand decoding above reads what the typed client reads.
            first = next(iter(orders))
            assert self.escrow.order(first) == orders[first]
            self.w.client_cross_checked = True
