"""The world of the escrow model's tests: parties, a roster, order terms, and calls that move an order on.

The model needs no chain, so parties are plain addresses derived from a tag (``party("bank")``), the
clock is an argument (``T0`` plus whole days) and each test builds its own ``EscrowModel`` with
``new_model()``. ``create``, ``funded`` and ``delivered`` take an order to a stage by the rules' own
calls, so a test starts where its rule applies; ``prepay`` accepts a bank's ``PrepaymentOffer``
(``offer``) as the supplier; ``rejected`` returns the ``ModelRejected`` a call raises, whose error
name and arguments are what the contract's custom error carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from ledger.domain.escrow import Milestone, OrderTerms, PrepaymentOffer
from ledger.model import Effect, EscrowModel, ModelRejected, OracleKind, Roster
from ledger.model.escrow import (
    DEFAULT_WINDOWS,
    ROLE_ADMIN,
    ROLE_ARBITER,
    ROLE_BANK,
    ROLE_CORE,
    ROLE_ORACLE,
    ROLE_SUPPLIER,
)


def party(tag: str) -> str:
    return to_checksum_address("0x" + keccak(text=tag)[:20].hex())


ADMIN, BUYER, SUPPLIER, OTHER_SUPPLIER = party("admin"), party("buyer"), party("supplier"), party("supplier-2")
BANK, CARRIER, INSPECTOR, ARBITER = party("bank"), party("carrier"), party("inspector"), party("arbiter")
STRANGER, ESCROW, TOKEN, OTHER_TOKEN = party("stranger"), party("escrow"), party("token"), party("other-token")
DAY = 86_400
T0 = 1_800_000_000
AMOUNT = 1_000_000
CLAIM = DEFAULT_WINDOWS.claim_window


def roster() -> Roster:
    r = Roster()
    r.set_member(ADMIN, ROLE_ADMIN)
    r.set_member(BUYER, ROLE_CORE)
    r.set_member(SUPPLIER, ROLE_SUPPLIER)
    r.set_member(OTHER_SUPPLIER, ROLE_SUPPLIER)
    r.set_member(BANK, ROLE_BANK)
    r.set_member(CARRIER, ROLE_ORACLE, OracleKind.CARRIER)
    r.set_member(INSPECTOR, ROLE_ORACLE, OracleKind.INSPECTOR)
    r.set_member(ARBITER, ROLE_ARBITER)
    return r


def new_model() -> EscrowModel:
    return EscrowModel(escrow=ESCROW, currency=TOKEN, roster=roster())


def terms(nonce: int = 0, **changes: Any) -> OrderTerms:
    base = OrderTerms(
        buyer=BUYER,
        supplier=SUPPLIER,
        token=TOKEN,
        amount=AMOUNT,
        ship_by=T0 + 10 * DAY,
        deliver_by=T0 + 20 * DAY,
        inspection_required=False,
        terms_hash=keccak(text="incoterms FCA"),
        po_ref_hash=keccak(text=f"PO-{nonce}"),
        nonce=nonce,
        deadline=T0 + DAY,
    )
    return replace(base, **changes)


def create(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    t = t or terms(nonce=model.order_count)
    effect = model.create_order(t, buyer_signer=t.buyer, supplier_signer=t.supplier, caller=t.supplier, now=now)
    assert effect.order_id is not None
    return effect.order_id


def funded(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    order_id = create(model, t, now)
    model.fund(order_id, caller=model.order(order_id).terms.buyer, now=now)
    return order_id


def attest(model: EscrowModel, order_id: int, milestone: Milestone, now: int, occurred_at: int | None = None) -> Effect:
    oracle = CARRIER if milestone <= Milestone.DELIVERED else INSPECTOR
    evidence = keccak(text=f"epcis:{order_id}:{milestone.name}")
    return model.attest(
        order_id, milestone, now if occurred_at is None else occurred_at, evidence, [oracle], caller=STRANGER, now=now
    )


def delivered(model: EscrowModel, t: OrderTerms | None = None, now: int = T0) -> int:
    order_id = funded(model, t, now)
    attest(model, order_id, Milestone.SHIPPED, now)
    attest(model, order_id, Milestone.DELIVERED, now)
    return order_id


def with_credit(model: EscrowModel, limit: int = AMOUNT, pool: int = AMOUNT, valid_until: int = T0 + 90 * DAY) -> None:
    nonce = model.credit.nonce(BANK)
    model.credit.publish(
        bank=BANK, party=SUPPLIER, limit=limit, valid_until=valid_until, nonce=nonce, signer=BANK, now=T0
    )
    model.fund_pool(pool, caller=BANK, now=T0)


def offer(
    model: EscrowModel,
    order_id: int,
    amount: int,
    *,
    fee: int = 0,
    guarantor: str = BANK,
    deadline: int = T0 + DAY,
    nonce: int | None = None,
) -> PrepaymentOffer:
    """``guarantor``'s offer to back ``amount`` of ``order_id`` for ``fee``; its lowest unused nonce by default."""
    if nonce is None:
        nonce = 0
        while model.prepayment_nonce_used(guarantor, nonce):
            nonce += 1
    return PrepaymentOffer(order_id, guarantor, amount, fee, deadline, nonce)


_GUARANTOR = "the offer's guarantor"


def prepay(
    model: EscrowModel,
    order_id: int,
    amount: int,
    *,
    fee: int = 0,
    guarantor: str = BANK,
    caller: str = SUPPLIER,
    now: int = T0,
    signer: str | None = _GUARANTOR,
) -> Effect:
    """``caller`` accepts ``guarantor``'s fresh offer, signed by the guarantor (or by ``signer``; None: no one)."""
    o = offer(model, order_id, amount, fee=fee, guarantor=guarantor, deadline=max(now, T0) + DAY)
    return model.request_prepayment(o, signer=guarantor if signer == _GUARANTOR else signer, caller=caller, now=now)


def rejected(call: Callable[[], object]) -> ModelRejected:
    with pytest.raises(ModelRejected) as raised:
        call()
    return raised.value
