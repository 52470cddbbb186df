"""A JSON-RPC node that fails on demand: a TCP front on a loopback port that forwards to a real node,
refuses connections (nothing listens: a dead node) or accepts them and never answers (a black hole:
a hung node, a firewall that drops replies). Used by the fault tests and ``bench/faults.py``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["forward", "dead", "black_hole"]


def _listen(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


class NodeFront:
    """``url`` answers as ``target`` (host, port) does, or as a dead or silent node, per ``mode``.

    Switching mode cuts every open connection, so a client's pooled keep-alive connection does not
    outlive the node it was made to: after ``dead()`` every request meets a refused connection.
    """

    def __init__(self, target: tuple[str, int] | None = None, mode: Mode = "forward") -> None:
        self.target = target
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        with _listen() as probe:  # a free port, kept across modes
            self.port = int(probe.getsockname()[1])
        self.mode: Mode = "dead"
        self.switch(mode)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def forward(self) -> None:
        self.switch("forward")

    def dead(self) -> None:
        self.switch("dead")

    def black_hole(self) -> None:
        self.switch("black_hole")

    def switch(self, mode: Mode) -> None:
        if mode == "forward" and self.target is None:
            raise ValueError("a NodeFront without a target cannot forward")
        with self._lock:
            self.mode = mode
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()
            if mode == "dead" and self._listener is not None:
                self._listener.close()
                self._listener = None
            elif mode != "dead" and self._listener is None:
                self._listener = _listen(self.port)
                threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def close(self) -> None:
        self.switch("dead")

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: dead mode, or closed for good
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    return
                self._open.add(client)
                mode = self.mode
            if mode == "forward":
                threading.Thread(target=self._forward, args=(client,), daemon=True).start()
            # black_hole: keep the connection open and never read or answer it

    def _forward(self, client: socket.socket) -> None:
        assert self.target is not None
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.add(upstream)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
