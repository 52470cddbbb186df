"""TradeEscrow assured pre-payment (its signed offer: test_trade_escrow_prepayment_offer.py): limits read from
CreditRegistry, guarantee pools, exposure, and what happens to the pool, the exposure and the
supplier's shortfall when a prepaid order succeeds, fails or is split."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.escrow import Milestone, OrderStatus, RefundReason, Resolution
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    DAY,
    HOUR,
    LIMIT,
    POOL,
    UNIT,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    assert_paid_out,
    attest,
    balance,
    balances,
    escrow_of,
    events,
    inspect,
    new_order,
    open_dispute,
    open_world,
    prepayment_offer_of,
    registry_of,
    reinstate,
    request_prepayment,
    send,
    ship,
    suspend,
)
from tests.support.prepayment import FEE, PREPAID, credit, credit_of, lower_limit, prepay, refused
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


# -- drawing a pre-payment --------------------------------------------------------------------


def test_the_available_limit_is_the_registry_limit_less_exposure(deployed: Deployed, world: World) -> None:
    escrow, bank = escrow_of(deployed), addr(deployed, "bank")

    assert registry_of(deployed).limit_of(bank, addr(deployed, "tier1")) == LIMIT
    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert escrow.available_limit(bank, addr(deployed, "tier2")) == 0


@pytest.mark.parity
def test_prepayment_pays_the_supplier_early_against_the_banks_limit_and_pool(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)

    offer = prepayment_offer_of(deployed, world.funded, PREPAID)

    receipt = request_prepayment(deployed, offer)

    bank, supplier = addr(deployed, "bank"), addr(deployed, "tier1")
    assert events(deployed, receipt) == [
        (
            "PrepaymentReleased",
            {
                "orderId": world.funded,
                "supplier": supplier,
                "guarantor": bank,
                "amount": PREPAID,
                "fee": 0,
                "limitLeft": LIMIT - PREPAID,
                "nonce": offer.nonce,
            },
        )
    ]
    order = escrow.order(world.funded)
    assert (order.status, order.prepaid, order.guarantor, order.prepayment_fee) == (
        OrderStatus.FUNDED,
        PREPAID,
        bank,
        0,
    )
    assert (order.escrowed, order.paid_to_supplier) == (AMOUNT - PREPAID, PREPAID)
    assert credit(deployed) == credit_of(
        pool=(POOL - PREPAID, PREPAID), exposure=PREPAID, shortfall=0, available=LIMIT - PREPAID
    )
    assert balances(deployed) == (before[0], before[1] + PREPAID)
    assert_money_accounted(deployed)


def test_exposure_adds_up_across_orders_and_caps_the_next_prepayment(deployed: Deployed, world: World) -> None:
    prepay(deployed, world.funded, AMOUNT)
    second = new_order(deployed)

    assert refused(lambda: prepay(deployed, second, PREPAID)) == (
        "TradeEscrowLimitExceeded",
        {"supplier": addr(deployed, "tier1"), "requested": PREPAID, "available": LIMIT - AMOUNT},
    )
    prepay(deployed, second, LIMIT - AMOUNT)
    assert credit(deployed) == credit_of(pool=(POOL - LIMIT, LIMIT), exposure=LIMIT, shortfall=0, available=0)
    assert_money_accounted(deployed)


@pytest.mark.parity
def test_prepayment_above_the_available_limit_reverts_with_limit_exceeded(deployed: Deployed, world: World) -> None:
    lower_limit(deployed, 10_000 * UNIT)

    assert refused(lambda: prepay(deployed, world.funded, 10_000 * UNIT + 1)) == (
        "TradeEscrowLimitExceeded",
        {"supplier": addr(deployed, "tier1"), "requested": 10_000 * UNIT + 1, "available": 10_000 * UNIT},
    )
    assert credit(deployed)["exposure"] == 0


def test_prepayment_for_a_supplier_without_a_limit_reverts_with_limit_exceeded(
    deployed: Deployed, world: World
) -> None:
    order_id = new_order(deployed, supplier="tier2")

    assert refused(lambda: prepay(deployed, order_id, supplier="tier2")) == (
        "TradeEscrowLimitExceeded",
        {"supplier": addr(deployed, "tier2"), "requested": PREPAID, "available": 0},
    )


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_an_expired_or_revoked_limit_is_ignored(deployed: Deployed, world: World, how: str) -> None:
    if how == "expired":
        lower_limit(deployed, LIMIT, valid_for=DAY)
        advance_to(deployed, deployed.chain.timestamp() + DAY + HOUR)
    else:
        registry_of(deployed).revoke(addr(deployed, "tier1"), acct(deployed, "bank"))

    assert escrow_of(deployed).available_limit(addr(deployed, "bank"), addr(deployed, "tier1")) == 0
    assert refused(lambda: prepay(deployed, world.funded)) == (
        "TradeEscrowLimitExceeded",
        {"supplier": addr(deployed, "tier1"), "requested": PREPAID, "available": 0},
    )


def test_a_suspended_bank_reverts_with_not_guarantor(deployed: Deployed, world: World) -> None:
    suspend(deployed, addr(deployed, "bank"))

    assert escrow_of(deployed).available_limit(addr(deployed, "bank"), addr(deployed, "tier1")) == 0
    assert refused(lambda: prepay(deployed, world.funded)) == (
        "TradeEscrowNotGuarantor",
        {"account": addr(deployed, "bank")},
    )


def test_a_supplier_suspended_since_the_order_was_signed_reverts_with_supplier_not_eligible(
    deployed: Deployed, world: World
) -> None:
    suspend(deployed, addr(deployed, "tier1"))

    assert refused(lambda: prepay(deployed, world.funded)) == (
        "TradeEscrowSupplierNotEligible",
        {"supplier": addr(deployed, "tier1")},
    )
    assert (escrow_of(deployed).order(world.funded).prepaid, credit(deployed)["exposure"]) == (0, 0)
    reinstate(deployed, addr(deployed, "tier1"))
    prepay(deployed, world.funded)
    assert escrow_of(deployed).order(world.funded).prepaid == PREPAID


@pytest.mark.parametrize("guarantor", ["core", "arbiter", "relayer"])
def test_a_guarantor_that_is_no_bank_reverts_with_not_guarantor(
    deployed: Deployed, world: World, guarantor: str
) -> None:
    offer = prepayment_offer_of(deployed, world.funded, PREPAID, bank=guarantor)  # signed by that account

    assert refused(lambda: request_prepayment(deployed, offer)) == (
        "TradeEscrowNotGuarantor",
        {"account": addr(deployed, guarantor)},
    )


def test_prepayment_above_the_pool_reverts_with_pool_insufficient(deployed: Deployed, world: World) -> None:
    escrow_of(deployed).withdraw_pool(POOL - 10_000 * UNIT, acct(deployed, "bank"))

    assert refused(lambda: prepay(deployed, world.funded)) == (
        "TradeEscrowPoolInsufficient",
        {"guarantor": addr(deployed, "bank"), "requested": PREPAID, "available": 10_000 * UNIT},
    )


@pytest.mark.parametrize("caller", ["core", "tier2", "bank"])
def test_prepayment_by_anyone_but_the_supplier_reverts_with_not_supplier(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: prepay(deployed, world.funded, supplier=caller)) == (
        "TradeEscrowNotSupplier",
        {"orderId": world.funded, "caller": addr(deployed, caller)},
    )


def test_a_second_prepayment_of_the_same_order_reverts_with_already_prepaid(deployed: Deployed, world: World) -> None:
    prepay(deployed, world.funded, 10 * UNIT)

    assert refused(lambda: prepay(deployed, world.funded, 10 * UNIT)) == (
        "TradeEscrowAlreadyPrepaid",
        {"orderId": world.funded},
    )


@pytest.mark.parametrize("amount", [0, AMOUNT + 1])
def test_prepayment_of_nothing_or_more_than_the_order_reverts_with_invalid_amount(
    deployed: Deployed, world: World, amount: int
) -> None:
    assert refused(lambda: prepay(deployed, world.funded, amount)) == ("TradeEscrowInvalidAmount", {"amount": amount})


@pytest.mark.parametrize(("state", "status"), [("created", OrderStatus.CREATED), ("shipped", OrderStatus.SHIPPED)])
def test_prepayment_of_an_order_not_funded_or_already_shipped_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = world.created if state == "created" else world.shipped

    assert refused(lambda: prepay(deployed, order_id)) == (
        "TradeEscrowInvalidStatus",
        {"orderId": order_id, "status": status},
    )


def test_prepayment_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: prepay(deployed, 40)) == ("TradeEscrowUnknownOrder", {"orderId": 40})


def test_prepayment_of_an_order_in_another_token_reverts_with_prepayment_currency(
    deployed: Deployed, world: World
) -> None:
    admin, core = acct(deployed, "admin"), acct(deployed, "core")
    receipt = deployed.chain.deploy(
        deployed.build["SettlementToken"], [deployed.addresses["Membership"], "Euro", "dEUR"], admin
    )
    other = str(receipt["contractAddress"])
    escrow_of(deployed).set_token_allowed(other, True, admin)
    token = deployed.chain.contract(deployed.build["SettlementToken"], other)
    send(deployed, token.functions.mint(core.address, AMOUNT), acct(deployed, "bank"))
    send(deployed, token.functions.approve(escrow_of(deployed).address, AMOUNT), core)
    order_id = new_order(deployed, token=other)

    assert refused(lambda: prepay(deployed, order_id)) == (
        "TradeEscrowPrepaymentCurrency",
        {"token": other, "currency": deployed.addresses["SettlementToken"]},
    )
    assert balance(deployed, escrow_of(deployed).address, other) == AMOUNT
    assert_money_accounted(deployed)


# -- a prepaid order that succeeds ------------------------------------------------------------


@pytest.mark.parametrize("path", ["confirm", "release"])
def test_a_prepaid_order_that_succeeds_frees_the_exposure_and_the_pool(
    deployed: Deployed, world: World, path: str
) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)
    prepay(deployed, world.funded)
    ship(deployed, world.funded)
    attest(deployed, world.funded, Milestone.DELIVERED)
    if path == "confirm":
        receipt = escrow.confirm_receipt(world.funded, acct(deployed, "core"))
    else:
        advance_to(deployed, escrow.order(world.funded).delivered_recorded_at + escrow.windows().claim_window + 1)
        receipt = escrow.release(world.funded, acct(deployed, "relayer"))

    bank, supplier = addr(deployed, "bank"), addr(deployed, "tier1")
    by = addr(deployed, "core" if path == "confirm" else "relayer")
    assert events(deployed, receipt)[-2:] == [
        ("ExposureReleased", {"guarantor": bank, "supplier": supplier, "amount": PREPAID}),
        ("OrderReleased", {"orderId": world.funded, "supplier": supplier, "amount": AMOUNT - PREPAID, "by": by}),
    ]
    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert_paid_out(deployed, world.funded, before, to_buyer=0, to_supplier=AMOUNT)


def test_a_prepaid_order_with_a_fee_pays_the_supplier_the_order_less_the_fee(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    before, bank_before = balances(deployed), balance(deployed, addr(deployed, "bank"))
    prepay(deployed, world.funded, fee=FEE)
    ship(deployed, world.funded)

    receipt = escrow.confirm_receipt(world.funded, acct(deployed, "core"))

    assert events(deployed, receipt)[-1][1]["amount"] == AMOUNT - PREPAID
    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert balance(deployed, addr(deployed, "bank")) == bank_before + FEE
    assert_paid_out(deployed, world.funded, before, to_buyer=0, to_supplier=AMOUNT - FEE, fee=FEE)


def test_a_fully_prepaid_order_releases_nothing_more_and_frees_the_exposure(deployed: Deployed, world: World) -> None:
    before = balances(deployed)
    prepay(deployed, world.funded, AMOUNT)
    assert escrow_of(deployed).order(world.funded).escrowed == 0
    ship(deployed, world.funded)

    receipt = escrow_of(deployed).confirm_receipt(world.funded, acct(deployed, "core"))

    assert events(deployed, receipt)[-1][1]["amount"] == 0
    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert_paid_out(deployed, world.funded, before, to_buyer=0, to_supplier=AMOUNT)


# -- a prepaid order that fails ---------------------------------------------------------------


def fail_prepaid(deployed: Deployed, world: World, how: str, fee: int = 0) -> Any:
    """Prepay an order of tier1 (the bank taking ``fee``) and make it fail ``how``; the receipt of the failing step."""
    escrow = escrow_of(deployed)
    if how == "unshipped":
        prepay(deployed, world.funded, fee=fee)
        advance_to(deployed, escrow.order(world.funded).terms.ship_by + 1)
        return escrow.refund_unshipped(world.funded, acct(deployed, "relayer"))
    order_id = new_order(deployed, inspection=True)
    prepay(deployed, order_id, fee=fee)
    ship(deployed, order_id)
    attest(deployed, order_id, Milestone.DELIVERED)
    if how == "inspection-failed":
        return inspect(deployed, order_id, passed=False)
    open_dispute(deployed, order_id)
    advance_to(deployed, escrow.dispute(order_id).answer_by + 1)
    return escrow.close_expired_dispute(order_id, acct(deployed, "relayer"))


@pytest.mark.parity
@pytest.mark.parametrize("how", ["unshipped", "inspection-failed", "dispute-unanswered"])
def test_a_prepaid_order_that_fails_is_made_whole_by_the_pool_and_records_a_shortfall(
    deployed: Deployed, world: World, how: str
) -> None:
    core_before, tier1_before = balance(deployed, addr(deployed, "core")), balance(deployed, addr(deployed, "tier1"))

    receipt = fail_prepaid(deployed, world, how)

    order_id = world.funded if how == "unshipped" else world.inspecting + 1
    bank, supplier, buyer = addr(deployed, "bank"), addr(deployed, "tier1"), addr(deployed, "core")
    claimed = ("GuaranteeClaimed", {"orderId": order_id, "guarantor": bank, "supplier": supplier, "amount": PREPAID})
    if how == "dispute-unanswered":
        resolved = {
            "orderId": order_id,
            "toBuyer": AMOUNT,
            "toSupplier": 0,
            "fromPool": PREPAID,
            "how": Resolution.UNANSWERED,
            "by": addr(deployed, "relayer"),
        }
        assert events(deployed, receipt) == [claimed, ("DisputeResolved", resolved)]
    else:
        reason = RefundReason.UNSHIPPED if how == "unshipped" else RefundReason.INSPECTION_FAILED
        refunded = {"orderId": order_id, "buyer": buyer, "fromEscrow": AMOUNT - PREPAID, "fromPool": PREPAID}
        assert events(deployed, receipt)[-2:] == [claimed, ("OrderRefunded", {**refunded, "reason": reason})]
    assert credit(deployed) == credit_of(
        pool=(POOL - PREPAID, 0), exposure=PREPAID, shortfall=PREPAID, available=LIMIT - PREPAID
    )
    # Balances once funded: the world funded its order before we looked, the others were funded since.
    funded = (core_before if how == "unshipped" else core_before - AMOUNT, tier1_before)
    assert_paid_out(deployed, order_id, funded, to_buyer=AMOUNT, to_supplier=PREPAID, claimed=PREPAID)


@pytest.mark.parity
@pytest.mark.parametrize("how", ["unshipped", "inspection-failed", "dispute-unanswered"])
def test_with_a_fee_the_pool_still_pays_the_buyer_the_whole_prepayment(
    deployed: Deployed, world: World, how: str
) -> None:
    """The fee is the bank's price for the guarantee: the pool makes the buyer whole for the whole
    draw, and the supplier owes the whole draw back, fee included."""
    bank = addr(deployed, "bank")
    core_before, tier1_before = balance(deployed, addr(deployed, "core")), balance(deployed, addr(deployed, "tier1"))
    bank_before = balance(deployed, bank)

    receipt = fail_prepaid(deployed, world, how, fee=FEE)

    order_id = world.funded if how == "unshipped" else world.inspecting + 1
    claimed = ("GuaranteeClaimed", {"orderId": order_id, "guarantor": bank, "supplier": addr(deployed, "tier1"),
                                    "amount": PREPAID})  # fmt: skip
    assert claimed in events(deployed, receipt)
    assert credit(deployed) == credit_of(
        pool=(POOL - PREPAID, 0), exposure=PREPAID, shortfall=PREPAID, available=LIMIT - PREPAID
    )
    assert balance(deployed, bank) == bank_before + FEE
    funded = (core_before if how == "unshipped" else core_before - AMOUNT, tier1_before)
    assert_paid_out(deployed, order_id, funded, to_buyer=AMOUNT, to_supplier=PREPAID - FEE, claimed=PREPAID, fee=FEE)


def test_the_limit_stays_used_until_the_shortfall_is_repaid(deployed: Deployed, world: World) -> None:
    fail_prepaid(deployed, world, "unshipped")
    order_id = new_order(deployed)

    assert refused(lambda: prepay(deployed, order_id, LIMIT - PREPAID + 1)) == (
        "TradeEscrowLimitExceeded",
        {"supplier": addr(deployed, "tier1"), "requested": LIMIT - PREPAID + 1, "available": LIMIT - PREPAID},
    )
    escrow_of(deployed).repay_shortfall(
        addr(deployed, "tier1"), addr(deployed, "bank"), PREPAID, acct(deployed, "tier1")
    )
    prepay(deployed, order_id, AMOUNT)
    assert credit(deployed)["exposure"] == AMOUNT


def test_repaying_the_shortfall_frees_limit_and_pool_step_by_step_whoever_pays(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    fail_prepaid(deployed, world, "unshipped")
    bank, supplier, relayer = addr(deployed, "bank"), addr(deployed, "tier1"), addr(deployed, "relayer")
    relayer_before, escrow_before = balance(deployed, relayer), balance(deployed, escrow.address)

    receipt = escrow.repay_shortfall(supplier, bank, 20_000 * UNIT, acct(deployed, "relayer"))

    assert events(deployed, receipt) == [
        (
            "ShortfallRepaid",
            {
                "supplier": supplier,
                "guarantor": bank,
                "amount": 20_000 * UNIT,
                "remaining": 40_000 * UNIT,
                "payer": relayer,
            },
        ),
        ("ExposureReleased", {"guarantor": bank, "supplier": supplier, "amount": 20_000 * UNIT}),
    ]
    assert credit(deployed) == credit_of(
        pool=(POOL - 40_000 * UNIT, 0), exposure=40_000 * UNIT, shortfall=40_000 * UNIT, available=LIMIT - 40_000 * UNIT
    )
    assert balance(deployed, relayer) == relayer_before - 20_000 * UNIT
    assert balance(deployed, escrow.address) == escrow_before + 20_000 * UNIT

    escrow.repay_shortfall(supplier, bank, 40_000 * UNIT, acct(deployed, "tier1"))

    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert_money_accounted(deployed)


@pytest.mark.parametrize("amount", [0, PREPAID + 1])
def test_repaying_nothing_or_more_than_the_shortfall_reverts_with_shortfall_exceeded(
    deployed: Deployed, world: World, amount: int
) -> None:
    fail_prepaid(deployed, world, "unshipped")
    supplier = addr(deployed, "tier1")

    assert refused(
        lambda: escrow_of(deployed).repay_shortfall(supplier, addr(deployed, "bank"), amount, acct(deployed, "relayer"))
    ) == ("TradeEscrowShortfallExceeded", {"supplier": supplier, "amount": amount, "shortfall": PREPAID})


def test_repaying_without_a_shortfall_reverts_with_shortfall_exceeded(deployed: Deployed, world: World) -> None:
    prepay(deployed, world.funded)  # exposure, but no shortfall
    supplier = addr(deployed, "tier1")

    assert refused(
        lambda: escrow_of(deployed).repay_shortfall(supplier, addr(deployed, "bank"), 1, acct(deployed, "relayer"))
    ) == ("TradeEscrowShortfallExceeded", {"supplier": supplier, "amount": 1, "shortfall": 0})


# -- a prepaid order split by a dispute -------------------------------------------------------


def disputed_prepaid(deployed: Deployed, world: World) -> int:
    prepay(deployed, world.funded)
    ship(deployed, world.funded)
    attest(deployed, world.funded, Milestone.DELIVERED)
    open_dispute(deployed, world.funded)
    return world.funded


def test_a_split_within_the_escrow_leaves_the_pool_whole(deployed: Deployed, world: World) -> None:
    before = balances(deployed)
    order_id = disputed_prepaid(deployed, world)
    to_buyer = 30_000 * UNIT  # less than the 40,000 left in escrow

    receipt = escrow_of(deployed).arbitrate(order_id, to_buyer, acct(deployed, "arbiter"))

    bank, supplier = addr(deployed, "bank"), addr(deployed, "tier1")
    assert events(deployed, receipt) == [
        ("ExposureReleased", {"guarantor": bank, "supplier": supplier, "amount": PREPAID}),
        (
            "DisputeResolved",
            {
                "orderId": order_id,
                "toBuyer": to_buyer,
                "toSupplier": AMOUNT - PREPAID - to_buyer,
                "fromPool": 0,
                "how": Resolution.ARBITER,
                "by": addr(deployed, "arbiter"),
            },
        ),
    ]
    assert credit(deployed) == credit_of(pool=(POOL, 0), exposure=0, shortfall=0, available=LIMIT)
    assert_paid_out(deployed, order_id, before, to_buyer=to_buyer, to_supplier=AMOUNT - to_buyer)


def test_a_split_beyond_the_escrow_is_covered_by_the_pool_in_part(deployed: Deployed, world: World) -> None:
    before = balances(deployed)
    order_id = disputed_prepaid(deployed, world)
    to_buyer = 70_000 * UNIT  # 40,000 from the escrow, 30,000 from the pool
    from_pool = to_buyer - (AMOUNT - PREPAID)

    receipt = escrow_of(deployed).arbitrate(order_id, to_buyer, acct(deployed, "arbiter"))

    bank, supplier = addr(deployed, "bank"), addr(deployed, "tier1")
    assert events(deployed, receipt) == [
        ("GuaranteeClaimed", {"orderId": order_id, "guarantor": bank, "supplier": supplier, "amount": from_pool}),
        ("ExposureReleased", {"guarantor": bank, "supplier": supplier, "amount": PREPAID - from_pool}),
        (
            "DisputeResolved",
            {
                "orderId": order_id,
                "toBuyer": to_buyer,
                "toSupplier": 0,
                "fromPool": from_pool,
                "how": Resolution.ARBITER,
                "by": addr(deployed, "arbiter"),
            },
        ),
    ]
    assert credit(deployed) == credit_of(
        pool=(POOL - from_pool, 0), exposure=from_pool, shortfall=from_pool, available=LIMIT - from_pool
    )
    assert_paid_out(deployed, order_id, before, to_buyer=to_buyer, to_supplier=PREPAID, claimed=from_pool)


def test_a_co_signed_full_refund_of_a_prepaid_order_draws_the_prepaid_part_from_the_pool(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)
    order_id = disputed_prepaid(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = [escrow.sign_settlement(acct(deployed, p), order_id, AMOUNT, deadline) for p in ("core", "tier1")]

    receipt = escrow.settle_dispute(order_id, AMOUNT, deadline, sigs[0], sigs[1], acct(deployed, "relayer"))

    resolved = events(deployed, receipt)[-1]
    assert resolved == (
        "DisputeResolved",
        {
            "orderId": order_id,
            "toBuyer": AMOUNT,
            "toSupplier": 0,
            "fromPool": PREPAID,
            "how": Resolution.SETTLEMENT,
            "by": addr(deployed, "relayer"),
        },
    )
    assert credit(deployed) == credit_of(
        pool=(POOL - PREPAID, 0), exposure=PREPAID, shortfall=PREPAID, available=LIMIT - PREPAID
    )
    assert_paid_out(deployed, order_id, before, to_buyer=AMOUNT, to_supplier=PREPAID, claimed=PREPAID)


# -- guarantee pools --------------------------------------------------------------------------


def test_fund_pool_adds_to_the_banks_available_pool(deployed: Deployed, world: World) -> None:
    escrow, bank = escrow_of(deployed), addr(deployed, "bank")
    bank_before, escrow_before = balance(deployed, bank), balance(deployed, escrow.address)

    receipt = escrow.fund_pool(AMOUNT, acct(deployed, "bank"))

    assert events(deployed, receipt) == [
        ("PoolFunded", {"guarantor": bank, "amount": AMOUNT, "available": POOL + AMOUNT})
    ]
    assert escrow.pool(bank) == (POOL + AMOUNT, 0)
    assert (balance(deployed, bank), balance(deployed, escrow.address)) == (
        bank_before - AMOUNT,
        escrow_before + AMOUNT,
    )
    assert_money_accounted(deployed)


@pytest.mark.parametrize("caller", ["core", "admin", "relayer"])
def test_fund_pool_by_anyone_but_a_bank_reverts_with_not_guarantor(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: escrow_of(deployed).fund_pool(UNIT, acct(deployed, caller))) == (
        "TradeEscrowNotGuarantor",
        {"account": addr(deployed, caller)},
    )


def test_fund_pool_by_a_suspended_bank_reverts_with_not_guarantor(deployed: Deployed, world: World) -> None:
    suspend(deployed, addr(deployed, "bank"))

    assert refused(lambda: escrow_of(deployed).fund_pool(UNIT, acct(deployed, "bank"))) == (
        "TradeEscrowNotGuarantor",
        {"account": addr(deployed, "bank")},
    )


def test_fund_pool_with_nothing_reverts_with_invalid_amount(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).fund_pool(0, acct(deployed, "bank"))) == (
        "TradeEscrowInvalidAmount",
        {"amount": 0},
    )


def test_withdraw_pool_returns_unreserved_currency_to_the_bank(deployed: Deployed, world: World) -> None:
    escrow, bank = escrow_of(deployed), addr(deployed, "bank")
    prepay(deployed, world.funded)
    bank_before = balance(deployed, bank)

    receipt = escrow.withdraw_pool(POOL - PREPAID, acct(deployed, "bank"))

    assert events(deployed, receipt) == [
        ("PoolWithdrawn", {"guarantor": bank, "amount": POOL - PREPAID, "available": 0})
    ]
    assert escrow.pool(bank) == (0, PREPAID)
    assert balance(deployed, bank) == bank_before + POOL - PREPAID
    assert_money_accounted(deployed)


@pytest.mark.parity
def test_withdrawing_reserved_currency_reverts_with_pool_insufficient(deployed: Deployed, world: World) -> None:
    prepay(deployed, world.funded)
    bank = addr(deployed, "bank")

    assert refused(lambda: escrow_of(deployed).withdraw_pool(POOL - PREPAID + 1, acct(deployed, "bank"))) == (
        "TradeEscrowPoolInsufficient",
        {"guarantor": bank, "requested": POOL - PREPAID + 1, "available": POOL - PREPAID},
    )
    assert escrow_of(deployed).pool(bank) == (POOL - PREPAID, PREPAID)


def test_withdrawing_from_an_empty_pool_reverts_with_pool_insufficient(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).withdraw_pool(1, acct(deployed, "core"))) == (
        "TradeEscrowPoolInsufficient",
        {"guarantor": addr(deployed, "core"), "requested": 1, "available": 0},
    )


def test_withdrawing_nothing_reverts_with_invalid_amount(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).withdraw_pool(0, acct(deployed, "bank"))) == (
        "TradeEscrowInvalidAmount",
        {"amount": 0},
    )


def test_a_suspended_bank_can_still_withdraw_its_unreserved_pool(deployed: Deployed, world: World) -> None:
    suspend(deployed, addr(deployed, "bank"))

    escrow_of(deployed).withdraw_pool(POOL, acct(deployed, "bank"))

    assert escrow_of(deployed).pool(addr(deployed, "bank")) == (0, 0)
    assert_money_accounted(deployed)
