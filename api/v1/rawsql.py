"""SQLAlchemy Core statements compiled once and run on the pool's own DBAPI connection: the hot reads' SQL.

A read through ``engine.connect()`` pays SQLAlchemy's whole execution path per statement (a cache
key, an execution context, the ``begin`` event's own ``BEGIN`` statement, a result object):
about ten times what SQLite itself takes for a keyed lookup. The hottest reads (a token's
revocation, an order, a page of orders, a receivable tree, a member) run a few fixed statements,
so each is written once with SQLAlchemy Core (``Prepared``), compiled once per dialect, and run
on a DBAPI connection checked out of the engine's own pool (``Snapshot``), with each column's
result processor taken from SQLAlchemy's type system, so values come back exactly as
``connection.execute`` would give them (``UInt`` as ``int``, booleans, JSON).

A ``Snapshot`` is one transaction: on SQLite it opens one with ``BEGIN`` (as ``make_engine``'s
``begin`` hook does for SQLAlchemy's connections), so its statements read one snapshot; on
PostgreSQL the driver opens it. Either way it is rolled back at the end: these are reads.
A statement that needs an expanding ``IN`` list is not one of these (its SQL changes with the
list): the callers keep those on ``engine.connect()``.

On a SQLite file, a snapshot's connection is kept for the next one (``KEEP`` per pool) rather than
returned to the pool: a checkout and return through SQLAlchemy's pool (its queue, a weakref
finaliser, the reset's rollback) took 8-13 µs, and a snapshot 22-37 µs against 8-12 µs on a kept
connection, where every authenticated hot read makes two (the token's revocation, the read). A file
has no server to go away, so a kept connection does not go stale; one whose snapshot raised is
closed. A kept connection is detached from the pool (the pool makes another in its place when it
needs one) and listed under its pool: ``engine.dispose()`` starts a new pool with none kept, and the
old pool's are closed when that pool is collected.
PostgreSQL's connections always go back to the pool, whose pre-ping finds a dropped one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool, QueuePool
from sqlalchemy.sql import Select

#: Connections a pool's snapshots keep for the next ones (a SQLite file's; see the module notes): as many
#: as snapshots run at once in a worker, its event loop and a few threads.
KEEP = 4
_KEPT: weakref.WeakKeyDictionary[Pool, list[Any]] = weakref.WeakKeyDictionary()

Processor = Callable[[Any], Any] | None


class Row(tuple[Any, ...]):
    """A processed row: a tuple whose columns are also attributes, as SQLAlchemy's ``Row`` gives them."""

    __slots__ = ()
    _keys: Mapping[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._keys[name]]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class _Compiled:
    sql: str
    #: Bind names in the order of the SQL's placeholders (positional paramstyles), else None.
    order: tuple[str, ...] | None
    defaults: dict[str, Any]
    binds: dict[str, Processor]
    row: type[Row]
    types: tuple[Any, ...]
    processors: list[Processor] | None = field(default=None)


class Prepared:
    """One Core ``SELECT`` whose bind parameters are ``bindparam`` names, compiled once per dialect."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        # Per dialect object (one per engine): its driver and paramstyle decide the SQL's placeholders.
        self._compiled: dict[Dialect, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared statement cannot hold expanding or post-compile parameters")
        binds: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            binds[name] = bind.type.dialect_impl(dialect).bind_processor(dialect)
        columns = [c for c in self.statement.selected_columns]
        keys = {c.key: i for i, c in enumerate(columns)}
        row = type("Row", (Row,), {"__slots__": (), "_keys": keys})
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        return _Compiled(compiled.string, order, dict(compiled.params), binds, row, tuple(c.type for c in columns))


class Snapshot:
    """Reads in one transaction on a pooled DBAPI connection (``snapshot(engine)``)."""

    def __init__(self, engine: Engine, cursor: Any) -> None:
        self.dialect = engine.dialect
        self._cursor = cursor

    def raw(self, prepared: Prepared, **params: Any) -> tuple[_Compiled, list[tuple[Any, ...]]]:
        """The rows as the driver gives them (hashable, cheap: what the answer caches key on)."""
        compiled = prepared.compiled(self.dialect)
        values = {**compiled.defaults, **params}
        for name, process in compiled.binds.items():
            if process is not None:
                values[name] = process(values[name])
        arguments: Sequence[Any] | Mapping[str, Any] = (
            [values[name] for name in compiled.order] if compiled.order is not None else values
        )
        try:
            self._cursor.execute(compiled.sql, arguments)
            rows = self._cursor.fetchall()
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(compiled.sql, arguments, exc, self.dialect.loaded_dbapi.Error) from exc
        if compiled.processors is None:
            compiled.processors = [
                t.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for t, d in zip(compiled.types, self._cursor.description, strict=True)
            ]
        return compiled, rows

    def rows(self, prepared: Prepared, **params: Any) -> list[Row]:
        compiled, rows = self.raw(prepared, **params)
        return [process(compiled, row) for row in rows]


def process(compiled: _Compiled, row: Sequence[Any]) -> Row:
    """A driver's row with SQLAlchemy's result processing applied, as a ``Row``."""
    processors = compiled.processors or ()
    # As SQLAlchemy does, a processor also gets the Nones (a TypeDecorator may map them).
    return compiled.row(value if fn is None else fn(value) for fn, value in zip(processors, row, strict=True))


@contextmanager
def snapshot(engine: Engine, *, statements: int = 2) -> Iterator[Snapshot]:
    """One read transaction on a connection of ``engine``'s pool (rolled back, then returned to the pool).

    ``statements=1`` promises a single statement: SQLite then runs it in autocommit mode, which reads one
    snapshot all the same, and saves the ``BEGIN``."""
    kept = _kept(engine)
    connection = _take(engine, kept)
    try:
        cursor = connection.cursor()
        try:
            if statements > 1 and engine.dialect.name == "sqlite":
                cursor.execute("BEGIN")  # what make_engine's begin hook does: one snapshot for every statement
            yield Snapshot(engine, cursor)
        finally:
            cursor.close()
            connection.rollback()
    except BaseException:
        connection.close()  # to the pool, which invalidates one that broke; a kept one is closed
        raise
    if kept is None:
        connection.close()
    elif len(kept) < KEEP:
        kept.append(connection)
    else:
        connection.close()


def _kept(engine: Engine) -> list[Any] | None:
    """The connections kept for ``engine``'s snapshots, if it is on a SQLite file (see the module notes)."""
    pool = engine.pool
    kept = _KEPT.get(pool)
    if kept is None and engine.dialect.name == "sqlite" and isinstance(pool, QueuePool):
        kept = _KEPT[pool] = []  # a file's pool (make_engine gives an in-memory database one StaticPool)
    return kept


def _take(engine: Engine, kept: list[Any] | None) -> Any:
    """A kept DBAPI connection, else one from the pool: detached from it if it is to be kept, so that it
    holds no reference to the pool (which then goes, and closes them, when ``engine.dispose()`` replaces it)."""
    if kept is None:
        return engine.raw_connection()
    try:
        return kept.pop()
    except IndexError:  # none kept, or another thread took the last one since
        pass
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()  # the pool makes another in its place when it needs one
    return connection
