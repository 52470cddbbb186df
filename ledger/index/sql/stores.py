"""Alembic for the stores that share a database with the index (the API's, the oracle services'): one upgrade at a
time per database, each store with its own version table, and the adoption of a store that ``create_all`` made.

The indexer's history (``ledger.index.sql.migrations``, version table ``alembic_version``) is one of several on a
database: ``scf serve`` keeps the API's tables (``api_*``) beside the index by default, and each store names its own
version table (``api_alembic_version``, ``oracle_alembic_version``), so the histories never see each other's rows.

**One upgrade at a time.** Several processes may start on one database at once (``scf serve --workers N`` on
each of several hosts, a restarted oracle beside a running one). ``upgrade`` runs Alembic under ``schema_lock``:
on PostgreSQL a session advisory lock whose key is the store's name (``pg_advisory_lock`` waits; it is released
at the end, or by the server when the session dies), on a SQLite file an exclusive ``flock`` on
``<database>.<store>-schema.lock`` (the kernel drops it when the process dies). The second process then finds the
store at head and does nothing. Alembic alone would not do: two processes both read "no version table", both
create it, and the loser fails its start-up on a duplicate key, or on SQLite on a reader that turned writer.

**Adoption.** A store made before its Alembic history (by ``create_all``, and for the API by the numbered steps
of its old ``api_schema_version``) has tables but no version table. ``Store.adopt`` brings it to the baseline
revision's schema (tables created where missing, nullable columns and indexes added where missing: what
``create_all`` and the old steps did, against the baseline's frozen tables), and the baseline is then stamped;
later revisions run as on any database. Adoption runs once, under the same lock.

**New stores in test suites.** ``DECLARED_NEW_STORES`` (off; only test suites turn it on) makes a store on a
database holding none of its tables with ``create_all`` of the declared tables and stamps it at head, instead of
running every revision: a suite that makes hundreds of stores then pays milliseconds for each, not a few tenths of
a second. The revisions still run on every other database, and the store suites compare the reflected schema of
both ways, so the shortcut is proven to make the store the revisions make.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from alembic import command, context
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from ledger.index.sql.db import sqlite_path

#: Test suites only: a new store is ``create_all`` of its declared tables, stamped at head (see above).
DECLARED_NEW_STORES = False


def lock_key(name: str) -> int:
    """The advisory lock key of store ``name``: a signed 64-bit integer (what ``pg_advisory_lock`` takes)."""
    return int.from_bytes(hashlib.sha256(f"scf schema of {name}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def schema_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock on the schema of store ``name`` in ``engine``'s database (waiting for it): an advisory lock
    on PostgreSQL, a ``flock`` beside a SQLite file, nothing for in-memory SQLite (private to its process)."""
    if engine.dialect.name == "postgresql":
        key = lock_key(name)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    path = sqlite_path(engine.url.render_as_string(hide_password=False)) if engine.dialect.name == "sqlite" else None
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str]
    with path.with_name(f"{path.name}.{name}-schema.lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a separate open file: threads of one process wait for each other too
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Store:
    """A store's Alembic history: its name (the lock's), its script directory, its version table, its baseline
    revision, the baseline's frozen tables (``baseline()`` declares them on a new ``MetaData``) and
    ``target``, the tables the code declares today (for autogenerate and the tests that compare the two)."""

    name: str
    migrations: Path
    version_table: str
    baseline_revision: str
    baseline: Callable[[], MetaData]
    target: Callable[[], MetaData]

    def config(self, engine: Engine | None = None) -> Config:
        """Alembic's configuration, built in code: the store's scripts, run on ``engine``."""
        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        config.attributes["store"] = self
        if engine is not None:
            config.attributes["engine"] = engine
        return config

    def head(self) -> str:
        """The newest revision of the store's history."""
        found = ScriptDirectory.from_config(self.config()).get_current_head()
        if found is None:
            raise RuntimeError(f"{self.migrations} holds no revision")
        return found

    def current(self, engine: Engine) -> str | None:
        """The revision this database's store is at (None: none recorded)."""
        with engine.connect() as connection:
            return MigrationContext.configure(
                connection, opts={"version_table": self.version_table}
            ).get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> None:
        """Bring the store to ``revision`` under the schema lock, adopting a store made before its history first."""
        with schema_lock(engine, self.name):
            config = self.config(engine)
            if self.current(engine) is None:
                if self.made_before_history(engine):
                    with engine.begin() as connection:
                        self.adopt(connection)
                    command.stamp(config, self.baseline_revision)
                elif DECLARED_NEW_STORES and revision == "head" and self.is_new(engine):
                    with engine.begin() as connection:
                        self.target().create_all(connection)
                    command.stamp(config, "head")
                    return
            command.upgrade(config, revision)

    def is_new(self, engine: Engine) -> bool:
        """Whether the database holds none of the store's tables (declared or baseline) and no version table."""
        names = {self.version_table, *self.target().tables, *self.baseline().tables}
        return not names & set(inspect(engine).get_table_names())

    def made_before_history(self, engine: Engine) -> bool:
        """Whether the database holds some of the baseline's tables but no version table: a store ``create_all``
        made."""
        found = set(inspect(engine).get_table_names())
        return self.version_table not in found and bool(found & set(self.baseline().tables))

    def adopt(self, connection: Connection) -> None:
        """Give a store made before its history the baseline's schema: each missing table, and each nullable
        column and named index its tables lack (what ``create_all`` and the old numbered steps added)."""
        baseline = self.baseline()
        inspector = inspect(connection)
        present = set(inspector.get_table_names())
        preparer = connection.dialect.identifier_preparer
        for table in baseline.sorted_tables:
            if table.name not in present:
                table.create(connection)
                continue
            columns = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in columns:
                    continue
                if not column.nullable:
                    raise ValueError(f"{table.name}.{column.name}: a column added to existing rows must be nullable")
                connection.exec_driver_sql(
                    f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.format_column(column)} "
                    f"{column.type.compile(dialect=connection.dialect)}"
                )
            indexes = {index["name"] for index in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in indexes:
                    index.create(connection)


def run_environment() -> None:
    """The body of a store's ``env.py``: online migrations on the caller's engine, in one transaction, recorded in
    the store's own version table (``Store.upgrade`` holds the schema lock around it)."""
    config = context.config
    engine = config.attributes.get("engine")
    store = config.attributes.get("store")
    if context.is_offline_mode() or not isinstance(engine, Engine) or not isinstance(store, Store):
        raise RuntimeError("these migrations run through Store.upgrade (an engine is needed; no offline SQL scripts)")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=store.target(),
            version_table=store.version_table,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
