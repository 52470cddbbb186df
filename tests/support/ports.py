"""Loopback ports for the servers the tests start (anvil, ``scf serve``, oracle services).

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range (32768-60999 on
Linux), the same range every outgoing connection takes its local port from, and under
pytest-xdist another worker may be handed the same number the moment a server lets it go
(a devnet stopped and started again on its port found it taken). So ports come from below
that range, from a block of 1,000 per xdist worker, in turn from a random start; each is
checked free by binding it.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

_FIRST = 20_000
_BLOCK = 1_000


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


def _candidates() -> itertools.cycle[int]:
    low = _FIRST + _BLOCK * (_worker_index() % 12)
    ports = list(range(low, low + _BLOCK))
    start = random.randrange(_BLOCK)
    return itertools.cycle(ports[start:] + ports[:start])


_next = _candidates()


def free_port() -> int:
    """A loopback port nothing listens on, not handed out before by this process (until it wraps)."""
    for _ in range(_BLOCK):
        port = next(_next)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in this worker's block of {_BLOCK}")
