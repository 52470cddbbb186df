"""The hardhat-free devnet: up, status, down, reset, and a chain that survives a restart."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.errors import PortTaken, ToolchainMissing
from ledger.eth.chain import Chain
from ledger.toolchain.devnet import Devnet, anvil_binary, rpc
from tests.support.ports import free_port


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[Devnet]:
    net = Devnet(run_dir=tmp_path / "run", port=free_port(), mining="auto")
    yield net
    net.down()


def test_up_writes_what_is_running_and_status_reads_it(devnet: Devnet) -> None:
    info = devnet.up()

    assert info.url == devnet.url and info.chain_id == 31337 and info.client.startswith("anvil/")
    written = json.loads(devnet.info_file.read_text())
    assert written["pid"] == info.pid and written["accounts"]["bank"] == info.accounts["bank"]
    status = devnet.status()
    assert status.running and status.block_number == 0


def test_up_when_running_reuses_the_same_node(devnet: Devnet) -> None:
    first = devnet.up()

    second = devnet.up()

    assert second.reused and second.pid == first.pid


def test_role_accounts_are_funded_and_match_the_embedded_chain(devnet: Devnet) -> None:
    info = devnet.up()
    chain = Chain.http(info.url, backend="devnet")
    embedded = Chain.embedded()

    assert chain.accounts is not None and embedded.accounts is not None
    assert chain.accounts.addresses() == embedded.accounts.addresses() == info.accounts
    for address in info.accounts.values():
        assert chain.w3.eth.get_balance(address) == devnet.config.balance_eth * 10**18


def test_chain_survives_down_and_up(devnet: Devnet) -> None:
    chain = Chain.http(devnet.up().url, backend="devnet")
    assert chain.accounts is not None
    receipt = chain.send_value(chain.accounts["admin"], chain.accounts["relayer"].address, 12345)
    balance = chain.w3.eth.get_balance(chain.accounts["relayer"].address)

    devnet.down()
    assert not devnet.status().running
    chain = Chain.http(devnet.up().url, backend="devnet")

    assert chain.block_number >= receipt["blockNumber"]
    assert chain.w3.eth.get_balance(chain.accounts["relayer"].address) == balance  # type: ignore[index]


def test_reset_starts_again_from_genesis(devnet: Devnet) -> None:
    chain = Chain.http(devnet.up().url, backend="devnet")
    assert chain.accounts is not None
    chain.send_value(chain.accounts["admin"], chain.accounts["relayer"].address, 1)

    devnet.reset()
    devnet.up()

    assert int(rpc(devnet.url, "eth_blockNumber"), 16) == 0
    assert not devnet.state_file.exists() or devnet.status().block_number == 0


def test_interval_mining_produces_blocks_on_its_own(tmp_path: Path) -> None:
    net = Devnet(run_dir=tmp_path / "run", port=free_port(), mining="interval", block_time=0.2)
    try:
        net.up()
        deadline = time.monotonic() + 20
        while int(rpc(net.url, "eth_blockNumber"), 16) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert int(rpc(net.url, "eth_blockNumber"), 16) >= 2
        assert net.read_info() is not None and net.read_info().block_time == 0.2  # type: ignore[union-attr]
    finally:
        net.down()


def test_port_held_by_something_else_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        net = Devnet(run_dir=tmp_path / "run", port=server.server_address[1])
        with pytest.raises(PortTaken, match="not anvil"):
            net.up()
        assert not net.info_file.exists()
    finally:
        server.shutdown()
        server.server_close()


def test_missing_anvil_package_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ToolchainMissing, match="npm ci"):
        anvil_binary(tmp_path)


def test_each_port_keeps_a_chain_of_its_own(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scf devnet up --port P` on a new port starts from genesis; the configured port's chain is kept."""
    config_file = project_copy / "hardhat-free-devnet" / "devnet.json"
    configured, other = free_port(), free_port()
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "port": configured}))
    monkeypatch.delenv("SCF_DEVNET_PORT", raising=False)
    default, fresh = Devnet(mining="auto"), Devnet(port=other, mining="auto")
    run = project_copy / "hardhat-free-devnet" / "run"
    assert (default.run_dir, fresh.run_dir) == (run, run / f"port-{other}")
    try:
        chain = Chain.http(default.up().url, backend="devnet")
        assert chain.accounts is not None
        chain.send_value(chain.accounts["admin"], chain.accounts["relayer"].address, 1)
        default.down()
        assert default.state_file.is_file()

        fresh.up()
        assert int(rpc(fresh.url, "eth_blockNumber"), 16) == 0, "a new port loads no other chain's state"
        assert fresh.read_info() is not None and default.read_info() is None
        fresh.down()
        assert fresh.state_file.is_file() and fresh.state_file != default.state_file

        default.up()
        assert int(rpc(default.url, "eth_blockNumber"), 16) >= 1, "the configured port's chain is still there"
    finally:
        fresh.down()
        default.down()


def test_other_commands_find_the_devnet_of_the_port_they_are_given(
    project_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger import paths
    from ledger.eth.chain import devnet_url

    run = project_copy / "hardhat-free-devnet" / "run"
    configured = json.loads((project_copy / "hardhat-free-devnet" / "devnet.json").read_text())["port"]
    monkeypatch.setenv("SCF_DEVNET_PORT", str(configured))
    assert (paths.devnet_run_dir(), paths.deployments_dir()) == (run, project_copy / "deployments")
    monkeypatch.setenv("SCF_DEVNET_PORT", "18545")
    # Its state, index, oracle stores and deployment records: a chain id is not a chain.
    assert (paths.devnet_run_dir(), paths.deployments_dir()) == (run / "port-18545", run / "port-18545" / "deployments")
    assert Devnet().run_dir == run / "port-18545"
    assert devnet_url().endswith(":18545")
    monkeypatch.setenv("SCF_DEVNET_RUN_DIR", str(project_copy / "mine"))
    assert paths.devnet_run_dir() == project_copy / "mine" == Devnet(port=19000).run_dir  # a run dir is one devnet
