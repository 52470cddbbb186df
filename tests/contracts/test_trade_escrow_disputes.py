"""TradeEscrow disputes opened and answered: the buyer opens one within the claim window, or after
deliver-by for goods lost in transit; the supplier answers once, within the answer window.

The world (``open_world`` of ``tests.support.escrow``: balances, a pool, a limit and one order in each
early state) is built once per module and backend (``tests.support.worlds``); each test runs under
``deployed``'s snapshot and is rolled back.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.domain.escrow import OrderStatus
from tests.contracts.escrow_settlement_helpers import REASON, RESPONSE, disputed, invalid_status, order_in, refused
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    ANSWER_WINDOW,
    CLAIM_WINDOW,
    HOUR,
    RESOLVE_WINDOW,
    World,
    acct,
    addr,
    advance_to,
    assert_paid_out,
    balances,
    block_time,
    escrow_of,
    events,
    open_world,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


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
