"""TradeEscrow and its Python model side by side: the state an example carries, and one method per
operation that runs it on the model and on the chain and checks that both agree.

Each operation is one transaction. ``execute`` asks the model first; the contract must then revert
with exactly the custom error (and arguments) the model predicted, or succeed and emit exactly the
events the model listed, and the token transfers are booked per holder and per order for the
invariant. There are no rules here: ``escrow_properties_machine.TradeEscrowMachine`` decides what
to call. Hypothesis collects rules from the whole class hierarchy (by name), so keeping the
operations in a base class changes nothing it generates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import ClassVar

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis.stateful import RuleBasedStateMachine
from web3.types import TxReceipt

from ledger.clients.credit import CreditLimit
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone, OrderStatus, OrderTerms, PrepaymentOffer
from ledger.model import CreditLimits, Effect, EscrowModel, Roster
from tests.contracts.escrow_properties_world import CLOSING_EVENTS, DAY, GUARANTEE_EVENTS, LIVE, ZERO_HASH, World
from tests.contracts.lockstep import AnvilClock, Clock, EmbeddedClock, agree
from tests.support.escrow import escrow_of, registry_of


class TradeEscrowLockstep(RuleBasedStateMachine):
    """The contract and the model, side by side; ``world`` is set by ``test_trade_escrow_matches_its_model``."""

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
        self.prepayment_nonces: Counter[str] = Counter()  # per guarantor: the next fresh offer nonce
        self.offers_tried: set[tuple[str, int]] = set()  # (guarantor, nonce) of every offer submitted
        self.po_refs: list[bytes] = []
        self.evidence: list[bytes] = []
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

    def prepaid(self, order_id: int) -> bool:
        """The order drew its one pre-payment (or is on open account: never escrowed, never drawn on)."""
        return self.model.order(order_id).prepaid != 0 or self.model.is_open_account(order_id)

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

    @staticmethod
    def prepayment_fee(amount: int, bps: int) -> int:
        """A bank's fee of ``bps`` on ``amount``, rounded down (below the amount for bps < 10,000)."""
        return amount * bps // 10_000

    def prepay(
        self,
        order_id: int,
        guarantor: str,
        amount: int,
        actor: LocalAccount,
        *,
        fee: int = 0,
        deadline_in: int = DAY,
        nonce_mode: str = "fresh",
        signer: str = "right",
    ) -> None:
        """``actor`` accepts ``guarantor``'s offer for ``order_id``. ``nonce_mode`` "reuse" takes the
        guarantor's last spent nonce again (its last nonce when none is spent); ``signer`` "wrong"
        has someone else sign in the guarantor's place, "none" sends a signature that recovers to
        no one."""
        issued = self.prepayment_nonces[guarantor]
        if nonce_mode == "reuse" and issued:
            spent = [n for n in range(issued) if self.model.prepayment_nonce_used(guarantor, n)]
            nonce = spent[-1] if spent else issued - 1
        else:
            nonce = self.prepayment_nonces[guarantor]
            self.prepayment_nonces[guarantor] += 1
        offer = PrepaymentOffer(order_id, guarantor, amount, fee, self.now + deadline_in, nonce)
        if signer == "none":
            signed_by, signature = None, bytes(65)
        else:
            who = self.acct(self.label_of(guarantor)) if signer == "right" else self.acct("tier2")
            signed_by, signature = who.address, self.escrow.sign_prepayment_offer(who, offer)
        self.offers_tried.add((guarantor, nonce))
        self.execute(
            "requestPrepayment",
            lambda: self.model.request_prepayment(offer, signer=signed_by, caller=actor.address, now=self.now),
            lambda: self.escrow.request_prepayment(offer, signature, actor),
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
