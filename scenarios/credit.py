"""What a scoring bank knows of credit during a play: the shipped model's decisions as of the last month end.

A bank that prices from the score re-scores once a month, as a real desk refreshes its limits: at
the first tick of each month it reads the ledger's events since its last read straight from the
chain (``scoring.chain_source.ChainEvents`` over the new blocks only, so a year of reads costs one
pass over the logs), builds the feature table as of the block just mined and decides every party
with the shipped model (``scoring/models/default.json``, never refitted on the world it plays in).
Between refreshes the decisions stand, as published limits do for their validity.

Only verified history counts, and only what any member could see: events from the chain and the
refused double-financing attempts the play recorded (each is a mined, reverted transaction, which
``scf index`` keeps as a refused call), turned into the ``RefusedCall`` the scorer reads, so a
flagged party is flagged here as in the API.

A core enterprise is not scored (``NOT_SCORED``): its PD is priced from its record as a debtor
(``scoring.pricing.debtor_record_of``), which this view hands out beside the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from eth_utils import to_checksum_address

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from scenarios.records import Refusal
from scoring.chain_source import ChainEvents
from scoring.decision import Decision, Scorer
from scoring.features import FeatureTable, build
from scoring.history import ChainEvent, History, RefusedCall
from scoring.pricing import DebtorRecord, debtor_record_of
from scoring.scorecard import Model

SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "scoring" / "models" / "default.json"
_CONTRACTS = ("Membership", "CreditRegistry", "TradeEscrow", "Receivables")
_FUNCTION_OF = {"second_sale": "finance", "duplicate_invoice": "issue"}


class CreditView:
    """The shipped model's decisions on a played chain, refreshed by ``refresh(block, time, refusals)``."""

    def __init__(
        self, chain: Chain, build_result: BuildResult, addresses: Mapping[str, str], *, model: Model | None = None
    ) -> None:
        self.chain = chain
        self.model = model if model is not None else Model.load(SHIPPED_MODEL)
        names = [n for n in _CONTRACTS if n in addresses]
        self._addresses = {n: addresses[n] for n in names}
        self._abis = {n: build_result[n].abi for n in names}
        self._events: list[ChainEvent] = []
        self._read_to = -1
        self._receipts: dict[str, int] = {}
        self._table: FeatureTable | None = None
        self._scorer: Scorer | None = None
        self._decisions: dict[str, Decision | None] = {}
        self.as_of_block: int | None = None
        self.as_of_time: int | None = None
        self.refreshes = 0

    @property
    def version(self) -> str:
        return self.model.version

    def refresh(self, as_of_block: int, as_of_time: int, refusals: Sequence[Refusal]) -> None:
        """Read the blocks up to ``as_of_block`` not read yet and decide again as of it."""
        if as_of_block > self._read_to:
            fresh = ChainEvents(self.chain, self._addresses, self._abis, as_of_block, from_block=self._read_to + 1)
            self._events.extend(fresh.events)
            self._read_to = as_of_block
        refused = [self._refused(r) for r in refusals if r.block <= as_of_block and r.error]
        history = History(self.chain.chain_id, as_of_block, as_of_time, tuple(self._events), refused, "chain")
        self._table = build(history)
        self._scorer = Scorer(self._table, self.model)
        self._decisions = {}
        self.as_of_block, self.as_of_time = as_of_block, as_of_time
        self.refreshes += 1

    def decision(self, address: str) -> Decision | None:
        """The party's decision as of the last refresh; None before the first, or for a party not on the ledger."""
        if self._scorer is None or self._table is None:
            return None
        key = to_checksum_address(address)
        if key not in self._decisions:
            i = self._table.index.get(key)
            member = i is not None and bool(self._table.member[i])
            self._decisions[key] = self._scorer.decide_index(i) if member and i is not None else None
        return self._decisions[key]

    def debtor_record(self, address: str) -> DebtorRecord | None:
        """A party's record as a debtor (what prices a core enterprise), as of the last refresh."""
        if self._table is None:
            return None
        i = self._table.index.get(to_checksum_address(address))
        return None if i is None else debtor_record_of(self._table, i)

    def _refused(self, refusal: Refusal) -> RefusedCall:
        index = self._receipts.get(refusal.tx_hash)
        if index is None:
            receipt = self.chain.w3.eth.get_transaction_receipt(refusal.tx_hash)  # type: ignore[arg-type]
            index = self._receipts[refusal.tx_hash] = int(receipt["transactionIndex"])
        assert refusal.error is not None
        return RefusedCall(
            refusal.block,
            index,
            to_checksum_address(refusal.actor),
            "Receivables",
            _FUNCTION_OF.get(refusal.scheme, refusal.scheme),
            refusal.error,
        )
