"""The escrow model's orders: co-signed creation, the order of its checks, funding and cancelling.

No chain: ``tests/contracts/test_trade_escrow_orders.py`` checks the contract, and
``tests/contracts/test_trade_escrow_properties.py`` holds the model to it call for call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak

from ledger.domain.escrow import OrderStatus
from ledger.model import Effect, Transfer
from ledger.model.escrow import ZERO_ADDRESS, ZERO_HASH
from tests.ledger.model.escrow_model_helpers import (
    AMOUNT,
    BANK,
    BUYER,
    DAY,
    ESCROW,
    OTHER_TOKEN,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    create,
    new_model,
    rejected,
    terms,
)


def test_a_new_order_takes_the_next_id_and_uses_up_its_nonce_and_po_reference() -> None:
    model = new_model()
    t = terms()
    assert create(model, t) == 1 and create(model, terms(nonce=1)) == 2
    assert model.order(1).status is OrderStatus.CREATED and model.order(1).created_at == T0
    assert model.nonce_used(BUYER, 0) and model.order_id_of_po_ref(t.po_ref_hash) == 1
    again = rejected(lambda: create(model, replace(t, po_ref_hash=keccak(text="other"))))
    assert (again.error, again.error_args) == ("TradeEscrowNonceUsed", {"buyer": BUYER, "nonce": 0})
    taken = rejected(lambda: create(model, replace(t, nonce=7)))
    assert (taken.error, taken.error_args) == ("TradeEscrowPoRefTaken", {"poRefHash": t.po_ref_hash, "orderId": 1})


@pytest.mark.parametrize(
    ("change", "caller", "error"),
    [
        # Every one of these terms is wrong in several ways; the contract reports the first check.
        ({"deadline": T0 - 1, "amount": 0}, STRANGER, "TradeEscrowNotParty"),
        ({"deadline": T0 - 1, "supplier": BUYER}, BUYER, "TradeEscrowSignatureExpired"),
        ({"supplier": BUYER, "amount": 0}, BUYER, "TradeEscrowSelfTrade"),
        ({"buyer": STRANGER, "token": OTHER_TOKEN}, SUPPLIER, "TradeEscrowBuyerNotEligible"),
        ({"supplier": BANK, "amount": 0}, BUYER, "TradeEscrowSupplierNotEligible"),
        ({"token": OTHER_TOKEN, "amount": 0}, BUYER, "TradeEscrowTokenNotAllowed"),
        ({"amount": 0, "ship_by": T0}, BUYER, "TradeEscrowInvalidAmount"),
        ({"ship_by": T0, "po_ref_hash": ZERO_HASH}, BUYER, "TradeEscrowInvalidDates"),
        ({"deliver_by": T0 + 10 * DAY - 1}, BUYER, "TradeEscrowInvalidDates"),
        ({"po_ref_hash": ZERO_HASH}, BUYER, "TradeEscrowMissingPoRef"),
    ],
)
def test_order_terms_are_checked_in_the_contracts_order(change: dict[str, Any], caller: str, error: str) -> None:
    model = new_model()
    t = terms(**change)
    failure = rejected(
        lambda: model.create_order(t, buyer_signer=t.buyer, supplier_signer=t.supplier, caller=caller, now=T0)
    )
    assert failure.error == error
    assert model.order_count == 0


def test_order_boundaries_accept_deadline_now_and_deliver_by_equal_to_ship_by() -> None:
    model = new_model()
    create(model, terms(deadline=T0, ship_by=T0 + 1, deliver_by=T0 + 1))
    assert model.order(1).terms.deadline == T0


def test_a_co_signature_by_anyone_else_names_who_was_expected_and_who_signed() -> None:
    model = new_model()
    t = terms()
    forged = rejected(
        lambda: model.create_order(t, buyer_signer=t.buyer, supplier_signer=STRANGER, caller=t.supplier, now=T0)
    )
    assert (forged.error, forged.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": SUPPLIER, "recovered": STRANGER},
    )
    garbage = rejected(lambda: model.create_order(t, buyer_signer=None, supplier_signer=None, caller=BUYER, now=T0))
    assert garbage.error_args == {"expected": BUYER, "recovered": ZERO_ADDRESS}


def test_funding_moves_the_amount_from_the_buyer_into_escrow() -> None:
    model = new_model()
    order_id = create(model)
    not_buyer = rejected(lambda: model.fund(order_id, caller=SUPPLIER, now=T0))
    assert (not_buyer.error, not_buyer.error_args) == ("TradeEscrowNotBuyer", {"orderId": 1, "caller": SUPPLIER})
    effect = model.fund(order_id, caller=BUYER, now=T0 + 5)
    assert effect == Effect(("OrderFunded",), (Transfer(TOKEN, BUYER, ESCROW, AMOUNT),))
    order = model.order(order_id)
    assert (order.status, order.funded_at, order.escrowed, model.held()) == (OrderStatus.FUNDED, T0 + 5, AMOUNT, AMOUNT)
    twice = rejected(lambda: model.fund(order_id, caller=BUYER, now=T0))
    assert twice.error_args == {"orderId": 1, "status": OrderStatus.FUNDED}


def test_either_party_may_cancel_an_unfunded_order_and_nobody_a_funded_one() -> None:
    model = new_model()
    first, second = create(model), create(model)
    assert rejected(lambda: model.cancel_unfunded(first, caller=STRANGER, now=T0)).error == "TradeEscrowNotParty"
    model.cancel_unfunded(first, caller=SUPPLIER, now=T0 + 1)
    assert (model.order(first).status, model.order(first).closed_at) == (OrderStatus.CANCELLED, T0 + 1)
    model.fund(second, caller=BUYER, now=T0)
    assert rejected(lambda: model.cancel_unfunded(second, caller=BUYER, now=T0)).error == "TradeEscrowInvalidStatus"


def test_unknown_orders_read_as_zero_and_reject_every_call() -> None:
    model = new_model()
    assert model.order(9).status is OrderStatus.NONE and model.order(9).terms.buyer == ZERO_ADDRESS
    assert rejected(lambda: model.release(9, caller=BUYER, now=T0)).error_args == {"orderId": 9}
