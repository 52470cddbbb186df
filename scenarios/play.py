"""Playing a world through the real ledger: contracts, parties' own signatures, oracle services.

Nothing is written to SQL by hand: every fact is a transaction on the chain, signed by the
party that would send it, with the typed data (orders, receivables, financing offers)
signed by each party's own key. Oracle attestations take the oracle services' own path,
called in process (no HTTP, for speed): each week every carrier and inspector captures one
EPCIS 2.0 document with the events it witnessed (``CaptureService`` → ``Witness`` judges and
signs → ``Aggregator`` collects a quorum of two distinct oracles of the kind and submits).

Time is the chain's: the run switches the node's own mining off, stamps every block one
second after the one before (``anvil_setBlockTimestampInterval``) and sets the first block of
each weekly tick to the tick's time (``evm_setNextBlockTimestamp``); both are restored at the
end. The wall clock never enters the chain, so the same settings give the same facts.

Each week, in order: new orders are co-signed and created; the oracles capture the week's
logistics events; one batch funds the new escrowed orders, settles what was delivered
(confirm, dispute, release after the claim window, refund when ship-by passed unshipped,
arbitration or expiry of last week's disputes) and repays receivables at maturity (or marks
unpaid ones defaulted after the grace period); the next batch answers the new disputes and
claims the repaid pieces; open-account deliveries are paid (a core issues a receivable; a
supplier pays its own supplier with a piece split off a receivable it holds, or issues its
own); holders sell pieces to banks. Calls go out with ``BatchSender`` in large JSON-RPC
batches; calls that allocate an order or receivable id (create, issue, split) go one request
at a time, in plan order, because a node runs one batch's entries concurrently and ids must
not depend on that.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Engine

from ledger.batch import (
    BatchFailed,
    BatchResult,
    BatchSender,
    Call,
    sign_typed_data,
    sign_typed_data_by,
)
from ledger.chain import EMBEDDED, Chain, is_dev_node
from ledger.compiler import BuildResult
from ledger.deploy import ORACLE_KIND, ROLE, deploy
from ledger.escrow import OrderTerms, TradeEscrowClient, po_ref_hash
from ledger.history import RawLog
from ledger.membership import MembershipClient
from ledger.model.common import OracleKind
from ledger.receivables import BPS, YEAR, Child, FinanceOffer, IssueTerms, ReceivablesClient
from ledger.token import TokenClient
from oracles.aggregator import Aggregator
from oracles.capture import CaptureService
from oracles.simulator import SimOrder, epcis_document, simulate
from oracles.store import open_database
from oracles.witness import Witness
from scenarios.errors import ChainNotSupported, PlayFailed, ScenarioError, WorldAlreadyPlayed, WorldConflict
from scenarios.facts import ChainFacts, decoder, read_facts
from scenarios.plan import DAMAGED, FAILED_INSPECTION, LATE, LOST, ON_TIME, UNSHIPPED, Plan, PlannedOrder, make_plan
from scenarios.summary import summarise
from scenarios.truth import write_outputs
from scenarios.world import (
    ARBITER,
    BANK,
    CARRIER,
    CORE,
    DAY,
    DEFAULT_START,
    INSPECTOR,
    QUORUM,
    SUPPLIER,
    UNIT,
    WEEK,
    Party,
    ScenarioConfig,
    World,
    generate,
)

MAX_UINT256 = 2**256 - 1
ETH_PER_PARTY = 1_000 * 10**18
GRACE = 7 * DAY  # the Receivables contract's default grace period
RELEASE_AFTER_TICKS = 5  # the claim window is 30 days: released in the fifth week after delivery
RETAINED = keccak(text="retained")
#: Orders whose outcome leaves goods delivered (and paid for).
DELIVERED_OUTCOMES = frozenset({ON_TIME, LATE})
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Checkpoint:
    block: int
    timestamp: int

    def to_json(self) -> dict[str, int]:
        return {"block": self.block, "timestamp": self.timestamp}


@dataclass(frozen=True)
class Refusal:
    """A bad actor's attempt, mined and reverted: who sent it, what, and the contract's error."""

    actor: str
    scheme: str  # second_sale | duplicate_invoice
    tx_hash: str
    block: int
    error: str | None
    error_args: dict[str, Any]
    piece_id: int = 0
    root_id: int = 0

    def to_json(self) -> dict[str, Any]:
        args = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in self.error_args.items()}
        return {
            "actor": self.actor,
            "scheme": self.scheme,
            "tx_hash": self.tx_hash,
            "block": self.block,
            "error": self.error,
            "error_args": args,
            "piece_id": self.piece_id,
            "root_id": self.root_id,
        }


@dataclass
class PlayResult:
    """What ``play`` did and where it wrote it (``world.json``, ``ground_truth.json``)."""

    config: ScenarioConfig
    out_dir: Path
    world_path: Path
    truth_path: Path
    chain_id: int
    addresses: dict[str, str]
    start: Checkpoint
    observation_end: Checkpoint
    end: Checkpoint
    summary: dict[str, Any]
    digest: str
    seconds: float
    transactions: int
    phases: dict[str, float]
    refusals: list[Refusal]
    world: World
    plan: Plan
    facts: ChainFacts

    @property
    def tx_per_s(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


@dataclass
class _Order:
    plan: PlannedOrder
    order_id: int = 0
    pending: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (time, kind, EPCIS event)
    delivered_tick: int | None = None
    stage: str = "open"  # open | awaiting_release | disputed | answered | done
    dispute_tick: int = 0


@dataclass
class _Piece:
    piece_id: int
    root_id: int
    holder: int
    amount: int
    level: int
    financed: bool = False
    split: bool = False
    reserved: int = 0


@dataclass
class _Root:
    root_id: int
    debtor: int
    creditor: int
    face: int
    maturity: int
    invoice_number: str
    nonce: int
    status: str = "outstanding"  # outstanding | repaid | defaulted
    repay_tick: int | None = None


class _Player:
    def __init__(
        self,
        chain: Chain,
        build: BuildResult,
        world: World,
        plan: Plan,
        addresses: dict[str, str],
        admin: LocalAccount,
        progress: ProgressFn | None,
    ) -> None:
        self.chain, self.build, self.world, self.plan = chain, build, world, plan
        self.addresses = addresses
        self.admin = admin
        self.progress = progress
        self.rng = random.Random(world.config.key_material() + "/play")
        self.doc_rng = random.Random(world.config.key_material() + "/documents")
        self.escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
        self.receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        self.token = addresses["SettlementToken"]
        self.decoder = decoder(build, addresses)
        self.now = plan.start
        self.tick = -1
        self.phases: defaultdict[str, float] = defaultdict(float)
        self.orders: list[_Order] = []
        self.pieces: dict[int, _Piece] = {}
        self.roots: dict[int, _Root] = {}
        # Indexes over the pieces: a supplier's unsplit, unfinanced pieces; a root's pieces.
        self.held: defaultdict[int, set[int]] = defaultdict(set)
        self.tree: defaultdict[int, list[int]] = defaultdict(list)
        self.refusals: list[Refusal] = []
        self.epcis: Counter[str] = Counter()
        self.bank_nonce: Counter[int] = Counter()
        self.banks = [p.index for p in world.of_kind(BANK)]
        self.attempted: set[str] = set()
        self.to_pay: list[_Order] = []
        self.batch = BatchSender(chain, chunk=250, mine_every=1_000)
        self.ordered = BatchSender(chain, chunk=1, mine_every=1_000)
        self.attempts = BatchSender(chain, chunk=1, raise_on_failure=False)
        self.tokens = TokenClient(chain, build, self.token)
        self.membership = MembershipClient(chain, build, addresses["Membership"])
        self.engines: list[Engine] = []
        self.aggregator: Aggregator | None = None
        self.services: list[tuple[str, int, CaptureService]] = []

    # -- helpers ------------------------------------------------------------------------

    def party(self, index: int) -> Party:
        return self.world.parties[index]

    def acct(self, index: int) -> LocalAccount:
        return self.world.parties[index].account

    def failed(self, index: int, at: int | None = None) -> bool:
        party = self.party(index)
        return (
            party.fail_offset is not None
            and (at if at is not None else self.now) >= self.plan.start + party.fail_offset
        )

    def send(self, phase: str, calls: Sequence[Call], *, ordered: bool = False) -> BatchResult | None:
        if not calls:
            return None
        started = time.perf_counter()
        try:
            result = (self.ordered if ordered else self.batch).send(calls)
        except BatchFailed as exc:
            raise PlayFailed(phase, self.tick, exc) from exc
        finally:
            self.phases[phase] += time.perf_counter() - started
        return result

    def events(self, result: BatchResult, index: int, name: str) -> list[dict[str, Any]]:
        logs = self.decoder.decode_many(RawLog.of(log) for log in result.logs[index])
        return [log.args for log in logs if log.event == name]

    def dev_rpc(self, method: str, params: list[Any]) -> Any:
        answer = self.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in answer:
            raise ChainNotSupported(self.chain.endpoint, f"{method}: {answer['error']}")
        return answer.get("result")

    def set_time(self, timestamp: int) -> None:
        self.now = timestamp
        self.dev_rpc("evm_setNextBlockTimestamp", [timestamp])

    def checkpoint(self) -> Checkpoint:
        block = self.chain.w3.eth.get_block("latest")
        return Checkpoint(int(block["number"]), int(block["timestamp"]))

    # -- setup --------------------------------------------------------------------------

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
                amount = financing + 1_000_000 * UNIT
            if amount:
                calls.append(
                    Call.from_call(self.tokens.calls.mint(party.address, amount), minter, label=f"mint {party.name}")
                )
        for party in world.parties:
            if party.kind in (CORE, SUPPLIER):
                calls.append(Call.from_call(self.tokens.calls.approve(self.escrow.address, MAX_UINT256), party.account))
            if party.kind in (CORE, SUPPLIER, BANK):
                approve = self.tokens.calls.approve(self.receivables.address, MAX_UINT256)
                calls.append(Call.from_call(approve, party.account))
        self.send("setup", calls)

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
        self.pay()
        self.finance()

    def create_orders(self, new: Sequence[PlannedOrder]) -> list[Call]:
        """Co-signed orders, created one request at a time; the funding calls of the escrowed ones."""
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
            lives.append(_Order(planned))
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

    def _dispute(self, live: _Order, calls: list[Call], answers: list[Call], reason: str) -> None:
        p = live.plan
        dispute = self.escrow.calls.open_dispute(live.order_id, keccak(text=reason))
        calls.append(Call.from_call(dispute, self.acct(p.buyer)))
        live.stage, live.dispute_tick = "disputed", self.tick
        if p.answers and not self.failed(p.supplier):
            response = keccak(text=f"response to {reason} on {p.po_ref}")
            answer = self.escrow.calls.answer_dispute(live.order_id, response)
            answers.append(Call.from_call(answer, self.acct(p.supplier)))
            live.stage = "answered"

    # -- receivables --------------------------------------------------------------------

    def _issue_call(self, debtor: int, creditor: int, face: int, order_id: int, number: int, invoice: str) -> Call:
        tenor = self.party(debtor).tenor_days
        terms = IssueTerms(
            self.acct(debtor).address,
            self.acct(creditor).address,
            self.token,
            face,
            self.now + tenor * DAY,
            keccak(text=f"invoice document {invoice}"),
            invoice,
            order_id,
            number,
            self.now + DAY,
        )
        signature = sign_typed_data(self.acct(debtor), self.receivables.issue_document(terms))
        return Call.from_call(self.receivables.calls.issue(terms, signature), self.acct(creditor), label=invoice)

    def _order_issue(self, order: _Order) -> Call:
        p = order.plan
        return self._issue_call(p.buyer, p.supplier, p.amount, order.order_id, p.number, self._invoice(p))

    def _invoice(self, planned: PlannedOrder) -> str:
        config = self.world.config
        return f"INV-S{config.seed}-{config.firms}x{config.months}-{planned.number:06d}"

    def _record_root(self, result: BatchResult, index: int) -> None:
        issued = self.events(result, index, "ReceivableIssued")[0]
        root_id = int(issued["rootId"])
        debtor = self._index_of(issued["debtor"])
        creditor = self._index_of(issued["creditor"])
        face, maturity = int(issued["faceValue"]), int(issued["maturity"])
        self.roots[root_id] = _Root(
            root_id, debtor, creditor, face, maturity, str(issued["invoiceNumber"]), int(issued["nonce"])
        )
        self._add_piece(_Piece(root_id, root_id, creditor, face, 1))

    def _add_piece(self, piece: _Piece) -> None:
        self.pieces[piece.piece_id] = piece
        self.tree[piece.root_id].append(piece.piece_id)
        self.held[piece.holder].add(piece.piece_id)

    def _index_of(self, address: str) -> int:
        lookup: dict[str, int] = self.__dict__.setdefault(
            "_by_address", {p.address.lower(): p.index for p in self.world.parties}
        )
        return lookup[address.lower()]

    def usable(self, holder: int, *, margin: int) -> list[_Piece]:
        """Pieces ``holder`` can still pass on or sell: unsplit, unfinanced, of a live receivable."""
        out, held = [], self.held[holder]
        for piece_id in sorted(held):
            piece = self.pieces[piece_id]
            root = self.roots[piece.root_id]
            if root.status != "outstanding":
                held.discard(piece_id)  # repaid or defaulted: nothing left to pass on
            elif root.maturity - self.now >= margin:
                out.append(piece)
        return out

    def pay(self) -> None:
        """Open-account deliveries: cores issue receivables; suppliers pass pieces down or issue their own."""
        due, self.to_pay = self.to_pay, []
        if not due:
            return
        by_core = [o for o in due if self.party(o.plan.buyer).kind == CORE]
        calls = [
            self._issue_call(
                o.plan.buyer, o.plan.supplier, o.plan.amount, o.order_id, o.plan.number, self._invoice(o.plan)
            )
            for o in by_core
        ]
        result = self.send("receivables", calls, ordered=True)
        for i in range(len(calls)):
            assert result is not None
            self._record_root(result, i)

        # A supplier pays its supplier with part of a piece it holds (the best fit), else in its own name.
        payments: dict[int, list[tuple[int, int, bytes]]] = {}
        own: list[_Order] = []
        for order in (o for o in due if self.party(o.plan.buyer).kind != CORE):
            p = order.plan
            fits = [
                piece
                for piece in self.usable(p.buyer, margin=21 * DAY)
                if piece.amount - piece.reserved >= p.amount and len(payments.get(piece.piece_id, [])) < 30
            ]
            if fits:
                piece = min(fits, key=lambda x: (x.amount - x.reserved, x.piece_id))
                piece.reserved += p.amount
                payments.setdefault(piece.piece_id, []).append((p.supplier, p.amount, po_ref_hash(p.po_ref)))
            else:
                own.append(order)
        calls, kinds = [], []
        for piece_id, paid in payments.items():
            piece = self.pieces[piece_id]
            holder = self.acct(piece.holder)
            rest = piece.amount - sum(amount for _, amount, _ in paid)
            if rest == 0 and len(paid) == 1:
                payee = self.acct(paid[0][0]).address
                calls.append(Call.from_call(self.receivables.calls.transfer(holder.address, payee, piece_id), holder))
                kinds.append(("transfer", piece_id, paid))
                continue
            children = [Child(amount, self.acct(payee).address, ref) for payee, amount, ref in paid]
            if rest:
                children.append(Child(rest, holder.address, RETAINED))
            calls.append(
                Call.from_call(
                    self.receivables.calls.split(piece_id, children),
                    holder,
                    gas=150_000 + 200_000 * len(children),
                    label=f"split {piece_id}",
                )
            )
            kinds.append(("split", piece_id, paid))
        for order in own:
            calls.append(self._order_issue(order))
            kinds.append(("issue", 0, []))
        result = self.send("receivables", calls, ordered=True)
        for i, (kind, piece_id, paid) in enumerate(kinds):
            assert result is not None
            if kind == "issue":
                self._record_root(result, i)
                continue
            parent = self.pieces[piece_id]
            parent.reserved = 0
            self.held[parent.holder].discard(piece_id)
            if kind == "transfer":
                parent.holder = paid[0][0]
                self.held[parent.holder].add(piece_id)
                continue
            parent.split = True
            for created in self.events(result, i, "PieceCreated"):
                child = int(created["pieceId"])
                owner = self._index_of(created["holder"])
                self._add_piece(_Piece(child, parent.root_id, owner, int(created["amount"]), parent.level + 1))

    def finance(self) -> None:
        """Holders sell pieces to banks at a discount by tenor; the double financer tries twice."""
        rates = {1: 0.12, 2: 0.2, 3: 0.25}
        calls: list[Call] = []
        sold: list[tuple[int, int, int]] = []  # (piece, bank, seller)
        actor = self.world.double_financer
        scheme_from = max(2, self.plan.observation_ticks // 2)
        for supplier in self.world.suppliers:
            if self.failed(supplier.index):
                continue
            assert supplier.tier is not None
            for piece in sorted(self.usable(supplier.index, margin=14 * DAY), key=lambda x: x.piece_id):
                forced = (
                    supplier.index == actor
                    and self.tick >= scheme_from
                    and "second_sale" not in self.attempted
                    and not any(seller == actor for _, _, seller in sold)
                )
                if not forced and self.rng.random() >= rates[supplier.tier]:
                    continue
                bank = self.banks[0] if forced else self.rng.choice(self.banks)
                calls.append(self._sale(piece, bank))
                sold.append((piece.piece_id, bank, supplier.index))
        self.send("financing", calls)
        for piece_id, bank, seller in sold:
            self.pieces[piece_id].financed = True
            self.pieces[piece_id].holder = bank
            self.held[seller].discard(piece_id)
        if self.tick >= scheme_from:
            self.double_financing(actor, sold)

    def _sale(self, piece: _Piece, bank: int, seller: int | None = None) -> Call:
        root = self.roots[piece.root_id]
        debtor = self.party(root.debtor)
        rate = 500 + (350 if debtor.weak_payer else 0) + (400 if debtor.kind != CORE else 0)
        ttm = root.maturity - self.now
        price = piece.amount - piece.amount * rate * ttm // (BPS * YEAR)
        nonce = self.bank_nonce[bank]
        self.bank_nonce[bank] += 1
        offer = FinanceOffer(piece.piece_id, self.acct(bank).address, price, self.now + 2 * DAY, nonce)
        signature = sign_typed_data(self.acct(bank), self.receivables.offer_document(offer))
        holder = self.acct(piece.holder if seller is None else seller)
        finance = self.receivables.calls.finance(offer, signature)
        return Call.from_call(finance, holder, label=f"finance {piece.piece_id}")

    def double_financing(self, actor: int, sold: list[tuple[int, int, int]]) -> None:
        """The actor's own signed attempts, mined and reverted: a second sale, a re-issued invoice."""
        account = self.acct(actor)
        if "second_sale" not in self.attempted:
            mine = [(piece_id, bank) for piece_id, bank, seller in sold if seller == actor]
            if mine:
                piece_id, first_bank = mine[0]
                other = next(b for b in self.banks if b != first_bank)
                call = self._sale(self.pieces[piece_id], other, seller=actor)
                self._attempt("second_sale", call, account, piece_id=piece_id, root_id=self.pieces[piece_id].root_id)
        if "duplicate_invoice" not in self.attempted:
            issued = sorted(r.root_id for r in self.roots.values() if r.creditor == actor and r.status == "outstanding")
            if issued:
                root = self.roots[issued[0]]
                # The same invoice, spelled differently: lower case, spaces, leading zeros dropped.
                tag, _, number = root.invoice_number.rpartition("-")
                cosmetic = f" {tag.lower()}-{int(number)} "
                call = self._issue_call(root.debtor, actor, root.face, 0, 10**12 + root.nonce, cosmetic)
                self._attempt("duplicate_invoice", call, account, root_id=root.root_id)

    def _attempt(self, scheme: str, call: Call, actor: LocalAccount, *, piece_id: int = 0, root_id: int = 0) -> None:
        started = time.perf_counter()
        # A fixed gas limit: a reverting call has no estimate, and it must be mined, not refused.
        result = self.attempts.send([Call(call.to, call.data, actor, gas=600_000, label=f"{scheme} attempt")])
        self.phases["bad_actors"] += time.perf_counter() - started
        if not result.failures:
            raise PlayFailed(scheme, self.tick, ScenarioError(f"the {scheme} attempt by {actor.address} succeeded"))
        failure = result.failures[0]
        if failure.tx_hash is None:
            raise PlayFailed(scheme, self.tick, ScenarioError(f"the {scheme} attempt was not mined: {failure.reason}"))
        receipt = self.chain.w3.eth.get_transaction_receipt(failure.tx_hash)  # type: ignore[arg-type]
        error = failure.error
        self.refusals.append(
            Refusal(
                actor.address,
                scheme,
                failure.tx_hash,
                int(receipt["blockNumber"]),
                error.error if error else None,
                dict(error.error_args) if error else {},
                piece_id,
                root_id,
            )
        )
        self.attempted.add(scheme)

    def repayments(self) -> tuple[list[Call], list[_Root]]:
        """Debtors repay at maturity (a weak core and failed suppliers miss some); unpaid roots default."""
        now, tick = self.now, self.tick
        late_from = self.plan.start + int(self.world.config.months * 0.6) * 30 * DAY
        calls, repaid = [], []
        for root in sorted(self.roots.values(), key=lambda r: r.root_id):
            if root.status != "outstanding":
                continue
            debtor = self.party(root.debtor)
            if root.repay_tick is None and root.maturity < now + WEEK and root.maturity >= now - WEEK:
                if self.failed(root.debtor, root.maturity):
                    root.repay_tick = -1  # a failed supplier stops paying
                elif debtor.weak_payer and root.maturity >= late_from and self.rng.random() < 0.35:
                    root.repay_tick = -1
                elif debtor.kind == SUPPLIER and debtor.traits is not None and debtor.traits.reliability < 0.6:
                    root.repay_tick = tick + 1  # pays a week late, inside the grace period
                else:
                    root.repay_tick = tick
            if root.repay_tick == tick:
                calls.append(Call.from_call(self.receivables.calls.repay(root.root_id, root.face), debtor.account))
                repaid.append(root)
            elif root.repay_tick == -1 and now > root.maturity + GRACE:
                marker = self.acct(self.banks[0])
                calls.append(Call.from_call(self.receivables.calls.mark_defaulted(root.root_id), marker))
                root.status = "defaulted"
        for root in repaid:
            root.status = "repaid"
        return calls, repaid

    def claims(self, repaid: Sequence[_Root]) -> list[Call]:
        """Every leaf holder of a repaid root claims its amount (pull)."""
        claims = []
        for root in repaid:
            for piece in (self.pieces[i] for i in self.tree[root.root_id]):
                if not piece.split:
                    claims.append(Call.from_call(self.receivables.calls.claim(piece.piece_id), self.acct(piece.holder)))
        return claims


def po_ref_conflict(escrow: TradeEscrowClient, plan: Plan) -> WorldConflict | None:
    """A world not yet played here whose first purchase-order reference is taken: another world with the
    same seed, firm and month count (other hold-out) holds them, and the play would fail part-way."""
    if not plan.orders:
        return None
    reference = plan.orders[0].po_ref
    taken = escrow.order_id_of_po(reference)
    return WorldConflict(reference, taken, escrow.order(taken).terms.buyer) if taken else None


def _start_time(chain: Chain) -> int:
    now = chain.timestamp()
    return max(DEFAULT_START, (now // DAY + 2) * DAY)


def play(
    chain: Chain,
    build: BuildResult,
    config: ScenarioConfig,
    out_dir: Path,
    *,
    deployment: dict[str, str] | None = None,
    admin: LocalAccount | None = None,
    progress: bool | ProgressFn = False,
) -> PlayResult:
    """Generate the world of ``config`` and play it on ``chain``; write ``world.json`` and ``ground_truth.json``.

    ``deployment`` names the contracts (``Membership``, ``SettlementToken``, ``CreditRegistry``,
    ``TradeEscrow``, ``Receivables``); without it the ledger is deployed afresh by ``admin``
    (default: the devnet's admin account), which must hold the ADMIN role of the deployment.
    ``progress`` is True for a rich progress bar, or a callback ``(done, total, label)``.
    """
    if chain.backend == EMBEDDED or not is_dev_node(chain.w3):
        raise ChainNotSupported(chain.endpoint, "a world needs a devnet (anvil) whose block times it can set")
    if admin is None:
        if chain.accounts is None:
            raise ScenarioError("no admin account: pass admin=, or use a devnet with the dev accounts")
        admin = chain.accounts["admin"]
    addresses = dict(deployment) if deployment else deploy(chain, build, admin, None).addresses
    world = generate(config)
    plan = make_plan(world, _start_time(chain))
    player = _Player(chain, build, world, plan, addresses, admin, None)
    mining = _pause_mining(player)
    bar = _ProgressBar(plan.ticks) if progress is True else None
    report = bar.update if bar else (progress if callable(progress) else None)
    started = time.perf_counter()
    try:
        player.set_time(plan.start)
        first_block = chain.block_number + 1
        mark = time.perf_counter()
        player.setup()
        player.phases["setup"] = time.perf_counter() - mark
        start = Checkpoint(first_block, plan.start)
        observation_end = player.checkpoint()
        for tick, new in enumerate(plan.by_tick()):
            if tick == plan.observation_ticks:
                observation_end = player.checkpoint()
            player.run_tick(tick, new)
            if report:
                report(tick + 1, plan.ticks, f"week {tick + 1}")
        if plan.observation_ticks >= plan.ticks:
            observation_end = player.checkpoint()
        end = player.checkpoint()
        seconds = time.perf_counter() - started
    finally:
        if bar:
            bar.close()
        player.close()
        _restore_mining(player, mining)
    mark = time.perf_counter()
    facts = read_facts(chain, build, addresses, start.block, end.block)
    phases = dict(player.phases)
    phases["facts"] = time.perf_counter() - mark
    summary = summarise(world, facts, player.refusals, player.epcis)
    world_path, truth_path = write_outputs(
        Path(out_dir), world, plan, facts, chain.chain_id, addresses, start, observation_end, end, summary,
        player.refusals,
    )  # fmt: skip
    summary["seconds"] = round(seconds, 2)
    summary["tx_per_s"] = round(facts.transactions / seconds, 1) if seconds else 0.0
    return PlayResult(
        config,
        Path(out_dir),
        world_path,
        truth_path,
        chain.chain_id,
        addresses,
        start,
        observation_end,
        end,
        summary,
        facts.digest,
        seconds,
        facts.transactions,
        {k: round(v, 3) for k, v in phases.items()},
        player.refusals,
        world,
        plan,
        facts,
    )


def _pause_mining(player: _Player) -> tuple[bool, int]:
    """Switch the node's own mining off (the senders mine) and make block times step by one second."""
    automine = bool(player.dev_rpc("anvil_getAutomine", []))
    interval = int(player.dev_rpc("anvil_getIntervalMining", []) or 0)
    player.dev_rpc("evm_setAutomine", [False])
    if interval:
        player.dev_rpc("evm_setIntervalMining", [0])
    player.dev_rpc("anvil_setBlockTimestampInterval", [1])
    return automine, interval


def _restore_mining(player: _Player, previous: tuple[bool, int]) -> None:
    automine, interval = previous
    player.dev_rpc("anvil_removeBlockTimestampInterval", [])
    if interval:
        player.dev_rpc("evm_setIntervalMining", [interval])
    elif automine:
        player.dev_rpc("evm_setAutomine", [True])


class _ProgressBar:
    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )  # fmt: skip
        self.task = self.progress.add_task("", total=total)
        self.progress.start()

    def update(self, done: int, total: int, label: str) -> None:
        self.progress.update(self.task, completed=done, total=total, description=label)

    def close(self) -> None:
        self.progress.stop()
