"""Times as 64-bit integers: ``aggregator_attestations.updated_at`` (the aggregator's clock) and
``aggregator_declarations.declared_at`` (the declaration's time, chosen by its oracles).

Both were ``INTEGER``: 64 bits on SQLite, but 32 on PostgreSQL, where a time from 2038-01-19 on (or any
declaration time past it that an oracle signs) failed the write with "integer out of range". SQLite rebuilds the
two tables (batch mode); PostgreSQL widens the columns in place.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = (("aggregator_attestations", "updated_at"), ("aggregator_declarations", "declared_at"))


def upgrade() -> None:
    for table, column in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    for table, column in WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
