"""``scf network check`` and ``--chain NETWORK.json``, against the session's anvil with the ledger deployed on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.cli import network as network_cli
from api.cli.common import connect, finality
from ledger.eth.artifacts import BuildResult
from ledger.toolchain.network import NetworkMismatch
from tests.support.deployments import Deployed
from tests.support.keystores import cheap_keystore
from tests.support.ports import free_port


def network_file(tmp_path: Path, ledger: Deployed, **changes: Any) -> Path:
    body: dict[str, Any] = {
        "name": "session-anvil",
        "chainId": ledger.chain.chain_id,
        "rpcUrls": [ledger.chain.endpoint],
        "finalityDepth": 0,
        "gasPrice": {"policy": "eip1559"},
        "contracts": ledger.addresses,
    }
    body.update(changes)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(body))
    return path


def test_a_profile_of_this_chain_and_deployment_checks_out(
    anvil_ledger: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keystore = tmp_path / "relayer.json"
    cheap_keystore(anvil_ledger.accounts["relayer"], keystore, "network-test")
    path = network_file(tmp_path, anvil_ledger, keystores={"relayer": "relayer.json"})
    assert network_cli.main(["network", "check", str(path), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["ok"] is True and said["findings"] == []
    assert said["nodes"][0]["chainId"] == anvil_ledger.chain.chain_id and said["nodes"][0]["headBlock"] >= 1


def test_each_wrong_thing_is_a_finding_with_where_it_is(
    anvil_ledger: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swapped = {**anvil_ledger.addresses, "Receivables": anvil_ledger.addresses["TradeEscrow"]}
    (tmp_path / "raw.json").write_text(json.dumps({"address": "0x00", "key": "not encrypted"}))
    path = network_file(
        tmp_path,
        anvil_ledger,
        rpcUrls=[anvil_ledger.chain.endpoint, f"http://127.0.0.1:{free_port()}"],
        gasPrice={"policy": "zero"},
        contracts=swapped,
        keystores={"relayer": "raw.json"},
    )
    assert network_cli.main(["network", "check", str(path), "--json"]) == network_cli.EXIT_FINDINGS
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert any("gas policy zero" in f for f in findings), findings  # anvil prices gas above 0
    assert any("contracts.Receivables" in f and "not this build's Receivables" in f for f in findings), findings
    assert any("does not answer" in f for f in findings), findings
    assert any("keystores.relayer" in f and "not an encrypted keystore" in f for f in findings), findings
    other = network_file(tmp_path, anvil_ledger, chainId=anvil_ledger.chain.chain_id + 1)
    assert network_cli.main(["network", "check", str(other)]) == network_cli.EXIT_FINDINGS
    assert "but the file says" in capsys.readouterr().out


def test_an_unusable_file_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "network.json"
    path.write_text(
        json.dumps({"chainId": 1, "rpcUrls": ["ftp://node"], "finalityDepth": 0, "gasPrice": {"policy": "zero"}})
    )
    assert network_cli.main(["network", "check", str(path)]) == 2
    assert "rpcUrls[0]" in capsys.readouterr().err


def test_a_chain_setting_that_names_a_network_file_connects_to_its_node_and_checks_its_chain(
    anvil_ledger: Deployed, build: BuildResult, tmp_path: Path
) -> None:
    chain = connect(str(network_file(tmp_path, anvil_ledger)), build)
    assert chain.chain_id == anvil_ledger.chain.chain_id and chain.block_number >= 1
    with pytest.raises(NetworkMismatch, match="names chain"):
        connect(str(network_file(tmp_path, anvil_ledger, chainId=anvil_ledger.chain.chain_id + 7)), build)


def test_a_network_files_finality_depth_is_the_confirmations_unless_a_command_names_its_own(
    anvil_ledger: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(network_file(tmp_path, anvil_ledger, finalityDepth=3))
    assert finality(path, None) == 3 and finality(path, 0) == 0
    assert finality("devnet", None) is None and finality(anvil_ledger.chain.endpoint, None) is None
    monkeypatch.setenv("SCF_CHAIN", path)  # the environment names it as --chain does
    assert finality(None, None) == 3
