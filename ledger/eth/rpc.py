"""What the replay asks the node, many at a time: headers, transactions, traces, views at a block.

(And a few things one at a time, for contract wallets: an address's code, one ``eth_call`` with a
sender of its own, a transaction's internal call frames: see ``ledger.audit.wallets``.)

``Rpc`` is a layer of domain reads over the one transport, ``ledger.eth.jsonrpc.JsonRpc`` (JSON-RPC
batches over HTTP, a session per thread, one request at a time through web3 in process). It adds
what the replay means by an answer: an error answer raises ``RpcFailed`` (``calls`` returns it as
a value: a view that reverts is an answer too), a failed exchange is ``ChainUnavailable``, and a
node that refuses a batch is ``RpcFailed`` too, not worked around, since the replay's fallbacks are
its own (no traces: full blocks; no state overrides: one ``eth_call`` per view). In process only
a revert is the node's answer; any other exception of web3 raises as itself.

Answers are normalised to plain Python: ints for quantities, ``0x`` hex strings for hashes and
data, EIP-55 addresses. The views' ``eth_call`` bodies are written by hand (``JsonRpc.written``):
an audit reads tens of thousands of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from ledger.domain.addresses import address
from ledger.errors import ChainUnavailable, LedgerError
from ledger.eth import reader
from ledger.eth.chain import REVERTS, Chain
from ledger.eth.jsonrpc import BATCH, NO_ANSWER, BatchRefused, JsonRpc, RpcError, TransportFailed, as_hex, as_int


class RpcFailed(LedgerError):
    """The node answered a request of the replay with an error."""

    def __init__(self, method: str, message: str, data: str | None = None) -> None:
        self.method = method
        self.message = message
        self.data = data
        super().__init__(f"{method}: {message}")


@dataclass(frozen=True)
class Header:
    """What the replay needs of a block: its place in the chain, its time, its transactions."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int
    transactions: tuple[str, ...]


@dataclass(frozen=True)
class Tx:
    """What the replay needs of a transaction: who sent what to whom, and where it was mined."""

    hash: str
    block_number: int
    block_hash: str
    index: int
    sender: str
    to: str | None
    input: bytes
    #: Whether the call reverted and its revert data (hex), where known (from a trace): None otherwise.
    reverted: bool | None = None
    output: str | None = None


quantity = as_int
hex_str = as_hex


def header_of(raw: Mapping[str, Any]) -> Header:
    return Header(
        quantity(raw["number"]),
        hex_str(raw["hash"]),
        hex_str(raw["parentHash"]),
        quantity(raw["timestamp"]),
        tuple(hex_str(t if isinstance(t, str | bytes | bytearray) else t["hash"]) for t in raw["transactions"]),
    )


def _field(raw: Mapping[str, Any], name: str, snake: str) -> Any:
    """``raw[name]``, or eth-tester's snake_case spelling of it (in its full blocks)."""
    value = raw.get(name)
    return raw[snake] if value is None and snake in raw else value


def tx_of(raw: Mapping[str, Any]) -> Tx:
    to = raw.get("to")
    data = raw.get("input", raw.get("data", "0x"))
    return Tx(
        hex_str(raw["hash"]),
        quantity(_field(raw, "blockNumber", "block_number")),
        hex_str(_field(raw, "blockHash", "block_hash")),
        quantity(_field(raw, "transactionIndex", "transaction_index")),
        address(hex_str(raw["from"])),
        address(hex_str(to)) if to else None,
        bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(HexBytes(data)),
    )


def _groups(blocks: Sequence[Header], per_request: int) -> list[list[Header]]:
    """``blocks`` in groups of about ``per_request`` transactions (a big block alone)."""
    groups: list[list[Header]] = []
    size = 0
    for header in blocks:
        if not groups or size + len(header.transactions) > per_request:
            groups.append([])
            size = 0
        groups[-1].append(header)
        size += len(header.transactions)
    return groups


class Rpc:
    """The replay's batched reads of ``chain``'s node."""

    def __init__(self, chain: Chain, *, batch: int = BATCH, timeout: float = 120.0) -> None:
        self.chain = chain
        self.size = batch
        self.transport = JsonRpc(chain.w3, timeout, on_refusal="raise")
        self.use_reader = True  # read views through ledger.eth.reader while the node allows
        self.use_traces = True  # read transactions from trace_block while the node has it

    @property
    def url(self) -> str | None:
        return self.transport.url

    @property
    def timeout(self) -> float:
        return self.transport.timeout

    @property
    def batches(self) -> bool:
        return self.transport.batches

    def many(self, method: str, params: Sequence[list[Any]], *, size: int | None = None) -> list[Any]:
        """``method`` once per parameter list, ``size`` (default: the batch size) per request;
        the results in order (an error answer raises)."""
        size = size or self.size
        results: list[Any] = []
        for start in range(0, len(params), size):
            chunk = params[start : start + size]
            try:
                answers = self.transport.batch([(method, p) for p in chunk], size)
            except TransportFailed as exc:
                raise ChainUnavailable(str(self.url), f"{method} batch of {len(chunk)}: {exc.cause}") from exc.cause
            except BatchRefused as exc:
                said = exc.answer.get("error", exc.answer) if isinstance(exc.answer, dict) else exc.answer
                raise RpcFailed(method, f"the node refused a batch of {len(chunk)}: {said}") from None
            for answer in answers:
                if isinstance(answer, RpcError):
                    if answer is NO_ANSWER:  # an id the node left out reads as null, as a missing block does
                        answer = None
                    else:
                        raise _failed(method, answer) from answer.exception
                results.append(answer)
        return results

    def one(self, method: str, params: list[Any]) -> Any:
        return self.many(method, [params])[0]

    # -- what the replay reads ----------------------------------------------------------

    def headers(self, first: int, last: int) -> list[Header]:
        """Blocks ``first..last`` (their transaction hashes, not the transactions)."""
        if last < first:
            return []
        raws = self.many("eth_getBlockByNumber", [[hex(n), False] for n in range(first, last + 1)])
        missing = [first + i for i, raw in enumerate(raws) if raw is None]
        if missing:
            raise RpcFailed("eth_getBlockByNumber", f"the node has no block {missing[0]}")
        return [header_of(raw) for raw in raws]

    def transactions(self, hashes: Sequence[str]) -> list[Tx]:
        raws = self.many("eth_getTransactionByHash", [[h] for h in hashes])
        for tx_hash, raw in zip(hashes, raws, strict=True):
            if raw is None:
                raise RpcFailed("eth_getTransactionByHash", f"the node does not know transaction {tx_hash}")
        return [tx_of(raw) for raw in raws]

    def block_transactions(self, blocks: Sequence[Header], per_request: int = 2_000) -> list[Tx]:
        """Every transaction of ``blocks``, about ``per_request`` per request: one lookup per block,
        where a node may pay one per transaction by hash.

        Where the node keeps call traces (``trace_block``: anvil, Erigon, Nethermind, Besu), each
        transaction is read from its top-level call (sender, target, input): anvil serves those at
        a tenth of the cost of full blocks, which it rebuilds (signatures recovered) at every
        request. Elsewhere: ``eth_getBlockByNumber`` with full transactions."""
        found: list[Tx] = []
        for group in _groups(blocks, per_request):
            if self.batches and self.use_traces:
                try:
                    found.extend(self._traced(group))
                    continue
                except RpcFailed:
                    self.use_traces = False  # no trace_block here: full blocks from now on
            raws = self.many("eth_getBlockByNumber", [[hex(h.number), True] for h in group], size=len(group))
            for wanted, raw in zip(group, raws, strict=True):
                if raw is None or hex_str(raw["hash"]) != wanted.hash:
                    raise RpcFailed("eth_getBlockByNumber", f"block {wanted.number} is not {wanted.hash} any more")
                found.extend(tx_of(tx) for tx in raw["transactions"])
        return found

    def _traced(self, group: Sequence[Header]) -> list[Tx]:
        """The top-level call of every transaction of ``group`` (``trace_block``), checked against
        the headers: same block hash, the transaction hash at its position."""
        found: list[Tx] = []
        all_traces = self.many("trace_block", [[hex(h.number)] for h in group], size=len(group))
        for header, traces in zip(group, all_traces, strict=True):
            if traces is None:
                raise RpcFailed("trace_block", f"no traces of block {header.number}")
            top = [trace for trace in traces if not trace.get("traceAddress")]  # not the internal calls
            if len(top) != len(header.transactions):
                raise RpcFailed("trace_block", f"{len(top)} traces for {len(header.transactions)} transactions")
            for trace in top:
                position = int(trace["transactionPosition"])
                tx_hash = hex_str(trace["transactionHash"])
                block_hash = hex_str(trace["blockHash"])
                if position >= len(header.transactions) or header.transactions[position] != tx_hash:
                    raise RpcFailed("trace_block", f"trace of {tx_hash} is not at {position} in block {header.number}")
                action = trace["action"]
                creation = trace.get("type") == "create"
                data = action.get("init" if creation else "input") or "0x"
                failed = trace.get("error") is not None
                found.append(
                    Tx(
                        tx_hash,
                        header.number,
                        block_hash,
                        position,
                        address(hex_str(action["from"])),
                        None if creation else address(hex_str(action["to"])),
                        bytes.fromhex(data[2:]),
                        failed,
                        (trace.get("result") or {}).get("output") if failed else None,
                    )
                )
        return found

    def code(self, account: str, block: int) -> bytes:
        """The code at ``account`` once ``block`` is applied (empty for a key)."""
        raw = hex_str(self.one("eth_getCode", [account, hex(block)]))
        return bytes.fromhex(raw[2:])

    def call_at(self, request: Mapping[str, str], block: int) -> bytes | RpcFailed:
        """One ``eth_call`` of ``request`` as given (``from`` and ``gas`` too) on the state after ``block``;
        a revert is returned as ``RpcFailed``, not raised."""
        try:
            return bytes.fromhex(hex_str(self.one("eth_call", [dict(request), hex(block)]))[2:])
        except RpcFailed as failed:
            return failed

    def call_frames(self, tx_hash: str) -> list[Mapping[str, Any]] | None:
        """Every call frame of a transaction, in the order they ran (``trace_transaction``, the
        parity-style traces of anvil, Erigon, Nethermind and Besu with its TRACE API: each frame's
        ``traceAddress`` (empty for the top-level call), ``type``, ``action`` with ``from``, ``to``,
        ``input`` and ``callType``, and ``error`` when it reverted); None where the node keeps no
        traces, and from then on (``use_traces`` off: the node is not asked again)."""
        if not (self.batches and self.use_traces):
            return None
        try:
            frames = self.one("trace_transaction", [tx_hash])
        except RpcFailed:
            self.use_traces = False
            return None
        return list(frames or [])

    def calls(self, requests_: Sequence[Mapping[str, str]], block: int) -> list[bytes | RpcFailed]:
        """``eth_call`` of each request at ``block``; a revert is returned as ``RpcFailed``, not raised.

        Over HTTP the requests go ``reader.PER_CALL`` at a time through the view reader (one
        ``eth_call`` with a state override, see ``ledger.eth.reader``) while the node takes
        overrides, as plain ``eth_call`` batches otherwise (and one at a time in process)."""
        tag = hex(block)
        if self.batches and self.use_reader:
            try:
                return self._read_many(requests_, tag)
            except RpcFailed:
                self.use_reader = False  # the node takes no state overrides: one eth_call per view
        answers: list[bytes | RpcFailed] = []
        for start in range(0, len(requests_), self.size):
            answers.extend(self._calls(requests_[start : start + self.size], tag))
        return answers

    def _read_many(self, requests_: Sequence[Mapping[str, str]], tag: str) -> list[bytes | RpcFailed]:
        chunks = [requests_[i : i + reader.PER_CALL] for i in range(0, len(requests_), reader.PER_CALL)]
        override = {reader.READER: {"code": reader.CODE}}
        params = [[{"to": reader.READER, "data": reader.encode_read(chunk)}, tag, override] for chunk in chunks]
        answers: list[bytes | RpcFailed] = []
        # A few reader calls per request: a body of tens of thousands of views is more than nodes take.
        for chunk, raw in zip(chunks, self.many("eth_call", params, size=5), strict=True):
            decoded = reader.decode_read(bytes.fromhex(raw[2:]))
            if len(decoded) != len(chunk):
                raise RpcFailed("eth_call", f"the view reader answered {len(decoded)} views for {len(chunk)}")
            answers.extend(
                answer if ok else RpcFailed("eth_call", "execution reverted", "0x" + answer.hex())
                for ok, answer in decoded
            )
        return answers

    def _calls(self, requests_: Sequence[Mapping[str, str]], tag: str) -> list[bytes | RpcFailed]:
        """One batch of plain ``eth_call``s, their parameters written by hand (the views' hex needs no escaping)."""
        try:
            answers = self.transport.written(
                "eth_call", [f'[{{"to":"{r["to"]}","data":"{r["data"]}"}},"{tag}"]' for r in requests_]
            )
        except TransportFailed as exc:
            raise ChainUnavailable(str(self.url), f"eth_call batch of {len(requests_)}: {exc.cause}") from exc.cause
        except BatchRefused as exc:
            raise RpcFailed("eth_call", f"the node refused a batch of {len(requests_)}: {exc.answer}") from None
        return [
            _failed("eth_call", a, short=True) if isinstance(a, RpcError) else bytes.fromhex(a[2:]) for a in answers
        ]


def _failed(method: str, answer: RpcError, *, short: bool = False) -> RpcFailed:
    """The ``RpcFailed`` of an error answer (revert data where the node gave some).

    In process only a revert is the node's answer: any other exception web3 raised raises as
    itself. ``short``: a revert in process says only the exception's name (the views' answers,
    whose revert data is what matters)."""
    exc = answer.exception
    if exc is not None and not isinstance(exc, REVERTS):
        raise exc
    data = answer.data
    message = type(exc).__name__ if short and exc is not None else answer.message
    return RpcFailed(method, message, data if isinstance(data, str) else None)
