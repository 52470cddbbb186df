"""TradeEscrow against its Python model, in lock-step, under random operation sequences.

A hypothesis state machine creates co-signed orders (a few on open account), funds them,
attests milestones with oracle signatures, contests attested milestones with oracle error
declarations, lets time pass, confirms, releases, refunds, runs disputes to every end,
publishes bank limits, funds and drains guarantee pools, draws pre-payments and repays
shortfalls. Every operation goes to the real contracts through the typed clients and to
``ledger.model.EscrowModel``; it must succeed on both or revert on the chain with exactly the
custom error (and arguments) the model predicted. After every step the contract's views, the
token balances and the accounting invariants are compared with the model.

Time is exact: on anvil each transaction is pinned to the latest block's timestamp (the time
the preflight ``eth_call`` runs at, so a revert found by the preflight and the mined
transaction agree), and time moves only when a rule jumps it, sometimes to the very second a
window opens or closes. ``SCF_FUZZ=long`` runs ten times as many examples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.types import TxReceipt

from ledger.credit import CreditLimit
from ledger.deploy import DEV_MEMBERS, ROLE
from ledger.escrow import Attestation, Dispute, ErrorDeclaration, Milestone, Order, OrderStatus, OrderTerms, Windows
from ledger.model import CreditLimits, Effect, EscrowModel, LimitRecord, Member, Roster
from ledger.reads import RawView, ViewBatch
from tests.conftest import Deployed
from tests.contracts.escrow_helpers import escrow_of, registry_of
from tests.contracts.lockstep import (
    HOUR,
    AnvilClock,
    Clock,
    EmbeddedClock,
    agree,
    event_topics,
    fuzz_settings,
    register_fuzz_profiles,
    succeeds,
    summary,
)

UNIT = 10**6
DAY = 86_400
MAX_UINT = 2**256 - 1
FUNDS = 10**9 * UNIT  # per paying account: never the limiting factor within one example
ZERO_HASH = bytes(32)

PAYERS = ("core", "tier1", "tier2", "tier3", "bank")
SUPPLIERS = ("tier1", "tier2", "tier3")
BUYERS = ("core", "tier1", "tier2", "tier3")
GUARANTEE_EVENTS = frozenset({"PrepaymentReleased", "GuaranteeClaimed", "ExposureReleased", "ShortfallRepaid"})
CLOSING_EVENTS = frozenset({"OrderReleased", "OrderRefunded", "DisputeResolved"})
PAID_OUT = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED})
CREATED = frozenset({OrderStatus.CREATED})
FUNDED = frozenset({OrderStatus.FUNDED})
UNSHIPPED = CREATED | FUNDED
ATTESTABLE = frozenset({OrderStatus.FUNDED, OrderStatus.SHIPPED, OrderStatus.DELIVERED})
RECEIVABLE = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED})  # confirm / dispute
RELEASABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.INSPECTED})
DISPUTED = frozenset({OrderStatus.DISPUTED})
LIVE = UNSHIPPED | RECEIVABLE | DISPUTED
TIMED = FUNDED | RECEIVABLE | DISPUTED  # orders with a window that time opens or closes
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

# CI runs 100 examples of 30 steps (the floor for this suite); `make fuzz` ten times as many.
register_fuzz_profiles("escrow", examples=100, steps=30)


class ViewReader(ViewBatch):
    """TradeEscrow's views and the token's balances."""

    def __init__(self, deployed: Deployed) -> None:
        super().__init__(deployed.chain)
        escrow_abi = deployed.build["TradeEscrow"].abi
        escrow = deployed.addresses["TradeEscrow"]
        self.order_of = RawView.of(escrow, escrow_abi, "orderOf")
        self.dispute_of = RawView.of(escrow, escrow_abi, "disputeOf")
        self.order_count = RawView.of(escrow, escrow_abi, "orderCount")
        self.pool = RawView.of(escrow, escrow_abi, "pool")
        self.exposure = RawView.of(escrow, escrow_abi, "exposure")
        self.shortfall = RawView.of(escrow, escrow_abi, "shortfall")
        self.available_limit = RawView.of(escrow, escrow_abi, "availableLimit")
        self.evidence_of = RawView.of(escrow, escrow_abi, "evidenceOf")
        self.is_open_account = RawView.of(escrow, escrow_abi, "isOpenAccount")
        token_abi = deployed.build["SettlementToken"].abi
        self.balance_of = RawView.of(deployed.addresses["SettlementToken"], token_abi, "balanceOf")


def order_from_raw(order_id: int, raw: tuple[Any, ...]) -> Order:
    """``orderOf`` decoded exactly as ``TradeEscrowClient.order`` decodes it."""
    return Order.from_view(order_id, raw)


# -- the world: one per backend, under its own snapshot ----------------------------------


@dataclass
class World:
    deployed: Deployed
    views: ViewReader
    topics: dict[bytes, str]
    members: dict[str, Member]
    windows: Windows
    thresholds: dict[int, int]
    bank_nonce: int
    limits: dict[tuple[str, str], LimitRecord]
    balances: dict[str, int]
    stats: Counter[str] = field(default_factory=Counter)
    client_cross_checked: bool = False

    @property
    def backend(self) -> str:
        return self.deployed.backend


@pytest.fixture(scope="module")
def fuzz_world(deployed_session: Deployed) -> Iterator[World]:
    """Balances and allowances once per backend (not per example), then examples on top."""
    d = deployed_session
    chain, escrow, tokens, registry = d.chain, d.escrow, d.tokens, d.registry
    base = chain.snapshot()
    try:
        orders = int(chain.call(escrow.contract.functions.orderCount()))
        if orders or escrow.pool(d.accounts["bank"].address) != (0, 0):
            pytest.fail("the session's TradeEscrow is not pristine: a test before this one kept its orders or pools")
        bank = d.accounts["bank"]
        calls = [(tokens.contract.functions.mint(d.accounts[label].address, FUNDS), bank) for label in PAYERS]
        calls += [(tokens.contract.functions.approve(escrow.address, MAX_UINT), d.accounts[label]) for label in PAYERS]
        chain.transact_batch(calls)
        members: dict[str, Member] = {
            d.accounts[label].address: Member(roles, kind) for label, (roles, kind) in DEV_MEMBERS.items()
        }
        members[d.accounts["admin"].address] = Member(ROLE["admin"])
        limits: dict[tuple[str, str], LimitRecord] = {}
        for supplier in (*SUPPLIERS, "core", "relayer"):
            party = d.accounts[supplier].address
            raw = chain.call(registry.contract.functions.recordOf(bank.address, party))
            if raw[0] or raw[4]:
                limits[(bank.address, party)] = LimitRecord(int(raw[0]), int(raw[4]), int(raw[5]))
        holders = [acct.address for _, acct in d.accounts] + [escrow.address]
        world = World(
            deployed=d,
            views=ViewReader(d),
            topics=event_topics(d.build["TradeEscrow"].abi, d.build["CreditRegistry"].abi),
            members=members,
            windows=escrow.windows(),
            thresholds={kind: escrow.threshold(kind) for kind in (1, 2, 3)},
            bank_nonce=registry.nonce(bank.address),
            limits=limits,
            balances={holder: tokens.balance_of(holder) for holder in holders},
        )
        started = time.perf_counter()
        yield world
        elapsed = time.perf_counter() - started
        print(f"\n[{d.backend}] TradeEscrow fuzz: {summary(world.stats, elapsed)}")
    finally:
        chain.revert(base)


# -- strategies -------------------------------------------------------------------------

PICK = st.integers(0, 1 << 16)
BPS = st.integers(0, 10_000)
# One call in ten goes to the wrong order, party or amount: the error paths need visits too.
STRAY = st.integers(0, 9).map(lambda n: n == 9)
AMOUNTS = st.one_of(st.integers(1, 20_000 * UNIT), st.sampled_from([1, 2, UNIT, 0]))
AGES = st.sampled_from([0, 0, 0, HOUR, DAY, "max", "max+1", "future"])
SIGNERS = st.sampled_from(["right"] * 8 + ["none", "twice", "wrong", "stranger", "right+wrong"])
SPLITS = st.sampled_from(["fraction", "fraction", "zero", "all", "escrowed", "escrowed+1", "over"])
JUMPS = st.one_of(st.sampled_from([1, HOUR, DAY, 3 * DAY, 10 * DAY]), st.integers(1, 40 * DAY))


class TradeEscrowMachine(RuleBasedStateMachine):
    """The contract and the model, side by side; ``world`` is set by the test below."""

    world: ClassVar[World | None] = None

    def __init__(self) -> None:
        super().__init__()
        world = type(self).world
        assert world is not None, "run through test_trade_escrow_matches_its_model"
        self.w = world
        self.d = world.deployed
        self.chain = self.d.chain
        # anvil: the clients over QuickChain, whose preflight eth_call runs in the latest block, at
        # the time the clock pins for the next one, then sends with fixed gas and no web3 middleware
        # (about half the round trips of estimate-then-send). eth-tester calls in the latest block
        # but mines a second later, so there the gas estimate (run in the next block) finds reverts.
        anvil = self.w.backend == "anvil"
        self.escrow = escrow_of(self.d) if anvil else self.d.escrow
        self.registry = registry_of(self.d) if anvil else self.d.registry
        # Each example starts from the world and is rolled back in teardown.
        self.snapshot = self.chain.snapshot()
        self.clock: Clock = AnvilClock(self.chain) if self.w.backend == "anvil" else EmbeddedClock(self.chain)
        roster = Roster(world.members)
        credit = CreditLimits(roster)
        credit.nonces[self.addr("bank")] = world.bank_nonce
        credit.records.update(world.limits)
        self.model = EscrowModel(
            escrow=self.escrow.address,
            currency=self.d.addresses["SettlementToken"],
            roster=roster,
            credit=credit,
            windows=world.windows,
        )
        self.model.thresholds.update(world.thresholds)
        self.balances = dict(world.balances)
        self.paid_out: Counter[int] = Counter()  # tokens that left the escrow for each order
        self.closings: Counter[int] = Counter()  # closing payout events seen for each order
        self.nonces: Counter[str] = Counter()
        self.po_refs: list[bytes] = []
        self.evidence: list[bytes] = []
        self.counter = 0
        world.stats["examples"] += 1

    def teardown(self) -> None:
        self.chain.revert(self.snapshot)

    # -- plumbing -------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.clock.now

    def acct(self, label: str) -> LocalAccount:
        return self.d.accounts[label]

    def addr(self, label: str) -> str:
        return str(self.d.accounts[label].address)

    def label_of(self, address: str) -> str:
        return next(label for label, acct in self.d.accounts if acct.address == address)

    def fresh(self, kind: str) -> bytes:
        self.counter += 1
        return keccak(text=f"{kind}:{self.counter}")

    def pick_order(self, pick: int, wanted: frozenset[OrderStatus] | None, stray: bool) -> int:
        ids = self.model.order_ids()
        if stray and pick % 8 == 0:
            return len(ids) + 1  # no such order
        if not stray and wanted:
            # Open-account orders take milestones only (advance_an_order moves them); the other
            # calls reach them when straying.
            wanted_ids = [i for i in ids if self.model.status_of(i) in wanted]
            ids = [i for i in wanted_ids if not self.model.is_open_account(i)] or wanted_ids or ids
        return ids[pick % len(ids)]

    def someone(self, pick: int) -> LocalAccount:
        everyone = [acct for _, acct in self.d.accounts]
        return everyone[pick % len(everyone)]

    def party(self, order_id: int, role: str, stray: bool, who: int) -> LocalAccount:
        """The order's buyer or supplier; someone at random when straying or the order is unknown."""
        terms = self.model.terms_of(order_id)
        if stray or terms.amount == 0:
            return self.someone(who)
        return self.acct(self.label_of(terms.buyer if role == "buyer" else terms.supplier))

    def any_in(self, statuses: frozenset[OrderStatus]) -> bool:
        """Some escrowed order is in ``statuses`` (most calls refuse open-account orders)."""
        return any(
            self.model.status_of(i) in statuses and not self.model.is_open_account(i) for i in self.model.order_ids()
        )

    def execute(
        self, rule: str, predict: Callable[[], Effect], send: Callable[[], TxReceipt], order_id: int = 0
    ) -> Effect | None:
        """Run one operation on the model and on the chain; both must agree on its outcome."""
        self.clock.before_tx()
        at = self.now
        agreed = agree(rule, at, predict, send, self.w.stats)
        if agreed is None:
            return None
        effect, receipt = agreed
        self.clock.after_tx()
        emitted = self.events_of(receipt)
        assert emitted == list(effect.events), f"{rule}: events {emitted}, the model expected {list(effect.events)}"
        for log in receipt["logs"]:
            topics = log["topics"]
            if log["address"] == self.escrow.address and self.w.topics.get(bytes(topics[0])) in CLOSING_EVENTS:
                self.closings[int.from_bytes(bytes(topics[1]), "big")] += 1
        for transfer in effect.transfers:
            self.balances[transfer.source] -= transfer.amount
            self.balances[transfer.destination] += transfer.amount
            if transfer.source == self.escrow.address and order_id:
                self.paid_out[order_id] += transfer.amount
        self.w.stats[f"{rule}:ok"] += 1
        for name in effect.events:
            if name in GUARANTEE_EVENTS:
                self.w.stats[f"event:{name}"] += 1
        return effect

    def events_of(self, receipt: TxReceipt) -> list[str]:
        """Names of the escrow's and the registry's events in ``receipt``, in log order."""
        ours = {self.escrow.address, self.registry.contract.address}
        return [
            self.w.topics[bytes(log["topics"][0])]
            for log in receipt["logs"]
            if log["address"] in ours and log["topics"]
        ]

    # -- operations (one transaction each) ------------------------------------------------

    def create(
        self,
        buyer: str,
        supplier: str,
        amount: int,
        ship_in: int,
        deliver_after: int,
        inspection: bool,
        *,
        deadline_in: int = DAY,
        nonce_mode: str = "fresh",
        po_mode: str = "fresh",
        submitter: str = "supplier",
        forged: bool = False,
        open_account: bool = False,
    ) -> None:
        b, s = self.acct(buyer), self.acct(supplier)
        if nonce_mode == "reuse" and self.nonces[b.address]:
            nonce = self.nonces[b.address] - 1
        else:
            nonce = self.nonces[b.address]
            self.nonces[b.address] += 1
        if po_mode == "reuse" and self.po_refs:
            po_ref = self.po_refs[nonce % len(self.po_refs)]
        elif po_mode == "missing":
            po_ref = ZERO_HASH
        else:
            po_ref = self.fresh("po")
        terms = OrderTerms(
            buyer=b.address,
            supplier=s.address,
            token=self.d.addresses["SettlementToken"],
            amount=amount,
            ship_by=self.now + ship_in,
            deliver_by=self.now + ship_in + deliver_after,
            inspection_required=inspection,
            terms_hash=keccak(text=f"incoterms FCA; net 60; {amount}"),
            po_ref_hash=po_ref,
            nonce=nonce,
            deadline=self.now + deadline_in,
        )
        # A forged co-signature: someone else signs in the supplier's place.
        supplier_signer = self.acct("relayer") if forged else s
        sender = {"supplier": s, "buyer": b}.get(submitter, self.acct("relayer"))
        sign = self.escrow.sign_open_account_order if open_account else self.escrow.sign_order
        buyer_signature = sign(b, terms)
        supplier_signature = sign(supplier_signer, terms)
        create = self.escrow.create_open_account_order if open_account else self.escrow.create_order
        predict = self.model.create_open_account_order if open_account else self.model.create_order
        created: list[int] = []

        def send() -> TxReceipt:
            order_id, receipt = create(terms, buyer_signature, supplier_signature, sender)
            created.append(order_id)
            return receipt

        effect = self.execute(
            "createOpenAccountOrder" if open_account else "createOrder",
            lambda: predict(
                terms,
                buyer_signer=b.address,
                supplier_signer=supplier_signer.address,
                caller=sender.address,
                now=self.now,
            ),
            send,
        )
        if effect is not None:
            assert created == [effect.order_id], f"the contract numbered the order {created}, the model {effect}"
            self.po_refs.append(po_ref)

    def fund(self, order_id: int, actor: LocalAccount) -> None:
        self.execute(
            "fund",
            lambda: self.model.fund(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.fund(order_id, actor),
        )

    def attest(self, order_id: int, milestone: Milestone, age: int | str, evidence_mode: str, signers: str) -> None:
        max_age = self.model.windows.max_attestation_age
        seconds = {"max": max_age, "max+1": max_age + 1, "future": -1}.get(str(age), age)
        assert isinstance(seconds, int)
        if evidence_mode == "reuse" and self.evidence:
            evidence = self.evidence[order_id % len(self.evidence)]
        else:
            evidence = self.fresh("epcis")
        attestation = Attestation(order_id, milestone, self.now - seconds, evidence)
        carrier, inspector, relayer = self.acct("carrier"), self.acct("inspector"), self.acct("relayer")
        right, wrong = (carrier, inspector) if milestone <= Milestone.DELIVERED else (inspector, carrier)
        oracles = {
            "right": [right],
            "none": [],
            "twice": [right, right],
            "wrong": [wrong],
            "stranger": [relayer],
            "right+wrong": [right, wrong],
        }[signers]
        signatures = [self.escrow.sign_attestation(oracle, attestation) for oracle in oracles]
        effect = self.execute(
            f"attest{milestone.name}",
            lambda: self.model.attest(
                order_id,
                int(milestone),
                attestation.occurred_at,
                evidence,
                [o.address for o in oracles],
                caller=relayer.address,
                now=self.now,
            ),
            lambda: self.escrow.attest(attestation, signatures, relayer),
            order_id,
        )
        if effect is not None:
            self.evidence.append(evidence)

    def contest(self, evidence: bytes, age: int | str, signers: str, sender: LocalAccount) -> None:
        """Declare the event behind ``evidence`` erroneous, signed by ``signers`` (see SIGNERS)."""
        max_age = self.model.windows.max_attestation_age
        seconds = {"max": max_age, "max+1": max_age + 1, "future": -1}.get(str(age), age)
        assert isinstance(seconds, int)
        declaration = ErrorDeclaration(evidence, self.fresh("did_not_occur"), self.now - seconds)
        use = self.model.evidence_of(evidence)
        order_id, milestone = use if use else (0, Milestone.SHIPPED)
        carrier, inspector, relayer = self.acct("carrier"), self.acct("inspector"), self.acct("relayer")
        right, wrong = (carrier, inspector) if milestone <= Milestone.DELIVERED else (inspector, carrier)
        oracles = {
            "right": [right],
            "none": [],
            "twice": [right, right],
            "wrong": [wrong],
            "stranger": [relayer],
            "right+wrong": [right, wrong],
        }[signers]
        signatures = [self.escrow.sign_error_declaration(oracle, declaration) for oracle in oracles]
        self.execute(
            "contestMilestone",
            lambda: self.model.contest_milestone(
                evidence,
                declaration.reason_hash,
                declaration.declared_at,
                [o.address for o in oracles],
                caller=sender.address,
                now=self.now,
            ),
            lambda: self.escrow.contest_milestone(declaration, signatures, sender),
            order_id,
        )

    def advanceable(self) -> list[int]:
        """Orders with a next step here: open ones, except open-account orders whose goods were
        accepted (delivered, and inspected when required): a receivable pays for those elsewhere."""
        found = []
        for order_id in self.model.order_ids():
            order = self.model.order(order_id)
            accepted = order.status is OrderStatus.INSPECTED or (
                order.status is OrderStatus.DELIVERED and not order.terms.inspection_required
            )
            if order.status in LIVE and not (accepted and self.model.is_open_account(order_id)):
                found.append(order_id)
        return found

    def evidence_for(self, order_id: int, pick: int) -> bytes | None:
        """One of the evidence hashes attested for ``order_id`` (None: it has none)."""
        mine = [e for e in self.evidence if (use := self.model.evidence_of(e)) and use[0] == order_id]
        return mine[pick % len(mine)] if mine else None

    def confirm(self, order_id: int, actor: LocalAccount) -> None:
        self.execute(
            "confirmReceipt",
            lambda: self.model.confirm_receipt(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.confirm_receipt(order_id, actor),
            order_id,
        )

    def release(self, order_id: int, actor: LocalAccount) -> None:
        self.execute(
            "release",
            lambda: self.model.release(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.release(order_id, actor),
            order_id,
        )

    def split(self, order_id: int, how: str, bps: int) -> int:
        order = self.model.order(order_id)
        amount = order.terms.amount
        return {
            "fraction": amount * bps // 10_000,
            "zero": 0,
            "all": amount,
            "escrowed": order.escrowed,
            "escrowed+1": order.escrowed + 1,
            "over": amount + 1,
        }[how]

    def arbitrate(self, order_id: int, buyer_amount: int, actor: LocalAccount) -> None:
        self.execute(
            "arbitrate",
            lambda: self.model.arbitrate(order_id, buyer_amount, caller=actor.address, now=self.now),
            lambda: self.escrow.arbitrate(order_id, buyer_amount, actor),
            order_id,
        )

    def dispute(self, order_id: int, actor: LocalAccount) -> None:
        reason = self.fresh("reason")
        self.execute(
            "openDispute",
            lambda: self.model.open_dispute(order_id, reason, caller=actor.address, now=self.now),
            lambda: self.escrow.open_dispute(order_id, reason, actor),
        )

    def answer(self, order_id: int, actor: LocalAccount) -> None:
        response = self.fresh("response")
        self.execute(
            "answerDispute",
            lambda: self.model.answer_dispute(order_id, response, caller=actor.address, now=self.now),
            lambda: self.escrow.answer_dispute(order_id, response, actor),
        )

    def settle(self, order_id: int, buyer_amount: int, deadline: int, *, forged: bool, sender: LocalAccount) -> None:
        terms = self.model.terms_of(order_id)
        if terms.amount == 0:  # unknown order: any two keys will do, the status check fails first
            buyer, supplier = self.acct("core"), self.acct("tier1")
        else:
            buyer, supplier = self.acct(self.label_of(terms.buyer)), self.acct(self.label_of(terms.supplier))
        # Forged: the buyer signs the supplier's half as well.
        supplier_signer = buyer if forged else supplier
        buyer_signature = self.escrow.sign_settlement(buyer, order_id, buyer_amount, deadline)
        supplier_signature = self.escrow.sign_settlement(supplier_signer, order_id, buyer_amount, deadline)
        self.execute(
            "settleDispute",
            lambda: self.model.settle_dispute(
                order_id,
                buyer_amount,
                deadline,
                buyer_signer=buyer.address,
                supplier_signer=supplier_signer.address,
                caller=sender.address,
                now=self.now,
            ),
            lambda: self.escrow.settle_dispute(
                order_id, buyer_amount, deadline, buyer_signature, supplier_signature, sender
            ),
            order_id,
        )

    def close_expired(self, order_id: int, actor: LocalAccount) -> None:
        self.execute(
            "closeExpiredDispute",
            lambda: self.model.close_expired_dispute(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.close_expired_dispute(order_id, actor),
            order_id,
        )

    def refund_late(self, order_id: int, actor: LocalAccount) -> None:
        self.execute(
            "refundUnshipped",
            lambda: self.model.refund_unshipped(order_id, caller=actor.address, now=self.now),
            lambda: self.escrow.refund_unshipped(order_id, actor),
            order_id,
        )

    def prepayment_amount(self, order_id: int, guarantor: str, how: str, bps: int) -> int:
        terms = self.model.terms_of(order_id)
        limit = self.model.available_limit(guarantor, terms.supplier, self.now) if terms.amount else 0
        pool = self.model.pool(guarantor)[0]
        most = min(terms.amount, limit, pool)
        return {
            "most": most,
            "fraction": max(1, most * bps // 10_000),
            "all": terms.amount,
            "zero": 0,
            "over": terms.amount + 1,
            "limit+1": limit + 1,
            "pool+1": pool + 1,
        }[how]

    def prepay(self, order_id: int, guarantor: str, amount: int, actor: LocalAccount) -> None:
        self.execute(
            "requestPrepayment",
            lambda: self.model.request_prepayment(order_id, guarantor, amount, caller=actor.address, now=self.now),
            lambda: self.escrow.request_prepayment(order_id, guarantor, amount, actor),
            order_id,
        )

    def publish(
        self, bank: str, party: str, limit: int, valid_for: int, *, nonce_skew: int = 0, forged: bool = False
    ) -> None:
        b = self.acct(bank)
        nonce = self.model.credit.nonce(b.address) + nonce_skew
        if nonce < 0:
            nonce = 1
        grant = CreditLimit(b.address, self.addr(party), limit, 700, 2, ZERO_HASH, self.now + valid_for, nonce)
        signer = self.acct("tier2") if forged else b
        signature = self.registry.sign(signer, grant)
        self.execute(
            "publishLimit",
            lambda: self.model.credit.publish(
                bank=b.address,
                party=grant.party,
                limit=limit,
                valid_until=grant.valid_until,
                nonce=nonce,
                signer=signer.address,
                now=self.now,
            ),
            lambda: self.registry.publish(grant, signature, self.acct("relayer")),
        )

    def fund_pool_as(self, label: str, amount: int) -> None:
        bank = self.acct(label)
        self.execute(
            "fundPool",
            lambda: self.model.fund_pool(amount, caller=bank.address, now=self.now),
            lambda: self.escrow.fund_pool(amount, bank),
        )

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
                self.prepay(
                    order_id, bank, self.prepayment_amount(order_id, bank, "fraction", bps), self.acct(supplier)
                )
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
                self.prepay(order_id, bank, self.prepayment_amount(order_id, bank, prepay_how, bps), supplier)
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

    @precondition(lambda self: self.any_in(FUNDED))
    @rule(
        pick=PICK,
        stray=STRAY,
        guarantor=st.sampled_from(["bank"] * 8 + ["core"]),
        how=st.sampled_from(["most", "most", "fraction", "all", "zero", "over", "limit+1", "pool+1"]),
        bps=BPS,
        who=PICK,
    )
    def request_prepayment(self, pick: int, stray: bool, guarantor: str, how: str, bps: int, who: int) -> None:
        order_id = self.pick_order(pick, FUNDED, stray)
        g = self.addr(guarantor)
        self.prepay(
            order_id, g, self.prepayment_amount(order_id, g, how, bps), self.party(order_id, "supplier", stray, who)
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
            self.prepay(order_id, bank, self.prepayment_amount(order_id, bank, "most", 0), supplier)
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

        # The escrow holds exactly the open escrows plus the guarantee pools, read from the chain alone.
        escrowed = sum(order.escrowed for order in orders.values())
        assert balances[self.escrow.address] == escrowed + sum(pool), "escrow balance != escrows + pools"
        for i, order in orders.items():
            # No order pays out twice: one closing event at most, and the tokens that left for it
            # are exactly what its view says it paid.
            assert self.closings[i] <= 1, f"order {i} closed {self.closings[i]} times"
            assert self.paid_out[i] == order.paid_to_supplier + order.refunded_to_buyer, f"order {i} payouts"
            if order.status in PAID_OUT:
                assert self.closings[i] == 1 and order.escrowed == 0, f"order {i} ended without one payout"
                paid = order.paid_to_supplier + order.refunded_to_buyer
                assert paid == order.terms.amount + order.guarantee_claimed, f"order {i} paid {paid}"
        assert model.invariant_violations() == []
        if orders and not self.w.client_cross_checked:
            # Once per run: the hand decoding above reads what the typed client reads.
            first = next(iter(orders))
            assert self.escrow.order(first) == orders[first]
            self.w.client_cross_checked = True


@pytest.mark.parity
def test_trade_escrow_matches_its_model(fuzz_world: World) -> None:
    TradeEscrowMachine.world = fuzz_world
    try:
        run_state_machine_as_test(TradeEscrowMachine, settings=fuzz_settings("escrow", fuzz_world.backend))
    finally:
        TradeEscrowMachine.world = None


# -- what the fuzzing turned up -----------------------------------------------------------


@pytest.mark.parity
def test_the_last_second_of_the_claim_window_belongs_to_release_or_to_a_dispute_not_both(deployed: Deployed) -> None:
    chain, escrow, accounts = deployed.chain, deployed.escrow, deployed.accounts
    buyer, supplier, carrier, relayer = accounts["core"], accounts["tier1"], accounts["carrier"], accounts["relayer"]
    deployed.tokens.mint(buyer.address, UNIT, accounts["bank"])
    deployed.tokens.approve(escrow.address, UNIT, buyer)
    clock: Clock = AnvilClock(chain) if deployed.backend == "anvil" else EmbeddedClock(chain)

    def at_clock(call: Callable[[], TxReceipt]) -> TxReceipt:
        clock.before_tx()
        receipt = call()
        clock.after_tx()
        return receipt

    def attest(order_id: int, milestone: Milestone) -> TxReceipt:
        attestation = Attestation(order_id, milestone, clock.now, keccak(text=f"edge:{milestone.name}"))
        return escrow.attest(attestation, [escrow.sign_attestation(carrier, attestation)], relayer)

    now = clock.now
    terms = OrderTerms(
        buyer.address, supplier.address, deployed.addresses["SettlementToken"], UNIT, now + DAY, now + 2 * DAY,
        False, ZERO_HASH, keccak(text="PO-claim-window-edge"), 0, now + DAY,
    )  # fmt: skip
    signatures = escrow.sign_order(buyer, terms), escrow.sign_order(supplier, terms)
    clock.before_tx()
    order_id, _ = escrow.create_order(terms, *signatures, buyer)
    clock.after_tx()
    at_clock(lambda: escrow.fund(order_id, buyer))
    at_clock(lambda: attest(order_id, Milestone.SHIPPED))
    at_clock(lambda: attest(order_id, Milestone.DELIVERED))
    ends = escrow.order(order_id).delivered_recorded_at + escrow.windows().claim_window
    clock.jump(ends - clock.now)

    # Try each at the same second, from the same state.
    edge = chain.snapshot()
    clock.before_tx()
    released = succeeds(lambda: escrow.release(order_id, relayer))
    chain.revert(edge)
    clock.now = ends
    clock.before_tx()
    disputed = succeeds(lambda: escrow.open_dispute(order_id, keccak(text="damaged"), buyer))
    assert not (released and disputed), f"at t={ends} both release() and openDispute() were accepted"
    assert (released, disputed) == (False, True), "the claim window's last second belongs to the buyer"
