"""A standard JSON-RPC node for tests: a loopback proxy in front of an interval-mining anvil.

    with standard_node() as node:            # anvil mining a block every 0.25 s, behind the proxy
        chain = Chain.http(node.url, backend="rpc")
        ...
        assert node.refused == []            # nothing dev-only was asked for

A permissioned network (Besu or GoQuorum under QBFT, a consortium's Geth) answers the standard
``eth_*``, ``net_*`` and ``web3_*`` methods and nothing else: no ``anvil_*``, ``evm_*``,
``hardhat_*``, and usually no ``debug_*``, ``trace_*`` or ``txpool_*`` either. Its blocks come
on a fixed period whether anyone sends anything or not, and a block is final once it is
``finality_depth`` blocks below the head (0 under QBFT: immediate finality). The proxy makes a
local anvil look like that node, so that a test can show the product needs nothing more:

* **Methods.** A request whose method starts with ``eth_``, ``net_`` or ``web3_`` goes to anvil
  unchanged; any other is answered ``-32601 method not found``, as a standard node answers a
  method it does not have, and its name is recorded in ``refused`` (in arrival order) so a test
  can say exactly what the product asked for that a real network would not give it. Batches are
  split: the allowed entries go to anvil as one batch, the refused ones are answered here, and
  the answers come back in the request's order. A body that is not JSON is ``-32700``, an empty
  batch or an entry that is no request object ``-32600`` (JSON-RPC 2.0, section 5).
* **Blocks.** anvil is started in interval mining (``anvil --block-time``), so nothing the
  product does mines a block: a transaction waits for the next one, as on the network. The
  period is a test's choice; a short one (0.25 s) keeps a lock-step flow fast.
* **Finality.** The ``safe`` and ``finalized`` block tags are answered as the block
  ``finality_depth`` below the head (anvil's own answer is 64 blocks below, Ethereum's
  proof-of-stake rule). Rewriting the tag is enough: every block-tag parameter of the standard
  methods is a top-level string parameter, or ``fromBlock``/``toBlock`` of an ``eth_getLogs`` filter.
* **Client version.** ``web3_clientVersion`` is answered as ``client_version`` (a Besu string by
  default): the product keys its dev-node conveniences on the client's name, and a permissioned
  network never says "anvil". Pass ``client_version=None`` to forward anvil's own answer, so that
  the product's dev-node probes reach the proxy and are refused (their fallback is then under test).

The server is ``http.server``'s threaded one (a thread per connection, HTTP/1.1 keep-alive, so
a ``requests`` session or the indexer's reader pool holds its connections); upstream calls share
one ``httpx.Client``, which is thread-safe. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from ledger.eth.accounts import DevnetConfig
from ledger.toolchain.devnet import Devnet
from tests.support.ports import free_port

STANDARD_PREFIXES = ("eth_", "net_", "web3_")
BESU = "besu/v24.12.2/linux-x86_64/openjdk-java-21"
METHOD_NOT_FOUND = -32601
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
FINAL_TAGS = ("safe", "finalized")
#: Seconds an upstream answer may take: a block's worth of work at most on a test chain.
UPSTREAM_TIMEOUT = 30.0


def is_standard(method: object) -> bool:
    """Whether a standard node answers ``method`` (the eth_, net_ and web3_ namespaces)."""
    return isinstance(method, str) and method.startswith(STANDARD_PREFIXES)


def error_answer(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class StandardRpcProxy:
    """The proxy server: ``url`` to connect to, ``refused`` and ``forwarded`` to assert on."""

    def __init__(
        self, upstream: str, *, finality_depth: int = 0, client_version: str | None = BESU, port: int | None = None
    ) -> None:
        if finality_depth < 0:
            raise ValueError("a finality depth counts blocks below the head: 0 or more")
        self.upstream = upstream
        self.finality_depth = finality_depth
        self.client_version = client_version
        self._lock = threading.Lock()
        self._refused: list[str] = []
        self._forwarded: dict[str, int] = {}
        self._http = httpx.Client(timeout=UPSTREAM_TIMEOUT)
        self._server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="standard-rpc", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def refused(self) -> list[str]:
        """Every refused method name, in arrival order (a copy)."""
        with self._lock:
            return list(self._refused)

    @property
    def forwarded(self) -> dict[str, int]:
        """How many requests of each method went to anvil (a copy)."""
        with self._lock:
            return dict(self._forwarded)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._http.close()

    def __enter__(self) -> StandardRpcProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- answering ----------------------------------------------------------------------------

    def answer(self, body: bytes) -> Any:
        """The JSON answer to one HTTP body: a request object or a batch of them."""
        try:
            payload = json.loads(body)
        except ValueError:
            return error_answer(None, PARSE_ERROR, "parse error")
        if isinstance(payload, list):
            if not payload:
                return error_answer(None, INVALID_REQUEST, "invalid request: empty batch")
            return self._batch(payload)
        return self._batch([payload])[0]

    def _batch(self, requests: list[Any]) -> list[Any]:
        answers: list[Any] = [None] * len(requests)
        upstream: list[tuple[int, dict[str, Any]]] = []
        head: int | None = None
        for i, request in enumerate(requests):
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                answers[i] = error_answer(None, INVALID_REQUEST, "invalid request")
                continue
            method, request_id = request["method"], request.get("id")
            if not is_standard(method):
                with self._lock:
                    self._refused.append(method)
                answers[i] = error_answer(
                    request_id, METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"
                )
                continue
            if method == "web3_clientVersion" and self.client_version is not None:
                answers[i] = {"jsonrpc": "2.0", "id": request_id, "result": self.client_version}
                continue
            if _names_final_tag(request.get("params")):
                head = head if head is not None else self._head()
                request = {
                    **request,
                    "params": _final_params(request["params"], hex(max(0, head - self.finality_depth))),
                }
            with self._lock:
                self._forwarded[method] = self._forwarded.get(method, 0) + 1
            upstream.append((i, request))
        if upstream:
            for (i, _), reply in zip(upstream, self._send([r for _, r in upstream]), strict=True):
                answers[i] = reply
        return answers

    def _send(self, requests: list[dict[str, Any]]) -> list[Any]:
        """anvil's answers to ``requests``, in their order (anvil answers a batch in order; matched by id anyway)."""
        reply = self._http.post(self.upstream, json=requests).json()
        if not isinstance(reply, list):  # anvil refused the whole batch: the same answer for each
            return [{**reply, "id": r.get("id")} for r in requests]
        by_id = {json.dumps(item.get("id")): item for item in reply}
        return [
            by_id.get(json.dumps(r.get("id")), reply[n] if n < len(reply) else None) for n, r in enumerate(requests)
        ]

    def _head(self) -> int:
        reply = self._http.post(
            self.upstream, json={"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}
        ).json()
        return int(reply["result"], 16)


def _names_final_tag(params: Any) -> bool:
    if not isinstance(params, list):
        return False
    for param in params:
        if param in FINAL_TAGS:
            return True
        if isinstance(param, dict) and (param.get("fromBlock") in FINAL_TAGS or param.get("toBlock") in FINAL_TAGS):
            return True
    return False


def _final_params(params: list[Any], block: str) -> list[Any]:
    out: list[Any] = []
    for param in params:
        if param in FINAL_TAGS:
            out.append(block)
        elif isinstance(param, dict):
            out.append(
                {k: (block if k in ("fromBlock", "toBlock") and v in FINAL_TAGS else v) for k, v in param.items()}
            )
        else:
            out.append(param)
    return out


def _handler(proxy: StandardRpcProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients hold their connections

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.dumps(proxy.answer(self.rfile.read(length))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a test's output is no place for an access log

    return Handler


def interval_devnet(block_time: float = 0.25, *, zero_gas: bool = False) -> Devnet:
    """An anvil of its own on a free loopback port, mining a block every ``block_time`` seconds; with
    ``zero_gas``, a free-gas network's (base fee 0, as Besu's ``zeroBaseFee`` genesis option makes it).

    Its state lives in a fresh temporary folder; the caller stops it (``Devnet.down``)."""
    # No periodic state dumps: they stall the node while they run.
    config = dataclasses.replace(DevnetConfig.load(), state_interval=86_400)
    run_dir = Path(tempfile.mkdtemp(prefix="scf-standard-rpc-"))
    devnet = Devnet(
        config=config,
        run_dir=run_dir,
        port=free_port(),
        mining="interval",
        block_time=block_time,
        node_args=("--block-base-fee-per-gas", "0") if zero_gas else (),
    )
    devnet.up()
    return devnet


@contextmanager
def standard_node(
    *, block_time: float = 0.25, finality_depth: int = 0, client_version: str | None = BESU, zero_gas: bool = False
) -> Iterator[StandardRpcProxy]:
    """An interval-mining anvil behind a ``StandardRpcProxy`` (``zero_gas``: a free-gas network); both are
    stopped on exit."""
    devnet = interval_devnet(block_time, zero_gas=zero_gas)
    try:
        with StandardRpcProxy(devnet.url, finality_depth=finality_depth, client_version=client_version) as proxy:
            yield proxy
    finally:
        devnet.down()
