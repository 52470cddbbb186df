"""Deploy in dependency order, record it, redeploy only what changed, verify the bytecode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.errors import DeploymentError, DeploymentMissing, DeploymentOfAnotherChain, VerificationFailed
from ledger.toolchain.deploy import (
    PLAN,
    deploy,
    enrol_dev_members,
    record_addresses,
    recorded_deployment,
    runtime_hash,
    verify,
)
from tests.support.deployments import Deployed

ALL = [step.name for step in PLAN]


@pytest.mark.parity
def test_deploy_records_addresses_blocks_compiler_and_hashes(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / f"{deployed.chain.chain_id}.json"

    result = deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)

    data = json.loads(record.read_text())
    assert result.deployed == ALL
    assert data["chainId"] == deployed.chain.chain_id
    assert data["compiler"]["version"] == deployed.build.compiler_version
    token = data["contracts"]["SettlementToken"]
    assert token["constructorArgs"][0] == data["contracts"]["Membership"]["address"]
    assert token["runtimeHash"] == runtime_hash(deployed.build["SettlementToken"])
    block = deployed.chain.w3.eth.get_block(token["blockNumber"])
    assert block["hash"].to_0x_hex() == token["blockHash"]


def test_deploying_unchanged_code_again_is_a_no_op(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)
    written = record.read_text()
    block = deployed.chain.block_number

    again = deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)

    assert again.deployed == [] and again.reused == ALL
    assert record.read_text() == written
    assert deployed.chain.block_number == block


def test_a_changed_contract_is_redeployed_with_its_dependents(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    first = deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)
    data = json.loads(record.read_text())
    data["contracts"]["Membership"]["runtimeHash"] = "0x" + "00" * 32  # as if compiled from older source
    record.write_text(json.dumps(data))

    second = deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)

    assert second.deployed == ALL  # everything depends on Membership
    assert second.addresses["Membership"] != first.addresses["Membership"]
    token = deployed.chain.contract(deployed.build["SettlementToken"], second.addresses["SettlementToken"])
    assert deployed.chain.call(token.functions.membership()) == second.addresses["Membership"]


@pytest.mark.parity
def test_verify_accepts_a_fresh_deployment(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    result = deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)

    assert verify(deployed.chain, deployed.build, record) == result.addresses


def test_verify_reports_every_contract_whose_runtime_differs(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)
    data = json.loads(record.read_text())
    contracts = data["contracts"]
    contracts["Membership"]["address"], contracts["SettlementToken"]["address"] = (
        contracts["SettlementToken"]["address"],
        contracts["Membership"]["address"],
    )  # the other contracts stay where they are and must still verify
    record.write_text(json.dumps(data))

    with pytest.raises(VerificationFailed) as caught:
        verify(deployed.chain, deployed.build, record)

    assert sorted(m.contract for m in caught.value.mismatches) == ["Membership", "SettlementToken"]


def test_verify_reports_an_address_without_code(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)
    data = json.loads(record.read_text())
    data["contracts"]["Membership"]["address"] = deployed.accounts["relayer"].address
    record.write_text(json.dumps(data))

    with pytest.raises(VerificationFailed, match="no code at this address"):
        verify(deployed.chain, deployed.build, record)


def test_verify_without_a_record_says_to_deploy(deployed: Deployed, tmp_path: Path) -> None:
    with pytest.raises(DeploymentMissing, match="scf deploy"):
        verify(deployed.chain, deployed.build, tmp_path / "none.json")


def test_a_record_of_another_chain_is_refused(deployed: Deployed, tmp_path: Path) -> None:
    record = tmp_path / "deploy.json"
    record.write_text(json.dumps({"chainId": 1, "contracts": {}}))

    with pytest.raises(DeploymentError, match="not"):
        deploy(deployed.chain, deployed.build, deployed.accounts["admin"], record)
    assert json.loads(record.read_text()) == {"chainId": 1, "contracts": {}}


def test_enrolling_dev_members_twice_admits_nobody_twice(deployed: Deployed) -> None:
    count = deployed.chain.call(deployed.membership.functions.memberCount())

    enrolled = enrol_dev_members(deployed.chain, deployed.build, deployed.addresses["Membership"], deployed.accounts)

    assert enrolled == []
    assert deployed.chain.call(deployed.membership.functions.memberCount()) == count


def test_a_recorded_deployment_is_refused_when_missing_or_of_another_chain(tmp_path: Path) -> None:
    record = tmp_path / "31337.json"
    with pytest.raises(DeploymentMissing):
        recorded_deployment(31337, record)
    record.write_text(json.dumps({"chainId": 1, "contracts": {"Membership": {"address": "0x" + "11" * 20}}}))
    with pytest.raises(DeploymentOfAnotherChain, match="chain 1, not 31337"):
        recorded_deployment(31337, record)
    path, loaded = recorded_deployment(1, record)
    assert path == record and record_addresses(loaded) == {"Membership": "0x" + "11" * 20}
