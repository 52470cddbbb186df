"""The indexer: every event of every deployed contract into SQL, exactly once, reorgs included.

How it works, page after page:

* **Read.** ``ledger.history.fetch_raw_logs`` (``fetch_logs``'s pages, as the node's JSON)
  reads a block range with raw ``eth_getLogs``; the range adapts so that a page holds about
  ``PAGE_EVENTS`` events. Each log is decoded by the function ``LogDecoder.reader`` generated
  once for its (address, topic0), its arguments written as JSON by a function generated from
  the ABI (integers wider than 64 bits as decimal strings), and the history digest folded on
  (``HistoryDigest.add_json``): the rows to insert come out ready, no object per log between.
* **Check.** Before the logs, the headers of the page's first and last blocks (and, near the
  chain head, of every block within the reorg window) are read in one batch: the first
  block's parent hash must be the cursor's hash (else the chain reorganised under the
  cursor), the window's blocks must link up by parent hash, and every log's block hash must
  be its header's. After the logs, the last block's hash is read again: unchanged, the logs
  belong to that chain.
* **Write, once.** The page's events (bulk insert), their projections (``ledger.projections``),
  the window's block hashes and the cursor (last block number and hash, rolling history
  digest, event count) are written in ONE transaction. A crash (kill -9 included) leaves
  the database at the end of the last committed page; a restart resumes there. The events'
  unique key (chain id, block hash, tx hash, log index) refuses any duplicate.
* **Refused calls.** A transaction to a ledger contract that reverted leaves no log, yet it is
  mined and signed by its sender: the scorer must see who tried what. With ``refusals`` (the
  default) each block's transaction count is read; a block with more transactions than left
  logs has its transaction hashes read, the quiet ones are fetched by hash, those sent to a
  ledger contract get their outcome (``trace_transaction`` where the node keeps traces, else the
  receipt and an ``eth_call`` at the parent block) and the reverted ones become
  ``refused_calls`` rows (``ledger.audit.refusals``: function, arguments, custom error), written
  with the page and its cursor, deleted by a reorg like the events. When every transaction
  left a log this costs one small answer per block.
* **Reorgs.** When the parent hash does not match (or the cursor's block is gone), the
  newest kept block whose hash the node still has is the common ancestor: in one
  transaction the events above it are deleted, the rows they touched are rebuilt from the
  events that remain (the one-event rows above it are deleted), and the cursor goes back to
  it; indexing then goes on along the new chain. When no kept block is on the node's chain
  any more (a reorg deeper than the window), ``ReorgTooDeep`` is raised and nothing is written.
* **Confirmations.** Only blocks at least ``confirmations`` below the head are indexed. The
  default is 0 on development chains (anvil, eth-tester: no reorg unless asked for) and 12
  elsewhere; a QBFT consortium chain (final blocks) can set 0.
* **One writer.** ``ledger.sql.lock`` holds the database for the indexer's life; a second
  indexer gets ``DatabaseLocked`` naming the first.

Reading (fetch, check, decode, digest, rows) and writing overlap: a reader prepares the next
pages while the writer commits the current one. Over HTTP the reader is a forked process of
its own (so both run on their own core); in process (eth-tester) it is a thread.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import pickle
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
from hexbytes import HexBytes
from sqlalchemy import Connection, Engine, delete, insert, select, update
from web3 import HTTPProvider

from ledger.audit.refusals import RefusalDecoder, outcomes
from ledger.audit.rpc import Rpc as AuditRpc
from ledger.chain import Chain, abi_type
from ledger.compiler import BuildResult
from ledger.deploy import record_addresses, recorded_deployment
from ledger.errors import ChainUnavailable, LedgerError
from ledger.history import (
    MAX_SPAN,
    ArgsReader,
    HistoryDigest,
    JsonWriter,
    LedgerLog,
    LogDecoder,
    RawLog,
    checksum,
    fetch_raw_logs,
    json_args_writers,
)
from ledger.projections import FACTS, STATEFUL, Event, Key, Projector, handled, touches
from ledger.sql import models
from ledger.sql.db import WAL_CHECKPOINT_PAGES, sqlite_path, upgrade
from ledger.sql.lock import DatabaseLock, DatabaseLocked
from ledger.sql.types import ZERO_HASH

DEFAULT_WINDOW = 64
WAL_CHECKPOINT_BYTES = 32 << 20
#: Events per page the range adapts to; the first page spans ``START_SPAN`` blocks.
PAGE_EVENTS = 5_000
START_SPAN = 16
MAX_RETRIES = 50
DEV_CONFIRMATIONS = 0
CONFIRMATIONS = 12
ZERO_DIGEST = "0x" + "00" * 32

Reader = Literal["auto", "thread", "process"]

__all__ = [
    "DatabaseLocked",
    "DeploymentChanged",
    "Indexer",
    "IndexerError",
    "Progress",
    "ReorgTooDeep",
]


class IndexerError(LedgerError):
    """Root of the indexer's own errors."""


class ReorgTooDeep(IndexerError):
    """The chain changed below every block the indexer keeps: nothing was written."""

    def __init__(self, chain_id: int, cursor: int, oldest: int, window: int) -> None:
        self.chain_id = chain_id
        self.cursor = cursor
        self.oldest = oldest
        self.window = window
        super().__init__(
            f"chain {chain_id} reorganised deeper than the indexer's window: none of the blocks it keeps "
            f"({oldest}..{cursor}, window {window}) is on the node's chain any more; nothing was written. "
            "Re-index into a fresh database (or raise the window if such reorgs are expected)"
        )


class DeploymentChanged(IndexerError):
    """The database indexes other contracts than the deployment names now."""

    def __init__(self, chain_id: int, indexed: Mapping[str, str], deployed: Mapping[str, str]) -> None:
        self.indexed = dict(indexed)
        self.deployed = dict(deployed)
        changed = sorted(k for k in {*indexed, *deployed} if indexed.get(k) != deployed.get(k))
        super().__init__(
            f"the database indexes other contracts on chain {chain_id} than the deployment record names "
            f"(changed: {', '.join(changed)}); index the new deployment into a fresh database"
        )


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transactions: tuple[str, ...] = ()  # the block's transaction hashes (lowercase hex)


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


@dataclass(frozen=True)
class _Cursor:
    number: int
    hash: str
    digest: str
    count: int


@dataclass
class _Prepared:
    """A page read, checked and made ready to write (all of it picklable)."""

    parent: _Cursor  # the cursor it follows
    end: _Cursor  # the cursor after it
    low: int
    high: int
    rows: list[tuple[Any, ...]]  # events rows, in ``_EVENT_COLUMNS`` order, args as JSON text
    events: list[Event]  # the events projections handle, in chain order
    blocks: list[dict[str, Any]]  # the kept blocks' rows: hashes, and the digest and count after each
    refused: list[dict[str, Any]] = field(default_factory=list)  # refused_calls rows: reverted calls of the ledger


@dataclass
class _Message:
    """What the reader says: a page, nothing new yet (idle), a reorg, or an error."""

    kind: Literal["page", "idle", "reorg", "error"]
    generation: int
    head: int = 0
    target: int = 0
    page: _Prepared | None = None
    error: BaseException | None = None


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


class _Retry(Exception):
    """The chain moved while a page was read: read it again."""


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """No automatic garbage collection while pages go through (collected between pages): a page
    makes ~10 objects per event, freed by reference counting, and the collector's passes over
    them would cost as much as the decoding."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- the reading side: fetch, check, decode, digest, rows ----------------------------------------


@dataclass
class _ReaderSettings:
    chain_id: int
    addresses: dict[str, str]
    abis: dict[str, list[dict[str, Any]]]
    confirmations: int
    window: int
    max_span: int
    poll: float
    refusals: bool = True


class _Pager:
    """Reads pages after a cursor and prepares them for the writer; runs in a thread or a process."""

    def __init__(self, chain: Chain, settings: _ReaderSettings) -> None:
        self.chain = chain
        self.settings = settings
        self.decoder = LogDecoder(settings.addresses, settings.abis)
        self.writers = json_args_writers(settings.abis)
        self.rpc = _Rpc(chain)  # the preparing side's (headers of logs without a time)
        self._fetch_rpc = _Rpc(chain)  # the fetching side's
        self._calls_rpc = AuditRpc(chain)  # the fetching side's: transactions, traces, receipts
        self.refusals = RefusalDecoder(settings.addresses, settings.abis)
        self._entries: dict[tuple[str, str], _Reading] = {}
        self._ahead: tuple[tuple[int, str, int], Future[_Fetched]] | None = None
        self._fetcher: ThreadPoolExecutor | None = None

    def fresh(self) -> None:
        """New connections (after a fork: never share the parent's sockets). The inherited ones are
        kept, not dropped: their finalisers would close descriptor numbers now reused."""
        self._inherited = (self.rpc, self._fetch_rpc, self._calls_rpc)
        self.rpc, self._fetch_rpc, self._calls_rpc = _Rpc(self.chain), _Rpc(self.chain), AuditRpc(self.chain)
        self._ahead, self._fetcher = None, None

    def next(self, cursor: _Cursor, span: int, generation: int) -> _Message:
        """What comes after ``cursor``: a page of at most ``span`` blocks, nothing yet, or a reorg.

        Over HTTP the next page's logs are fetched (by a thread) while this one is prepared: the
        node works on them meanwhile. ``span`` for that page is ``next_span`` of this one."""
        key = (cursor.number, cursor.hash, span)
        ahead, self._ahead = self._ahead, None
        fetched = ahead[1].result() if ahead is not None and ahead[0] == key else self._fetch(*key)
        if fetched.page is None:
            kind: Literal["idle", "reorg"] = "reorg" if fetched.reorg else "idle"
            return _Message(kind, generation, fetched.head, fetched.target)
        low, high, logs, headers = fetched.page[:4]
        if high < fetched.target and self.rpc.url is not None:
            following = (high, headers[high].hash, next_span(span, len(logs), high - low + 1, self.settings.max_span))
            if self._fetcher is None:
                self._fetcher = ThreadPoolExecutor(1, thread_name_prefix="scf-index-fetch")
            self._ahead = (following, self._fetcher.submit(self._fetch, *following))
        page = self._prepare(cursor, low, high, logs, headers)
        page.refused = fetched.page[4]
        return _Message("page", generation, fetched.head, fetched.target, page)

    def _fetch(self, number: int, block_hash: str, span: int) -> _Fetched:
        """The logs after block ``number`` (``block_hash``), checked against the headers: nothing
        when the head is not past it, a reorg when it is no longer the node's block."""
        rpc = self._fetch_rpc
        head = rpc.block_number()
        target = head - self.settings.confirmations
        low = number + 1
        if low > target:
            if number >= 0:
                header = rpc.headers([number]).get(number)
                if header is None or header.hash != block_hash:
                    return _Fetched(head, target, reorg=True)
            return _Fetched(head, target)
        high = min(target, low + span - 1)
        window = self.settings.window
        window_from = max(low, head - window + 1, high - window + 1)
        wanted = sorted({low, high, *range(window_from, high + 1)})
        if self.settings.refusals:  # each block's transaction count, in the same request
            headers, counts = rpc.headers_and_counts(wanted, range(low, high + 1))
        else:
            headers, counts = rpc.headers(wanted), {}
        first = headers.get(low)
        if first is None:
            raise _Retry  # the node's head went back below the page
        if number >= 0 and first.parent_hash != block_hash:
            return _Fetched(head, target, reorg=True)
        for at in range(window_from + 1, high + 1):
            this, before = headers.get(at), headers.get(at - 1)
            if this is None or before is None or this.parent_hash != before.hash:
                raise _Retry
        logs: list[dict[str, Any]] = []
        for _first, _last, found in fetch_raw_logs(self.chain, self.decoder.addresses, low, high, span=high - low + 1):
            logs.extend(found)
        refused = self._refused(counts, headers, logs) if self.settings.refusals else []
        last = headers.get(high)
        again = rpc.headers([high]).get(high)
        if last is None or again is None or again.hash != last.hash:
            raise _Retry
        kept = {n: h for n, h in sorted(headers.items()) if h is not None and (n >= window_from or n == high)}
        return _Fetched(head, target, page=(low, high, logs, kept, refused))

    def _refused(
        self,
        counts: Mapping[int, int | None],
        headers: Mapping[int, Header | None],
        logs: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """The refused_calls rows of the page's blocks (``counts``: each one's transaction count): the
        transactions that left no log, sent to a ledger contract, that reverted. Only a block with
        more transactions than left logs has its transaction hashes read, the quiet ones fetched by
        hash, and those sent to a ledger contract their outcome."""
        logged: dict[int, set[str]] = {}
        for log in logs:
            logged.setdefault(int(log["blockNumber"], 16), set()).add(log["transactionHash"])
        busy = [n for n, count in counts.items() if count is None or count > len(logged.get(n, ()))]
        if not busy:
            return []
        found = dict(headers)
        found.update(self._fetch_rpc.headers([n for n in busy if found.get(n) is None]))
        quiet: list[str] = []
        for number in busy:
            header = found.get(number)
            if header is None:
                raise _Retry  # the node's head went back below the page
            quiet += [h for h in header.transactions if h not in logged.get(number, ())]
        if not quiet:
            return []
        rpc, ours = self._calls_rpc, self.refusals.calls.contract_of
        candidates = [tx for tx in rpc.transactions(quiet) if tx.to is not None and tx.to in ours]
        for tx in candidates:
            header = found.get(tx.block_number)
            if header is None or header.hash != tx.block_hash:
                raise _Retry  # the chain moved while the page was read
        chain_id = self.settings.chain_id
        rows = []
        for tx in outcomes(rpc, candidates):
            refusal = self.refusals.refusal(tx) if tx.reverted else None
            if refusal is not None:
                rows.append(refusal.row(chain_id))
        return rows

    def _entry(self, address: str, topic0: str) -> _Reading:
        """How to read the logs of ``address`` with first topic ``topic0`` (made once)."""
        key = (address, topic0)
        entry = self._entries.get(key)
        if entry is None:
            found = self.decoder.reader(address, topic0)
            if found is None:
                entry = _Reading(checksum(address), "", "", None, _no_writer, False)
            else:
                contract, event, read = found
                entry = _Reading(
                    checksum(address), contract, event, read, self.writers[(contract, event)], handled(contract, event)
                )
            self._entries[key] = entry
        return entry

    def _prepare(
        self, cursor: _Cursor, low: int, high: int, logs: list[dict[str, Any]], headers: dict[int, Header]
    ) -> _Prepared:
        """Rows and projection events of a page of the node's JSON logs: each log read once, straight
        from its hex (no RawLog or LedgerLog on the way)."""
        chain_id = self.settings.chain_id
        seen_headers: dict[int, Header | None] = dict(headers)
        if logs and "blockTimestamp" not in logs[0]:  # nodes that do not put the block time in logs
            missing = sorted({int(log["blockNumber"], 16) for log in logs} - headers.keys())
            seen_headers.update(self.rpc.headers(missing))
        rows: list[tuple[Any, ...]] = []
        events: list[Event] = []
        ends: list[tuple[int, int]] = []  # (block number, index after its last log)
        entries, entry_of, append, add_event = self._entries, self._entry, rows.append, events.append
        number, block_hash, stamp = -1, "", 0
        for position, log in enumerate(logs):
            if log["blockHash"] != block_hash:  # a new block (a hash names one block)
                if number >= 0:
                    ends.append((number, position))
                number, block_hash = int(log["blockNumber"], 16), log["blockHash"]
                header = seen_headers.get(number)
                given = log.get("blockTimestamp")
                if (header is not None and header.hash != block_hash) or (ends and ends[-1][0] >= number):
                    raise _Retry  # the chain moved while the page was read
                if isinstance(given, str):
                    stamp = int(given, 16)
                elif header is not None:
                    stamp = header.timestamp
                else:
                    raise _Retry  # a block the node no longer has
            topics = log["topics"]
            data = log["data"]
            count = len(topics)
            address = log["address"]
            entry = entries.get((address, topics[0] if count else "")) or entry_of(address, topics[0] if count else "")
            args = None
            if entry.read is not None:
                try:
                    args = entry.read(topics, data)
                except (IndexError, ValueError):
                    args = None
            if args is None:  # not the plan's encoding (or no plan): the ABI decoder decides, or refuses
                decoded = self.decoder.decode(RawLog.of(log))
                args, contract, event = decoded.args, decoded.contract, decoded.event
                write, projected = self.writers[(contract, event)], handled(contract, event)
            else:
                contract, event, write, projected = entry.contract, entry.event, entry.write, entry.handled
            tx_hash, log_index = log["transactionHash"], int(log["logIndex"], 16)
            append(
                (
                    chain_id,
                    number,
                    block_hash,
                    stamp,
                    tx_hash,
                    int(log["transactionIndex"], 16),
                    log_index,
                    entry.address,
                    contract,
                    event,
                    topics[0] if count > 0 else None,
                    topics[1] if count > 1 else None,
                    topics[2] if count > 2 else None,
                    topics[3] if count > 3 else None,
                    data,
                    write(args),
                )
            )
            if projected:
                add_event(Event(contract, event, args, number, log_index, tx_hash, entry.address, stamp))
        if number >= 0:
            ends.append((number, len(logs)))
        # The history digest, on from the cursor's: after each kept block (to roll back to it), and after the page.
        digest = HistoryDigest(chain_id, bytes(HexBytes(cursor.digest)))
        digest.count = cursor.count
        blocks: list[dict[str, Any]] = []
        block_ends = iter(ends)
        pending, done = next(block_ends, None), 0
        for number, header in headers.items():
            while pending is not None and pending[0] <= number:
                digest.add_json(logs[done : pending[1]])
                done = pending[1]
                pending = next(block_ends, None)
            blocks.append(
                {
                    "chain_id": chain_id,
                    "number": number,
                    "hash": header.hash,
                    "parent_hash": header.parent_hash,
                    "timestamp": header.timestamp,
                    "digest": digest.hex,
                    "event_count": digest.count,
                }
            )
        digest.add_json(logs[done:])
        end = _Cursor(high, headers[high].hash, digest.hex, digest.count)
        return _Prepared(cursor, end, low, high, rows, events, blocks)


def _no_writer(_args: dict[str, Any]) -> str:
    raise AssertionError("a log without a reader is written with its decoded event's writer")


@dataclass
class _Fetched:
    """What a fetch found: a page of the node's logs with its headers, nothing new, or a reorg."""

    head: int
    target: int
    page: tuple[int, int, list[dict[str, Any]], dict[int, Header], list[dict[str, Any]]] | None = None
    reorg: bool = False


@dataclass(frozen=True)
class _Reading:
    """How the reader makes a row of one kind of log."""

    address: str  # EIP-55
    contract: str
    event: str
    read: ArgsReader | None  # None: decode with eth_abi (and write with the decoded event's writer)
    write: _JsonWriter  # the JSON writer of the arguments
    handled: bool  # projections want it


class _ThreadChannel:
    """Commands to a reader thread, and its messages back (at most two pages waiting)."""

    def __init__(self) -> None:
        self.commands: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.messages: queue.Queue[_Message] = queue.Queue(maxsize=2)

    def command(self, timeout: float) -> tuple[Any, ...] | None:
        try:
            return self.commands.get(timeout=timeout) if timeout > 0 else self.commands.get_nowait()
        except queue.Empty:
            return None

    def send(self, message: _Message) -> bool:
        self.messages.put(message)
        return True

    def order(self, command: tuple[Any, ...]) -> None:
        self.commands.put(command)

    def receive(self, timeout: float) -> _Message | None:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None


class _PipeChannel:
    """The same over a pipe to a reader process: a page sent blocks until the writer takes it, so
    the reader stays one page ahead; a writer gone (killed) makes the reader's send fail."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def command(self, timeout: float) -> tuple[Any, ...] | None:
        if not self.connection.poll(timeout):
            return None
        command: tuple[Any, ...] = self.connection.recv()
        return command

    def send(self, message: _Message) -> bool:
        try:
            self.connection.send(message)
        except (OSError, EOFError):
            return False
        return True

    def order(self, command: tuple[Any, ...]) -> None:
        self.connection.send(command)

    def receive(self, timeout: float) -> _Message | None:
        if not self.connection.poll(timeout):
            return None
        message: _Message = self.connection.recv()
        return message


_Channel = _ThreadChannel | _PipeChannel


def _serve(pager: _Pager, channel: _Channel, parent_pid: int | None) -> None:
    """The reader's loop: from a ("start", generation, cursor, span) command on, read page after
    page into ``channel`` until ("stop",); after a reorg or an error, wait for the next start."""
    cursor: _Cursor | None = None
    span, generation, retries = START_SPAN, 0, 0

    def orphaned() -> bool:
        return parent_pid is not None and os.getppid() != parent_pid

    while not orphaned():
        command = channel.command(0.5 if cursor is None else 0)
        if command is not None:
            if command[0] == "stop":
                return
            _, generation, cursor, span = command
            retries = 0
        if cursor is None:
            continue
        try:
            message = pager.next(cursor, span, generation)
        except _Retry:
            retries += 1
            if retries > MAX_RETRIES:
                error = IndexerError(f"the node's answers kept changing over {MAX_RETRIES} reads")
                channel.send(_Message("error", generation, error=error))
                cursor = None
            time.sleep(min(1.0, 0.05 * retries))
            continue
        except Exception as exc:
            channel.send(_Message("error", generation, error=_portable(exc)))
            cursor = None
            continue
        retries = 0
        if not channel.send(message):
            return
        if message.kind == "page":
            assert message.page is not None
            page = message.page
            span = next_span(span, len(page.rows), page.high - page.low + 1, pager.settings.max_span)
            cursor = page.end
            gc.collect(0)
        elif message.kind == "idle":
            command = channel.command(pager.settings.poll)  # wait for the chain, or for a command
            if command is not None:
                if command[0] == "stop":
                    return
                _, generation, cursor, span = command
        else:  # a reorg: the writer rolls back and says where to go on from
            cursor = None


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling (a process reader sends it), else an IndexerError saying it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return IndexerError(f"{type(exc).__name__}: {exc}")
    return exc


def _process_main(pager: _Pager, connection: Any, parent_pid: int) -> None:
    """A forked reader: it closes every descriptor it inherited but its pipe (the database's
    connections, the writer's lock, HTTP sessions), so that nothing of the writer outlives it,
    and keeps the objects it inherited away from the garbage collector (their finalisers would
    close descriptors that are no longer theirs)."""
    gc.freeze()  # (the collector stays off, as in the writer: the loop collects the young between pages)
    keep = sorted({0, 1, 2, connection.fileno()})
    low = 0
    for fd in [*keep, 1 << 20]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    pager.fresh()
    _serve(pager, _PipeChannel(connection), parent_pid)


class _ReaderHandle:
    """The reader, in a thread or a forked process, and the channel to it."""

    def __init__(self, pager: _Pager, kind: str) -> None:
        self.kind = kind
        self.channel: _Channel
        if kind == "process":
            context = multiprocessing.get_context("fork")
            ours, theirs = context.Pipe()
            self.channel = _PipeChannel(ours)
            self.worker: Any = context.Process(
                target=_process_main, args=(pager, theirs, os.getpid()), name="scf-index-reader", daemon=True
            )
            self.worker.start()
            theirs.close()
        else:
            self.channel = _ThreadChannel()
            self.worker = threading.Thread(
                target=_serve, args=(pager, self.channel, None), name="scf-index-reader", daemon=True
            )
            self.worker.start()

    def start(self, generation: int, cursor: _Cursor, span: int) -> None:
        self.channel.order(("start", generation, cursor, span))

    def get(self, timeout: float) -> _Message | None:
        try:
            message = self.channel.receive(timeout)
        except EOFError:
            message = None
        if message is None and not self.worker.is_alive():
            raise IndexerError("the indexer's reader stopped unexpectedly")
        return message

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.order(("stop",))
        deadline = time.monotonic() + 5
        while self.worker.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(OSError, EOFError):
                self.channel.receive(0.05)  # what it may still be sending, so that it sees the stop
        if self.kind == "process":
            if self.worker.is_alive():
                self.worker.kill()
            self.worker.join(timeout=5)
            if isinstance(self.channel, _PipeChannel):
                self.channel.connection.close()
        else:
            self.worker.join(timeout=5)


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
        with _quiet_gc(), self._writing():
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


def next_span(span: int, events: int, blocks: int, max_span: int = MAX_SPAN) -> int:
    """The next page's block range after ``events`` events in ``blocks`` blocks with range ``span``:
    aimed at ``PAGE_EVENTS`` events from that density, at most doubling, at least halving."""
    if events <= 0:
        return min(max_span, span * 2)
    wanted = blocks * PAGE_EVENTS // events
    return max(1, min(max_span, span * 2, max(span // 2, wanted)))


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
_JsonWriter = JsonWriter


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


class _Rpc:
    """Block numbers and headers, in JSON-RPC batches over HTTP (one call at a time in process)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        provider = chain.w3.provider
        self.url = chain.endpoint if isinstance(provider, HTTPProvider) else None
        self.session = requests.Session() if self.url else None

    def _post(self, body: Any) -> Any:
        assert self.session is not None and self.url is not None
        try:
            return self.session.post(self.url, json=body, timeout=120).json()
        except (requests.RequestException, ValueError) as exc:
            raise ChainUnavailable(self.url, str(exc)) from exc

    def block_number(self) -> int:
        if self.session is None:
            return int(self.chain.w3.eth.block_number)
        answer = self._post({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
        if "error" in answer:
            raise ChainUnavailable(str(self.url), f"eth_blockNumber: {answer['error']}")
        return int(answer["result"], 16)

    def transaction_counts(self, numbers: Sequence[int]) -> dict[int, int | None]:
        """How many transactions each block of ``numbers`` holds (None for a block the node does not have)."""
        found: dict[int, int | None] = {}
        if self.session is None:
            for number in numbers:
                try:
                    found[number] = int(self.chain.w3.eth.get_block_transaction_count(number))
                except Exception:  # eth-tester raises BlockNotFound for a block beyond its head
                    found[number] = None
            return found
        for start in range(0, len(numbers), 1_000):
            chunk = numbers[start : start + 1_000]
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockTransactionCountByNumber", "params": [hex(n)]}
                for i, n in enumerate(chunk)
            ]
            answers = self._post(body)
            if not isinstance(answers, list):
                said = json.dumps(answers)[:200]
                raise ChainUnavailable(str(self.url), f"eth_getBlockTransactionCountByNumber batch answered {said}")
            for answer in answers:
                number = chunk[int(answer["id"])]
                if "error" in answer:
                    raise ChainUnavailable(
                        str(self.url), f"eth_getBlockTransactionCountByNumber({number}): {answer['error']}"
                    )
                result = answer.get("result")
                found[number] = None if result is None else int(result, 16)
        return found

    def headers_and_counts(
        self, numbers: Sequence[int], counted: Sequence[int]
    ) -> tuple[dict[int, Header | None], dict[int, int | None]]:
        """``headers(numbers)`` and ``transaction_counts(counted)``, in one request where they fit one batch."""
        if self.session is None or len(numbers) + len(counted) > 1_000:
            return self.headers(numbers), self.transaction_counts(counted)
        body = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
            for i, n in enumerate(numbers)
        ]
        body += [
            {"jsonrpc": "2.0", "id": len(numbers) + i, "method": "eth_getBlockTransactionCountByNumber",
             "params": [hex(n)]}
            for i, n in enumerate(counted)
        ]  # fmt: skip
        answers = self._post(body)
        if not isinstance(answers, list):
            raise ChainUnavailable(str(self.url), f"a batch of headers and counts answered {json.dumps(answers)[:200]}")
        headers: dict[int, Header | None] = {}
        counts: dict[int, int | None] = {}
        for answer in answers:
            at = int(answer["id"])
            if "error" in answer:
                raise ChainUnavailable(str(self.url), f"{body[at]['method']}{body[at]['params']}: {answer['error']}")
            result = answer.get("result")
            if at < len(numbers):
                headers[numbers[at]] = None if result is None else _header_of(numbers[at], result)
            else:
                counts[counted[at - len(numbers)]] = None if result is None else int(result, 16)
        return headers, counts

    def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        """The headers of ``numbers`` (None for a block the node does not have)."""
        found: dict[int, Header | None] = {}
        if not numbers:
            return found
        if self.session is None:
            for number in numbers:
                try:
                    block = self.chain.w3.eth.get_block(number)
                except Exception:  # eth-tester raises BlockNotFound for a block beyond its head
                    found[number] = None
                    continue
                found[number] = Header(
                    number,
                    HexBytes(block["hash"]).to_0x_hex(),
                    HexBytes(block["parentHash"]).to_0x_hex(),
                    int(block["timestamp"]),
                    tuple(HexBytes(t).to_0x_hex() for t in block["transactions"] if isinstance(t, bytes | str)),
                )
            return found
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), False]}
                for i, n in enumerate(chunk)
            ]
            answers = self._post(body)
            if not isinstance(answers, list):
                said = json.dumps(answers)[:200]
                raise ChainUnavailable(str(self.url), f"eth_getBlockByNumber batch answered {said}")
            for answer in answers:
                number = chunk[int(answer["id"])]
                if "error" in answer:
                    raise ChainUnavailable(str(self.url), f"eth_getBlockByNumber({number}): {answer['error']}")
                block = answer.get("result")
                found[number] = None if block is None else _header_of(number, block)
        return found


def _header_of(number: int, block: Mapping[str, Any]) -> Header:
    """A header from the node's JSON block (transaction hashes only)."""
    return Header(
        number, block["hash"], block["parentHash"], int(block["timestamp"], 16), tuple(block.get("transactions", ()))
    )
