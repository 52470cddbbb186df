"""The indexer's SQL as the scorer's input: the same features as the events themselves, final blocks only.

On SQLite and on PostgreSQL (``tests.support.databases``): the synthetic world's rows are written into each.
"""

from __future__ import annotations

import pytest

from scoring import features
from scoring.errors import AsOfInFuture, NoHistory
from scoring.source import SqlSource
from tests.support import synthetic
from tests.support.databases import Databases, databases
from tests.support.fitted import Fitted

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)


@pytest.fixture(scope="module")
def database(databases: Databases, fitted: Fitted) -> str:
    return synthetic.write_index(fitted.world, databases.url())


def test_sql_rows_give_the_features_of_the_events_they_came_from(database: str, fitted: Fitted) -> None:
    source = SqlSource.open(database)
    block = fitted.world.observation_end[0]
    history = source.history(block, confirmations=0)
    direct = fitted.world.history(history.as_of_time, refused=history.refused is not None)
    assert [e[:5] for e in history.events] == [e[:5] for e in direct.events]
    a, b = features.build(history), features.build(direct)
    for p in fitted.world.parties[:40]:
        assert a.row(p.address) == b.row(p.address)


def test_an_as_of_block_beyond_the_final_blocks_is_refused(database: str) -> None:
    source = SqlSource.open(database)
    final = source.cursor_block - 12
    with pytest.raises(AsOfInFuture, match=f"as-of block {final + 1} is in the future"):
        source.history(final + 1, confirmations=12)
    assert source.resolve(None, 12)[0] == final


def test_a_database_nobody_indexed_is_no_history(databases: Databases) -> None:
    with pytest.raises(NoHistory, match="not an indexed database"):
        SqlSource.open(databases.url())
