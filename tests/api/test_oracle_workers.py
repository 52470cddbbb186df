"""``scf oracle serve``'s parse workers end with the service: a Ctrl-C leaves no worker process behind.

The service runs as an operator runs it, in its own process under uvicorn (``api.cli.oracle``'s
runner), with one parse worker; the test then does what a terminal does on Ctrl-C, SIGINT to the
whole process group. The app's lifespan shuts the pool down in order: the workers ignore the SIGINT
themselves (no traceback from them), and none is left running once the service has exited.
No chain is needed: the service's witness is a stand-in that only answers ``/health``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import alive, children

ROOT = Path(__file__).resolve().parents[2]

SERVE = """
import sys
from api.cli.oracle import Service, _run
from api.oracle_app import create_oracle_app
from ledger.model.common import OracleKind
from oracles.capture import CaptureService
from oracles.store import open_database
from tests.support.capture_clients import CLIENTS

class Witness:  # just what the app's routes read before a capture
    address = "0x" + "00" * 20
    kind = OracleKind.CARRIER
    def is_active(self):
        return False

witness = Witness()
service = CaptureService(witness, witness, open_database("sqlite://"), clock=lambda: 0)
app = create_oracle_app(service, clients=CLIENTS, parse_workers=1)
sys.exit(_run(Service(app, witness.address, "a stand-in oracle"), "127.0.0.1", int(sys.argv[1])))
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_ctrl_c_stops_the_service_and_its_parse_workers(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "oracle.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        deadline = time.monotonic() + 120  # a guard against a service that never answers, not a measurement
        while True:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, f"the service did not answer:\n{log.read_text()}"
                time.sleep(0.2)
        workers = [pid for pid, cmdline in children(process.pid) if "spawn_main" in cmdline]
        assert len(workers) == 1 and alive(workers[0])  # started with the app, before its first document
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=120) == 0, log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert not any(alive(pid) for pid in workers)
    assert "Traceback" not in log.read_text()
