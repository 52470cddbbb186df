"""The indexer's tables: the raw event log, its cursor, recent blocks, and the projections.

Every table is keyed by ``chain_id`` first, so one database can hold several chains.
Conventions: addresses are EIP-55 strings of 42 characters, hashes ``0x`` + 64 lowercase hex
digits, times UTC seconds, and every amount (and every integer a party chose, such as a
maturity or a nonce) an exact integer of up to 256 bits (``UInt``: NUMERIC(78, 0) on
PostgreSQL; on SQLite an INTEGER when it fits 64 bits and its decimal text otherwise, in a
column whose affinity keeps both as they are). Block numbers, log positions and block times
are BIGINT.

The projections are what the scorer and the API query: parties (Membership), orders and
their milestones and disputes (TradeEscrow), guarantees and guarantee pools (assured
pre-payment), receivable trees (roots and pieces), financings, repayments and claims
(Receivables), credit limits (CreditRegistry), token balances (SettlementToken) and the
contracts' settings. Stateful rows carry the block that last changed them (``updated_block``);
rows that record one event (milestones, financings, repayments, claims) carry its position.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger.index.sql.types import ZERO_ADDRESS, ZERO_HASH, UInt

__all__ = ["ZERO_ADDRESS", "ZERO_HASH", "Base", "UInt", "metadata"]

Address = String(42)
Hash = String(66)
Json = JSON().with_variant(JSONB(), "postgresql")
# A rowid alias on SQLite (INTEGER PRIMARY KEY), BIGINT elsewhere.
RowId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


#: The partial index of the credit registry's events and its predicate, which a query states as this same literal
#: (``api.v1.reads``): a prepared PostgreSQL statement's generic plan cannot read the index for a bound value.
CREDIT_EVENTS_INDEX = "ix_events_credit_registry_chain_id_topic2_id"
CREDIT_EVENTS_WHERE = "contract = 'CreditRegistry'"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# -- the raw log and the indexer's own state ------------------------------------------------


class Event(Base):
    """Every log of every deployed contract, as the node returned it, with its decoded arguments.

    ``args`` is JSON: addresses EIP-55, bytes ``0x`` hex, integers of ABI types wider than 64
    bits as decimal strings (exact in every JSON reader), narrower ones as numbers.
    """

    __tablename__ = "events"
    # A party's credit history is a range of the last, in id order (migration 0005). It holds the registry's
    # events only (all LimitPublished / LimitRevoked), so the indexer writes it for them, not for every event.
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "tx_hash", "log_index"),
        Index(None, "chain_id", "block_number", "log_index"),
        Index(
            CREDIT_EVENTS_INDEX,
            "chain_id",
            "topic2",
            "id",
            sqlite_where=text(CREDIT_EVENTS_WHERE),
            postgresql_where=text(CREDIT_EVENTS_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hash)
    tx_index: Mapped[int] = mapped_column(Integer)
    log_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(Address)
    contract: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    topic0: Mapped[str | None] = mapped_column(Hash)
    topic1: Mapped[str | None] = mapped_column(Hash)
    topic2: Mapped[str | None] = mapped_column(Hash)
    topic3: Mapped[str | None] = mapped_column(Hash)
    data: Mapped[str] = mapped_column(Text)
    args: Mapped[dict[str, Any]] = mapped_column(Json)


class Cursor(Base):
    """How far a chain is indexed: the last block written (number and hash), the rolling
    ``HistoryDigest`` of every event so far and their count, and what is being indexed."""

    __tablename__ = "cursor"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
    digest: Mapped[str] = mapped_column(Hash)
    event_count: Mapped[int] = mapped_column(BigInteger)
    from_block: Mapped[int] = mapped_column(BigInteger)
    addresses: Mapped[dict[str, str]] = mapped_column(Json)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Block(Base):
    """Recent indexed blocks (the reorg window): hash and parent hash to find a common ancestor,
    and the digest and event count after the block to roll the cursor back to it."""

    __tablename__ = "blocks"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(Hash)
    parent_hash: Mapped[str] = mapped_column(Hash)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(Hash)
    event_count: Mapped[int] = mapped_column(BigInteger)


# -- Membership ------------------------------------------------------------------------------


class Party(Base):
    """A member as ``memberOf`` says: roles (bit flags), oracle kind, ACTIVE or SUSPENDED, KYC hash."""

    __tablename__ = "parties"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    roles: Mapped[int] = mapped_column(BigInteger)
    oracle_kind: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    kyc_hash: Mapped[str] = mapped_column(Hash)
    admitted_at: Mapped[int] = mapped_column(BigInteger)
    admitted_block: Mapped[int] = mapped_column(BigInteger)
    suspension_reason_hash: Mapped[str | None] = mapped_column(Hash)
    updated_block: Mapped[int] = mapped_column(BigInteger)


# -- TradeEscrow -----------------------------------------------------------------------------


class Order(Base):
    """One order as ``orderOf`` says (less the signature deadline, which no event carries)."""

    __tablename__ = "orders"
    # A party's page of orders reads one of these per role, already in order id order (migration 0005).
    __table_args__ = (
        Index(None, "chain_id", "buyer", "order_id"),
        Index(None, "chain_id", "supplier", "order_id"),
        Index(None, "chain_id", "guarantor", "order_id"),
    )

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    buyer: Mapped[str] = mapped_column(Address)
    supplier: Mapped[str] = mapped_column(Address)
    token: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(UInt)
    ship_by: Mapped[int] = mapped_column(UInt)
    deliver_by: Mapped[int] = mapped_column(UInt)
    inspection_required: Mapped[bool] = mapped_column(Boolean)
    terms_hash: Mapped[str] = mapped_column(Hash)
    po_ref_hash: Mapped[str] = mapped_column(Hash)
    nonce: Mapped[int] = mapped_column(UInt)
    submitter: Mapped[str] = mapped_column(Address)
    open_account: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    funded_at: Mapped[int] = mapped_column(BigInteger)
    funded_via_permit: Mapped[bool | None] = mapped_column(Boolean)
    shipped_at: Mapped[int] = mapped_column(UInt)
    delivered_at: Mapped[int] = mapped_column(UInt)
    delivered_recorded_at: Mapped[int] = mapped_column(BigInteger)
    inspected_at: Mapped[int] = mapped_column(UInt)
    closed_at: Mapped[int] = mapped_column(BigInteger)
    receipt_confirmed: Mapped[bool] = mapped_column(Boolean)
    refund_reason: Mapped[int | None] = mapped_column(Integer)
    escrowed: Mapped[int] = mapped_column(UInt)
    prepaid: Mapped[int] = mapped_column(UInt)
    guarantor: Mapped[str] = mapped_column(Address)
    # Of `prepaid`, what the guarantor took as its fee (0 on rows indexed before fees existed).
    prepayment_fee: Mapped[int] = mapped_column(UInt, server_default=text("0"))
    paid_to_supplier: Mapped[int] = mapped_column(UInt)
    refunded_to_buyer: Mapped[int] = mapped_column(UInt)
    guarantee_claimed: Mapped[int] = mapped_column(UInt)
    created_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Milestone(Base):
    """One attested milestone (one per order and milestone, ever): the oracles' evidence and signers."""

    __tablename__ = "milestones"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    milestone: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[int] = mapped_column(UInt)
    recorded_at: Mapped[int] = mapped_column(BigInteger)
    evidence_hash: Mapped[str] = mapped_column(Hash)
    signers: Mapped[list[str]] = mapped_column(Json)
    status_after: Mapped[str] = mapped_column(String(16))
    block_number: Mapped[int] = mapped_column(BigInteger)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(Hash)


class Dispute(Base):
    """An order's dispute as ``disputeOf`` says, with who contested which milestone and how it ended."""

    __tablename__ = "disputes"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    buyer: Mapped[str | None] = mapped_column(Address)
    opened_at: Mapped[int] = mapped_column(BigInteger)
    answer_by: Mapped[int] = mapped_column(BigInteger)
    resolve_by: Mapped[int] = mapped_column(BigInteger)
    answered: Mapped[bool] = mapped_column(Boolean)
    reason_hash: Mapped[str] = mapped_column(Hash)
    response_hash: Mapped[str] = mapped_column(Hash)
    contested_milestone: Mapped[int | None] = mapped_column(Integer)
    contested_evidence_hash: Mapped[str | None] = mapped_column(Hash)
    contest_reason_hash: Mapped[str | None] = mapped_column(Hash)
    contest_declared_at: Mapped[int | None] = mapped_column(UInt)
    contest_signers: Mapped[list[str] | None] = mapped_column(Json)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger)
    resolution: Mapped[int | None] = mapped_column(Integer)
    to_buyer: Mapped[int | None] = mapped_column(UInt)
    to_supplier: Mapped[int | None] = mapped_column(UInt)
    from_pool: Mapped[int | None] = mapped_column(UInt)
    resolved_by: Mapped[str | None] = mapped_column(Address)
    opened_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Guarantee(Base):
    """A guarantor's pre-payment exposure to a supplier and the supplier's shortfall (failures)."""

    __tablename__ = "guarantees"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guarantor: Mapped[str] = mapped_column(Address, primary_key=True)
    supplier: Mapped[str] = mapped_column(Address, primary_key=True)
    exposure: Mapped[int] = mapped_column(UInt)
    shortfall: Mapped[int] = mapped_column(UInt)
    prepaid_total: Mapped[int] = mapped_column(UInt)
    # Of `prepaid_total`, the guarantor's pre-payment fees.
    fees_total: Mapped[int] = mapped_column(UInt, server_default=text("0"))
    claimed_total: Mapped[int] = mapped_column(UInt)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Pool(Base):
    """A guarantor's guarantee pool as ``pool`` says: available and reserved currency."""

    __tablename__ = "pools"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guarantor: Mapped[str] = mapped_column(Address, primary_key=True)
    available: Mapped[int] = mapped_column(UInt)
    reserved: Mapped[int] = mapped_column(UInt)
    updated_block: Mapped[int] = mapped_column(BigInteger)


# -- Receivables -----------------------------------------------------------------------------


class Root(Base):
    """A receivable as ``rootOf`` and ``statusOf`` say, with its issuance nonce. The invoice is
    named by its keyed fingerprint and the parties' salted commitment: its number is not on chain."""

    __tablename__ = "receivable_roots"
    # A party's page of receivables reads its debtor's and creditor's roots in root id order (migration 0005).
    __table_args__ = (Index(None, "chain_id", "debtor", "root_id"), Index(None, "chain_id", "creditor", "root_id"))

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    debtor: Mapped[str] = mapped_column(Address)
    creditor: Mapped[str] = mapped_column(Address)
    token: Mapped[str] = mapped_column(Address)
    face_value: Mapped[int] = mapped_column(UInt)
    maturity: Mapped[int] = mapped_column(UInt)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    defaulted_at: Mapped[int] = mapped_column(BigInteger)
    invoice_hash: Mapped[str] = mapped_column(Hash)
    fingerprint: Mapped[str] = mapped_column(Hash)
    invoice_commitment: Mapped[str] = mapped_column(Hash)
    order_id: Mapped[int] = mapped_column(UInt)
    nonce: Mapped[int] = mapped_column(UInt)
    submitter: Mapped[str] = mapped_column(Address)
    repaid: Mapped[int] = mapped_column(UInt)
    claimed: Mapped[int] = mapped_column(UInt)
    status: Mapped[str] = mapped_column(String(16))
    issued_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Piece(Base):
    """One node of a receivable tree (the root too) as ``pieceOf`` says, and its holder (``ownerOf``)."""

    __tablename__ = "receivable_pieces"
    # A holder's page of pieces is a range of the first, in piece id order; the trees it holds pieces of, from a
    # party's page of receivables' cursor on, a range of the second, in root id order (migration 0005).
    __table_args__ = (
        Index(None, "chain_id", "holder", "piece_id"),
        Index(None, "chain_id", "holder", "root_id"),
        Index(None, "chain_id", "root_id"),
    )

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    piece_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_id: Mapped[int] = mapped_column(BigInteger)
    parent_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(UInt)
    claimed: Mapped[int] = mapped_column(UInt)
    ref: Mapped[str] = mapped_column(Hash)
    first_child_id: Mapped[int] = mapped_column(BigInteger)
    child_count: Mapped[int] = mapped_column(Integer)
    financed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(Address)
    created_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Financing(Base):
    """A bank bought a piece: price, face amount, discount and time to maturity."""

    __tablename__ = "financings"
    # Bank and seller each: the trees a party bought or sold a piece of, in root id order (migration 0005).
    __table_args__ = (
        Index(None, "chain_id", "piece_id"),
        Index(None, "chain_id", "bank", "root_id"),
        Index(None, "chain_id", "seller", "root_id"),
    )

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(Hash)
    piece_id: Mapped[int] = mapped_column(BigInteger)
    root_id: Mapped[int] = mapped_column(BigInteger)
    bank: Mapped[str] = mapped_column(Address)
    seller: Mapped[str] = mapped_column(Address)
    price: Mapped[int] = mapped_column(UInt)
    amount: Mapped[int] = mapped_column(UInt)
    discount_bps: Mapped[int] = mapped_column(UInt)
    time_to_maturity: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(UInt)
    financed_at: Mapped[int] = mapped_column(BigInteger)


class Repayment(Base):
    """A payment on a root: by whom, how much, the totals after it, and whether after a default."""

    __tablename__ = "repayments"
    __table_args__ = (Index(None, "chain_id", "root_id"),)

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(Hash)
    root_id: Mapped[int] = mapped_column(BigInteger)
    payer: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(UInt)
    repaid: Mapped[int] = mapped_column(UInt)
    outstanding: Mapped[int] = mapped_column(UInt)
    after_default: Mapped[bool] = mapped_column(Boolean)
    paid_at: Mapped[int] = mapped_column(BigInteger)


class Claim(Base):
    """A leaf holder took its share of what was repaid."""

    __tablename__ = "claims"
    __table_args__ = (Index(None, "chain_id", "piece_id"),)

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(Hash)
    piece_id: Mapped[int] = mapped_column(BigInteger)
    root_id: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(Address)
    amount: Mapped[int] = mapped_column(UInt)
    claimed: Mapped[int] = mapped_column(UInt)
    claimed_at: Mapped[int] = mapped_column(BigInteger)


# -- CreditRegistry, SettlementToken, settings -------------------------------------------------


class CreditLimit(Base):
    """The record ``recordOf(bank, party)`` holds (zeros once revoked, with ``revoked`` set)."""

    __tablename__ = "credit_limits"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(Address, primary_key=True)
    party: Mapped[str] = mapped_column(Address, primary_key=True)
    limit: Mapped[int] = mapped_column(UInt)
    score: Mapped[int] = mapped_column(Integer)
    grade: Mapped[int] = mapped_column(Integer)
    model_hash: Mapped[str] = mapped_column(Hash)
    valid_until: Mapped[int] = mapped_column(UInt)
    nonce: Mapped[int | None] = mapped_column(UInt)
    published_at: Mapped[int] = mapped_column(BigInteger)
    submitter: Mapped[str | None] = mapped_column(Address)
    revoked: Mapped[bool] = mapped_column(Boolean)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Balance(Base):
    """A token balance from the token's Transfer events (the zero address, mints and burns, left out)."""

    __tablename__ = "balances"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(Address, primary_key=True)
    holder: Mapped[str] = mapped_column(Address, primary_key=True)
    balance: Mapped[int] = mapped_column(UInt)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class Setting(Base):
    """A contract setting as its last event said: thresholds, windows, allowed tokens, grace period."""

    __tablename__ = "settings"

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    updated_block: Mapped[int] = mapped_column(BigInteger)


# -- refused calls ----------------------------------------------------------------------------------


class RefusedCall(Base):
    """A transaction to a ledger contract that was mined and reverted (it left no log): who tried
    what, and the contract's custom error. ``args`` and ``error_args`` are JSON in the encoding of
    ``events.args`` (structs as objects by component name); ``error`` is NULL when the revert data
    names no known error (or the node gives none), ``args`` NULL when the calldata does not decode."""

    __tablename__ = "refused_calls"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "tx_hash"),
        Index(None, "chain_id", "sender"),
    )

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(Hash, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(Hash)
    tx_index: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(Address)
    contract: Mapped[str] = mapped_column(String(64))
    function: Mapped[str] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(80))
    error_args: Mapped[dict[str, Any] | None] = mapped_column(Json)
    args: Mapped[dict[str, Any] | None] = mapped_column(Json)


metadata = Base.metadata


def table_of(model: type[Base]) -> Table:
    """The Core table of ``model`` (typed as a Table, for inserts and deletes in bulk)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


EVENTS = table_of(Event)
CURSOR = table_of(Cursor)
BLOCKS = table_of(Block)
REFUSED_CALLS = table_of(RefusedCall)
