"""Pre-shipment finance over HTTP: the supplier's requests, the banks' inbox, signed offers, and a bank's pool.

* ``POST /orders/{orderId}/prepayment-requests`` (the order's supplier): ask one bank, or every active bank,
  to back a pre-payment of ``amount`` of a FUNDED order not yet pre-paid (201);
* ``GET /prepayment-requests`` (``state``, ``orderId``, ``after``, ``limit``) and ``GET .../{id}``: who sees
  what as in the financing inbox; the request shows a bank the order it prices;
* ``POST .../{id}/withdraw`` (the supplier) and ``POST .../{id}/decline`` (a bank asked, with its reasons);
* ``POST .../{id}/offers/typed-data`` (a bank asked): the EIP-712 ``PrepaymentOffer`` of the request's
  order and amount, the caller as guarantor, for the fee, deadline and nonce it names;
* ``POST .../{id}/offers`` (a bank asked; Idempotency-Key honoured, as every POST): the signed offer, checked
  (signer, nonce here and on chain, ``fee < amount``, deadline after now, request live to the bank) and kept
  with its pricing; ``GET .../{id}/offers?order=best``: lowest fee first, lapsed ones last;
* ``GET /banks/me/pool`` (a bank): its guarantee pool and what its open offers could still draw on it.

The supplier takes an offer with ``POST /orders/{orderId}/prepayment`` (``api.v1.routes.orders``), checked
here by ``offer_to_take``. States, visibility and the pool's sums are ``api.v1.prepayments``'.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query

from api.errors import Conflict, Forbidden, InvalidField
from api.v1.auth import Party
from api.v1.declines import DeclineIn, reasons_text
from api.v1.deps import ERRORS, Me, Services, Svc
from api.v1.financing import EVERY_BANK, LIVE
from api.v1.prepayment_schemas import (
    PoolOut,
    PrepaymentIn,
    PrepaymentOfferIn,
    PrepaymentOfferOut,
    PrepaymentRequestIn,
    PrepaymentRequestOut,
    PrepaymentRequestPage,
    PrepaymentTermsIn,
    RequestIdPattern,
)
from api.v1.prepayments import FUNDED, PrepaymentBook, preshipment_pricing, state_of
from api.v1.routes.common import require_signer, typed
from api.v1.schemas import RequestState, TypedDataOut
from ledger.domain.escrow import PrepaymentOffer

router = APIRouter(tags=["pre-shipment"], responses=ERRORS)

OrderId = Annotated[int, Path(ge=1, lt=2**63)]
RequestId = Annotated[str, Path(pattern=RequestIdPattern)]
#: The store keeps deadlines in a signed 64-bit column.
DEADLINE_MAX = 2**63


def book(svc: Services) -> PrepaymentBook:
    return PrepaymentBook(svc.engine, svc.store, svc.chain_id, svc.reads.financing)


@router.post("/orders/{order_id}/prepayment-requests", status_code=201, response_model=PrepaymentRequestOut)
def request_prepayment_offers(
    svc: Svc, party: Me, order_id: OrderId, body: PrepaymentRequestIn
) -> PrepaymentRequestOut:
    """Show ``bank`` (or every active bank) the order and ask it to back a pre-payment of ``amount``: only the
    supplier of a FUNDED order not yet pre-paid, for at most the order's amount. Asking again while the request is
    live answers it; once withdrawn, expired or declined, asking again reopens it."""
    order = svc.reads.order_row(party, order_id)  # 404 unless the party sees it
    if party.address != order.supplier:
        raise Forbidden(party.address, "ask for a pre-payment", f"only the supplier of order {order_id} may")
    if order.status != FUNDED:
        raise InvalidField("orderId", f"order {order_id} is {order.status}: only a FUNDED order is pre-paid", "path")
    if int(order.prepaid) != 0:
        raise InvalidField("orderId", f"order {order_id} is already pre-paid ({order.prepaid})", "path")
    if body.amount > int(order.amount):
        raise InvalidField("amount", f"{body.amount} is more than order {order_id}'s amount {order.amount}")
    if body.bank is not None:
        bank = svc.reads.member_or_none(body.bank)
        if bank is None or "bank" not in bank.roles or bank.status != "ACTIVE":
            raise InvalidField("bank", f"{body.bank} is not an active bank on the ledger")
    ship_by = int(order.ship_by)
    return book(svc).ask(party, order_id, body.bank or EVERY_BANK, body.amount, body.expiresIn, ship_by)


@router.get("/prepayment-requests", response_model=PrepaymentRequestPage)
def prepayment_inbox(
    svc: Svc,
    party: Me,
    state: RequestState | None = None,
    order_id: Annotated[int | None, Query(alias="orderId", ge=1, lt=2**63)] = None,
    after: Annotated[str | None, Query(pattern=RequestIdPattern, description="nextAfter of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PrepaymentRequestPage:
    """The pre-payment requests the party may see (a bank: to it or to every bank; a supplier: its own; an auditor:
    all), oldest first; a desk polls ``state=open``."""
    items, next_after = book(svc).page(party, state, order_id, after, limit)
    return PrepaymentRequestPage(items=items, nextAfter=next_after)


@router.get("/prepayment-requests/{request_id}", response_model=PrepaymentRequestOut)
def prepayment_request(svc: Svc, party: Me, request_id: RequestId) -> PrepaymentRequestOut:
    return book(svc).get(party, request_id)


@router.post("/prepayment-requests/{request_id}/withdraw", response_model=PrepaymentRequestOut)
def withdraw_prepayment_request(svc: Svc, party: Me, request_id: RequestId) -> PrepaymentRequestOut:
    """The supplier takes its request back: the banks no longer see the order through it."""
    return book(svc).withdraw(party, request_id)


@router.post("/prepayment-requests/{request_id}/decline", response_model=PrepaymentRequestOut)
def decline_prepayment_request(svc: Svc, party: Me, request_id: RequestId, body: DeclineIn) -> PrepaymentRequestOut:
    """A bank asked makes no offer on the request's current ask, and says why: the supplier reads the reasons."""
    return book(svc).decline(party, request_id, reasons_text(body))


def _bank(party: Party) -> None:
    if not party.has("bank"):
        raise Forbidden(party.address, "offer to back a pre-payment", "only a bank signs pre-payment offers")


def _offer(row: Any, bank: str, body: PrepaymentTermsIn) -> PrepaymentOffer:
    amount = int(row.amount)
    if body.fee >= amount:
        raise InvalidField("fee", f"{body.fee} is not below the request's amount {amount}: the supplier gets nothing")
    return PrepaymentOffer(int(row.order_id), bank, amount, body.fee, body.deadline, body.nonce)


@router.post("/prepayment-requests/{request_id}/offers/typed-data", response_model=TypedDataOut)
def prepayment_offer_typed_data(svc: Svc, party: Me, request_id: RequestId, body: PrepaymentTermsIn) -> TypedDataOut:
    """The EIP-712 ``PrepaymentOffer`` the bank signs: the request's order and amount, the caller as guarantor."""
    _bank(party)
    row = book(svc).for_bank(party, request_id)
    return typed(svc.escrow.prepayment_offer_document(_offer(row, party.address, body)))


@router.post("/prepayment-requests/{request_id}/offers", status_code=201, response_model=PrepaymentOfferOut)
def make_prepayment_offer(svc: Svc, party: Me, request_id: RequestId, body: PrepaymentOfferIn) -> PrepaymentOfferOut:
    """Keep the bank's signed offer on the request's current ask, with how it priced it, for the supplier to take."""
    _bank(party)
    prepayments = book(svc)
    row = prepayments.for_bank(party, request_id)
    offer = _offer(row, party.address, body)
    if body.deadline >= DEADLINE_MAX:
        raise InvalidField("deadline", "an offer's deadline must be below 2**63")
    now = prepayments.now()
    if body.deadline <= now:
        raise InvalidField("deadline", f"{body.deadline} is not after now ({now}, the chain's time): it has lapsed")
    state = state_of(row, prepayments.facts([row], now), party)
    if state not in LIVE:
        raise Conflict(
            "prepayment_request_not_open",
            f"prepayment request {request_id} is {state} to you: offers are made on a request open to you",
        )
    pricing = preshipment_pricing(body.pricing, offer.amount, offer.fee)
    require_signer(
        svc.escrow.prepayment_offer_document(offer), body.signature, party.address, "signature", chain=svc.chain
    )
    if prepayments.nonce_posted(party.address, body.nonce):
        raise InvalidField("nonce", f"pre-payment offer nonce {body.nonce} was already used for another offer")
    if svc.escrow.prepayment_nonce_used(party.address, body.nonce):
        raise InvalidField("nonce", f"pre-payment offer nonce {body.nonce} of {party.address} is used on chain")
    return prepayments.add_offer(
        party,
        row,
        fee=body.fee,
        deadline=body.deadline,
        nonce=body.nonce,
        signature=body.signature,
        pricing=pricing,
        now=now,
    )


@router.get("/prepayment-requests/{request_id}/offers", response_model=list[PrepaymentOfferOut])
def prepayment_offers(
    svc: Svc,
    party: Me,
    request_id: RequestId,
    order: Annotated[
        Literal["created", "best"],
        Query(description="created: oldest first; best: offers before their deadline, lowest fee first, then the rest"),
    ] = "created",
) -> list[PrepaymentOfferOut]:
    """The supplier sees every bank's offers on its request, to take the cheapest; a bank its own."""
    return book(svc).offers(party, request_id, order)


@router.get("/banks/me/pool", response_model=PoolOut)
def pool(svc: Svc, me: Me, supplier: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None) -> PoolOut:
    """The calling bank's guarantee pool (available, reserved, as indexed) and what its open pre-payment offers could
    still draw on it, in total and to ``supplier`` with its exposure on chain."""
    if not me.has("bank"):
        raise Forbidden(me.address, "read a bank's guarantee pool", "only a bank backs pre-payments")
    return book(svc).pool(me.address, None if supplier is None else to_checksum_address(supplier))


def offer_to_take(svc: Services, party: Party, order_id: int, body: PrepaymentIn) -> tuple[PrepaymentOffer, bytes]:
    """The offer the order's supplier draws on, and its signature, checked as far as the API can before the
    simulation: an offer posted on a request of this supplier's for this order (``offerId``), or an offer for this
    order signed by its guarantor; ``fee < amount <= the order's amount``; its deadline not passed; its nonce
    unused on chain."""
    if (body.offerId is None) == (body.offer is None):
        raise InvalidField("offerId", "give offerId, or offer and signature (one of the two)")
    prepayments = book(svc)
    where = "offerId"
    if body.offerId is not None:
        row = prepayments.offer_row(party, body.offerId)  # 404 unless made to this supplier
        if int(row.order_id) != order_id:
            raise InvalidField(where, f"offer {body.offerId} is on order {row.order_id}, not on order {order_id}")
        offer = PrepaymentOffer(
            int(row.order_id), row.bank, int(row.amount), int(row.fee), int(row.deadline), int(row.nonce)
        )
        signature = row.signature
    else:
        assert body.offer is not None
        if body.signature is None:
            raise InvalidField("signature", "an offer is taken with its guarantor's signature")
        terms, where = body.offer, "offer"
        offer = PrepaymentOffer(terms.orderId, terms.guarantor, terms.amount, terms.fee, terms.deadline, terms.nonce)
        if offer.order_id != order_id:
            raise InvalidField("offer.orderId", f"the offer is for order {offer.order_id}, not for order {order_id}")
        if offer.fee >= offer.amount:
            raise InvalidField("offer.fee", f"{offer.fee} is not below the offer's amount {offer.amount}")
        signature = body.signature
        require_signer(
            svc.escrow.prepayment_offer_document(offer), signature, offer.guarantor, "signature", chain=svc.chain
        )
    order = svc.reads.order_row(party, order_id)
    if offer.amount > int(order.amount):
        raise InvalidField(where, f"draws {offer.amount}, more than order {order_id}'s amount {order.amount}")
    now = prepayments.now()
    if offer.deadline < now:
        raise InvalidField(where, f"the offer lapsed at {offer.deadline} (now {now}, the chain's time)")
    if svc.escrow.prepayment_nonce_used(offer.guarantor, offer.nonce):
        raise InvalidField(where, f"the offer's nonce {offer.nonce} of {offer.guarantor} is already used on chain")
    return offer, bytes.fromhex(signature[2:])
