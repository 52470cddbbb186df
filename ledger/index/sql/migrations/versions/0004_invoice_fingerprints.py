"""Invoice fingerprints instead of invoice numbers (``receivable_roots``).

Receivables no longer takes or logs an invoice number: ``ReceivableIssued`` carries the invoice's
keyed ``fingerprint`` and the parties' salted ``invoiceCommitment`` instead of ``invoiceKey`` and
``invoiceNumber``. The index follows: ``invoice_key`` and ``invoice_number`` go, ``fingerprint``
and ``invoice_commitment`` come. A row indexed from a deployment before fingerprints (which an
indexer refuses to mix with a new one anyway: another Receivables address) reads as the zero
hash in both; the invoice number it held is dropped, as the point is not to keep it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZERO_HASH = "0x" + "00" * 32


def upgrade() -> None:
    for name in ("fingerprint", "invoice_commitment"):
        op.add_column(
            "receivable_roots",
            sa.Column(name, sa.String(length=66), server_default=sa.text(f"'{ZERO_HASH}'"), nullable=False),
        )
    # SQLite drops a column in place (3.35+); neither column is indexed.
    op.drop_column("receivable_roots", "invoice_number")
    op.drop_column("receivable_roots", "invoice_key")


def downgrade() -> None:
    # The way back cannot bring the numbers back: the rows read as the zero key and an empty number.
    op.add_column(
        "receivable_roots",
        sa.Column("invoice_key", sa.String(length=66), server_default=sa.text(f"'{ZERO_HASH}'"), nullable=False),
    )
    op.add_column(
        "receivable_roots", sa.Column("invoice_number", sa.Text(), server_default=sa.text("''"), nullable=False)
    )
    op.drop_column("receivable_roots", "invoice_commitment")
    op.drop_column("receivable_roots", "fingerprint")
