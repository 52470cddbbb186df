"""Bulk SQL of the projections: rows read by key and written back by the page, in a few statements.

A projection's rows are keyed by ``chain_id`` and a key of one or two columns (``Projection``).
Rows are read with ``IN`` queries in chunks (``select_keys``), deleted the same way
(``delete_keys``, for a rebuild) and written in one executemany (``bulk_upsert``).

SQLite is the default database and the hot path, so there the statements go straight to the
driver: the SQL of each table is made once (``_sqlite``), and only the columns whose type
converts (exact wide integers, JSON, booleans) are converted, without SQLAlchemy's per-row
processing. Other databases go through SQLAlchemy (``ON CONFLICT DO UPDATE`` on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, ColumnElement, Connection, Table, and_, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from ledger.index.sql.types import UInt

Row = dict[str, Any]
Key = tuple[Any, ...]
_CHUNK = 400  # keys per IN (...) query


@dataclass(frozen=True)
class Projection:
    """A table whose rows fold many events: its key columns after ``chain_id``."""

    table: Table
    key: tuple[str, ...]


_INT64 = 1 << 63
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
Convert = Callable[[Any], Any]


def _to_sqlite_exact(value: Any) -> Any:
    return value if value is None or -_INT64 <= value < _INT64 else str(value)


def _to_sqlite_json(value: Any) -> Any:
    return None if value is None else _compact_json(value)


def _from_sqlite_exact(value: Any) -> Any:
    return int(value) if isinstance(value, str) else value


def _from_sqlite_json(value: Any) -> Any:
    # A JSON column has NUMERIC affinity on SQLite: a number's text comes back as the number.
    return json.loads(value) if isinstance(value, str | bytes) else value


def _from_sqlite_bool(value: Any) -> Any:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class _SqliteTable:
    """A table's SQL for SQLite, and how its values go in and come out."""

    columns: tuple[str, ...]
    upsert: str
    insert: str
    select: str  # ... WHERE chain_id = ? AND
    to_db: tuple[tuple[int, Convert], ...]  # (position, convert) of the columns needing it
    from_db: tuple[tuple[int, Convert], ...]


@lru_cache(maxsize=64)
def _sqlite(table: Table) -> _SqliteTable:
    columns = [c for c in table.c if not (c.primary_key and c.autoincrement is True)]
    names = tuple(c.name for c in columns)
    quoted = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" * len(names))
    to_db, from_db = [], []
    for position, column in enumerate(columns):
        if isinstance(column.type, UInt):
            to_db.append((position, _to_sqlite_exact))
            from_db.append((position, _from_sqlite_exact))
        elif isinstance(column.type, JSON):
            to_db.append((position, _to_sqlite_json))
            from_db.append((position, _from_sqlite_json))
        elif isinstance(column.type, Boolean):
            from_db.append((position, _from_sqlite_bool))
    return _SqliteTable(
        names,
        f"INSERT OR REPLACE INTO {table.name} ({quoted}) VALUES ({marks})",
        f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})",
        f"SELECT {quoted} FROM {table.name} WHERE chain_id = ? AND ",
        tuple(to_db),
        tuple(from_db),
    )


def bulk_upsert(conn: Connection, table: Table, rows: Sequence[Row], *, insert_only: bool = False) -> None:
    """Insert ``rows`` (dicts by column name), replacing rows with the same primary key (unless
    ``insert_only``). On SQLite straight to the driver, values converted as the column types
    would (exact integers, JSON), without SQLAlchemy's per-row processing; elsewhere through
    SQLAlchemy (``ON CONFLICT DO UPDATE`` on PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        spec = _sqlite(table)
        get = itemgetter(*spec.columns)
        if spec.to_db:
            values: list[tuple[Any, ...]] = []
            for row in rows:
                value = list(get(row))
                for position, convert in spec.to_db:
                    value[position] = convert(value[position])
                values.append(tuple(value))
        else:
            values = [get(row) for row in rows]
        conn.exec_driver_sql(spec.insert if insert_only else spec.upsert, values)
        return
    if insert_only:
        conn.execute(insert(table), list(rows))
    elif dialect == "postgresql":
        statement = postgresql_insert(table)
        primary = [c.name for c in table.primary_key.columns]
        updates = {c.name: statement.excluded[c.name] for c in table.c if c.name not in primary}
        conn.execute(statement.on_conflict_do_update(index_elements=primary, set_=updates), list(rows))
    else:
        projection = Projection(table, tuple(k for k in (c.name for c in table.primary_key.columns) if k != "chain_id"))
        by_chain: dict[int, list[Key]] = {}
        for row in rows:
            by_chain.setdefault(row["chain_id"], []).append(tuple(row[c] for c in projection.key))
        for chain_id, keys in by_chain.items():
            delete_keys(conn, projection, chain_id, keys)
        conn.execute(insert(table), list(rows))


def select_keys(conn: Connection, projection: Projection, chain_id: int, keys: Sequence[Key]) -> Iterator[Row]:
    """The stored rows of ``keys``."""
    table = projection.table
    if conn.dialect.name == "sqlite":
        spec = _sqlite(table)
        for first, values in _key_groups(projection, keys):
            for start in range(0, len(values), _CHUNK):
                chunk = values[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                if first is None:
                    sql = f'{spec.select}"{projection.key[0]}" IN ({marks})'
                    params: tuple[Any, ...] = (chain_id, *chunk)
                else:
                    sql = f'{spec.select}"{projection.key[0]}" = ? AND "{projection.key[1]}" IN ({marks})'
                    params = (chain_id, first, *chunk)
                for found in conn.exec_driver_sql(sql, params):
                    value = list(found)
                    for position, convert in spec.from_db:
                        value[position] = convert(value[position])
                    yield dict(zip(spec.columns, value, strict=True))
        return
    for condition in _key_conditions(projection, keys):
        result = conn.execute(select(table).where(table.c.chain_id == chain_id, condition))
        names = tuple(result.keys())
        for found in result:
            yield dict(zip(names, found, strict=True))


def _key_groups(projection: Projection, keys: Sequence[Key]) -> list[tuple[Any, list[Any]]]:
    """Keys grouped by their first column when there are two (``None``: one key column)."""
    if len(projection.key) == 1:
        return [(None, [k[0] for k in keys])]
    groups: dict[Any, list[Any]] = {}
    for first, second in keys:
        groups.setdefault(first, []).append(second)
    return list(groups.items())


def _key_conditions(projection: Projection, keys: Sequence[Key]) -> Iterator[ColumnElement[bool]]:
    """WHERE conditions selecting ``keys`` in chunks: ``k IN (...)`` for one key column, and for
    two, ``k1 = ? AND k2 IN (...)`` per first value (SQLite searches a row-value IN list by
    ``chain_id`` alone, a scan of the table)."""
    columns = [projection.table.c[c] for c in projection.key]
    for first, values in _key_groups(projection, keys):
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            yield columns[0].in_(chunk) if first is None else and_(columns[0] == first, columns[1].in_(chunk))


def delete_keys(conn: Connection, projection: Projection, chain_id: int, keys: Sequence[Key]) -> None:
    table = projection.table
    for condition in _key_conditions(projection, keys):
        conn.execute(delete(table).where(table.c.chain_id == chain_id, condition))
