"""What the replay asks the node, many at a time: headers, transactions, views at a block.

Over HTTP every list of requests goes out as JSON-RPC batches (bodies written by hand, one
``requests`` session per thread); in-process chains (eth-tester) answer one request at a time
through web3. Answers are normalised to plain Python: ints for quantities, ``0x`` hex strings
for hashes and data, EIP-55 addresses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from hexbytes import HexBytes
from web3 import HTTPProvider

from ledger.audit import reader
from ledger.chain import REVERTS, Chain, revert_data
from ledger.errors import ChainUnavailable, LedgerError
from ledger.model.common import address

BATCH = 1_000


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


def quantity(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 16)


def hex_str(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


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
    """Batched requests to ``chain``'s node."""

    def __init__(self, chain: Chain, *, batch: int = BATCH, timeout: float = 120.0) -> None:
        self.chain = chain
        self.size = batch
        self.timeout = timeout
        provider = chain.w3.provider
        self.url: str | None = str(provider.endpoint_uri) if isinstance(provider, HTTPProvider) else None
        self._local = threading.local()
        self._ids = 0
        self._lock = threading.Lock()
        self.use_reader = True  # read views through ledger.audit.reader while the node allows
        self.use_traces = True  # read transactions from trace_block while the node has it

    @property
    def batches(self) -> bool:
        return self.url is not None

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Content-Type"] = "application/json"
            self._local.session = session
        return session

    def many(self, method: str, params: Sequence[list[Any]], *, size: int | None = None) -> list[Any]:
        """``method`` once per parameter list, ``size`` (default: the batch size) per request;
        the results in order (an error answer raises)."""
        if self.url is None:
            return [self._in_process(method, p) for p in params]
        size = size or self.size
        results: list[Any] = []
        for start in range(0, len(params), size):
            results.extend(self._post(method, params[start : start + size]))
        return results

    def one(self, method: str, params: list[Any]) -> Any:
        return self.many(method, [params])[0]

    def _post(self, method: str, params: Sequence[list[Any]]) -> list[Any]:
        assert self.url is not None
        with self._lock:
            first = self._ids
            self._ids += len(params)
        body = ",".join(
            f'{{"jsonrpc":"2.0","id":{first + i},"method":"{method}","params":{json.dumps(p)}}}'
            for i, p in enumerate(params)
        )
        try:
            response = self._session().post(self.url, data="[" + body + "]", timeout=self.timeout)
            payload = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise ChainUnavailable(self.url, f"{method} batch of {len(params)}: {exc}") from exc
        if not isinstance(payload, list):
            error = payload.get("error", payload) if isinstance(payload, dict) else payload
            raise RpcFailed(method, f"the node refused a batch of {len(params)}: {error}")
        results: list[Any] = [None] * len(params)
        for item in payload:
            index = int(item.get("id", -1)) - first
            if not 0 <= index < len(params):
                continue
            error = item.get("error")
            if error:
                data = error.get("data") if isinstance(error, dict) else None
                raise RpcFailed(method, str(error.get("message", error)), data if isinstance(data, str) else None)
            results[index] = item.get("result")
        return results

    def _in_process(self, method: str, params: list[Any]) -> Any:
        try:
            return self.chain.w3.manager.request_blocking(method, params)  # type: ignore[arg-type]
        except REVERTS as exc:
            raise RpcFailed(method, f"{type(exc).__name__}: {exc}".splitlines()[0][:300], revert_data(exc)) from exc

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
            if self.url is not None and self.use_traces:
                try:
                    found.extend(self._traced(group))
                    continue
                except RpcFailed:
                    self.use_traces = False  # no trace_block here: full blocks from now on
            if self.url is not None:
                raws = self._post("eth_getBlockByNumber", [[hex(h.number), True] for h in group])
            else:
                raws = [self._in_process("eth_getBlockByNumber", [hex(h.number), True]) for h in group]
            for wanted, raw in zip(group, raws, strict=True):
                if raw is None or hex_str(raw["hash"]) != wanted.hash:
                    raise RpcFailed("eth_getBlockByNumber", f"block {wanted.number} is not {wanted.hash} any more")
                found.extend(tx_of(tx) for tx in raw["transactions"])
        return found

    def _traced(self, group: Sequence[Header]) -> list[Tx]:
        """The top-level call of every transaction of ``group`` (``trace_block``), checked against
        the headers: same block hash, the transaction hash at its position."""
        found: list[Tx] = []
        for header, traces in zip(group, self._post("trace_block", [[hex(h.number)] for h in group]), strict=True):
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

    def calls(self, requests_: Sequence[Mapping[str, str]], block: int) -> list[bytes | RpcFailed]:
        """``eth_call`` of each request at ``block``; a revert is returned as ``RpcFailed``, not raised.

        Over HTTP the requests go ``reader.PER_CALL`` at a time through the view reader (one
        ``eth_call`` with a state override, see ``ledger.audit.reader``) while the node takes
        overrides, as plain ``eth_call`` batches otherwise."""
        tag = hex(block)
        if self.url is not None and self.use_reader:
            try:
                return self._read_many(requests_, tag)
            except RpcFailed:
                self.use_reader = False  # the node takes no state overrides: one eth_call per view
        if self.url is None:
            out: list[bytes | RpcFailed] = []
            for req in requests_:
                try:
                    out.append(bytes(self.chain.w3.eth.call(dict(req), block)))  # type: ignore[arg-type]
                except REVERTS as exc:
                    out.append(RpcFailed("eth_call", type(exc).__name__, revert_data(exc)))
            return out
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
        assert self.url is not None
        with self._lock:
            first = self._ids
            self._ids += len(requests_)
        body = ",".join(
            f'{{"jsonrpc":"2.0","id":{first + i},"method":"eth_call","params":'
            f'[{{"to":"{r["to"]}","data":"{r["data"]}"}},"{tag}"]}}'
            for i, r in enumerate(requests_)
        )
        try:
            payload = self._session().post(self.url, data="[" + body + "]", timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as exc:
            raise ChainUnavailable(self.url, f"eth_call batch of {len(requests_)}: {exc}") from exc
        if not isinstance(payload, list):
            raise RpcFailed("eth_call", f"the node refused a batch of {len(requests_)}: {payload}")
        results: list[bytes | RpcFailed] = [RpcFailed("eth_call", "no answer")] * len(requests_)
        for item in payload:
            index = int(item.get("id", -1)) - first
            if not 0 <= index < len(requests_):
                continue
            error = item.get("error")
            if error:
                data = error.get("data") if isinstance(error, dict) else None
                results[index] = RpcFailed(
                    "eth_call", str(error.get("message", error)), data if isinstance(data, str) else None
                )
            else:
                results[index] = bytes.fromhex(item["result"][2:])
        return results
