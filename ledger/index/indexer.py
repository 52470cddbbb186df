"""The indexer: every event of every deployed contract into SQL, exactly once, reorgs included.

How it works, page after page:

* **Read and check** (``ledger.index.reader``). A reader fetches a block range with raw
  ``eth_getLogs`` (the range adapts so that a page holds about ``PAGE_EVENTS`` events), checks
  it against the blocks' headers (the cursor's hash, the reorg window's parent hashes, every
  log's block hash), decodes each log, folds the history digest on and makes the rows to
  insert; with ``refusals`` (the default), the ``refused_calls`` rows of the transactions to a
  ledger contract that reverted (they leave no log, yet the scorer must see who tried what).
* **Write, once.** The page's events (bulk insert), their projections (``ledger.index.projections``),
  the window's block hashes and the cursor (last block number and hash, rolling history
  digest, event count) are written in ONE transaction. A crash (kill -9 included) leaves
  the database at the end of the last committed page; a restart resumes there. The events'
  unique key (chain id, block hash, tx hash, log index) refuses any duplicate.
  The refused calls of the page's blocks are written with it, and deleted by a reorg like the events.
* **Reorgs.** When the parent hash does not match (or the cursor's block is gone), the
  newest kept block whose hash the node still has is the common ancestor: in one
  transaction the events above it are deleted, the rows they touched are rebuilt from the
  events that remain (the one-event rows above it are deleted), and the cursor goes back to
  it; indexing then goes on along the new chain. When no kept block is on the node's chain
  any more (a reorg deeper than the window), ``ReorgTooDeep`` is raised and nothing is written.
* **Confirmations.** Only blocks at least ``confirmations`` below the head are indexed. The
  default is 0 on development chains (anvil, eth-tester: no reorg unless asked for) and 12
  elsewhere; a QBFT consortium chain (final blocks) can set 0.
* **Finality.** On a network whose file states a ``finalityDepth`` (``finality_depth``), a block that
  deep below the head is final: a reorg that replaces one raises ``FinalityViolated`` and writes
  nothing, since following it would rewrite history the network promised never changes. A reorg of
  blocks not yet final is followed as above (with confirmations at the finality depth, none is indexed).
* **One writer.** ``ledger.index.sql.lock`` holds the database for the indexer's life; a second
  indexer gets ``DatabaseLocked`` naming the first.

Reading (fetch, check, decode, digest, rows) and writing overlap: a reader prepares the next
pages while the writer commits the current one. Over HTTP the reader is a forked process of
its own (so both run on their own core); in process (eth-tester) it is a thread.

The modules: this one is the writer (``Indexer``); ``ledger.index.reader`` the reader;
``ledger.index.pages`` what passes between them (cursors, pages, the page size policy);
``ledger.index.node`` the reads of the node's blocks and headers; ``ledger.index.errors`` the errors.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select, update
from web3 import HTTPProvider

from ledger.eth.abi import abi_type
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.eth.history import MAX_SPAN, LedgerLog, LogDecoder, RawLog, checksum
from ledger.gc_pause import collector_paused
from ledger.index.errors import DeploymentChanged, FinalityViolated, IndexerError, ReorgTooDeep
from ledger.index.node import Header
from ledger.index.pages import START_SPAN, _Cursor, _Prepared, _Retry, next_span
from ledger.index.projections import FACTS, STATEFUL, Event, Key, Projector, touches
from ledger.index.reader import _Pager, _ReaderHandle, _ReaderSettings
from ledger.index.sql import models
from ledger.index.sql.db import WAL_CHECKPOINT_PAGES, sqlite_path, upgrade
from ledger.index.sql.lock import DatabaseLock, DatabaseLocked
from ledger.index.sql.types import ZERO_HASH
from ledger.toolchain.deploy import record_addresses, recorded_deployment

DEFAULT_WINDOW = 64
WAL_CHECKPOINT_BYTES = 32 << 20
DEV_CONFIRMATIONS = 0
CONFIRMATIONS = 12
ZERO_DIGEST = "0x" + "00" * 32

Reader = Literal["auto", "thread", "process"]

__all__ = ["DatabaseLocked", "Indexer", "Progress"]


@dataclass
class Progress:
    """Where the indexer is: for progress bars and for the caller's summary."""

    chain_id: int
    from_block: int
    block: int  # the cursor: last block written
    head: int  # the node's head when last asked
    target: int  # head - confirmations
    events: int  # events in the database
    written: int = 0  # events written by this run
    pages: int = 0
    reorgs: int = 0
    rolled_back: int = 0  # events removed by reorgs in this run
    seconds: float = 0.0
    last_page: tuple[int, int, int] = (0, 0, 0)  # (first block, last block, events)
    caught_up: bool = False
    reader: str = ""

    @property
    def rate(self) -> float:
        """Events written per second by this run."""
        return self.written / self.seconds if self.seconds > 0 else 0.0


class _Checkpointer(threading.Thread):
    """Checkpoints a SQLite WAL (PASSIVE) whenever it has grown past ``WAL_CHECKPOINT_BYTES``."""

    def __init__(self, engine: Engine, wal: Path) -> None:
        super().__init__(name="scf-index-checkpoint", daemon=True)
        self.engine, self.wal = engine, wal
        self.done = threading.Event()

    def run(self) -> None:
        raw = self.engine.raw_connection()
        try:
            while not self.done.wait(0.1):
                with contextlib.suppress(OSError):
                    if self.wal.stat().st_size > WAL_CHECKPOINT_BYTES:
                        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
        finally:
            raw.close()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)


# -- the indexer ----------------------------------------------------------------------------------


class Indexer:
    """Indexes ``addresses`` (contract name → address, ABIs in ``abis``) from ``from_block`` into ``engine``.

    Use as a context manager (or ``open``/``close``): the database lock is held in between.
    ``reader``: "thread", "process" (a forked process; HTTP nodes only) or "auto" (a process
    over HTTP where fork exists, else a thread).
    """

    def __init__(
        self,
        chain: Chain,
        engine: Engine,
        addresses: Mapping[str, str],
        abis: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        from_block: int = 0,
        confirmations: int | None = None,
        window: int = DEFAULT_WINDOW,
        span: int = START_SPAN,
        max_span: int = MAX_SPAN,
        pause: float = 0.0,
        poll: float = 1.0,
        reader: Reader = "auto",
        refusals: bool = True,
        finality_depth: int | None = None,
    ) -> None:
        if window < 1:
            raise IndexerError("the reorg window must keep at least one block")
        self.chain = chain
        self.engine = engine
        self.chain_id = chain.chain_id
        self.addresses = {name: checksum(address) for name, address in addresses.items()}
        self.abis = {name: [dict(item) for item in abis[name]] for name in addresses}
        self.decoder = LogDecoder(self.addresses, self.abis)
        self.from_block = max(0, from_block)
        default = DEV_CONFIRMATIONS if chain.accounts is not None else CONFIRMATIONS
        self.confirmations = default if confirmations is None else confirmations
        #: A network file's finality rule (None: the chain promises none, every reorg is followed).
        self.finality_depth = finality_depth
        self.window = window
        self.span = max(1, min(span, max_span))
        self.max_span = max(1, max_span)
        self.pause = pause
        self.poll = poll
        http = isinstance(chain.w3.provider, HTTPProvider)
        if reader == "process" and not http:
            raise IndexerError("a reader process needs an HTTP node; use reader='thread'")
        fork = "fork" in multiprocessing.get_all_start_methods()
        self.reader_kind = "process" if reader == "process" or (reader == "auto" and http and fork) else "thread"
        self._wide = _wide_arguments(self.abis)
        self.projector = Projector(self.chain_id, self.json_args)
        self._lock = DatabaseLock(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        self._cursor: _Cursor | None = None
        self._connection: Connection | None = None
        self._pager = _Pager(
            chain,
            _ReaderSettings(
                self.chain_id,
                self.addresses,
                self.abis,
                self.confirmations,
                self.window,
                self.max_span,
                self.poll,
                refusals,
            ),
        )

    # -- construction from a deployment record --------------------------------------------------

    @classmethod
    def for_deployment(
        cls,
        chain: Chain,
        engine: Engine,
        build: BuildResult,
        record_path: Path | None = None,
        *,
        from_block: int | None = None,
        **options: Any,
    ) -> Indexer:
        """An indexer of every contract in the deployment record of ``chain`` (deployments/<chainId>.json),
        from the earliest deployment block unless ``from_block`` says otherwise."""
        _, record = recorded_deployment(chain.chain_id, record_path)
        contracts: dict[str, Any] = record["contracts"]
        addresses = record_addresses(record)
        abis = {name: build[name].abi for name in contracts}
        if from_block is None:
            from_block = min(int(entry.get("blockNumber", 0)) for entry in contracts.values())
        return cls(chain, engine, addresses, abis, from_block=from_block, **options)

    # -- lifetime -------------------------------------------------------------------------------

    def open(self) -> Indexer:
        """Take the database (``DatabaseLocked`` when another indexer has it), bring its schema to
        the newest migration (under the lock: one migrator) and read the cursor."""
        self._lock.acquire()
        self.projector.forget()  # rows remembered from before: another indexer may have written since
        try:
            upgrade(self.engine)
            self._cursor = self._load_or_start()
        except BaseException:
            self._lock.release()
            raise
        return self

    def close(self) -> None:
        self._lock.release()
        self._cursor = None
        self.projector.forget()

    def __enter__(self) -> Indexer:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def cursor(self) -> tuple[int, str, str, int]:
        """(block number, block hash, history digest, event count) of the last block written."""
        state = self._state()
        return state.number, state.hash, state.digest, state.count

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        *,
        follow: bool = False,
        progress: Callable[[Progress], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Progress:
        """Index up to ``head - confirmations`` and return; with ``follow``, keep up until ``stop`` is set."""
        if self._cursor is None:
            self.open()
        cursor = self._state()
        state = Progress(self.chain_id, self.from_block, cursor.number, cursor.number, cursor.number, cursor.count)
        state.reader = self.reader_kind
        stop = stop or threading.Event()
        started = time.perf_counter()
        generation = 0
        with collector_paused(), self._writing():
            reader = _ReaderHandle(self._pager, self.reader_kind)
            try:
                reader.start(generation, cursor, self.span)
                while not stop.is_set():
                    message = reader.get(timeout=0.25)
                    if message is None or message.generation != generation:
                        continue
                    state.head, state.target = message.head, message.target
                    if message.kind == "error":
                        assert message.error is not None
                        raise message.error
                    if message.kind == "reorg":
                        self._roll_back(state)
                        generation += 1
                        reader.start(generation, self._state(), self.span)
                    elif message.kind == "page":
                        assert message.page is not None
                        self._apply_page(message.page, state)
                    else:
                        state.caught_up = True
                    state.seconds = time.perf_counter() - started
                    if progress is not None:
                        progress(state)
                    if message.kind == "idle" and not follow:
                        break
                    if message.kind == "page":
                        if state.pages % 16 == 0:
                            gc.collect(0)
                        if self.pause:
                            stop.wait(self.pause)
            finally:
                reader.stop()
        state.seconds = time.perf_counter() - started
        return state

    def step(self, state: Progress | None = None) -> bool:
        """One page, synchronously (or, with nothing new, a check that the cursor's block is still
        the node's). Returns True when it wrote something (a page or a rollback)."""
        cursor = self._state()
        state = state or Progress(self.chain_id, self.from_block, cursor.number, cursor.number, cursor.number, 0)
        try:
            message = self._pager.next(cursor, self.span, 0)
        except _Retry:
            return False
        state.head, state.target = message.head, message.target
        if message.kind == "reorg":
            self._roll_back(state)
            return True
        if message.page is None:
            state.caught_up = True
            return False
        page = message.page
        self.span = next_span(self.span, len(page.rows), page.high - page.low + 1, self.max_span)
        self._apply_page(page, state)
        return True

    def _apply_page(self, page: _Prepared, state: Progress) -> None:
        cursor = self._state()
        if page.parent != cursor:
            raise IndexerError(f"a page read after block {page.parent.number} came for the cursor at {cursor.number}")
        self._write(page)
        state.block, state.events = self._state().number, self._state().count
        state.written += len(page.rows)
        state.pages += 1
        state.last_page = (page.low, page.high, len(page.rows))
        state.caught_up = page.high >= state.target

    # -- writing a page -----------------------------------------------------------------------------

    def json_args(self, log: Event | LedgerLog) -> dict[str, Any]:
        """An event's arguments as stored: integers of ABI types wider than 64 bits as decimal strings."""
        wide = self._wide.get((log.contract, log.event))
        if not wide:
            return log.args
        args = dict(log.args)
        for name in wide:
            value = args[name]
            args[name] = [str(v) for v in value] if isinstance(value, list) else str(value)
        return args

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One connection for every page of a run; on a SQLite file, the WAL is checkpointed by a
        thread of its own (PASSIVE: it never stops the writer) instead of inside the commits."""
        path = sqlite_path(self.engine.url.render_as_string(hide_password=False)) if self._sqlite else None
        with self.engine.connect() as conn:
            checkpoints = None
            if path is not None:
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                conn.commit()
                checkpoints = _Checkpointer(self.engine, path.with_name(path.name + "-wal"))
                checkpoints.start()
            self._connection = conn
            try:
                yield
            finally:
                self._connection = None
                if checkpoints is not None:
                    checkpoints.stop()
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                    conn.commit()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._connection is None:
            with self.engine.begin() as conn:
                yield conn
        else:
            with self._connection.begin():
                yield self._connection

    def _write(self, page: _Prepared) -> None:
        chain_id = self.chain_id
        with self._forgetting(), self._transaction() as conn:
            if page.rows:
                self._insert_events(conn, page.rows)
                self.projector.apply(conn, page.events)
            if page.refused:
                conn.execute(insert(models.REFUSED_CALLS), page.refused)
            table = models.BLOCKS
            conn.execute(delete(table).where(table.c.chain_id == chain_id, table.c.number >= page.low))
            conn.execute(insert(table), page.blocks)
            conn.execute(delete(table).where(table.c.chain_id == chain_id, table.c.number <= page.high - self.window))
            self._save_cursor(conn, page.end)
        self._cursor = page.end

    @contextmanager
    def _forgetting(self) -> Iterator[None]:
        """The projector's remembered rows go with a transaction that fails."""
        try:
            yield
        except BaseException:
            self.projector.forget()
            raise

    def _insert_events(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Bulk insert straight to the driver on SQLite and PostgreSQL (no per-row processing)."""
        dialect = conn.dialect.name
        if dialect == "sqlite":
            conn.exec_driver_sql(_INSERT_EVENTS.format(mark="?", json="?"), rows)
        elif dialect == "postgresql":
            conn.exec_driver_sql(_INSERT_EVENTS.format(mark="%s", json="CAST(%s AS JSONB)"), rows)
        else:
            values = [dict(zip(_EVENT_COLUMNS, row, strict=True)) for row in rows]
            for value in values:
                value["args"] = json.loads(value["args"])
            conn.execute(insert(models.EVENTS), values)

    # -- reorgs ---------------------------------------------------------------------------------

    def _roll_back(self, state: Progress) -> None:
        """Go back to the newest kept block the node still has, and forget everything above it."""
        table = models.BLOCKS
        with self.engine.connect() as conn:
            kept = conn.execute(
                select(table.c.number, table.c.hash, table.c.digest, table.c.event_count)
                .where(table.c.chain_id == self.chain_id)
                .order_by(table.c.number.desc())
            ).all()
        cursor = self._state()
        node = self._pager.rpc.headers([row.number for row in kept if row.number >= 0])
        ancestor = None
        for row in kept:
            header = node.get(row.number)
            if (header is not None and header.hash == row.hash) or (row.number < 0 and row.hash == ZERO_HASH):
                ancestor = _Cursor(row.number, row.hash, row.digest, row.event_count)
                break
        if self.finality_depth is not None:
            # The first replaced block is the one above the common ancestor (or the oldest kept one).
            oldest_kept = min((row.number for row in kept), default=cursor.number)
            replaced = ancestor.number + 1 if ancestor is not None else oldest_kept
            head = self.chain.block_number
            if head - replaced >= self.finality_depth:
                raise FinalityViolated(self.chain_id, replaced, head, self.finality_depth)
        if ancestor is None:
            oldest = min((row.number for row in kept), default=cursor.number)
            raise ReorgTooDeep(self.chain_id, cursor.number, oldest, self.window)
        self.projector.forget()
        with self._forgetting(), self._transaction() as conn:
            removed = self._forget_above(conn, ancestor.number)
            self._save_cursor(conn, ancestor)
        self._cursor = ancestor
        state.reorgs += 1
        state.rolled_back += removed
        state.block, state.events = ancestor.number, ancestor.count

    def _forget_above(self, conn: Connection, number: int) -> int:
        """Delete every event above block ``number`` and rebuild the rows they touched; events removed."""
        events = models.EVENTS
        above = conn.execute(
            _event_query().where(events.c.chain_id == self.chain_id, events.c.block_number > number)
        ).all()
        affected: dict[str, set[Key]] = {name: set() for name in STATEFUL}
        for event in self._decode_rows(above):
            for name, key in touches(event):
                affected[name].add(key)
        conn.execute(delete(events).where(events.c.chain_id == self.chain_id, events.c.block_number > number))
        for table in (*FACTS.values(), models.REFUSED_CALLS):
            conn.execute(delete(table).where(table.c.chain_id == self.chain_id, table.c.block_number > number))
        blocks = models.BLOCKS
        conn.execute(delete(blocks).where(blocks.c.chain_id == self.chain_id, blocks.c.number > number))
        if any(affected.values()):
            remaining = conn.execute(
                _event_query().where(events.c.chain_id == self.chain_id).execution_options(yield_per=5_000)
            )
            self.projector.rebuild(
                conn, affected, (event for rows in remaining.partitions() for event in self._decode_rows(rows))
            )
        return len(above)

    def _decode_rows(self, rows: Iterable[Any]) -> list[Event]:
        raws = [
            RawLog(r[0], r[1], r[2], r[3], r[4], r[5], tuple(t for t in r[6:10] if t is not None), r[10], r[11])
            for r in rows
        ]
        return [Event.of(log, int(log.raw.block_timestamp or 0)) for log in self.decoder.decode_many(raws)]

    # -- the cursor -----------------------------------------------------------------------------

    def _state(self) -> _Cursor:
        if self._cursor is None:
            raise IndexerError("the indexer is not open (use it as a context manager or call open())")
        return self._cursor

    def _load_or_start(self) -> _Cursor:
        table = models.CURSOR
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.chain_id == self.chain_id)).mappings().first()
        if row is not None:
            if row["addresses"] != self.addresses:
                raise DeploymentChanged(self.chain_id, row["addresses"], self.addresses)
            self.from_block = int(row["from_block"])
            return _Cursor(int(row["block_number"]), row["block_hash"], row["digest"], int(row["event_count"]))
        start = self.from_block - 1
        if start < 0:
            header = Header(-1, ZERO_HASH, ZERO_HASH, 0)
        else:
            found = self._pager.rpc.headers([start]).get(start)
            if found is None:
                raise IndexerError(f"chain {self.chain_id} has no block {start} yet (indexing from {self.from_block})")
            header = found
        cursor = _Cursor(header.number, header.hash, ZERO_DIGEST, 0)
        with self.engine.begin() as conn:
            conn.execute(
                insert(table),
                {
                    "chain_id": self.chain_id,
                    "block_number": cursor.number,
                    "block_hash": cursor.hash,
                    "digest": cursor.digest,
                    "event_count": 0,
                    "from_block": self.from_block,
                    "addresses": self.addresses,
                    "updated_at": int(time.time()),
                },
            )
            conn.execute(
                insert(models.BLOCKS),
                {
                    "chain_id": self.chain_id,
                    "number": header.number,
                    "hash": header.hash,
                    "parent_hash": header.parent_hash,
                    "timestamp": header.timestamp,
                    "digest": ZERO_DIGEST,
                    "event_count": 0,
                },
            )
        return cursor

    def _save_cursor(self, conn: Connection, cursor: _Cursor) -> None:
        table = models.CURSOR
        conn.execute(
            update(table)
            .where(table.c.chain_id == self.chain_id)
            .values(
                block_number=cursor.number,
                block_hash=cursor.hash,
                digest=cursor.digest,
                event_count=cursor.count,
                updated_at=int(time.time()),
            )
        )


# -- helpers -----------------------------------------------------------------------------------


def _event_query() -> Any:
    e = models.EVENTS.c
    return (
        select(e.block_number, e.block_hash, e.tx_hash, e.tx_index, e.log_index, e.address)
        .add_columns(e.topic0, e.topic1, e.topic2, e.topic3, e.data, e.block_timestamp)
        .order_by(e.block_number, e.log_index)
    )


_EVENT_COLUMNS = tuple(c.name for c in models.EVENTS.c if c.name != "id")
_INSERT_EVENTS = (
    f"INSERT INTO {models.EVENTS.name} ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(['{mark}'] * (len(_EVENT_COLUMNS) - 1))}, {{json}})"
)
_WIDE = re.compile(r"u?int(\d+)(\[\d*\])?$")


def _wide_arguments(abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(contract, event) → the arguments whose integers may not fit 64 bits: stored as decimal strings."""
    wide: dict[tuple[str, str], tuple[str, ...]] = {}
    for contract, abi in abis.items():
        for item in abi:
            if item.get("type") != "event":
                continue
            names = []
            for param in item["inputs"]:
                match = _WIDE.match(abi_type(param))
                if match and int(match.group(1)) > 64 and not (param.get("indexed") and match.group(2)):
                    names.append(param["name"])
            if names:
                wide[(contract, item["name"])] = tuple(names)
    return wide
