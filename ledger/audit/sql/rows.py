"""The comparison's vocabulary: a row, its key and how a mismatch names it, what a comparison
found, and the indexer's cursor row it starts from.

Values are compared as the indexer stores them: hashes and byte strings as lower-case ``0x`` hex
(``hex_str``), addresses in their EIP-55 form, JSON columns parsed (``plain_row``). A row's key in a
mismatch's location reads ``orders[order_id=17]`` (``row_key``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from ledger.audit.replay import AuditError
from ledger.audit.report import Mismatch, Report
from ledger.index.sql import models

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
Row = dict[str, Any]
Key = tuple[Any, ...]


class SqlCompareError(AuditError):
    """The database cannot be compared (no cursor for the chain, a replay without its logs)."""


@dataclass(frozen=True)
class SqlCursor:
    """The indexer's cursor row for one chain."""

    block_number: int
    block_hash: str
    digest: str
    event_count: int
    from_block: int
    addresses: Mapping[str, str]


@dataclass
class SqlComparison:
    """What ``compare_sql`` found: the mismatches, the rows read per table, and what it skipped."""

    mismatches: list[Mismatch] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add_to(self, report: Report, database: str) -> None:
        """Fold into ``report``: the mismatches, the rows checked per table, the database compared."""
        report.mismatches.extend(self.mismatches)
        report.database = database
        report.sql_rows = {table: self.rows[table] for table in sorted(self.rows)}
        report.timings["sql"] = report.timings.get("sql", 0.0) + self.seconds


def hex_str(value: bytes | str) -> str:
    return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()


def row_key(table: str, names: Sequence[str], key: Key) -> str:
    return f"{table}[{','.join(f'{n}={v}' for n, v in zip(names, key, strict=True))}]"


def json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def plain_row(row: Mapping[str, Any]) -> Row:
    """A row as a mismatch reports it: its JSON ``args`` parsed."""
    return {k: json_value(v) if k == "args" else v for k, v in row.items()}


def sort_key(key: Key) -> tuple[str, ...]:
    """Keys in a stable order, numbers numerically, whatever their mix of types."""
    return tuple(f"{v:080d}" if isinstance(v, int) else str(v) for v in key)


def read_cursor(bind: Engine | Connection, chain_id: int) -> SqlCursor | None:
    """The indexer's cursor for ``chain_id`` (None when the database has not indexed that chain)."""
    table = models.CURSOR
    try:
        with connected(bind) as conn:
            row = conn.execute(select(table).where(table.c.chain_id == chain_id)).mappings().first()
    except SQLAlchemyError as exc:
        raise SqlCompareError(f"the database cannot be read as the indexer's: {type(exc).__name__}: {exc}") from exc
    if row is None:
        return None
    return SqlCursor(
        int(row["block_number"]),
        str(row["block_hash"]),
        str(row["digest"]),
        int(row["event_count"]),
        int(row["from_block"]),
        dict(row["addresses"]),
    )


class connected:
    """A connection for the comparison: the caller's, or a new one on an engine (closed after)."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.conn = self.bind.connect()
        return self.conn

    def __exit__(self, *_exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
