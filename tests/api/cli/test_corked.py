"""``api.cli.corked``: what one turn of the event loop writes goes out in one write, the same bytes in order."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.cli.corked import FLUSH_BYTES, CorkedH11Protocol, CorkedTransport
from tests.support.live import live


class Recording:
    """A transport that records its writes and can be closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.closed_after: int | None = None

    def write(self, data: bytes) -> None:
        assert not self.closing, "written after close"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.closed_after = len(self.writes)

    def abort(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1234)}.get(name, default)


def in_loop(steps: Callable[[CorkedTransport, Recording], Any]) -> Recording:
    recording = Recording()

    async def run() -> None:
        corked = CorkedTransport(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        await steps(corked, recording)
        await asyncio.sleep(0)  # the turn ends: what is kept goes out

    asyncio.run(run())
    return recording


def test_writes_of_one_turn_go_out_as_one_at_its_end() -> None:
    async def steps(corked: CorkedTransport, recording: Recording) -> None:
        corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
        corked.write(b'{"a":1}')
        assert recording.writes == []  # nothing before the turn ends
        await asyncio.sleep(0)
        assert recording.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a":1}']
        corked.write(b"next")

    assert in_loop(steps).writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a":1}', b"next"]


def test_a_write_reaching_the_flush_size_goes_out_at_once_after_what_was_kept() -> None:
    big = b"x" * FLUSH_BYTES

    async def steps(corked: CorkedTransport, recording: Recording) -> None:
        corked.write(b"head")
        assert corked.get_write_buffer_size() == 4
        corked.write(big)
        assert recording.writes == [b"head" + big]
        corked.write(b"tail")

    assert in_loop(steps).writes == [b"head" + big, b"tail"]


def test_close_writes_what_is_kept_first() -> None:
    async def steps(corked: CorkedTransport, recording: Recording) -> None:
        corked.write(b"answer")
        corked.close()
        assert recording.writes == [b"answer"] and recording.closed_after == 1

    recording = in_loop(steps)
    assert recording.writes == [b"answer"]  # the flush scheduled for the turn's end writes nothing more


def test_bytes_kept_for_an_aborted_transport_are_dropped() -> None:
    async def steps(corked: CorkedTransport, recording: Recording) -> None:
        corked.write(b"lost")
        corked.abort()  # the transport's own, through the wrapper

    assert in_loop(steps).writes == []


def test_empty_writes_are_ignored_and_a_reused_buffer_is_copied() -> None:
    async def steps(corked: CorkedTransport, recording: Recording) -> None:
        buffer = bytearray(b"first")
        corked.write(b"")
        corked.write(buffer)
        buffer[:] = b"later"
        corked.writelines([b"-", memoryview(b"second")])
        assert corked.get_extra_info("peername") == ("127.0.0.1", 1234)

    assert in_loop(steps).writes == [b"first-second"]


# -- served: a real uvicorn on a socket, its transport's writes counted ----------------------------

WRITES: list[int] = []


class _Counting:
    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if data:  # uvicorn writes an empty end of message; asyncio sends nothing for it
            WRITES.append(len(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountedCorked(CorkedH11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Counting(transport))  # type: ignore[arg-type]


class CountedPlain(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Counting(transport))  # type: ignore[arg-type]


BODY = b'{"status":"ok"}'
LARGE = bytes(range(256)) * 1024  # 256 KiB


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    body = LARGE if scope["path"] == "/large" else BODY
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def exchange(base: str, raw: bytes, until: Callable[[bytes], bool]) -> bytes:
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(raw)
        got = b""
        while not until(got):
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    return got


def get(path: str, *, close: bool = False) -> bytes:
    connection = b"close" if close else b"keep-alive"
    return b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: %s\r\n\r\n" % (path.encode(), connection)


@pytest.mark.parametrize(("protocol", "writes"), [(CountedCorked, 1), (CountedPlain, 2)])
def test_an_answer_ready_at_once_is_one_write_where_uvicorn_alone_makes_two(protocol: type, writes: int) -> None:
    with live(app, http=protocol) as base:
        WRITES.clear()
        answer = exchange(base, get("/"), lambda got: got.endswith(BODY))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n" + BODY)
    assert len(WRITES) == writes, WRITES


def test_pipelined_streamed_large_and_closing_answers_arrive_whole_and_in_order() -> None:
    with live(app, http=CountedCorked) as base:
        pipelined = exchange(base, get("/") + get("/") + get("/"), lambda got: got.count(BODY) == 3)
        streamed = exchange(base, get("/stream"), lambda got: got.endswith(b"0\r\n\r\n"))
        large = exchange(base, get("/large", close=True), lambda got: False)  # read until the server closes
    assert pipelined.count(b"HTTP/1.1 200 OK\r\n") == 3 and pipelined.endswith(BODY)
    # Chunked, each part in its own chunk: the awaits between them end the turns.
    assert b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n" in streamed
    head, _, body = large.partition(b"\r\n\r\n")
    assert b"content-length: 262144" in head.lower() and body == LARGE
