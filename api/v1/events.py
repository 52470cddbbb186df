"""The event feed: one typed, ordered stream of what concerns a party, read by Server-Sent Events or by pages
(``GET /v1/events``) and pushed to webhooks (``api.v1.webhooks``).

**What is in it**, each read from what the API already holds (the uint256 fields as decimal strings):

=================================  ============================================  ==================================
type                               from                                          seen by
=================================  ============================================  ==================================
``financing_request.created``      ``api_financing_requests`` (asked; asked      the holder; the bank asked, or
                                   again once withdrawn, expired or declined     every bank
                                   makes a new ask, a new one)
``financing_request.declined``     ``api_financing_declines`` of a financing     the holder and the declining bank
                                   request
``financing_request.withdrawn``    ``api_request_withdrawals`` of a financing    the holder; the bank asked, or
                                   request                                       every bank
``offer.created``                  ``api_offers``                                the holder and the offering bank
``piece.financed``                 the index's ``events``: PieceFinanced         the buying bank, the seller, and
                                                                                 every bank that offered on it
``receivable.repaid``              ReceivableRepaid                              the root's debtor, creditor and
``receivable.defaulted``           ReceivableDefaulted                           payer, every holder of a piece
                                                                                 of it, every bank that financed
                                                                                 or offered on one
``limit.published``               CreditRegistry's LimitPublished               the bank and the party
``limit.revoked``                  LimitRevoked                                  the bank and the party
``prepayment_request.created``     ``api_prepayment_requests`` (as financing     the supplier; the bank asked, or
                                   requests)                                     every bank
``prepayment_request.declined``    ``api_financing_declines`` of a pre-payment   the supplier and the declining bank
                                   request
``prepayment_request.withdrawn``   ``api_request_withdrawals`` of a pre-payment  the supplier; the bank asked, or
                                   request                                       every bank
``prepayment_offer.created``       ``api_prepayment_offers``                     the supplier and the offering bank
``prepayment.released``            TradeEscrow's PrepaymentReleased              the supplier, the order's buyer and
                                                                                 the guarantor
``guarantee.claimed``              TradeEscrow's GuaranteeClaimed                the guarantor and the supplier
=================================  ============================================  ==================================

Auditors see every event. Everyone else sees the events whose audience holds an address of
``FinancingBook.addressees`` (the inbox's rule): its own, and for a bank ``EVERY_BANK``, so a
request to every bank (and its withdrawal) reaches every bank as its inbox shows it, and a bank never
sees another bank's offer or decline. An event's audience is fixed when it is journaled (the holders
of a root's pieces then); the roles that read it are the reader's now.

The data by type: a request ``{requestId, pieceId, holder, bank (null: every bank), createdAt,
expiresAt}``; a decline ``{requestId, pieceId, holder, bank (the declining one), round, reasons
[{code, text}], declinedAt}``; a withdrawal ``{requestId, pieceId, holder, bank (null: every bank),
round, withdrawnAt}``; an offer ``{offerId, pieceId, holder, bank, price, deadline, nonce}``; a financing
``{pieceId, rootId, bank, seller, price, amount, discountBps, timeToMaturity, nonce}``; a repayment
``{rootId, payer, amount, repaid, outstanding, afterDefault}``; a default ``{rootId, debtor,
outstanding, by}``; a limit ``{bank, party, limit, score, grade, modelHash, validUntil, nonce}`` or,
revoked, ``{bank, party}``. A pre-payment request ``{requestId, orderId, supplier, bank (null: every
bank), amount, createdAt, expiresAt}``, its decline and its withdrawal as a financing request's with
``orderId`` and ``supplier`` for ``pieceId`` and ``holder``; a pre-payment offer ``{offerId, requestId,
orderId, supplier, bank, amount, fee, deadline, nonce, round}``; a draw ``{orderId, supplier,
guarantor, amount, fee, limitLeft, nonce}``; a claim on the guarantee ``{orderId, guarantor, supplier,
amount}``. ``round`` is the ask a decline, withdrawal or offer answers: the request's ``createdAt`` then
(the ``createdAt`` of its ``*.created`` event). A fact on chain also carries ``blockNumber``,
``txHash`` and ``logIndex``.

How each source row or indexed log becomes an event (its data and audience) is ``api.v1.event_facts``.

**The journal** (``api_events`` in the store, with ``api_event_audience``). The sources live in two
databases that may be apart (the store and the index, ``SCF_API_DB_URL``) and stamp their rows with
clocks that do not order commits (a request's ``created_at`` is taken before its row commits), so no
query over them can be a cursor that never skips a row. ``Feed.sync`` copies each new fact into the
journal once (its ``source`` is unique) and gives it the next ``seq``; every append first moves the
feed row's ``version`` by compare-and-set, which holds that row (PostgreSQL's row lock, SQLite's write
lock) until it commits: appends are one at a time, so seqs commit in order and a reader that has seen
seq N has seen every event before N. That seq is the cursor: the SSE ``id:``, ``?after=``,
``Last-Event-ID``. It is a position in the whole feed, so the gaps between a party's cursors tell it
how many events others had in between (counts, never contents).

How each source is read without missing a row: the index's events by ``(block, log index)`` up to
the indexer's cursor block (the indexer commits a block's events with its cursor; a rollback past
the feed's mark, seen by its block hash, rescans the indexer's reorg window, and ``source`` drops what
was journaled before). The store's tables (``STORE_SOURCES``) by the time they stamp a row with
(``created_at``; a withdrawal's ``withdrawn_at``), looking ``LOOKBACK`` seconds behind the newest one
journaled, with what is journaled already left out in SQL: a row that commits late is still found.
What one sync finds is journaled requests first, then offers, declines, withdrawals, then facts on
chain (an offer or a decline answers a request, a withdrawal ends it, a financing or a draw takes an
offer), each source in its own order: the sources' clocks differ, so their times cannot order them
(``occurredAt`` is each fact's own time; ``round`` ties an answer to its ask). A reorg deeper than the
indexer's confirmations leaves its facts in the feed: run the indexer with the confirmations your
chain needs.

A withdrawal is a fact of its own, not the request's ``withdrawn_at``, which asking again clears:
``api.v1.store.withdraw`` keeps each in ``api_request_withdrawals``, in the transaction that withdraws,
so a request withdrawn and asked again between two syncs still has its withdrawal journaled. A decline
row is never changed, and names its request: the table that holds that id (financing or pre-payment
requests, which never share one) gives its type, so each decline is journaled once, with one type.
The types added by ``api.v1.migrate`` step 5 (declines, withdrawals, pre-payments, and the two escrow
facts) begin when a feed that knows them first syncs: an older feed row's marks for their tables start
at its last sync (``Feed.mark``), and its mark on chain is already past older escrow logs.

**Who fills it.** ``scf serve`` runs the webhook dispatcher, which syncs every poll; every read
(``Feed.refresh``) also syncs when the last sync of its process is older than ``poll`` seconds, so a
process that serves streams keeps the journal fresh by itself, and all its streams share that one
sync and one read of the head per ``poll``: a stream queries for its party only when the head moved.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from api.errors import InvalidField
from api.v1 import store
from api.v1.auth import Party
from api.v1.declines import declines
from api.v1.event_facts import (
    CHAIN_EVENTS,
    Fact,
    chain_data,
    decline_fact,
    offer_fact,
    prepayment_offer_fact,
    prepayment_request_fact,
    request_fact,
    withdrawal_fact,
)
from api.v1.event_schemas import EVENT_TYPES, EventOut, EventType
from api.v1.financing import FinancingBook
from ledger.index.sql.models import Block, Cursor, Event, Financing, Order, Piece, Root

FEED = "feed"
#: Seconds a store row may take to commit after the time it was stamped with and still be journaled.
LOOKBACK = 300
#: Blocks rescanned when the index rolled back past the feed's mark: the indexer's reorg window.
REORG_WINDOW = 64
#: Rows read from each source per sync, and events per page of a stream.
BATCH = 500
PAGE = 200
MAX_CURSOR = 2**63 - 1
LAST_LOG = 2**31 - 1
ROOT_EVENTS = frozenset({"receivable.repaid", "receivable.defaulted"})


@dataclass(frozen=True)
class StreamOptions:
    """How ``GET /v1/events`` streams: seconds between looks at the journal (one sync and one read of the head
    per process, shared by every stream), seconds of silence before a heartbeat comment, and the reconnection
    delay it advises (``retry:``, milliseconds)."""

    poll: float = 1.0
    heartbeat: float = 15.0
    retry_ms: int = 3000


@dataclass(frozen=True)
class Mark:
    """How far the feed has read each source (the ``api_event_feed`` row): the index's events up to ``(block, log)``,
    and each store source up to the newest stamp journaled, by its column (``StoreSource.mark``)."""

    version: int
    block: int
    log: int
    block_hash: str
    at: dict[str, int]


def event_id(source: str) -> str:
    """The event's stable id: a digest of the fact it records, so every deployment names a fact alike."""
    return "evt_" + hashlib.sha256(source.encode()).hexdigest()[:32]


def event_out(row: Any) -> EventOut:
    return EventOut(
        id=row.id, cursor=int(row.seq), type=row.type, occurredAt=int(row.occurred_at), data=json.loads(row.data)
    )


def wire(event: EventOut) -> bytes:
    """An event as it goes out (an SSE ``data:`` line, a webhook body): compact JSON, one line."""
    return json.dumps(event.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False).encode()


def sse_frame(event: EventOut) -> bytes:
    """One Server-Sent Event: ``id:`` the cursor, ``event:`` the type, ``data:`` the event's JSON."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.cursor, event.type.encode(), wire(event))


def parse_types(text: str | None, field: str = "types") -> frozenset[str] | None:
    """``a,b,c`` as a set of event types (None: every type); 422 naming ``field`` for one that is not a type."""
    if text is None or not text.strip():
        return None
    found = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(found - set(EVENT_TYPES))
    if unknown:
        raise InvalidField(
            field, f"{unknown[0]!r} is not an event type; known: {', '.join(EVENT_TYPES)}", location="query"
        )
    return frozenset(found)


@dataclass(frozen=True)
class StoreSource:
    """A table of the store journaled by the time its rows are stamped with (see the module's notes): ``query``
    selects what ``fact`` reads, ``stamp`` and then ``order`` order it, ``source`` is a row's journal source in SQL
    (as ``fact`` names it, so what is journaled is left out in SQL), ``mark`` the feed row's column of the newest
    stamp journaled."""

    mark: str
    query: Select[Any]
    stamp: ColumnElement[Any]
    order: tuple[ColumnElement[Any], ...]
    source: ColumnElement[Any]
    fact: Callable[[Any], Fact]


def _text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(column, String)


def _store_sources() -> tuple[StoreSource, ...]:
    """The store's sources, in the order one sync journals what it finds: requests, then offers (an offer answers a
    request), then declines (a decline answers one too), then withdrawals (which end a request's ask)."""
    requests, offers = store.financing_requests, store.offers
    pre_requests, pre_offers = store.prepayment_requests, store.prepayment_offers
    withdrawals = store.request_withdrawals
    # A decline or a withdrawal names a request of one table or the other (their ids are never shared).
    asked = (requests.c.piece_id, requests.c.holder, pre_requests.c.order_id, pre_requests.c.supplier)
    either = or_(requests.c.id.is_not(None), pre_requests.c.id.is_not(None))
    return (
        StoreSource(
            "requests_at",
            select(requests),
            requests.c.created_at,
            (requests.c.id,),
            literal("request:") + requests.c.id + literal(":") + _text(requests.c.created_at),
            request_fact,
        ),
        StoreSource(
            "prepayment_requests_at",
            select(pre_requests),
            pre_requests.c.created_at,
            (pre_requests.c.id,),
            literal("prepayment_request:") + pre_requests.c.id + literal(":") + _text(pre_requests.c.created_at),
            prepayment_request_fact,
        ),
        StoreSource(
            "offers_at",
            select(offers),
            offers.c.created_at,
            (offers.c.id,),
            literal("offer:") + offers.c.id,
            offer_fact,
        ),
        StoreSource(
            "prepayment_offers_at",
            select(pre_offers),
            pre_offers.c.created_at,
            (pre_offers.c.id,),
            literal("prepayment_offer:") + pre_offers.c.id,
            prepayment_offer_fact,
        ),
        StoreSource(
            "declines_at",
            select(declines, *asked)
            .outerjoin(requests, requests.c.id == declines.c.request_id)
            .outerjoin(pre_requests, pre_requests.c.id == declines.c.request_id)
            .where(either),
            declines.c.created_at,
            (declines.c.request_id, declines.c.bank, declines.c.round),
            literal("decline:")
            + declines.c.request_id
            + literal(":")
            + declines.c.bank
            + literal(":")
            + _text(declines.c.round),
            decline_fact,
        ),
        StoreSource(
            "withdrawals_at",
            select(
                withdrawals,
                *asked,
                requests.c.bank.label("financing_bank"),
                pre_requests.c.bank.label("prepayment_bank"),
            )
            .outerjoin(requests, requests.c.id == withdrawals.c.request_id)
            .outerjoin(pre_requests, pre_requests.c.id == withdrawals.c.request_id)
            .where(either),
            withdrawals.c.withdrawn_at,
            (withdrawals.c.id,),
            literal("withdrawal:") + _text(withdrawals.c.id),
            withdrawal_fact,
        ),
    )


STORE_SOURCES = _store_sources()
MARKS = tuple(source.mark for source in STORE_SOURCES)


class _Lost(Exception):
    """Another process appended first (the feed row's version moved): this batch is dropped, read again."""


class Feed:
    """The journal: filled from the store and the index (``sync``), read per party (``page``)."""

    def __init__(
        self,
        index: Engine,
        store_engine: Engine,
        chain_id: int,
        *,
        poll: float = 1.0,
        batch: int = BATCH,
        lookback: int = LOOKBACK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index = index
        self.store = store_engine
        self.chain_id = chain_id
        self.poll = poll
        self.batch = batch
        self.lookback = lookback
        self.clock = clock
        self._lock = threading.RLock()
        self._synced_at = float("-inf")
        self._head = 0

    # -- filling ---------------------------------------------------------------------------------------

    def mark(self) -> Mark:
        table = store.event_feed
        for _attempt in range(2):
            with self.store.connect() as connection:
                row = connection.execute(select(table).where(table.c.name == FEED)).one_or_none()
            if row is not None:
                # A source added after the row was made is read from the row's last sync on: its events begin then.
                at = {name: int(row.synced_at if getattr(row, name) is None else getattr(row, name)) for name in MARKS}
                return Mark(int(row.version), int(row.block_number), int(row.log_index), row.block_hash, at)
            try:
                with self.store.begin() as connection:
                    connection.execute(
                        insert(table).values(
                            name=FEED,
                            version=0,
                            block_number=-1,
                            log_index=LAST_LOG,
                            block_hash="",
                            synced_at=0,
                            **dict.fromkeys(MARKS, 0),
                        )
                    )
            except IntegrityError:
                pass  # another process made it first
        raise RuntimeError("the event feed's row cannot be made")  # pragma: no cover - made or found above

    def sync(self) -> tuple[int, bool]:
        """Journal one batch of each source's new facts; returns how many events were appended and whether a
        source had a full batch (more may be waiting)."""
        mark = self.mark()
        facts: list[Fact] = []
        at: dict[str, int] = {}
        more = False
        # The store's sources in their order (``STORE_SOURCES``), then facts on chain: a financing takes an offer, a
        # pre-payment draws one. Their clocks differ (a request's is the chain's when it runs ahead of the wall, an
        # offer's the wall's), so times cannot order them.
        for source in STORE_SOURCES:
            found, at[source.mark], full = self._store_facts(source, mark.at[source.mark])
            facts.extend(found)
            more = more or full
        chain, (block, log, block_hash), more_chain = self._chain_facts(mark)
        facts.extend(chain)
        moved = replace(mark, block=block, log=log, block_hash=block_hash, at=at)
        if not facts and moved == mark:
            return 0, False
        try:
            appended = self._append(mark, moved, facts)
        except _Lost:
            return 0, True
        return appended, more or more_chain

    def catch_up(self, rounds: int = 100) -> int:
        """``sync`` until no source has more (at most ``rounds`` batches); returns the events appended."""
        total = 0
        for _round in range(rounds):
            appended, more = self.sync()
            total += appended
            if not more:
                break
        if total:
            with self._lock:  # what this process appended, its streams see at once
                self._head = max(self._head, self.head())
        return total

    def refresh(self) -> int:
        """The journal's head (its newest seq, 0 when empty), after a sync if this process's last one is older
        than ``poll`` seconds: every stream and page of a process shares one sync and one head read per poll."""
        with self._lock:
            if time.monotonic() - self._synced_at >= self.poll:
                self.catch_up(rounds=4)
                self._head = self.head()
                self._synced_at = time.monotonic()
            return self._head

    def _store_facts(self, source: StoreSource, since: int) -> tuple[list[Fact], int, bool]:
        """The source's rows stamped at or after ``since - lookback`` and not journaled yet, oldest first; the newest
        stamp journaled then; whether the batch was full."""
        journal = store.events
        query = (
            source.query.add_columns(source.stamp.label("feed_stamp"))
            .where(source.stamp >= since - self.lookback, ~exists().where(journal.c.source == source.source))
            .order_by(source.stamp, *source.order)
            .limit(self.batch)
        )
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        newest = max([since, *(int(row.feed_stamp) for row in rows)])
        return [source.fact(row) for row in rows], newest, len(rows) == self.batch

    def _chain_facts(self, mark: Mark) -> tuple[list[Fact], tuple[int, int, str], bool]:
        """The index's events of ``CHAIN_EVENTS`` after the mark, up to the indexer's cursor block."""
        contracts = sorted({contract for contract, _ in CHAIN_EVENTS})
        names = sorted({name for _, name in CHAIN_EVENTS})
        here = (mark.block, mark.log, mark.block_hash)
        with self.index.connect() as connection:  # one transaction: the cursor and the events it covers agree
            cursor = connection.execute(
                select(Cursor.block_number, Cursor.block_hash).where(Cursor.chain_id == self.chain_id)
            ).one_or_none()
            if cursor is None:
                return [], here, False
            block, log = mark.block, mark.log
            if block >= 0 and self._rolled_back(connection, mark, cursor):
                block, log = max(-1, min(block, int(cursor.block_number)) - REORG_WINDOW), LAST_LOG
            rows = connection.execute(
                select(Event)
                .where(
                    Event.chain_id == self.chain_id,
                    tuple_(Event.block_number, Event.log_index) > tuple_(block, log),
                    Event.block_number <= cursor.block_number,
                    Event.contract.in_(contracts),
                    Event.event.in_(names),
                )
                .order_by(Event.block_number, Event.log_index)
                .limit(self.batch)
            ).all()
            full = len(rows) == self.batch
            if full:
                here = (int(rows[-1].block_number), int(rows[-1].log_index), rows[-1].block_hash)
            else:
                here = (int(cursor.block_number), LAST_LOG, cursor.block_hash)
            kinds = [CHAIN_EVENTS.get((row.contract, row.event)) for row in rows]
            found = [(row, kind) for row, kind in zip(rows, kinds, strict=True) if kind is not None]
            audiences = self._chain_audiences(connection, found)
        facts = []
        for (row, kind), audience in zip(found, audiences, strict=True):
            data = {
                **chain_data(kind, row.args),
                "blockNumber": int(row.block_number),
                "txHash": row.tx_hash,
                "logIndex": int(row.log_index),
            }
            source = f"chain:{self.chain_id}:{row.tx_hash}:{row.log_index}"
            facts.append(Fact(source, kind, int(row.block_timestamp), data, frozenset(audience)))
        return facts, here, full

    def _rolled_back(self, connection: Connection, mark: Mark, cursor: Any) -> bool:
        """Whether the index no longer holds the block the feed's mark was read at (a reorg rolled it back)."""
        if mark.block > cursor.block_number:
            return True
        if mark.block == cursor.block_number:
            return bool(mark.block_hash != cursor.block_hash)
        kept = connection.execute(
            select(Block.hash).where(Block.chain_id == self.chain_id, Block.number == mark.block)
        ).scalar_one_or_none()
        return kept is not None and kept != mark.block_hash

    def _chain_audiences(self, connection: Connection, found: Sequence[tuple[Any, EventType]]) -> list[set[str]]:
        """Each event's audience: the parties it names, and for a financing the banks that offered on the piece,
        for a repayment or default everyone with a stake in the root (see the module's table)."""
        roots = sorted({int(row.args["rootId"]) for row, kind in found if kind in ROOT_EVENTS})
        financed = {int(row.args["pieceId"]) for row, kind in found if kind == "piece.financed"}
        prepaid = sorted({int(row.args["orderId"]) for row, kind in found if kind == "prepayment.released"})
        stake: dict[int, set[str]] = defaultdict(set)
        pieces_of: dict[int, set[int]] = defaultdict(set)
        buyers: dict[int, str] = {}
        cid = self.chain_id
        if prepaid:
            for order in connection.execute(
                select(Order.order_id, Order.buyer).where(Order.chain_id == cid, Order.order_id.in_(prepaid))
            ):
                buyers[int(order.order_id)] = order.buyer
        if roots:
            for found_root in connection.execute(
                select(Root.root_id, Root.debtor, Root.creditor).where(Root.chain_id == cid, Root.root_id.in_(roots))
            ):
                stake[int(found_root.root_id)] |= {found_root.debtor, found_root.creditor}
            for piece in connection.execute(
                select(Piece.root_id, Piece.piece_id, Piece.holder).where(
                    Piece.chain_id == cid, Piece.root_id.in_(roots)
                )
            ):
                stake[int(piece.root_id)].add(piece.holder)
                pieces_of[int(piece.root_id)].add(int(piece.piece_id))
            for financing in connection.execute(
                select(Financing.root_id, Financing.bank).where(Financing.chain_id == cid, Financing.root_id.in_(roots))
            ):
                stake[int(financing.root_id)].add(financing.bank)
        offered = self._offering_banks(financed | {p for ids in pieces_of.values() for p in ids})
        audiences = []
        for row, kind in found:
            args = row.args
            if kind == "piece.financed":
                audiences.append({args["bank"], args["seller"], *offered.get(int(args["pieceId"]), ())})
            elif kind in ROOT_EVENTS:
                root = int(args["rootId"])
                banks = {bank for piece in pieces_of.get(root, ()) for bank in offered.get(piece, ())}
                named = args["payer"] if kind == "receivable.repaid" else args["debtor"]
                audiences.append({named, *stake.get(root, ()), *banks})
            elif kind == "prepayment.released":
                buyer = buyers.get(int(args["orderId"]))  # the indexer projects the order with the event's block
                audiences.append({args["supplier"], args["guarantor"], *([buyer] if buyer else [])})
            elif kind == "guarantee.claimed":
                audiences.append({args["guarantor"], args["supplier"]})
            else:
                audiences.append({args["bank"], args["party"]})
        return audiences

    def _offering_banks(self, pieces: Iterable[int]) -> dict[int, set[str]]:
        ids = sorted(pieces)
        found: dict[int, set[str]] = defaultdict(set)
        table = store.offers
        with self.store.connect() as connection:
            for start in range(0, len(ids), BATCH):
                for row in connection.execute(
                    select(table.c.piece_id, table.c.bank).where(table.c.piece_id.in_(ids[start : start + BATCH]))
                ):
                    found[int(row.piece_id)].add(row.bank)
        return found

    def _append(self, mark: Mark, moved: Mark, facts: Sequence[Fact]) -> int:
        """In one transaction: move the feed row (compare-and-set on its version: the lock that orders appends),
        then journal the facts not journaled yet, each with the next seq and its audience."""
        journal, audience, feed = store.events, store.event_audience, store.event_feed
        now = int(self.clock())
        rows: list[dict[str, Any]] = []
        with self.store.begin() as connection:
            taken = connection.execute(
                update(feed)
                .where(feed.c.name == FEED, feed.c.version == mark.version)
                .values(
                    version=mark.version + 1,
                    block_number=moved.block,
                    log_index=moved.log,
                    block_hash=moved.block_hash,
                    synced_at=now,
                    **moved.at,
                )
            )
            if taken.rowcount != 1:
                raise _Lost
            sources = sorted({fact.source for fact in facts})
            known: set[str] = set()
            for start in range(0, len(sources), BATCH):
                chunk = sources[start : start + BATCH]
                known |= set(connection.execute(select(journal.c.source).where(journal.c.source.in_(chunk))).scalars())
            seq = int(connection.execute(select(func.max(journal.c.seq))).scalar_one_or_none() or 0)
            parties: list[dict[str, Any]] = []
            for fact in facts:
                if fact.source in known:
                    continue
                known.add(fact.source)
                seq += 1
                rows.append(
                    {
                        "seq": seq,
                        "id": event_id(fact.source),
                        "source": fact.source,
                        "type": fact.type,
                        "occurred_at": fact.occurred_at,
                        "recorded_at": now,
                        "data": json.dumps(fact.data, separators=(",", ":"), sort_keys=True),
                    }
                )
                parties.extend({"party": party, "seq": seq} for party in sorted(fact.audience))
            if rows:
                connection.execute(insert(journal), rows)
                connection.execute(insert(audience), parties)
        return len(rows)

    # -- reading ---------------------------------------------------------------------------------------

    def head(self) -> int:
        """The newest seq journaled (0: none): every event up to it is committed."""
        with self.store.connect() as connection:
            return int(connection.execute(select(func.max(store.events.c.seq))).scalar_one_or_none() or 0)

    def page(
        self, party: Party, after: int, limit: int, types: frozenset[str] | None = None, upto: int | None = None
    ) -> tuple[list[EventOut], int]:
        """The events ``party`` may see after seq ``after`` up to ``upto`` (default: the head), oldest first, at
        most ``limit``; and the seq read up to (the last event's on a full page, else ``upto``)."""
        journal, audience = store.events, store.event_audience
        upto = self.head() if upto is None else upto
        query = select(journal).where(journal.c.seq > after, journal.c.seq <= upto)
        if not party.auditor:
            query = query.where(
                journal.c.seq.in_(
                    select(audience.c.seq).where(
                        audience.c.party.in_(FinancingBook.addressees(party)),
                        audience.c.seq > after,
                        audience.c.seq <= upto,
                    )
                )
            )
        if types is not None:
            query = query.where(journal.c.type.in_(sorted(types)))
        with self.store.connect() as connection:
            rows = connection.execute(query.order_by(journal.c.seq).limit(limit)).all()
        scanned = int(rows[-1].seq) if len(rows) == limit else max(after, upto)
        return [event_out(row) for row in rows], scanned

    def events(self, seqs: Sequence[int]) -> dict[int, EventOut]:
        """The journal's events by seq (for deliveries)."""
        found: dict[int, EventOut] = {}
        with self.store.connect() as connection:
            for start in range(0, len(seqs), BATCH):
                chunk = list(seqs[start : start + BATCH])
                for row in connection.execute(select(store.events).where(store.events.c.seq.in_(chunk))):
                    found[int(row.seq)] = event_out(row)
        return found

    def cursor(self, value: str | None, field: str, location: str, head: int) -> int | None:
        """A client's cursor (``?after=``, ``Last-Event-ID``) as a seq: 422 naming ``field`` unless it is a
        decimal seq the feed has reached (a cursor of another deployment, or a future one, would skip events)."""
        if value is None:
            return None
        text = value.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_CURSOR:
            raise InvalidField(field, "must be an event's cursor: a decimal string below 2**63", location=location)
        seq = int(text)
        if seq > head:
            head = self.head()  # this process's head may lag another's, whose event the client saw last
        if seq > head:
            raise InvalidField(
                field,
                f"the feed has no event {seq} yet (its newest is {head}): a cursor from another deployment? "
                "start again without one",
                location=location,
            )
        return seq
