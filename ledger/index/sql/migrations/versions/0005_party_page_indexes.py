"""A party's pages by index: ``(chain_id, role, id)`` indexes for orders, receivables, held pieces, the trees a
party touched, and (a partial one) its credit history.

``GET /v1/orders`` for a party is "its buyer, supplier or guarantor, after ``after``, in order id order". With
only ``(chain_id, buyer)`` and ``(chain_id, supplier)`` (and nothing on guarantor) neither SQLite nor PostgreSQL
can answer that ``OR`` in order id order from an index (SQLite's index keeps the rowid after the address, not
``order_id``), so both walked the primary key from ``after`` and tested every order: for a party in 1 % of the
orders, most of the chain's orders per page. The API now reads one arm per role
(``api.v1.read_answers.orders_page``), each a range of one of these indexes, already in order. Receivables by
debtor and creditor are read the same way (``api.v1.reads``), and a holder's pieces in piece id order. Each new
index begins with the one it replaces, so every lookup the old one served it serves, and the old one goes.

The trees a party touched are read the same way, from ``after`` on in root id order: those it holds a piece of
(a new ``(chain_id, holder, root_id)`` beside the holder's page's index: one more entry per piece and per change of
holder, no longer every piece a bank holds on each of its pages), and those whose pieces it bought (``bank``,
widened to ``(chain_id, bank, root_id)``) or sold (a new ``(chain_id, seller, root_id)``; every financing was
scanned for it until now).

``GET /v1/credit/history/{party}`` is a party's ``LimitPublished`` / ``LimitRevoked`` events after ``after``, the
credit registry's events with the party as topic 2; nothing indexed ``topic2``, so it walked ``events``, the largest
table, from ``after``. ``(chain_id, topic2, id)`` on the registry's events only (a partial index: ``WHERE contract
= 'CreditRegistry'``, every one of its events being one of those two) makes it a range, in id order, and costs the
indexer an entry per registry event, not one per event.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
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
    ("financings", "bank", "root_id"),
)
#: (table, columns) of the indexes that replace none.
ADDED = (
    ("orders", ("chain_id", "guarantor", "order_id")),
    ("receivable_pieces", ("chain_id", "holder", "root_id")),
    ("financings", ("chain_id", "seller", "root_id")),
)
#: The partial index of the credit registry's events (``ledger.index.sql.models``' ``CREDIT_EVENTS_INDEX``, spelt
#: out: a migration is what the schema was then, not what the models are now).
CREDIT_EVENTS = "ix_events_credit_registry_chain_id_topic2_id"
CREDIT_EVENTS_WHERE = "contract = 'CreditRegistry'"


def upgrade() -> None:
    for table, column, key in WIDENED:
        op.create_index(op.f(f"ix_{table}_chain_id_{column}_{key}"), table, ["chain_id", column, key])
        op.drop_index(op.f(f"ix_{table}_chain_id_{column}"), table_name=table)
    for table, columns in ADDED:
        op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))
    where = sa.text(CREDIT_EVENTS_WHERE)
    op.create_index(CREDIT_EVENTS, "events", ["chain_id", "topic2", "id"], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index(CREDIT_EVENTS, table_name="events")
    for table, columns in reversed(ADDED):
        op.drop_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table_name=table)
    for table, column, key in reversed(WIDENED):
        op.create_index(op.f(f"ix_{table}_chain_id_{column}"), table, ["chain_id", column])
        op.drop_index(op.f(f"ix_{table}_chain_id_{column}_{key}"), table_name=table)
