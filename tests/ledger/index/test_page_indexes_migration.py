"""Migration 0005: the ``(chain_id, role, id)`` indexes of the party pages replace the ``(chain_id, role)`` ones, on
tables with rows in them, and the way back restores the old ones.

That a migrated database's schema is the models' is ``test_catch_up``'s comparison; this is the step itself.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select

from ledger.index.sql import models
from ledger.index.sql.db import alembic_config, upgrade

TABLES = ("orders", "receivable_roots", "receivable_pieces", "financings")
OLD = {
    "orders": {
        "ix_orders_chain_id_buyer": ["chain_id", "buyer"],
        "ix_orders_chain_id_supplier": ["chain_id", "supplier"],
    },
    "receivable_roots": {
        "ix_receivable_roots_chain_id_debtor": ["chain_id", "debtor"],
        "ix_receivable_roots_chain_id_creditor": ["chain_id", "creditor"],
    },
    "receivable_pieces": {
        "ix_receivable_pieces_chain_id_holder": ["chain_id", "holder"],
        "ix_receivable_pieces_chain_id_root_id": ["chain_id", "root_id"],
    },
    "financings": {
        "ix_financings_chain_id_bank": ["chain_id", "bank"],
        "ix_financings_chain_id_piece_id": ["chain_id", "piece_id"],
    },
}
NEW = {
    "orders": {
        f"ix_orders_chain_id_{role}_order_id": ["chain_id", role, "order_id"]
        for role in ("buyer", "supplier", "guarantor")
    },
    "receivable_roots": {
        "ix_receivable_roots_chain_id_debtor_root_id": ["chain_id", "debtor", "root_id"],
        "ix_receivable_roots_chain_id_creditor_root_id": ["chain_id", "creditor", "root_id"],
    },
    "receivable_pieces": {
        "ix_receivable_pieces_chain_id_holder_piece_id": ["chain_id", "holder", "piece_id"],
        "ix_receivable_pieces_chain_id_root_id": ["chain_id", "root_id"],
    },
    "financings": {**OLD["financings"], "ix_financings_chain_id_seller": ["chain_id", "seller"]},
}


def _indexes(engine: Engine) -> dict[str, dict[str, list[str]]]:
    inspector = inspect(engine)
    return {
        table: {index["name"] or "": list(index["column_names"]) for index in inspector.get_indexes(table)}
        for table in TABLES
    }


def _order(order_id: int) -> dict[str, object]:
    row: dict[str, object] = {column.name: 0 for column in models.table_of(models.Order).columns}
    address = "0x" + f"{order_id:02x}" * 20
    row |= {"chain_id": 31_337, "order_id": order_id, "buyer": address, "supplier": address, "guarantor": address}
    row |= {"token": address, "submitter": address, "terms_hash": "0x", "po_ref_hash": "0x", "status": "FUNDED"}
    return row | {"inspection_required": False, "open_account": False, "receipt_confirmed": False}


def test_0005_swaps_the_page_indexes_on_a_filled_table_and_back(database: Engine) -> None:
    assert _indexes(database) == NEW
    config = alembic_config(database)
    command.downgrade(config, "0004")
    assert _indexes(database) == OLD
    with database.begin() as conn:
        conn.execute(insert(models.table_of(models.Order)), [_order(i) for i in range(1, 40)])

    upgrade(database)

    assert _indexes(database) == NEW
    with database.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.table_of(models.Order))).scalar() == 39
    command.downgrade(config, "0004")
    assert _indexes(database) == OLD
    upgrade(database)
