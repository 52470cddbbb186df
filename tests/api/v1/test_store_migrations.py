"""The API store's Alembic history: a store made before it (by ``create_all`` and the numbered steps of
``api_schema_version``) is adopted with its rows kept, a new one is at head at once, several processes starting
at once migrate it once, and the migrated tables are the tables the code declares.

The "live" databases are built as the old mechanism left them: with the tables as they were declared before
step 1 (the idempotency and submission tables without their lease, effect, raw and broadcast columns), holding a
record that a killed process left in progress, or as steps 2, 3 and 4 left them (tables, columns and indexes of
the later steps dropped, the step recorded in ``api_schema_version``). ``migrate.create`` must bring each to the
head revision, keep its rows and let the wedged key be recovered. Everything runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    inspect,
    select,
)

from api.v1 import migrate, store
from api.v1.auth import Party
from api.v1.declines import declines
from api.v1.events import LOOKBACK, Feed
from api.v1.idempotency import Claim, IdempotencyStore
from api.v1.migrations import baseline
from ledger.index.sql import migrations as index_migrations
from ledger.index.sql.db import make_engine
from tests.support.databases import Databases, databases
from tests.support.schemas import declared_new_stores, reflected, revisions_run

__all__ = ["databases"]  # the fixture, imported to be declared in this module (every test on SQLite and PostgreSQL)


@pytest.fixture(autouse=True)
def _every_revision_runs() -> Iterator[None]:
    """The subject here is the revisions: a new store runs them all, not the suites' create_all shortcut."""
    with revisions_run():
        yield


#: The old mechanism's record of its numbered steps, as it was declared.
_legacy = MetaData()
schema_version = Table(
    "api_schema_version",
    _legacy,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)


def _as_the_steps_left_it(engine: Engine, version: int) -> None:
    """Make a migrated store look as the old mechanism left it at step ``version``: no Alembic history, the step
    recorded in ``api_schema_version`` (the caller drops what the later steps added)."""
    kept = {*baseline.tables().tables, "api_alembic_version"}
    later = {name for name in inspect(engine).get_table_names() if name.startswith("api_") and name not in kept}
    with engine.begin() as connection:
        for name in later:  # the tables of the revisions after the baseline: no store of the old steps has them
            connection.exec_driver_sql(f"DROP TABLE {name}")
        connection.exec_driver_sql("DROP TABLE api_alembic_version")
        _legacy.create_all(connection)
        connection.execute(insert(schema_version).values(version=version, description="the steps", applied_at=1))
    assert migrate.current(engine) is None


PARTY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _before_step_1(url: str) -> None:
    old = MetaData()
    Table(
        "api_idempotency",
        old,
        Column("party", String(42), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(16), nullable=False),
        Column("status_code", Integer),
        Column("content_type", String(128)),
        Column("body", LargeBinary),
        Column("created_at", BigInteger, nullable=False),
        Column("completed_at", BigInteger),
    )
    Table(
        "api_submissions",
        old,
        Column("id", String(36), primary_key=True),
        Column("party", String(42), nullable=False, index=True),
        Column("tx_hash", String(66), nullable=False, unique=True),
        Column("contract", String(64), nullable=False),
        Column("function", String(64), nullable=False),
        Column("nonce", BigInteger, nullable=False),
        Column("created_at", BigInteger, nullable=False),
    )
    engine = make_engine(url)
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            old.tables["api_idempotency"]
            .insert()
            .values(party=PARTY, key="wedged", request_hash="d", state="in_progress", created_at=1_700_000_000)
        )
        connection.execute(
            old.tables["api_submissions"]
            .insert()
            .values(
                id="s-1",
                party=PARTY,
                tx_hash="0x" + "11" * 32,
                contract="SettlementToken",
                function="approve",
                nonce=0,
                created_at=1_700_000_000,
            )
        )
    engine.dispose()


def test_a_database_from_before_step_1_gets_the_new_columns_and_keeps_its_rows(databases: Databases) -> None:
    url = databases.url()
    _before_step_1(url)  # made by create_all before api_schema_version existed: no record of any step
    engine = make_engine(url)
    assert migrate.current(engine) is None

    migrate.create(engine)

    assert migrate.current(engine) == migrate.head()
    columns = {c["name"] for c in inspect(engine).get_columns("api_idempotency")}
    assert {"owner", "lease_until_ms", "effect"} <= columns
    with engine.connect() as connection:
        kept = connection.execute(select(store.submissions)).one()
        assert (kept.id, kept.raw, kept.broadcast_at) == ("s-1", None, None)
        assert connection.execute(select(func.count()).select_from(store.top_ups)).scalar_one() == 0
    claim = IdempotencyStore(engine, wait=0, clock=lambda: 1_700_000_100.0)._claim(PARTY, "wedged", "d")
    assert isinstance(claim, Claim) and claim.resumed  # the wedged key is recovered, not stuck
    engine.dispose()


def test_migrating_again_or_from_several_processes_at_once_is_a_no_op(databases: Databases) -> None:
    url = databases.url()
    _before_step_1(url)
    engines = [make_engine(url) for _ in range(4)]
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            migrate.create(engines[index])
        except BaseException as exc:  # reported below: a lost race must not fail a start-up
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    migrate.create(engines[0])
    with engines[0].connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM api_alembic_version").scalars().all()
        assert connection.execute(select(func.count()).select_from(store.idempotency)).scalar_one() == 1
    assert versions == [migrate.head()]
    for engine in engines:
        engine.dispose()


def test_a_new_database_is_at_the_head_version_at_once_beside_the_index(databases: Databases) -> None:
    engine = databases.new()  # the index's schema, with its own Alembic history (alembic_version)
    migrate.create(engine)
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as connection:  # two histories, two version tables: neither sees the other's rows
        indexed = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    assert indexed == [_index_head()]
    assert "api_schema_version" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            insert(store.idempotency).values(
                party=PARTY, key="k", request_hash="d", state="in_progress", created_at=1, owner="o", effect="e"
            )
        )


def _index_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(index_migrations.__file__).parent))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_migrated_store_is_the_store_the_code_declares(databases: Databases) -> None:
    """Every table, column, index and type the API declares is what its revisions make: a change to the tables
    without its revision fails here (the diff says what to migrate)."""
    engine = databases.new()
    migrate.create(engine)
    declared = migrate.declared()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": "api_alembic_version",
                "include_name": lambda name, kind, _parent: kind != "table" or name in declared.tables,
            },
        )
        assert compare_metadata(context, declared) == []


def test_a_store_from_before_step_2_gains_the_columns_and_indexes_and_keeps_its_requests(databases: Databases) -> None:
    engine = make_engine(databases.url())
    migrate.create(engine)
    with engine.begin() as connection:  # the tables as step 1 left them
        connection.exec_driver_sql("DROP TABLE api_financing_requests")
        connection.exec_driver_sql("DROP TABLE api_offers")
    old = MetaData()
    requests = Table(
        "api_financing_requests",
        old,
        Column("id", String(36), primary_key=True),
        Column("piece_id", BigInteger, nullable=False, index=True),
        Column("holder", String(42), nullable=False),
        Column("bank", String(42), nullable=False, index=True),
        Column("created_at", BigInteger, nullable=False),
        UniqueConstraint("piece_id", "holder", "bank"),
    )
    Table(
        "api_offers",
        old,
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in store.offers.columns
            if c.name not in ("policy_hash", "model_version", "quote")
        ),
    )
    old.create_all(engine)
    holder, bank = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    with engine.begin() as connection:
        connection.execute(insert(requests).values(id="r-1", piece_id=7, holder=holder, bank=bank, created_at=5))
    _as_the_steps_left_it(engine, 1)

    migrate.create(engine)

    assert migrate.current(engine) == migrate.head()
    inspector = inspect(engine)
    assert {"expires_at", "withdrawn_at"} <= {c["name"] for c in inspector.get_columns("api_financing_requests")}
    assert {"policy_hash", "model_version", "quote"} <= {c["name"] for c in inspector.get_columns("api_offers")}
    assert {
        "ix_api_financing_requests_bank_created",
        "ix_api_financing_requests_holder_created",
    } <= {index["name"] for index in inspector.get_indexes("api_financing_requests")}
    with engine.connect() as connection:
        kept = connection.execute(select(store.financing_requests)).one()
    assert (kept.id, kept.bank, kept.expires_at, kept.withdrawn_at) == ("r-1", bank, None, None)
    migrate.create(engine)  # again: nothing to do
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


STEP_3_TABLES = (
    "api_event_feed",
    "api_events",
    "api_event_audience",
    "api_webhooks",
    "api_webhook_deliveries",
    "api_webhook_attempts",
)


def test_a_store_from_before_step_3_gains_the_feed_and_webhook_tables_and_indexes(databases: Databases) -> None:
    engine = databases.new()  # the index's schema, with the store beside it (the default)
    migrate.create(engine)
    bank = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    with engine.begin() as connection:  # the store as step 2 left it, with a request made then
        for name in STEP_3_TABLES:
            connection.exec_driver_sql(f"DROP TABLE {name}")
        connection.exec_driver_sql("DROP INDEX ix_api_financing_requests_created")
        connection.exec_driver_sql("DROP INDEX ix_api_offers_created")
        connection.execute(
            insert(store.financing_requests).values(
                id="r-1", piece_id=7, holder=PARTY, bank=bank, created_at=5, expires_at=10
            )
        )
    _as_the_steps_left_it(engine, 2)

    migrate.create(engine)

    assert migrate.current(engine) == migrate.head()
    inspector = inspect(engine)
    assert set(STEP_3_TABLES) <= set(inspector.get_table_names())
    assert "ix_api_financing_requests_created" in {i["name"] for i in inspector.get_indexes("api_financing_requests")}
    assert "ix_api_offers_created" in {i["name"] for i in inspector.get_indexes("api_offers")}
    # The request made before the feed existed is in it, for its holder and its bank.
    feed = Feed(engine, engine, 31337)
    assert feed.catch_up() == 1
    for address in (PARTY, bank):
        [event] = feed.page(Party(address, 0, 0), 0, 10)[0]
        assert (event.type, event.data["requestId"], event.occurredAt) == ("financing_request.created", "r-1", 5)
    assert feed.page(Party("0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", 0, 0), 0, 10)[0] == []
    migrate.create(engine)  # again: nothing to do
    assert migrate.current(engine) == migrate.head()


STEP_4_TABLES = ("api_prepayment_requests", "api_prepayment_offers")


def test_a_store_from_before_step_4_gains_the_pre_shipment_tables_and_their_indexes(databases: Databases) -> None:
    engine = databases.new()
    migrate.create(engine)
    with engine.begin() as connection:  # the store as step 3 left it, with a financing request made then
        for name in STEP_4_TABLES:
            connection.exec_driver_sql(f"DROP TABLE {name}")
        connection.execute(
            insert(store.financing_requests).values(
                id="r-1", piece_id=7, holder=PARTY, bank=PARTY, created_at=5, expires_at=10
            )
        )
    _as_the_steps_left_it(engine, 3)

    migrate.create(engine)

    assert migrate.current(engine) == migrate.head()
    inspector = inspect(engine)
    assert set(STEP_4_TABLES) <= set(inspector.get_table_names())
    requests = {i["name"] for i in inspector.get_indexes("api_prepayment_requests")}
    assert {"ix_api_prepayment_requests_bank_created", "ix_api_prepayment_requests_supplier_created"} <= requests
    offers = {i["name"] for i in inspector.get_indexes("api_prepayment_offers")}
    assert {"ix_api_prepayment_offers_request", "ix_api_prepayment_offers_bank_deadline"} <= offers
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(store.financing_requests)).scalar_one() == 1


STEP_5_MARKS = ("declines_at", "withdrawals_at", "prepayment_requests_at", "prepayment_offers_at")
STEP_5_INDEXES = (
    ("api_financing_declines", "ix_api_financing_declines_created"),
    ("api_prepayment_requests", "ix_api_prepayment_requests_created"),
    ("api_prepayment_offers", "ix_api_prepayment_offers_created"),
)


def test_a_feed_from_before_step_5_journals_declines_from_its_last_sync_on(databases: Databases) -> None:
    """Step 5 adds the feed's marks for its new sources, NULL on the feed's row: those sources are read from the
    row's last sync on (their events begin then), not from the beginning, and the withdrawals' table is made."""
    engine = databases.new()
    migrate.create(engine)
    bank, synced = "0x90F79bf6EB2c4f870365E785982E1f101E93b906", 1_000_000
    with engine.begin() as connection:  # the store as step 4 left it, its feed synced at `synced`
        connection.exec_driver_sql("DROP TABLE api_request_withdrawals")
        for _table, index in STEP_5_INDEXES:
            connection.exec_driver_sql(f"DROP INDEX {index}")
        for column in STEP_5_MARKS:
            connection.exec_driver_sql(f"ALTER TABLE api_event_feed DROP COLUMN {column}")
        connection.exec_driver_sql(
            "INSERT INTO api_event_feed (name, version, block_number, log_index, block_hash, requests_at, offers_at, "
            f"synced_at) VALUES ('feed', 7, -1, 0, '', {synced}, {synced}, {synced})"
        )
        connection.execute(
            insert(store.financing_requests).values(
                id="r-1", piece_id=7, holder=PARTY, bank=bank, created_at=synced - 10 * LOOKBACK, expires_at=synced * 2
            )
        )
        for round_, at in ((1, synced - 2 * LOOKBACK), (2, synced - LOOKBACK // 2)):  # long before; just before
            connection.execute(
                insert(declines).values(request_id="r-1", bank=bank, round=round_, reasons="[]", created_at=at)
            )
    _as_the_steps_left_it(engine, 4)

    migrate.create(engine)

    assert migrate.current(engine) == migrate.head()
    with engine.connect() as connection:  # the old steps' record is left as it was
        assert connection.execute(select(schema_version.c.version)).scalars().all() == [4]
    inspector = inspect(engine)
    assert "api_request_withdrawals" in inspector.get_table_names()
    assert set(STEP_5_MARKS) <= {c["name"] for c in inspector.get_columns("api_event_feed")}
    for table, index in STEP_5_INDEXES:
        assert index in {i["name"] for i in inspector.get_indexes(table)}, index
    feed = Feed(engine, engine, 31337)
    assert feed.catch_up() == 1  # the decline within LOOKBACK of the last sync; not the older one nor the request
    [event] = feed.page(Party(PARTY, 0, 0), 0, 10)[0]
    assert (event.type, event.data["round"], event.occurredAt) == (
        "financing_request.declined",
        2,
        synced - LOOKBACK // 2,
    )
    with engine.connect() as connection:
        marks = connection.execute(select(*(store.event_feed.c[name] for name in STEP_5_MARKS))).one()
    assert tuple(marks) == (synced,) * 4  # set by the first sync: from the last one, never back
    # A withdrawal is kept in the new table and journaled.
    with engine.begin() as connection:
        assert store.withdraw(connection, store.financing_requests, "r-1", synced + 5)
        assert not store.withdraw(connection, store.financing_requests, "r-1", synced + 6)  # already withdrawn
    assert feed.catch_up() == 1
    [gone] = feed.page(Party(bank, 0, 0), event.cursor, 10)[0]
    assert (gone.type, gone.data["withdrawnAt"], gone.data["round"]) == ("financing_request.withdrawn", synced + 5,
                                                                         synced - 10 * LOOKBACK)  # fmt: skip


def test_a_new_store_made_from_the_declarations_is_the_store_the_revisions_make(databases: Databases) -> None:
    """The suites make new stores with ``create_all`` of the declared tables, stamped at head
    (``tests.support.schemas``): the same tables, columns in the same order with the same types, nullability and
    defaults, the same keys, constraints and indexes, and the same version as every revision run, beside the
    index."""
    revised, declared = databases.new(), databases.new()
    migrate.create(revised)
    with declared_new_stores():
        migrate.create(declared)
    assert set(inspect(declared).get_table_names()) == set(inspect(revised).get_table_names())
    names = [*migrate.declared().tables]
    assert reflected(declared, names) == reflected(revised, names)
    assert migrate.current(declared) == migrate.current(revised) == migrate.head()
