"""Catching up: every event once, the chain's digest, projections equal to the contracts' views."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from ledger.index.indexer import Indexer
from ledger.index.sql import database_digest, models
from ledger.index.sql.db import alembic_config
from tests.ledger.index.checks import assert_database_is_the_chain, chain_digest, cursor_of, rows
from tests.support.index_chain import IndexChain
from tests.support.index_scenario import HUGE_LIMIT


def test_catch_up_stores_every_event_once_and_the_projections_equal_the_views(
    index_chain: IndexChain, database: Engine
) -> None:
    with index_chain.indexer(database, span=3) as indexer:
        done = indexer.run()
    assert done.caught_up and done.pages > 1
    assert done.written == chain_digest(index_chain.deployed)[1]
    assert_database_is_the_chain(database, index_chain.deployed)


def test_running_again_writes_nothing_and_the_unique_key_refuses_a_duplicate(
    index_chain: IndexChain, database: Engine
) -> None:
    with index_chain.indexer(database) as indexer:
        indexer.run()
    before = database_digest(database, index_chain.chain.chain_id)
    with index_chain.indexer(database) as indexer:
        again = indexer.run()
    assert (again.written, again.pages) == (0, 0)
    assert database_digest(database, index_chain.chain.chain_id) == before

    events = models.EVENTS
    with database.connect() as conn:
        row = conn.execute(select(events).limit(1)).mappings().one()
    duplicate = {k: v for k, v in row.items() if k != "id"}
    with pytest.raises(IntegrityError), database.begin() as conn:
        conn.execute(insert(events), duplicate)


def test_wide_integers_survive_exactly_in_projections_and_in_the_stored_arguments(
    index_chain: IndexChain, database: Engine
) -> None:
    with index_chain.indexer(database) as indexer:
        indexer.run()
    chain_id = index_chain.chain.chain_id
    limits = [row for row in rows(database, models.CreditLimit, chain_id) if row["limit"] > 2**64]
    assert [row["limit"] for row in limits] == [HUGE_LIMIT]
    events = models.EVENTS
    with database.connect() as conn:
        stored = conn.execute(
            select(events.c.args).where(events.c.event == "LimitPublished").order_by(events.c.id)
        ).scalars()
        published = [args if isinstance(args, dict) else json.loads(args) for args in stored]
    assert str(HUGE_LIMIT) in [args["limit"] for args in published]
    assert all(isinstance(args["limit"], str) and isinstance(args["grade"], int) for args in published)


def test_confirmations_keep_the_newest_blocks_out(index_chain: IndexChain, database: Engine) -> None:
    with index_chain.indexer(database, confirmations=5) as indexer:
        done = indexer.run()
    head = index_chain.chain.block_number
    assert done.block == head - 5
    cursor = cursor_of(database, index_chain.chain.chain_id)
    assert cursor is not None
    assert (cursor["digest"], cursor["event_count"]) == chain_digest(index_chain.deployed, head - 5)


def test_indexing_from_a_later_block_starts_the_digest_there(index_chain: IndexChain, database: Engine) -> None:
    head = index_chain.chain.block_number
    with index_chain.indexer(database, from_block=head - 10) as indexer:
        done = indexer.run()
    chain_id = index_chain.chain.chain_id
    with database.connect() as conn:
        first = conn.execute(select(func.min(models.EVENTS.c.block_number))).scalar()
    assert first is not None and first >= head - 10
    assert done.events == chain_digest(index_chain.deployed)[1] - chain_digest(index_chain.deployed, head - 11)[1]
    assert database_digest(database, chain_id)[1] == done.events


def test_the_reader_thread_and_the_reader_process_write_the_same_database(
    index_chain: IndexChain, database: Engine, new_database: object
) -> None:
    other: Engine = new_database()  # type: ignore[operator]
    for engine, reader in ((database, "thread"), (other, "process")):
        with index_chain.indexer(engine, reader=reader, span=2) as indexer:
            assert indexer.reader_kind == reader
            indexer.run()
    chain_id = index_chain.chain.chain_id
    from ledger.index.sql import table_snapshot

    assert table_snapshot(database, chain_id) == table_snapshot(other, chain_id)


def test_the_schema_is_the_models_after_the_migrations(database: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with database.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, models.metadata) == []
        assert context.get_current_revision() == "0005"  # the party pages' indexes
    assert alembic_config(database).get_main_option("script_location", "").endswith("migrations")


def test_an_indexer_refuses_a_database_of_another_deployment(index_chain: IndexChain, database: Engine) -> None:
    with index_chain.indexer(database) as indexer:
        indexer.run()
    addresses = dict(index_chain.deployed.addresses)
    addresses["Receivables"] = "0x" + "12" * 20
    abis = {name: index_chain.deployed.build[name].abi for name in addresses}
    from ledger.index.errors import DeploymentChanged

    with pytest.raises(DeploymentChanged, match="Receivables"):
        Indexer(index_chain.chain, database, addresses, abis).open()
