"""The API store's baseline: every table as ``api_schema_version`` 5 (the last numbered step) left the store.

A database made since then by ``create_all`` and the steps is adopted and stamped here (``api.v1.migrate``);
a new database gets these tables from this revision, then every later revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from api.v1.migrations import baseline

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    baseline.tables().create_all(op.get_bind())


def downgrade() -> None:
    baseline.tables().drop_all(op.get_bind())
