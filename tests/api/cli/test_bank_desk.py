"""``scf bank desk`` as a bank runs it: one plain line for what it cannot run with, and an API that is down
waited out, never fatal, until SIGTERM. (Pricing and offers end to end: ``tests/api/desk/test_desk.py``.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from api.cli import main
from scoring.policy import DEV_BANK
from tests.support.keystores import cheap_keystore
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "right"


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    folder = tmp_path_factory.mktemp("bank")
    account = Account.create()
    keystore = cheap_keystore(account, folder / "bank.json", PASSWORD)
    password = folder / "password"
    password.write_text(PASSWORD + "\n")
    return account.address, keystore, password


def _desk(bank: tuple[str, Path, Path], *extra: str, policy: Path = DEV_BANK, api: str | None = None) -> list[str]:
    address, keystore, password = bank
    api = api or f"http://127.0.0.1:{free_port()}"
    return ["bank", "desk", "--api", api, "--bank", address, "--keystore", str(keystore), "--password-file",
            str(password), "--policy", str(policy), *extra]  # fmt: skip


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_a_bad_policy_file_is_one_line_naming_the_field(
    bank: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.loads(DEV_BANK.read_text())
    body["lgd_bps"] = 1.5
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(body))
    assert main(_desk(bank, "--once", policy=policy)) == 2
    line = _one_line_error(capsys)
    assert "pricing policy" in line and "lgd_bps" in line and "non-integer" in line


def test_a_wrong_password_is_one_line(
    bank: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong\n")
    assert main(_desk((bank[0], bank[1], wrong), "--once")) == 2
    assert "wrong password" in _one_line_error(capsys)


def test_a_keystore_of_another_bank_is_one_line(
    bank: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    other = Account.create().address
    assert main(_desk((other, bank[1], bank[2]), "--once")) == 2
    assert f"not the bank {other}" in _one_line_error(capsys)


def test_an_unreachable_api_is_one_line_with_once(
    bank: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_desk(bank, "--once", "--journal", str(tmp_path / "j.jsonl"))) == 2
    line = _one_line_error(capsys)
    assert "the API at http://127.0.0.1:" in line and "unavailable" in line


def test_following_a_dead_api_logs_and_retries_and_sigterm_stops_it_cleanly(
    bank: tuple[str, Path, Path], tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "api", *_desk(bank, "--interval", "0.1", "--journal", str(tmp_path / "j.jsonl"))]
    desk = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "j.jsonl").exists():
            assert desk.poll() is None, desk.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(2.5)  # at least two failed attempts, backing off 1 s then 2 s
        assert desk.poll() is None, "the desk must not exit because the API is down"
        desk.send_signal(signal.SIGTERM)
        out, err = desk.communicate(timeout=30)
    finally:
        if desk.poll() is None:
            desk.kill()
            desk.wait()
    assert desk.returncode == 0, err
    assert err.count("unavailable") >= 2 and "trying again" in err and "Traceback" not in err
    assert "stopped: offered 0" in err and out.startswith("offered 0")


def test_scf_bank_desk_has_help_naming_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bank", "desk", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: scf bank desk")
    for option in ("--api", "--bank", "--keystore", "--password-file", "--policy", "--once", "--interval", "--journal"):
        assert option in out
