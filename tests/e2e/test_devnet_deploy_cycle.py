"""The `make run` path through the real `scf` command: a devnet that keeps its deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.toolchain.devnet import rpc
from tests.support.ports import free_port

SCF = [sys.executable, "-m", "api"]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {
        **os.environ,
        "SCF_DEVNET_PORT": str(free_port()),
        "SCF_DEVNET_RUN_DIR": str(tmp_path / "run"),
        "SCF_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "SCF_CHAIN": "devnet",
    }
    yield values
    subprocess.run([*SCF, "devnet", "down"], env=values, capture_output=True, timeout=60)


def scf(env: dict[str, str], *args: str, code: int = 0) -> str:
    done = subprocess.run([*SCF, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == code, f"scf {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_up_deploy_verify_restart_keeps_the_deployment(env: dict[str, str], tmp_path: Path) -> None:
    assert "started anvil" in scf(env, "devnet", "up", "--block-time", "0.2")
    assert "deployed Membership, SettlementToken, CreditRegistry, TradeEscrow" in scf(env, "deploy")
    record = tmp_path / "deployments" / "31337.json"
    addresses = {n: c["address"] for n, c in json.loads(record.read_text())["contracts"].items()}

    assert "nothing changed, no-op" in scf(env, "deploy")
    assert "runtime matches" in scf(env, "deploy", "--verify")
    url = f"http://127.0.0.1:{env['SCF_DEVNET_PORT']}"
    rpc(url, "evm_increaseTime", [4 * 365 * 86_400])  # a played world runs years ahead of the wall clock
    rpc(url, "evm_mine", [])
    ahead = _head_time(url)
    assert "stopped anvil" in scf(env, "devnet", "down")
    assert "not running" in scf(env, "devnet", "status", code=1)
    scf(env, "devnet", "up", "--block-time", "0.2")

    verified = scf(env, "deploy", "--verify")
    assert all(address in verified for address in addresses.values())
    assert "nothing changed, no-op" in scf(env, "deploy")
    status = json.loads(scf(env, "devnet", "status", "--json"))
    assert status["running"] and status["devnet"]["chain_id"] == 31337
    # The restarted chain's clock goes on from where it stopped, not from the wall clock.
    rpc(url, "evm_mine", [])
    assert _head_time(url) > ahead


def _head_time(url: str) -> int:
    return int(rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def test_deploy_without_a_devnet_fails_clearly_and_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    said = scf(env, "deploy", code=2)

    assert "no chain answers" in said and "scf devnet up" in said
    assert not (tmp_path / "deployments").exists()


def test_deploy_to_an_unreachable_rpc_url_fails_clearly(env: dict[str, str]) -> None:
    said = scf(env, "deploy", "--chain", f"http://127.0.0.1:{free_port()}", code=2)

    assert "no chain answers at http://127.0.0.1:" in said


def test_verify_before_any_deploy_says_what_to_run(env: dict[str, str]) -> None:
    scf(env, "devnet", "up", "--mining", "auto")

    assert "run `scf deploy`" in scf(env, "deploy", "--verify", code=2)


def test_compile_error_is_shown_with_file_and_line(project_copy: Path) -> None:
    (project_copy / "contracts" / "Broken.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\n"
        "contract Broken { function f() external { x = 1; } }\n"
    )
    env = {**os.environ, "SCF_ROOT": str(project_copy), "SCF_BUILD_DIR": str(project_copy / "build")}

    said = scf(env, "contracts", "build", code=2)

    assert "contracts/Broken.sol:3" in said and "Undeclared identifier" in said


def test_missing_node_modules_is_reported_with_the_fix(project_copy: Path) -> None:
    (project_copy / "node_modules").unlink()
    env = {**os.environ, "SCF_ROOT": str(project_copy), "SCF_BUILD_DIR": str(project_copy / "build")}

    said = scf(env, "contracts", "build", code=2)

    assert "node_modules" in said and "npm ci" in said


def test_every_command_has_help() -> None:
    for args in (["--help"], ["contracts", "build", "--help"], ["devnet", "up", "--help"], ["deploy", "--help"]):
        assert "usage: scf" in scf(dict(os.environ), *args)


def test_deploy_with_a_keystore_records_that_deployer(env: dict[str, str], tmp_path: Path) -> None:
    from ledger.eth.accounts import dev_accounts
    from tests.support.keystores import cheap_keystore

    relayer = dev_accounts()["relayer"]  # funded on the devnet, and not the dev admin
    keystore = cheap_keystore(relayer, tmp_path / "deployer.json", "s3cret")
    scf(env, "devnet", "up", "--mining", "auto")

    said = scf({**env, "SCF_KEYSTORE_PASSWORD": "s3cret"}, "deploy", "--keystore", str(keystore))

    record = json.loads((tmp_path / "deployments" / "31337.json").read_text())
    assert record["deployer"] == relayer.address
    assert "enrolled dev members" not in said
    assert "wrong password" in scf(
        {**env, "SCF_KEYSTORE_PASSWORD": "nope"}, "deploy", "--keystore", str(keystore), code=2
    )
