"""Transactions that must reach the node in a fixed order, without a round trip each: HTTP/1.1 pipelining.

A world's calls that allocate an order, receivable or piece id (create, issue, split) must run in plan
order: the contracts number them as they execute, and the same seed must give the same ids. Anvil runs
the entries of one JSON-RPC batch concurrently, so a batch's transactions enter its pool in no fixed
order; what fixes their order in a block is the order they entered the pool (equal fees: first in,
first out; one sender's by nonce). Sending them one request at a time fixes it, at a round trip each.

``PipelinedSender`` keeps the one-request-per-transaction order and drops the round trips: it writes a
chunk's requests back to back on one keep-alive connection and reads the answers afterwards. An HTTP/1.1
server answers a connection's requests in the order they came and reads the next only once it has
answered the one before (hyper's dispatcher, under anvil's server, keeps one request in flight per
connection), so each transaction is in the pool before the next is read: the same pool order, the same
blocks and the same ids as one request at a time, byte for byte the same transactions (signing, nonces,
gas and mining stay ``BatchSender``'s).

Only the transport differs, and only on a plain ``http://`` endpoint; any other provider (HTTPS, in
process) goes one request at a time as before. A connection the node closed while it was idle is opened
again before anything is written; one that fails mid-way is not retried (the node may hold part of the
chunk), and ``BatchSender`` treats the failed push as it always has (it forgets the nonces of the batch
and re-reads them from the node).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ledger.eth.batch import BatchSender
from ledger.eth.chain import Chain
from ledger.eth.jsonrpc import NO_ANSWER, TransportFailed, error_of
from scenarios.errors import ScenarioError

#: Requests written before the answers are read: enough to hide the round trips, few enough that the
#: answers never fill the socket buffers while the writer is still writing.
WINDOW = 64


class PipelineBroken(ScenarioError):
    """The node closed the connection or answered what is not HTTP/JSON-RPC."""


class HttpPipeline:
    """One keep-alive HTTP/1.1 connection to a JSON-RPC endpoint, requests pipelined in order."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ScenarioError(f"pipelining needs a plain http:// endpoint, not {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.authority = parts.netloc
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def send_raw(self, raws: Sequence[bytes], first_id: int = 1) -> list[Any]:
        """``eth_sendRawTransaction`` for each of ``raws``, one request each, in order; the answers as
        ``JsonRpc.send_raw`` gives them (the hash, or an ``RpcError``)."""
        with self._lock:
            try:
                return self._exchange(raws, first_id)
            except (OSError, ValueError, PipelineBroken) as exc:
                self.close()
                raise TransportFailed(f"pipelined sends to {self.host}:{self.port} failed: {exc}", exc) from exc

    def _connect(self) -> socket.socket:
        if self._sock is not None and not self._buffer and select.select([self._sock], [], [], 0)[0]:
            # Readable while idle: the node closed the kept-alive connection (an idle timeout) and nothing of
            # this exchange is on the wire yet, so a new connection loses nothing.
            self.close()
        if self._sock is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._buffer = sock, b""
        return self._sock

    def _exchange(self, raws: Sequence[bytes], first_id: int) -> list[Any]:
        sock = self._connect()
        answers: list[Any] = []
        for start in range(0, len(raws), WINDOW):
            window = raws[start : start + WINDOW]
            sock.sendall(b"".join(self._request(raw, first_id + start + i) for i, raw in enumerate(window)))
            for i in range(len(window)):
                answers.append(self._answer(sock, first_id + start + i))
        return answers

    def _request(self, raw: bytes, request_id: int) -> bytes:
        body = (
            f'{{"jsonrpc":"2.0","id":{request_id},"method":"eth_sendRawTransaction","params":["0x{raw.hex()}"]}}'
        ).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.authority}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head + body

    def _answer(self, sock: socket.socket, request_id: int) -> Any:
        head = self._read_until(sock, b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1."):
            raise PipelineBroken(f"not an HTTP answer: {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(sock)
        elif "content-length" in headers:
            body = self._read_exactly(sock, int(headers["content-length"]))
        else:
            raise PipelineBroken("an answer without a length cannot be pipelined")
        if headers.get("connection", "").lower() == "close":
            self.close()
        if not status[1].startswith("2"):
            raise PipelineBroken(f"HTTP {status[1]}: {body[:200]!r}")
        item = json.loads(body)
        if not isinstance(item, dict) or item.get("id") != request_id:
            raise PipelineBroken(f"answer out of order: expected id {request_id}, got {str(item)[:120]}")
        error = item.get("error")
        return error_of(error) if error else item.get("result", NO_ANSWER)

    def _fill(self, sock: socket.socket) -> None:
        data = sock.recv(65536)
        if not data:
            raise PipelineBroken("the node closed the connection")
        self._buffer += data

    def _read_until(self, sock: socket.socket, marker: bytes) -> bytes:
        while (end := self._buffer.find(marker)) < 0:
            self._fill(sock)
        out, self._buffer = self._buffer[:end], self._buffer[end + len(marker) :]
        return out

    def _read_exactly(self, sock: socket.socket, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill(sock)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def _read_chunked(self, sock: socket.socket) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_until(sock, b"\r\n").split(b";")[0], 16)
            if size == 0:
                self._read_until(sock, b"\r\n")  # no trailers from a JSON-RPC server
                return b"".join(parts)
            parts.append(self._read_exactly(sock, size))
            self._read_exactly(sock, 2)


class PipelinedSender(BatchSender):
    """A ``BatchSender`` whose chunks go out one request per transaction, pipelined, in item order.

    It mines where a ``BatchSender`` of one-transaction chunks mines: after every ``every``-th
    transaction of a batch (before the next one goes out) and once at its end, so that the blocks hold
    the same transactions whatever the chunk size.
    """

    def __init__(self, chain: Chain, *, every: int = 1_000, chunk: int = 250, **kwargs: Any) -> None:
        super().__init__(chain, chunk=chunk, mine_every=None, **kwargs)
        url = self.rpc.url
        self._pipeline = HttpPipeline(url, self.timeout) if url is not None and url.startswith("http://") else None
        self._every = every
        self._unmined = 0  # transactions pushed since the last evm_mine (counted on the worker thread)
        self._next_id = 1

    def close(self) -> None:
        super().close()
        if self._pipeline is not None:
            self._pipeline.close()

    def _push(self, raws: Sequence[bytes], mine: bool) -> list[Any]:
        if not self.mining():
            return self._send(raws)
        answers: list[Any] = []
        start = 0
        while start < len(raws):
            if self._unmined >= self._every:
                self.rpc.call("evm_mine", [])
                self._unmined = 0
            part = raws[start : start + self._every - self._unmined]
            answers.extend(self._send(part))
            start += len(part)
            self._unmined += len(part)
        return answers

    def _mine_now(self, *args: Any, **kwargs: Any) -> int:
        # The batch's last mine (``BatchSender``'s own, with what it reads after it): the count starts again.
        self._unmined = 0
        return super()._mine_now(*args, **kwargs)

    def _send(self, raws: Sequence[bytes]) -> list[Any]:
        if self._pipeline is None:
            # One request at a time through the transport: the order holds, the round trips stay.
            return [answer for raw in raws for answer in self.rpc.send_raw([raw])]
        first, self._next_id = self._next_id, self._next_id + len(raws)
        return self._pipeline.send_raw(raws, first)
