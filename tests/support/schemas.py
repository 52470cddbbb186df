"""A database's schema as plain data, to compare two ways of making a store; and the switch between those ways.

The suites make hundreds of new stores (the API's, the oracle services'), so they make them with ``create_all`` of
the declared tables, stamped at head (``ledger.index.sql.stores.DECLARED_NEW_STORES``, turned on for the whole run
by ``tests/conftest.py``), not by running every Alembic revision. ``revisions_run`` turns that off for the tests
whose subject is the revisions; each store suite then proves the shortcut with ``reflected``: the schema a new
database gets both ways, column by column, key by key, index by index, and the version recorded, is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, inspect

from ledger.index.sql import stores


@contextmanager
def revisions_run() -> Iterator[None]:
    """New stores made in the block run every revision, as in the product."""
    before = stores.DECLARED_NEW_STORES
    stores.DECLARED_NEW_STORES = False
    try:
        yield
    finally:
        stores.DECLARED_NEW_STORES = before


@contextmanager
def declared_new_stores() -> Iterator[None]:
    """New stores made in the block are ``create_all`` of the declared tables, stamped at head."""
    before = stores.DECLARED_NEW_STORES
    stores.DECLARED_NEW_STORES = True
    try:
        yield
    finally:
        stores.DECLARED_NEW_STORES = before


def _plain(value: Any) -> Any:
    """A reflected value as comparable data: mappings with their keys sorted, sequences as lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def reflected(engine: Engine, tables: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each of ``tables`` as the database reports it: columns in order (name, type as reflected,
    nullability, server default, autoincrement, comment), the primary key, foreign keys, unique constraints,
    indexes and check constraints."""
    inspector = inspect(engine)
    found: dict[str, dict[str, Any]] = {}
    for table in sorted(tables):
        columns = [
            {
                "name": column["name"],
                "type": repr(column["type"]),  # as reflected (SQLite reflects a type it cannot name as NullType)
                "nullable": column["nullable"],
                "default": column.get("default"),
                "autoincrement": column.get("autoincrement"),
                "comment": column.get("comment"),
            }
            for column in inspector.get_columns(table)
        ]
        found[table] = {
            "columns": columns,
            "primary_key": _plain(inspector.get_pk_constraint(table)),
            "foreign_keys": sorted(
                (_plain(key) for key in inspector.get_foreign_keys(table)), key=lambda key: repr(key)
            ),
            "unique": sorted((_plain(key) for key in inspector.get_unique_constraints(table)), key=repr),
            "indexes": sorted((_plain(index) for index in inspector.get_indexes(table)), key=repr),
            "checks": sorted((_plain(check) for check in inspector.get_check_constraints(table)), key=repr),
        }
    return found
