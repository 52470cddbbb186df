"""Receivables against its Python model, in lock-step, under random operation sequences.

A hypothesis state machine issues receivables (standalone and against delivered
open-account orders; now and then an invoice already issued, its number re-spelled and its
fingerprint computed again from the fields, as another bank or flow would; a fingerprint under
another consortium key; a zero fingerprint), splits pieces
to any depth, sells pieces to two banks, repays in parts, claims, transfers pieces, marks
defaults after the grace period and lets time pass. Each operation goes to the contract and
to ``ledger.model.ReceivablesModel``; it must succeed on both or revert on the chain with the
custom error (and arguments) the model predicted. After every step every view of every piece
and root, every holder, the token balances and the invariants are compared:

* the live leaves of a root always sum to its face value;
* the contract's token balance equals what was repaid and not yet claimed;
* a piece has exactly one holder and is financed at most once (along its whole path);
* an invoice (its fingerprint) is never issued twice: every cosmetic variant is refused.

``SCF_FUZZ=long`` runs ten times as many examples.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3.types import TxReceipt

from ledger.domain.escrow import Order
from ledger.domain.fingerprints import ConsortiumKey, fingerprint, invoice_commitment
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms, Piece, ReceivableStatus, Root
from ledger.eth.reads import RawView, ViewBatch
from ledger.model import Effect, Member, ReceivablesModel, Roster
from ledger.toolchain.deploy import DEV_MEMBERS, ROLE
from tests.contracts.lockstep import (
    HOUR,
    AnvilClock,
    Clock,
    EmbeddedClock,
    agree,
    event_topics,
    fuzz_settings,
    register_fuzz_profiles,
    summary,
    wall_clock_back,
)
from tests.support.deployments import Deployed
from tests.support.escrow import MAX_UINT256, ZERO_ADDRESS, escrow_of, quick, tokens_of
from tests.support.receivables import (
    CONSORTIUM_KEY,
    EXTRA,
    FACE,
    INVOICE_DATE,
    RWorld,
    open_rworld,
    receivables_of,
)

UNIT = 10**6
DAY = 86_400
FUNDS = 10**9 * UNIT  # per paying account: never the limiting factor within one example
MAX_FACE = 1_000_000 * UNIT
WORLD_INVOICE = "INV-0001"  # root 1 of the RWorld, amount FACE, dated INVOICE_DATE
OTHER_KEY = ConsortiumKey.derived("another consortium")

DEBTORS = ("core", "core", "tier1", "tier2")
CREDITORS = ("tier1", "tier2", "tier3", "tier2b")
MEMBERS = ("core", "tier1", "tier2", "tier3", "tier2b", "bank", "bank2", "relayer")
BANKS = ("bank", "bank2")
PAYERS = ("core", "tier1", "tier2", "bank", "bank2")
EVERYONE = (*MEMBERS, "admin", "stranger")

# CI runs 60 examples of 30 steps (the issue's floor for this suite); `make fuzz` ten times as many.
register_fuzz_profiles("receivables", examples=60, steps=30)

PICK = st.integers(0, 1 << 16)
BPS = st.integers(1, 10_000)
STRAY = st.integers(0, 9).map(lambda n: n == 9)  # one call in ten goes astray
JUMPS = st.one_of(st.sampled_from([1, HOUR, DAY, 7 * DAY, 30 * DAY]), st.integers(1, 120 * DAY))


# -- the world: one per backend, under its own snapshot ----------------------------------


class FrozenOrders:
    """TradeEscrow's orders as Receivables sees them, read once: this suite never moves them."""

    def __init__(self, orders: dict[int, tuple[bool, Order]]) -> None:
        self._orders = orders

    def is_open_account(self, order_id: int) -> bool:
        return order_id in self._orders and self._orders[order_id][0]

    def order(self, order_id: int) -> Order:
        return self._orders[order_id][1]


class Views(ViewBatch):
    def __init__(self, deployed: Deployed) -> None:
        super().__init__(deployed.chain)
        abi, at = deployed.build["Receivables"].abi, deployed.addresses["Receivables"]
        self.root_of = RawView.of(at, abi, "rootOf")
        self.piece_of = RawView.of(at, abi, "pieceOf")
        self.owner_of = RawView.of(at, abi, "ownerOf")
        self.status_of = RawView.of(at, abi, "statusOf")
        self.claimable = RawView.of(at, abi, "claimable")
        self.piece_count = RawView.of(at, abi, "pieceCount")
        self.grace_period = RawView.of(at, abi, "gracePeriod")
        self.balance_of = RawView.of(
            deployed.addresses["SettlementToken"], deployed.build["SettlementToken"].abi, "balanceOf"
        )


@dataclass
class World:
    deployed: Deployed
    rworld: RWorld
    views: Views
    topics: dict[bytes, str]
    members: dict[str, Member]
    orders: FrozenOrders
    root_terms: IssueTerms
    balances: dict[str, int]
    stats: Counter[str] = field(default_factory=Counter)

    @property
    def backend(self) -> str:
        return self.deployed.backend


@pytest.fixture(scope="module")
def fuzz_world(deployed_session: Deployed) -> Iterator[World]:
    d = deployed_session
    for rworld in open_rworld(d):
        chain, client, tokens = d.chain, receivables_of(d), tokens_of(d)
        if client.piece_count() != rworld.root:
            pytest.fail("the session's Receivables is not pristine: a test before this one kept its pieces")
        accounts = {label: account for label, account in d.accounts}
        accounts.update(EXTRA)
        bank = accounts["bank"]
        calls = [(tokens.contract.functions.mint(accounts[p].address, FUNDS), bank) for p in PAYERS]
        calls += [(tokens.contract.functions.approve(client.address, MAX_UINT256), accounts[p]) for p in PAYERS]
        chain.transact_batch(calls)

        members: dict[str, Member] = {
            d.accounts[label].address: Member(roles, kind) for label, (roles, kind) in DEV_MEMBERS.items()
        }
        members[d.accounts["admin"].address] = Member(ROLE["admin"])
        members[rworld.bank2.address] = Member(ROLE["bank"])
        members[rworld.tier2b.address] = Member(ROLE["supplier"])
        escrow = escrow_of(d)
        order_ids = (rworld.delivered_order, rworld.inspecting_order, rworld.created_order, rworld.escrow_order)
        orders = FrozenOrders({i: (escrow.is_open_account(i), escrow.order(i)) for i in order_ids})
        # Root 1 of the RWorld, as its issuance was signed (see tests.support.receivables.issue_terms).
        r = client.root(rworld.root)
        root_terms = IssueTerms(
            r.debtor,
            r.creditor,
            r.token,
            r.face_value,
            r.maturity,
            r.invoice_hash,
            r.fingerprint,
            r.invoice_commitment,
            0,
            1,
            r.issued_at,
        )
        holders = [a.address for a in accounts.values()] + [client.address]
        world = World(
            deployed=d,
            rworld=rworld,
            views=Views(d),
            topics=event_topics(d.build["Receivables"].abi),
            members=members,
            orders=orders,
            root_terms=root_terms,
            balances={h: tokens.balance_of(h) for h in holders},
        )
        started = time.perf_counter()
        yield world
        print(f"\n[{d.backend}] Receivables fuzz: {summary(world.stats, time.perf_counter() - started)}")


# -- the machine ------------------------------------------------------------------------


@dataclass(frozen=True)
class Invoice:
    """An invoice as a flow is handed it: parties (labels), number as written, amount, date."""

    debtor: str
    creditor: str
    number: str
    amount: int
    date: str


def cosmetic_variant(invoice: str, how: int) -> str:
    """The same canonical invoice number written differently: case, whitespace, leading zeros."""
    out = []
    for index, char in enumerate(invoice):
        if char.isdigit() and (index == 0 or not invoice[index - 1].isdigit()) and how & 1:
            out.append("00")
        out.append(char.swapcase() if how & 2 else char)
        # Whitespace ends a digit run like any separator, so none goes inside one.
        inside_run = char.isdigit() and invoice[index + 1 : index + 2].isdigit()
        if how & 4 and index % 3 == 1 and not inside_run:
            out.append(" \t"[index % 2])
    return "".join(out)


class ReceivablesMachine(RuleBasedStateMachine):
    world: ClassVar[World | None] = None

    def __init__(self) -> None:
        super().__init__()
        world = type(self).world
        assert world is not None, "run through test_receivables_matches_its_model"
        self.w = world
        self.d = world.deployed
        self.chain = self.d.chain
        self.client = receivables_of(self.d)
        self.snapshot = self.chain.snapshot()
        self.clock: Clock = AnvilClock(self.chain) if self.w.backend == "anvil" else EmbeddedClock(self.chain)
        self.accounts: dict[str, LocalAccount] = {label: account for label, account in self.d.accounts}
        self.accounts.update(EXTRA)
        self.model = ReceivablesModel(
            receivables=self.client.address,
            currency=self.d.addresses["SettlementToken"],
            roster=Roster(world.members),
            orders=world.orders,
        )
        self.balances = dict(world.balances)
        terms = world.root_terms
        self.model.issue(terms, signer=terms.debtor, caller=terms.debtor, now=terms.deadline)
        # (debtor, creditor, invoice number, amount, date) of every issued root: a variant collides.
        self.invoices: list[Invoice] = [Invoice("core", "tier1", WORLD_INVOICE, FACE, INVOICE_DATE)]
        self.nonces: Counter[str] = Counter({self.d.accounts["core"].address: 1})  # the last one tried
        self.used_nonces: dict[str, list[int]] = {self.d.accounts["core"].address: [1]}
        self.offer_nonces: Counter[str] = Counter()  # the last one tried, per bank
        self.spent_offer_nonces: dict[str, list[int]] = {}
        self.counter = 0
        world.stats["examples"] += 1

    def teardown(self) -> None:
        self.clock.close()
        self.chain.revert(self.snapshot)

    # -- plumbing -------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.clock.now

    def acct(self, label: str) -> LocalAccount:
        return self.accounts[label]

    def label_of(self, address: str) -> str:
        return next(label for label, account in self.accounts.items() if account.address == address)

    def holder_account(self, piece_id: int, stray: bool, who: int) -> LocalAccount:
        holder = self.model.holder_of(piece_id)
        if stray or holder is None:
            return self.acct(EVERYONE[who % len(EVERYONE)])
        return self.acct(self.label_of(holder))

    def pick_piece(self, pick: int, stray: bool, *, leaves_only: bool = True) -> int:
        ids = self.model.piece_ids()
        if stray and pick % 4 == 0:
            return [0, len(ids) + 1][pick % 2]  # no such piece
        if not stray and leaves_only:
            ids = [i for i in ids if not self.model.piece(i).child_count] or ids
        return ids[pick % len(ids)]

    def pick_root(self, pick: int, stray: bool) -> int:
        if stray:
            ids = self.model.piece_ids()
            return [0, len(ids) + 1, *ids][pick % (len(ids) + 2)]  # unknown ids and non-roots too
        roots = self.model.root_ids()
        return roots[pick % len(roots)]

    def fresh(self, kind: str) -> bytes:
        self.counter += 1
        return keccak(text=f"{kind}:{self.counter}")

    def execute(self, rule: str, predict: Callable[[], Effect], send: Callable[[], TxReceipt]) -> Effect | None:
        """Run one operation on the model and on the chain; both must agree on its outcome."""
        self.clock.before_tx()
        at = self.now
        agreed = agree(rule, at, predict, send, self.w.stats)
        if agreed is None:
            return None
        effect, receipt = agreed
        self.clock.after_tx()
        emitted = [
            self.w.topics[bytes(log["topics"][0])] for log in receipt["logs"] if log["address"] == self.client.address
        ]
        assert emitted == list(effect.events), f"{rule}: events {emitted}, the model expected {list(effect.events)}"
        for transfer in effect.transfers:
            self.balances[transfer.source] -= transfer.amount
            self.balances[transfer.destination] += transfer.amount
        self.w.stats[f"{rule}:ok"] += 1
        return effect

    def send(self, fn: Any, sender: LocalAccount) -> TxReceipt:
        """Send ``fn``; a revert raises the decoded error, found where the block time is the clock's.

        anvil: a preflight eth_call in the latest block, whose time the clock pins for the next
        one. eth-tester runs calls in the latest block but estimates in the next (a second
        later), so there the gas estimate finds the revert.
        """
        if self.w.backend == "anvil":
            return quick(self.d).transact(fn, sender)
        return self.chain.transact(fn, sender)

    # -- operations -----------------------------------------------------------------------

    def issue(
        self,
        debtor: str,
        creditor: str,
        face: int,
        maturity_in: int,
        invoice: Invoice,
        *,
        key: ConsortiumKey | None = CONSORTIUM_KEY,
        order_id: int = 0,
        nonce_mode: str = "fresh",
        deadline_in: int = DAY,
        signer: str = "right",
        submitter: str = "debtor",
    ) -> None:
        d, c = self.acct(debtor), self.acct(creditor)
        if nonce_mode == "reused" and self.used_nonces.get(d.address):
            nonce = self.used_nonces[d.address][-1]
        else:
            nonce = self.nonces[d.address] = self.nonces[d.address] + 1
        # Each flow fingerprints the invoice itself, from the fields as it was handed them.
        tag = (
            bytes(32)
            if key is None
            else fingerprint(
                key,
                debtor=self.acct(invoice.debtor).address,
                creditor=self.acct(invoice.creditor).address,
                invoice_number=invoice.number,
                amount=invoice.amount,
                invoice_date=invoice.date,
            )
        )
        terms = IssueTerms(
            d.address,
            c.address,
            self.d.addresses["SettlementToken"],
            face,
            self.now + maturity_in,
            self.fresh("invoice document"),
            tag,
            invoice_commitment(self.fresh("salt"), invoice.number),
            order_id,
            nonce,
            self.now + deadline_in,
        )
        signing = {"right": d, "creditor": c, "stranger": self.acct("stranger")}[signer]
        sender = {"debtor": d, "creditor": c, "stranger": self.acct("stranger")}[submitter]
        signature = self.client.sign_issue(signing, terms)
        fn = self.client.contract.functions.issue(terms.as_tuple(), signature)
        effect = self.execute(
            "issue",
            lambda: self.model.issue(terms, signer=signing.address, caller=sender.address, now=self.now),
            lambda: self.send(fn, sender),
        )
        if effect is not None and key is not None:
            self.invoices.append(invoice)
            self.used_nonces.setdefault(d.address, []).append(nonce)

    def split(self, piece_id: int, kids: list[Child], holder: LocalAccount) -> None:
        fn = self.client.contract.functions.split(piece_id, [k.as_tuple() for k in kids])
        self.execute(
            "split",
            lambda: self.model.split(piece_id, kids, caller=holder.address, now=self.now),
            lambda: self.send(fn, holder),
        )

    def finance(self, offer: FinanceOffer, signer: LocalAccount, holder: LocalAccount) -> Effect | None:
        signature = self.client.sign_offer(signer, offer)
        fn = self.client.contract.functions.finance(offer.as_tuple(), signature)
        return self.execute(
            "finance",
            lambda: self.model.finance(offer, signer=signer.address, caller=holder.address, now=self.now),
            lambda: self.send(fn, holder),
        )

    # -- rules ----------------------------------------------------------------------------

    @initialize(trees=st.lists(st.tuples(st.sampled_from(DEBTORS), st.sampled_from(CREDITORS), BPS), max_size=2))
    def seed_receivables(self, trees: list[tuple[str, str, int]]) -> None:
        """A few more roots from the start, so the steps go to splitting and settling them."""
        for debtor, creditor, bps in trees:
            if debtor == creditor:
                creditor = "tier3"
            face = max(2, MAX_FACE * bps // 10_000)
            invoice = Invoice(debtor, creditor, f"SEED-{self.counter:04d}", face, INVOICE_DATE)
            self.issue(debtor, creditor, face, 60 * DAY, invoice)

    @rule(
        parties=st.tuples(st.sampled_from(DEBTORS), st.sampled_from(CREDITORS)),
        face=st.one_of(st.integers(1, MAX_FACE), st.sampled_from([0, 1, 2, 3, 10**6])),
        maturity_in=st.one_of(st.sampled_from([0, 1, DAY, 30 * DAY]), st.integers(1, 200 * DAY)),
        invoice=st.tuples(st.sampled_from(["fresh"] * 6 + ["variant", "variant", "other key", "zero"]), PICK),
        order=st.sampled_from(["none"] * 6 + ["delivered", "inspecting", "created", "escrow", "unknown"]),
        mode=st.tuples(
            st.sampled_from(["fresh"] * 9 + ["reused"]),
            st.sampled_from([DAY] * 9 + [-1]),
            st.sampled_from(["right"] * 9 + ["creditor", "stranger"]),
            st.sampled_from(["debtor"] * 5 + ["creditor"] * 4 + ["stranger"]),
        ),
    )
    def issue_receivable(
        self,
        parties: tuple[str, str],
        face: int,
        maturity_in: int,
        invoice: tuple[str, int],
        order: str,
        mode: tuple[str, int, str, str],
    ) -> None:
        debtor, creditor = parties
        how, pick = invoice
        key: ConsortiumKey | None = CONSORTIUM_KEY
        if how in ("variant", "other key"):
            # An issued invoice handed again, re-spelled: the same fingerprint under the consortium's key
            # (refused), another under another consortium's.
            issued = self.invoices[pick % len(self.invoices)]
            debtor, creditor = issued.debtor, issued.creditor
            invoice_of = Invoice(debtor, creditor, cosmetic_variant(issued.number, pick), issued.amount, issued.date)
            key = CONSORTIUM_KEY if how == "variant" else OTHER_KEY
        else:
            invoice_of = Invoice(debtor, creditor, f"INV-{pick:05d}-{self.counter}", face, INVOICE_DATE)
            key = None if how == "zero" else CONSORTIUM_KEY
        rw = self.w.rworld
        order_id = {
            "none": 0,
            "delivered": rw.delivered_order,
            "inspecting": rw.inspecting_order,
            "created": rw.created_order,
            "escrow": rw.escrow_order,
            "unknown": 999,
        }[order]
        if order == "delivered" and pick % 4:  # mostly the order's parties (core buys from tier1)
            debtor, creditor = "core", "tier1"
            # up to what is left of the order, now and then one unit over it
            left = self.w.orders.order(order_id).terms.amount - self.model.issued_against_order(order_id)
            face = max(1, left * (1 + pick % 3) // 3) + (1 if pick % 7 == 0 else 0)
            if how not in ("variant", "other key"):
                invoice_of = Invoice(debtor, creditor, invoice_of.number, face, INVOICE_DATE)
        nonce_mode, deadline_in, signer, submitter = mode
        self.issue(
            debtor,
            creditor,
            face,
            maturity_in,
            invoice_of,
            key=key,
            order_id=order_id,
            nonce_mode=nonce_mode,
            deadline_in=deadline_in,
            signer=signer,
            submitter=submitter,
        )

    @rule(
        pick=PICK,
        stray=STRAY,
        count=st.sampled_from([2, 2, 2, 3, 3, 4, 0, 1, 33]),
        holders=st.lists(st.sampled_from(MEMBERS), min_size=4, max_size=4),
        fault=st.sampled_from(["none"] * 8 + ["zero", "short", "over", "stranger", "zero-address", "suspended"]),
        who=PICK,
    )
    def split_piece(self, pick: int, stray: bool, count: int, holders: list[str], fault: str, who: int) -> None:
        piece_id = self.pick_piece(pick, stray)
        amount = self.model.piece(piece_id).amount
        count = min(count, max(amount, 1)) if count <= 4 else count
        shares = [amount // count if count else 0] * count
        if shares:
            shares[-1] = amount - sum(shares[:-1])
        addresses: list[str] = [self.acct(holders[i % len(holders)]).address for i in range(count)]
        if shares and fault == "zero":
            shares[0], shares[-1] = 0, shares[-1] + shares[0]
        elif shares and fault == "short":
            shares[-1] -= 1
        elif shares and fault == "over":
            shares[-1] += 1
        elif shares and fault == "stranger":
            addresses[-1] = self.acct("stranger").address
        elif shares and fault == "zero-address":
            addresses[0] = ZERO_ADDRESS
        elif shares and fault == "suspended":
            self.suspend("tier2b")
            addresses[-1] = self.acct("tier2b").address
        kids = [Child(max(s, 0), a, self.fresh("sub-order")) for s, a in zip(shares, addresses, strict=True)]
        self.split(piece_id, kids, self.holder_account(piece_id, stray, who))

    @rule(
        pick=PICK,
        stray=STRAY,
        bank=st.sampled_from(BANKS),
        price=st.tuples(st.sampled_from(["fraction"] * 8 + ["full", "zero", "over"]), BPS),
        fault=st.sampled_from(["none"] * 12 + ["expired", "replayed", "forged", "not-bank", "self"]),
        who=PICK,
    )
    def finance_piece(self, pick: int, stray: bool, bank: str, price: tuple[str, int], fault: str, who: int) -> None:
        piece_id = self.pick_piece(pick, stray)
        amount = self.model.piece(piece_id).amount
        how, bps = price
        value = {"fraction": max(1, amount * bps // 10_000), "full": amount, "zero": 0, "over": amount + 1}[how]
        buyer = self.acct("tier3" if fault == "not-bank" else bank)
        spent = self.spent_offer_nonces.get(buyer.address)
        if fault == "replayed" and spent:
            nonce = spent[-1]
        else:
            nonce = self.offer_nonces[buyer.address] = self.offer_nonces[buyer.address] + 1
        deadline = self.now - 1 if fault == "expired" else self.now + DAY
        offer = FinanceOffer(piece_id, buyer.address, value, deadline, nonce)
        signer = self.acct("tier2") if fault == "forged" else buyer
        holder = buyer if fault == "self" else self.holder_account(piece_id, stray, who)
        if self.finance(offer, signer, holder) is not None:
            self.spent_offer_nonces.setdefault(buyer.address, []).append(nonce)

    @rule(
        pick=PICK,
        stray=STRAY,
        how=st.sampled_from(["part", "part", "rest", "zero", "over"]),
        bps=BPS,
        payer=st.sampled_from(PAYERS),
    )
    def repay_root(self, pick: int, stray: bool, how: str, bps: int, payer: str) -> None:
        root_id = self.pick_root(pick, stray)
        owed = self.model.outstanding(root_id)
        amount = {"part": max(1, owed * bps // 10_000), "rest": owed, "zero": 0, "over": owed + 1}[how]
        account = self.acct(payer)
        fn = self.client.contract.functions.repay(root_id, amount)
        self.execute(
            "repay",
            lambda: self.model.repay(root_id, amount, caller=account.address, now=self.now),
            lambda: self.send(fn, account),
        )

    @rule(pick=PICK, stray=STRAY, who=PICK)
    def claim_piece(self, pick: int, stray: bool, who: int) -> None:
        piece_id = self.pick_piece(pick, stray)
        holder = self.holder_account(piece_id, stray, who)
        fn = self.client.contract.functions.claim(piece_id)
        self.execute(
            "claim",
            lambda: self.model.claim(piece_id, caller=holder.address, now=self.now),
            lambda: self.send(fn, holder),
        )

    @rule(
        pick=PICK,
        stray=STRAY,
        parent=st.integers(0, 4).map(lambda n: n == 0),
        to=st.sampled_from([*MEMBERS, "stranger", "zero"]),
        who=PICK,
    )
    def transfer_piece(self, pick: int, stray: bool, parent: bool, to: str, who: int) -> None:
        split_pieces = [i for i in self.model.piece_ids() if self.model.piece(i).child_count]
        piece_id = split_pieces[pick % len(split_pieces)] if parent and split_pieces else self.pick_piece(pick, stray)
        holder = self.holder_account(piece_id, stray, who)
        target = ZERO_ADDRESS if to == "zero" else self.acct(to).address
        fn = self.client.contract.functions.transferFrom(holder.address, to_checksum_address(target), piece_id)
        self.execute(
            "transfer",
            lambda: self.model.transfer(piece_id, target, caller=holder.address, now=self.now),
            lambda: self.send(fn, holder),
        )

    @rule(pick=PICK, stray=STRAY, who=st.sampled_from(EVERYONE))
    def mark_defaulted(self, pick: int, stray: bool, who: str) -> None:
        root_id = self.pick_root(pick, stray)
        sender = self.acct(who)
        fn = self.client.contract.functions.markDefaulted(root_id)
        self.execute(
            "markDefaulted",
            lambda: self.model.mark_defaulted(root_id, caller=sender.address, now=self.now),
            lambda: self.send(fn, sender),
        )

    @rule(who=st.sampled_from(["tier2b", "tier3", "bank2"]), active=st.booleans())
    def suspend_or_reinstate(self, who: str, active: bool) -> None:
        """Membership changes under live pieces: a suspended holder can neither receive nor act."""
        if active:
            self.reinstate(who)
        else:
            self.suspend(who)

    def suspend(self, label: str) -> None:
        party = self.acct(label).address
        if self.model.roster.is_active(party):
            self.admin_tx(self.d.membership.functions.suspend(party, keccak(text="fuzz")))
            self.model.roster.set_active(party, False)

    def reinstate(self, label: str) -> None:
        party = self.acct(label).address
        if not self.model.roster.is_active(party):
            self.admin_tx(self.d.membership.functions.reinstate(party))
            self.model.roster.set_active(party, True)

    def admin_tx(self, fn: Any) -> None:
        """A Membership change: at the clock's time like every other transaction."""
        self.clock.before_tx()
        quick(self.d).transact(fn, self.acct("admin"))
        self.clock.after_tx()

    @rule(
        seconds=st.sampled_from([0, DAY, 7 * DAY, 7 * DAY, 30 * DAY, 365 * DAY, 366 * DAY]),
        admin=STRAY.map(lambda s: not s),
    )
    def set_grace_period(self, seconds: int, admin: bool) -> None:
        sender = self.acct("admin" if admin else "core")
        fn = self.client.contract.functions.setGracePeriod(seconds)
        self.execute(
            "setGracePeriod",
            lambda: self.model.set_grace_period(seconds, caller=sender.address),
            lambda: self.send(fn, sender),
        )

    @rule(seconds=JUMPS)
    def let_time_pass(self, seconds: int) -> None:
        self.clock.jump(seconds)

    @rule(pick=PICK, which=st.sampled_from(["maturity", "grace"]), offset=st.sampled_from([-1, 0, 1]))
    def jump_to_a_deadline(self, pick: int, which: str, offset: int) -> None:
        """Maturity (financing stops at it) and maturity + grace (default starts after it)."""
        root = self.model.root(self.pick_root(pick, False))
        target = root.maturity + (self.model.grace_period if which == "grace" else 0) + offset
        if target > self.clock.view_time:
            self.clock.jump(target - self.now)

    # -- the check after every step ---------------------------------------------------------

    @invariant(check_during_init=True)
    def chain_agrees_with_model(self) -> None:
        self.w.stats["checks"] += 1
        v, model = self.w.views, self.model
        roots, pieces = model.root_ids(), model.piece_ids()
        holders = list(self.balances)
        calls: list[tuple[RawView, tuple[Any, ...]]] = [(v.piece_count, ()), (v.grace_period, ())]
        calls += [(v.root_of, (i,)) for i in roots] + [(v.status_of, (i,)) for i in roots]
        calls += [(v.piece_of, (i,)) for i in pieces] + [(v.owner_of, (i,)) for i in pieces]
        calls += [(v.claimable, (i,)) for i in pieces] + [(v.balance_of, (h,)) for h in holders]
        answers = iter(v.read(calls))

        assert next(answers)[0] == model.piece_count, "pieceCount"
        assert next(answers)[0] == model.grace_period, "gracePeriod"
        chain_roots = {i: Root.from_tuple(i, next(answers)[0]) for i in roots}
        for i, r in chain_roots.items():
            assert r == model.root(i), f"root {i}:\n chain {r}\n model {model.root(i)}"
        for i in roots:
            status = ReceivableStatus(next(answers)[0])
            assert status == model.status(i), f"statusOf({i}): chain {status.name}, model {model.status(i).name}"
        chain_pieces = {i: Piece.from_tuple(i, next(answers)[0]) for i in pieces}
        for i, p in chain_pieces.items():
            assert p == model.piece(i), f"piece {i}:\n chain {p}\n model {model.piece(i)}"
        for i in pieces:
            owner = to_checksum_address(next(answers)[0])
            assert owner == model.holder_of(i), f"ownerOf({i}): chain {owner}, model {model.holder_of(i)}"
        for i in pieces:
            claimable = next(answers)[0]
            assert claimable == model.claimable(i), f"claimable({i}): chain {claimable}, model {model.claimable(i)}"
        balances = {h: next(answers)[0] for h in holders}
        assert balances == self.balances, f"token balances: chain {balances}, expected {self.balances}"

        # The invariants once more, from the chain's views alone.
        for root_id, r in chain_roots.items():
            leaves = [p for p in chain_pieces.values() if p.root_id == root_id and p.is_leaf]
            assert sum(p.amount for p in leaves) == r.face_value, f"root {root_id}: leaves do not sum to face"
            assert sum(p.claimed for p in leaves) == r.claimed <= r.repaid <= r.face_value, f"root {root_id} money"
        held = sum(r.repaid - r.claimed for r in chain_roots.values())
        assert balances[self.client.address] == held, "the contract's balance != repaid - claimed"
        tags = [r.fingerprint for r in chain_roots.values()]
        assert len(set(tags)) == len(tags) and bytes(32) not in tags, "a fingerprint was issued twice, or zero"
        assert model.invariant_violations() == []


@pytest.mark.parity
def test_receivables_matches_its_model(fuzz_world: World) -> None:
    ReceivablesMachine.world = fuzz_world
    try:
        run_state_machine_as_test(ReceivablesMachine, settings=fuzz_settings("receivables", fuzz_world.backend))
    finally:
        ReceivablesMachine.world = None
        wall_clock_back(fuzz_world.deployed.chain)
