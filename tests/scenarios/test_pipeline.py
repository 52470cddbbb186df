"""Pipelined sends keep the order of one request at a time: the pool order, the blocks, the answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.eth.batch import BatchSender, Call
from ledger.eth.chain import Chain
from ledger.eth.jsonrpc import RpcError, TransportFailed
from ledger.toolchain.devnet import Devnet
from scenarios.pipeline import HttpPipeline, PipelinedSender
from tests.support.chains import manual_mining


class _Server:
    """A one-connection HTTP/1.1 server that answers pipelined requests in order, as hyper does; it
    answers odd ids with an error object and every third request with a chunked body."""

    def __init__(self, *, reorder: bool = False, close_after: int | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[int] = []
        self.connections = 0
        self.reorder = reorder
        self.close_after = close_after
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            connection, _ = self.listener.accept()
            self.connections += 1
            self._serve(connection)

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        held: list[bytes] = []
        with connection:
            while self.close_after is None or len(self.seen) < self.close_after * self.connections:
                while b"\r\n\r\n" not in buffer:
                    data = connection.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(buffer) < length:
                    buffer += connection.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                request = json.loads(body)
                self.seen.append(request["id"])
                answer = self._answer(request, len(self.seen))
                if self.reorder and len(self.seen) == 1:
                    held.append(answer)  # answered after the second: out of order
                    continue
                connection.sendall(answer + b"".join(held))
                held = []

    def _answer(self, request: dict[str, object], count: int) -> bytes:
        request_id = request["id"]
        assert isinstance(request_id, int)
        if request_id % 2:
            item: dict[str, object] = {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": {"code": -32000, "message": "nonce"},
            }
        else:
            item = {"jsonrpc": "2.0", "id": request_id, "result": f"0x{request_id:064x}"}
        body = json.dumps(item).encode()
        if count % 3 == 0:
            middle = len(body) // 2
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:middle], body[middle:]))
            return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


def test_pipelined_requests_go_in_order_and_answers_come_back_by_id() -> None:
    server = _Server()
    pipeline = HttpPipeline(f"http://127.0.0.1:{server.port}/", timeout=10)
    raws = [bytes([i]) * 40 for i in range(150)]  # more than one window
    try:
        answers = pipeline.send_raw(raws, first_id=10)
    finally:
        pipeline.close()
    assert server.seen == list(range(10, 160))
    for request_id, answer in zip(range(10, 160), answers, strict=True):
        if request_id % 2:
            assert isinstance(answer, RpcError) and answer.message == "nonce"
        else:
            assert answer == f"0x{request_id:064x}"


def test_an_answer_out_of_order_fails_the_transport() -> None:
    server = _Server(reorder=True)
    pipeline = HttpPipeline(f"http://127.0.0.1:{server.port}/", timeout=10)
    with pytest.raises(TransportFailed, match="out of order"):
        pipeline.send_raw([b"\x01", b"\x02"], first_id=2)
    pipeline.close()


def test_a_connection_the_node_closed_while_idle_is_opened_again() -> None:
    server = _Server(close_after=3)
    pipeline = HttpPipeline(f"http://127.0.0.1:{server.port}/", timeout=10)
    try:
        assert len(pipeline.send_raw([b"\x01"] * 3, first_id=2)) == 3
        time.sleep(0.2)  # the server has closed its end by now
        assert pipeline.send_raw([b"\x02"] * 3, first_id=6)[2] == f"0x{8:064x}"
    finally:
        pipeline.close()
    assert server.connections == 2
    assert server.seen == [2, 3, 4, 6, 7, 8]


@pytest.fixture
def paused(anvil: Devnet) -> Iterator[Chain]:
    """The session anvil with its own mining off (the senders mine), restored afterwards."""
    chain = Chain.http(anvil.url, backend="devnet")
    with manual_mining(chain):
        yield chain


def _senders(chain: Chain, count: int) -> list[LocalAccount]:
    assert chain.accounts is not None
    accounts: list[LocalAccount] = [
        Account.from_key(keccak(text=f"tests/scenarios/pipeline:{i}")) for i in range(count)
    ]
    with BatchSender(chain) as funder:
        funder.send([Call(a.address, b"", chain.accounts["admin"], value=10**18, gas=21_000) for a in accounts])
    return accounts


def _blocks(chain: Chain, first: int, last: int) -> list[list[str]]:
    return [
        ["0x" + bytes(h).hex() for h in chain.w3.eth.get_block(n)["transactions"]]  # type: ignore[union-attr]
        for n in range(first + 1, last + 1)
    ]


def test_pipelined_sends_from_many_senders_run_in_item_order_and_mine_where_one_at_a_time_would(
    paused: Chain,
) -> None:
    senders = _senders(paused, 12)
    sink = senders[0].address
    with PipelinedSender(paused, every=5, chunk=4) as sender:
        # Twelve senders, each once: nothing but the order they reach the pool orders them in a block.
        first = sender.send([Call(sink, b"", s, value=1 + i, gas=21_000) for i, s in enumerate(senders)])
        blocks = _blocks(paused, first.first_block, first.last_block)
        assert [len(b) for b in blocks] == [5, 5, 2]
        assert [h for b in blocks for h in b] == first.tx_hashes
        # A multiple of ``every``: mined after the tenth, and no empty block after it.
        second = sender.send([Call(sink, b"", s, value=1, gas=21_000) for s in reversed(senders[2:])])
        blocks = _blocks(paused, second.first_block, second.last_block)
        assert [len(b) for b in blocks] == [5, 5]
        assert [h for b in blocks for h in b] == second.tx_hashes
