"""``/v1/orders/drafts``: one side's signed order terms, kept for the other side to co-sign (``api.v1.order_drafts``).

Mounted before ``/v1/orders/{order_id}`` so that ``drafts`` is never read as an order id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.v1.deps import ERRORS, Me, Svc
from api.v1.order_drafts import Draft, DraftBook
from api.v1.routes.common import require_signer
from api.v1.routes.orders import order_document, order_terms, require_side
from api.v1.schemas import OrderTermsIn, Request, SafeInt, WalletSignature
from ledger.eth import eip712

router = APIRouter(prefix="/orders/drafts", tags=["orders"], responses=ERRORS)

DraftId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


class DraftIn(Request):
    terms: OrderTermsIn
    signature: WalletSignature = Field(
        description="your EIP-712 signature of POST /v1/orders/typed-data for these terms"
    )


class DraftOut(BaseModel):
    id: str
    terms: dict[str, Any] = Field(description="the terms as drafted: sign POST /v1/orders/typed-data for them")
    digest: str = Field(description="the EIP-712 digest both sides sign")
    drafter: str
    signature: str = Field(description="the drafter's signature: pass it as its side's signature to POST /v1/orders")
    state: str = Field(description="awaiting (the other side's signature), created, withdrawn or expired")
    awaiting: str | None = Field(description="the side whose signature is missing, while awaiting")
    orderId: str | None = Field(description="the order made from it, once created (decimal)")
    createdAt: SafeInt
    withdrawnAt: SafeInt | None


def _out(draft: Draft) -> DraftOut:
    return DraftOut(
        id=draft.id,
        terms=draft.terms,
        digest=draft.digest,
        drafter=draft.drafter,
        signature=draft.signature,
        state=draft.state,
        awaiting=draft.awaiting,
        orderId=None if draft.order_id is None else str(draft.order_id),
        createdAt=draft.created_at,
        withdrawnAt=draft.withdrawn_at,
    )


def _book(svc: Svc) -> DraftBook:
    return DraftBook(store_engine=svc.store, index=svc.engine, chain_id=svc.chain_id)


@router.post("", status_code=201, response_model=DraftOut)
def draft(svc: Svc, party: Me, body: DraftIn) -> DraftOut:
    """Draft an order with your signature (buyer or supplier); the other side co-signs it and creates it."""
    require_side(party, body.terms, "draft this order")
    document = order_document(svc, body.terms)
    require_signer(document, body.signature, party.address, "signature", chain=svc.chain)
    digest = "0x" + eip712.digest(document).hex()
    po_ref = "0x" + order_terms(svc, body.terms).po_ref_hash.hex()
    terms = body.terms.model_dump(mode="json")
    terms = {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in terms.items()}
    now = svc.reads.financing.now()
    return _out(_book(svc).draft(party, terms, body.signature, digest, po_ref, now))


@router.get("", response_model=list[DraftOut])
def drafts(svc: Svc, party: Me) -> list[DraftOut]:
    """The drafts you are a side of, newest first (the latest 200)."""
    return [_out(d) for d in _book(svc).list(party, svc.reads.financing.now())]


@router.get("/{draft_id}", response_model=DraftOut)
def one(svc: Svc, party: Me, draft_id: DraftId) -> DraftOut:
    return _out(_book(svc).get(party, draft_id, svc.reads.financing.now()))


@router.post("/{draft_id}/withdraw", response_model=DraftOut)
def withdraw(svc: Svc, party: Me, draft_id: DraftId) -> DraftOut:
    """Withdraw your draft before the other side creates the order (your signature stays valid until its
    deadline: a counterparty that kept it could still use it; withdrawing only hides it here)."""
    return _out(_book(svc).withdraw(party, draft_id, svc.reads.financing.now()))
