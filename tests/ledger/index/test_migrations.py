"""Migrations that change a table with rows in it: what an old row reads afterwards, and the way back.

0003 adds the guarantor's pre-payment fee (``orders.prepayment_fee``, ``guarantees.fees_total``).
A database indexed before fees existed holds rows without them; after the upgrade those rows read
as fee-free pre-payments (0), and a downgrade drops the columns again without touching the rows.
"""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Boolean, Column, Engine, Integer, String, inspect, select, text

from ledger.index.sql import models
from ledger.index.sql.db import alembic_config, upgrade

CHAIN_ID = 31_337
ORDER_ID = 7
GUARANTOR, SUPPLIER = "0x" + "b1" * 20, "0x" + "5a" * 20
NEW_COLUMNS = {"orders": {"prepayment_fee"}, "guarantees": {"fees_total"}}


def _value(column: Column[Any]) -> Any:
    """A value the column takes (keys and amounts chosen, the rest plain), as a row of 0002 had it."""
    chosen = {"chain_id": CHAIN_ID, "order_id": ORDER_ID, "guarantor": GUARANTOR, "supplier": SUPPLIER}
    chosen |= {"prepaid": 40_000, "prepaid_total": 40_000, "exposure": 40_000, "paid_to_supplier": 40_000}
    chosen |= {"status": "FUNDED"}
    if column.name in chosen:
        return chosen[column.name]
    if column.nullable:
        return None
    if isinstance(column.type, Boolean):
        return False
    if isinstance(column.type, String):
        return "0x" + "00" * 20
    assert isinstance(column.type, Integer | models.UInt), (column.name, column.type)
    return 0


def _insert_as_of_0002(engine: Engine, table: str) -> None:
    columns = [c for c in models.metadata.tables[table].columns if c.name not in NEW_COLUMNS[table]]
    names = ", ".join(c.name for c in columns)
    params = ", ".join(f":{c.name}" for c in columns)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({params})"), {c.name: _value(c) for c in columns})


def _columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_rows_indexed_before_fees_existed_read_as_fee_free_after_0003_and_the_way_back_drops_the_columns(
    database: Engine,
) -> None:
    config = alembic_config(database)
    command.downgrade(config, "0002")
    assert not NEW_COLUMNS["orders"] & _columns(database, "orders")
    assert not NEW_COLUMNS["guarantees"] & _columns(database, "guarantees")
    _insert_as_of_0002(database, "orders")
    _insert_as_of_0002(database, "guarantees")

    upgrade(database)

    orders, guarantees = models.table_of(models.Order), models.table_of(models.Guarantee)
    with database.connect() as conn:
        order = conn.execute(select(orders).where(orders.c.order_id == ORDER_ID)).mappings().one()
        guarantee = conn.execute(select(guarantees).where(guarantees.c.guarantor == GUARANTOR)).mappings().one()
    assert (order["prepaid"], order["prepayment_fee"], order["paid_to_supplier"]) == (40_000, 0, 40_000)
    assert (guarantee["prepaid_total"], guarantee["fees_total"], guarantee["exposure"]) == (40_000, 0, 40_000)

    command.downgrade(config, "0002")
    assert not NEW_COLUMNS["orders"] & _columns(database, "orders")
    with database.connect() as conn:
        assert conn.execute(text("SELECT prepaid FROM orders WHERE order_id = :o"), {"o": ORDER_ID}).scalar() == 40_000
    upgrade(database)
    assert NEW_COLUMNS["guarantees"] <= _columns(database, "guarantees")
