"""The oracle services' baseline: every table of an oracle service and of the aggregator, as ``create_all`` made
them before this history. A database made then is adopted and stamped here (``oracles.store``).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from oracles.migrations import baseline

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    baseline.tables().create_all(op.get_bind())


def downgrade() -> None:
    baseline.tables().drop_all(op.get_bind())
