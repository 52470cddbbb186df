"""The audit's findings: every mismatch with its location, the counts, the history digest.

A ``Mismatch`` is something the chain says that the replay does not (or the other way
round): a broken block link, a mined transaction the models reject, an event or a token
transfer the models did not predict, a signer that does not recover, a view that disagrees
with the re-derived state. A ``Gap`` is something the replay could not check (a function it
does not model): reported, never silently skipped, but not a disagreement.

``Report.to_json`` is what ``scf audit replay --json FILE`` writes; ``Report.lines`` what it
prints. Values are JSON-ready: bytes as ``0x`` hex; a finding's expected and actual values hold their ints
as decimal strings (uint256s), while counts, block numbers and log indexes stay JSON numbers.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def jsonable(value: Any, *, ints: bool = False) -> Any:
    """``value`` as plain JSON data: bytes as 0x hex, dataclasses and tuples as dicts and lists, and every
    int a decimal string (a finding's values are mostly uint256 amounts and ids, which a JSON number
    does not carry exactly past 2**53 in JavaScript and most readers; one rule for all of them).
    ``ints``: keep ints as ints (for text meant for people)."""
    if isinstance(value, int) and not isinstance(value, bool | enum.IntEnum) and not ints:
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, enum.IntEnum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), ints=ints) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {
            str(jsonable(k, ints=ints)) if not isinstance(k, str) else k: jsonable(v, ints=ints)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, ints=ints) for v in value]
    return value


@dataclass(frozen=True)
class Location:
    """Where a finding is: a block, a transaction and log, a contract's function, a view, or a
    SQL row (``table``, ``key`` naming the row, e.g. ``orders[order_id=17]``, and ``column``)."""

    block: int | None = None
    tx: str | None = None
    log_index: int | None = None
    contract: str | None = None
    function: str | None = None
    view: str | None = None
    key: str | None = None
    table: str | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def __str__(self) -> str:
        parts = []
        if self.block is not None:
            parts.append(f"block {self.block}")
        if self.tx:
            parts.append(f"tx {self.tx}")
        if self.log_index is not None:
            parts.append(f"log {self.log_index}")
        if self.contract:
            called = f"{self.contract}.{self.function}" if self.function else self.contract
            parts.append(called)
        if self.view:
            parts.append(f"view {self.view}({self.key or ''})")
        if self.table:
            row = self.key or self.table
            parts.append(f"sql {row}.{self.column}" if self.column else f"sql {row}")
        return ", ".join(parts) or "-"


class Kind(enum.StrEnum):
    """What went wrong."""

    CONTINUITY = "block-continuity"  # a block's parentHash is not the previous block's hash
    BLOCK_HASH = "block-hash"  # a log or transaction names another hash for its block (a reorg mid-replay)
    REJECTED = "rejected"  # the models reject a transaction the chain mined successfully
    EVENTS = "events"  # the contract emitted other events than the models predict
    TRANSFERS = "transfers"  # the token moved other amounts than the models predict
    EVENT_ARGS = "event-args"  # an event argument (signers, ids) differs from the replay's
    UNKNOWN_EVENT = "unknown-event"  # a log no ABI explains
    MODEL_ERROR = "model-error"  # the models' own books broke (or calldata the ABI refuses)
    VIEW = "view"  # a view at the last block disagrees with the re-derived state
    INVARIANT = "invariant"  # the re-derived state breaks an accounting invariant
    WIRING = "wiring"  # the contracts are linked to, or sign under, something else than the deployment
    SQL = "sql"  # a row of the indexer's database differs from what the chain and the replay say


@dataclass(frozen=True)
class Mismatch:
    kind: Kind
    location: Location
    expected: Any = None
    actual: Any = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "location": self.location.as_dict(),
            "expected": jsonable(self.expected),
            "actual": jsonable(self.actual),
            "detail": self.detail,
        }

    def __str__(self) -> str:
        text = f"[{self.kind}] {self.location}"
        if self.detail:
            text += f": {self.detail}"
        if self.expected is not None or self.actual is not None:
            if self.kind is Kind.SQL:  # the chain's value against the row's
                text += f" (chain {_short(self.expected)}, row {_short(self.actual)})"
            else:
                text += f" (expected {_short(self.expected)}, chain {_short(self.actual)})"
        return text


@dataclass(frozen=True)
class Gap:
    """A transaction the replay could not check: it calls a function no model covers."""

    location: Location
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location.as_dict(), "reason": self.reason}

    def __str__(self) -> str:
        return f"[unmodelled] {self.location}: {self.reason}"


def _short(value: Any, limit: int = 300) -> str:
    text = str(jsonable(value, ints=True))
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Counts:
    blocks: int = 0  # headers checked for continuity
    logs: int = 0  # logs of the deployed contracts in the digest's range
    transactions: int = 0  # transactions that left a log of a deployed contract: replayed
    quiet_calls: int = 0  # transactions to a deployed contract that left no log (reverted or no-op)
    reverted_calls: int = 0  # of which reverted (the indexer's refused_calls)
    other_transactions: int = 0  # transactions in the blocks that touch no deployed contract
    signatures: int = 0  # EIP-712 signatures recovered and checked
    internal_calls: int = 0  # calls into the ledger from inside transactions to other contracts (wallets): replayed
    code_lookups: int = 0  # eth_getCode of named signers: key or contract wallet (ledger.audit.wallets)
    wallet_signatures: int = 0  # of the signatures, those a contract wallet answered by ERC-1271
    views: int = 0  # view calls compared at the last block
    events: Counter[str] = field(default_factory=Counter)  # "Contract.Event" → logs
    calls: Counter[str] = field(default_factory=Counter)  # "Contract.function" → replayed transactions

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocks": self.blocks,
            "logs": self.logs,
            "transactions": self.transactions,
            "quiet_calls": self.quiet_calls,
            "reverted_calls": self.reverted_calls,
            "other_transactions": self.other_transactions,
            "signatures": self.signatures,
            "internal_calls": self.internal_calls,
            "code_lookups": self.code_lookups,
            "wallet_signatures": self.wallet_signatures,
            "views": self.views,
            "events": dict(sorted(self.events.items())),
            "calls": dict(sorted(self.calls.items())),
        }


@dataclass
class Report:
    chain_id: int
    from_block: int
    to_block: int
    to_block_hash: str
    digest: str
    counts: Counts
    mismatches: list[Mismatch]
    gaps: list[Gap]
    seconds: float
    replayed_from: int  # the models' state is re-derived from here (the deployment), whatever from_block says
    timings: dict[str, float] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    #: When a database was compared (``ledger.audit.sql``): its URL (password hidden) and rows checked per table.
    database: str | None = None
    sql_rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def digest_line(self) -> str:
        """The one line two auditors compare."""
        return (
            f"chain {self.chain_id} blocks {self.from_block}..{self.to_block} "
            f"logs {self.counts.logs} digest {self.digest}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chainId": self.chain_id,
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "toBlockHash": self.to_block_hash,
            "replayedFrom": self.replayed_from,
            "digest": self.digest,
            "digestLine": self.digest_line,
            "counts": self.counts.as_dict(),
            "mismatches": [m.as_dict() for m in self.mismatches],
            "mismatchKinds": dict(Counter(str(m.kind) for m in self.mismatches)),
            "gaps": [g.as_dict() for g in self.gaps],
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "addresses": self.addresses,
            **({"database": self.database, "sqlRows": dict(self.sql_rows)} if self.database is not None else {}),
        }

    def lines(self, *, limit: int | None = None) -> list[str]:
        """The human report: counts, every mismatch (up to ``limit``), gaps, the digest line."""
        c = self.counts
        out = [
            f"audit replay of chain {self.chain_id}, blocks {self.from_block}..{self.to_block} "
            f"(state re-derived from block {self.replayed_from}) in {self.seconds:.2f}s",
            f"  blocks checked {c.blocks}, logs {c.logs}, transactions replayed {c.transactions}, "
            f"signatures verified {c.signatures}, views compared {c.views}",
            f"  not replayed: {c.quiet_calls} calls that left no log ({c.reverted_calls} reverted, the others "
            "changed nothing), "
            f"{c.other_transactions} other transactions",
        ]
        if c.internal_calls or c.wallet_signatures:
            out.append(
                f"  contract wallets: {c.internal_calls} calls replayed from inside their transactions, "
                f"{c.wallet_signatures} ERC-1271 signatures asked ({c.code_lookups} signers' code looked up)"
            )
        if c.calls:
            out.append("  calls: " + ", ".join(f"{k} {v}" for k, v in sorted(c.calls.items())))
        if c.events:
            out.append("  events: " + ", ".join(f"{k} {v}" for k, v in sorted(c.events.items())))
        if self.database is not None:
            rows = ", ".join(f"{k} {v}" for k, v in self.sql_rows.items())
            out.append(f"  sql rows checked in {self.database}: {sum(self.sql_rows.values())} ({rows})")
        shown = self.mismatches if limit is None else self.mismatches[:limit]
        out.append(f"  mismatches: {len(self.mismatches)}")
        out += [f"    {m}" for m in shown]
        if len(shown) < len(self.mismatches):
            out.append(f"    ... {len(self.mismatches) - len(shown)} more (see --json)")
        if self.gaps:
            out.append(f"  unmodelled (not checked): {len(self.gaps)}")
            gaps = self.gaps if limit is None else self.gaps[:limit]
            out += [f"    {g}" for g in gaps]
        out.append(("OK " if self.ok else "MISMATCH ") + self.digest_line)
        return out
