"""The replay's reading side: headers, logs and transactions, page after page, ahead of the replay.

``pages`` reads a range page by page: the headers of up to ``SPAN`` blocks first (they say how many
transactions each block holds), then the logs in ranges of about ``PAGE_TRANSACTIONS`` transactions,
and hands the fetch of the logs' transactions to an executor (``FETCHERS`` threads over HTTP, inline
in process), so that the replay starts on a page's first blocks while the node answers for the
later ones (``Arriving``). ``prefetched`` runs such a generator in a thread, a few pages ahead.

Over HTTP the replay runs this in a reader process of its own (``ledger.audit.reader``), which also
folds the history digest and recovers signatures ahead; a ``Page`` then arrives with its
transactions read (``ready``) and ``digest`` and ``signers`` filled in.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

from ledger.eth.chain import Chain
from ledger.eth.history import RawLog, fetch_logs
from ledger.eth.rpc import Header, Rpc, Tx

FETCHERS = 2  # concurrent transaction fetches: a node answers each on a core of its own
SPAN = 1_000  # blocks whose headers are read at once
PAGE_TRANSACTIONS = 1_000  # about so many transactions' logs in a page


@dataclass
class Page:
    first: int
    last: int
    logs: list[RawLog]
    headers: list[Header]
    pending: list[Future[list[Tx]]]  # the transactions of the logs, being fetched
    seconds: float
    #: From a reader process (``ledger.audit.reader``): the transactions, read already (``pending`` is
    #: then empty); the calls into the deployment it decoded ahead, by transaction hash (function name,
    #: arguments: ``CallDecoder``'s); the signers it recovered ahead, by (digest, signature)
    #: (``Replayer.recovered``).
    ready: list[Tx] | None = None
    calls: dict[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)
    signers: dict[tuple[bytes, bytes], str | None] = field(default_factory=dict)

    def transactions(self) -> Arriving:
        if self.ready is None:
            return Arriving(self.pending)
        done: Future[list[Tx]] = Future()
        done.set_result(self.ready)
        return Arriving([done])


class Arriving(Mapping[str, Tx]):
    """A page's transactions by hash as their fetches finish, in the order they were asked for:
    a lookup waits only for the fetch that holds its transaction, so the replay starts on the
    page's first blocks while the node still answers for the later ones (the fetches go block
    range by block range, the order the logs are replayed in). ``waited`` is the time spent waiting."""

    def __init__(self, pending: Sequence[Future[list[Tx]]]) -> None:
        self._pending = iter(pending)
        self._found: dict[str, Tx] = {}
        self.waited = 0.0

    def __getitem__(self, tx_hash: str) -> Tx:
        found = self._found.get(tx_hash)
        while found is None:
            job = next(self._pending, None)
            if job is None:
                raise KeyError(tx_hash)
            waiting = time.perf_counter()
            self._found.update((tx.hash, tx) for tx in job.result())
            self.waited += time.perf_counter() - waiting
            found = self._found.get(tx_hash)
        return found

    def __iter__(self) -> Iterator[str]:
        for job in self._pending:
            self._found.update((tx.hash, tx) for tx in job.result())
        return iter(self._found)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Inline(Executor):
    """An executor that runs each job at once (in-process chains: no threads)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def pages(rpc: Rpc, chain: Chain, addresses: Sequence[str], first: int, last: int, pool: Executor) -> Iterator[Page]:
    """Headers and logs page by page (the header of ``first - 1`` comes first, to anchor the first
    block's parent), with the transactions of the logs handed to ``pool``: a block whose
    transactions mostly left logs is fetched whole, the others' transactions by hash.

    The headers of up to ``SPAN`` blocks come first: they say how many transactions each block
    holds, so the logs are then read in ranges of about ``PAGE_TRANSACTIONS`` transactions (none
    for blocks without any). A page is then small wherever the chain is busy, and the replay starts
    on the first while the node reads the next, where one request for every log of the range made
    it wait for all of them (a --quick history's 22,000 logs in 35 blocks: 0.45 s before anything)."""
    next_header = first - 1 if first > 0 else first
    started = time.perf_counter()
    low = first
    while low <= last:
        high = min(last, low + SPAN - 1)
        read = rpc.headers(next_header, high)
        next_header = high + 1
        anchor = [h for h in read if h.number < low]
        ranges: list[list[Header]] = [[]]
        size = 0
        for header in read[len(anchor) :]:
            if ranges[-1] and size + len(header.transactions) > PAGE_TRANSACTIONS:
                ranges.append([])
                size = 0
            ranges[-1].append(header)
            size += len(header.transactions)
        for headers in ranges:
            page_low, page_high = headers[0].number, headers[-1].number
            logs: list[RawLog] = []
            if any(h.transactions for h in headers):  # a block without transactions has no logs
                for _, _, found in fetch_logs(chain, addresses, page_low, page_high, span=page_high - page_low + 1):
                    logs.extend(found)
            yield Page(page_low, page_high, logs, anchor + headers, fetch_transactions(rpc, logs, headers, pool),
                       time.perf_counter() - started)  # fmt: skip
            anchor = []
            started = time.perf_counter()
        low = high + 1


def fetch_transactions(
    rpc: Rpc, logs: Sequence[RawLog], headers: Sequence[Header], pool: Executor
) -> list[Future[list[Tx]]]:
    """The transactions of ``logs``, handed to ``pool`` in block order: blocks whose transactions
    mostly left logs read whole, about 1,000 transactions a request, the others' by hash."""
    wanted: dict[int, dict[str, None]] = {}
    for log in logs:
        wanted.setdefault(log.block_number, {})[log.tx_hash] = None
    by_number = {h.number: h for h in headers}
    pending: list[Future[list[Tx]]] = []
    single: list[str] = []
    group: list[Header] = []
    for number, hashes in wanted.items():
        header = by_number[number]
        if 2 * len(hashes) < len(header.transactions):
            single.extend(hashes)
            continue
        group.append(header)
        if sum(len(h.transactions) for h in group) >= 1_000:
            pending.append(pool.submit(rpc.block_transactions, group))
            group = []
    if group:
        pending.append(pool.submit(rpc.block_transactions, group))
    for start in range(0, len(single), 1_000):
        pending.append(pool.submit(rpc.transactions, single[start : start + 1_000]))
    return pending


def prefetched(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """``pages`` produced by a background thread, ``depth`` ahead of the consumer."""
    slots: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                if stop.is_set():
                    return
                slots.put(page)
            slots.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            slots.put(exc)

    worker = threading.Thread(target=produce, name="audit-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting for a free slot
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.05)
