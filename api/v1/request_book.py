"""One request book: what financing requests (``api.v1.financing``) and pre-payment requests (``api.v1.prepayments``)
share: asking and asking again, withdrawing, declining, who sees which, and the inbox's pages.

Both books keep one row per subject (a piece, an order), asker (its holder, its supplier) and bank, in a table of
the same columns (``id``, the subject, the asker, ``bank``, ``created_at``, ``expires_at``, ``withdrawn_at``; see
``api.v1.store``); ``RequestBook`` is parameterised by them (``table``, ``subject``, ``asker``) and by the words its
errors use (``noun``, ``code``, ``subject_noun``). What differs stays with each book: the facts its states read
(``facts``: the index's pieces and financings, or orders), its states (``_state``), its answer (``_out``), what
makes an ask live (``_still_live``) and what accepting means (``_accepted_detail``).

**Asking** (``_ask``) inserts the row, or, once it was withdrawn, expired, or declined (a decline of its current
ask: ``_declined``), reopens it as a new ask: a new **round**, its ``created_at``, always later than the last one
even within its second (``max(now, old created_at + 1)``), so a decline, offer or withdrawal of the old ask never
reads as answering the new one, and the event feed never takes the new ask for the old. Asking again while the
request is live answers it (the book may refuse other terms). Two first asks at once race on the unique key: the
loser reads what the winner wrote (once; two lost races in a row are a 409 ``*_busy``).

**Declines** (``api.v1.declines``): one table for both books, keyed by the request's id (time-ordered UUIDs,
``time_ordered_id``, never shared between books). A bank the request addresses declines its current ask once
(again answers the first reasons); only while the request is open to it (409 ``*_not_open``). The rules that read
them (``seen_declines``, ``declined``) read the row's asker as ``holder``: a pre-payment request is selected with
its supplier labelled so (``_select``).

**Who sees what** (``visible``, ``addressees``): a bank the requests addressed to it or to every bank
(``EVERY_BANK``), an asker its own, an auditor all, anyone else nothing (404). The event feed (``api.v1.events``)
matches its audiences with the same ``addressees``. Only the asker withdraws (404 for anyone else); an accepted
request cannot be withdrawn (409 ``*_accepted``).

**The inbox** (``page``): requests oldest first (``created_at``, then id), after a request the viewer may see
(``_cursor``), in a state if asked. The state is derived, so a page is read in batches of ``limit + 1`` rows until
it has ``limit + 1`` matches or the rows run out; SQL drops what cannot match first (withdrawn or not, and for
``open`` and ``offered`` what has passed its expiry), so a desk polling for open requests does not read the
expired ones again and again. Each batch's facts are loaded at once (``facts``: one query per table), and the
declines and the offers grouped by bank are loaded by ``load_declines`` and ``group_offers`` for both books.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Select, Table, func, insert, or_, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError, OperationalError

from api.errors import Conflict, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from api.v1.declines import declines
from api.v1.schemas import RequestState

EVERY_BANK = store.EVERY_BANK
#: The states in which a request still asks for money (and opens the holder's credit report).
LIVE: frozenset[RequestState] = frozenset({"open", "offered"})
MAX_PAGE = 200
#: Tries of one ask's transaction before a 409 ``*_busy`` (see ``_ask``).
ASK_ATTEMPTS = 20


def time_ordered_id() -> str:
    """A UUID version 7 (RFC 9562): milliseconds since the epoch, then the fraction of the millisecond in 12
    bits, then randomness. Requests made in the same second (their ``created_at``) still page in the order
    they were made, since the inbox orders by ``created_at`` and then by id."""
    nanos = time.time_ns()
    millis, fraction = divmod(nanos, 1_000_000)
    value = (millis & (2**48 - 1)) << 80 | 0x7 << 76 | (fraction * 4096 // 1_000_000) << 64
    value |= 0b10 << 62 | uuid.uuid4().int & (2**62 - 1)
    return str(uuid.UUID(int=value))


def addressed(request: Any, bank: str) -> bool:
    return bool(request.bank == bank or request.bank == EVERY_BANK)


class DeclineFacts(Protocol):
    """What the shared rules read of a book's facts: their time, and request id -> the banks' declines of it (any
    round)."""

    @property
    def now(self) -> int: ...

    @property
    def declines(self) -> dict[str, list[Any]]: ...


def seen_declines(request: Any, facts: DeclineFacts, viewer: Party | None) -> list[Any]:
    """The declines of the request's current ask (its round: ``created_at``) that ``viewer`` may see: the asker
    (``holder``), auditors and the API every bank's, a bank its own."""
    everything = viewer is None or viewer.auditor or viewer.address == request.holder
    return [
        row
        for row in facts.declines.get(request.id, [])
        if row.round == request.created_at and (everything or (viewer is not None and row.bank == viewer.address))
    ]


def declined(request: Any, facts: DeclineFacts, viewer: Party | None) -> bool:
    """Whether the current ask reads declined to ``viewer``: a bank's own decline, or the one bank asked."""
    banks = {row.bank for row in seen_declines(request, facts, viewer)}
    if viewer is not None and not viewer.auditor and viewer.address != request.holder:
        return viewer.address in banks
    return request.bank != EVERY_BANK and request.bank in banks


def live_state(request: Any, facts: DeclineFacts, offers: Sequence[Any], viewer: Party | None) -> RequestState:
    """The state of a request that is neither withdrawn, accepted nor expired, the last rungs of both books'
    ``state_of``: ``offered`` while an offer the viewer may see (``offers``, grouped by bank) is before its
    deadline, then ``declined`` (``declined``), then ``open``."""
    if any(group.last_deadline > facts.now for group in offers):
        return "offered"
    if declined(request, facts, viewer):
        return "declined"
    return "open"


def load_declines(connection: Connection, requests: Sequence[Any]) -> dict[str, list[Any]]:
    """Request id -> its declines (any round), for ``requests``: one query."""
    answered: dict[str, list[Any]] = defaultdict(list)
    ids = sorted({str(r.id) for r in requests})
    for row in connection.execute(select(declines).where(declines.c.request_id.in_(ids))):
        answered[row.request_id].append(row)
    return answered


def group_offers(connection: Connection, table: Table, key: str, by: str, keys: Sequence[Any]) -> dict[Any, list[Any]]:
    """The offers of ``table`` whose ``key`` column is in ``keys``, grouped by it, the bank and ``by`` (the holder
    offered to, or the round answered): ``key``, bank, ``by``, count, last_deadline; one query."""
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for group in connection.execute(
        select(
            table.c[key],
            table.c.bank,
            table.c[by],
            func.count().label("count"),
            func.max(table.c.deadline).label("last_deadline"),
        )
        .where(table.c[key].in_(keys))
        .group_by(table.c[key], table.c.bank, table.c[by])
    ):
        grouped[group._mapping[key]].append(group)
    return grouped


class RequestOut(Protocol):
    """A book's answer for a request: the inbox pages after its ``id``."""

    @property
    def id(self) -> str: ...


F = TypeVar("F", bound=DeclineFacts)
Out = TypeVar("Out", bound=RequestOut)


class RequestBook(ABC, Generic[F, Out]):
    """A requests table: ask, withdraw, decline, who sees which, the inbox's pages (see the module's docstring)."""

    #: the requests table, its subject column (``piece_id``, ``order_id``) and asker column (``holder``, ``supplier``)
    table: ClassVar[Table]
    subject: ClassVar[str]
    asker: ClassVar[str]
    #: the words of its errors: "financing request" and "financing_request"; "piece" (a request for piece N)
    noun: ClassVar[str]
    code: ClassVar[str]
    subject_noun: ClassVar[str]

    def __init__(self, engine: Engine, store_engine: Engine, chain_id: int) -> None:
        self.engine = engine  # the index's
        self.store = store_engine  # the API's tables'
        self.chain_id = chain_id

    @abstractmethod
    def now(self) -> int:
        """The book's time: the later of the API's clock and the indexed head's block time."""

    @abstractmethod
    def facts(self, requests: Sequence[Any], now: int | None = None) -> F:
        """The facts ``_state`` reads for ``requests``: one query per table, however many requests."""

    @abstractmethod
    def _state(self, request: Any, facts: F, viewer: Party | None) -> RequestState: ...

    @abstractmethod
    def _out(self, request: Any, facts: F, viewer: Party | None) -> Out: ...

    @abstractmethod
    def _accepted_detail(self, request: Any) -> str:
        """Why an accepted request cannot be withdrawn, after "<noun> <id> was accepted: "."""

    def _still_live(self, request: Any, terms: Mapping[str, Any]) -> None:
        """Asked again with ``terms`` while ``request`` is live: answer it (the default), or raise."""

    def out(self, request: Any, viewer: Party) -> Out:
        return self._out(request, self.facts([request]), viewer)

    def _select(self) -> Select[Any]:
        """The table's rows, with the asker readable as ``holder`` (the decline rules read it so)."""
        if self.asker == "holder":
            return select(self.table)
        return select(self.table, self.table.c[self.asker].label("holder"))

    def _find(self, request_id: str, *where: ColumnElement[bool]) -> Any:
        with self.store.connect() as connection:
            return connection.execute(self._select().where(self.table.c.id == request_id, *where)).one_or_none()

    # -- who sees which ------------------------------------------------------------------------------------------

    @staticmethod
    def addressees(party: Party) -> tuple[str, ...]:
        """The addresses whose requests ``party`` is asked by: its own, and as a bank every bank's (``EVERY_BANK``).
        The event feed (``api.v1.events``) matches its audiences with the same rule."""
        return (party.address, EVERY_BANK) if party.has("bank") else (party.address,)

    @classmethod
    def visible(cls, party: Party) -> ColumnElement[bool]:
        """A bank sees requests to it or to every bank, an asker its own, an auditor all."""
        if party.auditor:
            return true()
        return or_(cls.table.c[cls.asker] == party.address, cls.table.c.bank.in_(cls.addressees(party)))

    def row(self, party: Party, request_id: str) -> Any:
        """The request, if ``party`` may see it (404 otherwise)."""
        found = self._find(request_id, self.visible(party))
        if found is None:
            raise NotFound(self.noun, request_id)
        return found

    def for_bank(self, party: Party, request_id: str) -> Any:
        """The request, if addressed to ``party`` as a bank (404 otherwise: an asker's own is not for it)."""
        found = self._find(request_id)
        if found is None or not party.has("bank") or not addressed(found, party.address):
            raise NotFound(self.noun, request_id)
        return found

    def _own(self, party: Party, request_id: str) -> Any:
        found = self._find(request_id)
        if found is None or found.holder != party.address:
            raise NotFound(self.noun, request_id)
        return found

    # -- asking, withdrawing, declining -------------------------------------------------------------------------

    def _ask(
        self, party: Party, subject_id: int, bank: str, now: int, expires_at: int, terms: Mapping[str, Any]
    ) -> Any:
        """The asker's row for ``subject_id`` and ``bank``, inserted, reopened as a new round (withdrawn, expired or
        declined), or, while live, answered as it is (``_still_live`` may refuse other ``terms``)."""
        table = self.table
        key = (table.c[self.subject] == subject_id, table.c[self.asker] == party.address, table.c.bank == bank)
        lost = 0
        for attempt in range(ASK_ATTEMPTS):
            try:
                with self.store.begin() as connection:
                    existing = connection.execute(self._select().where(*key)).one_or_none()
                    fresh = {"created_at": now, "expires_at": expires_at, "withdrawn_at": None, **terms}
                    if existing is None:
                        asked = {"id": time_ordered_id(), self.subject: subject_id, self.asker: party.address}
                        connection.execute(insert(table).values(**asked, bank=bank, **fresh))
                    elif (
                        existing.withdrawn_at is not None
                        or (existing.expires_at is not None and existing.expires_at <= now)
                        or self._declined(connection, existing)
                    ):
                        # A new ask is a new round (its ``created_at``): never the old one's second, or a decline
                        # of the old ask would read as answering this one, and the feed would take it for the old.
                        fresh["created_at"] = max(now, int(existing.created_at) + 1)
                        connection.execute(update(table).where(table.c.id == existing.id).values(**fresh))
                    else:
                        self._still_live(existing, terms)
                    row = connection.execute(self._select().where(*key)).one()
                break
            except IntegrityError:  # a concurrent first request won the unique key: read what it wrote
                lost += 1
                if lost == 2:
                    raise Conflict(
                        f"{self.code}_busy", f"a request for {self.subject_noun} {subject_id} is being made; retry"
                    ) from None
            except OperationalError as exc:
                # SQLite (WAL) refuses at once, without waiting, a transaction that read and then writes after
                # another connection committed (a desk's decline, the event feed's journal): it read an old
                # snapshot. Nothing was written; the ask is read and decided again.
                if "database is locked" not in str(exc.orig):
                    raise
                time.sleep(0.01 * (attempt + 1))
        else:  # pragma: no cover - locked out on every attempt
            raise Conflict(f"{self.code}_busy", f"a request for {self.subject_noun} {subject_id} is being made; retry")
        return row

    @staticmethod
    def _declined(connection: Connection, request: Any) -> bool:
        """Whether a bank declined the request's current ask: asking again then reopens it as a new ask."""
        found = connection.execute(
            select(declines.c.bank).where(declines.c.request_id == request.id, declines.c.round == request.created_at)
        ).first()
        return found is not None

    def decline(self, party: Party, request_id: str, reasons: str) -> Out:
        """A bank the request is addressed to declines its current ask with ``reasons`` (``api.v1.declines``' JSON).
        404 for anyone else; 409 unless the request is open to the bank (an offer of its own still open, accepted,
        expired or withdrawn); again answers the first decline of the ask."""
        row = self.for_bank(party, request_id)
        facts = self.facts([row])
        state = self._state(row, facts, party)
        if state == "declined":
            return self._out(row, facts, party)
        if state != "open":
            raise Conflict(
                f"{self.code}_not_open",
                f"{self.noun} {request_id} is {state} to you: a bank declines only a request open to it",
            )
        values = {"request_id": row.id, "bank": party.address, "round": row.created_at}
        try:
            with self.store.begin() as connection:
                connection.execute(insert(declines).values(**values, reasons=reasons, created_at=facts.now))
        except IntegrityError:
            pass  # declined at the same moment by another call: the first reasons stand
        return self.out(row, party)

    def withdraw(self, party: Party, request_id: str) -> Out:
        """The asker takes its request back (404 for anyone else); again answers the first withdrawal; a request
        already accepted cannot be withdrawn (409)."""
        row = self._own(party, request_id)
        if row.withdrawn_at is None:
            facts = self.facts([row])
            if self._state(row, facts, party) == "accepted":
                raise Conflict(
                    f"{self.code}_accepted",
                    f"{self.noun} {request_id} was accepted: {self._accepted_detail(row)}",
                )
            with self.store.begin() as connection:
                store.withdraw(connection, self.table, request_id, facts.now)
            row = self._own(party, request_id)
        return self.out(row, party)

    # -- the inbox ----------------------------------------------------------------------------------------------

    def page(
        self, party: Party, state: RequestState | None, subject_id: int | None, after: str | None, limit: int
    ) -> tuple[list[Out], str | None]:
        """Requests ``party`` may see, oldest first, from after request ``after``, in ``state`` if given, of
        ``subject_id`` if given: read in batches of ``limit + 1`` rows until a page is full (the state is derived),
        with what cannot match dropped in SQL first."""
        table = self.table
        limit = min(limit, MAX_PAGE)
        now = self.now()
        query = self._select().where(self.visible(party))
        if subject_id is not None:
            query = query.where(table.c[self.subject] == subject_id)
        if state == "withdrawn":
            query = query.where(table.c.withdrawn_at.is_not(None))
        elif state is not None:
            query = query.where(table.c.withdrawn_at.is_(None))
        if state in LIVE:
            unexpired = table.c.expires_at > now
            # A NULL expiry (a financing request from before requests expired) is open while its piece is sellable.
            query = query.where(
                or_(table.c.expires_at.is_(None), unexpired) if table.c.expires_at.nullable else unexpired
            )
        cursor = self._cursor(party, after)
        found: list[Out] = []
        while len(found) <= limit:
            batch = query
            if cursor is not None:
                batch = batch.where(tuple_(table.c.created_at, table.c.id) > tuple_(*cursor))
            with self.store.connect() as connection:
                rows = connection.execute(batch.order_by(table.c.created_at, table.c.id).limit(limit + 1)).all()
            facts = self.facts(rows, now)
            for row in rows:
                if state is None or self._state(row, facts, party) == state:
                    found.append(self._out(row, facts, party))
            if len(rows) <= limit:
                break
            cursor = (rows[-1].created_at, rows[-1].id)
        items = found[:limit]
        return items, (items[-1].id if len(found) > limit else None)

    def _cursor(self, party: Party, after: str | None) -> tuple[int, str] | None:
        if after is None:
            return None
        table = self.table
        with self.store.connect() as connection:
            row = connection.execute(
                select(table.c.created_at, table.c.id).where(table.c.id == after, self.visible(party))
            ).one_or_none()
        if row is None:
            raise InvalidField("after", f"no {self.noun} {after} of yours to page after", location="query")
        return int(row.created_at), str(row.id)
