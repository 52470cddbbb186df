"""``scf deploy --chain NETWORK.json`` on a free-gas standard node: keystores, failover, adoption by another member.

The node is anvil behind the standard-RPC proxy (``tests.support.standard_rpc``) with a base fee of 0, as a
Besu QBFT network with ``zeroBaseFee`` and ``min-gas-price=0`` runs. The deployer is a keystore account that
holds no ether at all: on such a network that is enough, and every transaction is priced 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from api.cli import main
from ledger.eth.chain import Chain
from ledger.eth.keys import PASSWORD_ENV
from ledger.toolchain.deploy import PLAN, load_record
from tests.support.keystores import cheap_keystore
from tests.support.ports import free_port
from tests.support.standard_rpc import StandardRpcProxy, standard_node

PASSWORD = "network-file-test"


@pytest.fixture(scope="module")
def node() -> Iterator[StandardRpcProxy]:
    with standard_node(block_time=0.25, finality_depth=1, zero_gas=True) as proxy:
        yield proxy


def write_network(folder: Path, node: StandardRpcProxy, **changes: Any) -> Path:
    body: dict[str, Any] = {
        "name": "zero-gas-consortium",
        "chainId": Chain.http(node.url).chain_id,
        # The first endpoint is down: the node file lists several, and the next one is used.
        "rpcUrls": [f"http://127.0.0.1:{free_port()}", node.url],
        "finalityDepth": 1,
        "gasPrice": {"policy": "zero"},
        "keystores": {"deployer": "keys/deployer.json"},
        **changes,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "network.json"
    path.write_text(json.dumps(body))
    return path


def test_a_penniless_keystore_deploys_at_zero_gas_and_another_member_adopts_the_deployment(
    node: StandardRpcProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    deployer = Account.create()
    operator = tmp_path / "operator"
    cheap_keystore(deployer, operator / "keys" / "deployer.json", PASSWORD)
    monkeypatch.setenv("SCF_DEPLOYMENTS_DIR", str(operator / "deployments"))

    assert main(["deploy", "--chain", str(write_network(operator, node))]) == 0

    chain = Chain.http(node.url)
    record = load_record(operator / "deployments" / f"{chain.chain_id}.json")
    assert record is not None and record["deployer"] == deployer.address
    assert chain.w3.eth.get_balance(deployer.address) == 0  # it never had any, and paid nothing
    first = record["contracts"]["Membership"]
    receipt = chain.w3.eth.get_transaction_receipt(first["txHash"])
    assert receipt["effectiveGasPrice"] == 0 and receipt["status"] == 1

    # Another member's machine: the consortium's network file names the contracts; nothing is deployed.
    member = tmp_path / "member"
    addresses = {name: entry["address"] for name, entry in record["contracts"].items()}
    monkeypatch.setenv("SCF_DEPLOYMENTS_DIR", str(member / "deployments"))
    head = chain.block_number
    assert main(["deploy", "--chain", str(write_network(member, node, keystores={}, contracts=addresses))]) == 0
    assert "adopted the network file's deployment" in capsys.readouterr().out

    adopted = load_record(member / "deployments" / f"{chain.chain_id}.json")
    assert adopted is not None and adopted["adoptedFrom"].endswith("member/network.json")
    for name in (step.name for step in PLAN):
        # Found by bisecting eth_getCode: the block that deployed it, so the indexer starts there.
        assert adopted["contracts"][name]["blockNumber"] == record["contracts"][name]["blockNumber"]
        assert adopted["contracts"][name]["runtimeHash"] == record["contracts"][name]["runtimeHash"]
    # Adopting sent nothing: the blocks the node mined meanwhile (on its timer, however many a slow machine
    # lets go by) hold no transaction.
    went_by = range(head + 1, chain.block_number + 1)
    assert sum(len(chain.w3.eth.get_block(n)["transactions"]) for n in went_by) == 0
    assert node.refused == []


def test_a_network_file_naming_other_code_is_refused_and_nothing_recorded(
    node: StandardRpcProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    operator = tmp_path / "operator"
    cheap_keystore(Account.create(), operator / "keys" / "deployer.json", PASSWORD)
    monkeypatch.setenv("SCF_DEPLOYMENTS_DIR", str(operator / "deployments"))
    assert main(["deploy", "--chain", str(write_network(operator, node))]) == 0
    chain = Chain.http(node.url)
    record = load_record(operator / "deployments" / f"{chain.chain_id}.json")
    assert record is not None
    swapped = {name: entry["address"] for name, entry in record["contracts"].items()}
    swapped["Receivables"], swapped["TradeEscrow"] = swapped["TradeEscrow"], swapped["Receivables"]
    member = tmp_path / "member"
    monkeypatch.setenv("SCF_DEPLOYMENTS_DIR", str(member / "deployments"))
    capsys.readouterr()

    assert main(["deploy", "--chain", str(write_network(member, node, keystores={}, contracts=swapped))]) != 0

    said = capsys.readouterr()
    assert "does not match the local compile" in said.err + said.out
    assert not (member / "deployments").exists()
