"""``make run``'s dev bank desk: ``scf demo run-main`` starts ``scf bank desk`` beside the API and stops it with it.

The desk's own behaviour (pricing, offers, journal) is tests/api/desk's; here, that the demo hands it a
keystore it can open, the shipped policy and a command line it accepts, and that stopping it is clean.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from api.cli.demo.run_main import DEV_POLICY, start_desk, stop_desk
from ledger.eth.accounts import dev_accounts
from ledger.eth.keys import load_keystore
from tests.support.ports import free_port


def test_the_demo_starts_the_dev_banks_desk_which_waits_for_the_api_and_stops_cleanly(tmp_path: Path) -> None:
    accounts = dev_accounts()
    stack = SimpleNamespace(chain=SimpleNamespace(accounts=accounts))
    port = free_port()  # nothing listens there yet: the desk must wait for the API, not fail

    desk = start_desk(stack, "127.0.0.1", port, tmp_path)
    log = tmp_path / "desk" / "desk.log"
    try:
        # Running, and waiting for the API: its first back-off is logged once its signal handlers are set (a stop
        # before that, on a loaded machine still importing, would test the interpreter, not the desk).
        deadline = time.monotonic() + 120
        while "trying again" not in (log.read_text() if log.exists() else ""):
            assert desk.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the desk logged no back-off: {log.read_text()}"
            time.sleep(0.1)
    finally:
        stop_desk(desk)

    assert desk.returncode == 0, log.read_text()
    keystore = tmp_path / "desk" / "dev-bank.json"
    password = (tmp_path / "desk" / "password").read_text().strip()
    assert load_keystore(keystore, password).address == accounts["bank"].address
    assert DEV_POLICY.is_file()
