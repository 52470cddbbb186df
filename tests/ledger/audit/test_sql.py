"""The replay against the indexer's database: a faithful database agrees, a row altered by hand is named.

The chain is the indexer suite's (``tests.support.index_chain``: a history with every kind of
event), indexed once per backend (SQLite, PostgreSQL: ``tests.support.databases``) and replayed
once; each alteration is made in a transaction that is rolled back after the comparison (or, for
the command line, on a copy of the database).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from api.cli import audit as audit_cli
from ledger.audit import Deployment, Kind, Mismatch, ReplayResult, replay
from ledger.audit.sql import SqlCompareError, compare_sql, read_cursor
from ledger.index.sql.db import make_engine, sqlite_path
from ledger.toolchain.deploy import load_record
from tests.support.databases import PG_ADMIN, PG_URL, Databases, databases
from tests.support.index_chain import IndexChain, index_chain

__all__ = ["databases", "index_chain"]  # the indexer suite's fixtures, imported to be declared here


@dataclass
class Indexed:
    """One backend's database of the scenario, and the replay of the chain to its cursor."""

    kind: str
    engine: Engine
    deployment: Deployment
    result: ReplayResult
    chain: IndexChain

    def compare(self, conn: Connection) -> list[Mismatch]:
        return compare_sql(self.result, self.deployment, conn).mismatches


@pytest.fixture(scope="module")
def indexed(index_chain: IndexChain, databases: Databases) -> Iterator[Indexed]:
    engine = databases.new()
    with index_chain.indexer(engine) as indexer:
        indexer.run()
    record = load_record(index_chain.record)
    assert record is not None
    deployment = Deployment.from_record(record, index_chain.deployed.build)
    cursor = read_cursor(engine, deployment.chain_id)
    assert cursor is not None
    result = replay(index_chain.chain, deployment, to_block=cursor.block_number, keep_logs=True)
    assert result.report.ok, "\n".join(result.report.lines(limit=20))
    yield Indexed(databases.kind, engine, deployment, result, index_chain)


@pytest.fixture
def altered(indexed: Indexed) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with indexed.engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def only(found: list[Mismatch], table: str) -> list[Mismatch]:
    assert found, "no mismatch found"
    assert {m.location.table for m in found} == {table}, [str(m) for m in found]
    assert {m.kind for m in found} == {Kind.SQL}
    return found


def last_block_naming(indexed: Indexed, contract: str, topic: int, value: int) -> int:
    """The last block with a log of ``contract`` whose indexed argument ``topic`` is ``value``."""
    at = indexed.deployment.addresses[contract]
    word = "0x" + value.to_bytes(32, "big").hex()
    logs = indexed.result.logs or []
    return max(
        raw.block_number for raw in logs if raw.address == at and len(raw.topics) > topic and raw.topics[topic] == word
    )


def test_a_faithful_database_agrees_with_the_replay_row_by_row(indexed: Indexed) -> None:
    with indexed.engine.connect() as conn:
        comparison = compare_sql(indexed.result, indexed.deployment, conn)
    assert [str(m) for m in comparison.mismatches] == []
    assert comparison.skipped == []
    rows = comparison.rows
    for table in ("cursor", "blocks", "events", "parties", "orders", "milestones", "disputes", "guarantees", "pools",
                  "receivable_roots", "receivable_pieces", "financings", "repayments", "claims", "credit_limits",
                  "balances", "settings"):  # fmt: skip
        assert rows[table] > 0, table
    assert rows["events"] == indexed.result.report.counts.logs
    report = indexed.result.report
    comparison.add_to(report, "db")
    assert report.ok and report.to_json()["sqlRows"]["orders"] == rows["orders"]


def test_an_order_amount_changed_by_hand_is_named_by_table_key_column_and_block(
    indexed: Indexed, altered: Connection
) -> None:
    order_id = indexed.chain.scenario.orders["prepaid_released"]
    altered.execute(text("UPDATE orders SET amount = amount + 1 WHERE order_id = :o"), {"o": order_id})
    (mismatch,) = only(indexed.compare(altered), "orders")
    location = mismatch.location
    assert (location.key, location.column) == (f"orders[order_id={order_id}]", "amount")
    assert location.block == last_block_naming(indexed, "TradeEscrow", 1, order_id)
    assert mismatch.actual == mismatch.expected + 1
    assert f"sql orders[order_id={order_id}].amount" in str(mismatch)


def test_a_prepayment_fee_changed_by_hand_is_named_on_the_order_and_on_the_guarantee(
    indexed: Indexed, altered: Connection
) -> None:
    """The scenario's bank took a fee on one pre-payment: both the order's fee and the guarantee's
    fee total are derived from the chain, so a fee lost from either is found."""
    order_id = indexed.chain.scenario.orders["refunded_unshipped"]
    altered.execute(text("UPDATE orders SET prepayment_fee = 0 WHERE order_id = :o"), {"o": order_id})
    (mismatch,) = only(indexed.compare(altered), "orders")
    assert (mismatch.location.key, mismatch.location.column) == (f"orders[order_id={order_id}]", "prepayment_fee")
    assert (mismatch.expected, mismatch.actual) == (indexed.result.models.escrow.order(order_id).prepayment_fee, 0)
    assert mismatch.expected > 0

    altered.execute(
        text("UPDATE orders SET prepayment_fee = :f WHERE order_id = :o"), {"f": mismatch.expected, "o": order_id}
    )
    altered.execute(text("UPDATE guarantees SET fees_total = 0"))
    (total,) = only(indexed.compare(altered), "guarantees")
    assert total.location.column == "fees_total" and (total.expected, total.actual) == (mismatch.expected, 0)


def test_a_piece_holder_changed_by_hand_is_named(indexed: Indexed, altered: Connection) -> None:
    piece = indexed.chain.scenario.pieces["moved"]
    stranger = "0x" + "12" * 20
    altered.execute(text("UPDATE receivable_pieces SET holder = :h WHERE piece_id = :p"), {"h": stranger, "p": piece})
    (mismatch,) = only(indexed.compare(altered), "receivable_pieces")
    assert (mismatch.location.key, mismatch.location.column) == (f"receivable_pieces[piece_id={piece}]", "holder")
    assert mismatch.actual == stranger and mismatch.expected == indexed.result.models.receivables.holder_of(piece)
    assert mismatch.location.block == last_block_naming(indexed, "Receivables", 1, piece)


def test_a_deleted_financing_row_is_reported_missing_at_its_event(indexed: Indexed, altered: Connection) -> None:
    block, log_index = altered.execute(text("SELECT block_number, log_index FROM financings")).one()
    altered.execute(text("DELETE FROM financings WHERE block_number = :b"), {"b": block})
    (mismatch,) = only(indexed.compare(altered), "financings")
    assert mismatch.location.key == f"financings[block_number={block},log_index={log_index}]"
    assert mismatch.location.block == block and mismatch.location.column is None
    assert mismatch.actual is None and mismatch.expected["piece_id"] == indexed.chain.scenario.pieces["financed"]
    assert "missing" in mismatch.detail


def test_an_extra_events_row_is_reported_as_one_no_log_explains(indexed: Indexed, altered: Connection) -> None:
    columns = ("chain_id, block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, address, contract, "
               "event, topic0, topic1, topic2, topic3, data, args")  # fmt: skip
    block = altered.execute(text("SELECT max(block_number) FROM events")).scalar_one()
    altered.execute(
        text(
            f"INSERT INTO events ({columns}) SELECT chain_id, block_number, block_hash, block_timestamp, tx_hash, "
            "tx_index, log_index + 1000, address, contract, event, topic0, topic1, topic2, topic3, data, args "
            "FROM events WHERE block_number = :b ORDER BY log_index LIMIT 1"
        ),
        {"b": block},
    )
    (mismatch,) = only(indexed.compare(altered), "events")
    assert mismatch.location.block == block and str(mismatch.location.key).startswith(f"events[block_number={block},")
    assert mismatch.expected is None and "no log" in mismatch.detail


def test_a_changed_event_argument_is_named_with_its_argument(indexed: Indexed, altered: Connection) -> None:
    order_id = indexed.chain.scenario.orders["open_account"]
    word = "0x" + order_id.to_bytes(32, "big").hex()
    block, log_index, args = altered.execute(
        text("SELECT block_number, log_index, args FROM events WHERE event = 'OrderCreated' AND topic1 = :t"),
        {"t": word},
    ).one()
    changed = {**(json.loads(args) if isinstance(args, str) else args), "amount": "1"}
    if indexed.kind == "postgresql":
        statement = "UPDATE events SET args = CAST(:a AS JSONB) WHERE block_number = :b AND log_index = :i"
    else:
        statement = "UPDATE events SET args = :a WHERE block_number = :b AND log_index = :i"
    altered.execute(text(statement), {"a": json.dumps(changed), "b": block, "i": log_index})
    (mismatch,) = only(indexed.compare(altered), "events")
    location = mismatch.location
    assert (location.key, location.column, location.block) == (
        f"events[block_number={block},log_index={log_index}]",
        "args",
        block,
    )
    assert mismatch.actual["amount"] == "1" and mismatch.expected["amount"] != "1"
    assert "OrderCreated" in mismatch.detail and "amount" in mismatch.detail


def test_a_cursor_hash_changed_by_hand_is_named(indexed: Indexed, altered: Connection) -> None:
    altered.execute(text("UPDATE cursor SET block_hash = :h"), {"h": "0x" + "ee" * 32})
    (mismatch,) = only(indexed.compare(altered), "cursor")
    report = indexed.result.report
    assert (mismatch.location.column, mismatch.location.block) == ("block_hash", report.to_block)
    assert (mismatch.expected, mismatch.actual) == (report.to_block_hash, "0x" + "ee" * 32)


def test_every_alteration_at_once_is_reported_not_only_the_first(indexed: Indexed, altered: Connection) -> None:
    altered.execute(text("UPDATE orders SET status = 'RELEASED', escrowed = 5"))
    found = only(indexed.compare(altered), "orders")
    orders = altered.execute(text("SELECT count(*) FROM orders")).scalar_one()
    assert {m.location.key for m in found} == {f"orders[order_id={i}]" for i in range(1, orders + 1)}
    assert {m.location.column for m in found} == {"status", "escrowed"}


def test_a_database_without_a_cursor_for_the_chain_is_refused(indexed: Indexed, altered: Connection) -> None:
    altered.execute(text("DELETE FROM cursor"))
    with pytest.raises(SqlCompareError, match="no cursor"):
        indexed.compare(altered)


def test_a_database_that_is_not_the_indexers_is_a_typed_error(indexed: Indexed, tmp_path: Path) -> None:
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SqlCompareError, match="cannot be read"):
            read_cursor(empty, indexed.deployment.chain_id)
        with pytest.raises(SqlCompareError, match="cannot be"):
            compare_sql(indexed.result, indexed.deployment, empty)
    finally:
        empty.dispose()


# -- the command line -------------------------------------------------------------------------


def _copy(indexed: Indexed, tmp_path: Path) -> tuple[str, Any]:
    """A copy of the indexed database (URL, and how to drop it)."""
    url = indexed.engine.url.render_as_string(hide_password=False)
    if indexed.kind == "sqlite":
        source = sqlite_path(url)
        assert source is not None
        tmp_path.mkdir(parents=True, exist_ok=True)
        target = tmp_path / "copy.db"
        original, copy = sqlite3.connect(source), sqlite3.connect(target)
        try:
            original.backup(copy)
        finally:
            original.close()
            copy.close()
        return f"sqlite:///{target}", lambda: shutil.rmtree(tmp_path, ignore_errors=True)
    import psycopg

    indexed.engine.dispose()  # a template database must have no other connection
    name = f"scf_audit_copy_{uuid.uuid4().hex[:12]}"
    source_name = indexed.engine.url.database
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_URL.format(name=name), drop


def test_the_command_compares_the_database_and_exits_1_naming_the_altered_row(
    indexed: Indexed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, drop = _copy(indexed, tmp_path / "db")
    try:
        argv = ["audit", "replay", "--chain", indexed.chain.chain.endpoint, "--deployment", str(indexed.chain.record)]
        argv += ["--db", url, "--quiet", "--no-views", "--json", str(tmp_path / "report.json")]
        assert audit_cli.main(argv) == 0
        out = capsys.readouterr()
        assert "replaying to its cursor's block" in out.err and "sql rows checked" in out.out
        piece = indexed.chain.scenario.pieces["moved"]
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE receivable_pieces SET amount = 7 WHERE piece_id = :p"), {"p": piece})
        finally:
            engine.dispose()
        assert audit_cli.main(argv) == audit_cli.EXIT_MISMATCH
        printed = capsys.readouterr().out
        assert f"sql receivable_pieces[piece_id={piece}].amount" in printed and "MISMATCH" in printed
        written = json.loads((tmp_path / "report.json").read_text())
        assert written["mismatchKinds"] == {"sql": 1}
        location = written["mismatches"][0]["location"]
        assert (location["table"], location["key"], location["column"]) == (
            "receivable_pieces",
            f"receivable_pieces[piece_id={piece}]",
            "amount",
        )
        assert written["sqlRows"]["receivable_pieces"] == indexed.result.models.receivables.piece_count
    finally:
        drop()
