"""Column types of the indexer's tables that the migrations use too (so they never change)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.types import NUMERIC, TypeDecorator, TypeEngine, UserDefinedType

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
_INT64 = 1 << 63


class _SqliteExact(UserDefinedType[Any]):
    """SQLite's declared type for exact integers: BLOB affinity stores an INTEGER or a TEXT as given
    (NUMERIC affinity would turn a 78-digit text into a REAL and lose its digits)."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "NUMERIC78 BLOB"


class UInt(TypeDecorator[int]):
    """An exact integer up to 2^256 - 1: NUMERIC(78, 0) on PostgreSQL; INTEGER or decimal TEXT on SQLite."""

    impl = NUMERIC(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteExact())
        return dialect.type_descriptor(NUMERIC(78, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = int(value)
        if dialect.name == "sqlite":
            return value if -_INT64 <= value < _INT64 else str(value)
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)
