"""The oracle services' store under Alembic: a store ``create_all`` made before the history is adopted with its
rows kept, several services starting on one database at once migrate it once, the migrated tables are the ones the
code declares, and the store's history keeps to its own version table beside the index's. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, inspect, select

from ledger.index.sql.db import database_url
from oracles import store
from oracles.migrations import baseline
from tests.support.databases import Databases, databases
from tests.support.schemas import declared_new_stores, reflected, revisions_run

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)


@pytest.fixture(autouse=True)
def _every_revision_runs() -> Iterator[None]:
    """The subject here is the revisions: a new store runs them all, not the suites' create_all shortcut."""
    with revisions_run():
        yield


HEAD = store.STORE.head()


def _made_before_the_history(url: str) -> None:
    """The store as ``open_database`` made it before Alembic (``create_all`` of the tables then: the baseline's),
    with a signature it gave."""
    engine = create_engine(database_url(url))
    tables = baseline.tables()
    tables.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(tables.tables["oracle_signed"]).values(
                evidence_hash="ni:///sha-256;00?ver=CBV2.0",
                po_ref="PO-1",
                capture_id="c-1",
                order_id=1,
                milestone=1,
                occurred_at=1_700_000_000,
                signature=b"\x01" * 65,
                delivered=True,
            )
        )
    engine.dispose()


def test_a_store_from_before_the_history_is_adopted_with_its_rows(databases: Databases) -> None:
    url = databases.url()
    _made_before_the_history(url)

    engine = store.open_database(url)

    assert store.STORE.current(engine) == HEAD
    with engine.connect() as connection:
        kept = connection.execute(select(store.signed)).one()
    assert (kept.po_ref, kept.order_id, kept.delivered) == ("PO-1", 1, True)
    store.open_database(url).dispose()  # again: nothing to do
    engine.dispose()


def test_services_starting_on_one_database_at_once_migrate_it_once(databases: Databases) -> None:
    url = databases.url()
    _made_before_the_history(url)
    failures: list[BaseException] = []
    engines = []

    def start() -> None:
        try:
            engines.append(store.open_database(url))
        except BaseException as exc:  # reported below: a lost race must not fail a start-up
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engines[0].connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM oracle_alembic_version").scalars().all()
        assert connection.execute(select(func.count()).select_from(store.signed)).scalar_one() == 1
    assert versions == [HEAD]
    for engine in engines:
        engine.dispose()


def test_the_migrated_store_is_the_store_the_code_declares_beside_the_index(databases: Databases) -> None:
    """A change to the tables without its revision fails here; the index's history (``alembic_version``, in the
    same database) is neither read nor written by the store's."""
    index = databases.new()
    url = index.url.render_as_string(hide_password=False)
    engine = store.open_database(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": "oracle_alembic_version",
                "include_name": lambda name, kind, _parent: kind != "table" or name in store.metadata.tables,
            },
        )
        assert compare_metadata(context, store.metadata) == []
        indexed = connection.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one()
    assert indexed == 1
    assert {"alembic_version", "oracle_alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_an_in_memory_store_is_at_head() -> None:
    engine = store.open_database("sqlite://")
    assert store.STORE.current(engine) == HEAD
    assert set(store.metadata.tables) <= set(inspect(engine).get_table_names())


def test_times_after_2038_are_kept(databases: Databases) -> None:
    """``INTEGER`` is 32 bits on PostgreSQL: the aggregator's times are 64-bit (revision 0002)."""
    engine = store.open_database(databases.url())
    later = 1 << 40  # some 34,000 years on
    with engine.begin() as connection:
        connection.execute(
            insert(store.attestations).values(
                key="0x01",
                order_id=1,
                milestone=1,
                occurred_at=later,
                evidence_hash="0x02",
                kind=1,
                status="collecting",
                updated_at=later,
            )
        )
        connection.execute(
            insert(store.declarations).values(
                key="0x03",
                evidence_hash="0x02",
                reason_hash="0x04",
                declared_at=later,
                kind=1,
                order_id=1,
                status="collecting",
            )
        )
    with engine.connect() as connection:
        assert connection.execute(select(store.attestations.c.updated_at)).scalar_one() == later
        assert connection.execute(select(store.declarations.c.declared_at)).scalar_one() == later
    engine.dispose()


def test_a_new_store_made_from_the_declarations_is_the_store_the_revisions_make(databases: Databases) -> None:
    """The suites make new stores with ``create_all`` of the declared tables, stamped at head
    (``tests.support.schemas``): the same tables, columns, keys, constraints, indexes and version as every
    revision run, beside the index and in memory."""
    urls = [engine.url.render_as_string(hide_password=False) for engine in (databases.new(), databases.new())]
    revised = store.open_database(urls[0])
    with declared_new_stores():
        declared = store.open_database(urls[1])
        in_memory = store.open_database("sqlite://")
    memory_revised = store.open_database("sqlite://")
    names = [*store.metadata.tables]
    for made, by_revisions in ((declared, revised), (in_memory, memory_revised)):
        assert set(inspect(made).get_table_names()) == set(inspect(by_revisions).get_table_names())
        assert reflected(made, names) == reflected(by_revisions, names)
        assert store.STORE.current(made) == store.STORE.current(by_revisions) == HEAD
    for engine in (revised, declared, in_memory, memory_revised):
        engine.dispose()
