"""A webhook receiver on a real loopback port: it records every delivery and answers from a script.

    with Receiver([500, 200]) as receiver:      # the first delivery gets a 500, every later one a 200
        ... register receiver.url, make an event, run the dispatcher ...
        first, second = receiver.wait_for(2)

An answer is a status code, or ``HOLD``: the request is recorded and then kept waiting, unanswered,
until ``release()`` (a receiver that is slow, while the test kills the process delivering to it).
The last answer of the script repeats. ``wait_for`` waits for deliveries a process sends on its own
schedule (``scf serve``'s dispatcher), with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.ports import free_port

HOLD = "hold"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class Receiver:
    def __init__(self, answers: Sequence[int | str] = (200,)) -> None:
        self.answers = list(answers) or [200]
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name for it
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body))
                    answer = receiver.answers[min(len(receiver.received), len(receiver.answers)) - 1]
                    receiver._changed.notify_all()
                if answer == HOLD:
                    receiver._released.wait(timeout=300)
                    answer = 200
                try:
                    self.send_response(int(answer))
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender is gone (killed while it waited)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/scf"

    def wait_for(self, count: int, limit: float = 60.0) -> list[Received]:
        """The first ``count`` deliveries, once that many have come (AssertionError after ``limit`` seconds)."""
        deadline = time.monotonic() + limit
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} deliveries came within {limit} s"
                self._changed.wait(timeout=left)
            return list(self.received[:count])

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
