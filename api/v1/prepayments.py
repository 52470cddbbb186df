"""Pre-shipment finance through the API: a supplier asks banks to back a pre-payment of its funded order, banks
answer with signed, priced ``PrepaymentOffer``s, and the supplier draws one on chain.

TradeEscrow's **assured pre-payment** releases part of a FUNDED order's escrow to its supplier before it
ships, to pay for production. A bank backs it: its guarantee pool reserves the whole amount (it refunds
the buyer if the supplier then fails), the amount counts against the limit it published for the supplier
in CreditRegistry, and it takes a fee out of the draw, priced by its desk (``scoring.pricing``'s
``pre-shipment`` product: the supplier's own PD, its published limit capping it). The bank signs the
terms as an EIP-712 ``PrepaymentOffer(orderId, guarantor, amount, fee, deadline, nonce)``; the supplier
calls ``requestPrepayment(offer, signature)``: ``amount - fee`` reaches it, ``fee`` the bank.

**A request** (``POST /v1/orders/{id}/prepayment-requests``) is the supplier's application for
``amount`` of its order, to one bank or to every active bank (``EVERY_BANK``, as financing requests
do), open ``expiresIn`` seconds and never past the order's ship-by (a pre-payment pays for production;
an order past its ship-by is refundable). The API refuses it unless the indexed order is FUNDED and not
pre-paid, the caller is its supplier and ``0 < amount <= the order's amount``. One row per order,
supplier and bank: asking again answers the live request (409 if for another amount: withdraw it
first), or reopens one that was withdrawn, expired or declined as a new ask (its ``created_at``, the
**round**), with the new amount. The request shows the banks it addresses the order (buyer, amount,
ship-by, deliver-by, status, and the escrow's claim window, which bounds how long a pre-payment stays
out), because a bank that is not a side of the order cannot read it otherwise; a withdrawn request no
longer shows it to them.

**States** are derived, never stored, by ``state_of`` (the inbox, the decline rule and the offers'
rule read the same function): ``withdrawn``; ``accepted`` (the index shows the order pre-paid by a bank
the request addressed: ``acceptedBy`` and ``fee`` say who and for how much); ``expired`` (past
``expires_at``, or the order can no longer be pre-paid: not FUNDED, or pre-paid by a bank the request
did not ask); ``offered`` (an offer of this round that the viewer may see, before its deadline);
``declined``; ``open``. The facts are loaded for a whole page at once (``PrepaymentBook.facts``, one
query per table), and time is ``FinancingBook.now``: the later of the API's clock and the indexed
head's block time.

**The book** is ``api.v1.request_book.RequestBook`` on orders and their suppliers, as the financing book is on
pieces and their holders: asking and reopening by rounds, withdrawing, declining, who sees which and the
inbox's pages are its, once for both. **Who sees what** is its rule (``RequestBook.addressees``): a bank the
requests to it or to every bank, a supplier its own, an auditor all, anyone else nothing (404). A bank sees only
its own offers and declines on a request sent to every bank; the supplier and auditors see every bank's.

**Declines** are financing declines (``api.v1.declines``): the same table, keyed by the request's id
(time-ordered UUIDs, never shared with a financing request), the same one-answer-per-round rule, and the
same words for the supplier to read. The rules that read them (``seen_declines``, ``declined``) are the
request book's, reading a pre-payment request's supplier as the ``holder`` who asked (``RequestBook._select``).

**Offers** (``POST /v1/prepayment-requests/{id}/offers``) are stored with the round they answer, only
while the request is live to the bank, after the signature is checked to recover to the bank, the nonce
unused in this table and on chain, ``fee < amount`` and the deadline after ``now``; with how the bank
priced it (``api.v1.financing.pricing_columns``: a quote must name ``amount - fee`` as its price, and be
a ``pre-shipment`` quote of ``amount``). The supplier takes one with ``POST /v1/orders/{id}/prepayment``
(``{offerId}``, or an offer it holds and its signature): the prepared ``requestPrepayment`` call.

**The pool** (``GET /v1/banks/me/pool``): a bank's guarantee pool as indexed (available, reserved), and
what its open offers could still draw on it (``offered``: the largest open offer per order still FUNDED
and not pre-paid), in total and to one supplier with its on-chain exposure: what a desk checks before it
promises more.

The request and response bodies are ``api.v1.prepayment_schemas``'; the routes ``api.v1.routes.prepayments``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from api.v1.declines import decline_out
from api.v1.financing import FinancingBook, pricing_columns, pricing_out
from api.v1.prepayment_schemas import (
    PoolOut,
    PrepaymentOfferOut,
    PrepaymentOrderOut,
    PrepaymentRequestOut,
    SupplierPoolOut,
)
from api.v1.request_book import (
    EVERY_BANK,
    RequestBook,
    addressed,
    group_offers,
    live_state,
    load_declines,
    seen_declines,
)
from api.v1.schemas import PricingIn, RequestState
from ledger.index.sql.models import Cursor, Guarantee, Order, Pool, Setting
from scoring.policy import PRE_SHIPMENT

#: The escrow's claim window when the index holds no ``WindowsSet`` yet: TradeEscrow's constructor's 30 days.
DEFAULT_CLAIM_WINDOW = 30 * 86_400
FUNDED = "FUNDED"


# -- states ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the index and the API's tables say about a batch of requests, at ``now``."""

    now: int
    claim_window: int
    #: order id -> buyer, supplier, amount, ship_by, deliver_by, status, prepaid, guarantor, prepayment_fee
    orders: dict[int, Any]
    #: request id -> offers grouped by bank and round: bank, round, count, last_deadline
    offers: dict[str, list[Any]]
    #: request id -> the banks' declines of it (any round): bank, round, reasons, created_at
    declines: dict[str, list[Any]] = field(default_factory=dict)


def seen_offers(request: Any, facts: Facts, viewer: Party | None) -> list[Any]:
    """The offers on the request's current ask that ``viewer`` may see (``None``: the API, which sees all)."""
    everything = viewer is None or viewer.auditor or viewer.address == request.supplier
    return [
        group
        for group in facts.offers.get(request.id, [])
        if group.round == request.created_at and (everything or (viewer is not None and group.bank == viewer.address))
    ]


def prepayable(order: Any | None) -> bool:
    """Whether the order can still be pre-paid: indexed, FUNDED, nothing drawn early yet."""
    return order is not None and order.status == FUNDED and int(order.prepaid) == 0


def accepted_by(request: Any, facts: Facts) -> str | None:
    """The bank that pre-paid the request's order, if the request addressed it."""
    order = facts.orders.get(request.order_id)
    if order is None or int(order.prepaid) == 0 or not addressed(request, order.guarantor):
        return None
    return str(order.guarantor)


def state_of(request: Any, facts: Facts, viewer: Party | None = None) -> RequestState:
    """A request's state: the first of these that holds.

    1. ``withdrawn``: the supplier withdrew it;
    2. ``accepted``: the index shows the order pre-paid by a bank the request addressed (``accepted_by``);
    3. ``expired``: ``now`` has reached ``expires_at``, or the order can no longer be pre-paid (``prepayable``);
    4. ``offered``: an offer on this ask that ``viewer`` may see (``seen_offers``) is before its deadline;
    5. ``declined``: the bank declined this ask (``api.v1.request_book.declined``: to a bank its own decline; to the
       supplier, auditors and the API, the decline of the one bank asked);
    6. ``open``.

    4 to 6 are ``api.v1.request_book.live_state``, as for a financing request.
    """
    if request.withdrawn_at is not None:
        return "withdrawn"
    if accepted_by(request, facts) is not None:
        return "accepted"
    if facts.now >= request.expires_at or not prepayable(facts.orders.get(request.order_id)):
        return "expired"
    return live_state(request, facts, seen_offers(request, facts, viewer), viewer)


def _order_out(order: Any, facts: Facts) -> PrepaymentOrderOut:
    return PrepaymentOrderOut(
        orderId=order.order_id,
        buyer=order.buyer,
        supplier=order.supplier,
        amount=str(order.amount),
        shipBy=order.ship_by,
        deliverBy=order.deliver_by,
        status=order.status,
        prepaid=str(order.prepaid),
        claimWindow=facts.claim_window,
    )


def request_out(request: Any, facts: Facts, viewer: Party | None) -> PrepaymentRequestOut:
    state = state_of(request, facts, viewer)
    order = facts.orders.get(request.order_id)
    # A bank asked no longer sees the order once the supplier takes its request back.
    hidden = state == "withdrawn" and viewer is not None and not viewer.auditor and viewer.address != request.supplier
    bank = accepted_by(request, facts) if state == "accepted" else None
    return PrepaymentRequestOut(
        id=request.id,
        orderId=request.order_id,
        supplier=request.supplier,
        bank=None if request.bank == EVERY_BANK else request.bank,
        amount=str(request.amount),
        state=state,
        createdAt=request.created_at,
        expiresAt=request.expires_at,
        withdrawnAt=request.withdrawn_at,
        offers=sum(int(group.count) for group in seen_offers(request, facts, viewer)),
        declines=[decline_out(row) for row in seen_declines(request, facts, viewer)],
        acceptedBy=bank,
        fee=None if bank is None or order is None else str(order.prepayment_fee),
        order=None if order is None or hidden else _order_out(order, facts),
    )


def offer_out(row: Any) -> PrepaymentOfferOut:
    return PrepaymentOfferOut(
        id=row["id"],
        requestId=row["request_id"],
        orderId=row["order_id"],
        supplier=row["supplier"],
        bank=row["bank"],
        amount=str(row["amount"]),
        fee=str(row["fee"]),
        price=str(int(row["amount"]) - int(row["fee"])),
        deadline=row["deadline"],
        nonce=row["nonce"],
        signature=row["signature"],
        round=row["round"],
        createdAt=row["created_at"],
        pricing=pricing_out(row),
    )


def preshipment_pricing(pricing: PricingIn | None, amount: int, fee: int) -> dict[str, str | None]:
    """The offer's pricing columns (``pricing_columns``: a quote names its price, ``amount - fee``), and a quote that
    priced anything must have priced this: a ``pre-shipment`` request of ``amount``."""
    columns = pricing_columns(pricing, amount - fee)
    if pricing is not None and pricing.quote.get("result") == "quoted":
        request = pricing.quote["inputs"]["request"]  # pricing_columns checked it is a valid QuoteRequest
        if request.get("kind") != PRE_SHIPMENT:
            raise InvalidField("pricing.quote", f"prices {request.get('kind')!r} finance, not {PRE_SHIPMENT!r}")
        if str(request.get("face")) != str(amount):
            raise InvalidField("pricing.quote", f"prices a face of {request.get('face')}, not the amount {amount}")
    return columns


# -- the book ----------------------------------------------------------------------------------------------


class PrepaymentBook(RequestBook[Facts, PrepaymentRequestOut]):
    """The pre-payment requests and offers tables: ask, withdraw, decline, the inbox's pages (``RequestBook``'s, on
    orders and their suppliers), offers, the pool."""

    table = store.prepayment_requests
    subject, asker = "order_id", "supplier"
    noun, code, subject_noun = "prepayment request", "prepayment_request", "order"
    _state, _out = staticmethod(state_of), staticmethod(request_out)

    def __init__(self, engine: Engine, store_engine: Engine, chain_id: int, financing: FinancingBook) -> None:
        super().__init__(engine, store_engine, chain_id)
        self.financing = financing

    def now(self) -> int:
        return self.financing.now()

    def facts(self, requests: Sequence[Any], now: int | None = None) -> Facts:
        """The facts ``state_of`` reads for ``requests``: one query per table, however many requests."""
        now = self.now() if now is None else now
        order_ids = sorted({int(r.order_id) for r in requests})
        request_ids = sorted({str(r.id) for r in requests})
        orders: dict[int, Any] = {}
        grouped: dict[str, list[Any]] = defaultdict(list)
        answered: dict[str, list[Any]] = defaultdict(list)
        with self.engine.connect() as connection:
            windows = connection.execute(
                select(Setting.value).where(
                    Setting.chain_id == self.chain_id, Setting.contract == "TradeEscrow", Setting.name == "windows"
                )
            ).scalar_one_or_none()
            if order_ids:
                for order in connection.execute(
                    select(
                        Order.order_id,
                        Order.buyer,
                        Order.supplier,
                        Order.amount,
                        Order.ship_by,
                        Order.deliver_by,
                        Order.status,
                        Order.prepaid,
                        Order.guarantor,
                        Order.prepayment_fee,
                    ).where(Order.chain_id == self.chain_id, Order.order_id.in_(order_ids))
                ):
                    orders[order.order_id] = order
        claim_window = DEFAULT_CLAIM_WINDOW
        if isinstance(windows, dict) and windows.get("claimWindow") is not None:
            claim_window = int(windows["claimWindow"])
        if request_ids:
            with self.store.connect() as connection:
                answered = load_declines(connection, requests)
                grouped.update(group_offers(connection, store.prepayment_offers, "request_id", "round", request_ids))
        return Facts(now, claim_window, orders, grouped, answered)

    def _accepted_detail(self, request: Any) -> str:
        return f"order {request.order_id} is pre-paid"

    def _still_live(self, request: Any, terms: Mapping[str, Any]) -> None:
        if int(request.amount) != terms["amount"]:
            raise Conflict(
                "prepayment_request_live",
                f"prepayment request {request.id} for {request.amount} of order {request.order_id} is live: "
                "withdraw it before asking for another amount",
            )

    def get(self, party: Party, request_id: str) -> PrepaymentRequestOut:
        return self.out(self.row(party, request_id), party)

    def ask(
        self, party: Party, order_id: int, bank: str, amount: int, expires_in: int, ship_by: int
    ) -> PrepaymentRequestOut:
        """The supplier's request of ``bank`` (``EVERY_BANK``: all) for ``amount`` of ``order_id``, open
        ``expires_in`` seconds and never past ``ship_by``. Asking again while it is live answers it (409 for
        another amount); once withdrawn, expired or declined, asking again reopens it as a new ask, with the new
        amount."""
        now = self.now()
        if ship_by <= now:
            raise InvalidField("orderId", f"order {order_id}'s ship-by ({ship_by}) has passed", location="path")
        row = self._ask(party, order_id, bank, now, min(now + expires_in, ship_by), {"amount": amount})
        return request_out(row, self.facts([row], now), party)

    # -- offers ------------------------------------------------------------------------------------------------

    def add_offer(
        self,
        party: Party,
        row: Any,
        *,
        fee: int,
        deadline: int,
        nonce: int,
        signature: str,
        pricing: dict[str, str | None],
        now: int,
    ) -> PrepaymentOfferOut:
        """Store a checked offer of ``party`` on the request ``row`` (its current round); a nonce this bank used in
        another offer is a 422 naming ``nonce``."""
        values = {
            "id": str(uuid.uuid4()),
            "request_id": row.id,
            "round": row.created_at,
            "order_id": row.order_id,
            "supplier": row.supplier,
            "bank": party.address,
            "amount": int(row.amount),
            "fee": fee,
            "deadline": deadline,
            "nonce": nonce,
            "signature": signature,
            "created_at": now,
            **pricing,
        }
        try:
            with self.store.begin() as connection:
                connection.execute(insert(store.prepayment_offers).values(**values))
        except IntegrityError as exc:
            raise InvalidField("nonce", f"pre-payment offer nonce {nonce} was already used for another offer") from exc
        return offer_out(values)

    def offers(self, party: Party, request_id: str, order: Literal["created", "best"]) -> list[PrepaymentOfferOut]:
        """The offers on a request ``party`` sees: the supplier and auditors every bank's, a bank its own. ``best``:
        those before their deadline first, lowest fee first, then the lapsed ones."""
        row = self.row(party, request_id)
        table = store.prepayment_offers
        query = select(table).where(table.c.request_id == row.id)
        if not (party.auditor or party.address == row.supplier):
            query = query.where(table.c.bank == party.address)
        with self.store.connect() as connection:
            rows = [r._mapping for r in connection.execute(query.order_by(table.c.created_at, table.c.id))]
        if order == "best":
            now = self.now()
            rows.sort(key=lambda r: (r["deadline"] <= now, int(r["fee"])))
        return [offer_out(r) for r in rows]

    def offer_row(self, party: Party, offer_id: str) -> Any:
        """An offer made to ``party`` (its supplier): 404 for anyone else."""
        with self.store.connect() as connection:
            found = connection.execute(
                select(store.prepayment_offers).where(store.prepayment_offers.c.id == offer_id)
            ).one_or_none()
        if found is None or found.supplier != party.address:
            raise NotFound("prepayment offer", offer_id)
        return found

    def nonce_posted(self, bank: str, nonce: int) -> bool:
        with self.store.connect() as connection:
            found = connection.execute(
                select(store.prepayment_offers.c.id).where(
                    store.prepayment_offers.c.bank == bank, store.prepayment_offers.c.nonce == nonce
                )
            ).first()
        return found is not None

    # -- the pool ----------------------------------------------------------------------------------------------

    def pool(self, bank: str, supplier: str | None) -> PoolOut:
        """``bank``'s guarantee pool and what its open offers could still draw, in total and to ``supplier``."""
        now = self.now()
        cid = self.chain_id
        with self.engine.connect() as connection:
            indexed = connection.execute(select(Cursor.block_number).where(Cursor.chain_id == cid)).scalar_one_or_none()
            pool = connection.execute(
                select(Pool.available, Pool.reserved).where(Pool.chain_id == cid, Pool.guarantor == bank)
            ).one_or_none()
            guarantee = None
            if supplier is not None:
                guarantee = connection.execute(
                    select(Guarantee.exposure, Guarantee.shortfall).where(
                        Guarantee.chain_id == cid, Guarantee.guarantor == bank, Guarantee.supplier == supplier
                    )
                ).one_or_none()
        table = store.prepayment_offers
        with self.store.connect() as connection:
            live = connection.execute(
                select(table.c.order_id, table.c.supplier, table.c.amount).where(
                    table.c.bank == bank, table.c.deadline > now
                )
            ).all()
        drawable: dict[int, tuple[str, int]] = {}  # order id -> (supplier, the largest open offer on it)
        if live:
            ids = sorted({int(o.order_id) for o in live})
            with self.engine.connect() as connection:
                orders = {
                    int(o.order_id): o
                    for o in connection.execute(
                        select(Order.order_id, Order.status, Order.prepaid).where(
                            Order.chain_id == cid, Order.order_id.in_(ids)
                        )
                    )
                }
            for offer in live:
                if not prepayable(orders.get(int(offer.order_id))):
                    continue  # drawn (then it shows in the pool's reserved), or can no longer be
                _, before = drawable.get(int(offer.order_id), (offer.supplier, 0))
                drawable[int(offer.order_id)] = (offer.supplier, max(before, int(offer.amount)))
        offered = sum(amount for _, amount in drawable.values())
        mine: SupplierPoolOut | None = None
        if supplier is not None:
            exposure = 0 if guarantee is None else int(guarantee.exposure)
            to_supplier = sum(amount for who, amount in drawable.values() if who == supplier)
            mine = SupplierPoolOut(
                address=supplier,
                exposure=str(exposure),
                shortfall=str(0 if guarantee is None else int(guarantee.shortfall)),
                offered=str(to_supplier),
                outstanding=str(exposure + to_supplier),
            )
        return PoolOut(
            bank=bank,
            now=now,
            indexedBlock=None if indexed is None else int(indexed),
            available=str(0 if pool is None else int(pool.available)),
            reserved=str(0 if pool is None else int(pool.reserved)),
            offered=str(offered),
            supplier=mine,
        )
