"""Financing requests: a holder asks one bank, or every bank, to finance a piece; their states, and who sees them.

**A request** (``POST /v1/receivables/pieces/{id}/financing-requests``) is the holder's application:
it shows the piece (and its path to the root) to the bank it names, or to every active bank when
it names none (``store.EVERY_BANK``, the zero address, in the ``bank`` column), and while it is
live it opens the holder's credit report to them (``api.v1.credit``). It lasts ``expiresIn``
seconds (7 days by default, 60 s to 90 days), never past the receivable's maturity; the holder
may withdraw it at any time before a bank's offer is accepted, which also takes the piece out of
the banks' sight (an expired request keeps showing it, as a request always did once its piece was
sold). Asking the same bank again for the same piece answers the live request, or reopens one
that was withdrawn or expired (one row per piece, holder and bank). Rows from before requests
expired have no ``expires_at`` and stay live for as long as the piece can be sold, as they did.

What this book shares with pre-payment requests (asking and reopening an ask as a new round, withdrawing,
declining, who sees which, the inbox's pages) is ``api.v1.request_book``'s: ``FinancingBook`` is its
``RequestBook`` on pieces and their holders.

**States** are derived, never stored, by ``state_of``: the only place that says what each
means, so the inbox, the withdraw rule and the credit report's grant cannot disagree. The facts
it reads (the pieces and their roots, the financings, from the index; the offers and the banks'
declines, from the API's tables) are loaded for a whole page at once by ``FinancingBook.facts``,
one query per table, whatever the page's size: a bank's desk polls the inbox, so a page costs
the same few queries as one request. The store and the index may be two databases
(``SCF_API_DB_URL``), so nothing is joined across them in SQL.

**Declines** (``api.v1.declines``): a bank that makes no offer says why in words; the holder
reads its reasons with the request, which reads ``declined`` (to the holder, when the one bank it
asked declined; to a bank, when it did). A decline answers one ask (the request's ``created_at``
then): asking again after it reopens the request as a new ask, as after a withdrawal.

**Time** is the later of the API's clock and the indexed head's block time (``FinancingBook.now``),
for stamping a request and for reading it: devnets run ahead of the wall, and a request must not
expire the moment it is made because the chain's clock was moved.

**Who sees what** in ``GET /v1/financing-requests``: a bank the requests addressed to it or to
every bank, a holder its own, an auditor all, anyone else nothing. The offers a request shows
(its ``offers`` count, and so whether it reads ``offered``) are the ones the viewer may see, as
``GET .../offers`` shows them: the holder and auditors every addressed bank's, a bank only its
own. A bank is not told that a competitor bid on a request sent to every bank, and its inbox's
``open`` means "waiting for my offer".

**Pricing** (``pricing_columns``): an offer may carry how the bank priced it (policy hash,
model version, the ``scoring.pricing`` quote) so an auditor can recompute the price later. The
signed price stays authoritative; a quote that says it priced the offer must name that price.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, or_, select

from api.errors import InvalidField
from api.v1 import store
from api.v1.auth import Party
from api.v1.declines import decline_out
from api.v1.request_book import (
    EVERY_BANK,
    LIVE,
    RequestBook,
    addressed,
    group_offers,
    live_state,
    load_declines,
    seen_declines,
)
from api.v1.schemas import MAX_SAFE_INTEGER, FinancingRequestOut, PricingIn, PricingOut, RequestState
from ledger.index.sql.models import Block, Cursor, Financing, Piece, Root
from scoring.errors import QuoteRequestError
from scoring.pricing import QuoteRequest

QUOTE_MAX_BYTES = 16 * 1024


@dataclass(frozen=True)
class Facts:
    """What the index and the offers table say about a batch of requests' pieces, at ``now``."""

    now: int
    #: piece id -> holder, child_count, financed, claimed, status and maturity (its root's)
    pieces: dict[int, Any]
    #: piece id -> its financings: bank, seller, financed_at (a piece is financed at most once)
    financings: dict[int, list[Any]]
    #: piece id -> offers grouped by bank and holder: bank, holder, count, last_deadline
    offers: dict[int, list[Any]]
    #: request id -> the banks' declines of it (any round): bank, round, reasons, created_at
    declines: dict[str, list[Any]] = field(default_factory=dict)


def sellable(piece: Any | None, holder: str, now: int) -> bool:
    """Whether ``holder`` could still sell ``piece`` to a bank at ``now``: it holds it, it is not split,
    financed or claimed on, and its receivable is outstanding and not yet mature."""
    return (
        piece is not None
        and piece.holder == holder
        and piece.child_count == 0
        and not piece.financed
        and piece.claimed == 0
        and piece.status == "OUTSTANDING"
        and piece.maturity > now
    )


def seen_offers(request: Any, facts: Facts, viewer: Party | None) -> list[Any]:
    """The offers on the request's piece, to its holder, from a bank it addressed, that ``viewer`` may see
    (``None``: the API itself, which sees all)."""
    everything = viewer is None or viewer.auditor or viewer.address == request.holder
    return [
        group
        for group in facts.offers.get(request.piece_id, [])
        if group.holder == request.holder
        and addressed(request, group.bank)
        and (everything or (viewer is not None and group.bank == viewer.address))
    ]


def state_of(request: Any, facts: Facts, viewer: Party | None = None) -> RequestState:
    """A request's state: the first of these that holds.

    1. ``withdrawn``: the holder withdrew it (``withdrawn_at``);
    2. ``accepted``: the piece was financed, at or after the request was made, by a bank it addressed,
       buying from the request's holder (the index's ``financings``);
    3. ``expired``: ``now`` has reached ``expires_at``, or the holder can no longer sell the piece
       (``sellable``: the rule ``api.v1.credit`` grants a report by);
    4. ``offered``: an offer the viewer may see (``seen_offers``) is unexpired (its deadline is after ``now``);
    5. ``declined``: the bank declined this ask (``api.v1.request_book.declined``: to a bank its own decline; to the
       holder, auditors and the API, the decline of the one bank asked: a request to every bank stays open to its
       holder);
    6. ``open``.

    4 to 6 are ``api.v1.request_book.live_state``, as for a pre-payment request.
    """
    if request.withdrawn_at is not None:
        return "withdrawn"
    for financing in facts.financings.get(request.piece_id, []):
        if (
            addressed(request, financing.bank)
            and financing.seller == request.holder
            and financing.financed_at >= request.created_at
        ):
            return "accepted"
    if request.expires_at is not None and facts.now >= request.expires_at:
        return "expired"
    if not sellable(facts.pieces.get(request.piece_id), request.holder, facts.now):
        return "expired"
    return live_state(request, facts, seen_offers(request, facts, viewer), viewer)


def request_out(request: Any, facts: Facts, viewer: Party | None) -> FinancingRequestOut:
    return FinancingRequestOut(
        id=request.id,
        pieceId=request.piece_id,
        holder=request.holder,
        bank=None if request.bank == EVERY_BANK else request.bank,
        state=state_of(request, facts, viewer),
        createdAt=request.created_at,
        expiresAt=request.expires_at,
        withdrawnAt=request.withdrawn_at,
        offers=sum(int(group.count) for group in seen_offers(request, facts, viewer)),
        declines=[decline_out(row) for row in seen_declines(request, facts, viewer)],
    )


class ExposureSums:
    """Amounts per key (an obligor, a seller, the total), financed and offered apart."""

    def __init__(self) -> None:
        self.financed: dict[str, int] = defaultdict(int)
        self.offered: dict[str, int] = defaultdict(int)

    def add(self, kind: str, keys: tuple[str, ...], amount: int) -> None:
        sums = self.financed if kind == "financed" else self.offered
        for key in keys:
            sums[key] += amount

    def out(self, key: str) -> dict[str, str]:
        financed, offered = self.financed[key], self.offered[key]
        return {"financed": str(financed), "offered": str(offered), "outstanding": str(financed + offered)}


TOTAL = "*"


class FinancingBook(RequestBook[Facts, FinancingRequestOut]):
    """The financing requests table: ask, withdraw, the inbox's pages (``RequestBook``'s, on pieces and their
    holders), and whether a request opens a report."""

    table = store.financing_requests
    subject, asker = "piece_id", "holder"
    noun, code, subject_noun = "financing request", "financing_request", "piece"
    _state, _out = staticmethod(state_of), staticmethod(request_out)

    def __init__(
        self, engine: Engine, store_engine: Engine, chain_id: int, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(engine, store_engine, chain_id)
        self.clock = clock

    def now(self) -> int:
        """The later of the API's clock and the indexed head's block time (devnets run ahead of the wall)."""
        with self.engine.connect() as connection:
            head = connection.execute(
                select(Block.timestamp)
                .join(Cursor, (Cursor.chain_id == Block.chain_id) & (Cursor.block_number == Block.number))
                .where(Block.chain_id == self.chain_id)
            ).scalar_one_or_none()
        return max(int(self.clock()), int(head or 0))

    def facts(self, requests: Sequence[Any], now: int | None = None, *, offers: bool = True) -> Facts:
        """The facts ``state_of`` reads for ``requests``: one query per table, however many requests."""
        now = self.now() if now is None else now
        ids = sorted({r.piece_id for r in requests})
        pieces: dict[int, Any] = {}
        financings: dict[int, list[Any]] = defaultdict(list)
        grouped: dict[int, list[Any]] = defaultdict(list)
        if not ids:
            return Facts(now, pieces, financings, grouped, defaultdict(list))
        with self.store.connect() as connection:
            answered = load_declines(connection, requests)
        with self.engine.connect() as connection:
            for piece in connection.execute(
                select(
                    Piece.piece_id,
                    Piece.holder,
                    Piece.child_count,
                    Piece.financed,
                    Piece.claimed,
                    Root.status,
                    Root.maturity,
                )
                .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
                .where(Piece.chain_id == self.chain_id, Piece.piece_id.in_(ids))
            ):
                pieces[piece.piece_id] = piece
            for financing in connection.execute(
                select(Financing.piece_id, Financing.bank, Financing.seller, Financing.financed_at).where(
                    Financing.chain_id == self.chain_id, Financing.piece_id.in_(ids)
                )
            ):
                financings[financing.piece_id].append(financing)
        if offers:
            with self.store.connect() as connection:
                grouped.update(group_offers(connection, store.offers, "piece_id", "holder", ids))
        return Facts(now, pieces, financings, grouped, answered)

    def _accepted_detail(self, request: Any) -> str:
        return f"piece {request.piece_id} is sold; nothing to withdraw"

    def offered_pieces(self, party: Party) -> list[int]:
        """The pieces asked of ``party`` (as a bank, or as one of every bank) and not withdrawn: they, and the
        path to their roots, are shown to it (``api.v1.reads``)."""
        table = store.financing_requests
        banks = self.addressees(party)
        with self.store.connect() as connection:
            return list(
                connection.execute(
                    select(table.c.piece_id).where(table.c.bank.in_(banks), table.c.withdrawn_at.is_(None)).distinct()
                ).scalars()
            )

    def ask(self, party: Party, piece_id: int, bank: str, expires_in: int, maturity: int) -> FinancingRequestOut:
        """The holder's request of ``bank`` (``EVERY_BANK``: all) for ``piece_id``, open ``expires_in`` seconds and
        never past ``maturity``. Asking again while it is live answers it unchanged; once it was withdrawn, has
        expired or was declined, asking again reopens it (made now, with the new expiry)."""
        now = self.now()
        row = self._ask(party, piece_id, bank, now, min(now + expires_in, maturity), {})
        return request_out(row, self.facts([row], now), party)

    # -- the credit report's grant ---------------------------------------------------------------

    def grants_report(self, bank: str, target: str) -> bool:
        """Whether ``target`` has a live request (open or offered) to ``bank`` or to every bank. The caller
        has checked that ``bank`` is an active bank: a request to every bank opens the report to each of them."""
        table = store.financing_requests
        now = self.now()
        with self.store.connect() as connection:
            rows = connection.execute(
                select(table).where(
                    table.c.holder == target,
                    table.c.bank.in_((bank, EVERY_BANK)),
                    table.c.withdrawn_at.is_(None),
                    or_(table.c.expires_at.is_(None), table.c.expires_at > now),
                )
            ).all()
        if not rows:
            return False
        facts = self.facts(rows, now, offers=False)  # open or offered grant alike
        return any(state_of(row, facts) in LIVE for row in rows)

    # -- pricing recorded with an offer -----------------------------------------------------------------

    def exposure(self, bank: str, now: int) -> tuple[ExposureSums, int | None]:
        """The outstanding financing of ``bank`` by obligor (``o:ADDR``), seller (``s:ADDR``) and in total (``*``)
        (``api.v1.routes.banks``), with the index's cursor block it was read at."""
        sums = ExposureSums()
        cid = self.chain_id
        with self.engine.connect() as connection:
            indexed = connection.execute(select(Cursor.block_number).where(Cursor.chain_id == cid)).scalar_one_or_none()
            bought = connection.execute(
                select(Financing.price, Financing.seller, Root.debtor, Piece.amount, Piece.claimed)
                .join(Root, (Root.chain_id == Financing.chain_id) & (Root.root_id == Financing.root_id))
                .join(Piece, (Piece.chain_id == Financing.chain_id) & (Piece.piece_id == Financing.piece_id))
                .where(Financing.chain_id == cid, Financing.bank == bank, Root.status != "REPAID")
            ).all()
        for row in bought:
            price, amount, claimed = int(row.price), int(row.amount), int(row.claimed)
            if claimed >= amount:
                continue
            # The share of the price not yet collected, rounded up: exposure is never understated.
            left = -(-price * (amount - claimed) // amount) if amount else price
            sums.add("financed", (TOTAL, f"o:{row.debtor}", f"s:{row.seller}"), left)
        with self.store.connect() as connection:
            open_offers = connection.execute(
                select(store.offers.c.piece_id, store.offers.c.holder, store.offers.c.price).where(
                    store.offers.c.bank == bank, store.offers.c.deadline > now
                )
            ).all()
        if open_offers:
            ids = sorted({int(o.piece_id) for o in open_offers})
            with self.engine.connect() as connection:
                pieces = {
                    int(p.piece_id): p
                    for p in connection.execute(
                        select(Piece.piece_id, Piece.financed, Root.debtor, Root.status)
                        .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
                        .where(Piece.chain_id == cid, Piece.piece_id.in_(ids))
                    )
                }
            for offer in open_offers:
                piece = pieces.get(int(offer.piece_id))
                if piece is None or piece.financed or piece.status != "OUTSTANDING":
                    continue  # taken (it shows as financed above, or by another bank), or can no longer be taken
                sums.add("offered", (TOTAL, f"o:{piece.debtor}", f"s:{offer.holder}"), int(offer.price))
        return sums, None if indexed is None else int(indexed)


def pricing_columns(pricing: PricingIn | None, price: int) -> dict[str, str | None]:
    """The ``api_offers`` columns for an offer's pricing, checked: at most ``QUOTE_MAX_BYTES`` of JSON with no
    integer a JavaScript reader would round; a ``scoring.pricing`` quote (``"result": "quoted"``) must name the
    offer's price, policy and model, and its inputs must be a valid quote request; a declined one prices nothing."""
    if pricing is None:
        return {"policy_hash": None, "model_version": None, "quote": None}
    quote = pricing.quote
    text = json.dumps(quote, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > QUOTE_MAX_BYTES:
        raise InvalidField("pricing.quote", f"is {size} bytes of JSON; at most {QUOTE_MAX_BYTES}")
    if not _safe_integers(quote):
        raise InvalidField("pricing.quote", "holds an integer beyond 2**53 - 1: write it as a decimal string")
    policy, model = pricing.policyHash.lower(), pricing.modelVersion.lower()
    result = quote.get("result")
    if result == "declined":
        raise InvalidField("pricing.quote", "is a declined quote: it prices no offer")
    if result == "quoted":
        _check_quote(quote, price, policy, model)
    return {"policy_hash": policy, "model_version": model, "quote": text}


def _check_quote(quote: dict[str, Any], price: int, policy: str, model: str) -> None:
    quoted = quote.get("price")
    if isinstance(quoted, str) and quoted.isascii() and quoted.isdigit():
        quoted = int(quoted)
    if isinstance(quoted, bool) or not isinstance(quoted, int):
        raise InvalidField("pricing.quote", "a quote's price must be a decimal string")
    if quoted != price:
        raise InvalidField("pricing.quote", f"prices the piece at {quoted}, not at the offer's price {price}")
    if str(quote.get("policy", policy)).lower() != policy:
        raise InvalidField("pricing.policyHash", f"the quote was made under policy {quote.get('policy')}")
    if str(quote.get("model", model)).lower() != model:
        raise InvalidField("pricing.modelVersion", f"the quote was made with model {quote.get('model')}")
    inputs = quote.get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("request"), dict):
        raise InvalidField("pricing.quote", "a quote records its inputs: {policy, request}")
    try:
        QuoteRequest.from_json(inputs["request"])
    except QuoteRequestError as exc:
        raise InvalidField("pricing.quote", f"inputs.request.{exc.field}: {exc.detail}") from exc
    except (TypeError, ValueError) as exc:  # a field of the wrong type that the request's checks do not name
        raise InvalidField("pricing.quote", f"inputs.request: {exc}") from exc


def _safe_integers(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(_safe_integers(v) for v in value.values())
    if isinstance(value, list):
        return all(_safe_integers(v) for v in value)
    return True


def pricing_out(row: Any) -> PricingOut | None:
    """An offer row's pricing as answered (None when the bank recorded none)."""
    if row["quote"] is None:
        return None
    quote = json.loads(row["quote"])
    inputs = quote.get("inputs") if isinstance(quote, dict) else None
    request = inputs.get("request") if isinstance(inputs, dict) else None
    block = request.get("as_of_block") if isinstance(request, dict) else None
    return PricingOut(
        policyHash=row["policy_hash"],
        modelVersion=row["model_version"],
        quote=quote,
        asOfBlock=block if isinstance(block, int) and not isinstance(block, bool) else None,
    )
