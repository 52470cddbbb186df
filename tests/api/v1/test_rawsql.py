"""``api.v1.rawsql.snapshot``: a SQLite file's connections are kept for the next snapshot; each still reads
the latest commit, one that raised is not kept, and a disposed engine's are not used again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from api.v1 import rawsql
from ledger.index.sql.db import make_engine
from ledger.index.sql.models import Block
from tests.support.databases import Databases, databases  # noqa: F401 (the fixture)

BLOCKS = rawsql.Prepared(select(Block.number).where(Block.chain_id == 1).order_by(Block.number))


def _block(number: int) -> dict[str, object]:
    hashed = "0x" + f"{number:064x}"
    return {
        "chain_id": 1,
        "number": number,
        "hash": hashed,
        "parent_hash": hashed,
        "timestamp": 1_700_000_000 + number,
        "digest": hashed,
        "event_count": number,
    }


def _connection(engine: object) -> object:
    with rawsql.snapshot(engine) as reading:  # type: ignore[arg-type]
        return reading._cursor.connection


def test_each_snapshot_reads_the_latest_commit(databases: Databases) -> None:  # noqa: F811
    engine = databases.new()
    try:
        for number in range(1, 4):
            with engine.begin() as connection:
                connection.execute(insert(Block).values(**_block(number)))
            with rawsql.snapshot(engine) as reading:
                assert [row.number for row in reading.rows(BLOCKS)] == list(range(1, number + 1))
    finally:
        engine.dispose()


def test_a_sqlite_files_connection_is_kept_out_of_the_pool_and_postgresqls_go_back(
    databases: Databases,  # noqa: F811
) -> None:
    engine = databases.new()
    try:
        first = _connection(engine)
        if engine.dialect.name == "sqlite":
            assert rawsql._KEPT[engine.pool] == [first] and _connection(engine) is first
        else:
            assert engine.pool not in rawsql._KEPT  # the pool's pre-ping finds a dropped one
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_snapshot_that_raised_does_not_keep_its_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    kept = _connection(engine)
    with pytest.raises(ZeroDivisionError), rawsql.snapshot(engine) as reading:
        assert reading._cursor.connection is kept
        raise ZeroDivisionError
    assert _connection(engine) is not kept


def test_a_disposed_engines_kept_connections_are_not_used_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    before = _connection(engine)
    engine.dispose()
    assert _connection(engine) is not before


def test_no_more_than_keep_are_kept_when_snapshots_overlap(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    inside, release = threading.Barrier(rawsql.KEEP + 2), threading.Event()

    def read() -> None:
        with rawsql.snapshot(engine, statements=1):
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=read) for _ in range(rawsql.KEEP + 1)]
    for thread in threads:
        thread.start()
    inside.wait()  # every snapshot is open at once, each on a connection of its own
    release.set()
    for thread in threads:
        thread.join()
    assert len(rawsql._KEPT[engine.pool]) == rawsql.KEEP  # the one over is closed


def test_an_in_memory_database_keeps_nothing() -> None:
    engine = make_engine("sqlite://")
    _connection(engine)
    assert engine.pool not in rawsql._KEPT
