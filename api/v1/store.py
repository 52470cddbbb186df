"""The API's own tables: sign-in challenges, idempotency records, submissions, financing requests, offers,
pre-payment requests and their offers, the withdrawals of both, credit consents, documents, audit runs, revoked
tokens, rate-limit buckets, and the event feed with its webhooks (their deliveries and every attempt at one).

They live in their own SQLAlchemy metadata (every table prefixed ``api_``), by default in the
indexer's database: one database to back up, and a submission's "indexed yet?" answer is a
read of the indexer's cursor on the same connection pool. A separate URL
(``SCF_API_DB_URL``) is supported for deployments where the index is a read replica: nothing
here joins the indexer's tables in SQL. The indexer's Alembic history never touches these
tables (its migrations name their own). These tables have an Alembic history of their own
(``api.v1.migrate``, ``api/v1/migrations``, recorded in ``api_alembic_version``), run at start-up:
a new table, column or index declared here (or on this metadata elsewhere) needs its revision
there, and a test compares the two. The comments "added by api.v1.migrate step N" name the
numbered steps of the mechanism before Alembic; the baseline revision is the schema they reached. One
write lives here too, because both request books make it and the
event feed reads what it keeps: ``withdraw``, which withdraws a financing or pre-payment request and
records the withdrawal in ``api_request_withdrawals``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)

from ledger.index.sql.types import UInt

metadata = MetaData()
#: A rowid alias on SQLite (INTEGER PRIMARY KEY), BIGINT elsewhere: an autoincrementing key that never runs out.
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

ADDRESS = String(42)
HASH = String(66)
#: A party's stored signature: a key's 65 bytes, or a contract wallet's ERC-1271 one (up to 2048 bytes), as 0x hex.
#: SQLite keeps the length it was first declared with (132): it never enforces one, and widening it would rebuild
#: every such table for nothing (revision 0004 widens PostgreSQL's).
SIGNATURE = String(2 + 2 * 2048).with_variant(String(132), "sqlite")

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
    # Added by api.v1.migrate step 1: who holds an in-progress record and until when (ms), and what
    # the request is creating (a document id), written before it is created so a retry finds it.
    Column("owner", String(36)),
    Column("lease_until_ms", BigInteger),
    Column("effect", String(66)),
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
    # Added by api.v1.migrate step 1: the signed bytes, recorded before any top-up, and when the node
    # took them (NULL: not broadcast yet; a retry re-runs it). A self-broadcast (txHash) has no raw.
    Column("raw", LargeBinary),
    Column("broadcast_at", BigInteger),
)

#: Every native top-up the relayer sends (``api.v1.relayer``): recorded, signed, before it is broadcast,
#: so a killed process's top-up is found again (mined, pending or dropped) and the caps count it.
top_ups = Table(
    "api_top_ups",
    metadata,
    Column("tx_hash", HASH, primary_key=True),
    Column("party", ADDRESS, nullable=False),
    Column("relayer", ADDRESS, nullable=False),
    Column("amount", UInt, nullable=False),
    Column("for_tx", HASH, nullable=False),  # the party's transaction it pays for
    Column("state", String(16), nullable=False),  # sent | mined | dropped
    Column("day", BigInteger, nullable=False),  # UTC day number: the daily cap's window
    Column("created_at", BigInteger, nullable=False),
    Index("ix_api_top_ups_party_day", "party", "day"),
)


def inbox_indexes(table: str, asker: str) -> tuple[Index, ...]:
    """A requests table's indexes (``api.v1.request_book``): the inbox's pages, a bank's and its asker's (``holder``,
    ``supplier``), by age; and the event feed's scan of recent requests (``api.v1.events``)."""
    return (
        Index(f"ix_{table}_bank_created", "bank", "created_at", "id"),
        Index(f"ix_{table}_{asker}_created", asker, "created_at", "id"),
        Index(f"ix_{table}_created", "created_at"),
    )


def signed_offer_columns() -> tuple[Column[object] | UniqueConstraint, ...]:
    """A signed offer's tail, the same in ``api_offers`` and ``api_prepayment_offers``: its deadline, the bank's nonce
    (unique per bank) and signature, when it was posted, and how the bank priced it (all NULL: no pricing recorded;
    the quote is the desk's JSON, ``scoring.pricing.Quote.to_json()``), so an auditor can recompute the price."""
    return (
        Column("deadline", BigInteger, nullable=False),
        Column("nonce", UInt, nullable=False),
        Column("signature", SIGNATURE, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("policy_hash", HASH),
        Column("model_version", HASH),
        Column("quote", Text),
        UniqueConstraint("bank", "nonce"),
    )


#: ``bank`` of a request addressed to every active bank (``api.v1.financing``): the zero address, which no
#: member can hold, so ``bank`` stays NOT NULL, the unique key below still holds one such request per piece
#: and holder, and a bank's inbox is one indexed ``bank IN (:bank, EVERY_BANK)``.
EVERY_BANK = "0x" + "00" * 20

#: A holder's request that a bank (or every bank) finance a piece (``api.v1.financing`` derives its state).
#: Asking again for the same piece and bank reopens the row once it was withdrawn or expired (the unique key).
financing_requests = Table(
    "api_financing_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("piece_id", BigInteger, nullable=False, index=True),
    Column("holder", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False, index=True),  # EVERY_BANK: addressed to every active bank
    Column("created_at", BigInteger, nullable=False),
    # Added by api.v1.migrate step 2: when the request lapses (NULL: a row from before step 2, open for as
    # long as its piece can be sold) and when the holder withdrew it. UTC seconds, by the chain's clock.
    Column("expires_at", BigInteger),
    Column("withdrawn_at", BigInteger),
    UniqueConstraint("piece_id", "holder", "bank"),
    # On older databases step 2 creates the inbox's indexes, step 3 the event feed's.
    *inbox_indexes("api_financing_requests", "holder"),
)

offers = Table(
    "api_offers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("piece_id", BigInteger, nullable=False, index=True),
    Column("holder", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False, index=True),
    Column("price", UInt, nullable=False),
    # Its pricing columns were added by api.v1.migrate step 2.
    *signed_offer_columns(),
    # The event feed's scan of recent offers (``api.v1.events``; step 3 creates it on older databases).
    Index("ix_api_offers_created", "created_at"),
)

#: A supplier's request that a bank (or every bank: ``EVERY_BANK``) back a pre-payment of ``amount`` on its funded
#: order (``api.v1.prepayments`` derives its state). Asking again for the same order and bank reopens the row.
prepayment_requests = Table(
    "api_prepayment_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", BigInteger, nullable=False, index=True),
    Column("supplier", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False),  # EVERY_BANK: addressed to every active bank
    Column("amount", UInt, nullable=False),  # token units asked for (of the order's amount)
    Column("created_at", BigInteger, nullable=False),  # the ask's round: moved when it is reopened
    Column("expires_at", BigInteger, nullable=False),
    Column("withdrawn_at", BigInteger),
    UniqueConstraint("order_id", "supplier", "bank"),
    # On older databases step 4 creates the inbox's indexes, step 5 the event feed's.
    *inbox_indexes("api_prepayment_requests", "supplier"),
)

#: A bank's signed ``PrepaymentOffer`` on a pre-payment request: the request's order and amount, the bank's fee.
prepayment_offers = Table(
    "api_prepayment_offers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("round", BigInteger, nullable=False),  # the request's created_at when the offer was made
    Column("order_id", BigInteger, nullable=False, index=True),
    Column("supplier", ADDRESS, nullable=False),
    Column("bank", ADDRESS, nullable=False),
    Column("amount", UInt, nullable=False),
    Column("fee", UInt, nullable=False),
    *signed_offer_columns(),
    # A request's offers (step 4), and a bank's open offers (the pool's ``offered``).
    Index("ix_api_prepayment_offers_request", "request_id", "created_at"),
    Index("ix_api_prepayment_offers_bank_deadline", "bank", "deadline"),
    # The event feed's scan of recent offers (``api.v1.events``; step 5 creates it on older databases).
    Index("ix_api_prepayment_offers_created", "created_at"),
)

#: Every withdrawal of an ask, of a financing request or a pre-payment request (the request's id says which: the
#: two tables never share an id), written in the transaction that sets the request's ``withdrawn_at``. The request
#: row forgets it when asking again reopens it (``withdrawn_at`` back to NULL); this row keeps it, so the event feed
#: journals every withdrawal, however soon the request was asked again (``api.v1.events``). No unique key on the
#: request and its round: a financing request reopened within the second it was withdrawn keeps its round.
request_withdrawals = Table(
    "api_request_withdrawals",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),  # the journal's source: withdrawal:ID
    Column("request_id", String(36), nullable=False, index=True),
    Column("round", BigInteger, nullable=False),  # the request's created_at then: the ask withdrawn
    Column("withdrawn_at", BigInteger, nullable=False),  # the request's withdrawn_at (FinancingBook.now)
    # The event feed's scan of recent withdrawals.
    Index("ix_api_request_withdrawals_withdrawn", "withdrawn_at"),
)


def withdraw(connection: Connection, table: Table, request_id: str, at: int) -> bool:
    """In the caller's transaction: mark the request ``request_id`` of ``table`` (``financing_requests`` or
    ``prepayment_requests``) withdrawn at ``at`` unless it is already, and keep the withdrawal of its current ask in
    ``request_withdrawals``; False when it was withdrawn already. The update holds the row (PostgreSQL's row lock,
    SQLite's write lock) until commit, so the round read after it is the ask withdrawn, not a later one."""
    done = connection.execute(
        update(table).where(table.c.id == request_id, table.c.withdrawn_at.is_(None)).values(withdrawn_at=at)
    )
    if done.rowcount != 1:
        return False
    asked = connection.execute(select(table.c.created_at).where(table.c.id == request_id)).scalar_one()
    connection.execute(insert(request_withdrawals).values(request_id=request_id, round=asked, withdrawn_at=at))
    return True


#: A supplier's signed consent that one bank may read its credit report (``api.v1.consents``).
#: Revoking sets ``revoked_at`` and keeps the row, so its (signed) nonce can never be posted again.
credit_consents = Table(
    "api_credit_consents",
    metadata,
    Column("seq", ROW_ID, primary_key=True, autoincrement=True),  # the pages' cursor (64 bits: revision 0003)
    Column("id", String(36), nullable=False, unique=True),
    Column("chain_id", Integer, nullable=False),
    Column("supplier", ADDRESS, nullable=False, index=True),
    Column("bank", ADDRESS, nullable=False, index=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("nonce", UInt, nullable=False),
    Column("signature", SIGNATURE, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    UniqueConstraint("chain_id", "supplier", "nonce"),
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

#: Access tokens ended before their expiry (``POST /v1/auth/logout``), kept until they would have expired.
revoked_tokens = Table(
    "api_revoked_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),  # the token's random 16-byte id, hex
    Column("expires_at", BigInteger, nullable=False, index=True),
)

#: Rate-limit buckets (``api.v1.ratelimit``): one theoretical arrival time per key, in milliseconds.
rate_limits = Table(
    "api_rate_limits",
    metadata,
    Column("key", String(128), primary_key=True),  # scope:value, e.g. challenge-ip:203.0.113.7
    Column("tat_ms", BigInteger, nullable=False, index=True),
)


# -- the event feed and webhooks (``api.v1.events``, ``api.v1.webhooks``) ----------------------------------

#: The feed's one row: how far it has read each source, and ``version``, which every append moves under a
#: compare-and-set (the row lock that makes appends one at a time, so ``seq`` commits in order).
event_feed = Table(
    "api_event_feed",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("block_number", BigInteger, nullable=False),  # the index's events read up to (block, log), -1: none
    Column("log_index", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),  # of that block, to see a reorg that rolled the index back past it
    Column("requests_at", BigInteger, nullable=False),  # the newest created_at of a request journaled
    Column("offers_at", BigInteger, nullable=False),  # the newest created_at of an offer journaled
    Column("synced_at", BigInteger, nullable=False),
    # Added by api.v1.migrate step 5, the same for the sources journaled since: declines (created_at),
    # withdrawals (withdrawn_at), pre-payment requests and offers (created_at). NULL on a row from before step 5:
    # the feed reads those sources from its last sync then (``synced_at``), when their types began.
    Column("declines_at", BigInteger),
    Column("withdrawals_at", BigInteger),
    Column("prepayment_requests_at", BigInteger),
    Column("prepayment_offers_at", BigInteger),
)

#: The journal: one row per event, ``seq`` its cursor (assigned max + 1 under the feed's lock), ``source`` the
#: fact it records (``request:ID:CREATED_AT``, ``offer:ID``, ``decline:REQUEST:BANK:ROUND``, ``withdrawal:ID``,
#: ``prepayment_request:ID:CREATED_AT``, ``prepayment_offer:ID``, ``chain:CHAIN:TX:LOG``), so a fact is journaled once.
events = Table(
    "api_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("source", String(200), nullable=False, unique=True),
    Column("type", String(40), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("data", Text, nullable=False),  # the event's data as JSON (uint256 as decimal strings)
)

#: Who may see each event: an address per row (``EVERY_BANK``: every bank, as in the inbox).
event_audience = Table(
    "api_event_audience",
    metadata,
    Column("party", ADDRESS, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
)

#: A party's webhook. The signing secret is sealed (AES-256-GCM under the document key, the webhook's id as
#: associated data): it must be readable to sign, and a copy of the database alone does not give it away.
webhooks = Table(
    "api_webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("party", ADDRESS, nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("types", Text, nullable=False),  # JSON list of event types, or ["*"]
    Column("description", String(200)),
    Column("secret_nonce", LargeBinary, nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("cursor", BigInteger, nullable=False),  # the feed's seq up to which its deliveries are queued
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger),
)

#: One event to one webhook: queued once (the unique key), then tried until answered 2xx or out of attempts.
webhook_deliveries = Table(
    "api_webhook_deliveries",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("webhook_id", String(36), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),  # attempts started
    Column("next_attempt_at", BigInteger),  # NULL once delivered or failed
    Column("lease_owner", String(36)),  # the dispatcher sending it now, until lease_until
    Column("lease_until", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger),
    UniqueConstraint("webhook_id", "event_id"),
    Index("ix_api_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_api_webhook_deliveries_webhook", "webhook_id", "id"),
)

#: The delivery log: every attempt, written when it starts (so one a killed process left shows as interrupted).
webhook_attempts = Table(
    "api_webhook_attempts",
    metadata,
    Column("delivery_id", BigInteger, primary_key=True),
    Column("attempt", Integer, primary_key=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("next_attempt_at", BigInteger),
)
