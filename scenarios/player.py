"""The player that drives a world's chain week by week: setup, orders, oracle attestations, settlement.

Nothing is written to SQL by hand: every fact is a transaction on the chain, signed by the
party that would send it, with the typed data (orders, receivables, financing offers)
signed by each party's own key. Oracle attestations take the oracle services' own path,
called in process (no HTTP, for speed): each week every carrier and inspector captures one
EPCIS 2.0 document with the events it witnessed (``CaptureService`` → ``Witness`` judges and
signs → ``Aggregator`` collects a quorum of two distinct oracles of the kind and submits).

Each week, in order: new orders are co-signed and created; the oracles capture the week's
logistics events; one batch funds the new escrowed orders, settles what was delivered
(confirm, dispute, release after the claim window, refund when ship-by passed unshipped,
arbitration or expiry of last week's disputes) and repays receivables at maturity (or marks
unpaid ones defaulted after the grace period); the next batch answers the new disputes and
claims the repaid pieces; suppliers of the week's funded orders may draw part of them before
shipment, guaranteed by the bank with the lowest fee, and live suppliers repay what a guarantee
paid for them; open-account deliveries are paid (a core issues a receivable; a supplier pays its
own supplier with a piece split off a receivable it holds, or issues its own); holders sell
pieces to banks. The receivables moves are ``scenarios.financing``'s, the pre-shipment ones
``scenarios.prepayment``'s, the state and plumbing ``scenarios.desk``'s. Calls go out with
``BatchSender`` in large JSON-RPC batches; calls that allocate an order or receivable id (create,
issue, split) go one request at a time, in plan order, because a node runs one batch's entries
concurrently and ids must not depend on that; they are pipelined on one connection (``scenarios.pipeline``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eth_utils import keccak

from ledger.clients.escrow import TradeEscrowClient
from ledger.domain.escrow import OrderTerms, po_ref_hash
from ledger.eth.batch import Call
from ledger.eth.eip712 import sign_typed_data_by
from ledger.model.common import OracleKind
from ledger.toolchain.deploy import ORACLE_KIND, ROLE
from oracles.aggregator import Aggregator
from oracles.capture import CaptureService
from oracles.simulator import SimOrder, epcis_document, simulate
from oracles.store import open_database
from oracles.witness import Witness
from scenarios.desk import LiveOrder
from scenarios.errors import WorldAlreadyPlayed, WorldConflict
from scenarios.plan import DAMAGED, FAILED_INSPECTION, LATE, LOST, ON_TIME, UNSHIPPED, Plan, PlannedOrder
from scenarios.prepayment import PrepaymentDesk
from scenarios.world import ARBITER, BANK, CARRIER, CORE, DAY, INSPECTOR, QUORUM, SUPPLIER, UNIT

MAX_UINT256 = 2**256 - 1
ETH_PER_PARTY = 1_000 * 10**18
RELEASE_AFTER_TICKS = 5  # the claim window is 30 days: released in the fifth week after delivery
#: Orders whose outcome leaves goods delivered (and paid for).
DELIVERED_OUTCOMES = frozenset({ON_TIME, LATE})


class Player(PrepaymentDesk):
    """Plays a world's plan on the chain: ``setup`` once, then ``run_tick`` for every week, then ``close``."""

    def setup(self) -> None:
        world, admin = self.world, self.admin
        first = world.parties[0].address
        if self.membership.member_of(first).admitted:
            raise WorldAlreadyPlayed(first, self.membership.address)
        conflict = po_ref_conflict(self.escrow, self.plan)
        if conflict is not None:
            raise conflict
        roles = {
            CORE: (ROLE["core"], 0),
            SUPPLIER: (ROLE["supplier"], 0),
            BANK: (ROLE["bank"], 0),
            CARRIER: (ROLE["oracle"], ORACLE_KIND["carrier"]),
            INSPECTOR: (ROLE["oracle"], ORACLE_KIND["inspector"]),
            ARBITER: (ROLE["arbiter"], 0),
        }
        calls = []
        for party in world.parties:
            role, kind = roles[party.kind]
            kyc = keccak(text=f"kyc:{party.name}:{party.address}")
            admit = self.membership.calls.admit(party.address, role, kind, kyc)
            calls.append(Call.from_call(admit, admin, label=f"admit {party.name}"))
        for account in [*(p.account for p in world.parties), world.relayer]:
            calls.append(Call(account.address, b"", admin, value=ETH_PER_PARTY, gas=21_000, label="gas money"))
        for kind in (OracleKind.CARRIER, OracleKind.INSPECTOR):
            calls.append(Call.from_call(self.escrow.calls.set_threshold(int(kind), QUORUM), admin))
        self.send("setup", calls)

        # Tokenized deposits: a bank mints for every party what its purchases need, with room.
        needs: Counter[int] = Counter()
        for order in self.plan.orders:
            needs[order.buyer] += 2 * order.amount
        financing = sum(o.amount for o in self.plan.orders if o.open_account)
        minter = world.parties[self.banks[0]].account
        calls = []
        for party in world.parties:
            amount = needs[party.index] + 1_000_000 * UNIT if party.kind in (CORE, SUPPLIER) else 0
            if party.kind == BANK:
                amount = financing + self.pool_size() + 1_000_000 * UNIT
            if amount:
                calls.append(
                    Call.from_call(self.tokens.calls.mint(party.address, amount), minter, label=f"mint {party.name}")
                )
        for party in world.parties:
            if party.kind in (CORE, SUPPLIER, BANK):  # a bank's guarantee pool is funded from its balance
                calls.append(Call.from_call(self.tokens.calls.approve(self.escrow.address, MAX_UINT256), party.account))
            if party.kind in (CORE, SUPPLIER, BANK):
                approve = self.tokens.calls.approve(self.receivables.address, MAX_UINT256)
                calls.append(Call.from_call(approve, party.account))
        self.send("setup", calls)
        self.open_pools()

        engine = open_database("sqlite://")
        self.engines.append(engine)
        self.aggregator = Aggregator(
            self.chain,
            self.build,
            escrow=self.escrow.address,
            membership=self.addresses["Membership"],
            relayer=world.relayer,
            engine=engine,
        )
        for role_name, oracle_kind in ((CARRIER, OracleKind.CARRIER), (INSPECTOR, OracleKind.INSPECTOR)):
            for position, party in enumerate(world.of_kind(role_name)):
                witness = Witness(
                    self.chain,
                    self.build,
                    escrow=self.escrow.address,
                    membership=self.addresses["Membership"],
                    key=party.account,
                    kind=oracle_kind,
                )
                store = open_database("sqlite://")
                self.engines.append(store)
                service = CaptureService(witness, self.aggregator, store, clock=lambda: self.now)
                self.services.append((role_name, position, service))

    def close(self) -> None:
        for sender in (self.batch, self.ordered, self.attempts):
            sender.close()
        if self.aggregator is not None:
            self.aggregator.close()
        for engine in self.engines:
            engine.dispose()

    # -- the weeks ----------------------------------------------------------------------

    def run_tick(self, tick: int, new: Sequence[PlannedOrder]) -> None:
        self.tick = tick
        self.set_time(self.plan.tick_time(tick))
        funds = self.create_orders(new)
        self.capture()
        # Few, full blocks: anvil recomputes its state root for every block, so calls that do
        # not depend on each other share one batch (funding, settling, repaying, defaults),
        # and those that follow them the next (answers to disputes, claims on repaid roots).
        settled, answers = self.settle()
        repayments, repaid = self.repayments()
        self.send("settlement", [*funds, *settled, *repayments])
        self.send("settlement", [*answers, *self.claims(repaid)])
        self.prepay([o for o in self.orders if o.plan.tick == tick and not o.plan.open_account])
        self.pay()
        self.finance()

    def create_orders(self, new: Sequence[PlannedOrder]) -> list[Call]:
        """Co-signed orders, created one request at a time (pipelined); the funding calls of the escrowed ones."""
        calls, lives = [], []
        for planned in new:
            buyer, supplier = self.acct(planned.buyer), self.acct(planned.supplier)
            terms = OrderTerms(
                buyer.address,
                supplier.address,
                self.token,
                planned.amount,
                planned.ship_by,
                planned.deliver_by,
                planned.inspection,
                keccak(text=f"terms:{'open account net ' if planned.open_account else 'escrow '}{planned.po_ref}"),
                po_ref_hash(planned.po_ref),
                planned.number,
                self.now + DAY,
            )
            document = (
                self.escrow.open_account_document(terms) if planned.open_account else self.escrow.order_document(terms)
            )
            buyer_sig, supplier_sig = sign_typed_data_by(document, buyer, supplier)
            create = (
                self.escrow.calls.create_open_account_order if planned.open_account else self.escrow.calls.create_order
            )
            calls.append(Call.from_call(create(terms, buyer_sig, supplier_sig), buyer, label=planned.po_ref))
            lives.append(LiveOrder(planned))
        result = self.send("orders", calls, ordered=True)
        funds: list[Call] = []
        if result is None:
            return funds
        for i, live in enumerate(lives):
            live.order_id = int(self.events(result, i, "OrderCreated")[0]["orderId"])
            self.orders.append(live)
            planned = live.plan
            if not planned.open_account:
                funds.append(Call.from_call(self.escrow.calls.fund(live.order_id), self.acct(planned.buyer)))
            if planned.outcome != UNSHIPPED:
                shipment = simulate(
                    SimOrder(planned.po_ref, planned.ship_by, planned.deliver_by, planned.inspection),
                    planned.outcome,
                    seed=planned.sim_seed,
                )
                for event in shipment.events:
                    at = int(datetime.fromisoformat(event["eventTime"]).timestamp())
                    kind = INSPECTOR if "inspecting" in str(event.get("bizStep")) else CARRIER
                    live.pending.append((at, kind, event))
        return funds

    def capture(self) -> None:
        """Each oracle captures one EPCIS document with the events it witnessed this week."""
        started = time.perf_counter()
        due: dict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = {}
        for live in self.orders:
            if not live.pending:
                continue
            keep = []
            for at, kind, event in live.pending:
                if at > self.now:
                    keep.append((at, kind, event))
                    continue
                witnesses = live.plan.inspectors if kind == INSPECTOR else live.plan.carriers
                if "transporting" in str(event.get("bizStep")):
                    witnesses = witnesses[:1]  # a hub scan: only the carrier that moved the goods saw it
                for position in witnesses:
                    due.setdefault((kind, position), []).append((at, event))
                if "receiving" in str(event.get("bizStep")):
                    live.delivered_tick = self.tick
            live.pending = keep
        for kind, position, service in self.services:
            events = sorted(due.get((kind, position), []), key=lambda item: item[0])
            if not events:
                continue
            document_id = f"urn:uuid:{uuid.UUID(int=self.doc_rng.getrandbits(128), version=4)}"
            document = epcis_document([e for _, e in events], created_at=self.now, document_id=document_id)
            job = service.capture(json.dumps(document).encode())
            self.epcis.update(f"{e.outcome} ({e.reason})" if e.reason else str(e.outcome) for e in job.events)
        assert self.aggregator is not None
        self.aggregator.flush()  # an inspection that waited for its delivery
        self.phases["oracles"] += time.perf_counter() - started

    def settle(self) -> tuple[list[Call], list[Call]]:
        """Buyers' and suppliers' moves on orders whose logistics are known by now."""
        now, tick = self.now, self.tick
        calls: list[Call] = []
        answers: list[Call] = []
        for live in self.orders:
            if live.stage == "done":
                continue
            p = live.plan
            buyer, supplier = self.acct(p.buyer), self.acct(p.supplier)
            if live.stage in ("disputed", "answered"):
                if tick > live.dispute_tick:
                    if live.stage == "answered":
                        share = p.amount if p.outcome == LOST else p.amount // 5
                        arbiter = self.world.of_kind(ARBITER)[0].account
                        calls.append(Call.from_call(self.escrow.calls.arbitrate(live.order_id, share), arbiter))
                    else:
                        calls.append(Call.from_call(self.escrow.calls.close_expired_dispute(live.order_id), buyer))
                    live.stage = "done"
                continue
            if live.stage == "awaiting_release":
                if live.delivered_tick is not None and tick >= live.delivered_tick + RELEASE_AFTER_TICKS:
                    calls.append(Call.from_call(self.escrow.calls.release(live.order_id), supplier))
                    live.stage = "done"
                continue
            if live.pending:
                continue
            if p.outcome == UNSHIPPED:
                if now > p.ship_by:
                    end = self.escrow.calls.cancel_unfunded if p.open_account else self.escrow.calls.refund_unshipped
                    calls.append(Call.from_call(end(live.order_id), buyer))
                    live.stage = "done"
            elif p.outcome in (DAMAGED, FAILED_INSPECTION):
                live.stage = "done"  # the failed inspection refunded (or cancelled) the order on chain
            elif p.outcome == LOST:
                if now > p.deliver_by:
                    if p.dispute:
                        self._dispute(live, calls, answers, "goods never arrived")
                    else:
                        live.stage = "done"
            elif p.open_account:
                self.to_pay.append(live)
                live.stage = "done"
            elif p.dispute:
                self._dispute(live, calls, answers, "late delivery")
            elif p.confirm:
                calls.append(Call.from_call(self.escrow.calls.confirm_receipt(live.order_id), buyer))
                live.stage = "done"
            else:
                live.stage = "awaiting_release"
        return calls, answers

    def _dispute(self, live: LiveOrder, calls: list[Call], answers: list[Call], reason: str) -> None:
        p = live.plan
        dispute = self.escrow.calls.open_dispute(live.order_id, keccak(text=reason))
        calls.append(Call.from_call(dispute, self.acct(p.buyer)))
        live.stage, live.dispute_tick = "disputed", self.tick
        if p.answers and not self.failed(p.supplier):
            response = keccak(text=f"response to {reason} on {p.po_ref}")
            answer = self.escrow.calls.answer_dispute(live.order_id, response)
            answers.append(Call.from_call(answer, self.acct(p.supplier)))
            live.stage = "answered"


def po_ref_conflict(escrow: TradeEscrowClient, plan: Plan) -> WorldConflict | None:
    """A world not yet played here whose first purchase-order reference is taken: another world with the
    same seed, firm and month count (other hold-out) holds them, and the play would fail part-way."""
    if not plan.orders:
        return None
    reference = plan.orders[0].po_ref
    taken = escrow.order_id_of_po(reference)
    return WorldConflict(reference, taken, escrow.order(taken).terms.buyer) if taken else None
