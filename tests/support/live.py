"""An ASGI app of this process on a real loopback socket (uvicorn in a thread), for what TestClient cannot do.

FastAPI's TestClient runs a request to its end before it answers, so an endless response (a
Server-Sent Events stream) never comes back through it; a client on a socket reads it as it comes.
``live(app)`` serves the same app object the test's TestClient uses (lifespan off: the TestClient
ran it) and yields its base URL; the server stops on exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from api.cli.corked import CorkedH11Protocol
from tests.support.ports import free_port


@contextmanager
def live(app: Any, limit: float = 30.0, *, http: Any = CorkedH11Protocol) -> Iterator[str]:
    """``http``: uvicorn's HTTP protocol, by name or class; by default the one ``scf serve`` speaks."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=2, http=http
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + limit
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start serving"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
