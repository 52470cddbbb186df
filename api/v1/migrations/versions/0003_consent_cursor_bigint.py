"""The credit consents' page cursor as a 64-bit key: ``api_credit_consents.seq`` was ``INTEGER``, 32 bits on
PostgreSQL (and its ``SERIAL`` sequence too), so a page asked ``after`` 2^31 or more (the route takes any cursor
below 2^63, as every other page does) failed with "integer out of range", a 500 where SQLite answered an empty
page, and the table could hold no more than 2^31 consents. On PostgreSQL the column and its sequence become
``BIGINT``; on SQLite the key is the rowid (``INTEGER PRIMARY KEY``, already 64 bits) and nothing changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("api_credit_consents", "seq", type_=sa.BigInteger(), existing_type=sa.Integer())
    sequence = op.get_bind().execute(sa.text("SELECT pg_get_serial_sequence('api_credit_consents', 'seq')")).scalar()
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} AS BIGINT")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("api_credit_consents", "seq", type_=sa.Integer(), existing_type=sa.BigInteger())
