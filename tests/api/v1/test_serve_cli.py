"""``scf serve`` as a real process on a loopback port, and ``scf verify receivable --api`` against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from api import verify_cli
from tests.api.v1.conftest import Fitted, World
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]


def wait_until_up(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None, "scf serve exited"
        assert time.monotonic() < deadline, "scf serve did not come up"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "SCF_DEPLOYMENTS_DIR": str(world.record.parent),
        "SCF_DEVNET_RUN_DIR": str(tmp_path_factory.mktemp("serve-run")),
    }
    command = [sys.executable, "-m", "api.serve_cli", "serve", "--port", str(port), "--chain", world.devnet.url]
    server = subprocess.Popen([*command, "--db", world.db_url], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_scf_serve_answers_over_http_and_scf_verify_checks_its_proof(world: World, served: str) -> None:
    assert world.scenario is not None
    bank = world.account("bank")
    challenge = httpx.post(f"{served}/v1/auth/challenge", json={"address": bank.address}).json()
    assert f"127.0.0.1:{served.rsplit(':', 1)[1]} wants you to sign in" in challenge["message"]
    signature = "0x" + Account.sign_message(encode_defunct(text=challenge["message"]), bank.key).signature.hex()
    token = httpx.post(f"{served}/v1/auth/token", json={"nonce": challenge["nonce"], "signature": signature}).json()
    piece_id = world.scenario.pieces["financed"]
    contract = world.deployed.addresses["Receivables"]
    argv = ["verify", "receivable", str(piece_id), "--rpc", world.devnet.url, "--api", served, "--contract", contract]
    assert verify_cli.main([*argv, "--token", token["accessToken"]]) == 0
    assert verify_cli.main([*argv, "--token", "scf1.forged.token"]) == verify_cli.EXIT_UNCHECKED
    docs = httpx.get(f"{served}/docs")
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text


def test_scf_serve_with_two_workers_shares_tokens_and_serves_decisions(
    world: World, fitted: Fitted, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tokens are checked by whichever worker takes the connection: each read below opens a new one."""
    port = free_port()
    env = {
        **os.environ,
        "SCF_DEPLOYMENTS_DIR": str(world.record.parent),
        "SCF_DEVNET_RUN_DIR": str(tmp_path_factory.mktemp("serve-workers")),
    }
    env.pop("SCF_API_SECRET", None)  # drawn once by the parent process and handed to both workers
    command = [sys.executable, "-m", "api.serve_cli", "serve", "--port", str(port), "--chain", world.devnet.url]
    options = ["--db", world.db_url, "--workers", "2", "--model", str(fitted.model_file), "--confirmations", "0"]
    server = subprocess.Popen([*command, *options], cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base)
        tier1 = world.account("tier1")
        challenge = httpx.post(f"{base}/v1/auth/challenge", json={"address": tier1.address}).json()
        signature = "0x" + Account.sign_message(encode_defunct(text=challenge["message"]), tier1.key).signature.hex()
        answer = httpx.post(f"{base}/v1/auth/token", json={"nonce": challenge["nonce"], "signature": signature})
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
        statuses = [httpx.get(f"{base}/v1/parties/me", headers=headers).status_code for _ in range(24)]
        assert statuses == [200] * 24
        decisions = [httpx.get(f"{base}/v1/credit/decisions/{tier1.address}", headers=headers) for _ in range(6)]
        assert {d.status_code for d in decisions} == {200}, decisions[0].text
        assert len({d.json()["decisionHash"] for d in decisions}) == 1  # both workers decide alike
        assert decisions[0].json()["model"] == fitted.model.version
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
