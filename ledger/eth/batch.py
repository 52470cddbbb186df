"""Send many domain operations at once: local nonces, fixed gas, lean signing, JSON-RPC batches.

``Chain.transact`` pays a fee lookup, a gas estimate, a send and a receipt wait for every
transaction (70-220 tx/s). ``BatchSender.send`` pays each of those once per batch:

* gas is estimated once per kind of call (target and selector) and kept, with a margin;
* nonces come from the chain's own nonce cache, reserved per sender in item order, so
  ``Chain.transact`` carries on after a batch without asking the node;
* calldata is encoded by a lean ABI encoder (eth-abi's output, ~8x faster) and
  transactions are signed with libsecp256k1 directly (RLP + keccak, byte-identical to
  eth-account, ~5x faster), chunk k+1 while a worker thread sends chunk k;
* chunks go out as JSON-RPC batch requests over HTTP; other providers get one request at a
  time through web3 (the embedded eth-tester chain included);
* on an anvil that does not mine by itself the sender mines, a block per ``mine_every``
  transactions and one at the end of each batch, unless the batch leaves its tail to the
  next batch's block (``share_block``: for steps that need nothing of each other, or whose
  dependencies are one sender's nonces);
* outcomes are checked with one ``eth_getLogs`` over the batch's blocks: a reverted
  transaction leaves no log and every state change of the ledger's contracts emits an
  event, so only calls that left no log need a receipt, and only failed ones are replayed
  to decode the contract's custom error.

One sender's calls execute in item order (its nonces). Calls of different senders may
execute in any order, as nodes order their pool by fee and arrival: a call that depends on
another sender's call belongs in a later batch. ``submit`` queues a batch and returns, so
the steps of a workflow can go back to back, each sent once the one before is mined.

The lean pieces live beside this module, each usable alone: ``ledger.eth.abi`` (the encoder),
``ledger.eth.transactions`` (RLP and signing), ``ledger.eth.eip712`` (typed-data signing with
the same lean path, for workloads that sign an order or an attestation per transaction) and
``ledger.eth.jsonrpc`` (the transport).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract.contract import ContractFunction

from ledger.errors import ContractReverted, LedgerError
from ledger.eth import anvil_pool
from ledger.eth.batch_calls import Call, as_call
from ledger.eth.batch_calls import FunctionEncoder as FunctionEncoder  # where the clients import it from
from ledger.eth.calls import Call as UnsignedCall
from ledger.eth.chain import EMBEDDED, Chain, is_dev_node
from ledger.eth.fees import Fees
from ledger.eth.jsonrpc import NO_ANSWER, JsonRpc, RpcError, as_hex, as_int
from ledger.eth.transactions import sign_transaction, sign_with_eth_account

TRANSFER_GAS = 21_000
STALL_REQUEUE = 2.0  # seconds without a mined nonce before an automining anvil's pool is checked (anvil_pool)

# -- errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFailure:
    """One batch item that did not succeed, and why."""

    index: int
    label: str
    sender: str
    nonce: int
    tx_hash: str | None
    reason: str
    error: ContractReverted | None = None

    @property
    def error_name(self) -> str | None:
        """The decoded custom error's name (``TradeEscrowInvalidStatus``), when there is one."""
        return self.error.error if self.error is not None else None

    def __str__(self) -> str:
        what = f"#{self.index}" + (f" {self.label}" if self.label else "")
        where = f"from {self.sender} nonce {self.nonce}" + (f" tx {self.tx_hash}" if self.tx_hash else "")
        return f"{what} ({where}): {self.reason}"


class BatchFailed(LedgerError):
    """Some items of a batch failed; ``failures`` names each, ``result`` has the rest."""

    SHOWN = 20

    def __init__(self, failures: Sequence[ItemFailure], result: BatchResult) -> None:
        self.failures = list(failures)
        self.result = result
        lines = [f"  {failure}" for failure in self.failures[: self.SHOWN]]
        if len(self.failures) > self.SHOWN:
            lines.append(f"  ... and {len(self.failures) - self.SHOWN} more")
        super().__init__(f"{len(self.failures)} of {len(result.tx_hashes)} batch items failed:\n" + "\n".join(lines))

    @property
    def indexes(self) -> list[int]:
        return [failure.index for failure in self.failures]


# -- results ------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch did: per item its hash, nonce, gas limit and logs; failures if any."""

    tx_hashes: list[str]
    nonces: list[int]
    gas: list[int]
    first_block: int
    last_block: int
    logs: list[list[dict[str, Any]]]
    failures: list[ItemFailure] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __len__(self) -> int:
        return len(self.tx_hashes)


# -- the sender ---------------------------------------------------------------------------


class PendingBatch:
    """A submitted batch: its transactions are signed and on their way to the node.

    ``result()`` waits until they are mined, checks their outcomes and raises
    ``BatchFailed`` if any failed. Call it for every batch: a failure is only reported there.
    """

    def __init__(self, sender: BatchSender, previous: PendingBatch | None, mine: bool, fees: Fees) -> None:
        self.sender = sender
        self.previous = previous
        self.mine = mine
        self.mine_every: int | None = None
        self.fees = fees
        self.started = time.perf_counter()
        self.calls: list[Call] = []
        self.gas: list[int] = []
        self.nonces: list[int] = []
        self.hashes: list[bytes] = []
        self.chunks: list[tuple[range, list[bytes], Future[list[Any]]]] = []
        self.tasks: list[Future[Any]] = []
        self.first_block: Future[int] | None = None
        self.mined_block: Future[int] | None = None
        self.rejected: dict[int, tuple[str, bytes]] = {}
        self.stuck: dict[str, int] = {}
        self.last_block = 0
        self.timings: dict[str, float] = {}
        self.lock = threading.Lock()
        self.settled = False
        self.outcome: BatchResult | None = None
        self.share_block = False  # the tail is left for the next batch's block (``submit``)
        # Read right after our last evm_mine: (its block, mined nonce per sender, the batch's logs).
        self.after_mine: tuple[int, dict[str, Any], list[dict[str, Any]] | None] | None = None
        self.follower: PendingBatch | None = None  # the batch whose block takes the tail

    def __len__(self) -> int:
        return len(self.calls)

    def result(self) -> BatchResult:
        outcome = self.sender._finish(self)
        if outcome.failures and self.sender.raise_on_failure:
            raise BatchFailed(outcome.failures, outcome)
        return outcome


class BatchSender:
    """Signs and sends many calls per round trip, then checks their outcomes in one pass.

    ``send(items)`` does it all; ``submit(items)`` returns once every transaction is signed
    and queued, so the caller can build the next batch while this one is sent and mined.
    A batch submitted after another is sent after that one is mined, so the steps of a
    workflow can be submitted back to back; call ``result()`` on each.

    ``chunk`` transactions go per JSON-RPC batch request, from one worker thread in
    submission order. ``mine`` says whether to call ``evm_mine``: None detects an anvil
    that does not mine by itself (``--no-mining``, or automine switched off); any other node
    is left to mine. Mining then happens every ``mine_every`` transactions and at the end of
    each batch (None: only at the end): anvil recomputes the state root over the whole state
    for every block (an empty block costs 4 ms on a fresh chain, 60-150 ms after 2,000 order
    lifecycles), so few, full blocks are much cheaper than many; a pool of 10,000 pending
    transactions is slower again than one of 1,000.
    """

    def __init__(
        self,
        chain: Chain,
        *,
        chunk: int = 250,
        mine: bool | None = None,
        mine_every: int | None = 1_000,
        timeout: float = 120.0,
        fallback_gas: int = 2_000_000,
        log_span: int = 2_000,
        raise_on_failure: bool = True,
        lean_signing: bool = True,
        trace_limit: int = 20,
    ) -> None:
        self.chain = chain
        self.chunk = chunk
        self.mine_every = mine_every
        self.timeout = timeout
        self.fallback_gas = fallback_gas
        self.log_span = log_span
        self.raise_on_failure = raise_on_failure
        self.lean_signing = lean_signing
        self.trace_limit = trace_limit
        self.rpc = JsonRpc(chain.w3, timeout)
        self._mine = mine
        self._automine = False  # an anvil that mines each transaction as it arrives (set by ``mining``)
        self._gas: dict[str, int] = {}
        self._can_trace: bool | None = None
        self._last: PendingBatch | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._nonce_lock = threading.Lock()

    # -- public -------------------------------------------------------------------------

    def send(
        self,
        items: Iterable[Call | tuple[ContractFunction | UnsignedCall, LocalAccount]],
        *,
        mine_every: int | None = 0,
    ) -> BatchResult:
        """Send every item; return when all are mined and checked, raising ``BatchFailed`` if any failed."""
        return self.submit(items, mine_every=mine_every).result()

    def submit(
        self,
        items: Iterable[Call | tuple[ContractFunction | UnsignedCall, LocalAccount]],
        *,
        mine_every: int | None = 0,
        share_block: bool = False,
    ) -> PendingBatch:
        """Sign every item and queue it for sending; ``result()`` of the answer finishes the batch.

        ``items`` is consumed a chunk at a time: a generator that builds (and signs typed
        data for) each call runs while earlier chunks are on the wire. ``mine_every``
        overrides the sender's for this batch (0 keeps it; None mines only at its end).

        ``share_block``: where this sender mines, leave the batch's tail unmined so that the
        next batch's block takes it too (a block costs anvil a state-root pass over the whole
        state). Only for a next batch whose calls depend on nothing of this one, or only on
        calls of the same sender (its nonces order them within the block). ``result()``
        mines what is left if no batch followed.
        """
        started = time.perf_counter()
        mine = self.mining()
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        previous = self._last
        batch = PendingBatch(self, previous, mine, self.chain.fees.fees(as_int(block.get("baseFeePerGas") or 0)))
        batch.started = started
        batch.mine_every = self.mine_every if mine_every == 0 else mine_every
        batch.share_block = share_block and mine
        if previous is not None and previous.share_block and not previous.settled:
            previous.follower = batch
        self._last = batch
        if previous is not None and not mine:
            # A node that mines by itself could take this batch's first transactions into
            # the block that takes the last of the previous one, before what they depend on.
            batch.tasks.append(self._run(self._settle, previous))
        batch.first_block = self._run(self._block_number)
        try:
            self._stream(batch, iter(items))
        except BaseException:
            # Nonces were reserved for calls that may never reach the node: once what was
            # queued is sent, the node's counts are the truth again.
            for task in [*batch.tasks, *(future for _, _, future in batch.chunks)]:
                with contextlib.suppress(Exception):
                    task.result()
            with self._nonce_lock:
                for sender in {c.sender.address for c in batch.calls}:
                    self.chain.forget_nonce(sender)
            raise
        batch.timings["submit"] = time.perf_counter() - started
        return batch

    def mining(self) -> bool:
        """Whether this sender mines blocks itself (an anvil that does not mine on its own)."""
        if self._mine is None:
            self._mine = False
            if self.chain.backend != EMBEDDED and is_dev_node(self.chain.w3):
                try:
                    automine = self.rpc.call("anvil_getAutomine", [])
                    interval = self.rpc.call("anvil_getIntervalMining", [])
                except LedgerError:  # not anvil: hardhat and ganache mine on their own by default
                    return False
                self._mine = automine is False and not interval
                self._automine = automine is True and not interval
        return self._mine

    def close(self) -> None:
        """Stop the worker thread (a new one starts if the sender is used again)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None

    def __enter__(self) -> BatchSender:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the worker -----------------------------------------------------------------------

    def _run(self, fn: Any, *args: Any) -> Future[Any]:
        """Run ``fn`` on the worker thread, after everything queued before it.

        In-process providers (eth-tester) are not thread-safe: there it runs at once, here.
        """
        if self.rpc.batches:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-sender")
            return self._worker.submit(fn, *args)
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # delivered through the future, like the worker's
            done.set_exception(exc)
        return done

    def _block_number(self) -> int:
        return as_int(self.rpc.call("eth_blockNumber", []))

    def _push(self, raws: Sequence[bytes], mine: bool) -> list[Any]:
        answers = self.rpc.send_raw(raws)
        if mine:
            # A request of its own: anvil runs the entries of one batch concurrently, so an
            # evm_mine inside it would catch only part of the chunk.
            self.rpc.call("evm_mine", [])
        return answers

    def _mine_now(self, batch: PendingBatch | None = None) -> int:
        """Mine; the block's number. For ``batch`` (its last mine) also what settling and checking it
        ask next, read at once by the worker: every sender's mined nonce (in the block number's
        request) and the logs of the batch's blocks, one round trip fewer per batch, and the logs
        read while the caller is still busy."""
        self.rpc.call("evm_mine", [])
        if batch is None or batch.first_block is None:
            return self._block_number()
        return self._after_mine(batch)

    def _after_mine(self, batch: PendingBatch) -> int:
        """The number of the block just mined, with ``batch``'s mined nonces and logs (``after_mine``)."""
        assert batch.first_block is not None
        senders = sorted({c.sender.address for c in batch.calls})
        answers = self.rpc.batch(
            [("eth_blockNumber", []), *(("eth_getTransactionCount", [a, "latest"]) for a in senders)]
        )
        if isinstance(answers[0], RpcError):
            raise LedgerError(f"eth_blockNumber failed: {answers[0].message}")
        block = as_int(answers[0])
        first = batch.first_block.result()
        addresses = sorted({c.to.lower() for c in batch.calls})
        logs: list[dict[str, Any]] | None = []
        if block > first:
            try:
                logs = self._logs(first + 1, block, addresses)
            except LedgerError:
                logs = None  # the check reads them again and reports what the node says
        batch.after_mine = (block, dict(zip(senders, answers[1:], strict=True)), logs)
        return block

    # -- preparing ----------------------------------------------------------------------

    def _stream(
        self,
        batch: PendingBatch,
        items: Iterator[Call | tuple[ContractFunction | UnsignedCall, LocalAccount]],
    ) -> None:
        """Build and sign chunk k+1 while the worker sends chunk k (sockets release the GIL)."""
        chain_id = self.chain.chain_id
        sign = sign_transaction if self.lean_signing else sign_with_eth_account
        targets: dict[str, bytes] = {}
        unmined = 0
        # A short first chunk puts the node to work while the rest is still being built.
        size = max(1, self.chunk // 4)
        while True:
            chunk = [item if isinstance(item, Call) else as_call(*item) for item in itertools.islice(items, size)]
            size = self.chunk
            if not chunk:
                break
            indexes = range(len(batch.calls), len(batch.calls) + len(chunk))
            batch.calls.extend(chunk)
            batch.gas.extend(self._gas_limits(chunk, batch.previous))
            batch.nonces.extend(self._reserve_nonces(chunk))
            raws = []
            for i in indexes:
                call = batch.calls[i]
                to = targets.get(call.to)
                if to is None:
                    to = targets[call.to] = bytes.fromhex(call.to[2:])
                raw, tx_hash = sign(
                    call.sender,
                    chain_id=chain_id,
                    nonce=batch.nonces[i],
                    gas=batch.gas[i],
                    max_fee=batch.fees.max_fee,
                    max_priority_fee=batch.fees.priority,
                    to=to,
                    value=call.value,
                    data=call.data,
                )
                batch.hashes.append(tx_hash)
                raws.append(raw)
            unmined += len(raws)
            mine_now = batch.mine and batch.mine_every is not None and unmined >= batch.mine_every
            if mine_now:
                unmined = 0
            batch.chunks.append((indexes, raws, self._run(self._push, raws, mine_now)))
        if batch.mine and unmined and not batch.share_block:
            batch.mined_block = self._run(self._mine_now, batch)
            batch.tasks.append(batch.mined_block)
        elif batch.mine and batch.chunks and not unmined:
            # The last chunk's push mined (``mine_every`` reached): read what follows a mine all the same.
            batch.mined_block = self._run(self._after_mine, batch)
            batch.tasks.append(batch.mined_block)

    def _gas_limits(self, calls: Sequence[Call], previous: PendingBatch | None) -> list[int]:
        """Each call's gas: given, or its kind's estimate (first, middle and last call; the largest)."""
        limits = [0] * len(calls)
        pending: dict[str, list[int]] = {}
        for i, call in enumerate(calls):
            if call.gas is not None:
                limits[i] = call.gas
            elif (kind := call.gas_kind()) in self._gas:
                limits[i] = self._gas[kind]
            else:
                pending.setdefault(kind, []).append(i)
        if not pending:
            return limits
        if previous is not None:
            # An estimate needs the state the call will run on: the previous batch's.
            self._settle(previous)
        samples = {kind: sorted({idx[0], idx[len(idx) // 2], idx[-1]}) for kind, idx in pending.items()}
        requests_ = [("eth_estimateGas", [_tx_object(calls[i])]) for kind in samples for i in samples[kind]]
        answers = iter(self.rpc.batch(requests_))
        for kind, idx in pending.items():
            estimates = [a for a in (next(answers) for _ in samples[kind]) if not isinstance(a, RpcError)]
            if estimates:
                # A sample can run colder than the rest (fresh storage slots): half again plus
                # a fixed margin covers it, and unused gas costs nothing but block space.
                gas = max(as_int(a) for a in estimates)
                gas = gas + gas // 2 + 30_000
                self._gas[kind] = gas
            else:
                # Every sample reverts against the current state: they may depend on earlier
                # items of this batch, or fail; either way the outcome check will say which.
                gas = self.fallback_gas
            for i in idx:
                limits[i] = gas
        return limits

    def _reserve_nonces(self, calls: Sequence[Call]) -> list[int]:
        """Nonces from the chain's cache, so ``Chain.transact`` and batches never collide."""
        chain = self.chain
        unknown = sorted({c.sender.address for c in calls if not chain.has_nonce(c.sender.address)})
        counts = self.rpc.batch([("eth_getTransactionCount", [a, "pending"]) for a in unknown]) if unknown else []
        with self._nonce_lock:
            for address, count in zip(unknown, counts, strict=True):
                if isinstance(count, RpcError):
                    raise LedgerError(f"could not read the nonce of {address}: {count.message}")
                chain.seed_nonce(address, as_int(count))
            return [chain.take_nonce(call.sender.address) for call in calls]

    # -- finishing ----------------------------------------------------------------------

    def _finish(self, batch: PendingBatch) -> BatchResult:
        """Settle the batch (and those before it), then check every item's outcome once."""
        if batch.outcome is not None:
            return batch.outcome
        mark = time.perf_counter()
        self._settle(batch)
        batch.timings["settle"] = time.perf_counter() - mark
        mark = time.perf_counter()
        tx_hashes = ["" if i in batch.rejected else "0x" + h.hex() for i, h in enumerate(batch.hashes)]
        first_block = batch.first_block.result() if batch.first_block is not None else batch.last_block
        logs, failures = self._check(batch, tx_hashes, first_block)
        batch.timings["check"] = time.perf_counter() - mark
        batch.outcome = BatchResult(
            tx_hashes,
            batch.nonces,
            batch.gas,
            first_block,
            batch.last_block,
            logs,
            failures,
            time.perf_counter() - batch.started,
            batch.timings,
        )
        batch.chunks = []  # the raw transactions are no longer needed
        return batch.outcome

    def _settle(self, batch: PendingBatch) -> None:
        """Until every transaction of the batch (and of those before it) is mined or known lost."""
        with batch.lock:
            if batch.settled:
                return
            if batch.previous is not None:
                self._settle(batch.previous)
                batch.previous = None  # keep no chain of finished batches alive
            try:
                for task in batch.tasks:
                    task.result()
                answered = [(indexes, raws, future.result()) for indexes, raws, future in batch.chunks]
            except BaseException:
                # The node may or may not have what was on the wire: its counts are the truth.
                with self._nonce_lock:
                    for sender in {c.sender.address for c in batch.calls}:
                        self.chain.forget_nonce(sender)
                raise
            for indexes, raws, answers in answered:
                for i, raw, answer in zip(indexes, raws, answers, strict=True):
                    if isinstance(answer, RpcError):
                        batch.rejected[i] = (answer.message, raw)
            if batch.rejected:
                batch.stuck = self._fill_gaps(batch)
                batch.mined_block = None  # the gap fillers come after our last mine
            follower, batch.follower = batch.follower, None
            if follower is not None and follower.mined_block is not None:
                # The tail goes into the follower's block: polling before it is mined would
                # mine a block of its own (its failure is the follower's to report).
                with contextlib.suppress(Exception):
                    follower.mined_block.result()
            self._wait(batch)
            if batch.mined_block is not None:
                # The block our last evm_mine made: later batches' blocks are none of ours.
                batch.last_block = batch.mined_block.result()
            else:
                batch.last_block = self._block_number()
            batch.settled = True

    def _fill_gaps(self, batch: PendingBatch) -> dict[str, int]:
        """Keep each sender's nonces gap-free after the node refused some of its transactions.

        A refused nonce is taken by a 0-value self-transfer so that the sender's later items
        can run. Nodes without a queue for future nonces (eth-tester) refused those later
        items too, for the gap alone: they are sent again once it is closed. Returns, per
        sender whose gap could not be closed, the first nonce left open; its later
        transactions never run and are reported as not mined.
        """
        calls, nonces, rejected = batch.calls, batch.nonces, batch.rejected
        stuck: dict[str, int] = {}
        by_sender: dict[str, list[int]] = {}
        for i in sorted(rejected, key=lambda i: nonces[i]):
            by_sender.setdefault(calls[i].sender.address, []).append(i)
        for address, indexes in by_sender.items():
            for position, i in enumerate(indexes):
                if position and not isinstance(self.rpc.send_raw([rejected[i][1]])[0], RpcError):
                    del rejected[i]
                    continue
                sender = calls[i].sender
                raw, _ = sign_transaction(
                    sender,
                    chain_id=self.chain.chain_id,
                    nonce=nonces[i],
                    gas=TRANSFER_GAS,
                    max_fee=batch.fees.max_fee,
                    max_priority_fee=batch.fees.priority,
                    to=bytes.fromhex(address[2:]),
                    value=0,
                    data=b"",
                )
                if isinstance(self.rpc.send_raw([raw])[0], RpcError):
                    stuck[address] = nonces[i]
                    with self._nonce_lock:
                        self.chain.forget_nonce(address)  # the node's count is the truth again
                    break
        return stuck

    def _wait(self, batch: PendingBatch) -> None:
        """Until every sender's last nonce is mined: one batched nonce read per poll, no receipts."""
        targets: dict[str, int] = {}
        for call, nonce in zip(batch.calls, batch.nonces, strict=True):
            targets[call.sender.address] = max(targets.get(call.sender.address, 0), nonce + 1)
        targets.update(batch.stuck)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        mined_more = False
        seen: dict[str, int] = {}
        stalled_since = time.monotonic()
        # The counts read right after our last mine answer the first poll (not after gap fillers).
        known = batch.after_mine[1] if batch.after_mine is not None and batch.mined_block is not None else None
        while targets:
            addresses = list(targets)
            if known is not None:
                counts = [known.get(a, NO_ANSWER) for a in addresses]
                known = None
            else:
                counts = self.rpc.batch([("eth_getTransactionCount", [a, "latest"]) for a in addresses])
            for address, count in zip(addresses, counts, strict=True):
                if isinstance(count, RpcError):
                    continue
                mined = as_int(count)
                if seen.get(address) != mined:
                    seen[address] = mined
                    stalled_since = time.monotonic()
                if mined >= targets[address]:
                    del targets[address]
            if not targets or time.monotonic() > deadline:
                break
            if batch.mine:
                # A full block left some in the pool, or gap fillers came after our last mine.
                self.rpc.call("evm_mine", [])
                mined_more = True
            elif self._automine and time.monotonic() - stalled_since > STALL_REQUEUE:
                anvil_pool.unstick(self.rpc.call, targets)
                stalled_since = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        if mined_more:
            batch.mined_block = None

    # -- checking -----------------------------------------------------------------------

    def _check(
        self, batch: PendingBatch, tx_hashes: Sequence[str], first_block: int
    ) -> tuple[list[list[dict[str, Any]]], list[ItemFailure]]:
        """Logs per item, and a failure for every item that neither logged nor has a good receipt."""
        calls, nonces, rejected = batch.calls, batch.nonces, batch.rejected
        addresses = sorted({c.to.lower() for c in calls})
        by_hash: dict[str, list[dict[str, Any]]] = {}
        after = batch.after_mine
        if after is not None and after[0] == batch.last_block and after[2] is not None:
            found = after[2]  # the same span, read by the worker right after the mine
        else:
            found = self._logs(first_block + 1, batch.last_block, addresses) if batch.last_block > first_block else []
        for log in found:
            by_hash.setdefault(as_hex(log["transactionHash"]), []).append(log)
        logs = [by_hash.get(h, []) if h else [] for h in tx_hashes]

        def failure(i: int, reason: str, error: ContractReverted | None = None) -> ItemFailure:
            call = calls[i]
            return ItemFailure(i, call.label, call.sender.address, nonces[i], tx_hashes[i] or None, reason, error)

        failures = [failure(i, f"rejected by the node: {message}") for i, (message, _) in rejected.items()]
        # A reverted transaction leaves no log: one that logged succeeded, and only the silent
        # ones (failed, or successful without an event of the batch's targets) need a receipt.
        suspects = [i for i, h in enumerate(tx_hashes) if h and not logs[i]]
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [tx_hashes[i]]) for i in suspects])
        reverted: list[tuple[int, Mapping[str, Any]]] = []
        for i, receipt in zip(suspects, receipts, strict=True):
            if isinstance(receipt, RpcError) or not receipt:
                failures.append(failure(i, f"not mined within {self.timeout:g}s (dropped, or behind a nonce gap)"))
            elif as_int(receipt["status"]) != 1:
                reverted.append((i, receipt))
        explained = self._explain(calls, batch.gas, tx_hashes, reverted)
        for (i, _), (error, note) in zip(reverted, explained, strict=True):
            failures.append(failure(i, str(error) + note, error))
        failures.sort(key=lambda f: f.index)
        return logs, failures

    def _logs(self, low: int, high: int, addresses: list[str]) -> list[dict[str, Any]]:
        """``eth_getLogs`` in spans of ``log_span`` blocks, halving a span the node refuses."""
        found: list[dict[str, Any]] = []
        spans = [(start, min(start + self.log_span - 1, high)) for start in range(low, high + 1, self.log_span)]
        while spans:
            start, end = spans.pop(0)
            query = {"fromBlock": hex(start), "toBlock": hex(end), "address": addresses}
            answer = self.rpc.batch([("eth_getLogs", [query])])[0]
            if isinstance(answer, RpcError):
                if start == end:
                    raise LedgerError(f"eth_getLogs failed for block {start}: {answer.message}")
                middle = (start + end) // 2
                spans[:0] = [(start, middle), (middle + 1, end)]
                continue
            found.extend(answer)
        return found

    def _explain(
        self,
        calls: Sequence[Call],
        gas: Sequence[int],
        tx_hashes: Sequence[str],
        reverted: Sequence[tuple[int, Mapping[str, Any]]],
    ) -> list[tuple[ContractReverted, str]]:
        """The decoded error of each reverted item, with a note on how it was found.

        ``debug_traceTransaction`` gives the revert data of the transaction as it ran inside
        its block, but re-executes the block up to it (up to a second each in a block of
        thousands): only the first ``trace_limit`` failures are traced. The rest, and every
        failure on a node without tracing, get an ``eth_call`` replay on the parent block,
        which misses what earlier transactions of the same block changed.
        """
        found: list[tuple[ContractReverted, str] | None] = [None] * len(reverted)
        for k, (i, receipt) in enumerate(reverted):
            if as_int(receipt["gasUsed"]) >= gas[i]:
                found[k] = (ContractReverted(None, reason=f"out of gas (limit {gas[i]})", tx_hash=tx_hashes[i]), "")
        todo = [k for k, known in enumerate(found) if known is None]
        if todo and self._can_trace is not False and self.rpc.batches and self.trace_limit > 0:
            traced = todo[: self.trace_limit]
            tracer = {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}}
            traces = self.rpc.batch(
                [("debug_traceTransaction", [tx_hashes[reverted[k][0]], tracer]) for k in traced], size=10
            )
            self._can_trace = not all(isinstance(t, RpcError) for t in traces)
            for k, trace in zip(traced, traces, strict=True):
                if isinstance(trace, dict):
                    found[k] = (self.chain.errors.decode(trace.get("output"), tx_hash=tx_hashes[reverted[k][0]]), "")
        todo = [k for k, known in enumerate(found) if known is None]
        replays = self.rpc.batch(
            [
                ("eth_call", [_tx_object(calls[i], gas[i]), hex(as_int(receipt["blockNumber"]) - 1)])
                for i, receipt in (reverted[k] for k in todo)
            ]
        )
        for k, answer in zip(todo, replays, strict=True):
            tx_hash = tx_hashes[reverted[k][0]]
            if isinstance(answer, RpcError):
                found[k] = (self.chain.errors.decode(answer.data, tx_hash=tx_hash), " (replayed on the parent block)")
            else:
                reason = "failed, but succeeds replayed on the parent block: it depended on an earlier transaction"
                found[k] = (ContractReverted(None, reason=reason + " of its block", tx_hash=tx_hash), "")
        return [known for known in found if known is not None]


def _tx_object(call: Call, gas: int | None = None) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "from": call.sender.address,
        "to": to_checksum_address(call.to),
        "data": "0x" + call.data.hex(),
    }
    if call.value:
        tx["value"] = hex(call.value)
    if gas is not None:
        tx["gas"] = hex(gas)
    return tx
