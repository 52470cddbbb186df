"""uvicorn's HTTP/1.1 protocol (h11) sending each answer in one write: what one turn of the event loop writes.

uvicorn writes an answer's status line and headers the moment the app sends ``http.response.start``,
then its body on ``http.response.body``: two ``send()`` calls, two TCP segments with TCP_NODELAY, and
a client that wakes up, reads and parses twice for one answer. ``CorkedH11Protocol`` hands uvicorn
a ``CorkedTransport`` instead of the connection's own: what is written during one turn of the event
loop is kept and written once, at the end of that turn (``loop.call_soon``), as TCP_CORK would for
a blocking server. The bytes are the same, in the same order; only the number of writes changes.

An app that answers without awaiting anything in between (the hot reads, ``api.v1.hot_reads``, and
every route whose body is ready) then sends each answer in one segment. Measured on loopback with
one worker and 16 keep-alive clients (``bench/api.py``'s reads, each route alone, the two servers
alternating): the server's CPU per answer fell 5-20 % and the client's 25-30 %; the ceiling's own
bare answer 8 % and 8 %.

What cannot wait is not kept: a write that brings the kept bytes to ``FLUSH_BYTES`` goes out at once
(a large or streamed body is not copied around), ``close`` writes what is kept before it closes, and
bytes kept for a transport that is closing by the end of the turn (the peer went away, ``abort``)
are dropped, as the transport would drop them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

#: Kept bytes that are written at once rather than at the end of the turn: past a few segments,
#: one more write costs little beside copying the body to join it.
FLUSH_BYTES = 64 * 1024


class CorkedTransport:
    """The writes of one event-loop turn to ``transport`` as one ``write``; everything else is the transport's."""

    __slots__ = ("_kept", "_loop", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._kept:
            self._loop.call_soon(self.flush)
        self._kept.append(bytes(data))  # a bytes object is not copied; a buffer the caller may reuse is
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what is kept, if the transport still takes writes."""
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:
        # Reading pauses, extra info (peer, socket), the protocol, abort: the transport's own.
        return getattr(self._transport, name)


class CorkedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol writing through a ``CorkedTransport`` (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        corked: Any = CorkedTransport(transport, self.loop)
        super().connection_made(corked)
