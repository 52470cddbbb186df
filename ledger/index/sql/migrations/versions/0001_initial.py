"""The initial schema: the raw event log, the cursor, recent blocks and the projections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledger.index.sql.types import UInt

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("balance", UInt(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "token", "holder", name=op.f("pk_balances")),
    )
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_blocks")),
    )
    op.create_table(
        "claims",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("claimed", UInt(), nullable=False),
        sa.Column("claimed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_chain_id_piece_id"), "claims", ["chain_id", "piece_id"], unique=False)
    op.create_table(
        "credit_limits",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(length=42), nullable=False),
        sa.Column("party", sa.String(length=42), nullable=False),
        sa.Column("limit", UInt(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("model_hash", sa.String(length=66), nullable=False),
        sa.Column("valid_until", UInt(), nullable=False),
        sa.Column("nonce", UInt(), nullable=True),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("submitter", sa.String(length=42), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "bank", "party", name=op.f("pk_credit_limits")),
    )
    op.create_table(
        "cursor",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("from_block", sa.BigInteger(), nullable=False),
        sa.Column(
            "addresses", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_cursor")),
    )
    op.create_table(
        "disputes",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=True),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("answer_by", sa.BigInteger(), nullable=False),
        sa.Column("resolve_by", sa.BigInteger(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("reason_hash", sa.String(length=66), nullable=False),
        sa.Column("response_hash", sa.String(length=66), nullable=False),
        sa.Column("contested_milestone", sa.Integer(), nullable=True),
        sa.Column("contested_evidence_hash", sa.String(length=66), nullable=True),
        sa.Column("contest_reason_hash", sa.String(length=66), nullable=True),
        sa.Column("contest_declared_at", UInt(), nullable=True),
        sa.Column(
            "contest_signers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("resolution", sa.Integer(), nullable=True),
        sa.Column("to_buyer", UInt(), nullable=True),
        sa.Column("to_supplier", UInt(), nullable=True),
        sa.Column("from_pool", UInt(), nullable=True),
        sa.Column("resolved_by", sa.String(length=42), nullable=True),
        sa.Column("opened_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "order_id", name=op.f("pk_disputes")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("topic0", sa.String(length=66), nullable=True),
        sa.Column("topic1", sa.String(length=66), nullable=True),
        sa.Column("topic2", sa.String(length=66), nullable=True),
        sa.Column("topic3", sa.String(length=66), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column(
            "args", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "chain_id",
            "block_hash",
            "tx_hash",
            "log_index",
            name=op.f("uq_events_chain_id_block_hash_tx_hash_log_index"),
        ),
    )
    op.create_index(
        op.f("ix_events_chain_id_block_number_log_index"),
        "events",
        ["chain_id", "block_number", "log_index"],
        unique=False,
    )
    op.create_table(
        "financings",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("bank", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("price", UInt(), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("discount_bps", UInt(), nullable=False),
        sa.Column("time_to_maturity", sa.BigInteger(), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("financed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name=op.f("pk_financings")),
    )
    op.create_index(op.f("ix_financings_chain_id_bank"), "financings", ["chain_id", "bank"], unique=False)
    op.create_index(op.f("ix_financings_chain_id_piece_id"), "financings", ["chain_id", "piece_id"], unique=False)
    op.create_table(
        "guarantees",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("guarantor", sa.String(length=42), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("exposure", UInt(), nullable=False),
        sa.Column("shortfall", UInt(), nullable=False),
        sa.Column("prepaid_total", UInt(), nullable=False),
        sa.Column("claimed_total", UInt(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "guarantor", "supplier", name=op.f("pk_guarantees")),
    )
    op.create_table(
        "milestones",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("milestone", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=24), nullable=False),
        sa.Column("occurred_at", UInt(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=66), nullable=False),
        sa.Column(
            "signers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "order_id", "milestone", name=op.f("pk_milestones")),
    )
    op.create_table(
        "orders",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("ship_by", UInt(), nullable=False),
        sa.Column("deliver_by", UInt(), nullable=False),
        sa.Column("inspection_required", sa.Boolean(), nullable=False),
        sa.Column("terms_hash", sa.String(length=66), nullable=False),
        sa.Column("po_ref_hash", sa.String(length=66), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("submitter", sa.String(length=42), nullable=False),
        sa.Column("open_account", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("funded_at", sa.BigInteger(), nullable=False),
        sa.Column("funded_via_permit", sa.Boolean(), nullable=True),
        sa.Column("shipped_at", UInt(), nullable=False),
        sa.Column("delivered_at", UInt(), nullable=False),
        sa.Column("delivered_recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("inspected_at", UInt(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=False),
        sa.Column("receipt_confirmed", sa.Boolean(), nullable=False),
        sa.Column("refund_reason", sa.Integer(), nullable=True),
        sa.Column("escrowed", UInt(), nullable=False),
        sa.Column("prepaid", UInt(), nullable=False),
        sa.Column("guarantor", sa.String(length=42), nullable=False),
        sa.Column("paid_to_supplier", UInt(), nullable=False),
        sa.Column("refunded_to_buyer", UInt(), nullable=False),
        sa.Column("guarantee_claimed", UInt(), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "order_id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_chain_id_buyer"), "orders", ["chain_id", "buyer"], unique=False)
    op.create_index(op.f("ix_orders_chain_id_supplier"), "orders", ["chain_id", "supplier"], unique=False)
    op.create_table(
        "parties",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("roles", sa.BigInteger(), nullable=False),
        sa.Column("oracle_kind", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kyc_hash", sa.String(length=66), nullable=False),
        sa.Column("admitted_at", sa.BigInteger(), nullable=False),
        sa.Column("admitted_block", sa.BigInteger(), nullable=False),
        sa.Column("suspension_reason_hash", sa.String(length=66), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name=op.f("pk_parties")),
    )
    op.create_table(
        "pools",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("guarantor", sa.String(length=42), nullable=False),
        sa.Column("available", UInt(), nullable=False),
        sa.Column("reserved", UInt(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "guarantor", name=op.f("pk_pools")),
    )
    op.create_table(
        "receivable_pieces",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.BigInteger(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("claimed", UInt(), nullable=False),
        sa.Column("ref", sa.String(length=66), nullable=False),
        sa.Column("first_child_id", sa.BigInteger(), nullable=False),
        sa.Column("child_count", sa.Integer(), nullable=False),
        sa.Column("financed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "piece_id", name=op.f("pk_receivable_pieces")),
    )
    op.create_index(
        op.f("ix_receivable_pieces_chain_id_holder"), "receivable_pieces", ["chain_id", "holder"], unique=False
    )
    op.create_index(
        op.f("ix_receivable_pieces_chain_id_root_id"), "receivable_pieces", ["chain_id", "root_id"], unique=False
    )
    op.create_table(
        "receivable_roots",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("debtor", sa.String(length=42), nullable=False),
        sa.Column("creditor", sa.String(length=42), nullable=False),
        sa.Column("token", sa.String(length=42), nullable=False),
        sa.Column("face_value", UInt(), nullable=False),
        sa.Column("maturity", UInt(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("defaulted_at", sa.BigInteger(), nullable=False),
        sa.Column("invoice_hash", sa.String(length=66), nullable=False),
        sa.Column("invoice_key", sa.String(length=66), nullable=False),
        sa.Column("invoice_number", sa.Text(), nullable=False),
        sa.Column("order_id", UInt(), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("submitter", sa.String(length=42), nullable=False),
        sa.Column("repaid", UInt(), nullable=False),
        sa.Column("claimed", UInt(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "root_id", name=op.f("pk_receivable_roots")),
    )
    op.create_index(
        op.f("ix_receivable_roots_chain_id_creditor"), "receivable_roots", ["chain_id", "creditor"], unique=False
    )
    op.create_index(
        op.f("ix_receivable_roots_chain_id_debtor"), "receivable_roots", ["chain_id", "debtor"], unique=False
    )
    op.create_table(
        "repayments",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("root_id", sa.BigInteger(), nullable=False),
        sa.Column("payer", sa.String(length=42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("repaid", UInt(), nullable=False),
        sa.Column("outstanding", UInt(), nullable=False),
        sa.Column("after_default", sa.Boolean(), nullable=False),
        sa.Column("paid_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index", name=op.f("pk_repayments")),
    )
    op.create_index(op.f("ix_repayments_chain_id_root_id"), "repayments", ["chain_id", "root_id"], unique=False)
    op.create_table(
        "settings",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column(
            "value", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "name", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_index(op.f("ix_repayments_chain_id_root_id"), table_name="repayments")
    op.drop_table("repayments")
    op.drop_index(op.f("ix_receivable_roots_chain_id_debtor"), table_name="receivable_roots")
    op.drop_index(op.f("ix_receivable_roots_chain_id_creditor"), table_name="receivable_roots")
    op.drop_table("receivable_roots")
    op.drop_index(op.f("ix_receivable_pieces_chain_id_root_id"), table_name="receivable_pieces")
    op.drop_index(op.f("ix_receivable_pieces_chain_id_holder"), table_name="receivable_pieces")
    op.drop_table("receivable_pieces")
    op.drop_table("pools")
    op.drop_table("parties")
    op.drop_index(op.f("ix_orders_chain_id_supplier"), table_name="orders")
    op.drop_index(op.f("ix_orders_chain_id_buyer"), table_name="orders")
    op.drop_table("orders")
    op.drop_table("milestones")
    op.drop_table("guarantees")
    op.drop_index(op.f("ix_financings_chain_id_piece_id"), table_name="financings")
    op.drop_index(op.f("ix_financings_chain_id_bank"), table_name="financings")
    op.drop_table("financings")
    op.drop_index(op.f("ix_events_chain_id_block_number_log_index"), table_name="events")
    op.drop_table("events")
    op.drop_table("disputes")
    op.drop_table("cursor")
    op.drop_table("credit_limits")
    op.drop_index(op.f("ix_claims_chain_id_piece_id"), table_name="claims")
    op.drop_table("claims")
    op.drop_table("blocks")
    op.drop_table("balances")
