"""The replay's reader process: fetch, parse, decode calls and recover signatures on a core of their own.

The replay is CPU-bound in Python: parsing the node's JSON (headers, logs, transactions) in the
fetch threads competed with the replay for one core (the GIL), and recovering the EIP-712 signers
took a third of the replay's own time. Over HTTP the replay therefore forks a reader
(``ReaderProcess``, as the indexer does, ``ledger.index.reader``) that runs ``fetching.pages`` with
its own connections and fetch threads, and sends each page through a pipe, pickled, with:

* its transactions read already (``Page.ready``);
* while the replay is behind (a page is still waiting to be taken), its calls into the deployment
  decoded (``CallDecoder``: the function and its arguments, by transaction hash) and the signers of
  their signatures whose message the calldata alone gives (``Replayer.signed``: every one but a
  permit's) recovered, by (digest, signature). The replay takes a decoded call as its own and looks
  a signature up before it recovers it itself (``Replayer.recovered``): the same decoder and the
  same recovery, so what it finds is the same either way. When the reader is the slower side it
  sends the pages as they are, and the replay decodes and recovers everything, as in one process.

The replay folds the history digest itself (in the reader it made no difference). The split costs
CPU: pickling and unpickling the pages (about 0.25 s of the --quick history's 22,000 logs, some 15%
more CPU in all). With a core to spare the replay is about a fifth faster (--quick, alternated in one
process at load 1.8: best 1.67 s in threads, 1.31 s with the reader); on a machine saturated by other
work (load 2.5 and more on two cores) it is no faster than with threads.

A reader that dies (killed, crashed) closes its end of the pipe: the replay raises
``ReaderStopped`` instead of waiting; an exception inside the reader is sent and raised as itself (as an ``AuditError``
naming it when it cannot be pickled). A reader whose replay is gone (killed) stops by itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ledger.audit.errors import AuditError, ReaderStopped
from ledger.audit.fetching import FETCHERS, Page, pages, prefetched
from ledger.audit.machine import Replayer
from ledger.eth.calldata import CallDecoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import recover_signer
from ledger.eth.rpc import Rpc, Tx
from ledger.forked import leave_inherited, portable

READ_AHEAD = 2  # pages pickled and waiting for the pipe, besides the one being sent


@dataclass(frozen=True)
class ReaderSettings:
    """What the reader reads: the deployment's contracts and the range of blocks."""

    chain_id: int
    addresses: dict[str, str]
    abis: dict[str, Any]
    first: int
    last: int


class _Outbox:
    """Pickled pages on their way through the pipe, sent by a thread (the pipe's write lets the GIL go).
    ``behind`` says the replay has not taken the last page yet: time to work ahead on the next."""

    def __init__(self, connection: Any, parent: int) -> None:
        self.connection = connection
        self.parent = parent  # the replay's process id
        self.slots: queue.Queue[bytes | None] = queue.Queue(maxsize=READ_AHEAD)
        self.sending = False
        self.gone = threading.Event()  # the replay closed its end
        self.thread = threading.Thread(target=self._send, name="audit-reader-send", daemon=True)
        self.thread.start()

    def _send(self) -> None:
        while (blob := self.slots.get()) is not None:
            self.sending = True
            try:
                self.connection.send_bytes(blob)
            except OSError:  # the replay's end is closed: it stopped, or was killed
                self.gone.set()
                return
            self.sending = False

    @property
    def behind(self) -> bool:
        return self.sending or not self.slots.empty()

    def put(self, message: tuple[Any, ...]) -> None:
        self._put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _put(self, blob: bytes | None) -> None:
        """Wait for a free slot, unless the replay is gone (else an orphaned reader would wait for ever)."""
        while not self.gone.is_set():
            if os.getppid() != self.parent:
                self.gone.set()
                return
            with contextlib.suppress(queue.Full):
                self.slots.put(blob, timeout=0.5)
                return

    def close(self) -> None:
        self._put(None)
        if not self.gone.is_set():
            self.thread.join()


class _Ahead:
    """A page's calls into the deployment decoded, and the signers of their signatures whose messages
    the calldata gives (``Replayer.signed``) recovered: work the replay then need not do."""

    def __init__(self, settings: ReaderSettings, replayer: Replayer) -> None:
        self.calls = CallDecoder(settings.addresses, settings.abis)
        self.replayer = replayer

    def of(self, txs: list[Tx]) -> tuple[dict[str, tuple[str, tuple[Any, ...]]], dict[tuple[bytes, bytes], str | None]]:
        decoded: dict[str, tuple[str, tuple[Any, ...]]] = {}
        found: dict[tuple[bytes, bytes], str | None] = {}
        contract_of, function = self.calls.contract_of, self.calls.function
        for tx in txs:
            contract = contract_of.get(tx.to) if tx.to is not None else None
            if contract is None:
                continue
            try:  # ahead of time only: whatever fails here, the replay meets and reports itself
                fn = function(tx.to, tx.input)  # type: ignore[arg-type]
                if fn is None:
                    continue
                args = fn.decode(tx.input)
                decoded[tx.hash] = (fn.name, args)
                for key in self.replayer.signed(contract, fn.name, args):
                    if key not in found:
                        found[key] = recover_signer(*key)
            except Exception:
                continue
        return decoded, found


def _read(chain: Chain, settings: ReaderSettings, replayer: Replayer, outbox: _Outbox) -> None:
    """Every page of the range into ``outbox``, then ("end",); an exception as ("error", it)."""
    rpc = Rpc(chain)  # connections of its own: never the parent's sockets
    work = _Ahead(settings, replayer)
    addresses = sorted(settings.addresses.values())
    with ThreadPoolExecutor(FETCHERS, thread_name_prefix="audit-fetch") as pool:
        read = prefetched(pages(rpc, chain, addresses, settings.first, settings.last, pool), depth=2)
        for page in read:
            txs = [tx for job in page.pending for tx in job.result()]
            calls, signers = work.of(txs) if outbox.behind else ({}, {})
            outbox.put(
                ("page", Page(page.first, page.last, page.logs, page.headers, [], page.seconds, txs, calls, signers))
            )
            if outbox.gone.is_set():
                return
    outbox.put(("end",))


def _process_main(chain: Chain, settings: ReaderSettings, replayer: Replayer, connection: Any, parent: int) -> None:
    """The forked reader: it closes every descriptor it inherited but its pipe (the replay's HTTP
    sessions: never shared) and keeps the inherited objects from the collector (their finalisers
    would close descriptors that are no longer theirs), as ``ledger.index.reader`` does."""
    leave_inherited(connection.fileno())
    outbox = _Outbox(connection, parent)
    try:
        _read(chain, settings, replayer, outbox)
    except BaseException as exc:  # handed to the replay, which raises it
        with contextlib.suppress(Exception):
            outbox.put(("error", portable(exc, _reader_failed)))
    outbox.close()


def _reader_failed(what: str) -> AuditError:
    return AuditError(f"the replay's reader failed: {what}")


class ReaderProcess:
    """The replay's end of a forked reader: its pages in order (``__iter__``); ``close`` ends it."""

    def __init__(self, chain: Chain, settings: ReaderSettings, replayer: Replayer) -> None:
        context = multiprocessing.get_context("fork")
        self.connection, theirs = context.Pipe(duplex=False)
        self.worker = context.Process(
            target=_process_main,
            args=(chain, settings, replayer, theirs, os.getpid()),
            name="scf-audit-reader",
            daemon=True,
        )
        self.worker.start()
        theirs.close()  # the reader's end lives in the reader only: its death is our end of file
        self.waited = 0.0  # seconds spent waiting for a page

    def __iter__(self) -> Iterator[Page]:
        while True:
            message = self._receive()
            if message[0] == "end":
                return
            if message[0] == "error":
                raise message[1]
            yield message[1]

    def _receive(self) -> tuple[Any, ...]:
        waiting = time.perf_counter()
        try:
            while not self.connection.poll(1.0):  # (end of file makes poll answer at once)
                if not self.worker.is_alive() and not self.connection.poll(0):
                    raise EOFError  # (even where another process kept a copy of the reader's end)
            blob = self.connection.recv_bytes()
        except (EOFError, OSError):
            self.worker.join(timeout=5)
            raise ReaderStopped(self.worker.exitcode) from None
        self.waited += time.perf_counter() - waiting
        message: tuple[Any, ...] = pickle.loads(blob)
        return message

    def close(self) -> None:
        """Stop the reader (whatever it still has to send) and wait for it."""
        if self.worker.is_alive():
            self.worker.kill()
        self.worker.join(timeout=5)
        self.connection.close()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
