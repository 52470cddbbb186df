"""A party's pages by index: ``(chain_id, role, id)`` indexes for orders, receivables and held pieces.

``GET /v1/orders`` for a party is "its buyer, supplier or guarantor, after ``after``, in order id order". With
only ``(chain_id, buyer)`` and ``(chain_id, supplier)`` (and nothing on guarantor) neither SQLite nor PostgreSQL
can answer that ``OR`` in order id order from an index (SQLite's index keeps the rowid after the address, not
``order_id``), so both walked the primary key from ``after`` and tested every order: for a party in 1 % of the
orders, most of the chain's orders per page. The API now reads one arm per role
(``api.v1.read_answers.orders_page``), each a range of one of these indexes, already in order. Receivables by
debtor and creditor are read the same way (``api.v1.reads``), and a holder's pieces in piece id order. Each new
index begins with the one it replaces, so every lookup the old one served it serves, and the old one goes.

``financings`` gets ``(chain_id, seller)``: the trees a party touched are those whose pieces it bought (``bank``,
indexed) or sold (``seller``, read by scanning every financing until now).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, the column after chain_id, the id that orders a page): the index replacing (chain_id, column).
WIDENED = (
    ("orders", "buyer", "order_id"),
    ("orders", "supplier", "order_id"),
    ("receivable_roots", "debtor", "root_id"),
    ("receivable_roots", "creditor", "root_id"),
    ("receivable_pieces", "holder", "piece_id"),
)


def upgrade() -> None:
    for table, column, key in WIDENED:
        op.create_index(op.f(f"ix_{table}_chain_id_{column}_{key}"), table, ["chain_id", column, key])
        op.drop_index(op.f(f"ix_{table}_chain_id_{column}"), table_name=table)
    op.create_index(op.f("ix_orders_chain_id_guarantor_order_id"), "orders", ["chain_id", "guarantor", "order_id"])
    op.create_index(op.f("ix_financings_chain_id_seller"), "financings", ["chain_id", "seller"])


def downgrade() -> None:
    op.drop_index(op.f("ix_financings_chain_id_seller"), table_name="financings")
    op.drop_index(op.f("ix_orders_chain_id_guarantor_order_id"), table_name="orders")
    for table, column, key in reversed(WIDENED):
        op.create_index(op.f(f"ix_{table}_chain_id_{column}"), table, ["chain_id", column])
        op.drop_index(op.f(f"ix_{table}_chain_id_{column}_{key}"), table_name=table)
