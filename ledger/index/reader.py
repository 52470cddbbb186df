"""The indexer's reading side: fetch, check, decode, digest, rows, ahead of the writer.

The writer (``ledger.index.indexer.Indexer``) says which cursor to read after; the reader then
prepares page after page (``ledger.index.pages``), each one checked and made ready to write:

* **Read.** ``ledger.eth.history.fetch_raw_logs`` (``fetch_logs``'s pages, as the node's JSON)
  reads a block range with raw ``eth_getLogs``; the range adapts so that a page holds about
  ``PAGE_EVENTS`` events; since it adapts only from one page to the next, a range that read far
  more (after sparse blocks) is cut at a block boundary into pages the writer can start on while
  the rest is prepared (``_split``). Each log is decoded by the function ``LogDecoder.reader`` generated
  once for its (address, topic0), its arguments written as JSON by a function generated from
  the ABI (integers wider than 64 bits as decimal strings), and the history digest folded on
  (``HistoryDigest.add_json``): the rows to insert come out ready, no object per log between.
* **Check.** Before the logs, the headers of the page's first and last blocks (and, near the
  chain head, of every block within the reorg window) are read in one batch: the first
  block's parent hash must be the cursor's hash (else the chain reorganised under the
  cursor), the window's blocks must link up by parent hash, and every log's block hash must
  be its header's. After the logs, the last block's hash is read again: unchanged, the logs
  belong to that chain.
* **Refused calls.** A transaction to a ledger contract that reverted leaves no log, yet it is
  mined and signed by its sender: the scorer must see who tried what. With ``refusals`` (the
  default) each block's transaction count is read; a block with more transactions than left
  logs has its transaction hashes read, its quiet ones are fetched (by hash when they are few,
  else the whole block's top-level calls, ``Rpc.block_transactions``), those sent to a
  ledger contract get their outcome (``trace_transaction`` where the node keeps traces, else the
  receipt and an ``eth_call`` at the parent block) and the reverted ones become
  ``refused_calls`` rows (``ledger.eth.refusals``: function, arguments, custom error), written
  with the page and its cursor, deleted by a reorg like the events. When every transaction
  left a log this costs one small answer per block.

Reading (fetch, check, decode, digest, rows) and writing overlap: a reader prepares the next
pages while the writer commits the current one. Over HTTP the reader is a forked process of
its own (so both run on their own core; ``_process_main``, a ``_PipeChannel``); in process
(eth-tester) it is a thread (a ``_ThreadChannel``). Either way ``_serve`` is its loop, and
``_ReaderHandle`` is the writer's end of it.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from hexbytes import HexBytes

from ledger.eth.chain import Chain
from ledger.eth.history import (
    ArgsReader,
    HistoryDigest,
    JsonWriter,
    LogDecoder,
    RawLog,
    checksum,
    fetch_raw_logs,
    json_args_writers,
)
from ledger.eth.refusals import RefusalDecoder, outcomes
from ledger.eth.rpc import Header as RpcHeader
from ledger.eth.rpc import Rpc as AuditRpc
from ledger.eth.rpc import RpcFailed, Tx
from ledger.forked import leave_inherited, portable
from ledger.index.errors import IndexerError
from ledger.index.node import BlockReads, Header
from ledger.index.pages import PAGE_EVENTS, START_SPAN, _Cursor, _Message, _Prepared, _Retry, next_span
from ledger.index.projections import Event, handled

MAX_RETRIES = 50
#: A page read with more logs than this is cut in two (``_split``).
SPLIT_EVENTS = 3 * PAGE_EVENTS // 2
_JsonWriter = JsonWriter


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
        self.rpc = BlockReads(chain)  # the preparing side's (headers of logs without a time)
        self._fetch_rpc = BlockReads(chain)  # the fetching side's
        self._calls_rpc = AuditRpc(chain)  # the fetching side's: transactions, traces, receipts
        self.refusals = RefusalDecoder(settings.addresses, settings.abis)
        self._entries: dict[tuple[str, str], _Reading] = {}
        self._ahead: tuple[tuple[int, str, int], Future[_Fetched]] | None = None
        self._fetcher: ThreadPoolExecutor | None = None

    def fresh(self) -> None:
        """New connections (after a fork: never share the parent's sockets). The inherited ones are
        kept, not dropped: their finalisers would close descriptor numbers now reused."""
        self._inherited = (self.rpc, self._fetch_rpc, self._calls_rpc)
        self.rpc, self._fetch_rpc, self._calls_rpc = (
            BlockReads(self.chain),
            BlockReads(self.chain),
            AuditRpc(self.chain),
        )
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
        split = _split(fetched)
        if split is not None:
            # The part after the cut is read already: the next call takes it as it would a page read ahead.
            fetched, rest = split
            assert fetched.page is not None
            low, high, logs, headers = fetched.page[:4]
            done: Future[_Fetched] = Future()
            done.set_result(rest)
            following = (high, headers[high].hash, next_span(span, len(logs), high - low + 1, self.settings.max_span))
            self._ahead = (following, done)
        assert fetched.page is not None
        low, high, logs, headers = fetched.page[:4]
        if split is None and high < fetched.target and self.rpc.url is not None:
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
        whole: list[RpcHeader] = []  # blocks mostly quiet: read whole, one lookup per block
        for number in busy:
            header = found.get(number)
            if header is None:
                raise _Retry  # the node's head went back below the page
            hashes = [h for h in header.transactions if h not in logged.get(number, ())]
            if 2 * len(hashes) >= len(header.transactions):
                whole.append(RpcHeader(number, header.hash, header.parent_hash, header.timestamp, header.transactions))
            else:
                quiet += hashes
        rpc, ours = self._calls_rpc, self.refusals.calls.contract_of
        # By hash, anvil rebuilds each transaction and recovers its signature; a block's top-level calls
        # (``trace_block``) cost it a tenth of that: a block of gas-money transfers took 0.9 s of a 2.5 s
        # page run by hash (bench/indexer.py --quick). The replay reads blocks by the same rule.
        read: list[Tx] = []
        if whole:
            try:
                read = rpc.block_transactions(whole)
            except RpcFailed:
                raise _Retry from None  # a block changed under the read (its checks failed): read the page again
            read = [tx for tx in read if tx.hash not in logged.get(tx.block_number, ())]
        if quiet:
            read += rpc.transactions(quiet)
        candidates = [tx for tx in read if tx.to is not None and tx.to in ours]
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


def _split(fetched: _Fetched) -> tuple[_Fetched, _Fetched] | None:
    """``fetched``'s page cut at the first block boundary past ``PAGE_EVENTS`` logs, when it holds more than
    ``SPLIT_EVENTS`` and every header up to the block after the cut was read (the window's): the two parts,
    each a page of its own. Why: the range adapts only from one page to the next, so a page after sparse
    blocks can hold several times ``PAGE_EVENTS`` (12,500 of 25,000 events in ``bench/indexer.py --quick``),
    and the writer then waits for all of it to be read, decoded and sent before it writes anything."""
    assert fetched.page is not None
    low, high, logs, kept, refused = fetched.page
    if len(logs) <= SPLIT_EVENTS:
        return None
    cut = -1
    for position in range(PAGE_EVENTS, len(logs)):
        if logs[position]["blockNumber"] != logs[position - 1]["blockNumber"]:
            cut = int(logs[position - 1]["blockNumber"], 16)
            break
    if cut < low or cut >= high or any(n not in kept for n in range(cut, high + 1)):
        return None
    first_kept = {n: h for n, h in kept.items() if n <= cut}
    rest_kept = {n: h for n, h in kept.items() if n > cut}
    head, target = fetched.head, fetched.target
    return (
        _Fetched(
            head, target, page=(low, cut, logs[:position], first_kept, [r for r in refused if r["block_number"] <= cut])
        ),
        _Fetched(
            head,
            target,
            page=(cut + 1, high, logs[position:], rest_kept, [r for r in refused if r["block_number"] > cut]),
        ),
    )


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
    span, generation, retries, pages = START_SPAN, 0, 0, 0

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
            channel.send(_Message("error", generation, error=portable(exc, IndexerError)))
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
            pages += 1
            if pages % 16 == 0:  # as the writer: each pass walks the page read ahead too (20 ms a page, --quick)
                gc.collect(0)
        elif message.kind == "idle":
            command = channel.command(pager.settings.poll)  # wait for the chain, or for a command
            if command is not None:
                if command[0] == "stop":
                    return
                _, generation, cursor, span = command
        else:  # a reorg: the writer rolls back and says where to go on from
            cursor = None


def _process_main(pager: _Pager, connection: Any, parent_pid: int) -> None:
    """A forked reader: it closes every descriptor it inherited but its pipe (the database's
    connections, the writer's lock, HTTP sessions), so that nothing of the writer outlives it,
    and keeps the objects it inherited away from the garbage collector (their finalisers would
    close descriptors that are no longer theirs)."""
    leave_inherited(connection.fileno())  # (the collector stays off, as in the writer: the loop collects between pages)
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
