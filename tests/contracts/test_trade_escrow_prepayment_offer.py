"""TradeEscrow assured pre-payment, the bank's signed, priced offer: its fee split between the guarantor and the
supplier, its deadline, its nonce, and a signature that must be the guarantor's on this escrow's domain."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ledger.domain.escrow import PrepaymentOffer
from ledger.eth import eip712
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    DAY,
    HOUR,
    LIMIT,
    POOL,
    UNIT,
    ZERO_ADDRESS,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    balance,
    balances,
    escrow_of,
    events,
    high_s,
    mined_revert,
    new_order,
    open_world,
    passes_at,
    prepayment_offer_of,
    request_prepayment,
    sign_in_domain,
    sign_prepayment,
)
from tests.support.prepayment import FEE, PREPAID, credit, credit_of, prepay, refused, second_bank
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


# -- the bank's signed, priced offer ----------------------------------------------------------


@pytest.mark.parity
def test_the_fee_goes_to_the_guarantor_and_the_rest_to_the_supplier(deployed: Deployed, world: World) -> None:
    escrow, bank, supplier = escrow_of(deployed), addr(deployed, "bank"), addr(deployed, "tier1")
    before, bank_before = balances(deployed), balance(deployed, bank)
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)
    assert not escrow.prepayment_nonce_used(bank, offer.nonce)

    receipt = request_prepayment(deployed, offer)

    assert events(deployed, receipt) == [
        (
            "PrepaymentReleased",
            {
                "orderId": world.funded,
                "supplier": supplier,
                "guarantor": bank,
                "amount": PREPAID,
                "fee": FEE,
                "limitLeft": LIMIT - PREPAID,
                "nonce": offer.nonce,
            },
        )
    ]
    order = escrow.order(world.funded)
    assert (order.prepaid, order.prepayment_fee, order.paid_to_supplier, order.escrowed) == (
        PREPAID,
        FEE,
        PREPAID - FEE,
        AMOUNT - PREPAID,
    )
    # The guarantee, the exposure and the pool's reserve cover the whole draw, fee included.
    assert credit(deployed) == credit_of(
        pool=(POOL - PREPAID, PREPAID), exposure=PREPAID, shortfall=0, available=LIMIT - PREPAID
    )
    assert balances(deployed) == (before[0], before[1] + PREPAID - FEE)
    assert balance(deployed, bank) == bank_before + FEE
    assert escrow.prepayment_nonce_used(bank, offer.nonce)
    assert_money_accounted(deployed)


def test_a_fee_one_below_the_amount_leaves_the_supplier_one_unit(deployed: Deployed, world: World) -> None:
    before = balances(deployed)

    prepay(deployed, world.funded, PREPAID, fee=PREPAID - 1)

    assert balances(deployed) == (before[0], before[1] + 1)
    assert escrow_of(deployed).order(world.funded).paid_to_supplier == 1
    assert_money_accounted(deployed)


@pytest.mark.parity
@pytest.mark.parametrize("fee", [PREPAID, PREPAID + 1, 2**256 - 1])
def test_a_fee_not_below_the_amount_reverts_with_invalid_fee(deployed: Deployed, world: World, fee: int) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=fee)

    assert refused(lambda: request_prepayment(deployed, offer)) == (
        "TradeEscrowInvalidFee",
        {"fee": fee, "amount": PREPAID},
    )
    assert not escrow_of(deployed).prepayment_nonce_used(offer.guarantor, offer.nonce)


def test_an_offer_is_good_up_to_and_including_its_deadline(deployed: Deployed, world: World) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE, deadline_in=HOUR)
    fn = escrow_of(deployed).contract.functions.requestPrepayment(offer.as_tuple(), sign_prepayment(deployed, offer))
    supplier = acct(deployed, "tier1")

    assert passes_at(deployed, offer.deadline, fn, supplier)
    assert not passes_at(deployed, offer.deadline + 1, fn, supplier)


@pytest.mark.parity
def test_an_expired_offer_reverts_with_prepayment_offer_expired(deployed: Deployed, world: World) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE, deadline_in=HOUR)
    advance_to(deployed, offer.deadline + 1)
    fn = escrow_of(deployed).contract.functions.requestPrepayment(offer.as_tuple(), sign_prepayment(deployed, offer))

    reverted = mined_revert(deployed, fn, acct(deployed, "tier1"))

    assert reverted.error == "TradeEscrowPrepaymentOfferExpired"
    assert reverted.error_args["deadline"] == offer.deadline
    assert reverted.error_args["nowTimestamp"] > offer.deadline
    assert escrow_of(deployed).order(world.funded).prepaid == 0


@pytest.mark.parity
def test_a_used_offer_is_refused_on_its_own_order_and_on_any_other(deployed: Deployed, world: World) -> None:
    offer = prepayment_offer_of(deployed, world.funded, 10_000 * UNIT, fee=100 * UNIT, nonce=7)
    signature = sign_prepayment(deployed, offer)
    request_prepayment(deployed, offer, signature=signature)
    replayed = ("TradeEscrowPrepaymentOfferReplayed", {"guarantor": offer.guarantor, "nonce": 7})

    # The very same offer and signature again: the replay is caught before the order's own check.
    assert refused(lambda: request_prepayment(deployed, offer, signature=signature)) == replayed
    # The bank's nonce is spent on every order, even for an offer the bank signs anew.
    other = replace(offer, order_id=new_order(deployed))
    assert refused(lambda: request_prepayment(deployed, other)) == replayed
    # A fresh nonce is accepted.
    request_prepayment(deployed, replace(other, nonce=8))
    assert escrow_of(deployed).order(other.order_id).prepaid == 10_000 * UNIT


@pytest.mark.parametrize("signer", ["tier1", "core", "arbiter"])
def test_an_offer_not_signed_by_its_guarantor_reverts_with_invalid_signer(
    deployed: Deployed, world: World, signer: str
) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)

    assert refused(lambda: request_prepayment(deployed, offer, signer=acct(deployed, signer))) == (
        "TradeEscrowInvalidSigner",
        {"expected": addr(deployed, "bank"), "recovered": addr(deployed, signer)},
    )
    assert not escrow_of(deployed).prepayment_nonce_used(offer.guarantor, offer.nonce)


@pytest.mark.parametrize(
    "change",
    [
        {"order_id": "other"},
        {"amount": PREPAID + 1},
        {"fee": FEE - 1},
        {"fee": 0},
        {"deadline": "later"},
        {"nonce": 99},
    ],
    ids=["order", "amount", "fee", "no-fee", "deadline", "nonce"],
)
def test_an_offer_altered_after_the_bank_signed_it_reverts_with_invalid_signer(
    deployed: Deployed, world: World, change: dict[str, Any]
) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)
    signature = sign_prepayment(deployed, offer)
    if change.get("order_id") == "other":
        change = {"order_id": new_order(deployed)}
    if change.get("deadline") == "later":
        change = {"deadline": offer.deadline + DAY}
    altered = replace(offer, **change)

    error, args = refused(lambda: request_prepayment(deployed, altered, signature=signature))

    assert (error, args["expected"]) == ("TradeEscrowInvalidSigner", addr(deployed, "bank"))
    assert args["recovered"] not in (addr(deployed, "bank"), ZERO_ADDRESS)
    # Unaltered, the signature is good.
    request_prepayment(deployed, offer, signature=signature)


def test_an_offer_cannot_be_presented_as_another_banks(deployed: Deployed, world: World) -> None:
    bank2 = second_bank(deployed)
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)
    signature = sign_prepayment(deployed, offer)  # the world's bank signs
    as_bank2 = replace(offer, guarantor=bank2.address)

    assert refused(lambda: request_prepayment(deployed, as_bank2, signature=signature))[1]["expected"] == bank2.address
    assert refused(lambda: request_prepayment(deployed, as_bank2, signer=acct(deployed, "bank"))) == (
        "TradeEscrowInvalidSigner",
        {"expected": bank2.address, "recovered": addr(deployed, "bank")},
    )
    # Signed by bank-2 itself, the offer draws on bank-2's pool and limit, and pays bank-2 the fee.
    bank2_before = balance(deployed, bank2.address)
    request_prepayment(deployed, as_bank2, signer=bank2)
    escrow = escrow_of(deployed)
    assert (escrow.order(world.funded).guarantor, escrow.pool(bank2.address)) == (
        bank2.address,
        (POOL - PREPAID, PREPAID),
    )
    assert balance(deployed, bank2.address) == bank2_before + FEE
    assert escrow.pool(addr(deployed, "bank")) == (POOL, 0)
    assert_money_accounted(deployed, [bank2.address])


@pytest.mark.parametrize("domain", ["chainId", "verifyingContract", "name"])
def test_an_offer_signed_for_another_domain_reverts_with_invalid_signer(
    deployed: Deployed, world: World, domain: str
) -> None:
    escrow = escrow_of(deployed)
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)
    other = {"chainId": 1, "verifyingContract": deployed.addresses["Receivables"], "name": "Receivables"}[domain]
    signature = sign_in_domain(acct(deployed, "bank"), escrow.prepayment_offer_document(offer), **{domain: other})

    error, args = refused(lambda: request_prepayment(deployed, offer, signature=signature))

    assert (error, args["expected"]) == ("TradeEscrowInvalidSigner", addr(deployed, "bank"))


def test_a_malformed_or_malleable_signature_is_refused(deployed: Deployed, world: World) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, fee=FEE)
    signature = sign_prepayment(deployed, offer)

    assert refused(lambda: request_prepayment(deployed, offer, signature=high_s(signature))) == (
        "TradeEscrowMalleableSignature",
        {"index": 0},
    )
    assert refused(lambda: request_prepayment(deployed, offer, signature=bytes(65))) == (
        "TradeEscrowInvalidSigner",
        {"expected": addr(deployed, "bank"), "recovered": ZERO_ADDRESS},
    )


def test_the_offer_digest_is_the_typed_data_the_client_signs(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    offer = PrepaymentOffer(world.funded, addr(deployed, "bank"), PREPAID, FEE, 2**64 - 1, 2**256 - 1)

    on_chain = bytes(escrow.contract.functions.prepaymentOfferDigest(offer.as_tuple()).call())

    assert on_chain == eip712.digest(escrow.prepayment_offer_document(offer))
    assert eip712.recover(escrow.prepayment_offer_document(offer), sign_prepayment(deployed, offer)) == offer.guarantor


def test_the_offers_own_checks_come_before_the_orders(deployed: Deployed, world: World) -> None:
    """An expired or replayed offer is refused as such, whatever the order it names."""
    used = prepayment_offer_of(deployed, world.funded, UNIT)
    request_prepayment(deployed, used)

    assert refused(lambda: request_prepayment(deployed, replace(used, order_id=40)))[0] == (
        "TradeEscrowPrepaymentOfferReplayed"
    )
    assert refused(lambda: request_prepayment(deployed, replace(used, nonce=used.nonce + 1, deadline=0)))[0] == (
        "TradeEscrowPrepaymentOfferExpired"
    )
    # Past the offer's checks, the order's come first: a fee check never hides a wrong caller.
    fresh = prepayment_offer_of(deployed, new_order(deployed), PREPAID, fee=PREPAID)
    assert refused(lambda: request_prepayment(deployed, fresh, "core"))[0] == "TradeEscrowNotSupplier"
