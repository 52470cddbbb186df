"""``/v1/orders``: purchase orders the party is a side of, and the actions its side may take on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.errors import Forbidden
from api.v1.auth import Party
from api.v1.deps import ERRORS, Me, Svc
from api.v1.prepayment_schemas import PrepaymentIn
from api.v1.read_answers import response
from api.v1.routes.common import prepared, require_signer, typed
from api.v1.routes.prepayments import offer_to_take
from api.v1.schemas import (
    HashIn,
    OrderDetailOut,
    OrderIn,
    OrderPage,
    OrderTermsIn,
    PreparedOut,
    TypedDataOut,
)
from ledger.clients.escrow import TradeEscrowCalls, TradeEscrowClient
from ledger.domain.escrow import OrderTerms, po_ref_hash
from ledger.eth.calls import Call

router = APIRouter(prefix="/orders", tags=["orders"], responses=ERRORS)

OrderId = Annotated[int, Path(ge=1, lt=2**63)]
STATUSES = r"^(CREATED|FUNDED|SHIPPED|DELIVERED|INSPECTED|DISPUTED|RELEASED|REFUNDED|SETTLED|CANCELLED)$"


@router.get("", response_model=OrderPage)
async def orders(
    svc: Svc,
    party: Me,
    after: Annotated[int, Query(ge=0, lt=2**63)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
) -> Response:
    # The OrderPage's bytes (api.v1.read_answers): the model is the answer's schema, not built per request.
    return response(svc.reads.orders_json(party, after, limit, status))


@router.get("/{order_id}", response_model=OrderDetailOut)
async def order(svc: Svc, party: Me, order_id: OrderId) -> Response:
    return response(svc.reads.order_json(party, order_id))


# -- writes: typed data to co-sign, then transactions the party signs -----------------------------


def order_terms(svc: Svc, body: OrderTermsIn) -> OrderTerms:
    return OrderTerms(
        body.buyer,
        body.supplier,
        svc.settings.addresses["SettlementToken"],  # server-owned: the ledger's settlement token
        body.amount,
        body.shipBy,
        body.deliverBy,
        body.inspectionRequired,
        bytes.fromhex(body.termsHash[2:]),
        po_ref_hash(body.poReference),
        body.nonce,
        body.deadline,
    )


def order_document(svc: Svc, body: OrderTermsIn) -> dict[str, Any]:
    escrow = _escrow(svc)
    terms = order_terms(svc, body)
    return escrow.open_account_document(terms) if body.openAccount else escrow.order_document(terms)


def _escrow(svc: Svc) -> TradeEscrowClient:
    return svc.escrow


def require_side(party: Party, body: OrderTermsIn, action: str) -> None:
    if party.address not in (body.buyer, body.supplier):
        raise Forbidden(party.address, action, "only the buyer or the supplier of an order may")


@router.post("/typed-data", response_model=TypedDataOut)
def order_typed_data(svc: Svc, party: Me, body: OrderTermsIn) -> TypedDataOut:
    """The EIP-712 order both buyer and supplier sign (the settlement token is set by the server)."""
    require_side(party, body, "draft this order")
    return typed(order_document(svc, body))


@router.post("", response_model=PreparedOut)
def create_order(svc: Svc, party: Me, body: OrderIn) -> PreparedOut:
    """Checks both signatures, then the createOrder transaction for the caller (buyer or supplier) to sign."""
    require_side(party, body.terms, "create this order")
    document = order_document(svc, body.terms)
    require_signer(document, body.buyerSignature, body.terms.buyer, "buyerSignature", chain=svc.chain)
    require_signer(document, body.supplierSignature, body.terms.supplier, "supplierSignature", chain=svc.chain)
    terms = order_terms(svc, body.terms)
    calls = _escrow(svc).calls
    sigs = (bytes.fromhex(body.buyerSignature[2:]), bytes.fromhex(body.supplierSignature[2:]))
    if body.terms.openAccount:
        return prepared(svc, "createOpenAccountOrder", calls.create_open_account_order(terms, *sigs), party.address)
    return prepared(svc, "createOrder", calls.create_order(terms, *sigs), party.address)


def _order_for(svc: Svc, party: Party, order_id: int, action: str, sides: tuple[str, ...]) -> None:
    order = svc.reads.order_row(party, order_id)  # 404 unless the party sees it
    allowed = {"buyer": order.buyer, "supplier": order.supplier}
    if party.address not in {allowed[side] for side in sides}:
        raise Forbidden(party.address, action, f"only the {' or the '.join(sides)} of order {order_id} may")


def _simple(action: str, build: Callable[[TradeEscrowCalls, int], Call], sides: tuple[str, ...]) -> None:
    def route(svc: Svc, party: Me, order_id: OrderId) -> PreparedOut:
        _order_for(svc, party, order_id, action, sides)
        call = build(_escrow(svc).calls, order_id)
        return prepared(svc, call.function, call, party.address)

    first, *rest = build.__name__.split("_")
    function = first + "".join(word.title() for word in rest)  # the contract's name: the OpenAPI operation id
    route.__name__ = function
    route.__doc__ = f"The {function} transaction ({' or '.join(sides)} only)."
    router.post(f"/{{order_id}}/{action}", response_model=PreparedOut)(route)


_simple("fund", TradeEscrowCalls.fund, ("buyer",))
_simple("confirm-receipt", TradeEscrowCalls.confirm_receipt, ("buyer",))
_simple("cancel", TradeEscrowCalls.cancel_unfunded, ("buyer", "supplier"))
_simple("release", TradeEscrowCalls.release, ("buyer", "supplier"))
_simple("refund", TradeEscrowCalls.refund_unshipped, ("buyer", "supplier"))
_simple("close-dispute", TradeEscrowCalls.close_expired_dispute, ("buyer", "supplier"))


@router.post("/{order_id}/disputes", response_model=PreparedOut)
def open_dispute(svc: Svc, party: Me, order_id: OrderId, body: HashIn) -> PreparedOut:
    """The buyer opens a dispute; ``hash`` is the keccak256 of the reason document."""
    _order_for(svc, party, order_id, "open a dispute", ("buyer",))
    call = _escrow(svc).calls.open_dispute(order_id, bytes.fromhex(body.hash[2:]))
    return prepared(svc, "openDispute", call, party.address)


@router.post("/{order_id}/disputes/answer", response_model=PreparedOut)
def answer_dispute(svc: Svc, party: Me, order_id: OrderId, body: HashIn) -> PreparedOut:
    _order_for(svc, party, order_id, "answer the dispute", ("supplier",))
    call = _escrow(svc).calls.answer_dispute(order_id, bytes.fromhex(body.hash[2:]))
    return prepared(svc, "answerDispute", call, party.address)


@router.post("/{order_id}/prepayment", response_model=PreparedOut)
def request_prepayment(svc: Svc, party: Me, order_id: OrderId, body: PrepaymentIn) -> PreparedOut:
    """The requestPrepayment transaction for the supplier: it draws on a bank's signed ``PrepaymentOffer`` for this
    order, named by ``offerId`` (posted on one of its pre-payment requests) or given with its ``signature``;
    ``amount - fee`` reaches the supplier, ``fee`` the bank (``api.v1.prepayments``)."""
    _order_for(svc, party, order_id, "request a pre-payment", ("supplier",))
    offer, signature = offer_to_take(svc, party, order_id, body)
    call = _escrow(svc).calls.request_prepayment(offer, signature)
    return prepared(svc, "requestPrepayment", call, party.address)
