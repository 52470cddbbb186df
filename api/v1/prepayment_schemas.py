"""The ``/v1`` bodies of pre-shipment finance (``api.v1.prepayments``): requests, offers, the draw, the pool.

Kept beside ``api.v1.schemas`` (near its size limit) on its conventions: uint256 amounts, fees and nonces as
decimal strings (a JSON integer only up to 2**53 - 1), addresses EIP-55 checksummed, unknown fields refused.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.v1.declines import DeclineOut
from api.v1.schemas import (
    REQUEST_TERM,
    Address,
    Amount,
    AmountOut,
    Fee,
    Nonce,
    OrderRef,
    PricingIn,
    PricingOut,
    Request,
    RequestState,
    RequestTerm,
    SafeInt,
    Signature,
    Uint64,
    UintOut,
    WalletSignature,
)

RequestIdPattern = r"^[0-9a-f-]{36}$"


class PrepaymentRequestIn(Request):
    amount: Amount = Field(description="token units of the order's escrow to draw early (at most its amount)")
    bank: Address | None = Field(default=None, description="the bank asked; omitted or null: every active bank")
    expiresIn: RequestTerm = Field(
        default=REQUEST_TERM, description="seconds the request stays open (never past the order's ship-by)"
    )


class PrepaymentOrderOut(BaseModel):
    orderId: UintOut
    buyer: str
    supplier: str
    amount: AmountOut
    shipBy: UintOut = Field(description="UTC seconds (uint64, decimal)")
    deliverBy: UintOut = Field(description="UTC seconds (uint64, decimal)")
    status: str
    prepaid: AmountOut = Field(description="drawn early (fee included); 0 until a pre-payment")
    claimWindow: SafeInt = Field(
        description="seconds after delivery the buyer may claim (the escrow's window): a pre-payment is repaid "
        "from the order's payment by deliverBy + claimWindow at the latest"
    )


class PrepaymentRequestOut(BaseModel):
    id: str
    orderId: UintOut
    supplier: str
    bank: str | None = Field(description="the bank asked; null: every active bank")
    amount: AmountOut
    state: RequestState = Field(description="see api.v1.prepayments.state_of: withdrawn > accepted > expired > ...")
    createdAt: SafeInt = Field(description="when this ask (round) was made: moved when the request is reopened")
    expiresAt: SafeInt
    withdrawnAt: SafeInt | None
    offers: SafeInt = Field(description="offers on this ask that you may see (a bank: its own)")
    declines: list[DeclineOut] = Field(default=[], description="the reasons banks gave for no offer")
    acceptedBy: str | None = Field(default=None, description="accepted: the bank that backs the pre-payment")
    fee: AmountOut | None = Field(default=None, description="accepted: the fee the bank took out of the draw")
    order: PrepaymentOrderOut | None = Field(
        description="the order as indexed (null: not indexed, or, to a bank, the request was withdrawn)"
    )


class PrepaymentRequestPage(BaseModel):
    items: list[PrepaymentRequestOut]
    nextAfter: str | None = Field(description="pass as ?after= for the next page; null on the last page")


class PrepaymentTermsIn(Request):
    """The bank's terms; the order, the amount and the guarantor (the caller) come from the request."""

    fee: Fee = Field(description="token units the bank takes out of the draw; below the request's amount")
    deadline: Uint64 = Field(description="UTC seconds: the last second the supplier may draw on the offer")
    nonce: Nonce = Field(description="any uint256 this bank has not used in a pre-payment offer")


class PrepaymentOfferIn(PrepaymentTermsIn):
    signature: WalletSignature = Field(
        description="the bank's EIP-712 signature of the typed data served for these terms"
    )
    pricing: PricingIn | None = None


class PrepaymentOfferOut(BaseModel):
    id: str
    requestId: str
    orderId: UintOut
    supplier: str
    bank: str
    amount: AmountOut
    fee: AmountOut
    price: AmountOut = Field(description="amount - fee: what the supplier receives")
    deadline: UintOut
    nonce: UintOut
    signature: str
    round: SafeInt = Field(description="the request's createdAt (its ask) the offer answers")
    createdAt: SafeInt
    pricing: PricingOut | None = Field(default=None, description="how the bank priced it, if it said")


class SignedPrepaymentOfferIn(Request):
    """A ``PrepaymentOffer`` as the bank signed it (every field of its typed data's message)."""

    orderId: OrderRef
    guarantor: Address
    amount: Amount
    fee: Fee
    deadline: Uint64
    nonce: Nonce


class PrepaymentIn(Request):
    """Exactly one of the two: an offer posted on a request for this order, or an offer and its signature."""

    model_config = Request.model_config | {
        "json_schema_extra": {"oneOf": [{"required": ["offerId"]}, {"required": ["offer", "signature"]}]}
    }

    offerId: Annotated[str, Field(pattern=RequestIdPattern)] | None = None
    offer: SignedPrepaymentOfferIn | None = None
    signature: Signature | None = Field(default=None, description="the guarantor's signature of ``offer``")


class SupplierPoolOut(BaseModel):
    address: str
    exposure: AmountOut = Field(description="pre-payments this bank backs for the supplier on chain (its limit counts)")
    shortfall: AmountOut = Field(description="what the supplier owes this bank's pool after failing orders")
    offered: AmountOut = Field(description="what this bank's open offers to the supplier could still draw")
    outstanding: AmountOut = Field(description="exposure + offered")


class PoolOut(BaseModel):
    bank: str
    now: SafeInt = Field(description="UTC seconds: the later of the API's clock and the indexed head's block time")
    indexedBlock: SafeInt | None = Field(description="the index's cursor block the amounts were read at")
    available: AmountOut = Field(description="the pool's currency free to back a new pre-payment")
    reserved: AmountOut = Field(description="the pool's currency standing behind pre-payments drawn")
    offered: AmountOut = Field(description="what this bank's open offers could still draw (the largest per order)")
    supplier: SupplierPoolOut | None = Field(description="for the supplier asked for; null if none asked")
