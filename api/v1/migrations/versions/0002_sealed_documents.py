"""Documents sealed by their parties (``api.v1.documents``): the sealed bytes, one wrapped key per party, the
parties' document keys.

The server-wrapped tables (``api_documents``, ``api_document_keys``) stay as they are, read by nobody: their
keys are wrapped under the retired ``SCF_API_DOCUMENT_KEY``, which only an operator holding it could use to
re-seal them to the parties (offline, once the parties registered keys); nothing here can.

A table that exists already is left alone: a store adopted at the baseline may have been made by a
``create_all`` of code that declared these tables (``tests/api/v1/test_store_migrations.py`` makes its old
stores from a migrated one that way).

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


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "api_sealed_documents" not in existing:
        _sealed_documents()
    if "api_document_wraps" not in existing:
        _document_wraps()
    if "api_document_public_keys" not in existing:
        _document_public_keys()


def _sealed_documents() -> None:
    op.create_table(
        "api_sealed_documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("keccak256", sa.String(66), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index(op.f("ix_api_sealed_documents_owner"), "api_sealed_documents", ["owner"])
    op.create_index(op.f("ix_api_sealed_documents_keccak256"), "api_sealed_documents", ["keccak256"])


def _document_wraps() -> None:
    op.create_table(
        "api_document_wraps",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_by", sa.String(42), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index(op.f("ix_api_document_wraps_party"), "api_document_wraps", ["party"])


def _document_public_keys() -> None:
    op.create_table(
        "api_document_public_keys",
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(132)),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in ("api_document_public_keys", "api_document_wraps", "api_sealed_documents"):
        op.drop_table(table)
