"""Fixtures of the indexer suite: a chain with a history of every kind of event, and databases.

The chain (``index_chain``, ``tests.support.index_chain``) is an anvil of the suite's own (reorg
tests revert it to snapshots), deployed with a deployment record and driven through the indexer
scenario (``tests.support.index_scenario``).

``database`` is parametrised through ``databases`` (``tests.support.databases``): every test that
takes it runs on SQLite (a file in tmp_path) and on PostgreSQL (a real server on 127.0.0.1:5432,
user postgres, trust auth: a fresh database per call, dropped at the end of the module). Without a
reachable server the PostgreSQL runs are skipped with the reason printed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from tests.support.databases import Databases, databases
from tests.support.index_chain import index_chain

__all__ = ["databases", "index_chain"]  # imported to be declared here: pytest registers them in this conftest


@pytest.fixture
def database(databases: Databases) -> Engine:
    """An empty database (schema at the newest migration), of each kind in turn."""
    return databases.new()


@pytest.fixture
def new_database(databases: Databases) -> Callable[[], Engine]:
    """Makes more empty databases of the same kind (for comparisons)."""
    return databases.new
