"""Schema steps for the API's own tables (``api_*``) on databases that already hold them.

New tables come from ``create``'s ``create_all``; what ``create_all`` cannot do is add a
column, or an index, to a table that exists, so every such column and index is also listed here,
in a numbered step. ``upgrade(engine)`` runs the steps above the version recorded in
``api_schema_version`` and records the version it reached: one row per upgrade that applied any,
its description naming the steps. One row, not one per step, because the versions an upgrade passes
through were never a schema any process ran against, and because several processes upgrading the
same database at once then write the same single row (the loser's insert is a duplicate key,
ignored). Each step is idempotent: a column or index is added only when the inspector does not
see it, and DDL that loses a race with another process starting on the same database (``scf
serve --workers``) is accepted once the column or index is there. A database ``create_all`` has
just made already has every column and index, so its steps only get recorded.

Why not Alembic, which the indexer uses: these tables are created by ``create_all`` (other
parts of the API add tables by declaring them), so an Alembic history would need a baseline
stamped into every existing database, a second script directory and environment, and a
revision from whoever adds a table. The changes so far only add nullable columns and indexes, which
SQLite and PostgreSQL both do with a plain ``ALTER TABLE ... ADD COLUMN`` and ``CREATE INDEX``
(neither rewrites the table). A change that needs
more (a type change, a drop, a backfill, SQLite's table rebuild) should move these tables to
an Alembic environment of their own, with ``version_table="api_alembic_version"``, stamped at
the version recorded here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from api.v1 import store
from api.v1.declines import declines

_versions = MetaData()
DESCRIPTION_MAX = 200
schema_version = Table(
    "api_schema_version",
    _versions,
    Column("version", Integer, primary_key=True),
    Column("description", String(DESCRIPTION_MAX), nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class AddColumns:
    """Columns of ``table`` (as declared in ``store``, nullable) to add where they are missing."""

    table: Table
    columns: tuple[str, ...]


@dataclass(frozen=True)
class AddIndex:
    """The index ``name`` of ``table`` (as declared in ``store``) to create where it is missing."""

    table: Table
    name: str


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    changes: tuple[AddColumns | AddIndex, ...]


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "idempotency leases and effects; submissions keep their signed bytes and broadcast time",
        (
            AddColumns(store.idempotency, ("owner", "lease_until_ms", "effect")),
            AddColumns(store.submissions, ("raw", "broadcast_at")),
        ),
    ),
    Step(
        2,
        "financing requests: expiry, withdrawal, inbox indexes; offers: their pricing",
        (
            AddColumns(store.financing_requests, ("expires_at", "withdrawn_at")),
            AddIndex(store.financing_requests, "ix_api_financing_requests_bank_created"),
            AddIndex(store.financing_requests, "ix_api_financing_requests_holder_created"),
            AddColumns(store.offers, ("policy_hash", "model_version", "quote")),
        ),
    ),
    Step(
        3,
        "event feed and webhooks (their tables by create_all); the feed's scan indexes on requests and offers",
        (
            AddIndex(store.financing_requests, "ix_api_financing_requests_created"),
            AddIndex(store.offers, "ix_api_offers_created"),
        ),
    ),
    Step(
        4,
        "pre-shipment requests and offers (their tables by create_all); their inbox, offer and pool indexes",
        (
            AddIndex(store.prepayment_requests, "ix_api_prepayment_requests_bank_created"),
            AddIndex(store.prepayment_requests, "ix_api_prepayment_requests_supplier_created"),
            AddIndex(store.prepayment_offers, "ix_api_prepayment_offers_request"),
            AddIndex(store.prepayment_offers, "ix_api_prepayment_offers_bank_deadline"),
        ),
    ),
    Step(
        5,
        "event feed: marks for declines, withdrawals and pre-shipment requests and offers; withdrawals kept (their "
        "table by create_all); the feed's scan indexes on declines and pre-shipment requests and offers",
        (
            AddColumns(
                store.event_feed, ("declines_at", "withdrawals_at", "prepayment_requests_at", "prepayment_offers_at")
            ),
            AddIndex(declines, "ix_api_financing_declines_created"),
            AddIndex(store.prepayment_requests, "ix_api_prepayment_requests_created"),
            AddIndex(store.prepayment_offers, "ix_api_prepayment_offers_created"),
        ),
    ),
)
HEAD = STEPS[-1].version
#: Tries of a DDL statement that loses a race with another process starting on the same database.
ATTEMPTS = 50


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """``create_all``, retried when another process starting on the same database creates or alters at the
    same moment (SQLite answers "database is locked" at once to a reader that turns writer after another
    wrote; PostgreSQL refuses the second of two concurrent CREATE TABLEs): the retry finds the tables."""
    _retrying(lambda: metadata.create_all(engine), lambda: True)


def _retrying(run: Callable[[], object], needed: Callable[[], bool]) -> None:
    """``run`` until it succeeds or ``needed()`` says another process has done the work; raise once the
    attempts are spent (then it is no race but a real failure)."""
    for attempt in range(ATTEMPTS):
        try:
            run()
            return
        except DBAPIError:
            if not needed():
                return
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


def current(engine: Engine) -> int:
    """The newest step recorded on this database (0: none)."""
    create_tables(_versions, engine)
    with engine.connect() as connection:
        found = connection.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).first()
    return 0 if found is None else int(found[0])


def upgrade(engine: Engine) -> int:
    """Apply the steps this database lacks and record the version reached; returns the version it is at."""
    done = current(engine)
    applied = [step for step in STEPS if step.version > done]
    for step in applied:
        for change in step.changes:
            if isinstance(change, AddIndex):
                _add_index(engine, change.table, change.name)
                continue
            for name in change.columns:
                _add_column(engine, change.table, name)
    if applied:
        description = "; ".join(f"{step.version}: {step.description}" for step in applied)
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(schema_version).values(
                        version=applied[-1].version,
                        description=description[:DESCRIPTION_MAX],
                        applied_at=int(time.time()),
                    )
                )
        except IntegrityError:
            pass  # another process upgrading the same database recorded the same version first
    return current(engine)


def _has_column(engine: Engine, table: str, name: str) -> bool:
    return any(column["name"] == name for column in inspect(engine).get_columns(table))


def _add_column(engine: Engine, table: Table, name: str) -> None:
    if _has_column(engine, table.name, name):
        return
    column = table.c[name]
    if not column.nullable:
        raise ValueError(f"{table.name}.{name}: a column added to existing rows must be nullable")
    preparer = engine.dialect.identifier_preparer
    ddl = (
        f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.format_column(column)} "
        f"{column.type.compile(dialect=engine.dialect)}"
    )

    def alter() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql(ddl)

    # A failure is a lost race (retried until the column is there) or, once the attempts are spent, real.
    _retrying(alter, lambda: not _has_column(engine, table.name, name))


def _has_index(engine: Engine, table: str, name: str) -> bool:
    return any(index["name"] == name for index in inspect(engine).get_indexes(table))


def _add_index(engine: Engine, table: Table, name: str) -> None:
    if _has_index(engine, table.name, name):
        return
    index = next(index for index in table.indexes if index.name == name)
    _retrying(lambda: index.create(engine, checkfirst=True), lambda: not _has_index(engine, table.name, name))


def create(engine: Engine) -> None:
    """Create the API's tables that are missing (``store``), then add the columns older databases
    lack (numbered, idempotent steps; never drops)."""
    create_tables(store.metadata, engine)
    upgrade(engine)
