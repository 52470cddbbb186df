"""The nodes a write-path run measures on: anvils of its own, plain JSON-RPC, CPU accounting.

Each workload gets a fresh anvil on a free loopback port (stopped when the run ends) with the
ledger deployed and the dev members enrolled; ``ledger_anvil`` switches automine off so the
senders mine (``evm_mine``) as they go, and its logging off. ``rpc`` is a bare JSON-RPC
call with ``requests``, so the node's settings and the ceiling's queries go straight to the
node, not through project code. ``cpu_seconds`` reads /proc so that a run can say whose CPU
(ours or anvil's) an operation cost.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from ledger.eth.accounts import DevnetConfig
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.toolchain.deploy import deploy, enrol_dev_members
from ledger.toolchain.devnet import Devnet, Mining
from writes.plan import log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def anvil(run_dir: Path, mining: Mining) -> Iterator[Devnet]:
    """An anvil of our own; its periodic state dump is pushed past the run (it costs anvil CPU)."""
    config = dataclasses.replace(DevnetConfig.load(), state_interval=86_400)
    devnet = Devnet(config=config, run_dir=run_dir, port=free_port(), mining=mining)
    info = devnet.up()
    if info.reused or info.pid is None:
        raise SystemExit(f"port {devnet.port} was taken by another anvil; run again")
    try:
        yield devnet
    finally:
        devnet.down()


@contextmanager
def ledger_anvil(build: BuildResult, run_dir: Path) -> Iterator[tuple[Devnet, int, Chain, dict[str, str]]]:
    """An anvil with the ledger deployed, automine and logging off: (devnet, pid, chain, addresses)."""
    with anvil(run_dir, "auto") as devnet:
        info = devnet.read_info()
        assert info is not None and info.pid is not None
        log(f"anvil on {devnet.url} (pid {info.pid}); deploying")
        chain, addresses = deployed_ledger(devnet.url, build)
        # No-mining mode: BatchSender mines (evm_mine) every ``mine_every`` transactions.
        # Automine makes a block per transaction, and anvil recomputes the state root over
        # the whole state for every block; interval mining makes every step wait a tick.
        rpc(devnet.url, "evm_setAutomine", [False])
        # anvil writes lines per transaction to its log: a cost of logging, not of writing.
        rpc(devnet.url, "anvil_setLoggingEnabled", [False])
        yield devnet, info.pid, chain, addresses


def rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60)
    payload = answer.json()
    if "error" in payload:
        raise RuntimeError(f"{method}: {payload['error']}")
    return payload["result"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deployed_ledger(url: str, build: BuildResult) -> tuple[Chain, dict[str, str]]:
    chain = Chain.http(url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=120)
    assert chain.accounts is not None
    result = deploy(chain, build, chain.accounts["admin"], None)
    enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    return chain, result.addresses
