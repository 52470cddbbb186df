"""Fixtures of the indexer suite: a chain with a history of every kind of event, and databases.

The chain is an anvil of the suite's own (reorg tests revert it to snapshots), deployed with a
deployment record and driven through a scenario (``scenario.py``) that leaves orders in every
end state, disputes, guarantees, receivable trees, financings, repayments, claims and limits.

``database`` is parametrised: every test that takes it runs on SQLite (a file in tmp_path) and
on PostgreSQL (a real server on 127.0.0.1:5432, user postgres, trust auth: a fresh database per
call, dropped at the end of the module). Without a reachable server the PostgreSQL runs are
skipped with the reason printed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.chain import Chain, ErrorDecoder
from ledger.compiler import BuildResult
from ledger.deploy import deploy, enrol_dev_members
from ledger.devnet import Devnet
from ledger.indexer import Indexer
from ledger.sql import open_engine
from tests.conftest import Deployed
from tests.ledger.indexer.scenario import Scenario, play
from tests.support.ports import free_port

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@dataclass
class IndexChain:
    """The suite's chain: a deployed ledger with its record, and what the scenario did."""

    devnet: Devnet
    deployed: Deployed
    record: Path
    scenario: Scenario

    @property
    def chain(self) -> Chain:
        return self.deployed.chain

    def indexer(self, engine: Engine, **options: object) -> Indexer:
        return Indexer.for_deployment(self.chain, engine, self.deployed.build, self.record, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def index_chain(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexChain]:
    root = tmp_path_factory.mktemp("index-chain")
    devnet = Devnet(run_dir=root / "anvil", port=free_port(), mining="auto")
    devnet.up()
    try:
        chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
        assert chain.accounts is not None
        record = root / "deployments" / f"{chain.chain_id}.json"
        result = deploy(chain, build, chain.accounts["admin"], record)
        enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
        deployed = Deployed("anvil", chain, build, chain.accounts, result.addresses)
        yield IndexChain(devnet, deployed, record, play(deployed))
    finally:
        devnet.down()


def _postgres_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:
        return f"no PostgreSQL server reachable at 127.0.0.1:5432 as postgres ({type(exc).__name__}: {exc})"
    return None


class Databases:
    """Fresh databases of one kind: ``new()`` gives an engine on an empty, migrated database."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        self.created: list[str] = []
        self.engines: list[Engine] = []

    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'ledger-{uuid.uuid4().hex[:8]}.db'}"
        import psycopg

        name = f"scf_index_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return PG_URL.format(name=name)

    def new(self) -> Engine:
        engine = open_engine(self.url())
        self.engines.append(engine)
        return engine

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if self.created:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
                for name in self.created:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    if request.param == "postgresql":
        reason = _postgres_reason()
        if reason is not None:
            print(f"\nSKIP the PostgreSQL runs: {reason}")
            pytest.skip(reason)
    found = Databases(request.param, tmp_path_factory.mktemp(f"db-{request.param}"))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def database(databases: Databases) -> Engine:
    """An empty database (schema at the newest migration), of each kind in turn."""
    return databases.new()


@pytest.fixture
def new_database(databases: Databases) -> Callable[[], Engine]:
    """Makes more empty databases of the same kind (for comparisons)."""
    return databases.new
