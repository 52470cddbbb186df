"""Reading the verified history from the indexer's SQL (``ledger/index/sql``): the ``events`` table, as of a point.

The projections hold the current state, so nothing here reads them: a decision as of block B
takes the raw ``events`` rows at or before B (chain order) and the ``refused_calls`` rows at
or before B when that table exists (a database indexed by an older indexer has none: the
history then says it cannot see refused calls).

The as-of point must be final: at most the cursor's block less ``confirmations`` (a block
beyond it raises ``AsOfInFuture``). Without an as-of block the decision is as of that last
final block. The as-of time is the block's timestamp, read from its events or the indexer's
recent-block table (the newest event time at or before it when neither has the block).

On SQLite the history is read in bulk: the events the feature builder reads
(``history.SCORED_EVENTS``) come as a few long texts, the arguments one JSON array per event type
(``RawEvents``, ``History.raw``), rather than an object per row, and ``History.events`` reads every
event only when something iterates it (``scf score`` never does). On PostgreSQL the driver hands
over decoded rows (JSONB), read as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from itertools import pairwise
from pathlib import Path
from typing import Any, overload

import numpy as np
from sqlalchemy import Engine, inspect, text

from ledger.index.sql.db import make_engine, sqlite_path
from scoring.errors import AsOfInFuture, NoHistory
from scoring.history import SCORED_EVENTS, ChainEvent, History, RawEvents, RefusedCall

DEFAULT_CONFIRMATIONS = 12
#: The scored events in the order the bulk read tests for them: the commonest on a ledger first, the
#: rest in ``SCORED_EVENTS`` order.
_COMMONEST = ("MilestoneAttested", "OrderCreated", "Transfer", "PieceCreated", "PieceSplit", "ReceivableIssued")
_TESTED = sorted(
    range(len(SCORED_EVENTS)),
    key=lambda code: (
        _COMMONEST.index(SCORED_EVENTS[code][1]) if SCORED_EVENTS[code][1] in _COMMONEST else len(_COMMONEST)
    ),
)
EVENTS_QUERY = (
    "SELECT block_number, log_index, block_timestamp, contract, event, args FROM events "
    "WHERE chain_id = :c AND block_number <= :b ORDER BY block_number, log_index"
)
#: The scored events' columns in one statement, each column one text (SQLite's group_concat): the
#: statement runs in SQLite alone (without the GIL) and Python gets a few strings, not an object per
#: row. The arguments come as they are stored, one column per event type (an aggregate ``FILTER``),
#: each a JSON array for that type's decoder, as bytes (nothing for Python to decode or copy): no text
#: is built per row, which costs SQLite more than reading it. The filter keeps the scored (contract,
#: event) pairs, the names first (an IN list is a binary search: other events' rows never reach the
#: CASE), so the codes and the columns need only the event's name. The CASEs try the commonest events
#: first (``_TESTED``). Each row's code is worked out once, in a subquery that SQLite runs as a
#: co-routine (``LIMIT -1`` keeps it from being merged into the outer query, which would repeat the
#: CASE for the codes' column and compare the event's name again in each type's ``FILTER``): the
#: filters compare a small integer (a tenth less work for SQLite, measured). Rows come in the
#: index's order (chain order), the same for every column; the reader checks that rather than
#: trusting it.
RAW_QUERY = (
    "SELECT count(*), group_concat(code), group_concat(block_number), group_concat(log_index), "
    + "group_concat(block_timestamp), "
    + ", ".join(
        f"CAST('[' || group_concat(args) FILTER (WHERE code = {code}) || ']' AS BLOB)"
        for code in range(len(SCORED_EVENTS))
    )
    + " FROM (SELECT CASE event "
    + " ".join(f"WHEN '{SCORED_EVENTS[code][1]}' THEN {code}" for code in _TESTED)
    + " END AS code, block_number, log_index, block_timestamp, args"
    + " FROM events WHERE chain_id = ? AND block_number >= ? AND block_number <= ? AND event IN ("
    + ", ".join(f"'{event}'" for _, event in SCORED_EVENTS)
    + ") AND CASE event "
    + " ".join(f"WHEN '{SCORED_EVENTS[code][1]}' THEN contract = '{SCORED_EVENTS[code][0]}'" for code in _TESTED)
    + " END LIMIT -1)"
)
#: Rows past which the bulk read runs in two threads, each on its own connection and half the blocks.
PARALLEL_ROWS = 20_000
#: About as many rows per statement of a half: a half of many rows is read as several statements over
#: equal spans of its blocks. Each statement's texts then stay tens of MB, which the process reuses
#: from one statement to the next; one text of hundreds of MB costs SQLite more per byte (fresh
#: memory, grown again and again) than the same bytes in several.
PART_ROWS = 100_000


class SqlSource:
    """The indexer's database as the scorer's input (read only)."""

    def __init__(self, engine: Engine, chain_id: int | None = None) -> None:
        self.engine = engine
        self.chain_id, self.cursor_block = self._cursor(chain_id)

    @classmethod
    def open(cls, url: str | None = None, chain_id: int | None = None) -> SqlSource:
        """The database at ``url`` (else ``SCF_DB_URL``, else the devnet's SQLite file)."""
        return cls(make_engine(url), chain_id)

    def _cursor(self, chain_id: int | None) -> tuple[int, int]:
        if not inspect(self.engine).has_table("cursor"):
            raise NoHistory(f"{self.where}: not an indexed database (no cursor table); run `scf index` first")
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT chain_id, block_number FROM cursor ORDER BY chain_id")).all()
        if chain_id is not None:
            rows = [r for r in rows if r[0] == chain_id]
        if not rows:
            raise NoHistory(f"{self.where}: no indexed chain" + (f" {chain_id}" if chain_id is not None else ""))
        if len(rows) > 1:
            raise NoHistory(f"{self.where}: several chains indexed ({[r[0] for r in rows]}); say which")
        return int(rows[0][0]), int(rows[0][1])

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def has_refused_calls(self) -> bool:
        return inspect(self.engine).has_table("refused_calls")

    def last_final_block(self, confirmations: int = DEFAULT_CONFIRMATIONS) -> int:
        return self.cursor_block - confirmations

    def resolve(self, as_of_block: int | None = None, confirmations: int = DEFAULT_CONFIRMATIONS) -> tuple[int, int]:
        """(block, time) of the decision point: ``as_of_block`` or the last final block."""
        final = self.last_final_block(confirmations)
        block = final if as_of_block is None else as_of_block
        if block > final:
            raise AsOfInFuture(block, final, confirmations)
        if block < 0:
            raise NoHistory(
                f"{self.where}: no block is final yet (cursor {self.cursor_block}, {confirmations} confirmations)"
            )
        return block, self.block_time(block)

    def block_time(self, block: int) -> int:
        query = """
            SELECT block_timestamp FROM events WHERE chain_id = :c AND block_number = :b LIMIT 1
        """
        with self.engine.connect() as conn:
            found = conn.execute(text(query), {"c": self.chain_id, "b": block}).scalar()
            if found is None and inspect(self.engine).has_table("blocks"):
                found = conn.execute(
                    text("SELECT timestamp FROM blocks WHERE chain_id = :c AND number = :b"),
                    {"c": self.chain_id, "b": block},
                ).scalar()
            if found is None:
                found = conn.execute(
                    text("SELECT MAX(block_timestamp) FROM events WHERE chain_id = :c AND block_number <= :b"),
                    {"c": self.chain_id, "b": block},
                ).scalar()
        if found is None:
            raise NoHistory(f"{self.where}: no event at or before block {block} on chain {self.chain_id}")
        return int(found)

    def block_at(self, timestamp: int) -> int:
        """The last block with an event at or before ``timestamp`` (blocks without events change nothing)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT MAX(block_number) FROM events WHERE chain_id = :c AND block_timestamp <= :t"),
                {"c": self.chain_id, "t": timestamp},
            ).scalar()
        if found is None:
            raise NoHistory(f"{self.where}: no event at or before time {timestamp}")
        return int(found)

    def history(self, as_of_block: int | None = None, confirmations: int = DEFAULT_CONFIRMATIONS) -> History:
        """Every event (and refused call) at or before the as-of block."""
        block, when = self.resolve(as_of_block, confirmations)
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                # In bulk: the scored events as columns, and every event only when someone asks.
                raw, count = self._raw(conn, block)
                events: Sequence[ChainEvent] = _LazyEvents(self, block, count)
            else:
                raw, events = None, self._events(conn, block)
            refused = self._refused(conn, block) if self.has_refused_calls else None
        return History(self.chain_id, block, when, events, refused, "sql", raw)

    def _raw(self, conn: Any, block: int) -> tuple[RawEvents | None, int]:
        """The scored events as ``RawEvents`` (None when the rows did not come in chain order), and
        how many events there are in all. A large history is read in two halves at once (SQLite
        runs without the GIL): blocks up to the median row's, and after it, the second on a
        connection of its own; each half in statements of about ``PART_ROWS`` rows. All read blocks
        at or before the as-of block, which is final at the confirmation depth: rows the indexer
        never rewrites (only a reorg deeper than the confirmations could, as it could between any
        two reads of one history)."""
        driver = conn.connection.driver_connection
        count = int(
            driver.execute(
                "SELECT count(*) FROM events WHERE chain_id = ? AND block_number <= ?", (self.chain_id, block)
            ).fetchone()[0]
        )
        path = sqlite_path(self.engine.url.render_as_string(hide_password=False))
        if count < PARALLEL_ROWS or path is None:
            parts = [driver.execute(RAW_QUERY, (self.chain_id, 0, block)).fetchone()]
        else:
            middle = driver.execute(
                "SELECT block_number FROM events WHERE chain_id = ? AND block_number <= ? "
                "ORDER BY block_number LIMIT 1 OFFSET ?",
                (self.chain_id, block, count // 2),
            ).fetchone()[0]
            start = driver.execute(
                "SELECT min(block_number) FROM events WHERE chain_id = ?", (self.chain_id,)
            ).fetchone()[0]
            early = _spans(start, middle, -(-(count // 2) // PART_ROWS))
            late = _spans(middle + 1, block, -(-(count - count // 2) // PART_ROWS))
            with ThreadPoolExecutor(1) as pool:
                later = pool.submit(_read_raw, path, self.chain_id, late)
                parts = [*_read_spans(driver, self.chain_id, early), *later.result()]
        return _raw_events([p for p in parts if p[0]]), count

    def _events(self, conn: Any, block: int) -> list[ChainEvent]:
        loads, new = json.loads, ChainEvent
        if self.engine.dialect.name == "sqlite":
            # The driver's own cursor: SQLAlchemy's row objects cost more than reading the rows does.
            raw = conn.connection.driver_connection
            rows = raw.execute(
                "SELECT block_number, log_index, block_timestamp, contract, event, args FROM events "
                "WHERE chain_id = ? AND block_number <= ? ORDER BY block_number, log_index",
                (self.chain_id, block),
            ).fetchall()
            # One parse of all the arguments at once: a call of json.loads per row costs twice as much.
            parsed = loads("[" + ",".join([r[5] for r in rows]) + "]") if rows else []
            return [new(r[0], r[1], r[2], r[3], r[4], a) for r, a in zip(rows, parsed, strict=True)]
        result = conn.execution_options(stream_results=True, yield_per=50_000).execute(
            text(EVENTS_QUERY), {"c": self.chain_id, "b": block}
        )
        return [new(n, i, t, c, e, loads(a) if isinstance(a, str) else a) for n, i, t, c, e, a in result]

    def _refused(self, conn: Any, block: int) -> list[RefusedCall]:
        rows = conn.execute(
            text(
                "SELECT block_number, tx_index, sender, contract, function, error FROM refused_calls "
                "WHERE chain_id = :c AND block_number <= :b ORDER BY block_number, tx_index"
            ),
            {"c": self.chain_id, "b": block},
        )
        return [RefusedCall(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5] or "")) for r in rows]


def _spans(first: int, last: int, parts: int) -> list[tuple[int, int]]:
    """``first..last`` as up to ``parts`` consecutive block ranges of equal span (at least one)."""
    parts = max(1, min(parts, last + 1 - first))
    edges = [first + (last + 1 - first) * k // parts for k in range(parts)] + [last + 1]
    return [(a, b - 1) for a, b in pairwise(edges)]


def _read_spans(conn: Any, chain_id: int, spans: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    """``RAW_QUERY``'s row of each block range, in order."""
    return [conn.execute(RAW_QUERY, (chain_id, first, last)).fetchone() for first, last in spans]


def _read_raw(path: Path, chain_id: int, spans: list[tuple[int, int]]) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return _read_spans(conn, chain_id, spans)


def _raw_events(parts: list[tuple[Any, ...]]) -> RawEvents | None:
    """``RAW_QUERY``'s rows (consecutive block ranges, in order) as one ``RawEvents``."""
    if not parts:
        return RawEvents(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), ((),) * len(SCORED_EVENTS))

    def ints(column: int) -> np.ndarray:
        return np.concatenate([np.fromstring(p[column], dtype=np.int64, sep=",") for p in parts])

    code, number, log, time = ints(1), ints(2), ints(3), ints(4)
    if len(code) != sum(p[0] for p in parts) or not (
        np.all((number[1:] > number[:-1]) | ((number[1:] == number[:-1]) & (log[1:] >= log[:-1])))
    ):
        return None
    return RawEvents(code, time, tuple(tuple(p[5 + k] for p in parts if p[5 + k]) for k in range(len(SCORED_EVENTS))))


class _LazyEvents(Sequence[ChainEvent]):
    """Every event at or before ``block``, read from the database on first use: the feature
    builder reads ``History.raw`` instead, so a scorer never pays for these objects. The blocks are
    final (see ``SqlSource._raw``), so a later read gives the rows the bulk read saw."""

    def __init__(self, source: SqlSource, block: int, count: int) -> None:
        self._source, self._block, self._count = source, block, count
        self._events: list[ChainEvent] | None = None

    def _load(self) -> list[ChainEvent]:
        if self._events is None:
            with self._source.engine.connect() as conn:
                self._events = self._source._events(conn, self._block)
        return self._events

    def __len__(self) -> int:
        return self._count if self._events is None else len(self._events)

    @overload
    def __getitem__(self, index: int) -> ChainEvent: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ChainEvent]: ...
    def __getitem__(self, index: int | slice) -> ChainEvent | Sequence[ChainEvent]:
        return self._load()[index]

    def __iter__(self) -> Iterator[ChainEvent]:
        return iter(self._load())

    def __eq__(self, other: object) -> bool:
        return list(self._load()) == (list(other) if isinstance(other, Sequence) else other)

    __hash__ = None  # type: ignore[assignment]
