"""EPCIS parsing on every core: documents parsed and hashed by worker processes.

Parsing a document is mostly hashing its events (about 0.25 ms of 0.3 ms per event, see
``bench/event_hash.py``), pure Python, so threads would only take turns on the GIL.
:class:`HashPool` runs :func:`oracles.epcis.parse_slice` in worker processes: a
:class:`DocumentParser` sends a large document's bytes to the pool once per worker, each worker
decodes and checks the whole body and validates and hashes its slice of the event list, and
:func:`oracles.epcis.assemble` puts the slices back in document order. The capture's own
thread is left with the chain, the signatures and the records.

**The same result, always.** The workers run the parser's own code on the same bytes, so a
``ParsedDocument`` assembled from slices equals the one :func:`~oracles.epcis.parse_document`
returns, hash for hash. Any fault goes back to the parser: if a worker raises (a malformed
document, an invalid event, an odd shape, a pool that died or was shut down), the document is
parsed again in process, which then raises exactly the error it always raised, or returns the
document. Each event's ``raw`` JSON is decoded again from the body only if someone reads it.
``tests/oracles/test_parallel.py`` holds both paths to the same documents and the same errors.

**Ahead of time.** ``prefetch(body)`` starts a document's parse before its capture: an oracle
service that knows its next document (a queue, a batch of uploads) parses it while the current
capture waits on the chain, when a core would otherwise idle. A prefetched document that is
never captured costs only the workers' time; a few are kept (:data:`PREFETCH_LIMIT`).

Workers start with ``spawn``: the services run threads (the batch sender's), and a fork would
copy whatever lock such a thread held at that moment. They ignore SIGINT: a Ctrl-C in the terminal
reaches the whole process group, and the pool's owner (``scf oracle serve``'s app, a benchmark)
shuts its workers down in order, rather than each worker dying on its own in the middle of a slice.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Final

from oracles.epcis import DEFAULT_MAX_BYTES, DocumentSlice, ParsedDocument, assemble, parse_document, parse_slice

#: Documents smaller than this are parsed in process: the round trip would cost more than it saves.
MIN_PARALLEL_BYTES: Final = 16 * 1024
#: Prefetched documents kept per parser, oldest dropped first.
PREFETCH_LIMIT: Final = 8


def _slice(body: bytes, part: int, parts: int, max_bytes: int) -> DocumentSlice | None:
    """In a worker: the parsed slice, or ``None`` for anything the parser must decide in process."""
    try:
        return parse_slice(body, part, parts, max_bytes=max_bytes)
    except Exception:  # the in-process parse raises it again, in its own words
        return None


def default_workers() -> int:
    """One worker per core but one, at least one: the capture's own thread (the chain, the
    signatures, the records) keeps a core; on 2 cores a second worker costs more CPU than it wins
    back (every worker decodes and checks the whole document; see ``bench/oracles.py``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def _start_worker() -> None:
    """A worker's initializer: deaf to Ctrl-C (its owner shuts it down), then warmed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm()


def _warm() -> None:
    """Prepare the EPCIS 2.0 context once per worker, before the first document arrives."""
    from oracles.hashing import EPCIS_CONTEXT_URL, event_hash

    event = {"type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z", "eventTimeZoneOffset": "+00:00"}
    with contextlib.suppress(Exception):  # warming is an optimisation only
        event_hash({**event, "action": "OBSERVE", "bizStep": "shipping"}, EPCIS_CONTEXT_URL)


class HashPool:
    """Worker processes parsing and hashing slices of documents; shared by any number of parsers.

    Slice ``k`` of every document goes to worker ``k``: documents that overlap (a shipment's
    events, captured in turn) find the canonical values of their EPCs already memoised there,
    as a single process would."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")
        self._executors = [
            ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker) for _ in range(self.workers)
        ]

    def submit(self, body: bytes, max_bytes: int) -> list[Future[DocumentSlice | None]]:
        """Start parsing ``body`` in one slice per worker; the futures in document order.

        A pool that is shut down or broken answers "not parsed" at once."""
        try:
            return [
                executor.submit(_slice, body, part, self.workers, max_bytes)
                for part, executor in enumerate(self._executors)
            ]
        except RuntimeError:  # BrokenProcessPool is one; so is a submission after shutdown
            gone: Future[DocumentSlice | None] = Future()
            gone.set_result(None)
            return [gone]

    def start(self) -> None:
        """Start every worker now (and warm it), not at the first document."""
        for future in [executor.submit(_warm) for executor in self._executors]:
            future.result()

    def pids(self) -> list[int]:
        """The worker processes' ids (for CPU accounting)."""
        return [pid for executor in self._executors for pid in executor._processes or {}]

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HashPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class DocumentParser:
    """``parse_document`` by ``pool``; one per service (it keeps that service's prefetched documents)."""

    def __init__(self, pool: HashPool, *, min_bytes: int = MIN_PARALLEL_BYTES) -> None:
        self.pool = pool
        self.min_bytes = min_bytes
        self._pending: OrderedDict[tuple[bytes, int], list[Future[DocumentSlice | None]]] = OrderedDict()
        self._lock = threading.Lock()

    def prefetch(self, body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Start parsing ``body`` now; a later ``parse`` of the same bytes takes the result."""
        if not self._worth_it(body, max_bytes):
            return
        key = (bytes(body), max_bytes)
        with self._lock:
            if key in self._pending:
                return
            self._pending[key] = self.pool.submit(key[0], max_bytes)
            while len(self._pending) > PREFETCH_LIMIT:
                _, dropped = self._pending.popitem(last=False)
                for future in dropped:
                    future.cancel()

    def parse(
        self, data: bytes | bytearray | str | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> ParsedDocument:
        """Exactly ``parse_document(data, max_bytes=max_bytes)``, by the pool when ``data`` is a large body."""
        if not isinstance(data, bytes | bytearray) or not self._worth_it(data, max_bytes):
            return parse_document(data, max_bytes=max_bytes)
        key = (bytes(data), max_bytes)
        with self._lock:
            futures = self._pending.pop(key, None)
        if futures is None:
            futures = self.pool.submit(key[0], max_bytes)
        slices = []
        for future in futures:
            try:
                piece = future.result()
            except Exception:  # a dead or shut-down pool
                piece = None
            if piece is None:
                break
            slices.append(piece)
        else:
            parsed = assemble(key[0], slices)
            if parsed is not None:
                return parsed
        for future in futures:
            future.cancel()
        return parse_document(data, max_bytes=max_bytes)

    def _worth_it(self, body: bytes | bytearray, max_bytes: int) -> bool:
        # Over the limit: the parser refuses it before decoding anything, so the pool never sees it.
        return self.min_bytes <= len(body) <= max_bytes
