"""Fixtures of the ``/v1`` suite: a real anvil with the indexer scenario's history, indexed into
SQLite, and the API in process behind FastAPI's TestClient (real HTTP semantics, no sockets):
``tests.support.api_world``.

``world`` is shared by the read-only tests (one chain, one index, session scope); tests that
write get ``fresh`` (a chain of their own with a clean deployment, indexed on demand). The
credit tests score with ``fitted``: a model fitted and evaluated on a synthetic world (whose
index, under the devnet's chain id, they also serve), not with whatever model ships
(``tests.support.fitted``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.eth.artifacts import BuildResult
from tests.support.api_world import World, open_api_world
from tests.support.fitted import Evaluated, evaluate_synthetic
from tests.support.index_scenario import play


@pytest.fixture(scope="session")
def world(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from open_api_world(build, tmp_path_factory.mktemp("api-world"), play)


@pytest.fixture(scope="module")
def fresh(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from open_api_world(build, tmp_path_factory.mktemp("api-fresh"), None)


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    return evaluate_synthetic(tmp_path_factory.mktemp("synthetic"))
