"""The event feed: one typed, ordered stream of what concerns a party, read by Server-Sent Events or by pages
(``GET /v1/events``) and pushed to webhooks (``api.v1.webhooks``).

**What is in it**, each read from what the API already holds (the uint256 fields as decimal strings):

==============================  ===============================================  ================================
type                            from                                             seen by
==============================  ===============================================  ================================
``financing_request.created``   ``api_financing_requests`` (asked; asked again     the holder; the bank asked, or
                                once withdrawn or expired makes a new one)         every bank
``offer.created``               ``api_offers``                                    the holder and the offering bank
``piece.financed``              the index's ``events``: PieceFinanced              the buying bank, the seller, and
                                                                                  every bank that offered on it
``receivable.repaid``           ReceivableRepaid                                  the root's debtor, creditor and
``receivable.defaulted``        ReceivableDefaulted                               payer, every holder of a piece
                                                                                  of it, every bank that financed
                                                                                  or offered on one
``limit.published``             CreditRegistry's LimitPublished                   the bank and the party
``limit.revoked``               LimitRevoked                                      the bank and the party
==============================  ===============================================  ================================

Auditors see every event. Everyone else sees the events whose audience holds an address of
``FinancingBook.addressees`` (the inbox's rule): its own, and for a bank ``EVERY_BANK``, so a
request to every bank reaches every bank as its inbox shows it, and a bank never sees another
bank's offer. An event's audience is fixed when it is journaled (the holders of a root's pieces
then); the roles that read it are the reader's now.

The data by type: a request ``{requestId, pieceId, holder, bank (null: every bank), createdAt,
expiresAt}``; an offer ``{offerId, pieceId, holder, bank, price, deadline, nonce}``; a financing
``{pieceId, rootId, bank, seller, price, amount, discountBps, timeToMaturity, nonce}``; a repayment
``{rootId, payer, amount, repaid, outstanding, afterDefault}``; a default ``{rootId, debtor,
outstanding, by}``; a limit ``{bank, party, limit, score, grade, modelHash, validUntil, nonce}`` or,
revoked, ``{bank, party}``. A fact on chain also carries ``blockNumber``, ``txHash`` and ``logIndex``.

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
was journaled before). Requests and offers by ``created_at``, looking ``LOOKBACK`` seconds behind the
newest one journaled, with what is journaled already left out in SQL: a row that commits late is
still found. What one sync finds is journaled requests first, then offers, then facts on chain (an
offer answers a request, a financing takes an offer), each source in its own order: the sources'
clocks differ, so their times cannot order them (``occurredAt`` is each fact's own time). A reorg
deeper than the indexer's confirmations leaves its facts in the feed: run the indexer with the
confirmations your chain needs.

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

from sqlalchemy import Connection, Engine, String, cast, exists, func, insert, literal, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from api.errors import InvalidField
from api.v1 import store
from api.v1.auth import Party
from api.v1.event_schemas import EVENT_TYPES, EventOut, EventType
from api.v1.financing import EVERY_BANK, FinancingBook
from ledger.index.sql.models import Block, Cursor, Event, Financing, Piece, Root

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
CHAIN_EVENTS: dict[tuple[str, str], EventType] = {
    ("Receivables", "PieceFinanced"): "piece.financed",
    ("Receivables", "ReceivableRepaid"): "receivable.repaid",
    ("Receivables", "ReceivableDefaulted"): "receivable.defaulted",
    ("CreditRegistry", "LimitPublished"): "limit.published",
    ("CreditRegistry", "LimitRevoked"): "limit.revoked",
}
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
class Fact:
    """A fact to journal: where it comes from (unique), its type, time, data and audience."""

    source: str
    type: EventType
    occurred_at: int
    data: dict[str, Any]
    audience: frozenset[str]


@dataclass(frozen=True)
class Mark:
    """How far the feed has read each source (the ``api_event_feed`` row)."""

    version: int
    block: int
    log: int
    block_hash: str
    requests_at: int
    offers_at: int


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


def _u(value: Any) -> str:
    return str(int(value))


def _chain_data(kind: EventType, args: dict[str, Any]) -> dict[str, Any]:
    if kind == "piece.financed":
        return {
            "pieceId": _u(args["pieceId"]),
            "rootId": _u(args["rootId"]),
            "bank": args["bank"],
            "seller": args["seller"],
            "price": _u(args["price"]),
            "amount": _u(args["amount"]),
            "discountBps": _u(args["discountBps"]),
            "timeToMaturity": _u(args["timeToMaturity"]),
            "nonce": _u(args["nonce"]),
        }
    if kind == "receivable.repaid":
        return {
            "rootId": _u(args["rootId"]),
            "payer": args["payer"],
            "amount": _u(args["amount"]),
            "repaid": _u(args["repaid"]),
            "outstanding": _u(args["outstanding"]),
            "afterDefault": bool(args["afterDefault"]),
        }
    if kind == "receivable.defaulted":
        return {
            "rootId": _u(args["rootId"]),
            "debtor": args["debtor"],
            "outstanding": _u(args["outstanding"]),
            "by": args["by"],
        }
    if kind == "limit.published":
        return {
            "bank": args["bank"],
            "party": args["party"],
            "limit": _u(args["limit"]),
            "score": int(args["score"]),
            "grade": int(args["grade"]),
            "modelHash": args["modelHash"],
            "validUntil": _u(args["validUntil"]),
            "nonce": _u(args["nonce"]),
        }
    return {"bank": args["bank"], "party": args["party"]}


def request_fact(row: Any) -> Fact:
    return Fact(
        f"request:{row.id}:{row.created_at}",
        "financing_request.created",
        int(row.created_at),
        {
            "requestId": row.id,
            "pieceId": _u(row.piece_id),
            "holder": row.holder,
            "bank": None if row.bank == EVERY_BANK else row.bank,
            "createdAt": int(row.created_at),
            "expiresAt": None if row.expires_at is None else int(row.expires_at),
        },
        frozenset({row.holder, row.bank}),
    )


def offer_fact(row: Any) -> Fact:
    return Fact(
        f"offer:{row.id}",
        "offer.created",
        int(row.created_at),
        {
            "offerId": row.id,
            "pieceId": _u(row.piece_id),
            "holder": row.holder,
            "bank": row.bank,
            "price": _u(row.price),
            "deadline": _u(row.deadline),
            "nonce": _u(row.nonce),
        },
        frozenset({row.holder, row.bank}),
    )


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
                return Mark(
                    int(row.version),
                    int(row.block_number),
                    int(row.log_index),
                    row.block_hash,
                    int(row.requests_at),
                    int(row.offers_at),
                )
            try:
                with self.store.begin() as connection:
                    connection.execute(
                        insert(table).values(
                            name=FEED,
                            version=0,
                            block_number=-1,
                            log_index=LAST_LOG,
                            block_hash="",
                            requests_at=0,
                            offers_at=0,
                            synced_at=0,
                        )
                    )
            except IntegrityError:
                pass  # another process made it first
        raise RuntimeError("the event feed's row cannot be made")  # pragma: no cover - made or found above

    def sync(self) -> tuple[int, bool]:
        """Journal one batch of each source's new facts; returns how many events were appended and whether a
        source had a full batch (more may be waiting)."""
        mark = self.mark()
        requests, requests_at, more_requests = self._store_facts(store.financing_requests, "request", mark.requests_at)
        offers, offers_at, more_offers = self._store_facts(store.offers, "offer", mark.offers_at)
        chain, (block, log, block_hash), more_chain = self._chain_facts(mark)
        moved = replace(mark, block=block, log=log, block_hash=block_hash, requests_at=requests_at, offers_at=offers_at)
        # Requests, then offers, then facts on chain: an offer answers a request, a financing takes an offer. Their
        # clocks differ (a request's is the chain's when it runs ahead of the wall), so times cannot order them.
        facts = [*requests, *offers, *chain]
        if not facts and moved == mark:
            return 0, False
        try:
            appended = self._append(mark, moved, facts)
        except _Lost:
            return 0, True
        return appended, more_requests or more_offers or more_chain

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

    def _store_facts(self, table: Any, kind: str, since: int) -> tuple[list[Fact], int, bool]:
        """Requests or offers stamped at or after ``since - lookback`` and not journaled yet, oldest first."""
        journal = store.events
        source = literal(f"{kind}:") + table.c.id
        if kind == "request":
            source = source + literal(":") + cast(table.c.created_at, String)
        query = (
            select(table)
            .where(table.c.created_at >= since - self.lookback, ~exists().where(journal.c.source == source))
            .order_by(table.c.created_at, table.c.id)
            .limit(self.batch)
        )
        with self.store.connect() as connection:
            rows = connection.execute(query).all()
        make = request_fact if kind == "request" else offer_fact
        newest = max([since, *(int(row.created_at) for row in rows)])
        return [make(row) for row in rows], newest, len(rows) == self.batch

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
                **_chain_data(kind, row.args),
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
        stake: dict[int, set[str]] = defaultdict(set)
        pieces_of: dict[int, set[int]] = defaultdict(set)
        cid = self.chain_id
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
                    requests_at=moved.requests_at,
                    offers_at=moved.offers_at,
                    synced_at=now,
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
