"""Refused calls: transactions to a ledger contract that were mined and reverted.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "refused_calls",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("function", sa.String(length=80), nullable=False),
        sa.Column("error", sa.String(length=80), nullable=True),
        sa.Column("error_args", _JSON, nullable=True),
        sa.Column("args", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", name=op.f("pk_refused_calls")),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "tx_hash", name=op.f("uq_refused_calls_chain_id_block_hash_tx_hash")
        ),
    )
    op.create_index(op.f("ix_refused_calls_chain_id_sender"), "refused_calls", ["chain_id", "sender"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_refused_calls_chain_id_sender"), table_name="refused_calls")
    op.drop_table("refused_calls")
