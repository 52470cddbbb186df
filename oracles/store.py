"""What the oracle services keep: captured documents, per-event outcomes, signatures.

One SQL database per service (SQLite file by default, any SQLAlchemy URL). An oracle keeps
every captured document byte for byte, so an auditor can recompute each evidence hash from
it; what became of every event (signed, refused, ignored, duplicate, declared erroneous, or
failed and retryable); and each signature it gave, so the same evidence is never signed
twice. The aggregator keeps the attestations it collects and who signed them. Each call
writes in one transaction: a crash leaves the last capture either whole or absent.

**Schema.** The tables have an Alembic history of their own (``oracles/migrations``, recorded in
``oracle_alembic_version``, so a store may share a database with the index or the API's store):
``open_database`` brings them to the newest revision under the store's schema lock, so oracles
starting together on one database migrate it once (``ledger.index.sql.stores``). A store made by
the ``create_all`` of before is adopted: its missing tables are made and revision 0001 stamped.
A change to these tables is a revision (``tests/oracles/test_store_migrations.py`` compares the two).
SQLite and PostgreSQL (``postgresql://`` URLs get the psycopg 3 driver) both run the service.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.pool import StaticPool

from ledger.index.sql.db import database_url
from ledger.index.sql.stores import Store

metadata = MetaData()

# -- an oracle service -----------------------------------------------------------------

captures = Table(
    "oracle_captures",
    metadata,
    Column("capture_id", String(40), primary_key=True),
    Column("received_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("document_kind", String(32), nullable=False),
    Column("document", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # done | incomplete
    Column("attempts", Integer, nullable=False, default=1),
)

capture_events = Table(
    "oracle_capture_events",
    metadata,
    Column("capture_id", String(40), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("po_ref", Text, primary_key=True),  # "" when the event names no PO
    Column("event_id", Text),
    Column("event_hash", String(120)),
    Column("biz_step", Text),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(48)),
    Column("detail", Text),
    Column("order_id", BigInteger),
    Column("milestone", Integer),
    Column("occurred_at", BigInteger),
    Column("aggregation", String(24)),  # what the aggregator said: collecting, submitted, ...
    Column("tx_hash", String(66)),
)

# Every (evidence, PO) this oracle signed: the same event is vouched for once.
signed = Table(
    "oracle_signed",
    metadata,
    Column("evidence_hash", String(120), primary_key=True),
    Column("po_ref", Text, primary_key=True),
    Column("capture_id", String(40), nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("milestone", Integer, nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("delivered", Boolean, nullable=False, default=False),
)

# -- the aggregator --------------------------------------------------------------------

attestations = Table(
    "aggregator_attestations",
    metadata,
    Column("key", String(66), primary_key=True),  # keccak of the attestation's EIP-712 digest
    Column("order_id", BigInteger, nullable=False),
    Column("milestone", Integer, nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("evidence_hash", String(66), nullable=False, index=True),
    Column("kind", Integer, nullable=False),
    Column("status", String(24), nullable=False, index=True),  # each flush looks for the ready ones
    Column("tx_hash", String(66)),
    Column("error", Text),
    Column("updated_at", BigInteger, nullable=False),  # BIGINT since revision 0002 (INTEGER is 32 bits on PostgreSQL)
)

attestation_signatures = Table(
    "aggregator_signatures",
    metadata,
    Column("key", String(66), primary_key=True),
    Column("oracle", String(42), primary_key=True),
    Column("signature", LargeBinary, nullable=False),
    Column("withdrawn", Boolean, nullable=False, default=False),
)


# Error declarations about evidence already on chain: signatures gathered toward a contest.
declarations = Table(
    "aggregator_declarations",
    metadata,
    Column("key", String(66), primary_key=True),  # keccak of (evidence, reason, declaredAt)
    Column("evidence_hash", String(66), nullable=False, index=True),
    Column("reason_hash", String(66), nullable=False),
    Column("declared_at", BigInteger, nullable=False),  # BIGINT since revision 0002
    Column("kind", Integer, nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),  # collecting | contested | failed
    Column("tx_hash", String(66)),
    Column("error", Text),
)

declaration_signatures = Table(
    "aggregator_declaration_signatures",
    metadata,
    Column("key", String(66), primary_key=True),
    Column("oracle", String(42), primary_key=True),
    Column("signature", LargeBinary, nullable=False),
)


def _baseline() -> MetaData:
    from oracles.migrations import baseline

    return baseline.tables()


STORE = Store(
    name="oracle",
    migrations=Path(__file__).resolve().parent / "migrations",
    version_table="oracle_alembic_version",
    baseline_revision="0001",
    baseline=_baseline,
    target=lambda: metadata,
)


def open_database(url: str) -> Engine:
    """An engine on ``url`` with the store at its newest revision; ``sqlite://`` is one shared in-memory database."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        url = database_url(url)
        engine = create_engine(url, pool_pre_ping=True) if not url.startswith("sqlite") else create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    STORE.upgrade(engine)
    return engine
