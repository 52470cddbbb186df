"""Fixtures of the ``/v1`` suite: a real anvil with the indexer scenario's history, indexed into SQLite and into
PostgreSQL, and the API in process behind FastAPI's TestClient (real HTTP semantics, no sockets):
``tests.support.api_world``.

``world`` is shared by the read-only tests (one chain, played once per session, served from each database
kind: the tests that take it run on both); tests that write get ``fresh`` (a clean deployment of their module's
own, indexed on demand), served from SQLite, then rewound to its clean deployment (a devnet snapshot) and served
from PostgreSQL: one chain per module, and each kind starts from the same chain nobody else has touched. (One
chain per session, rewound for every module, saves a few seconds a module but gives each module a chain whose
blocks and fees are not those of a new one: tests that sign with the fee of the moment then collide.) The
PostgreSQL runs skip, saying why, without a server (``tests.support.databases``). The credit tests score with
``fitted``: a model fitted and evaluated on a synthetic world (whose index, under the devnet's chain id, they also
serve), not with whatever model ships (``tests.support.fitted``).

**Which tests run twice.** Every test on ``world`` or ``fresh`` runs on both kinds unless it is marked
``@pytest.mark.one_database("why")``: the tests whose subject is not SQL (the OpenAPI document's conformance, the
node's faults, the ethers client, ``scf serve`` as processes and the crash of one) and that cost most to repeat
(each starts processes or replays a chain); they run on SQLite, unless ``SCF_TEST_DATABASES=all``. The
PostgreSQL runs share each chain with the SQLite runs, so what they add is the tests' own requests and
transactions: CI's budget holds (issue 18).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ledger.eth.artifacts import BuildResult
from tests.support.api_world import World, WorldChain, serve_world, world_chain
from tests.support.databases import KINDS, databases_of
from tests.support.fitted import Evaluated, evaluate_synthetic
from tests.support.index_scenario import play

#: The marker of a test that runs on SQLite only; its argument says why.
ONE_DATABASE = "one_database"
#: ``SCF_TEST_DATABASES=all`` runs the marked tests on every kind too (the whole suite on PostgreSQL).
ALL_ENV = "SCF_TEST_DATABASES"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ONE_DATABASE}(why): a /v1 test whose subject is not SQL, run on SQLite only (tests/api/v1/conftest.py)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The database kinds of a test's ``world`` (per session) or ``fresh`` (per module): both, or SQLite when the
    test is marked ``one_database``."""
    one = metafunc.definition.get_closest_marker(ONE_DATABASE) and os.environ.get(ALL_ENV) != "all"
    kinds = KINDS[:1] if one else KINDS
    for name, scope in (("world_kind", "session"), ("fresh_kind", "module")):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, kinds, indirect=True, scope=scope)


@pytest.fixture(scope="session")
def world_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="module")
def fresh_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture(scope="session")
def played_chain(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldChain]:
    with world_chain(build, tmp_path_factory.mktemp("api-world"), play) as chain:
        yield chain


@pytest.fixture(scope="session")
def world(world_kind: str, played_chain: WorldChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with databases_of(world_kind, tmp_path_factory.mktemp(f"api-world-{world_kind}")) as databases:
        yield from serve_world(played_chain, databases)


@pytest.fixture(scope="module")
def fresh_chain(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorldChain]:
    with world_chain(build, tmp_path_factory.mktemp("api-fresh"), None) as chain:
        yield chain


@pytest.fixture(scope="module")
def fresh(fresh_kind: str, fresh_chain: WorldChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with databases_of(fresh_kind, tmp_path_factory.mktemp(f"api-fresh-{fresh_kind}")) as databases:
        fresh_chain.rewind()
        yield from serve_world(fresh_chain, databases)


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    return evaluate_synthetic(tmp_path_factory.mktemp("synthetic"))
