"""TradeEscrow orders that close without a dispute: confirmReceipt pays the supplier once the goods
ship, release pays after the claim window whoever asks, refundUnshipped refunds the buyer once
ship-by has passed with no shipment. Each deadline is held to the second: the claim window's
last second belongs to the buyer's dispute, the next one to the release.

The world (``open_world`` of ``tests.support.escrow``: balances, a pool, a limit and one order in each
early state) is built once per module and backend (``tests.support.worlds``); each test runs under
``deployed``'s snapshot and is rolled back.
"""

from __future__ import annotations

import pytest

from ledger.domain.escrow import Milestone, OrderStatus, RefundReason
from tests.contracts.escrow_settlement_helpers import REASON, RESPONSE, disputed, invalid_status, order_in, refused
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    CLAIM_WINDOW,
    DAY,
    HOUR,
    World,
    acct,
    addr,
    advance_to,
    assert_paid_out,
    attest,
    balances,
    block_time,
    escrow_of,
    events,
    mined_revert,
    new_order,
    next_block_at,
    open_dispute,
    open_world,
    passes_at,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


# -- confirmReceipt ---------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("state", ["shipped", "delivered", "inspected"])
def test_confirm_receipt_pays_the_supplier_at_once(deployed: Deployed, world: World, state: str) -> None:
    order_id = order_in(deployed, world, state)
    before = balances(deployed)

    receipt = escrow_of(deployed).confirm_receipt(order_id, acct(deployed, "core"))

    buyer, supplier = addr(deployed, "core"), addr(deployed, "tier1")
    assert events(deployed, receipt) == [
        ("ReceiptConfirmed", {"orderId": order_id, "buyer": buyer}),
        ("OrderReleased", {"orderId": order_id, "supplier": supplier, "amount": AMOUNT, "by": buyer}),
    ]
    order = escrow_of(deployed).order(order_id)
    assert (order.status, order.closed_at) == (OrderStatus.RELEASED, block_time(deployed, receipt))
    assert_paid_out(deployed, order_id, before, to_buyer=0, to_supplier=AMOUNT)


@pytest.mark.parametrize("caller", ["tier1", "relayer", "arbiter"])
def test_confirm_receipt_by_anyone_but_the_buyer_reverts_with_not_buyer(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: escrow_of(deployed).confirm_receipt(world.delivered, acct(deployed, caller))) == (
        "TradeEscrowNotBuyer",
        {"orderId": world.delivered, "caller": addr(deployed, caller)},
    )


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("created", OrderStatus.CREATED),
        ("funded", OrderStatus.FUNDED),
        ("disputed", OrderStatus.DISPUTED),
        ("released", OrderStatus.RELEASED),
        ("cancelled", OrderStatus.CANCELLED),
    ],
)
def test_confirm_receipt_before_shipment_or_once_closed_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)

    assert refused(lambda: escrow_of(deployed).confirm_receipt(order_id, acct(deployed, "core"))) == invalid_status(
        order_id, status
    )


def test_confirm_receipt_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).confirm_receipt(9, acct(deployed, "core"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 9},
    )


# -- release ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["delivered", "inspected"])
def test_release_after_the_claim_window_pays_the_supplier_whoever_asks(
    deployed: Deployed, world: World, state: str
) -> None:
    order_id = order_in(deployed, world, state)
    before = balances(deployed)
    advance_to(deployed, escrow_of(deployed).order(order_id).delivered_recorded_at + CLAIM_WINDOW + 1)

    receipt = escrow_of(deployed).release(order_id, acct(deployed, "relayer"))

    assert events(deployed, receipt) == [
        (
            "OrderReleased",
            {
                "orderId": order_id,
                "supplier": addr(deployed, "tier1"),
                "amount": AMOUNT,
                "by": addr(deployed, "relayer"),
            },
        )
    ]
    assert escrow_of(deployed).order(order_id).status is OrderStatus.RELEASED
    assert_paid_out(deployed, order_id, before, to_buyer=0, to_supplier=AMOUNT)


@pytest.mark.parity
def test_release_within_the_claim_window_reverts_with_claim_window_open(deployed: Deployed, world: World) -> None:
    ends_at = escrow_of(deployed).order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    advance_to(deployed, ends_at - HOUR)

    assert refused(lambda: escrow_of(deployed).release(world.delivered, acct(deployed, "tier1"))) == (
        "TradeEscrowClaimWindowOpen",
        {"orderId": world.delivered, "endsAt": ends_at},
    )


def test_one_second_before_the_claim_window_ends_only_a_dispute_is_possible(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    ends_at = escrow.order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    release = escrow.contract.functions.release(world.delivered)
    dispute = escrow.contract.functions.openDispute(world.delivered, REASON)

    assert passes_at(deployed, ends_at - 1, release, acct(deployed, "tier1")) is False
    assert passes_at(deployed, ends_at - 1, dispute, acct(deployed, "core")) is True


def test_one_second_after_the_claim_window_ends_only_a_release_is_possible(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    ends_at = escrow.order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    release = escrow.contract.functions.release(world.delivered)
    dispute = escrow.contract.functions.openDispute(world.delivered, REASON)

    assert passes_at(deployed, ends_at + 1, release, acct(deployed, "tier1")) is True
    assert passes_at(deployed, ends_at + 1, dispute, acct(deployed, "core")) is False


@pytest.mark.parametrize(
    ("case", "open_at_the_boundary"),
    [
        ("refund-unshipped-at-ship-by", False),
        ("lost-goods-dispute-at-deliver-by", False),
        ("answer-at-answer-by", True),
        ("close-unanswered-at-answer-by", False),
        ("close-answered-at-resolve-by", False),
    ],
)
def test_each_deadline_holds_to_the_second(
    deployed: Deployed, world: World, case: str, open_at_the_boundary: bool
) -> None:
    """At the boundary second and the one after, the call passes or fails as its rule says."""
    escrow = escrow_of(deployed)
    fns = escrow.contract.functions
    if case == "refund-unshipped-at-ship-by":
        fn, sender, boundary = fns.refundUnshipped(world.funded), "relayer", escrow.order(world.funded).terms.ship_by
    elif case == "lost-goods-dispute-at-deliver-by":
        fn, sender = fns.openDispute(world.shipped, REASON), "core"
        boundary = escrow.order(world.shipped).terms.deliver_by
    else:
        order_id = disputed(deployed, world, answered=case == "close-answered-at-resolve-by")
        dispute = escrow.dispute(order_id)
        if case == "answer-at-answer-by":
            fn, sender, boundary = fns.answerDispute(order_id, RESPONSE), "tier1", dispute.answer_by
        else:
            fn, sender = fns.closeExpiredDispute(order_id), "relayer"
            boundary = dispute.answer_by if case == "close-unanswered-at-answer-by" else dispute.resolve_by

    at_boundary = passes_at(deployed, boundary, fn, acct(deployed, sender))
    after = passes_at(deployed, boundary + 1, fn, acct(deployed, sender))

    assert (at_boundary, after) == (open_at_the_boundary, not open_at_the_boundary)


@pytest.mark.parity
def test_at_the_second_the_claim_window_ends_release_and_dispute_are_not_both_possible(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    ends_at = escrow.order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    release = escrow.contract.functions.release(world.delivered)
    dispute = escrow.contract.functions.openDispute(world.delivered, REASON)

    released = passes_at(deployed, ends_at, release, acct(deployed, "tier1"))
    disputed = passes_at(deployed, ends_at, dispute, acct(deployed, "core"))

    assert (released, disputed) != (True, True), "both release and openDispute succeed in the block stamped endsAt"
    # The window's last second is the buyer's.
    assert (released, disputed) == (False, True)


@pytest.mark.parity
def test_release_in_the_block_stamped_ends_at_reverts_with_claim_window_open(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    ends_at = escrow.order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    next_block_at(deployed, ends_at)

    caught = mined_revert(deployed, escrow.contract.functions.release(world.delivered), acct(deployed, "relayer"))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowClaimWindowOpen",
        {"orderId": world.delivered, "endsAt": ends_at},
    )


def test_the_claim_window_runs_from_when_delivery_was_recorded_not_from_the_event_time(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    order_id = new_order(deployed, po="PO-LATE-NEWS")
    attest(deployed, order_id, Milestone.SHIPPED, occurred_at=deployed.chain.timestamp() - 25 * DAY)
    receipt = attest(deployed, order_id, Milestone.DELIVERED, occurred_at=deployed.chain.timestamp() - 20 * DAY)
    recorded = block_time(deployed, receipt)
    advance_to(deployed, recorded + 11 * DAY)  # 31 days after the event, 11 after the record

    assert refused(lambda: escrow.release(order_id, acct(deployed, "tier1"))) == (
        "TradeEscrowClaimWindowOpen",
        {"orderId": order_id, "endsAt": recorded + CLAIM_WINDOW},
    )
    open_dispute(deployed, order_id)
    assert escrow.order(order_id).status is OrderStatus.DISPUTED


def test_release_of_an_order_awaiting_its_inspection_reverts_with_invalid_status(
    deployed: Deployed, world: World
) -> None:
    advance_to(deployed, escrow_of(deployed).order(world.inspecting).delivered_recorded_at + CLAIM_WINDOW + DAY)

    assert refused(lambda: escrow_of(deployed).release(world.inspecting, acct(deployed, "tier1"))) == invalid_status(
        world.inspecting, OrderStatus.DELIVERED
    )


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("created", OrderStatus.CREATED),
        ("funded", OrderStatus.FUNDED),
        ("shipped", OrderStatus.SHIPPED),
        ("disputed", OrderStatus.DISPUTED),
        ("released", OrderStatus.RELEASED),
    ],
)
def test_release_of_an_order_not_delivered_or_already_closed_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)
    advance_to(deployed, deployed.chain.timestamp() + CLAIM_WINDOW + DAY)

    assert refused(lambda: escrow_of(deployed).release(order_id, acct(deployed, "tier1"))) == invalid_status(
        order_id, status
    )


def test_release_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).release(0, acct(deployed, "tier1"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 0},
    )


# -- refundUnshipped --------------------------------------------------------------------------


@pytest.mark.parity
def test_refund_unshipped_after_ship_by_refunds_the_buyer_whoever_asks(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)
    advance_to(deployed, escrow.order(world.funded).terms.ship_by + 1)

    receipt = escrow.refund_unshipped(world.funded, acct(deployed, "relayer"))

    assert events(deployed, receipt) == [
        (
            "OrderRefunded",
            {
                "orderId": world.funded,
                "buyer": addr(deployed, "core"),
                "fromEscrow": AMOUNT,
                "fromPool": 0,
                "reason": RefundReason.UNSHIPPED,
            },
        )
    ]
    order = escrow.order(world.funded)
    assert (order.status, order.closed_at) == (OrderStatus.REFUNDED, block_time(deployed, receipt))
    assert_paid_out(deployed, world.funded, before, to_buyer=AMOUNT, to_supplier=0)


def test_refund_unshipped_before_ship_by_reverts_with_ship_by(deployed: Deployed, world: World) -> None:
    ship_by = escrow_of(deployed).order(world.funded).terms.ship_by
    advance_to(deployed, ship_by - HOUR)

    assert refused(lambda: escrow_of(deployed).refund_unshipped(world.funded, acct(deployed, "core"))) == (
        "TradeEscrowShipByNotPassed",
        {"orderId": world.funded, "shipBy": ship_by},
    )


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("created", OrderStatus.CREATED),
        ("shipped", OrderStatus.SHIPPED),
        ("delivered", OrderStatus.DELIVERED),
        ("cancelled", OrderStatus.CANCELLED),
    ],
)
def test_refund_unshipped_of_an_order_not_funded_or_already_shipped_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)
    advance_to(deployed, escrow_of(deployed).order(order_id).terms.ship_by + DAY)

    assert refused(lambda: escrow_of(deployed).refund_unshipped(order_id, acct(deployed, "core"))) == invalid_status(
        order_id, status
    )


def test_refund_unshipped_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).refund_unshipped(8, acct(deployed, "core"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 8},
    )


def test_a_refunded_order_cannot_be_refunded_or_shipped_again(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    advance_to(deployed, escrow.order(world.funded).terms.ship_by + 1)
    escrow.refund_unshipped(world.funded, acct(deployed, "relayer"))

    assert refused(lambda: escrow.refund_unshipped(world.funded, acct(deployed, "relayer"))) == invalid_status(
        world.funded, OrderStatus.REFUNDED
    )
    assert refused(lambda: attest(deployed, world.funded, Milestone.SHIPPED)) == (
        "TradeEscrowMilestoneOutOfOrder",
        {"orderId": world.funded, "milestone": Milestone.SHIPPED, "status": OrderStatus.REFUNDED},
    )
