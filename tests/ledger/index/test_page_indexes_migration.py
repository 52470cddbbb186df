"""Migration 0005: the ``(chain_id, role, id)`` indexes of the party pages replace the ``(chain_id, role)`` ones, on
tables with rows in them, and the way back restores the old ones.

That a migrated database's schema is the models' is ``test_catch_up``'s comparison; this is the step itself. That
comparison (Alembic's) does not look at a partial index's ``WHERE``, so the credit registry's events index's is
compared with the models' here.
"""

from __future__ import annotations

import re

from alembic import command
from sqlalchemy import Engine, func, insert, inspect, select

from ledger.index.sql import models
from ledger.index.sql.db import alembic_config, upgrade

TABLES = ("orders", "receivable_roots", "receivable_pieces", "financings", "events")
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
    "events": {"ix_events_chain_id_block_number_log_index": ["chain_id", "block_number", "log_index"]},
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
        "ix_receivable_pieces_chain_id_holder_root_id": ["chain_id", "holder", "root_id"],
        "ix_receivable_pieces_chain_id_root_id": ["chain_id", "root_id"],
    },
    "financings": {
        "ix_financings_chain_id_piece_id": ["chain_id", "piece_id"],
        "ix_financings_chain_id_bank_root_id": ["chain_id", "bank", "root_id"],
        "ix_financings_chain_id_seller_root_id": ["chain_id", "seller", "root_id"],
    },
    "events": {**OLD["events"], models.CREDIT_EVENTS_INDEX: ["chain_id", "topic2", "id"]},
}


def _indexes(engine: Engine) -> dict[str, dict[str, list[str]]]:
    inspector = inspect(engine)
    return {
        table: {
            index["name"] or "": list(index["column_names"])
            for index in inspector.get_indexes(table)
            if not index.get("duplicates_constraint")  # PostgreSQL lists a unique constraint's index too
        }
        for table in TABLES
    }


def _where(engine: Engine) -> str:
    """The credit registry's events index's ``WHERE`` as the database keeps it, without PostgreSQL's casts and
    parentheses."""
    (index,) = (ix for ix in inspect(engine).get_indexes("events") if ix["name"] == models.CREDIT_EVENTS_INDEX)
    where = index["dialect_options"][f"{engine.dialect.name}_where"]
    return re.sub(r"::text|[()]", "", str(where))


def test_the_credit_events_index_holds_the_registrys_events_only_as_the_models_say(database: Engine) -> None:
    (index,) = (ix for ix in models.table_of(models.Event).indexes if ix.name == models.CREDIT_EVENTS_INDEX)
    assert str(index.dialect_options[database.dialect.name]["where"]) == models.CREDIT_EVENTS_WHERE
    assert _where(database) == models.CREDIT_EVENTS_WHERE == "contract = 'CreditRegistry'"


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
    assert _where(database) == models.CREDIT_EVENTS_WHERE
    with database.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.table_of(models.Order))).scalar() == 39
    command.downgrade(config, "0004")
    assert _indexes(database) == OLD
    upgrade(database)
