"""The player's desk: the world's accounts, the contract clients and senders, and its books of what is on chain.

A played world sends from many parties at once, and the player keeps, off chain, what it needs to decide
the next move without reading the chain back: the orders in flight (``LiveOrder``: the EPCIS events still
to witness, the settlement stage) and the receivable trees (``Root``, ``Piece``: who holds what, split or
financed), with each receivable's invoice as its parties keep it (``Invoice``: the number, its salt, the
fingerprint and commitment that went on chain instead). ``Desk`` holds that state and the plumbing every
move uses (signing accounts, batch sending with its phase timing, the dev node's clock). The moves are
layered on top of it, one subclass per part of the trade, so each module stays about one thing:
``scenarios.financing`` (receivables: paid down the tiers, sold to banks, repaid, claimed) and
``scenarios.player`` (setup, orders, oracles, settlement, and the week that runs them all).
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.membership import MembershipClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchFailed, BatchResult, BatchSender, Call
from ledger.eth.chain import Chain
from ledger.eth.history import RawLog
from ledger.eth.jsonrpc import as_int
from oracles.aggregator import Aggregator
from oracles.capture import CaptureService
from scenarios.errors import ChainNotSupported, PlayFailed
from scenarios.facts import decoder
from scenarios.pipeline import PipelinedSender
from scenarios.plan import Plan, PlannedOrder
from scenarios.records import Checkpoint, Refusal
from scenarios.world import BANK, Party, World

ProgressFn = Callable[[int, int, str], None]


@dataclass
class LiveOrder:
    """An order the player created: the EPCIS events its oracles have yet to witness, and its settlement stage."""

    plan: PlannedOrder
    order_id: int = 0
    pending: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (time, kind, EPCIS event)
    delivered_tick: int | None = None
    stage: str = "open"  # open | awaiting_release | disputed | answered | done
    dispute_tick: int = 0


@dataclass
class Piece:
    """A piece of a receivable tree as the player last left it (``level`` 1 is the root's own piece)."""

    piece_id: int
    root_id: int
    holder: int
    amount: int
    level: int
    financed: bool = False
    split: bool = False
    reserved: int = 0


@dataclass(frozen=True)
class Invoice:
    """An invoice as its parties keep it off chain (number, amount, date, the commitment's salt) and the
    two values that go on chain instead of its number: the keyed fingerprint and the salted commitment."""

    number: str
    amount: int
    date: str  # YYYY-MM-DD, UTC
    salt: bytes
    fingerprint: bytes
    commitment: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "invoiceNumber": self.number,
            "amount": str(self.amount),
            "date": self.date,
            "salt": "0x" + self.salt.hex(),
            "fingerprint": "0x" + self.fingerprint.hex(),
            "commitment": "0x" + self.commitment.hex(),
        }


@dataclass
class Root:
    """A receivable as issued, and whether (``repay_tick``: when; -1: never) its debtor repays it."""

    root_id: int
    debtor: int
    creditor: int
    face: int
    maturity: int
    invoice: Invoice
    nonce: int
    status: str = "outstanding"  # outstanding | repaid | defaulted
    repay_tick: int | None = None


class Desk:
    """The state and plumbing of a play; the moves are in its subclasses (see the module's docstring)."""

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
        self.orders: list[LiveOrder] = []
        self.pieces: dict[int, Piece] = {}
        self.roots: dict[int, Root] = {}
        # Every invoice a receivable was issued (or attempted) for, by fingerprint: kept off chain only.
        self.invoices: dict[bytes, Invoice] = {}
        self.consortium_key = world.config.consortium_key()
        # Indexes over the pieces: a supplier's unsplit, unfinanced pieces; a root's pieces.
        self.held: defaultdict[int, set[int]] = defaultdict(set)
        self.tree: defaultdict[int, list[int]] = defaultdict(list)
        self.refusals: list[Refusal] = []
        self.epcis: Counter[str] = Counter()
        self.bank_nonce: Counter[int] = Counter()
        self.banks = [p.index for p in world.of_kind(BANK)]
        self.attempted: set[str] = set()
        self.to_pay: list[LiveOrder] = []
        self.batch = BatchSender(chain, chunk=250, mine_every=1_000)
        # Calls that allocate ids, in plan order: one request each, pipelined (``scenarios.pipeline``).
        self.ordered = PipelinedSender(chain, every=1_000)
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
        block = self.batch.rpc.call("eth_getBlockByNumber", ["latest", False])
        return Checkpoint(as_int(block["number"]), as_int(block["timestamp"]))

    def head(self) -> int:
        """The last mined block's number."""
        return as_int(self.batch.rpc.call("eth_blockNumber", []))
