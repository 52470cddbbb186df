"""A random ledger history for the audit tests: every kind of call, through the real contracts.

``HistoryWriter`` starts from the escrow world (``tests.support.escrow.open_world``)
and takes seeded random steps, each a call a party of the ledger could make: orders created
(escrowed and open account), funded (from an allowance or with a permit), attested by one or
two oracles, contested, confirmed, released, refunded, disputed and resolved every way;
pre-payments against a bank's limit and pool, shortfalls repaid; limits published and revoked;
receivables issued (standalone and against delivered open-account orders), split, financed,
repaid, claimed, transferred and defaulted; members admitted, re-roled, suspended and
reinstated; tokens minted, moved, approved, permitted and redeemed; administration; time
jumps. A step whose call would revert is skipped (the preflight ``eth_call`` says so), except
a few sent on purpose with a fixed gas limit so that they are mined and fail: the replay must
count those as calls that left no log.

No model decides what is sent: the writer reads the contracts' views. The replay is then the
only place the models meet this history. Where a step looks over every order or piece, it reads their views in
one JSON-RPC batch (``ledger.eth.reads``, decoded as the clients decode them), not one request each: the same
answers, so the same seeded choices, for a fraction of the round trips.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract.contract import ContractFunction

from ledger.clients.credit import CreditLimit
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone, Order, OrderStatus, OrderTerms, po_ref_hash
from ledger.domain.receivables import Child, FinanceOffer, IssueTerms, Piece
from ledger.errors import ContractReverted
from ledger.eth.reads import RawView, ViewBatch
from ledger.toolchain.deploy import ORACLE_KIND, ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    DAY,
    HOUR,
    MAX_UINT256,
    REVERT_GAS,
    UNIT,
    World,
    escrow_of,
    fixed_key,
    prepayment_offer_of,
    quick,
    registry_of,
    send,
    send_trusted,
    sign_prepayment,
    tokens_of,
)
from tests.support.receivables import receivables_of

MILESTONE_AFTER = {
    OrderStatus.CREATED: Milestone.SHIPPED,  # open account: no funding
    OrderStatus.FUNDED: Milestone.SHIPPED,
    OrderStatus.SHIPPED: Milestone.DELIVERED,
}


class HistoryWriter:
    """Random calls of every kind, from ``world`` on, decided by ``seed``."""

    def __init__(self, deployed: Deployed, world: World, seed: int) -> None:
        self.d = deployed
        self.world = world
        self.rng = random.Random(seed)
        self.escrow = escrow_of(deployed)
        self.receivables = receivables_of(deployed)
        self.tokens = tokens_of(deployed)
        self.registry = registry_of(deployed)
        self.views = ViewBatch(deployed.chain)
        escrow_abi, receivables_abi = deployed.build["TradeEscrow"].abi, deployed.build["Receivables"].abi
        self.order_of = RawView.of(self.escrow.address, escrow_abi, "orderOf")
        self.is_open_account_of = RawView.of(self.escrow.address, escrow_abi, "isOpenAccount")
        self.piece_of = RawView.of(self.receivables.address, receivables_abi, "pieceOf")
        self.outstanding_of = RawView.of(self.receivables.address, receivables_abi, "outstanding")
        self.claimable_of = RawView.of(self.receivables.address, receivables_abi, "claimable")
        self.stats: Counter[str] = Counter()
        self.mined_failures = 0
        self.counter = 0
        self.order_nonce = 10_000
        self.issue_nonce = 10_000
        self.offer_nonce: Counter[str] = Counter()
        self.evidence: dict[int, list[bytes]] = {}
        self.bank2 = fixed_key("audit-bank-2")
        self.newcomers: list[LocalAccount] = []
        self.accounts: dict[str, LocalAccount] = {a.address: a for _, a in deployed.accounts}
        for extra in (*world.carriers, *world.inspectors, self.bank2):
            self.accounts[extra.address] = extra

    # -- plumbing -------------------------------------------------------------------------

    def acct(self, label: str) -> LocalAccount:
        return self.d.accounts[label]

    def prepayment_fn(self, order_id: int, amount: int, *, fee: int) -> ContractFunction:
        """``requestPrepayment`` of the bank's fresh offer (its lowest unused nonce), signed by the bank."""
        offer = prepayment_offer_of(self.d, order_id, amount, fee=fee)
        return self.escrow.contract.functions.requestPrepayment(offer.as_tuple(), sign_prepayment(self.d, offer))

    def fresh(self, kind: str) -> bytes:
        self.counter += 1
        return keccak(text=f"audit-history:{kind}:{self.counter}")

    def now(self) -> int:
        return self.d.chain.timestamp()

    def tx(self, label: str, fn: ContractFunction, sender: LocalAccount) -> bool:
        """Send ``fn`` unless its preflight reverts; True when it was mined successfully."""
        try:
            send(self.d, fn, sender)
        except ContractReverted as reverted:
            self.stats[f"{label}:skipped:{reverted.error}"] += 1
            return False
        self.stats[label] += 1
        return True

    def mined_failure(self, fn: ContractFunction, sender: LocalAccount) -> None:
        """A call sent without preflight, with enough gas to be mined: it fails on chain."""
        try:
            self.d.chain.transact(fn, sender, gas=REVERT_GAS)
        except ContractReverted as reverted:
            if reverted.tx_hash is not None:
                self.mined_failures += 1
                self.stats["mined-failure"] += 1
            return
        raise AssertionError("the call meant to fail succeeded")

    def orders_in(self, *statuses: OrderStatus) -> list[int]:
        count = int(quick(self.d).call(self.escrow.contract.functions.orderCount()))
        ids = range(1, count + 1)
        raws = self.views.read([(self.order_of, (i,)) for i in ids])
        return [i for i, raw in zip(ids, raws, strict=True) if Order.from_view(i, raw[0]).status in statuses]

    def where(self, view: RawView, ids: list[int]) -> list[int]:
        """Those of ``ids`` whose ``view(id)`` (a uint or a bool) is non-zero, read in one batch."""
        answers = self.views.read([(view, (i,)) for i in ids])
        return [i for i, (value,) in zip(ids, answers, strict=True) if value]

    def open_account(self, ids: list[int], *, is_open: bool) -> list[int]:
        """Those of ``ids`` that are open-account orders (or, ``is_open`` False, escrowed ones)."""
        found = set(self.where(self.is_open_account_of, ids))
        return [i for i in ids if (i in found) == is_open]

    def pieces(self) -> list[Piece]:
        count = self.receivables.piece_count()
        ids = range(1, count + 1)
        raws = self.views.read([(self.piece_of, (i,)) for i in ids])
        return [Piece.from_tuple(i, raw[0]) for i, raw in zip(ids, raws, strict=True)]

    def owed_roots(self) -> list[int]:
        """The roots with an amount outstanding."""
        return self.where(self.outstanding_of, [piece.piece_id for piece in self.pieces() if piece.is_root])

    def pick(self, items: list[Any]) -> Any:
        return self.rng.choice(items) if items else None

    # -- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        d, admin, bank = self.d, self.acct("admin"), self.acct("bank")
        d.chain.send_value(admin, self.bank2.address, 10**19)
        fns = self.tokens.contract.functions
        send_trusted(d, d.membership.functions.admit(self.bank2.address, ROLE["bank"], 0, keccak(text="kyc:b2")), admin)
        for who in ("core", "tier1", "tier2", "tier3", "bank"):
            send_trusted(d, fns.mint(self.acct(who).address, 5_000_000 * UNIT), bank)
        send_trusted(d, fns.mint(self.bank2.address, 5_000_000 * UNIT), bank)
        for payer in (*(self.acct(x) for x in ("core", "tier1", "tier2", "tier3", "bank")), self.bank2):
            send_trusted(d, fns.approve(self.receivables.address, MAX_UINT256), payer)
            send_trusted(d, fns.approve(self.escrow.address, MAX_UINT256), payer)

    # -- the steps ----------------------------------------------------------------------------

    def run(self, steps: int) -> Counter[str]:
        """The tour (every function once, in an order that lets each succeed), then ``steps`` random steps."""
        self.setup()
        self.tour()
        moves: list[tuple[Callable[[], None], int]] = [
            (self.create_order, 6),
            (self.fund_order, 5),
            (self.attest, 9),
            (self.close_order, 4),
            (self.dispute, 6),
            (self.contest, 1),
            (self.prepay, 4),
            (self.pool_and_limits, 2),
            (self.issue, 5),
            (self.split, 4),
            (self.finance, 3),
            (self.repay, 4),
            (self.claim, 4),
            (self.transfer_piece, 2),
            (self.default, 2),
            (self.membership, 2),
            (self.token, 3),
            (self.administration, 2),
            (self.jump, 3),
            (self.fail_on_chain, 1),
        ]
        calls, weights = zip(*moves, strict=True)
        for _ in range(steps):
            self.rng.choices(calls, weights)[0]()
        self.d.chain.mine()
        return self.stats

    def must(self, label: str, fn: ContractFunction, sender: LocalAccount) -> None:
        if not self.tx(label, fn, sender):
            raise AssertionError(f"the tour's {label} reverted: {dict(self.stats)}")

    def new_order(self, supplier: str = "tier2", *, funded: bool = True, open_account: bool = False) -> int:
        core, seller = self.acct("core"), self.acct(supplier)
        now = self.now()
        self.order_nonce += 1
        terms = OrderTerms(core.address, seller.address, self.tokens.address, 1_000 * UNIT, now + 2 * DAY,
                           now + 4 * DAY, False, keccak(text="tour"), po_ref_hash(f"TOUR-{self.order_nonce}"),
                           self.order_nonce, now + DAY)  # fmt: skip
        sign = self.escrow.sign_open_account_order if open_account else self.escrow.sign_order
        fns = self.escrow.contract.functions
        create = fns.createOpenAccountOrder if open_account else fns.createOrder
        self.must("createOrder", create(terms.as_tuple(), sign(core, terms), sign(seller, terms)), seller)
        order_id = int(quick(self.d).call(fns.orderIdOfPoRef(terms.po_ref_hash)))
        if funded:
            self.must("fund", fns.fund(order_id), core)
        return order_id

    def attest_now(self, order_id: int, milestone: Milestone, oracles: tuple[LocalAccount, ...]) -> bytes:
        evidence = self.fresh("tour-epcis")
        attestation = Attestation(order_id, milestone, self.now(), evidence)
        signatures = [self.escrow.sign_attestation(o, attestation) for o in oracles]
        fn = self.escrow.contract.functions.attest(attestation.as_tuple(), signatures)
        self.must(f"attest{milestone.name}", fn, self.acct("relayer"))
        self.evidence.setdefault(order_id, []).append(evidence)
        return evidence

    def tour(self) -> None:
        """Every function of every contract once, each where it succeeds."""
        w, fns, d = self.world, self.escrow.contract.functions, self.d
        core, tier1, bank, admin = (self.acct(x) for x in ("core", "tier1", "bank", "admin"))
        relayer, arbiter, carriers = self.acct("relayer"), self.acct("arbiter"), w.carriers
        # Membership.
        members = d.membership.functions
        tier3 = self.acct("tier3").address
        self.must("suspend", members.suspend(tier3, self.fresh("why")), admin)
        self.must("reinstate", members.reinstate(tier3), admin)
        self.must("setRoles", members.setRoles(tier3, ROLE["supplier"] | ROLE["core"], 0), admin)
        self.must("updateKyc", members.updateKyc(tier3, self.fresh("kyc")), admin)
        # The token, every call.
        token = self.tokens.contract.functions
        self.must("mint", token.mint(self.acct("tier3").address, 1_000 * UNIT), bank)
        self.must("transfer", token.transfer(self.acct("tier2").address, 10 * UNIT), core)
        self.must("approve", token.approve(relayer.address, 50 * UNIT), core)
        self.must("transferFrom", token.transferFrom(core.address, tier3, 20 * UNIT), relayer)
        self.must("redeem", token.redeem(5 * UNIT), tier1)
        deadline, v, r, s = self.tokens.sign_permit(core, relayer.address, 70 * UNIT, self.now() + DAY)
        self.must("permit", token.permit(core.address, relayer.address, 70 * UNIT, deadline, v, r, s), relayer)
        # Administration and limits.
        self.must("setThreshold", fns.setThreshold(ORACLE_KIND["customs"], 2), admin)
        self.must("setWindows", fns.setWindows((30 * DAY, 3 * DAY, 15 * DAY, 31 * DAY)), admin)
        self.must("setTokenAllowed", fns.setTokenAllowed(fixed_key("a-token").address, True), admin)
        self.must("setGracePeriod", self.receivables.contract.functions.setGracePeriod(DAY), admin)
        self.must("fundPool", fns.fundPool(1_000 * UNIT), bank)
        self.must("withdrawPool", fns.withdrawPool(500 * UNIT), bank)
        grant = CreditLimit(bank.address, self.acct("tier2").address, 5_000 * UNIT, 650, 3, keccak(text="m"),
                            self.now() + 300 * DAY, self.registry.nonce(bank.address))  # fmt: skip
        self.must(
            "publish",
            self.registry.contract.functions.publish(grant.as_tuple(), self.registry.sign(bank, grant)),
            relayer,
        )
        self.must("revoke", self.registry.contract.functions.revoke(self.acct("tier3").address), bank)
        # Orders of the world, each to another end.
        self.must("cancelUnfunded", fns.cancelUnfunded(w.created), core)
        self.must("requestPrepayment", self.prepayment_fn(w.funded, 10_000 * UNIT, fee=250 * UNIT), tier1)
        self.attest_now(w.shipped, Milestone.DELIVERED, carriers[:2])
        self.must("confirmReceipt", fns.confirmReceipt(w.shipped), core)
        self.attest_now(w.inspecting, Milestone.INSPECTION_FAILED, w.inspectors[:1])
        self.must("openDispute", fns.openDispute(w.delivered, self.fresh("reason")), core)
        self.must("answerDispute", fns.answerDispute(w.delivered, self.fresh("answer")), tier1)
        amount = 30_000 * UNIT
        deadline = self.now() + DAY
        signatures = [self.escrow.sign_settlement(p, w.delivered, amount, deadline) for p in (core, tier1)]
        self.must("settleDispute", fns.settleDispute(w.delivered, amount, deadline, *signatures), relayer)
        arbitrated = self.new_order()
        self.attest_now(arbitrated, Milestone.SHIPPED, carriers[:1])
        self.attest_now(arbitrated, Milestone.DELIVERED, carriers[:1])
        self.must("openDispute", fns.openDispute(arbitrated, self.fresh("reason")), core)
        self.must("arbitrate", fns.arbitrate(arbitrated, 400 * UNIT), arbiter)
        contested = self.new_order()
        shipped = self.attest_now(contested, Milestone.SHIPPED, carriers[:1])
        declaration = ErrorDeclaration(shipped, self.fresh("did_not_occur"), self.now())
        signatures = [self.escrow.sign_error_declaration(o, declaration) for o in carriers[:1]]
        self.must("contestMilestone", fns.contestMilestone(declaration.as_tuple(), signatures), relayer)
        permitted = self.new_order(funded=False)
        deadline, v, r, s = self.tokens.sign_permit(core, self.escrow.address, 1_000 * UNIT, self.now() + DAY)
        self.must("fundWithPermit", fns.fundWithPermit(permitted, deadline, v, r, s), relayer)
        self.must("approve", token.approve(self.escrow.address, MAX_UINT256), core)  # the permit replaced it
        released = self.new_order()
        self.attest_now(released, Milestone.SHIPPED, carriers[:1])
        self.attest_now(released, Milestone.DELIVERED, carriers[:1])
        # Receivables: standalone and against a delivered open-account order.
        open_order = self.new_order("tier1", funded=False, open_account=True)
        self.attest_now(open_order, Milestone.SHIPPED, carriers[:1])
        self.attest_now(open_order, Milestone.DELIVERED, carriers[:1])
        rfns = self.receivables.contract.functions
        roots = []
        for order_id, creditor, maturity in ((open_order, tier1, 60 * DAY), (0, self.acct("tier2"), 2 * DAY)):
            self.issue_nonce += 1
            now = self.now()
            terms = IssueTerms(core.address, creditor.address, self.tokens.address, 900 * UNIT, now + maturity,
                               self.fresh("invoice"), self.fresh("fingerprint"), self.fresh("commitment"), order_id,
                               self.issue_nonce, now + DAY)  # fmt: skip
            self.must("issue", rfns.issue(terms.as_tuple(), self.receivables.sign_issue(core, terms)), creditor)
            roots.append(self.receivables.piece_count())
        first, short = roots
        kids = [Child(600 * UNIT, self.acct("tier2").address, self.fresh("sub")),
                Child(300 * UNIT, self.acct("tier3").address, self.fresh("sub"))]  # fmt: skip
        self.must("split", rfns.split(first, [k.as_tuple() for k in kids]), tier1)
        child = self.receivables.piece_count() - 1
        self.offer_nonce[bank.address] += 1
        offer = FinanceOffer(child, bank.address, 590 * UNIT, self.now() + DAY, self.offer_nonce[bank.address])
        self.must(
            "finance", rfns.finance(offer.as_tuple(), self.receivables.sign_offer(bank, offer)), self.acct("tier2")
        )
        self.must("transferPiece", rfns.transferFrom(bank.address, self.bank2.address, child), bank)
        self.must("repay", rfns.repay(first, 450 * UNIT), core)
        self.must("claim", rfns.claim(child), self.bank2)
        # Time: ship-by, the claim window, the grace period and the dispute windows pass.
        d.chain.advance_time(40 * DAY)
        self.must("refundUnshipped", fns.refundUnshipped(w.funded), relayer)  # the pool covers the pre-payment
        self.must("repayShortfall", fns.repayShortfall(tier1.address, bank.address, 1_000 * UNIT), tier1)
        self.must("release", fns.release(released), relayer)
        self.must("closeExpiredDispute", fns.closeExpiredDispute(contested), relayer)
        self.must("markDefaulted", rfns.markDefaulted(short), relayer)
        self.mined_failure(fns.release(10**6), relayer)

    def create_order(self) -> None:
        buyer = self.acct(self.pick(["core", "core", "tier1"]))
        supplier = self.acct(self.pick([s for s in ("tier1", "tier2", "tier3") if self.acct(s) != buyer]))
        open_account = self.rng.random() < 0.25
        now = self.now()
        self.order_nonce += 1
        terms = OrderTerms(
            buyer.address,
            supplier.address,
            self.tokens.address,
            self.rng.randint(1, 50_000) * UNIT,
            now + self.rng.choice([2 * DAY, 10 * DAY]),
            now + 20 * DAY,
            self.rng.random() < 0.3,
            keccak(text="incoterms FCA"),
            po_ref_hash(f"AUDIT-PO-{self.order_nonce}"),
            self.order_nonce,
            now + DAY,
        )
        sign = self.escrow.sign_open_account_order if open_account else self.escrow.sign_order
        fns = self.escrow.contract.functions
        create = fns.createOpenAccountOrder if open_account else fns.createOrder
        fn = create(terms.as_tuple(), sign(buyer, terms), sign(supplier, terms))
        self.tx("createOpenAccountOrder" if open_account else "createOrder", fn, self.pick([buyer, supplier]))

    def fund_order(self) -> None:
        order_id = self.pick(self.open_account(self.orders_in(OrderStatus.CREATED), is_open=False))
        if order_id is None:
            return
        order = self.escrow.order(order_id)
        buyer = self.accounts[order.terms.buyer]
        if self.rng.random() < 0.5:
            self.tx("fund", self.escrow.contract.functions.fund(order_id), buyer)
            return
        deadline, v, r, s = self.tokens.sign_permit(buyer, self.escrow.address, order.terms.amount, self.now() + DAY)
        fn = self.escrow.contract.functions.fundWithPermit(order_id, deadline, v, r, s)
        self.tx("fundWithPermit", fn, self.acct("relayer"))

    def attest(self) -> None:
        candidates = self.orders_in(OrderStatus.CREATED, OrderStatus.FUNDED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
        order_id = self.pick(candidates)
        if order_id is None:
            return
        order = self.escrow.order(order_id)
        if order.status == OrderStatus.CREATED and not self.escrow.is_open_account(order_id):
            return
        if order.status == OrderStatus.DELIVERED:
            if not order.terms.inspection_required:
                return
            milestone = Milestone.INSPECTION_PASSED if self.rng.random() < 0.7 else Milestone.INSPECTION_FAILED
            oracles = list(self.world.inspectors[: self.rng.randint(1, 2)])
        else:
            milestone = MILESTONE_AFTER[order.status]
            oracles = list(self.world.carriers[: self.rng.randint(1, 3)])
        evidence = self.fresh("epcis")
        attestation = Attestation(order_id, milestone, self.now() - self.rng.randint(0, HOUR), evidence)
        signatures = [self.escrow.sign_attestation(o, attestation) for o in oracles]
        if self.tx(
            f"attest{milestone.name}",
            self.escrow.contract.functions.attest(attestation.as_tuple(), signatures),
            self.acct("relayer"),
        ):
            self.evidence.setdefault(order_id, []).append(evidence)

    def close_order(self) -> None:
        created = self.orders_in(OrderStatus.CREATED)
        if created and self.rng.random() < 0.2:
            order_id = self.pick(created)
            order = self.escrow.order(order_id)
            party = self.accounts[self.pick([order.terms.buyer, order.terms.supplier])]
            self.tx("cancelUnfunded", self.escrow.contract.functions.cancelUnfunded(order_id), party)
            return
        order_id = self.pick(
            self.open_account(
                self.orders_in(OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED, OrderStatus.FUNDED),
                is_open=False,
            )
        )
        if order_id is None:
            return
        order = self.escrow.order(order_id)
        fns = self.escrow.contract.functions
        buyer = self.accounts[order.terms.buyer]
        if order.status == OrderStatus.FUNDED:
            self.tx("refundUnshipped", fns.refundUnshipped(order_id), self.acct("relayer"))
        elif self.rng.random() < 0.5:
            self.tx("confirmReceipt", fns.confirmReceipt(order_id), buyer)
        else:
            self.tx("release", fns.release(order_id), self.acct("relayer"))

    def dispute(self) -> None:
        fns = self.escrow.contract.functions
        disputed = [i for i in self.orders_in(OrderStatus.DISPUTED)]
        if disputed and self.rng.random() < 0.7:
            order_id = self.pick(disputed)
            order = self.escrow.order(order_id)
            buyer, supplier = self.accounts[order.terms.buyer], self.accounts[order.terms.supplier]
            amount = self.rng.randint(0, order.terms.amount)
            how = self.rng.randrange(4)
            if how == 0:
                self.tx("answerDispute", fns.answerDispute(order_id, self.fresh("answer")), supplier)
            elif how == 1:
                self.tx("arbitrate", fns.arbitrate(order_id, amount), self.acct("arbiter"))
            elif how == 2:
                deadline = self.now() + DAY
                signatures = [self.escrow.sign_settlement(p, order_id, amount, deadline) for p in (buyer, supplier)]
                self.tx(
                    "settleDispute", fns.settleDispute(order_id, amount, deadline, *signatures), self.acct("relayer")
                )
            else:
                self.tx("closeExpiredDispute", fns.closeExpiredDispute(order_id), self.acct("relayer"))
            return
        order_id = self.pick(
            self.open_account(
                self.orders_in(OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED), is_open=False
            )
        )
        if order_id is not None:
            buyer = self.accounts[self.escrow.order(order_id).terms.buyer]
            self.tx("openDispute", fns.openDispute(order_id, self.fresh("reason")), buyer)

    def contest(self) -> None:
        order_id = self.pick(
            self.open_account(
                [i for i in self.orders_in(OrderStatus.SHIPPED, OrderStatus.DELIVERED) if i in self.evidence],
                is_open=False,
            )
        )
        if order_id is None:
            return
        declaration = ErrorDeclaration(self.evidence[order_id][-1], self.fresh("did_not_occur"), self.now())
        kind_of = self.escrow.evidence_of(declaration.evidence_hash)
        oracles = (
            self.world.carriers[:2] if kind_of and kind_of[1] <= Milestone.DELIVERED else self.world.inspectors[:1]
        )
        signatures = [self.escrow.sign_error_declaration(o, declaration) for o in oracles]
        fn = self.escrow.contract.functions.contestMilestone(declaration.as_tuple(), signatures)
        self.tx("contestMilestone", fn, self.acct("relayer"))

    def prepay(self) -> None:
        fns = self.escrow.contract.functions
        bank = self.acct("bank")
        owing = [s for s in ("tier1", "tier2", "tier3") if self.escrow.shortfall(bank.address, self.acct(s).address)]
        if owing and self.rng.random() < 0.5:
            supplier = self.acct(self.pick(owing))
            owed = self.escrow.shortfall(bank.address, supplier.address)
            self.tx(
                "repayShortfall",
                fns.repayShortfall(supplier.address, bank.address, self.rng.randint(1, owed)),
                supplier,
            )
            return
        order_id = self.pick(self.orders_in(OrderStatus.FUNDED))
        if order_id is None:
            return
        order = self.escrow.order(order_id)
        room = min(
            order.terms.amount,
            self.escrow.available_limit(bank.address, order.terms.supplier),
            self.escrow.pool(bank.address)[0],
        )
        if room > 0:
            supplier = self.accounts[order.terms.supplier]
            amount = self.rng.randint(1, room)
            fee = self.rng.choice([0, amount * self.rng.randint(1, 300) // 10_000, amount - 1])
            self.tx("requestPrepayment", self.prepayment_fn(order_id, amount, fee=fee), supplier)

    def pool_and_limits(self) -> None:
        fns = self.escrow.contract.functions
        bank = self.acct("bank")
        how = self.rng.randrange(4)
        if how == 0:
            self.tx("fundPool", fns.fundPool(self.rng.randint(1, 100_000) * UNIT), bank)
        elif how == 1:
            available = self.escrow.pool(bank.address)[0]
            if available:
                self.tx("withdrawPool", fns.withdrawPool(self.rng.randint(1, available)), bank)
        elif how == 2:
            party = self.acct(self.pick(["tier1", "tier2", "tier3"]))
            grant = CreditLimit(bank.address, party.address, self.rng.randint(1, 200_000) * UNIT, 700, 2,
                                keccak(text="model v1"), self.now() + self.rng.choice([5 * DAY, 300 * DAY]),
                                self.registry.nonce(bank.address))  # fmt: skip
            fn = self.registry.contract.functions.publish(grant.as_tuple(), self.registry.sign(bank, grant))
            self.tx("publish", fn, self.acct("relayer"))
        else:
            party = self.acct(self.pick(["tier2", "tier3"]))
            self.tx("revoke", self.registry.contract.functions.revoke(party.address), bank)

    def issue(self) -> None:
        core = self.acct("core")
        now = self.now()
        self.issue_nonce += 1
        fns = self.receivables.contract.functions
        delivered = self.open_account(self.orders_in(OrderStatus.DELIVERED, OrderStatus.INSPECTED), is_open=True)
        order_id = self.pick(delivered) if self.rng.random() < 0.5 else None
        if order_id is not None:
            order = self.escrow.order(order_id)
            if order.terms.buyer != core.address:
                return
            creditor, face = order.terms.supplier, self.rng.randint(1, order.terms.amount)
        else:
            creditor, face = self.acct(self.pick(["tier1", "tier2"])).address, self.rng.randint(1, 90_000) * UNIT
        terms = IssueTerms(
            core.address,
            creditor,
            self.tokens.address,
            face,
            now + self.rng.choice([3 * DAY, 60 * DAY]),
            self.fresh("invoice"),
            self.fresh("fingerprint"),
            self.fresh("commitment"),
            order_id or 0,
            self.issue_nonce,
            now + DAY,
        )
        fn = fns.issue(terms.as_tuple(), self.receivables.sign_issue(core, terms))
        self.tx("issue", fn, self.pick([core, self.accounts[creditor]]))

    def leaves(self) -> list[int]:
        return [piece.piece_id for piece in self.pieces() if piece.is_leaf]

    def split(self) -> None:
        piece_id = self.pick(self.leaves())
        if piece_id is None:
            return
        piece = self.receivables.piece(piece_id)
        if piece.amount < 2 or piece.claimed:
            return
        holder = self.accounts.get(self.receivables.holder_of(piece_id))
        if holder is None:
            return
        first = self.rng.randint(1, piece.amount - 1)
        members = [self.acct(x).address for x in ("tier1", "tier2", "tier3")] + [n.address for n in self.newcomers]
        kids = [
            Child(first, self.pick(members), self.fresh("sub")),
            Child(piece.amount - first, self.pick(members), self.fresh("sub")),
        ]
        self.tx("split", self.receivables.contract.functions.split(piece_id, [k.as_tuple() for k in kids]), holder)

    def finance(self) -> None:
        piece_id = self.pick(self.leaves())
        if piece_id is None:
            return
        piece = self.receivables.piece(piece_id)
        holder = self.accounts.get(self.receivables.holder_of(piece_id))
        bank = self.pick([b for b in (self.acct("bank"), self.bank2) if holder is None or b.address != holder.address])
        if holder is None or piece.financed or piece.amount < 2:
            return
        self.offer_nonce[bank.address] += 1
        offer = FinanceOffer(
            piece_id, bank.address, self.rng.randint(1, piece.amount), self.now() + DAY, self.offer_nonce[bank.address]
        )
        fn = self.receivables.contract.functions.finance(offer.as_tuple(), self.receivables.sign_offer(bank, offer))
        self.tx("finance", fn, holder)

    def repay(self) -> None:
        root_id = self.pick(self.owed_roots())
        if root_id is not None:
            owed = self.receivables.outstanding(root_id)
            amount = owed if self.rng.random() < 0.4 else self.rng.randint(1, owed)
            self.tx(
                "repay",
                self.receivables.contract.functions.repay(root_id, amount),
                self.acct(self.pick(["core", "core", "tier2"])),
            )

    def claim(self) -> None:
        claimable = self.where(self.claimable_of, self.leaves())
        piece_id = self.pick(claimable)
        if piece_id is not None:
            holder = self.accounts.get(self.receivables.holder_of(piece_id))
            if holder is not None:
                self.tx("claim", self.receivables.contract.functions.claim(piece_id), holder)

    def transfer_piece(self) -> None:
        piece_id = self.pick(self.leaves())
        if piece_id is None:
            return
        holder = self.accounts.get(self.receivables.holder_of(piece_id))
        to = self.acct(self.pick(["tier1", "tier2", "tier3", "bank"]))
        if holder is not None and to.address != holder.address:
            fn = self.receivables.contract.functions.transferFrom(holder.address, to.address, piece_id)
            self.tx("transferPiece", fn, holder)

    def default(self) -> None:
        root_id = self.pick(self.owed_roots())
        if root_id is not None:
            self.tx("markDefaulted", self.receivables.contract.functions.markDefaulted(root_id), self.acct("relayer"))

    def membership(self) -> None:
        fns, admin = self.d.membership.functions, self.acct("admin")
        how = self.rng.randrange(5)
        tier3 = self.acct("tier3").address
        if how == 0:
            newcomer = fixed_key(f"audit-newcomer-{len(self.newcomers)}")
            if self.tx("admit", fns.admit(newcomer.address, ROLE["supplier"], 0, self.fresh("kyc")), admin):
                self.newcomers.append(newcomer)
        elif how == 1:
            roles = self.pick([ROLE["supplier"], ROLE["supplier"] | ROLE["core"]])
            self.tx("setRoles", fns.setRoles(tier3, roles, 0), admin)
        elif how == 2:
            self.tx("updateKyc", fns.updateKyc(self.acct("tier2").address, self.fresh("kyc")), admin)
        elif how == 3:
            self.tx("suspend", fns.suspend(tier3, self.fresh("why")), admin)
        else:
            self.tx("reinstate", fns.reinstate(tier3), admin)

    def token(self) -> None:
        fns = self.tokens.contract.functions
        core, relayer, tier1 = self.acct("core"), self.acct("relayer"), self.acct("tier1")
        how = self.rng.randrange(6)
        if how == 0:
            self.tx(
                "mint",
                fns.mint(self.acct(self.pick(["tier2", "tier3"])).address, self.rng.randint(1, 10**6) * UNIT),
                self.acct("bank"),
            )
        elif how == 1:
            self.tx("transfer", fns.transfer(self.acct("tier2").address, self.rng.randint(1, 1_000) * UNIT), core)
        elif how == 2:
            self.tx("approve", fns.approve(relayer.address, self.rng.randint(1, 5_000) * UNIT), core)
        elif how == 3:
            self.tx(
                "transferFrom",
                fns.transferFrom(core.address, self.acct("tier3").address, self.rng.randint(1, 2_000) * UNIT),
                relayer,
            )
        elif how == 4:
            self.tx("redeem", fns.redeem(self.rng.randint(1, 1_000) * UNIT), tier1)
        else:
            value = self.rng.randint(1, 3_000) * UNIT
            deadline, v, r, s = self.tokens.sign_permit(core, relayer.address, value, self.now() + DAY)
            self.tx("permit", fns.permit(core.address, relayer.address, value, deadline, v, r, s), relayer)

    def administration(self) -> None:
        admin = self.acct("admin")
        how = self.rng.randrange(3)
        if how == 0:
            self.tx(
                "setThreshold",
                self.escrow.contract.functions.setThreshold(ORACLE_KIND["customs"], self.rng.randint(1, 3)),
                admin,
            )
        elif how == 1:
            self.tx(
                "setTokenAllowed",
                self.escrow.contract.functions.setTokenAllowed(fixed_key("a-token").address, True),
                admin,
            )
        else:
            self.tx(
                "setGracePeriod",
                self.receivables.contract.functions.setGracePeriod(self.rng.choice([DAY, 7 * DAY])),
                admin,
            )

    def jump(self) -> None:
        self.d.chain.advance_time(self.rng.choice([HOUR, DAY, 4 * DAY, 12 * DAY, 40 * DAY]))
        self.stats["jump"] += 1

    def fail_on_chain(self) -> None:
        """A call mined as failed: no log, nothing changed; the replay counts it, does not replay it."""
        fns = self.escrow.contract.functions
        self.mined_failure(fns.release(10**6), self.acct("relayer"))
