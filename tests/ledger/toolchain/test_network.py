"""Network files (``ledger.toolchain.network``): a profile is read whole or refused with the field named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.toolchain.network import NetworkFileInvalid, is_network_file, load_network

ADDRESSES = {
    name: "0x" + f"{i + 1:040x}"
    for i, name in enumerate(("Membership", "SettlementToken", "CreditRegistry", "TradeEscrow", "Receivables"))
}


def profile(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "consortium-qbft",
        "chainId": 1337,
        "rpcUrls": ["http://10.0.0.1:8545", "https://rpc-2.example:8545"],
        "finalityDepth": 0,
        "gasPrice": {"policy": "zero"},
        "keystores": {"relayer": "keys/relayer.json"},
        "contracts": ADDRESSES,
    }
    body.update(changes)
    return body


def write(tmp_path: Path, body: Any) -> Path:
    path = tmp_path / "network.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_a_profile_is_read_with_paths_beside_it_and_addresses_checksummed(tmp_path: Path) -> None:
    found = load_network(write(tmp_path, profile()))
    assert (found.name, found.chain_id, found.finality_depth, found.gas_price.policy) == (
        "consortium-qbft",
        1337,
        0,
        "zero",
    )
    assert found.rpc_urls == ("http://10.0.0.1:8545", "https://rpc-2.example:8545")
    assert found.keystores == {"relayer": tmp_path / "keys" / "relayer.json"}
    assert found.contracts["Receivables"] == "0x0000000000000000000000000000000000000005"
    assert load_network(write(tmp_path, profile(contracts={}, keystores={}))).contracts == {}
    legacy = load_network(write(tmp_path, profile(gasPrice={"policy": "legacy", "gasPriceGwei": 2})))
    assert legacy.gas_price.gas_price_gwei == 2
    assert load_network(write(tmp_path, profile())).to_json()["gasPrice"] == {"policy": "zero"}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (profile(chainId=0), "chainId"),
        (profile(chainId=True), "chainId"),
        (profile(chainId=2**70), "chainId"),
        (profile(chainId="1337"), "chainId"),
        (profile(rpcUrls=[]), "rpcUrls"),
        (profile(rpcUrls=["ws://node:8546"]), "rpcUrls[0]"),
        (profile(rpcUrls=["http://"]), "rpcUrls[0]"),
        (profile(finalityDepth=-1), "finalityDepth"),
        (profile(gasPrice={"policy": "free"}), "gasPrice.policy"),
        (profile(gasPrice={"policy": "zero", "gasPriceGwei": 1}), "gasPrice.gasPriceGwei"),
        (profile(gasPrice={"policy": "legacy"}), "gasPrice.gasPriceGwei"),
        (profile(keystores={"relayer": "0x" + "ab" * 32}), "keystores.relayer"),
        (profile(contracts={"Membership": ADDRESSES["Membership"]}), "contracts.CreditRegistry"),
        (profile(contracts={**ADDRESSES, "Vault": ADDRESSES["Membership"]}), "contracts.Vault"),
        (profile(contracts={**ADDRESSES, "Receivables": "0x1234"}), "contracts.Receivables"),
        (profile(name="\u202eevil"), "name"),
        (profile(relayerKey="0x00"), "relayerKey"),
        ([1, 2], "file"),
        ('{"chainId": NaN}', "file"),
        ("[" * 100_000 + "]" * 100_000, "file"),
        ('{"name": "\\ud800"}', "name"),
        ("\xff\xfe", "file"),
    ],
)
def test_a_wrong_field_is_refused_and_named(tmp_path: Path, body: Any, where: str) -> None:
    with pytest.raises(NetworkFileInvalid) as refused:
        load_network(write(tmp_path, body))
    assert refused.value.where == where, refused.value


def test_a_missing_or_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    with pytest.raises(NetworkFileInvalid, match="cannot be read"):
        load_network(tmp_path / "absent.json")
    with pytest.raises(NetworkFileInvalid, match="small JSON object"):
        load_network(write(tmp_path, " " * 70_000 + "{}"))


def test_a_chain_setting_names_a_network_file_only_when_it_is_a_json_path() -> None:
    assert is_network_file("networks/consortium.json")
    assert not is_network_file("devnet") and not is_network_file("http://node:8545/x.json")
    assert not is_network_file(None)


def test_the_shipped_example_for_a_besu_qbft_network_is_a_valid_profile() -> None:
    example = Path(__file__).resolve().parents[3] / "ledger" / "toolchain" / "networks" / "besu-qbft.example.json"
    found = load_network(example)
    assert (found.chain_id, found.finality_depth, found.gas_price.policy) == (1337, 0, "zero")
    assert all(not str(p).startswith("0x") for p in found.keystores.values())
