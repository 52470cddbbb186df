"""Shared fixtures: one compile, one anvil per session, and a deployed ledger per backend.

A test that takes ``deployed`` (or ``deployed_session``) runs on anvil. A test marked
``@pytest.mark.parity`` runs, unchanged, on every backend: anvil and the in-process
eth-tester chain, as web3.py runs one suite against several nodes. The parity tests are a
representative subset (a happy path and a revert per contract and error family, the EIP-712
digests, permits, events, time edges, the lock-step machines briefly, and the Python clients
written for both backends): eth-tester mines a few dozen transactions a second, and running
every contract test on it as well nearly doubled their CI time. ``pytest -m parity`` runs
just that suite.

Each backend's ledger is deployed once per session (per xdist worker); each test starts from
a snapshot of it and is rolled back afterwards.

This module only declares hooks and fixtures: what they hand out (``Deployed``, how a ledger is
deployed, the backends) lives in ``tests/support/deployments.py``, where tests and helpers import
it from; nothing imports a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.index.sql import stores
from ledger.toolchain import compiler
from ledger.toolchain.devnet import Devnet
from tests.support.databases import drop_templates
from tests.support.deployments import BACKENDS, Deployed, deploy_ledger
from tests.support.ports import free_port

PARITY = "parity"


def pytest_configure(config: pytest.Config) -> None:
    """Compile once, in the controller, before xdist starts its workers: they then all hit the
    artifact cache instead of racing to write it."""
    config.addinivalue_line(
        "markers", f"{PARITY}: runs on every chain backend ({', '.join(BACKENDS)}); other ledger tests on anvil only"
    )
    if not hasattr(config, "workerinput"):
        compiler.build()
    # New API and oracle stores are create_all + a stamp at head, not every revision (hundreds of stores, a few
    # tenths of a second each): the store suites prove the two alike and run the revisions themselves
    # (tests.support.schemas). Processes the tests start (scf serve, the oracle services) still run every revision.
    stores.DECLARED_NEW_STORES = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """This process's PostgreSQL template databases go with it (``tests.support.databases``)."""
    drop_templates()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test on a deployed ledger runs on anvil, or on every backend when marked parity."""
    if "deployed_session" in metafunc.fixturenames:
        backends = BACKENDS if metafunc.definition.get_closest_marker(PARITY) else BACKENDS[:1]
        metafunc.parametrize("deployed_session", backends, indirect=True, scope="session")


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


@pytest.fixture(scope="session")
def anvil_ledger(anvil: Devnet, build: BuildResult) -> Deployed:
    chain = Chain.http(anvil.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
    return deploy_ledger("anvil", chain, build)


@pytest.fixture(scope="session")
def embedded_ledger(build: BuildResult) -> Deployed:
    return deploy_ledger("embedded", Chain.embedded(errors=ErrorDecoder(build.artifacts.values())), build)


@pytest.fixture(scope="session")
def deployed_session(request: pytest.FixtureRequest) -> Deployed:
    """The ledger on the backend this test runs on (see ``pytest_generate_tests``).

    Each backend's ledger is a session fixture of its own, so a worker that goes from anvil
    tests to parity tests on eth-tester and back deploys each once, not at every switch."""
    backend = getattr(request, "param", BACKENDS[0])
    ledger: Deployed = request.getfixturevalue(f"{backend}_ledger")
    return ledger


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
