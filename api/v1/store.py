"""The API's own tables: sign-in challenges, idempotency records, submissions, offers, documents, audit runs.

They live in their own SQLAlchemy metadata (every table prefixed ``api_``), by default in the
indexer's database: one database to back up, and a submission's "indexed yet?" answer is a
read of the indexer's cursor on the same connection pool. A separate URL
(``SCF_API_DB_URL``) is supported for deployments where the index is a read replica: nothing
here joins the indexer's tables in SQL. The indexer's Alembic history never touches these
tables (its migrations name their own); they are created on start-up with ``create_all``,
which is enough while the schema is young, and must move to migrations of their own before
the first schema change on a live database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ledger.sql.types import UInt

metadata = MetaData()

ADDRESS = String(42)
HASH = String(66)

challenges = Table(
    "api_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("message", Text, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger),
)

idempotency = Table(
    "api_idempotency",
    metadata,
    Column("party", ADDRESS, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # in_progress | done
    Column("status_code", Integer),
    Column("content_type", String(128)),
    Column("body", LargeBinary),
    Column("created_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger),
)

submissions = Table(
    "api_submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("party", ADDRESS, nullable=False, index=True),
    Column("tx_hash", HASH, nullable=False, unique=True),
    Column("contract", String(64), nullable=False),
    Column("function", String(64), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

financing_requests = Table(
    "api_financing_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("piece_id", BigInteger, nullable=False, index=True),
    Column("holder", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("piece_id", "holder", "bank"),
)

offers = Table(
    "api_offers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("piece_id", BigInteger, nullable=False, index=True),
    Column("holder", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False, index=True),
    Column("price", UInt, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("nonce", UInt, nullable=False),
    Column("signature", String(132), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("bank", "nonce"),
)

documents = Table(
    "api_documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", ADDRESS, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("keccak256", HASH, nullable=False, index=True),
    Column("sha256", HASH, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

document_keys = Table(
    "api_document_keys",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("party", ADDRESS, primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
)

audit_runs = Table(
    "api_audit_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("requested_by", ADDRESS, nullable=False),
    Column("state", String(16), nullable=False),  # running | done | failed
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("ok", Integer),
    Column("report", Text),  # the replay report's JSON, or the failure
)


def create(engine: Engine) -> None:
    """Create the API's tables that are missing (never alters or drops)."""
    metadata.create_all(engine)
