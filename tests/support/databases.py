"""Fresh databases of each kind: SQLite (a file) and PostgreSQL (a real local server).

``databases`` is a module fixture parametrised over both kinds, so every test that takes it (or a
fixture built on it) runs on SQLite and on PostgreSQL: 127.0.0.1:5432, user postgres, trust auth,
a fresh database per ``url()`` (empty), ``new()`` (the index's schema migrated) or ``served_url()`` (the
index's schema and the API's store, as ``scf serve`` leaves a new database), all dropped when the module ends.

A PostgreSQL database costs a ``CREATE DATABASE`` (a copy of ``template1``) and then its migrations, which on
this server cost more than the copy. So each process migrates one template database per schema once
(``_template``) and ``new()`` and ``served_url()`` copy it (``CREATE DATABASE ... TEMPLATE``, the same copy as
an empty one): a database at head at the price of an empty one. The migrations themselves still run from empty
on ``url()`` databases (the migration suites) and on every SQLite database; the templates are dropped when the
process ends. Without a reachable server the PostgreSQL runs are skipped with the reason
printed, so a laptop without one still runs the rest.

Suites whose fixtures have another scope make their own parametrisation over ``KINDS`` and open
``databases_of(kind, tmp)`` in them: the ``/v1`` suite's session ``world`` and module ``fresh``
(``tests.support.api_world``), the oracle services' stores (``oracle_stores``), the scorer's
indexed worlds. The indexer suite's conftest and the audit's SQL tests import the fixture (which
registers it in each); ``PG_ADMIN`` and ``PG_URL`` are for tests that make a PostgreSQL database of
their own.
"""

from __future__ import annotations

import atexit
import functools
import os
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


def _create(name: str, template: str | None = None) -> None:
    import psycopg

    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
        # A test database need not outlive a crash of the server: commits return before the WAL is flushed.
        connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')


def _drop(names: list[str]) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: This process's template databases, by schema, dropped when it ends.
_TEMPLATES: dict[str, str] = {}


def _template(schema: str) -> str:
    """The name of this process's PostgreSQL database holding ``schema`` at head (made at the first call): ``index``
    (the index's migrations) or ``served`` (those and the API's store). No connection to it stays open: a
    database being copied may have none."""
    if schema in _TEMPLATES:
        return _TEMPLATES[schema]
    name = f"scf_index_test_template_{schema}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _create(name)
    if not _TEMPLATES:
        atexit.register(drop_templates)  # and at the end of the test session (tests/conftest.py), whichever is first
    _TEMPLATES[schema] = name
    engine = open_engine(PG_URL.format(name=name))
    try:
        if schema == "served":
            from api.v1 import migrate

            migrate.create(engine)
    finally:
        engine.dispose()
    return name


def drop_templates() -> None:
    """Drop this process's template databases."""
    if _TEMPLATES:
        names = list(_TEMPLATES.values())
        _TEMPLATES.clear()
        _drop(names)


class Databases:
    """Fresh databases of one kind: ``new()`` gives an engine on an empty, migrated database."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        self.created: list[str] = []
        self.engines: list[Engine] = []

    def url(self, template: str | None = None) -> str:
        """A new, empty database (on PostgreSQL, a copy of ``template`` when given)."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp / f'ledger-{uuid.uuid4().hex[:8]}.db'}"
        name = f"scf_index_test_{uuid.uuid4().hex[:12]}"
        _create(name, template)
        self.created.append(name)
        return PG_URL.format(name=name)

    def new(self) -> Engine:
        """An engine on a new database with the index's schema at head (``open_engine`` migrates a SQLite file and
        finds a PostgreSQL copy of the template at head)."""
        engine = open_engine(self.url(_template("index") if self.kind == "postgresql" else None))
        self.engines.append(engine)
        return engine

    def served_url(self) -> str:
        """A new database as ``scf serve`` leaves it: the index's schema and the API's store at head (on SQLite,
        empty: the API migrates it as it starts)."""
        return self.url(_template("served") if self.kind == "postgresql" else None)

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()
        if self.created:
            _drop(self.created)


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
