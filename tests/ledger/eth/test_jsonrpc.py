"""The one JSON-RPC transport (``JsonRpc``) and what its layers make of its answers.

A scripted node on a loopback port stands in for a real one, so that the paths a real node
rarely takes run every time: answers out of order, an answer left out, a node that caps batch
sizes, one that takes no batches at all, one that is gone.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from web3 import HTTPProvider, Web3

from ledger.errors import ChainUnavailable, LedgerError
from ledger.eth.chain import Chain
from ledger.eth.jsonrpc import NO_ANSWER, BatchRefused, JsonRpc, RpcError, TransportFailed
from ledger.eth.rpc import Rpc, RpcFailed
from ledger.index.node import BlockReads, Header

HEAD = 16
NOT_FOUND = {"code": -32000, "message": "header not found", "data": "0xdead"}
NO_BATCHES = {"code": -32600, "message": "batch too large"}


def block_hash(n: int) -> str:
    return f"0x{n:064x}"


class _Node(http.server.BaseHTTPRequestHandler):
    """Blocks 0..HEAD, block 13 answered with an error, block 15's answer left out of a batch,
    a batch answered in reverse order; ``limit`` caps batch sizes (0: no batches)."""

    limit: int | None = None
    ids: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer: Any
        if not isinstance(body, list):
            answer = self.answer(body)
        elif self.limit is not None and len(body) > self.limit:
            answer = {"jsonrpc": "2.0", "id": None, "error": NO_BATCHES}
        else:
            type(self).ids.extend(request["id"] for request in body)
            answer = [self.answer(r) for r in reversed(body) if r["params"][:1] != [hex(15)]]
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method, params = request["method"], request["params"]
        result: Any = None
        if method == "eth_chainId":
            result = "0x7a69"
        elif method == "eth_blockNumber":
            result = hex(HEAD)
        elif method in ("eth_getBlockByNumber", "eth_getBlockTransactionCountByNumber"):
            n = int(params[0], 16)
            if n == 13:
                return {"jsonrpc": "2.0", "id": request["id"], "error": NOT_FOUND}
            if n <= HEAD and method == "eth_getBlockByNumber":
                result = {"hash": block_hash(n), "parentHash": block_hash(n - 1), "timestamp": hex(1_000 + n)}
                result["transactions"] = []
            elif n <= HEAD:
                result = "0x0"
        else:
            return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": "no such method"}}
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}

    def log_message(self, *_: object) -> None:
        pass


def serve(limit: int | None = None) -> tuple[http.server.ThreadingHTTPServer, type[_Node]]:
    handler = type("Node", (_Node,), {"limit": limit, "ids": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def node() -> Iterator[str]:
    server, _ = serve()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def transport(url: str, **options: Any) -> JsonRpc:
    return JsonRpc(Web3(HTTPProvider(url)), 5, **options)


def blocks(*numbers: int) -> list[tuple[str, list[Any]]]:
    return [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]


def test_answers_come_back_in_request_order_with_errors_as_values(node: str) -> None:
    answers = transport(node).batch(blocks(12, 13, 14, 15))

    assert [a["hash"] for a in (answers[0], answers[2])] == [block_hash(12), block_hash(14)]
    assert answers[1] == RpcError("header not found", "0xdead")
    assert answers[1].error == NOT_FOUND  # the node's error object, for messages that quote it
    assert answers[3] is NO_ANSWER  # the node left it out


def test_a_node_that_caps_batches_gets_halves_and_one_without_batches_single_requests() -> None:
    for limit, batches in ((3, True), (0, False)):
        server, handler = serve(limit)
        try:
            rpc = transport(f"http://127.0.0.1:{server.server_address[1]}")
            answers = rpc.batch(blocks(*range(10)))
            assert [a["hash"] for a in answers] == [block_hash(n) for n in range(10)]
            assert rpc.batches is batches  # no batches at all: one request at a time from now on
            assert rpc.call("eth_blockNumber", []) == hex(HEAD)
        finally:
            server.shutdown()
            server.server_close()
        assert (len(handler.ids) > 0) is batches


def test_a_refused_batch_raises_where_the_caller_asks_and_the_layers_say_so_their_way() -> None:
    server, _ = serve(limit=0)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(BatchRefused) as refused:
            transport(url, on_refusal="raise").batch(blocks(1, 2))
        chain = Chain(Web3(HTTPProvider(url)), "rpc", url)
        with pytest.raises(RpcFailed) as failed:
            Rpc(chain).headers(1, 2)
        with pytest.raises(ChainUnavailable) as unavailable:
            BlockReads(chain).headers([1, 2])
    finally:
        server.shutdown()
        server.server_close()

    assert (refused.value.count, refused.value.answer["error"]) == (2, NO_BATCHES)
    assert str(failed.value) == f"eth_getBlockByNumber: the node refused a batch of 2: {NO_BATCHES}"
    said = json.dumps({"jsonrpc": "2.0", "id": None, "error": NO_BATCHES})
    assert unavailable.value.reason == f"eth_getBlockByNumber batch answered {said}"


def test_threads_sharing_a_transport_never_share_an_id() -> None:
    server, handler = serve()
    rpc = transport(f"http://127.0.0.1:{server.server_address[1]}")
    wrong: list[object] = []

    def read(offset: int) -> None:
        for _ in range(20):
            numbers = [(offset + i) % 12 for i in range(5)]  # neither 13 nor 15
            if [a["hash"] for a in rpc.batch(blocks(*numbers))] != [block_hash(n) for n in numbers]:
                wrong.append(numbers)

    try:
        threads = [threading.Thread(target=read, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
        server.server_close()
    assert not wrong
    assert len(handler.ids) == 8 * 20 * 5 == len(set(handler.ids))


def test_the_replays_and_the_indexers_reads_of_error_answers(node: str) -> None:
    chain = Chain(Web3(HTTPProvider(node)), "rpc", node)

    with pytest.raises(RpcFailed) as failed:
        Rpc(chain).headers(12, 14)
    assert (str(failed.value), failed.value.data) == ("eth_getBlockByNumber: header not found", "0xdead")
    with pytest.raises(RpcFailed, match="the node has no block 15"):  # an answer left out reads as null
        Rpc(chain).headers(14, 15)

    reads = BlockReads(chain)
    with pytest.raises(ChainUnavailable) as unavailable:
        reads.headers([12, 13])
    assert unavailable.value.reason == f"eth_getBlockByNumber(13): {NOT_FOUND}"
    assert reads.headers([16, 17]) == {16: Header(16, block_hash(16), block_hash(15), 1_016), 17: None}
    assert reads.headers_and_counts([14, 15], [16, 17]) == (
        {14: Header(14, block_hash(14), block_hash(13), 1_014)},  # 15: left out, so not read
        {16: 0, 17: None},
    )
    assert reads.block_number() == HEAD


def test_a_dead_node_fails_the_transport_and_is_chain_unavailable_to_its_layers() -> None:
    server, _ = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    chain = Chain(Web3(HTTPProvider(url)), "rpc", url)
    rpc, replay, reads = transport(url), Rpc(chain), BlockReads(chain)
    server.shutdown()
    server.server_close()

    with pytest.raises(TransportFailed) as failed:
        rpc.batch(blocks(1))
    assert isinstance(failed.value, LedgerError)  # what the batch sender has always raised
    assert str(failed.value).startswith(f"JSON-RPC batch of 1 to {url} failed: ")
    with pytest.raises(ChainUnavailable) as replaying:
        replay.headers(1, 1)
    assert replaying.value.endpoint == url
    assert replaying.value.reason.startswith("eth_getBlockByNumber batch of 1: ")
    with pytest.raises(ChainUnavailable) as indexing:
        reads.block_number()
    assert indexing.value.endpoint == url
