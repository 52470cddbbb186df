"""The RPC provider reads the environment's proxy settings once per endpoint, and still honours them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ledger.eth.chain import DeadlineHTTPProvider


class _Proxy(BaseHTTPRequestHandler):
    """An HTTP proxy that answers every JSON-RPC request itself, and records the URL it was asked for."""

    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(self.path)
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x2a"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    seen: ClassVar[list[str]] = []
    _Proxy.seen = seen
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_environments_proxy_on_every_request(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("http_proxy", url)
    # A host only the proxy can reach: without it, the request could not be answered at all.
    provider = DeadlineHTTPProvider("http://node.invalid:8545", deadline=5)

    answers = [provider.make_request("eth_blockNumber", []) for _ in range(3)]  # type: ignore[arg-type]

    assert [a["result"] for a in answers] == ["0x2a"] * 3
    assert seen == ["http://node.invalid:8545/"] * 3  # a proxy is asked for the absolute URL


def test_an_endpoint_the_environment_exempts_is_reached_directly(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    port = url.rsplit(":", 1)[1]
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    provider = DeadlineHTTPProvider(f"http://127.0.0.1:{port}", deadline=5)

    assert provider.make_request("eth_blockNumber", [])["result"] == "0x2a"  # type: ignore[arg-type]
    assert seen == ["/"]  # a direct request names only the path
