"""The escrow model's assured pre-payment and the credit limits it draws on: the bank's signed offer
(deadline, nonce, fee below the amount, its own signature), the guarantee pool reserves what is drawn,
fee included, a refund claims the guarantee and records a shortfall until the supplier repays it, and
limits are published under the bank's own nonce and signature and lapse at valid-until or with the role.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ledger.domain.escrow import Milestone, OrderStatus
from ledger.model import CreditLimits, Effect, Transfer
from ledger.model.common import ZERO_ADDRESS
from ledger.model.escrow import ZERO_HASH
from tests.ledger.model.escrow_model_helpers import (
    AMOUNT,
    ARBITER,
    BANK,
    BUYER,
    DAY,
    ESCROW,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    attest,
    delivered,
    funded,
    new_model,
    offer,
    prepay,
    rejected,
    roster,
    terms,
    with_credit,
)

# -- assured pre-payment --------------------------------------------------------------------


def test_a_prepayment_draws_on_the_limit_and_reserves_the_pool() -> None:
    model = new_model()
    with_credit(model, limit=600_000, pool=500_000)
    order_id = funded(model)
    assert rejected(lambda: prepay(model, order_id, 400_000, caller=BUYER)).error == "TradeEscrowNotSupplier"
    assert rejected(lambda: prepay(model, order_id, 400_000, guarantor=BUYER)).error_args == {"account": BUYER}
    too_much = rejected(lambda: prepay(model, order_id, 500_001))
    assert (too_much.error, too_much.error_args) == (
        "TradeEscrowPoolInsufficient",
        {"guarantor": BANK, "requested": 500_001, "available": 500_000},
    )
    effect = prepay(model, order_id, 400_000)
    assert effect == Effect(("PrepaymentReleased",), (Transfer(TOKEN, ESCROW, SUPPLIER, 400_000),))
    order = model.order(order_id)
    assert (order.prepaid, order.escrowed, order.paid_to_supplier, order.guarantor) == (400_000, 600_000, 400_000, BANK)
    assert order.prepayment_fee == 0
    assert model.pool(BANK) == (100_000, 400_000)
    assert (model.exposure(BANK, SUPPLIER), model.available_limit(BANK, SUPPLIER, T0)) == (400_000, 200_000)
    again = rejected(lambda: prepay(model, order_id, 1))
    assert again.error == "TradeEscrowAlreadyPrepaid"
    second = funded(model)
    over_limit = rejected(lambda: prepay(model, second, 200_001))
    assert over_limit.error_args == {"supplier": SUPPLIER, "requested": 200_001, "available": 200_000}


def test_a_supplier_suspended_since_the_order_was_signed_cannot_draw_a_prepayment() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    model.roster.set_active(SUPPLIER, False)
    suspended = rejected(lambda: prepay(model, order_id, 1))
    assert (suspended.error, suspended.error_args) == ("TradeEscrowSupplierNotEligible", {"supplier": SUPPLIER})
    # Checked after who is asking: a stranger still hears that only the supplier may draw.
    assert rejected(lambda: prepay(model, order_id, 1, caller=STRANGER)).error == "TradeEscrowNotSupplier"
    model.roster.set_active(SUPPLIER, True)
    assert prepay(model, order_id, 1).events == ("PrepaymentReleased",)


def test_releasing_a_prepaid_order_frees_the_guarantee() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    prepay(model, order_id, 250_000)
    attest(model, order_id, Milestone.SHIPPED, T0)
    effect = model.confirm_receipt(order_id, caller=BUYER, now=T0)
    assert effect.events == ("ReceiptConfirmed", "ExposureReleased", "OrderReleased")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, SUPPLIER, 750_000),)
    assert model.order(order_id).paid_to_supplier == AMOUNT
    assert (model.pool(BANK), model.exposure(BANK, SUPPLIER), model.shortfall(BANK, SUPPLIER)) == ((AMOUNT, 0), 0, 0)


def test_refunding_a_prepaid_order_claims_the_guarantee_and_records_a_shortfall_until_repaid() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    prepay(model, order_id, 250_000)
    effect = model.refund_unshipped(order_id, caller=STRANGER, now=T0 + 11 * DAY)
    assert effect.events == ("GuaranteeClaimed", "OrderRefunded")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
    order = model.order(order_id)
    assert (order.paid_to_supplier, order.refunded_to_buyer, order.guarantee_claimed) == (250_000, AMOUNT, 250_000)
    assert order.paid_to_supplier + order.refunded_to_buyer == order.terms.amount + order.guarantee_claimed
    # The pool paid the buyer: it is 250k poorer, and that much of the limit stays in use.
    assert (model.pool(BANK), model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER)) == (
        (750_000, 0),
        250_000,
        250_000,
    )
    assert model.available_limit(BANK, SUPPLIER, T0) == 750_000
    over = rejected(lambda: model.repay_shortfall(SUPPLIER, BANK, 250_001, caller=SUPPLIER, now=T0))
    assert over.error_args == {"supplier": SUPPLIER, "amount": 250_001, "shortfall": 250_000}
    repaid = model.repay_shortfall(SUPPLIER, BANK, 100_000, caller=STRANGER, now=T0)
    assert repaid == Effect(("ShortfallRepaid", "ExposureReleased"), (Transfer(TOKEN, STRANGER, ESCROW, 100_000),))
    assert (model.pool(BANK), model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER)) == (
        (850_000, 0),
        150_000,
        150_000,
    )
    assert model.invariant_violations() == []


def test_a_split_larger_than_what_is_left_in_escrow_is_topped_up_by_the_pool() -> None:
    model = new_model()
    with_credit(model)
    order_id = delivered(model)
    # Prepaid orders must be prepaid while FUNDED; build one by hand.
    second = funded(model, terms(nonce=1))
    prepay(model, second, 400_000)
    attest(model, second, Milestone.SHIPPED, T0)
    attest(model, second, Milestone.DELIVERED, T0)
    model.open_dispute(second, ZERO_HASH, caller=BUYER, now=T0)
    effect = model.arbitrate(second, 700_000, caller=ARBITER, now=T0)
    assert effect.events == ("GuaranteeClaimed", "ExposureReleased", "DisputeResolved")
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, 700_000),)
    order = model.order(second)
    assert (order.paid_to_supplier, order.refunded_to_buyer, order.guarantee_claimed) == (400_000, 700_000, 100_000)
    assert (model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER), model.pool(BANK)) == (
        100_000,
        100_000,
        (900_000, 0),
    )
    assert model.order(order_id).status is OrderStatus.DELIVERED


# -- the bank's signed, priced offer --------------------------------------------------------


def test_the_fee_goes_to_the_bank_and_the_rest_to_the_supplier_while_the_whole_draw_is_guaranteed() -> None:
    model = new_model()
    with_credit(model, limit=600_000, pool=500_000)
    order_id = funded(model)
    o = offer(model, order_id, 400_000, fee=12_000, nonce=5)
    assert not model.prepayment_nonce_used(BANK, 5)

    effect = model.request_prepayment(o, signer=BANK, caller=SUPPLIER, now=T0)

    assert effect == Effect(
        ("PrepaymentReleased",),
        (Transfer(TOKEN, ESCROW, SUPPLIER, 388_000), Transfer(TOKEN, ESCROW, BANK, 12_000)),
    )
    order = model.order(order_id)
    assert (order.prepaid, order.prepayment_fee, order.paid_to_supplier, order.escrowed) == (
        400_000,
        12_000,
        388_000,
        600_000,
    )
    assert (model.pool(BANK), model.exposure(BANK, SUPPLIER)) == ((100_000, 400_000), 400_000)
    assert model.prepayment_nonce_used(BANK, 5) and not model.prepayment_nonce_used(BANK, 4)
    assert model.held() == AMOUNT - 400_000 + 500_000
    assert model.invariant_violations() == []


def test_with_a_fee_a_refund_still_takes_the_whole_draw_from_the_pool() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    prepay(model, order_id, 250_000, fee=10_000)

    effect = model.refund_unshipped(order_id, caller=STRANGER, now=T0 + 11 * DAY)

    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
    order = model.order(order_id)
    assert (order.paid_to_supplier, order.prepayment_fee, order.refunded_to_buyer, order.guarantee_claimed) == (
        240_000,
        10_000,
        AMOUNT,
        250_000,
    )
    assert (model.pool(BANK), model.shortfall(BANK, SUPPLIER), model.exposure(BANK, SUPPLIER)) == (
        (750_000, 0),
        250_000,
        250_000,
    )
    assert model.invariant_violations() == []


def test_a_fee_must_be_below_the_amount() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    for fee in (1_000, 1_001):
        failure = rejected(partial(prepay, model, order_id, 1_000, fee=fee))
        assert (failure.error, failure.error_args) == ("TradeEscrowInvalidFee", {"fee": fee, "amount": 1_000})
    # The amount is checked first: nothing drawn is refused as such, whatever the fee.
    assert rejected(lambda: prepay(model, order_id, 0, fee=0)).error == "TradeEscrowInvalidAmount"
    assert prepay(model, order_id, 1_000, fee=999).transfers == (
        Transfer(TOKEN, ESCROW, SUPPLIER, 1),
        Transfer(TOKEN, ESCROW, BANK, 999),
    )


def test_an_offer_is_good_up_to_its_deadline_and_once() -> None:
    model = new_model()
    with_credit(model)
    order_id, other = funded(model), funded(model)
    o = offer(model, order_id, 1_000, deadline=T0 + 60, nonce=3)
    expired = rejected(lambda: model.request_prepayment(o, signer=BANK, caller=SUPPLIER, now=T0 + 61))
    assert (expired.error, expired.error_args) == (
        "TradeEscrowPrepaymentOfferExpired",
        {"deadline": T0 + 60, "nowTimestamp": T0 + 61},
    )
    model.request_prepayment(o, signer=BANK, caller=SUPPLIER, now=T0 + 60)
    replayed = ("TradeEscrowPrepaymentOfferReplayed", {"guarantor": BANK, "nonce": 3})
    for again in (o, replace(o, order_id=other), replace(o, order_id=99)):
        failure = rejected(partial(model.request_prepayment, again, signer=BANK, caller=SUPPLIER, now=T0))
        assert (failure.error, failure.error_args) == replayed
    # The offer's own checks come before the order's: an expired offer for no order is expired.
    late = replace(o, order_id=99, nonce=4, deadline=T0 - 1)
    assert rejected(lambda: model.request_prepayment(late, signer=BANK, caller=SUPPLIER, now=T0)).error == (
        "TradeEscrowPrepaymentOfferExpired"
    )


def test_only_the_guarantors_own_signature_is_accepted_and_checked_last() -> None:
    model = new_model()
    with_credit(model)
    order_id = funded(model)
    for signer, recovered in ((SUPPLIER, SUPPLIER), (None, ZERO_ADDRESS), (BANK.lower(), None)):
        call = partial(prepay, model, order_id, 1_000, fee=10, signer=signer)
        if recovered is None:  # the same address in any case: accepted
            assert call().events == ("PrepaymentReleased",)
            continue
        failure = rejected(call)
        assert (failure.error, failure.error_args) == (
            "TradeEscrowInvalidSigner",
            {"expected": BANK, "recovered": recovered},
        )
        assert not model.prepayment_nonce_used(BANK, 0) and model.order(order_id).prepaid == 0
    # Every other check comes first: a bad fee by a stranger's signature is still a bad fee.
    second = funded(model)
    assert rejected(lambda: prepay(model, second, 1_000, fee=1_000, signer=None)).error == "TradeEscrowInvalidFee"


def test_a_limit_lapses_at_valid_until_and_with_the_banks_role() -> None:
    model = new_model()
    with_credit(model, valid_until=T0 + DAY)
    assert model.available_limit(BANK, SUPPLIER, T0 + DAY - 1) == AMOUNT
    assert model.available_limit(BANK, SUPPLIER, T0 + DAY) == 0
    model.roster.set_active(BANK, False)
    assert model.credit.limit_of(BANK, SUPPLIER, T0) == 0
    assert rejected(lambda: model.fund_pool(1, caller=BANK, now=T0)).error == "TradeEscrowNotGuarantor"
    # A suspended bank still takes back what is unreserved: withdrawPool checks no role.
    assert model.withdraw_pool(AMOUNT, caller=BANK, now=T0).transfers == (Transfer(TOKEN, ESCROW, BANK, AMOUNT),)


def test_pools_take_and_return_only_positive_available_amounts() -> None:
    model = new_model()
    assert rejected(lambda: model.fund_pool(0, caller=BANK, now=T0)).error_args == {"amount": 0}
    assert rejected(lambda: model.fund_pool(5, caller=STRANGER, now=T0)).error_args == {"account": STRANGER}
    model.fund_pool(10, caller=BANK, now=T0)
    assert rejected(lambda: model.withdraw_pool(0, caller=BANK, now=T0)).error == "TradeEscrowInvalidAmount"
    assert rejected(lambda: model.withdraw_pool(11, caller=BANK, now=T0)).error_args == {
        "guarantor": BANK,
        "requested": 11,
        "available": 10,
    }
    model.withdraw_pool(10, caller=BANK, now=T0)
    assert model.pool(BANK) == (0, 0) and model.held() == 0


# -- the credit registry --------------------------------------------------------------------


def test_limits_are_published_with_the_banks_next_nonce_and_its_own_signature() -> None:
    credit = CreditLimits(roster())

    def publish(**changes: object) -> Effect:
        grant: dict[str, object] = {
            "bank": BANK,
            "party": SUPPLIER,
            "limit": 5,
            "valid_until": T0 + 1,
            "nonce": credit.nonce(BANK),
            "signer": BANK,
            "now": T0,
        }
        grant.update(changes)
        return credit.publish(**grant)  # type: ignore[arg-type]

    assert rejected(lambda: publish(bank=SUPPLIER, signer=SUPPLIER)).error_args == {"bank": SUPPLIER}
    assert rejected(lambda: publish(party=STRANGER)).error == "CreditRegistryNotMember"
    assert rejected(lambda: publish(valid_until=T0)).error_args == {"validUntil": T0, "nowTimestamp": T0}
    assert rejected(lambda: publish(nonce=1)).error_args == {"bank": BANK, "nonce": 1, "expected": 0}
    assert rejected(lambda: publish(signer=None)).error == "CreditRegistryInvalidSignature"
    assert rejected(lambda: publish(signer=STRANGER)).error_args == {"bank": BANK, "signer": STRANGER}
    assert publish().events == ("LimitPublished",)
    assert (credit.nonce(BANK), credit.limit_of(BANK, SUPPLIER, T0)) == (1, 5)
    assert rejected(lambda: credit.revoke(SUPPLIER, caller=SUPPLIER)).contract == "CreditRegistry"
    credit.revoke(SUPPLIER, caller=BANK)
    assert credit.limit_of(BANK, SUPPLIER, T0) == 0
