"""Priced pre-payment: the guarantor's fee on each order and its fee total per guarantee.

``orders.prepayment_fee`` is the part of ``prepaid`` the guarantor took as its fee (``orderOf``'s
``prepaymentFee``); ``guarantees.fees_total`` sums those fees per (guarantor, supplier). Both
default to 0 on the server, so rows indexed before fees existed read as fee-free pre-payments.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledger.index.sql.types import UInt

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("prepayment_fee", UInt(), server_default=sa.text("0"), nullable=False))
    op.add_column("guarantees", sa.Column("fees_total", UInt(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    # SQLite drops a column in place (3.35+); a batch copy would have to reflect UInt, which it cannot.
    op.drop_column("guarantees", "fees_total")
    op.drop_column("orders", "prepayment_fee")
