"""Fresh databases of each kind: SQLite (a file) and PostgreSQL (a real local server).

``databases`` is a module fixture parametrised over both kinds, so every test that takes it (or a
fixture built on it) runs on SQLite and on PostgreSQL: 127.0.0.1:5432, user postgres, trust auth,
a fresh database per ``url()`` (empty) or ``new()`` (the index's schema migrated), all dropped when
the module ends. Without a reachable server the PostgreSQL runs are skipped with the reason
printed, so a laptop without one still runs the rest.

Suites whose fixtures have another scope make their own parametrisation over ``KINDS`` and open
``databases_of(kind, tmp)`` in them: the ``/v1`` suite's session ``world`` and module ``fresh``
(``tests.support.api_world``), the oracle services' stores (``oracle_stores``), the scorer's
indexed worlds. The indexer suite's conftest and the audit's SQL tests import the fixture (which
registers it in each); ``PG_ADMIN`` and ``PG_URL`` are for tests that make a PostgreSQL database of
their own.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.index.sql import open_engine

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
#: The database kinds every store runs on.
KINDS = ("sqlite", "postgresql")


@functools.cache
def postgres_reason() -> str | None:
    """Why the PostgreSQL runs cannot happen here, or None when the server answers."""
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
            # A test database need not outlive a crash of the server: commits return before the WAL is flushed.
            connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
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


def require(kind: str) -> None:
    """Skip the calling test (or fixture) when databases of ``kind`` cannot be made here, saying why."""
    if kind == "postgresql":
        reason = postgres_reason()
        if reason is not None:
            print(f"\nSKIP the PostgreSQL runs: {reason}")
            pytest.skip(reason)


@contextmanager
def databases_of(kind: str, tmp: Path) -> Iterator[Databases]:
    """Fresh databases of ``kind`` (SQLite files under ``tmp``), dropped on exit; skips without a server."""
    require(kind)
    found = Databases(kind, tmp)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module", params=KINDS)
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    with databases_of(request.param, tmp_path_factory.mktemp(f"db-{request.param}")) as found:
        yield found
