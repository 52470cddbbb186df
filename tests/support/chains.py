"""A ledger deployed on an anvil of its own, with a deployment record, for suites that cannot share the session's.

The session's ``deployed`` ledger (``tests/conftest.py``) is rolled back after every test, which
suits tests that write and forget. The indexer suite reverts its chain to its own snapshots
(reorgs) and the ``/v1`` suite indexes its chain and serves it for a whole session; both need a
chain nobody else touches, and a deployment record on disk as ``scf deploy`` writes it (the
indexer and the API read addresses and the start block from it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.toolchain.deploy import deploy, enrol_dev_members
from ledger.toolchain.devnet import Devnet
from tests.support.deployments import Deployed
from tests.support.ports import free_port


@dataclass(frozen=True)
class OwnChain:
    """An anvil, the ledger deployed on it (dev members enrolled), and the deployment record's path."""

    devnet: Devnet
    deployed: Deployed
    record: Path


@contextmanager
def own_chain(build: BuildResult, root: Path) -> Iterator[OwnChain]:
    """An automine anvil under ``root/anvil``, the ledger deployed on it (record in ``root/deployments``).

    The anvil is stopped on exit."""
    devnet = Devnet(run_dir=root / "anvil", port=free_port(), mining="auto")
    devnet.up()
    try:
        chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
        assert chain.accounts is not None
        record = root / "deployments" / f"{chain.chain_id}.json"
        result = deploy(chain, build, chain.accounts["admin"], record)
        enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
        yield OwnChain(devnet, Deployed("anvil", chain, build, chain.accounts, result.addresses), record)
    finally:
        devnet.down()


@contextmanager
def manual_mining(chain: Chain) -> Iterator[None]:
    """Anvil with automine off inside the ``with`` block, as the write-path benchmarks run it: transactions
    wait in the pool until someone mines (a ``BatchSender`` does, with ``evm_mine``)."""
    chain.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield
    finally:
        chain.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
