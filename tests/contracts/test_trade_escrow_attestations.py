"""TradeEscrow attestations: k-of-n oracle quorum, thresholds per kind, milestone order, each milestone once,
evidence reuse, event-time bounds, inspection not required, and the refund of a failed inspection."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import Attestation, Milestone, OrderStatus, RefundReason, Windows
from ledger.eth import eip712
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    ANSWER_WINDOW,
    CARRIER,
    CLAIM_WINDOW,
    DAY,
    HOUR,
    INSPECTOR,
    MAX_ATTESTATION_AGE,
    RESOLVE_WINDOW,
    ZERO_ADDRESS,
    World,
    acct,
    addr,
    assert_money_accounted,
    assert_now,
    attest,
    attest_fn,
    attestation_of,
    balances,
    block_time,
    escrow_of,
    escrow_state,
    events,
    evidence,
    fixed_key,
    high_s,
    inspect,
    mined_revert,
    new_order,
    open_dispute,
    open_world,
    oracle_signatures,
    passes_at,
    reinstate,
    revert_of,
    ship,
    sign_in_domain,
    suspend,
    view,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


def submit(deployed: Deployed, attestation: Attestation, oracles: list[LocalAccount]) -> Any:
    sigs = oracle_signatures(deployed, attestation, oracles)
    return escrow_of(deployed).attest(attestation, sigs, acct(deployed, "relayer"))


def refused(deployed: Deployed, attestation: Attestation, sigs: list[bytes]) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(lambda: escrow_of(deployed).attest(attestation, sigs, acct(deployed, "relayer")))
    return caught.error, caught.error_args


def refused_on_chain(
    deployed: Deployed, attestation: Attestation, sigs: list[bytes]
) -> tuple[str | None, dict[str, Any]]:
    """Mine the refused attestation and check it changed nothing of its order, evidence or balances."""
    order = escrow_of(deployed).order(attestation.order_id)
    keys: dict[str, Any] = {
        "orders": [attestation.order_id],
        "evidences": [attestation.evidence_hash],
        "holders": [order.terms.buyer, order.terms.supplier],
    }
    before = escrow_state(deployed, **keys)
    caught = mined_revert(deployed, attest_fn(deployed, attestation, sigs), acct(deployed, "relayer"))
    assert escrow_state(deployed, **keys) == before
    return caught.error, caught.error_args


def set_threshold(deployed: Deployed, kind: int, threshold: int) -> None:
    escrow_of(deployed).set_threshold(kind, threshold, acct(deployed, "admin"))


# -- recording milestones ---------------------------------------------------------------------


@pytest.mark.parity
def test_shipped_attestation_records_the_event_time_and_emits_signers_and_evidence(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    occurred = deployed.chain.timestamp() - HOUR
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=occurred)

    receipt = submit(deployed, attestation, [acct(deployed, "carrier")])

    assert events(deployed, receipt) == [
        (
            "MilestoneAttested",
            {
                "orderId": world.funded,
                "milestone": Milestone.SHIPPED,
                "occurredAt": occurred,
                "evidenceHash": attestation.evidence_hash,
                "signers": [addr(deployed, "carrier")],
                "status": OrderStatus.SHIPPED,
            },
        )
    ]
    order = escrow.order(world.funded)
    assert (order.status, order.shipped_at, order.escrowed) == (OrderStatus.SHIPPED, occurred, AMOUNT)
    assert view(deployed, escrow.contract.functions.evidenceUsed(attestation.evidence_hash)) is True


def test_delivered_attestation_keeps_the_event_time_and_the_block_time_apart(deployed: Deployed, world: World) -> None:
    order_id = new_order(deployed, po="PO-LATE-NEWS")
    attest(deployed, order_id, Milestone.SHIPPED, occurred_at=deployed.chain.timestamp() - 3 * DAY)
    occurred = deployed.chain.timestamp() - 2 * DAY

    receipt = attest(deployed, order_id, Milestone.DELIVERED, occurred_at=occurred)

    order = escrow_of(deployed).order(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert (order.delivered_at, order.delivered_recorded_at) == (occurred, block_time(deployed, receipt))
    assert events(deployed, receipt)[0][1]["status"] == OrderStatus.DELIVERED


def test_inspection_passed_moves_a_delivered_order_to_inspected(deployed: Deployed, world: World) -> None:
    occurred = escrow_of(deployed).order(world.inspecting).delivered_at  # the same second is in sequence

    receipt = attest(deployed, world.inspecting, Milestone.INSPECTION_PASSED, occurred_at=occurred)

    order = escrow_of(deployed).order(world.inspecting)
    assert (order.status, order.inspected_at, order.escrowed) == (OrderStatus.INSPECTED, occurred, AMOUNT)
    assert [name for name, _ in events(deployed, receipt)] == ["MilestoneAttested"]
    assert events(deployed, receipt)[0][1]["signers"] == [addr(deployed, "inspector")]


@pytest.mark.parity
def test_inspection_failed_refunds_the_buyer_in_full(deployed: Deployed, world: World) -> None:
    before = balances(deployed)
    attestation = attestation_of(deployed, world.inspecting, Milestone.INSPECTION_FAILED)

    receipt = submit(deployed, attestation, [acct(deployed, "inspector")])

    assert events(deployed, receipt) == [
        (
            "MilestoneAttested",
            {
                "orderId": world.inspecting,
                "milestone": Milestone.INSPECTION_FAILED,
                "occurredAt": attestation.occurred_at,
                "evidenceHash": attestation.evidence_hash,
                "signers": [addr(deployed, "inspector")],
                "status": OrderStatus.REFUNDED,
            },
        ),
        (
            "OrderRefunded",
            {
                "orderId": world.inspecting,
                "buyer": addr(deployed, "core"),
                "fromEscrow": AMOUNT,
                "fromPool": 0,
                "reason": RefundReason.INSPECTION_FAILED,
            },
        ),
    ]
    order = escrow_of(deployed).order(world.inspecting)
    assert (order.status, order.inspected_at, order.closed_at) == (
        OrderStatus.REFUNDED,
        attestation.occurred_at,
        block_time(deployed, receipt),
    )
    assert balances(deployed) == (before[0] + AMOUNT, before[1])
    assert (order.refunded_to_buyer, order.paid_to_supplier, order.escrowed) == (AMOUNT, 0, 0)
    assert_money_accounted(deployed)


def test_a_refunded_failed_inspection_takes_no_further_milestone_or_payout(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    inspect(deployed, world.inspecting, passed=False)

    for call in (
        lambda: escrow.confirm_receipt(world.inspecting, acct(deployed, "core")),
        lambda: escrow.release(world.inspecting, acct(deployed, "relayer")),
        lambda: escrow.open_dispute(world.inspecting, keccak(text="again"), acct(deployed, "core")),
    ):
        caught = revert_of(call)
        assert (caught.error, caught.error_args) == (
            "TradeEscrowInvalidStatus",
            {"orderId": world.inspecting, "status": OrderStatus.REFUNDED},
        )
    caught = revert_of(lambda: attest(deployed, world.inspecting, Milestone.INSPECTION_PASSED, salt="again"))
    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneAlreadyRecorded",
        {"orderId": world.inspecting, "milestone": Milestone.INSPECTION_PASSED},
    )


# -- quorum and thresholds --------------------------------------------------------------------


def test_two_of_three_carriers_meet_a_threshold_of_two(deployed: Deployed, world: World) -> None:
    set_threshold(deployed, CARRIER, 2)
    signers = [world.carriers[2], world.carriers[0]]

    receipt = submit(deployed, attestation_of(deployed, world.funded, Milestone.SHIPPED), signers)

    assert events(deployed, receipt)[0][1]["signers"] == [signer.address for signer in signers]
    assert escrow_of(deployed).order(world.funded).status is OrderStatus.SHIPPED


def test_signatures_beyond_the_threshold_are_accepted_and_all_listed(deployed: Deployed, world: World) -> None:
    receipt = submit(deployed, attestation_of(deployed, world.funded, Milestone.SHIPPED), list(world.carriers))

    assert events(deployed, receipt)[0][1]["signers"] == [carrier.address for carrier in world.carriers]


@pytest.mark.parity
def test_fewer_signatures_than_the_threshold_reverts_with_quorum_not_met_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    set_threshold(deployed, CARRIER, 3)
    attestation = attestation_of(deployed, world.shipped, Milestone.DELIVERED)
    sigs = oracle_signatures(deployed, attestation, world.carriers[:2])

    assert refused_on_chain(deployed, attestation, sigs) == (
        "TradeEscrowQuorumNotMet",
        {"signers": 2, "threshold": 3},
    )


def test_no_signature_at_all_reverts_with_quorum_not_met(deployed: Deployed, world: World) -> None:
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)

    assert refused(deployed, attestation, []) == ("TradeEscrowQuorumNotMet", {"signers": 0, "threshold": 1})


def test_the_inspector_threshold_is_separate_from_the_carrier_threshold(deployed: Deployed, world: World) -> None:
    set_threshold(deployed, INSPECTOR, 2)
    ship(deployed, world.funded)  # carriers still need one signature
    attestation = attestation_of(deployed, world.inspecting, Milestone.INSPECTION_PASSED)

    lone = oracle_signatures(deployed, attestation, world.inspectors[:1])
    assert refused(deployed, attestation, lone) == ("TradeEscrowQuorumNotMet", {"signers": 1, "threshold": 2})

    submit(deployed, attestation, list(world.inspectors))
    assert escrow_of(deployed).order(world.inspecting).status is OrderStatus.INSPECTED


@pytest.mark.parametrize("order", [[0, 0], [0, 1, 0], [1, 2, 2]], ids=["twice", "first-and-last", "last-two"])
def test_an_oracle_signing_twice_reverts_with_duplicate_signer_and_changes_nothing(
    deployed: Deployed, world: World, order: list[int]
) -> None:
    set_threshold(deployed, CARRIER, 2)
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    sigs = oracle_signatures(deployed, attestation, [world.carriers[i] for i in order])

    assert refused_on_chain(deployed, attestation, sigs) == (
        "TradeEscrowDuplicateSigner",
        {"signer": world.carriers[order[-1]].address},
    )


def test_an_unregistered_oracle_reverts_with_unauthorized_oracle_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    stranger = fixed_key("unregistered-carrier")
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier"), stranger])

    assert refused_on_chain(deployed, attestation, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": stranger.address, "kind": CARRIER},
    )


def test_a_suspended_oracle_reverts_with_unauthorized_oracle_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    suspend(deployed, addr(deployed, "carrier"))
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, attestation, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": addr(deployed, "carrier"), "kind": CARRIER},
    )

    reinstate(deployed, addr(deployed, "carrier"))
    escrow_of(deployed).attest(attestation, sigs, acct(deployed, "relayer"))
    assert escrow_of(deployed).order(world.funded).status is OrderStatus.SHIPPED


@pytest.mark.parametrize(
    ("signer", "milestone", "kind"),
    [
        ("inspector", Milestone.SHIPPED, CARRIER),
        ("inspector", Milestone.DELIVERED, CARRIER),
        ("carrier", Milestone.INSPECTION_PASSED, INSPECTOR),
        ("carrier", Milestone.INSPECTION_FAILED, INSPECTOR),
        ("core", Milestone.SHIPPED, CARRIER),
        ("admin", Milestone.INSPECTION_PASSED, INSPECTOR),
    ],
    ids=["inspector-ships", "inspector-delivers", "carrier-passes", "carrier-fails", "buyer-ships", "admin-inspects"],
)
def test_a_signer_not_an_oracle_of_the_milestones_kind_reverts_with_unauthorized_oracle(
    deployed: Deployed, world: World, signer: str, milestone: Milestone, kind: int
) -> None:
    order_id = {
        Milestone.SHIPPED: world.funded,
        Milestone.DELIVERED: world.shipped,
        Milestone.INSPECTION_PASSED: world.inspecting,
        Milestone.INSPECTION_FAILED: world.inspecting,
    }[milestone]
    attestation = attestation_of(deployed, order_id, milestone)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, signer)])

    assert refused(deployed, attestation, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": addr(deployed, signer), "kind": kind},
    )


@pytest.mark.parity
def test_a_high_s_oracle_signature_reverts_with_malleable_signature_at_its_index_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    set_threshold(deployed, CARRIER, 2)
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    good, other = oracle_signatures(deployed, attestation, world.carriers[:2])
    flipped = high_s(other)
    document = escrow_of(deployed).attestation_document(attestation)
    assert eip712.recover(document, flipped) == world.carriers[1].address  # same signer, other s

    assert refused_on_chain(deployed, attestation, [good, flipped]) == (
        "TradeEscrowMalleableSignature",
        {"index": 1},
    )


@pytest.mark.parametrize("domain", ["chainId", "verifyingContract"])
def test_an_attestation_signed_for_another_domain_reverts_with_unauthorized_oracle_and_changes_nothing(
    deployed: Deployed, world: World, domain: str
) -> None:
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    document = escrow_of(deployed).attestation_document(attestation)
    other = deployed.chain.chain_id + 1 if domain == "chainId" else deployed.addresses["CreditRegistry"]
    signature = sign_in_domain(acct(deployed, "carrier"), document, **{domain: other})
    recovered = eip712.recover(document, signature)

    assert refused_on_chain(deployed, attestation, [signature]) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": recovered, "kind": CARRIER},
    )
    assert recovered != addr(deployed, "carrier")


def test_an_attestation_submitted_with_other_fields_than_signed_reverts_with_unauthorized_oracle(
    deployed: Deployed, world: World
) -> None:
    signed = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    submitted = Attestation(signed.order_id, signed.milestone, signed.occurred_at, keccak(text="other evidence"))
    sigs = oracle_signatures(deployed, signed, [acct(deployed, "carrier")])
    recovered = eip712.recover(escrow_of(deployed).attestation_document(submitted), sigs[0])

    assert refused(deployed, submitted, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": recovered, "kind": CARRIER},
    )


@pytest.mark.parametrize("signature", [b"", b"\x02" * 64, b"\x02" * 64 + b"\x1d"], ids=["empty", "64-bytes", "bad-v"])
def test_a_malformed_oracle_signature_reverts_with_unauthorized_oracle_from_zero(
    deployed: Deployed, world: World, signature: bytes
) -> None:
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)

    assert refused(deployed, attestation, [signature]) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": ZERO_ADDRESS, "kind": CARRIER},
    )


# -- which order, which milestone ------------------------------------------------------------


@pytest.mark.parametrize("order_id", [0, 6, 2**64])
def test_an_attestation_for_an_unknown_order_reverts_with_unknown_order(
    deployed: Deployed, world: World, order_id: int
) -> None:
    attestation = attestation_of(deployed, order_id, Milestone.SHIPPED)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    assert refused(deployed, attestation, sigs) == ("TradeEscrowUnknownOrder", {"orderId": order_id})


def test_milestone_none_reverts_with_unknown_milestone(deployed: Deployed, world: World) -> None:
    attestation = Attestation(world.funded, 0, deployed.chain.timestamp(), evidence(world.funded, 0))  # type: ignore[arg-type]
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    assert refused(deployed, attestation, sigs) == ("TradeEscrowUnknownMilestone", {"milestone": 0})


@pytest.mark.parity
def test_a_milestone_outside_the_enum_reverts_without_data(deployed: Deployed, world: World) -> None:
    attestation = Attestation(world.funded, 5, deployed.chain.timestamp(), evidence(world.funded, 5))  # type: ignore[arg-type]
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    caught = revert_of(lambda: escrow_of(deployed).attest(attestation, sigs, acct(deployed, "relayer")))

    assert caught.error is None  # the ABI decoder refuses the enum before any rule runs
    assert escrow_of(deployed).order(world.funded).status is OrderStatus.FUNDED


@pytest.mark.parametrize(
    ("state", "milestone", "status"),
    [
        ("created", Milestone.SHIPPED, OrderStatus.CREATED),
        ("created", Milestone.DELIVERED, OrderStatus.CREATED),
        ("funded", Milestone.DELIVERED, OrderStatus.FUNDED),
        ("cancelled", Milestone.SHIPPED, OrderStatus.CANCELLED),
    ],
    ids=["ship-unfunded", "deliver-unfunded", "deliver-unshipped", "ship-cancelled"],
)
def test_a_milestone_before_its_predecessor_reverts_with_milestone_out_of_order(
    deployed: Deployed, world: World, state: str, milestone: Milestone, status: OrderStatus
) -> None:
    order_id = world.funded if state == "funded" else world.created
    if state == "cancelled":
        escrow_of(deployed).cancel_unfunded(order_id, acct(deployed, "core"))

    caught = revert_of(lambda: attest(deployed, order_id, milestone))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneOutOfOrder",
        {"orderId": order_id, "milestone": milestone, "status": status},
    )


@pytest.mark.parametrize("milestone", [Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED])
@pytest.mark.parametrize("stage", ["funded", "shipped"])
def test_an_inspection_before_delivery_reverts_with_milestone_out_of_order(
    deployed: Deployed, world: World, stage: str, milestone: Milestone
) -> None:
    order_id = new_order(deployed, inspection=True)
    if stage == "shipped":
        ship(deployed, order_id)

    caught = revert_of(lambda: attest(deployed, order_id, milestone))

    status = OrderStatus.SHIPPED if stage == "shipped" else OrderStatus.FUNDED
    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneOutOfOrder",
        {"orderId": order_id, "milestone": milestone, "status": status},
    )


def test_shipment_may_predate_the_order(deployed: Deployed, world: World) -> None:
    """A purchase order is sometimes signed after dispatch: SHIPPED before createdAt is accepted."""
    created_at = escrow_of(deployed).order(world.funded).created_at
    attest(deployed, world.funded, Milestone.SHIPPED, occurred_at=created_at - DAY)

    assert escrow_of(deployed).order(world.funded).shipped_at == created_at - DAY


def sequenced_order(deployed: Deployed, *, inspection: bool) -> tuple[int, int]:
    """A new order shipped two days ago (and, for an inspection, delivered a day ago); the last event time."""
    now = deployed.chain.timestamp()
    order_id = new_order(deployed, po="PO-SEQUENCE", inspection=inspection)
    attest(deployed, order_id, Milestone.SHIPPED, occurred_at=now - 2 * DAY)
    if not inspection:
        return order_id, now - 2 * DAY
    attest(deployed, order_id, Milestone.DELIVERED, occurred_at=now - DAY)
    return order_id, now - DAY


@pytest.mark.parametrize("milestone", [Milestone.DELIVERED, Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED])
def test_a_milestone_dated_before_its_predecessor_reverts_with_milestone_out_of_sequence_and_changes_nothing(
    deployed: Deployed, world: World, milestone: Milestone
) -> None:
    order_id, previous_at = sequenced_order(deployed, inspection=milestone != Milestone.DELIVERED)
    attestation = attestation_of(deployed, order_id, milestone, occurred_at=previous_at - 1)
    oracle = acct(deployed, "carrier" if milestone == Milestone.DELIVERED else "inspector")
    fn = attest_fn(deployed, attestation, oracle_signatures(deployed, attestation, [oracle]))
    keys: dict[str, Any] = {"orders": [order_id], "holders": [addr(deployed, "core")]}
    before = escrow_state(deployed, **keys)

    caught = mined_revert(deployed, fn, acct(deployed, "relayer"))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneOutOfSequence",
        {"orderId": order_id, "occurredAt": previous_at - 1, "previousAt": previous_at},
    )
    assert escrow_state(deployed, **keys) == before
    assert view(deployed, escrow_of(deployed).contract.functions.evidenceUsed(attestation.evidence_hash)) is False


@pytest.mark.parametrize("milestone", [Milestone.DELIVERED, Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED])
def test_a_milestone_dated_the_same_second_as_its_predecessor_is_in_sequence(
    deployed: Deployed, world: World, milestone: Milestone
) -> None:
    order_id, previous_at = sequenced_order(deployed, inspection=milestone != Milestone.DELIVERED)

    attest(deployed, order_id, milestone, occurred_at=previous_at)

    order = escrow_of(deployed).order(order_id)
    assert (order.delivered_at if milestone == Milestone.DELIVERED else order.inspected_at) == previous_at


@pytest.mark.parametrize(
    ("state", "milestone"),
    [
        ("shipped", Milestone.SHIPPED),
        ("delivered", Milestone.SHIPPED),
        ("delivered", Milestone.DELIVERED),
        ("inspected", Milestone.INSPECTION_PASSED),
        ("inspected", Milestone.INSPECTION_FAILED),
        ("inspected", Milestone.DELIVERED),
        ("released", Milestone.SHIPPED),
    ],
    ids=[
        "ship-twice",
        "ship-after-delivery",
        "deliver-twice",
        "pass-twice",
        "fail-after-pass",
        "deliver-after-pass",
        "ship-after-release",
    ],
)
def test_a_milestone_recorded_once_reverts_with_milestone_already_recorded(
    deployed: Deployed, world: World, state: str, milestone: Milestone
) -> None:
    order_id = {"shipped": world.shipped, "delivered": world.delivered}.get(state, world.inspecting)
    if state == "inspected":
        inspect(deployed, order_id)
    if state == "released":
        order_id = world.delivered
        escrow_of(deployed).confirm_receipt(order_id, acct(deployed, "core"))

    caught = revert_of(lambda: attest(deployed, order_id, milestone, salt="second"))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneAlreadyRecorded",
        {"orderId": order_id, "milestone": milestone},
    )


def test_delivery_of_goods_claimed_lost_reverts_with_milestone_out_of_order(deployed: Deployed, world: World) -> None:
    deliver_by = escrow_of(deployed).order(world.shipped).terms.deliver_by
    deployed.chain.advance_time(deliver_by - deployed.chain.timestamp() + HOUR)
    open_dispute(deployed, world.shipped, "goods never arrived")

    caught = revert_of(lambda: attest(deployed, world.shipped, Milestone.DELIVERED))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneOutOfOrder",
        {"orderId": world.shipped, "milestone": Milestone.DELIVERED, "status": OrderStatus.DISPUTED},
    )


@pytest.mark.parametrize("milestone", [Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED])
@pytest.mark.parametrize("state", ["funded", "delivered"])
def test_an_inspection_of_an_order_without_inspection_reverts_with_inspection_not_required(
    deployed: Deployed, world: World, state: str, milestone: Milestone
) -> None:
    order_id = world.funded if state == "funded" else world.delivered

    caught = revert_of(lambda: attest(deployed, order_id, milestone))

    assert (caught.error, caught.error_args) == ("TradeEscrowInspectionNotRequired", {"orderId": order_id})
    assert escrow_of(deployed).order(order_id).inspected_at == 0


# -- evidence and event time ------------------------------------------------------------------


def test_evidence_already_used_reverts_with_evidence_reused_even_for_another_order(
    deployed: Deployed, world: World
) -> None:
    used = evidence(world.shipped, Milestone.SHIPPED, "world")  # the world's shipment of another order
    attestation = Attestation(world.funded, Milestone.SHIPPED, deployed.chain.timestamp(), used)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, attestation, sigs) == ("TradeEscrowEvidenceReused", {"evidenceHash": used})


def test_evidence_of_a_refused_attestation_stays_free(deployed: Deployed, world: World) -> None:
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED)
    stranger_sigs = oracle_signatures(deployed, attestation, [fixed_key("stranger")])
    assert refused(deployed, attestation, stranger_sigs)[0] == "TradeEscrowUnauthorizedOracle"

    submit(deployed, attestation, [acct(deployed, "carrier")])

    assert escrow_of(deployed).order(world.funded).status is OrderStatus.SHIPPED


@pytest.mark.parity
def test_an_event_time_in_the_future_reverts_with_attestation_from_future(deployed: Deployed, world: World) -> None:
    before = deployed.chain.timestamp()
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=before + HOUR)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    error, args = refused(deployed, attestation, sigs)

    assert (error, args["occurredAt"]) == ("TradeEscrowAttestationFromFuture", before + HOUR)
    assert_now(deployed, args["nowTimestamp"], before)


def test_an_event_older_than_the_max_attestation_age_reverts_with_stale_attestation(
    deployed: Deployed, world: World
) -> None:
    before = deployed.chain.timestamp()
    occurred = before - MAX_ATTESTATION_AGE - HOUR
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=occurred)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    error, args = refused(deployed, attestation, sigs)

    assert (error, args["occurredAt"], args["maxAge"]) == ("TradeEscrowStaleAttestation", occurred, MAX_ATTESTATION_AGE)
    assert_now(deployed, args["nowTimestamp"], before)


def test_an_event_just_within_the_max_attestation_age_is_accepted(deployed: Deployed, world: World) -> None:
    occurred = deployed.chain.timestamp() - MAX_ATTESTATION_AGE + HOUR

    attest(deployed, world.funded, Milestone.SHIPPED, occurred_at=occurred)

    assert escrow_of(deployed).order(world.funded).shipped_at == occurred


@pytest.mark.parity
def test_an_event_exactly_max_attestation_age_old_is_accepted_and_a_second_older_is_stale(
    deployed: Deployed, world: World
) -> None:
    occurred = deployed.chain.timestamp() - MAX_ATTESTATION_AGE + HOUR
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=occurred)
    fn = attest_fn(deployed, attestation, oracle_signatures(deployed, attestation, [acct(deployed, "carrier")]))

    at_max_age = passes_at(deployed, occurred + MAX_ATTESTATION_AGE, fn, acct(deployed, "relayer"))
    a_second_older = passes_at(deployed, occurred + MAX_ATTESTATION_AGE + 1, fn, acct(deployed, "relayer"))

    assert (at_max_age, a_second_older) == (True, False)


def test_the_max_attestation_age_follows_the_windows_the_admin_sets(deployed: Deployed, world: World) -> None:
    escrow_of(deployed).set_windows(Windows(CLAIM_WINDOW, ANSWER_WINDOW, RESOLVE_WINDOW, DAY), acct(deployed, "admin"))
    occurred = deployed.chain.timestamp() - 2 * DAY
    attestation = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=occurred)
    sigs = oracle_signatures(deployed, attestation, [acct(deployed, "carrier")])

    error, args = refused(deployed, attestation, sigs)

    assert (error, args["occurredAt"], args["maxAge"]) == ("TradeEscrowStaleAttestation", occurred, DAY)


def test_the_event_time_checks_come_before_the_signature_checks(deployed: Deployed, world: World) -> None:
    stale = attestation_of(deployed, world.funded, Milestone.SHIPPED, occurred_at=1)

    assert refused(deployed, stale, [])[0] == "TradeEscrowStaleAttestation"


def test_an_attestation_needs_no_member_to_submit_it_and_pays_nothing_out(deployed: Deployed, world: World) -> None:
    before = balances(deployed)

    ship(deployed, world.funded)  # relayed by the relayer, who is no member
    attest(deployed, world.funded, Milestone.DELIVERED)

    assert escrow_of(deployed).order(world.funded).escrowed == AMOUNT
    assert balances(deployed) == before
    assert_money_accounted(deployed)
