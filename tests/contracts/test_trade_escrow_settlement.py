"""TradeEscrow settlement: confirmReceipt, release after the claim window, refundUnshipped, and disputes
(opening windows incl. lost goods, answers, arbiter splits, co-signed settlements, expired disputes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak

from ledger import typed_data
from ledger.escrow import Milestone, OrderStatus, RefundReason, Resolution
from tests.conftest import Deployed
from tests.contracts.escrow_helpers import (
    AMOUNT,
    ANSWER_WINDOW,
    CLAIM_WINDOW,
    DAY,
    HOUR,
    RESOLVE_WINDOW,
    UNIT,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    assert_paid_out,
    attest,
    balances,
    block_time,
    escrow_of,
    escrow_state,
    events,
    high_s,
    inspect,
    mined_revert,
    new_order,
    next_block_at,
    open_dispute,
    open_world,
    passes_at,
    revert_of,
    send,
    sign_in_domain,
)

REASON = keccak(text="goods damaged")
RESPONSE = keccak(text="photos of the packed goods")


@pytest.fixture(scope="module")
def module_world(deployed_session: Deployed) -> Iterator[World]:
    yield from open_world(deployed_session)


@pytest.fixture
def world(module_world: World, deployed: Deployed) -> World:
    return module_world


def order_in(deployed: Deployed, world: World, state: str) -> int:
    """One of the world's orders, moved on to ``state`` where the world has none in it."""
    escrow = escrow_of(deployed)
    if state in ("created", "funded", "shipped", "delivered"):
        return int(getattr(world, state))
    if state == "inspected":
        inspect(deployed, world.inspecting)
        return world.inspecting
    if state == "disputed":
        open_dispute(deployed, world.delivered)
        return world.delivered
    if state == "released":
        escrow.confirm_receipt(world.delivered, acct(deployed, "core"))
        return world.delivered
    if state == "cancelled":
        escrow.cancel_unfunded(world.created, acct(deployed, "core"))
        return world.created
    raise ValueError(state)


def disputed(deployed: Deployed, world: World, *, answered: bool = False) -> int:
    open_dispute(deployed, world.delivered)
    if answered:
        escrow_of(deployed).answer_dispute(world.delivered, RESPONSE, acct(deployed, "tier1"))
    return world.delivered


def refused(call: Any) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(call)
    return caught.error, caught.error_args


def invalid_status(order_id: int, status: OrderStatus) -> tuple[str, dict[str, Any]]:
    return "TradeEscrowInvalidStatus", {"orderId": order_id, "status": status}


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


# -- openDispute ------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("state", ["delivered", "inspected"])
def test_open_dispute_within_the_claim_window_freezes_the_order(deployed: Deployed, world: World, state: str) -> None:
    order_id = order_in(deployed, world, state)
    advance_to(deployed, escrow_of(deployed).order(order_id).delivered_recorded_at + CLAIM_WINDOW - HOUR)

    receipt = escrow_of(deployed).open_dispute(order_id, REASON, acct(deployed, "core"))

    opened = block_time(deployed, receipt)
    answer_by, resolve_by = opened + ANSWER_WINDOW, opened + RESOLVE_WINDOW
    assert events(deployed, receipt) == [
        (
            "DisputeOpened",
            {
                "orderId": order_id,
                "buyer": addr(deployed, "core"),
                "reasonHash": REASON,
                "answerBy": answer_by,
                "resolveBy": resolve_by,
            },
        )
    ]
    dispute = escrow_of(deployed).dispute(order_id)
    assert (dispute.opened_at, dispute.answer_by, dispute.resolve_by) == (opened, answer_by, resolve_by)
    assert (dispute.answered, dispute.reason_hash, dispute.response_hash) == (False, REASON, b"\0" * 32)
    order = escrow_of(deployed).order(order_id)
    assert (order.status, order.escrowed) == (OrderStatus.DISPUTED, AMOUNT)
    assert refused(lambda: escrow_of(deployed).release(order_id, acct(deployed, "tier1")))[0] == (
        "TradeEscrowInvalidStatus"
    )


@pytest.mark.parametrize("state", ["delivered", "inspected"])
def test_open_dispute_after_the_claim_window_reverts_with_claim_window_closed(
    deployed: Deployed, world: World, state: str
) -> None:
    order_id = order_in(deployed, world, state)
    ends_at = escrow_of(deployed).order(order_id).delivered_recorded_at + CLAIM_WINDOW
    advance_to(deployed, ends_at + HOUR)

    assert refused(lambda: escrow_of(deployed).open_dispute(order_id, REASON, acct(deployed, "core"))) == (
        "TradeEscrowClaimWindowClosed",
        {"orderId": order_id, "endedAt": ends_at},
    )


def test_open_dispute_over_goods_lost_after_deliver_by_is_accepted_and_arbitrated(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)
    advance_to(deployed, escrow.order(world.shipped).terms.deliver_by + 1)

    receipt = escrow.open_dispute(world.shipped, keccak(text="goods never arrived"), acct(deployed, "core"))

    assert [name for name, _ in events(deployed, receipt)] == ["DisputeOpened"]
    assert escrow.order(world.shipped).status is OrderStatus.DISPUTED
    escrow.arbitrate(world.shipped, AMOUNT, acct(deployed, "arbiter"))
    assert_paid_out(deployed, world.shipped, before, to_buyer=AMOUNT, to_supplier=0)


def test_open_dispute_over_shipped_goods_before_deliver_by_reverts_with_dispute_window_not_reached(
    deployed: Deployed, world: World
) -> None:
    deliver_by = escrow_of(deployed).order(world.shipped).terms.deliver_by
    advance_to(deployed, deliver_by - HOUR)

    assert refused(lambda: escrow_of(deployed).open_dispute(world.shipped, REASON, acct(deployed, "core"))) == (
        "TradeEscrowDisputeWindowNotReached",
        {"orderId": world.shipped, "deliverBy": deliver_by},
    )


@pytest.mark.parametrize("caller", ["tier1", "relayer", "arbiter"])
def test_open_dispute_by_anyone_but_the_buyer_reverts_with_not_buyer(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: escrow_of(deployed).open_dispute(world.delivered, REASON, acct(deployed, caller))) == (
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
def test_open_dispute_of_an_order_neither_shipped_nor_delivered_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)

    assert refused(lambda: escrow_of(deployed).open_dispute(order_id, REASON, acct(deployed, "core"))) == (
        invalid_status(order_id, status)
    )


def test_open_dispute_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).open_dispute(12, REASON, acct(deployed, "core"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 12},
    )


# -- answerDispute ----------------------------------------------------------------------------


def test_answer_dispute_by_the_supplier_within_the_answer_window_records_the_response(
    deployed: Deployed, world: World
) -> None:
    order_id = disputed(deployed, world)
    advance_to(deployed, escrow_of(deployed).dispute(order_id).answer_by - HOUR)

    receipt = escrow_of(deployed).answer_dispute(order_id, RESPONSE, acct(deployed, "tier1"))

    assert events(deployed, receipt) == [
        ("DisputeAnswered", {"orderId": order_id, "supplier": addr(deployed, "tier1"), "responseHash": RESPONSE})
    ]
    dispute = escrow_of(deployed).dispute(order_id)
    assert (dispute.answered, dispute.response_hash, dispute.reason_hash) == (
        True,
        RESPONSE,
        keccak(text="goods damaged"),
    )
    assert escrow_of(deployed).order(order_id).status is OrderStatus.DISPUTED


@pytest.mark.parametrize("caller", ["core", "relayer", "arbiter"])
def test_answer_dispute_by_anyone_but_the_supplier_reverts_with_not_supplier(
    deployed: Deployed, world: World, caller: str
) -> None:
    order_id = disputed(deployed, world)

    assert refused(lambda: escrow_of(deployed).answer_dispute(order_id, RESPONSE, acct(deployed, caller))) == (
        "TradeEscrowNotSupplier",
        {"orderId": order_id, "caller": addr(deployed, caller)},
    )


def test_answer_dispute_after_the_answer_window_reverts_with_answer_window_closed(
    deployed: Deployed, world: World
) -> None:
    order_id = disputed(deployed, world)
    answer_by = escrow_of(deployed).dispute(order_id).answer_by
    advance_to(deployed, answer_by + 1)

    assert refused(lambda: escrow_of(deployed).answer_dispute(order_id, RESPONSE, acct(deployed, "tier1"))) == (
        "TradeEscrowAnswerWindowClosed",
        {"orderId": order_id, "answerBy": answer_by},
    )


@pytest.mark.parity
def test_answer_dispute_twice_reverts_with_already_answered(deployed: Deployed, world: World) -> None:
    order_id = disputed(deployed, world, answered=True)

    assert refused(
        lambda: escrow_of(deployed).answer_dispute(order_id, keccak(text="more"), acct(deployed, "tier1"))
    ) == (
        "TradeEscrowAlreadyAnswered",
        {"orderId": order_id},
    )
    assert escrow_of(deployed).dispute(order_id).response_hash == RESPONSE


@pytest.mark.parametrize(
    ("state", "status"), [("delivered", OrderStatus.DELIVERED), ("released", OrderStatus.RELEASED)]
)
def test_answer_of_an_order_not_in_dispute_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)

    assert refused(lambda: escrow_of(deployed).answer_dispute(order_id, RESPONSE, acct(deployed, "tier1"))) == (
        invalid_status(order_id, status)
    )


def test_answer_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).answer_dispute(13, RESPONSE, acct(deployed, "tier1"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 13},
    )


# -- arbitrate --------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("to_buyer", [0, 40_000 * UNIT, AMOUNT], ids=["all-to-supplier", "split", "all-to-buyer"])
def test_arbitrate_splits_the_escrow_between_buyer_and_supplier(
    deployed: Deployed, world: World, to_buyer: int
) -> None:
    order_id = disputed(deployed, world, answered=True)
    before = balances(deployed)

    receipt = escrow_of(deployed).arbitrate(order_id, to_buyer, acct(deployed, "arbiter"))

    assert events(deployed, receipt) == [
        (
            "DisputeResolved",
            {
                "orderId": order_id,
                "toBuyer": to_buyer,
                "toSupplier": AMOUNT - to_buyer,
                "fromPool": 0,
                "how": Resolution.ARBITER,
                "by": addr(deployed, "arbiter"),
            },
        )
    ]
    order = escrow_of(deployed).order(order_id)
    assert (order.status, order.closed_at) == (OrderStatus.SETTLED, block_time(deployed, receipt))
    assert_paid_out(deployed, order_id, before, to_buyer=to_buyer, to_supplier=AMOUNT - to_buyer)


def test_arbitrate_more_than_the_amount_to_the_buyer_reverts_with_invalid_split(
    deployed: Deployed, world: World
) -> None:
    order_id = disputed(deployed, world)

    assert refused(lambda: escrow_of(deployed).arbitrate(order_id, AMOUNT + 1, acct(deployed, "arbiter"))) == (
        "TradeEscrowInvalidSplit",
        {"orderId": order_id, "buyerAmount": AMOUNT + 1, "amount": AMOUNT},
    )


@pytest.mark.parametrize("caller", ["admin", "core", "relayer"])
def test_arbitrate_by_a_non_arbiter_reverts_with_not_arbiter(deployed: Deployed, world: World, caller: str) -> None:
    order_id = disputed(deployed, world)

    assert refused(lambda: escrow_of(deployed).arbitrate(order_id, 0, acct(deployed, caller))) == (
        "TradeEscrowNotArbiter",
        {"caller": addr(deployed, caller)},
    )


@pytest.mark.parametrize(("state", "status"), [("delivered", OrderStatus.DELIVERED), ("funded", OrderStatus.FUNDED)])
def test_arbitrate_an_order_not_in_dispute_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)

    assert refused(lambda: escrow_of(deployed).arbitrate(order_id, 0, acct(deployed, "arbiter"))) == invalid_status(
        order_id, status
    )


def test_arbitrate_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).arbitrate(31, 0, acct(deployed, "arbiter"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 31},
    )


# -- settleDispute ----------------------------------------------------------------------------


def settlement_sigs(deployed: Deployed, order_id: int, to_buyer: int, deadline: int) -> tuple[bytes, bytes]:
    escrow = escrow_of(deployed)
    return (
        escrow.sign_settlement(acct(deployed, "core"), order_id, to_buyer, deadline),
        escrow.sign_settlement(acct(deployed, "tier1"), order_id, to_buyer, deadline),
    )


def settle_fn(deployed: Deployed, order_id: int, to_buyer: int, deadline: int, sigs: tuple[bytes, bytes]) -> Any:
    return escrow_of(deployed).contract.functions.settleDispute(order_id, to_buyer, deadline, *sigs)


def refused_settlement_on_chain(
    deployed: Deployed, order_id: int, to_buyer: int, deadline: int, sigs: tuple[bytes, bytes]
) -> tuple[str | None, dict[str, Any]]:
    """Mine the refused settlement; it must leave the order, the dispute and the balances as they were."""
    order = escrow_of(deployed).order(order_id)
    keys: dict[str, Any] = {
        "orders": [order_id],
        "disputes": [order_id],
        "holders": [order.terms.buyer, order.terms.supplier],
    }
    before = escrow_state(deployed, **keys)
    caught = mined_revert(deployed, settle_fn(deployed, order_id, to_buyer, deadline, sigs), acct(deployed, "relayer"))
    assert escrow_state(deployed, **keys) == before
    return caught.error, caught.error_args


@pytest.mark.parity
def test_a_co_signed_settlement_relayed_by_anyone_splits_the_escrow(deployed: Deployed, world: World) -> None:
    order_id = disputed(deployed, world, answered=True)
    before = balances(deployed)
    deadline = deployed.chain.timestamp() + DAY
    to_buyer = 25_000 * UNIT

    receipt = escrow_of(deployed).settle_dispute(
        order_id,
        to_buyer,
        deadline,
        *settlement_sigs(deployed, order_id, to_buyer, deadline),
        acct(deployed, "relayer"),
    )

    assert events(deployed, receipt) == [
        (
            "DisputeResolved",
            {
                "orderId": order_id,
                "toBuyer": to_buyer,
                "toSupplier": AMOUNT - to_buyer,
                "fromPool": 0,
                "how": Resolution.SETTLEMENT,
                "by": addr(deployed, "relayer"),
            },
        )
    ]
    assert escrow_of(deployed).order(order_id).status is OrderStatus.SETTLED
    assert_paid_out(deployed, order_id, before, to_buyer=to_buyer, to_supplier=AMOUNT - to_buyer)


def test_a_settlement_cannot_be_replayed(deployed: Deployed, world: World) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = settlement_sigs(deployed, order_id, 0, deadline)
    send(deployed, settle_fn(deployed, order_id, 0, deadline, sigs), acct(deployed, "relayer"))

    assert refused(
        lambda: send(deployed, settle_fn(deployed, order_id, 0, deadline, sigs), acct(deployed, "relayer"))
    ) == invalid_status(order_id, OrderStatus.SETTLED)


@pytest.mark.parity
def test_a_settlement_past_its_deadline_reverts_with_signature_expired_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    order_id = disputed(deployed, world)
    before = deployed.chain.timestamp()
    deadline = before - 1

    error, args = refused_settlement_on_chain(
        deployed, order_id, 0, deadline, settlement_sigs(deployed, order_id, 0, deadline)
    )

    assert (error, args["deadline"]) == ("TradeEscrowSignatureExpired", deadline)
    assert args["nowTimestamp"] > deadline


@pytest.mark.parametrize(
    ("slot", "signer"), [(0, "tier2"), (0, "tier1"), (1, "core"), (1, "arbiter")],
    ids=["buyer-sig-by-stranger", "buyer-sig-by-supplier", "supplier-sig-by-buyer", "supplier-sig-by-arbiter"],
)  # fmt: skip
def test_a_settlement_signed_by_the_wrong_party_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, world: World, slot: int, signer: str
) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = list(settlement_sigs(deployed, order_id, 0, deadline))
    sigs[slot] = escrow_of(deployed).sign_settlement(acct(deployed, signer), order_id, 0, deadline)

    assert refused_settlement_on_chain(deployed, order_id, 0, deadline, (sigs[0], sigs[1])) == (
        "TradeEscrowInvalidSigner",
        {"expected": addr(deployed, ["core", "tier1"][slot]), "recovered": addr(deployed, signer)},
    )


@pytest.mark.parametrize("slot", [0, 1], ids=["buyer", "supplier"])
def test_a_settlement_with_a_high_s_signature_reverts_with_malleable_signature_and_changes_nothing(
    deployed: Deployed, world: World, slot: int
) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = list(settlement_sigs(deployed, order_id, AMOUNT, deadline))
    sigs[slot] = high_s(sigs[slot])

    assert refused_settlement_on_chain(deployed, order_id, AMOUNT, deadline, (sigs[0], sigs[1])) == (
        "TradeEscrowMalleableSignature",
        {"index": slot},
    )


@pytest.mark.parametrize("domain", ["chainId", "verifyingContract"])
def test_a_settlement_signed_for_another_domain_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, world: World, domain: str
) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    document = escrow_of(deployed).settlement_document(order_id, AMOUNT, deadline)
    other = deployed.chain.chain_id + 1 if domain == "chainId" else deployed.addresses["Membership"]
    buyer_sig = sign_in_domain(acct(deployed, "core"), document, **{domain: other})
    supplier_sig = settlement_sigs(deployed, order_id, AMOUNT, deadline)[1]

    assert refused_settlement_on_chain(deployed, order_id, AMOUNT, deadline, (buyer_sig, supplier_sig)) == (
        "TradeEscrowInvalidSigner",
        {"expected": addr(deployed, "core"), "recovered": typed_data.recover(document, buyer_sig)},
    )


def test_a_settlement_submitted_with_another_split_than_signed_reverts_with_invalid_signer(
    deployed: Deployed, world: World
) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = settlement_sigs(deployed, order_id, 10 * UNIT, deadline)
    document = escrow_of(deployed).settlement_document(order_id, AMOUNT, deadline)

    assert refused(
        lambda: send(deployed, settle_fn(deployed, order_id, AMOUNT, deadline, sigs), acct(deployed, "core"))
    ) == (
        "TradeEscrowInvalidSigner",
        {"expected": addr(deployed, "core"), "recovered": typed_data.recover(document, sigs[0])},
    )


def test_a_co_signed_settlement_above_the_amount_reverts_with_invalid_split(deployed: Deployed, world: World) -> None:
    order_id = disputed(deployed, world)
    deadline = deployed.chain.timestamp() + DAY
    sigs = settlement_sigs(deployed, order_id, AMOUNT + 1, deadline)

    assert refused(
        lambda: send(deployed, settle_fn(deployed, order_id, AMOUNT + 1, deadline, sigs), acct(deployed, "core"))
    ) == ("TradeEscrowInvalidSplit", {"orderId": order_id, "buyerAmount": AMOUNT + 1, "amount": AMOUNT})


@pytest.mark.parametrize("which", ["delivered", "unknown"])
def test_a_settlement_of_an_order_not_in_dispute_reverts(deployed: Deployed, world: World, which: str) -> None:
    order_id = world.delivered if which == "delivered" else 99
    deadline = deployed.chain.timestamp() + DAY
    sigs = settlement_sigs(deployed, order_id, 0, deadline)

    caught = refused(lambda: send(deployed, settle_fn(deployed, order_id, 0, deadline, sigs), acct(deployed, "core")))

    if which == "delivered":
        assert caught == invalid_status(order_id, OrderStatus.DELIVERED)
    else:
        assert caught == ("TradeEscrowUnknownOrder", {"orderId": order_id})


# -- expired disputes -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["arbitrate", "settle"])
@pytest.mark.parametrize("answered", [False, True], ids=["unanswered-past-answer-by", "answered-past-resolve-by"])
def test_an_expired_dispute_reverts_arbitrate_and_settle_with_dispute_expired_and_only_closes_for_the_buyer(
    deployed: Deployed, world: World, answered: bool, how: str
) -> None:
    escrow = escrow_of(deployed)
    order_id = disputed(deployed, world, answered=answered)
    dispute = escrow.dispute(order_id)
    deadline = dispute.resolve_by if answered else dispute.answer_by
    if how == "arbitrate":
        fn, sender = escrow.contract.functions.arbitrate(order_id, 0), acct(deployed, "arbiter")
    else:
        signed_until = dispute.resolve_by + DAY  # the signatures themselves are still valid
        sigs = settlement_sigs(deployed, order_id, 0, signed_until)
        fn, sender = settle_fn(deployed, order_id, 0, signed_until, sigs), acct(deployed, "relayer")

    assert passes_at(deployed, deadline, fn, sender) is True  # the deadline's own second is still in time
    advance_to(deployed, deadline + 1)
    caught = mined_revert(deployed, fn, sender)

    assert (caught.error, caught.error_args) == (
        "TradeEscrowDisputeExpired",
        {"orderId": order_id, "deadline": deadline},
    )
    before = balances(deployed)
    escrow.close_expired_dispute(order_id, acct(deployed, "relayer"))
    assert escrow.order(order_id).status is OrderStatus.REFUNDED
    assert_paid_out(deployed, order_id, before, to_buyer=AMOUNT, to_supplier=0)


def test_an_answered_dispute_can_still_be_arbitrated_after_answer_by(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    order_id = disputed(deployed, world, answered=True)
    advance_to(deployed, escrow.dispute(order_id).answer_by + 1)

    escrow.arbitrate(order_id, 0, acct(deployed, "arbiter"))

    assert escrow.order(order_id).status is OrderStatus.SETTLED


# -- closeExpiredDispute ----------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("answered", [False, True], ids=["unanswered", "answered-unresolved"])
def test_close_expired_dispute_refunds_the_buyer_in_full(deployed: Deployed, world: World, answered: bool) -> None:
    order_id = disputed(deployed, world, answered=answered)
    before = balances(deployed)
    dispute = escrow_of(deployed).dispute(order_id)
    advance_to(deployed, (dispute.resolve_by if answered else dispute.answer_by) + 1)

    receipt = escrow_of(deployed).close_expired_dispute(order_id, acct(deployed, "relayer"))

    assert events(deployed, receipt) == [
        (
            "DisputeResolved",
            {
                "orderId": order_id,
                "toBuyer": AMOUNT,
                "toSupplier": 0,
                "fromPool": 0,
                "how": Resolution.EXPIRED if answered else Resolution.UNANSWERED,
                "by": addr(deployed, "relayer"),
            },
        )
    ]
    assert escrow_of(deployed).order(order_id).status is OrderStatus.REFUNDED
    assert_paid_out(deployed, order_id, before, to_buyer=AMOUNT, to_supplier=0)


@pytest.mark.parametrize(
    ("answered", "when"),
    [(False, "before-answer-by"), (True, "before-answer-by"), (True, "after-answer-by")],
)
def test_close_a_dispute_still_open_reverts_with_dispute_still_open(
    deployed: Deployed, world: World, answered: bool, when: str
) -> None:
    order_id = disputed(deployed, world, answered=answered)
    dispute = escrow_of(deployed).dispute(order_id)
    advance_to(deployed, dispute.answer_by - HOUR if when == "before-answer-by" else dispute.resolve_by - HOUR)

    assert refused(lambda: escrow_of(deployed).close_expired_dispute(order_id, acct(deployed, "core"))) == (
        "TradeEscrowDisputeStillOpen",
        {"orderId": order_id, "answerBy": dispute.answer_by, "resolveBy": dispute.resolve_by},
    )


@pytest.mark.parametrize(
    ("state", "status"), [("delivered", OrderStatus.DELIVERED), ("released", OrderStatus.RELEASED)]
)
def test_close_expired_dispute_of_an_order_not_in_dispute_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str, status: OrderStatus
) -> None:
    order_id = order_in(deployed, world, state)

    assert refused(lambda: escrow_of(deployed).close_expired_dispute(order_id, acct(deployed, "core"))) == (
        invalid_status(order_id, status)
    )


def test_close_expired_dispute_of_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    assert refused(lambda: escrow_of(deployed).close_expired_dispute(50, acct(deployed, "core"))) == (
        "TradeEscrowUnknownOrder",
        {"orderId": 50},
    )


def test_a_resolved_dispute_pays_out_only_once(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    order_id = disputed(deployed, world)
    escrow.arbitrate(order_id, 1, acct(deployed, "arbiter"))
    advance_to(deployed, escrow.dispute(order_id).resolve_by + 1)
    after = balances(deployed)

    for call in (
        lambda: escrow.close_expired_dispute(order_id, acct(deployed, "relayer")),
        lambda: escrow.arbitrate(order_id, 0, acct(deployed, "arbiter")),
        lambda: escrow.release(order_id, acct(deployed, "relayer")),
        lambda: escrow.confirm_receipt(order_id, acct(deployed, "core")),
        lambda: escrow.answer_dispute(order_id, RESPONSE, acct(deployed, "tier1")),
    ):
        assert refused(call) == invalid_status(order_id, OrderStatus.SETTLED)
    assert balances(deployed) == after
    assert_money_accounted(deployed)
