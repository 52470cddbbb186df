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
    try:
        time.sleep(3)
        assert desk.poll() is None, (tmp_path / "desk" / "desk.log").read_text()
    finally:
        stop_desk(desk)

    assert desk.returncode == 0, (tmp_path / "desk" / "desk.log").read_text()
    keystore = tmp_path / "desk" / "dev-bank.json"
    password = (tmp_path / "desk" / "password").read_text().strip()
    assert load_keystore(keystore, password).address == accounts["bank"].address
    assert DEV_POLICY.is_file()
