"""The oracle services' tables as their baseline revision creates them: the store as ``create_all`` made it.

Frozen: these declarations never change (``oracles.store`` does, with a revision for each change). Revision 0001
creates them on a new database, and ``Store.adopt`` checks a store made before the Alembic history against them.
"""

from __future__ import annotations

import sqlalchemy as sa


def tables() -> sa.MetaData:
    """A new ``MetaData`` holding the baseline's tables."""
    metadata = sa.MetaData()
    sa.Table(
        "aggregator_attestations",
        metadata,
        sa.Column("key", sa.String(66), primary_key=True),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("milestone", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("evidence_hash", sa.String(66), nullable=False, index=True),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("error", sa.Text()),
        sa.Column("updated_at", sa.Integer(), nullable=False),
    )
    sa.Table(
        "aggregator_declaration_signatures",
        metadata,
        sa.Column("key", sa.String(66), primary_key=True),
        sa.Column("oracle", sa.String(42), primary_key=True),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
    )
    sa.Table(
        "aggregator_declarations",
        metadata,
        sa.Column("key", sa.String(66), primary_key=True),
        sa.Column("evidence_hash", sa.String(66), nullable=False, index=True),
        sa.Column("reason_hash", sa.String(66), nullable=False),
        sa.Column("declared_at", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("error", sa.Text()),
    )
    sa.Table(
        "aggregator_signatures",
        metadata,
        sa.Column("key", sa.String(66), primary_key=True),
        sa.Column("oracle", sa.String(42), primary_key=True),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False, default=False),
    )
    sa.Table(
        "oracle_capture_events",
        metadata,
        sa.Column("capture_id", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("po_ref", sa.Text(), primary_key=True),
        sa.Column("event_id", sa.Text()),
        sa.Column("event_hash", sa.String(120)),
        sa.Column("biz_step", sa.Text()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(48)),
        sa.Column("detail", sa.Text()),
        sa.Column("order_id", sa.BigInteger()),
        sa.Column("milestone", sa.Integer()),
        sa.Column("occurred_at", sa.BigInteger()),
        sa.Column("aggregation", sa.String(24)),
        sa.Column("tx_hash", sa.String(66)),
    )
    sa.Table(
        "oracle_captures",
        metadata,
        sa.Column("capture_id", sa.String(40), primary_key=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("document_kind", sa.String(32), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, default=1),
    )
    sa.Table(
        "oracle_signed",
        metadata,
        sa.Column("evidence_hash", sa.String(120), primary_key=True),
        sa.Column("po_ref", sa.Text(), primary_key=True),
        sa.Column("capture_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("milestone", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False, default=False),
    )
    return metadata
