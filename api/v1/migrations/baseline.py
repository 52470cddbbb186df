"""The API store's tables as its baseline revision creates them: the store as ``api_schema_version`` 5 left it.

Frozen: these declarations never change (``api.v1.store`` and the modules that declare tables on its metadata do,
with a revision for each change). Revision 0001 creates them on a new database, and ``Store.adopt`` checks a store
made before the Alembic history against them (``api.v1.migrate``).
"""

from __future__ import annotations

import sqlalchemy as sa

from ledger.index.sql.types import UInt

#: A rowid alias on SQLite (INTEGER PRIMARY KEY), BIGINT elsewhere.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def tables() -> sa.MetaData:
    """A new ``MetaData`` holding the baseline's tables."""
    metadata = sa.MetaData()
    sa.Table(
        "api_audit_runs",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("requested_by", sa.String(42), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger()),
        sa.Column("ok", sa.Integer()),
        sa.Column("report", sa.Text()),
    )
    sa.Table(
        "api_challenges",
        metadata,
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger()),
    )
    sa.Table(
        "api_credit_consents",
        metadata,
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("supplier", sa.String(42), nullable=False, index=True),
        sa.Column("bank", sa.String(42), nullable=False, index=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.UniqueConstraint("chain_id", "supplier", "nonce"),
    )
    sa.Table(
        "api_document_keys",
        metadata,
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
    )
    sa.Table(
        "api_documents",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("keccak256", sa.String(66), nullable=False, index=True),
        sa.Column("sha256", sa.String(66), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    sa.Table(
        "api_event_audience",
        metadata,
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
    )
    sa.Table(
        "api_event_feed",
        metadata,
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("requests_at", sa.BigInteger(), nullable=False),
        sa.Column("offers_at", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.BigInteger(), nullable=False),
        sa.Column("declines_at", sa.BigInteger()),
        sa.Column("withdrawals_at", sa.BigInteger()),
        sa.Column("prepayment_requests_at", sa.BigInteger()),
        sa.Column("prepayment_offers_at", sa.BigInteger()),
    )
    sa.Table(
        "api_events",
        metadata,
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("source", sa.String(200), nullable=False, unique=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    sa.Table(
        "api_financing_declines",
        metadata,
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("bank", sa.String(42), primary_key=True),
        sa.Column("round", sa.BigInteger(), primary_key=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Index("ix_api_financing_declines_created", "created_at"),
    )
    sa.Table(
        "api_financing_requests",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("piece_id", sa.BigInteger(), nullable=False, index=True),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("bank", sa.String(42), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger()),
        sa.Column("withdrawn_at", sa.BigInteger()),
        sa.UniqueConstraint("piece_id", "holder", "bank"),
        sa.Index("ix_api_financing_requests_bank_created", "bank", "created_at", "id"),
        sa.Index("ix_api_financing_requests_created", "created_at"),
        sa.Index("ix_api_financing_requests_holder_created", "holder", "created_at", "id"),
    )
    sa.Table(
        "api_idempotency",
        metadata,
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("content_type", sa.String(128)),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.BigInteger()),
        sa.Column("owner", sa.String(36)),
        sa.Column("lease_until_ms", sa.BigInteger()),
        sa.Column("effect", sa.String(66)),
    )
    sa.Table(
        "api_offers",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("piece_id", sa.BigInteger(), nullable=False, index=True),
        sa.Column("holder", sa.String(42), nullable=False),
        sa.Column("bank", sa.String(42), nullable=False, index=True),
        sa.Column("price", UInt(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("policy_hash", sa.String(66)),
        sa.Column("model_version", sa.String(66)),
        sa.Column("quote", sa.Text()),
        sa.UniqueConstraint("bank", "nonce"),
        sa.Index("ix_api_offers_created", "created_at"),
    )
    sa.Table(
        "api_order_drafts",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("digest", sa.String(66), nullable=False, unique=True),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("supplier", sa.String(42), nullable=False),
        sa.Column("drafter", sa.String(42), nullable=False),
        sa.Column("po_ref_hash", sa.String(66), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", sa.BigInteger()),
        sa.Index("ix_api_order_drafts_buyer", "buyer"),
        sa.Index("ix_api_order_drafts_supplier", "supplier"),
    )
    sa.Table(
        "api_prepayment_offers",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("round", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False, index=True),
        sa.Column("supplier", sa.String(42), nullable=False),
        sa.Column("bank", sa.String(42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("fee", UInt(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("nonce", UInt(), nullable=False),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("policy_hash", sa.String(66)),
        sa.Column("model_version", sa.String(66)),
        sa.Column("quote", sa.Text()),
        sa.UniqueConstraint("bank", "nonce"),
        sa.Index("ix_api_prepayment_offers_bank_deadline", "bank", "deadline"),
        sa.Index("ix_api_prepayment_offers_created", "created_at"),
        sa.Index("ix_api_prepayment_offers_request", "request_id", "created_at"),
    )
    sa.Table(
        "api_prepayment_requests",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.BigInteger(), nullable=False, index=True),
        sa.Column("supplier", sa.String(42), nullable=False),
        sa.Column("bank", sa.String(42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", sa.BigInteger()),
        sa.UniqueConstraint("order_id", "supplier", "bank"),
        sa.Index("ix_api_prepayment_requests_bank_created", "bank", "created_at", "id"),
        sa.Index("ix_api_prepayment_requests_created", "created_at"),
        sa.Index("ix_api_prepayment_requests_supplier_created", "supplier", "created_at", "id"),
    )
    sa.Table(
        "api_rate_limits",
        metadata,
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("tat_ms", sa.BigInteger(), nullable=False, index=True),
    )
    sa.Table(
        "api_request_withdrawals",
        metadata,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(36), nullable=False, index=True),
        sa.Column("round", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", sa.BigInteger(), nullable=False),
        sa.Index("ix_api_request_withdrawals_withdrawn", "withdrawn_at"),
    )
    sa.Table(
        "api_revoked_tokens",
        metadata,
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False, index=True),
    )
    sa.Table(
        "api_submissions",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("party", sa.String(42), nullable=False, index=True),
        sa.Column("tx_hash", sa.String(66), nullable=False, unique=True),
        sa.Column("contract", sa.String(64), nullable=False),
        sa.Column("function", sa.String(64), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary()),
        sa.Column("broadcast_at", sa.BigInteger()),
    )
    sa.Table(
        "api_top_ups",
        metadata,
        sa.Column("tx_hash", sa.String(66), primary_key=True),
        sa.Column("party", sa.String(42), nullable=False),
        sa.Column("relayer", sa.String(42), nullable=False),
        sa.Column("amount", UInt(), nullable=False),
        sa.Column("for_tx", sa.String(66), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Index("ix_api_top_ups_party_day", "party", "day"),
    )
    sa.Table(
        "api_webhook_attempts",
        metadata,
        sa.Column("delivery_id", sa.BigInteger(), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger()),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.String(500)),
        sa.Column("next_attempt_at", sa.BigInteger()),
    )
    sa.Table(
        "api_webhook_deliveries",
        metadata,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger()),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", sa.BigInteger()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("delivered_at", sa.BigInteger()),
        sa.UniqueConstraint("webhook_id", "event_id"),
        sa.Index("ix_api_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_api_webhook_deliveries_webhook", "webhook_id", "id"),
    )
    sa.Table(
        "api_webhooks",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("party", sa.String(42), nullable=False, index=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("secret_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger()),
    )
    return metadata
