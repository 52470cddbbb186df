"""Fixtures of the oracle suite: the GS1 EPCIS reference data, and the services' stores on each database kind.

Tests that need the data take the ``epcis_dir`` (or ``examples_dir``) fixture, which skips with
the reason when the directory is absent (where it lives: ``tests.support.epcis``).

``oracle_stores`` (``tests.support.oracle_pipeline``) runs the tests that take it once per database kind:
in-memory SQLite and PostgreSQL (skipped, saying why, without a server). On the parity suite's second chain
backend (eth-tester) they run on SQLite only: the store never sees which node the chain is, and a second pass on
that slow backend would test the backend, not the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import KINDS, databases_of
from tests.support.deployments import BACKENDS
from tests.support.epcis import EPCIS_DIR
from tests.support.oracle_pipeline import OracleStores


@pytest.fixture(scope="session")
def epcis_dir() -> Path:
    if not (EPCIS_DIR / "examples").is_dir():
        reason = f"GS1 EPCIS reference data not found at {EPCIS_DIR} (clone the repo next to shared/)"
        print(reason)
        pytest.skip(reason)
    return EPCIS_DIR


@pytest.fixture(scope="session")
def examples_dir(epcis_dir: Path) -> Path:
    return epcis_dir / "examples"


@pytest.fixture(scope="module", params=KINDS)
def oracle_stores(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OracleStores]:
    if request.param == "sqlite":
        yield OracleStores(None)
        return
    with databases_of(request.param, tmp_path_factory.mktemp(f"oracle-{request.param}")) as databases:
        yield OracleStores(databases)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL stores on the first chain backend only (see above)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        other_backend = params.get("deployed_session", BACKENDS[0]) != BACKENDS[0]
        (dropped if other_backend and params.get("oracle_stores") == "postgresql" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
