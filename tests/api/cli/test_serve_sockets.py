"""``scf serve --workers N``'s listening sockets: one per worker on Linux (SO_REUSEPORT), a taken address refused.

Spreading the connections is the kernel's part (it hashes each connection to one socket of the group); what
``api.cli.serve.listening_sockets`` must get right is the group itself, TCP_NODELAY's precondition (the
protocol named), and that an address already served, by another ``scf serve --workers`` too, is refused
rather than silently shared.
"""

from __future__ import annotations

import socket
import sys

import pytest

from api.cli.serve import ServeError, listening_sockets

LINUX = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _free_port() -> int:
    """A port free just now, taken by a socket ``listening_sockets`` made and closed."""
    probe = listening_sockets("127.0.0.1", 0, 1)[0]
    port: int = probe.getsockname()[1]
    probe.close()
    return port


def test_one_worker_listens_on_one_socket_of_its_own() -> None:
    sockets = listening_sockets("127.0.0.1", 0, 1)
    try:
        (sock,) = sockets
        assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
        if LINUX:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        _close(sockets)


@pytest.mark.skipif(not LINUX, reason="the workers share one socket where SO_REUSEPORT does not spread connections")
def test_each_worker_gets_a_socket_of_one_reuseport_group_on_the_same_port() -> None:
    port = _free_port()
    sockets = listening_sockets("127.0.0.1", port, 3)
    try:
        assert len(sockets) == 3
        assert {s.getsockname()[1] for s in sockets} == {port}
        for sock in sockets:
            assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            sock.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:  # the group answers on that port
            assert client.getpeername()[1] == port
    finally:
        _close(sockets)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_address_another_process_listens_on_is_refused(workers: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServeError, match=r"cannot listen on 127\.0\.0\.1"):
            listening_sockets("127.0.0.1", taken.getsockname()[1], workers)


@pytest.mark.skipif(not LINUX, reason="SO_REUSEPORT groups are Linux's")
def test_an_address_another_scf_serve_with_workers_listens_on_is_refused_not_shared() -> None:
    port = _free_port()
    serving = listening_sockets("127.0.0.1", port, 2)
    try:
        for sock in serving:
            sock.listen()
        with pytest.raises(ServeError, match=r"cannot listen on 127\.0\.0\.1"):
            listening_sockets("127.0.0.1", port, 2)
    finally:
        _close(serving)
