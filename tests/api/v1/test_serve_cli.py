"""``scf serve`` as a real process on a loopback port, and ``scf verify receivable --api`` against it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from api.cli import verify as verify_cli
from tests.support import serve
from tests.support.api_world import World
from tests.support.fitted import Evaluated

# Processes, not SQL: concurrent starts on one PostgreSQL database are test_store_migrations' subject.
pytestmark = pytest.mark.one_database("scf serve as processes")


@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = serve.Target(world.devnet.url, world.record.parent, world.db_url)
    server = serve.start(target, tmp_path_factory.mktemp("serve-run"))
    try:
        yield server.base
    finally:
        server.stop()


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
    world: World, fitted: Evaluated, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tokens are checked by whichever worker takes the connection: each read below opens a new one."""
    target = serve.Target(world.devnet.url, world.record.parent, world.db_url)
    options = ["--workers", "2", "--model", str(fitted.model_file), "--confirmations", "0"]
    # No SCF_API_SECRET: the parent process draws it once and hands it to both workers.
    env: dict[str, str | None] = {"SCF_API_SECRET": None}
    server = serve.start(target, tmp_path_factory.mktemp("serve-workers"), env, options, group=True)
    base = server.base
    try:
        tier1 = world.account("tier1")
        headers = serve.sign_in(base, tier1)
        statuses = [httpx.get(f"{base}/v1/parties/me", headers=headers).status_code for _ in range(24)]
        assert statuses == [200] * 24
        decisions = [httpx.get(f"{base}/v1/credit/decisions/{tier1.address}", headers=headers) for _ in range(6)]
        assert {d.status_code for d in decisions} == {200}, decisions[0].text
        assert len({d.json()["decisionHash"] for d in decisions}) == 1  # both workers decide alike
        assert decisions[0].json()["model"] == fitted.model.version
    finally:
        server.stop()
