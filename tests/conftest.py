"""Shared fixtures: one compile, one anvil per session, and a deployed ledger per backend.

Every test that takes ``deployed`` runs once on anvil and once on the in-process
eth-tester chain, like web3.py runs one suite against several nodes. Each test starts from
a snapshot of the freshly deployed ledger and is rolled back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3.contract import Contract

from ledger import compiler
from ledger.accounts import DevAccounts
from ledger.chain import Chain, ErrorDecoder
from ledger.compiler import BuildResult
from ledger.credit import CreditRegistryClient
from ledger.deploy import deploy, enrol_dev_members
from ledger.devnet import Devnet
from ledger.escrow import TradeEscrowClient
from ledger.receivables import ReceivablesClient
from ledger.token import TokenClient
from tests.support.ports import free_port

BACKENDS = ("anvil", "embedded")


def pytest_configure(config: pytest.Config) -> None:
    """Compile once, in the controller, before xdist starts its workers: they then all hit the
    artifact cache instead of racing to write it."""
    if not hasattr(config, "workerinput"):
        compiler.build()


@pytest.fixture(scope="session")
def build() -> BuildResult:
    return compiler.build()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A session anvil in automine mode: a handful of transactions per test, each mined at once."""
    devnet = Devnet(run_dir=tmp_path_factory.mktemp("anvil"), port=free_port(), mining="auto")
    devnet.up()
    yield devnet
    devnet.down()


@dataclass
class Deployed:
    backend: str
    chain: Chain
    build: BuildResult
    accounts: DevAccounts
    addresses: dict[str, str]

    @property
    def membership(self) -> Contract:
        return self.chain.contract(self.build["Membership"], self.addresses["Membership"])

    @property
    def token(self) -> Contract:
        return self.chain.contract(self.build["SettlementToken"], self.addresses["SettlementToken"])

    @property
    def escrow(self) -> TradeEscrowClient:
        return TradeEscrowClient(self.chain, self.build, self.addresses["TradeEscrow"])

    @property
    def receivables(self) -> ReceivablesClient:
        return ReceivablesClient(self.chain, self.build, self.addresses["Receivables"])

    @property
    def registry(self) -> CreditRegistryClient:
        return CreditRegistryClient(self.chain, self.build, self.addresses["CreditRegistry"])

    @property
    def tokens(self) -> TokenClient:
        return TokenClient(self.chain, self.build, self.addresses["SettlementToken"])


def connect(backend: str, request: pytest.FixtureRequest, build: BuildResult) -> Chain:
    errors = ErrorDecoder(build.artifacts.values())
    if backend == "anvil":
        devnet: Devnet = request.getfixturevalue("anvil")
        return Chain.http(devnet.url, backend="devnet", errors=errors)
    return Chain.embedded(errors=errors)


@pytest.fixture(scope="session", params=BACKENDS)
def deployed_session(request: pytest.FixtureRequest, build: BuildResult) -> Deployed:
    chain = connect(request.param, request, build)
    assert chain.accounts is not None
    result = deploy(chain, build, chain.accounts["admin"], None)
    enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    return Deployed(request.param, chain, build, chain.accounts, result.addresses)


@pytest.fixture
def deployed(deployed_session: Deployed) -> Iterator[Deployed]:
    snapshot = deployed_session.chain.snapshot()
    yield deployed_session
    deployed_session.chain.revert(snapshot)


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway project root sharing node_modules, for tests that edit sources or files."""
    from ledger import paths

    real = paths.project_root()
    root = tmp_path / "project"
    root.mkdir()
    (root / "node_modules").symlink_to(real / "node_modules")
    import shutil

    shutil.copytree(real / "contracts", root / "contracts")
    shutil.copytree(real / "hardhat-free-devnet", root / "hardhat-free-devnet", ignore=shutil.ignore_patterns("run"))
    monkeypatch.setenv("SCF_ROOT", str(root))
    monkeypatch.delenv("SCF_BUILD_DIR", raising=False)
    monkeypatch.delenv("SCF_DEPLOYMENTS_DIR", raising=False)
    monkeypatch.delenv("SCF_DEVNET_RUN_DIR", raising=False)
    return root
