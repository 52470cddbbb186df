"""TradeEscrow disputes resolved: the arbiter's split, a settlement co-signed by buyer and supplier
(EIP-712) and relayed by anyone, expiry, and closeExpiredDispute's full refund to the buyer.

A refused settlement is mined and must leave the order, the dispute and the balances as they were
(``refused_settlement_on_chain``); a dispute past its deadline can no longer be arbitrated or
settled, only closed for the buyer; a resolved dispute pays out once.

The world (``open_world`` of ``tests.support.escrow``: balances, a pool, a limit and one order in each
early state) is built once per module and backend (``tests.support.worlds``); each test runs under
``deployed``'s snapshot and is rolled back.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.escrow import OrderStatus, Resolution
from ledger.eth import eip712
from tests.contracts.escrow_settlement_helpers import RESPONSE, disputed, invalid_status, order_in, refused
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    DAY,
    HOUR,
    UNIT,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    assert_paid_out,
    balances,
    block_time,
    escrow_of,
    escrow_state,
    events,
    high_s,
    mined_revert,
    open_world,
    passes_at,
    send,
    sign_in_domain,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


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
        {"expected": addr(deployed, "core"), "recovered": eip712.recover(document, buyer_sig)},
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
        {"expected": addr(deployed, "core"), "recovered": eip712.recover(document, sigs[0])},
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
