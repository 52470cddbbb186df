"""TradeEscrow contestMilestone: an oracle quorum declares the EPCIS event behind an attested milestone
erroneous and the order goes into dispute (issue 5). Which evidence, which order, the declaration's time,
the order's status, the quorum of the contested milestone's kind, and the dispute that follows."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone, OrderStatus, Resolution
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
    ZERO_HASH,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    assert_now,
    assert_paid_out,
    attest,
    balances,
    block_time,
    contest,
    contest_fn,
    declaration_of,
    declaration_signatures,
    escrow_of,
    escrow_state,
    events,
    evidence,
    fixed_key,
    high_s,
    inspect,
    make_terms,
    mined_revert,
    open_dispute,
    open_world,
    passes_at,
    reinstate,
    revert_of,
    sign_in_domain,
    suspend,
    view,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


def world_evidence(order_id: int, milestone: Milestone) -> bytes:
    """The evidence hash the world attested ``milestone`` of ``order_id`` with."""
    return evidence(order_id, milestone, "world")


def submit(deployed: Deployed, declaration: ErrorDeclaration, oracles: list[LocalAccount]) -> Any:
    sigs = declaration_signatures(deployed, declaration, oracles)
    return escrow_of(deployed).contest_milestone(declaration, sigs, acct(deployed, "relayer"))


def refused(deployed: Deployed, declaration: ErrorDeclaration, sigs: list[bytes]) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(lambda: escrow_of(deployed).contest_milestone(declaration, sigs, acct(deployed, "relayer")))
    return caught.error, caught.error_args


def refused_on_chain(
    deployed: Deployed, declaration: ErrorDeclaration, sigs: list[bytes], order_id: int
) -> tuple[str | None, dict[str, Any]]:
    """Mine the refused contest and check it changed nothing of its order, dispute, evidence or balances."""
    keys: dict[str, Any] = {
        "orders": [order_id],
        "disputes": [order_id],
        "evidences": [declaration.evidence_hash],
        "holders": [addr(deployed, "core"), addr(deployed, "tier1")],
    }
    before = escrow_state(deployed, **keys)
    caught = mined_revert(deployed, contest_fn(deployed, declaration, sigs), acct(deployed, "relayer"))
    assert escrow_state(deployed, **keys) == before
    return caught.error, caught.error_args


def set_threshold(deployed: Deployed, kind: int, threshold: int) -> None:
    escrow_of(deployed).set_threshold(kind, threshold, acct(deployed, "admin"))


def open_account_shipped(deployed: Deployed) -> tuple[int, bytes]:
    """A new open-account order (core -> tier1) with its shipment attested; (its id, the evidence)."""
    escrow = escrow_of(deployed)
    terms = make_terms(deployed, po="PO-OPEN-ACCOUNT", nonce=77)
    buyer_sig = escrow.sign_open_account_order(acct(deployed, "core"), terms)
    supplier_sig = escrow.sign_open_account_order(acct(deployed, "tier1"), terms)
    order_id, _ = escrow.create_open_account_order(terms, buyer_sig, supplier_sig, acct(deployed, "core"))
    attest(deployed, order_id, Milestone.SHIPPED)
    return order_id, evidence(order_id, Milestone.SHIPPED, "test")


# -- which milestone an evidence hash stands for ------------------------------------------------


def test_evidence_of_names_the_order_and_milestone_each_evidence_hash_was_attested_for(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)

    assert escrow.evidence_of(world_evidence(world.shipped, Milestone.SHIPPED)) == (world.shipped, Milestone.SHIPPED)
    assert escrow.evidence_of(world_evidence(world.delivered, Milestone.DELIVERED)) == (
        world.delivered,
        Milestone.DELIVERED,
    )
    inspect(deployed, world.inspecting)
    inspection = evidence(world.inspecting, Milestone.INSPECTION_PASSED)
    assert escrow.evidence_of(inspection) == (world.inspecting, Milestone.INSPECTION_PASSED)
    assert view(deployed, escrow.contract.functions.evidenceUsed(inspection)) is True


def test_evidence_never_attested_reads_as_order_zero_and_milestone_none(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    unused = evidence(world.funded, Milestone.SHIPPED)

    assert tuple(view(deployed, escrow.contract.functions.evidenceOf(unused))) == (0, 0)
    assert escrow.evidence_of(unused) is None


@pytest.mark.parity
def test_the_error_declaration_digest_is_the_eip712_hash_the_client_signs(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))

    on_chain = view(deployed, escrow.contract.functions.errorDeclarationDigest(declaration.as_tuple()))

    assert on_chain == eip712.digest(escrow.error_declaration_document(declaration))


# -- contesting -----------------------------------------------------------------------------------


@pytest.mark.parity
def test_a_contested_delivery_puts_the_order_in_dispute_for_its_buyer_and_moves_no_money(
    deployed: Deployed, world: World
) -> None:
    before = balances(deployed)
    delivery = world_evidence(world.delivered, Milestone.DELIVERED)
    declaration = declaration_of(deployed, delivery, declared_at=deployed.chain.timestamp() - HOUR)

    receipt = submit(deployed, declaration, [acct(deployed, "carrier")])

    opened = block_time(deployed, receipt)
    answer_by, resolve_by = opened + ANSWER_WINDOW, opened + RESOLVE_WINDOW
    assert events(deployed, receipt) == [
        (
            "MilestoneContested",
            {
                "orderId": world.delivered,
                "milestone": Milestone.DELIVERED,
                "evidenceHash": delivery,
                "reasonHash": declaration.reason_hash,
                "declaredAt": declaration.declared_at,
                "signers": [addr(deployed, "carrier")],
            },
        ),
        (
            "DisputeOpened",
            {
                "orderId": world.delivered,
                "buyer": addr(deployed, "core"),  # the order's buyer, not the relayer who sent it
                "reasonHash": declaration.reason_hash,
                "answerBy": answer_by,
                "resolveBy": resolve_by,
            },
        ),
    ]
    dispute = escrow_of(deployed).dispute(world.delivered)
    assert (dispute.opened_at, dispute.answer_by, dispute.resolve_by) == (opened, answer_by, resolve_by)
    assert (dispute.answered, dispute.reason_hash, dispute.response_hash) == (False, declaration.reason_hash, ZERO_HASH)
    order = escrow_of(deployed).order(world.delivered)
    assert (order.status, order.escrowed, order.closed_at) == (OrderStatus.DISPUTED, AMOUNT, 0)
    assert balances(deployed) == before
    assert escrow_of(deployed).evidence_of(delivery) == (world.delivered, Milestone.DELIVERED)  # still recorded
    assert_money_accounted(deployed)


def test_a_contest_is_accepted_after_the_claim_window_closed_for_the_buyer(deployed: Deployed, world: World) -> None:
    ends_at = escrow_of(deployed).order(world.delivered).delivered_recorded_at + CLAIM_WINDOW
    advance_to(deployed, ends_at + HOUR)
    buyer_refused = revert_of(
        lambda: escrow_of(deployed).open_dispute(world.delivered, keccak(text="late"), acct(deployed, "core"))
    )
    assert buyer_refused.error == "TradeEscrowClaimWindowClosed"

    contest(deployed, world_evidence(world.delivered, Milestone.DELIVERED))

    assert escrow_of(deployed).order(world.delivered).status is OrderStatus.DISPUTED


def test_a_contested_shipment_is_accepted_before_deliver_by(deployed: Deployed, world: World) -> None:
    buyer_refused = revert_of(
        lambda: escrow_of(deployed).open_dispute(world.shipped, keccak(text="lost"), acct(deployed, "core"))
    )
    assert buyer_refused.error == "TradeEscrowDisputeWindowNotReached"

    receipt = contest(deployed, world_evidence(world.shipped, Milestone.SHIPPED))

    assert [name for name, _ in events(deployed, receipt)] == ["MilestoneContested", "DisputeOpened"]
    assert escrow_of(deployed).order(world.shipped).status is OrderStatus.DISPUTED


def test_the_shipment_of_a_delivered_order_can_be_contested(deployed: Deployed, world: World) -> None:
    receipt = contest(deployed, world_evidence(world.delivered, Milestone.SHIPPED))

    assert events(deployed, receipt)[0][1]["milestone"] == Milestone.SHIPPED
    assert escrow_of(deployed).order(world.delivered).status is OrderStatus.DISPUTED


def test_a_passed_inspection_is_contested_by_inspectors(deployed: Deployed, world: World) -> None:
    inspect(deployed, world.inspecting)
    set_threshold(deployed, INSPECTOR, 2)
    declaration = declaration_of(deployed, evidence(world.inspecting, Milestone.INSPECTION_PASSED))

    receipt = submit(deployed, declaration, list(world.inspectors))

    contested = events(deployed, receipt)[0][1]
    assert (contested["milestone"], contested["signers"]) == (
        Milestone.INSPECTION_PASSED,
        [inspector.address for inspector in world.inspectors],
    )
    assert escrow_of(deployed).order(world.inspecting).status is OrderStatus.DISPUTED


def test_a_two_of_three_carrier_quorum_contests_under_a_threshold_of_two(deployed: Deployed, world: World) -> None:
    set_threshold(deployed, CARRIER, 2)
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))

    receipt = submit(deployed, declaration, [world.carriers[2], world.carriers[1]])

    assert events(deployed, receipt)[0][1]["signers"] == [world.carriers[2].address, world.carriers[1].address]


# -- the dispute that follows runs as any other -------------------------------------------------


def test_an_unanswered_contest_refunds_the_buyer_in_full(deployed: Deployed, world: World) -> None:
    before = balances(deployed)
    contest(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    advance_to(deployed, escrow_of(deployed).dispute(world.delivered).answer_by + 1)

    receipt = escrow_of(deployed).close_expired_dispute(world.delivered, acct(deployed, "relayer"))

    assert events(deployed, receipt)[0][1]["how"] == Resolution.UNANSWERED
    assert_paid_out(deployed, world.delivered, before, to_buyer=AMOUNT, to_supplier=0)


def test_the_supplier_answers_a_contest_and_the_arbiter_splits_the_escrow(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    before = balances(deployed)
    contest(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    escrow.answer_dispute(world.delivered, keccak(text="signed proof of delivery"), acct(deployed, "tier1"))

    escrow.arbitrate(world.delivered, AMOUNT // 4, acct(deployed, "arbiter"))

    assert escrow.order(world.delivered).status is OrderStatus.SETTLED
    assert_paid_out(deployed, world.delivered, before, to_buyer=AMOUNT // 4, to_supplier=AMOUNT - AMOUNT // 4)


def test_a_contested_order_takes_no_release_confirmation_or_further_milestone(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    contest(deployed, world_evidence(world.inspecting, Milestone.DELIVERED))
    disputed = {"orderId": world.inspecting, "status": OrderStatus.DISPUTED}

    for call in (
        lambda: escrow.confirm_receipt(world.inspecting, acct(deployed, "core")),
        lambda: escrow.release(world.inspecting, acct(deployed, "relayer")),
        lambda: escrow.open_dispute(world.inspecting, keccak(text="again"), acct(deployed, "core")),
    ):
        caught = revert_of(call)
        assert (caught.error, caught.error_args) == ("TradeEscrowInvalidStatus", disputed)
    caught = revert_of(lambda: attest(deployed, world.inspecting, Milestone.INSPECTION_PASSED))
    assert (caught.error, caught.error_args) == (
        "TradeEscrowMilestoneOutOfOrder",
        {**disputed, "milestone": Milestone.INSPECTION_PASSED},
    )


# -- which evidence, which order ----------------------------------------------------------------


@pytest.mark.parity
def test_evidence_never_attested_reverts_with_evidence_unknown_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    unused = evidence(world.funded, Milestone.SHIPPED)
    declaration = declaration_of(deployed, unused)
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, declaration, sigs, world.funded) == (
        "TradeEscrowEvidenceUnknown",
        {"evidenceHash": unused},
    )


def test_evidence_of_a_refused_attestation_stays_unknown(deployed: Deployed, world: World) -> None:
    attestation = Attestation(world.funded, Milestone.SHIPPED, deployed.chain.timestamp(), keccak(text="refused"))
    stranger_sig = escrow_of(deployed).sign_attestation(fixed_key("stranger"), attestation)
    caught = revert_of(lambda: escrow_of(deployed).attest(attestation, [stranger_sig], acct(deployed, "relayer")))
    assert caught.error == "TradeEscrowUnauthorizedOracle"

    declaration = declaration_of(deployed, attestation.evidence_hash)
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused(deployed, declaration, sigs) == (
        "TradeEscrowEvidenceUnknown",
        {"evidenceHash": attestation.evidence_hash},
    )


def test_a_contest_of_an_open_account_order_reverts_with_open_account_order_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    order_id, shipment = open_account_shipped(deployed)
    declaration = declaration_of(deployed, shipment)
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, declaration, sigs, order_id) == (
        "TradeEscrowOpenAccountOrder",
        {"orderId": order_id},
    )
    assert escrow_of(deployed).order(order_id).status is OrderStatus.SHIPPED


@pytest.mark.parametrize("state", ["disputed", "contested", "released", "settled"])
def test_a_contest_of_a_disputed_or_closed_order_reverts_with_invalid_status_and_changes_nothing(
    deployed: Deployed, world: World, state: str
) -> None:
    escrow = escrow_of(deployed)
    order_id = world.delivered
    if state in ("disputed", "settled"):
        open_dispute(deployed, order_id)
    if state == "contested":
        contest(deployed, world_evidence(order_id, Milestone.DELIVERED))
    if state == "settled":
        escrow.arbitrate(order_id, 0, acct(deployed, "arbiter"))
    if state == "released":
        escrow.confirm_receipt(order_id, acct(deployed, "core"))
    status = {"released": OrderStatus.RELEASED, "settled": OrderStatus.SETTLED}.get(state, OrderStatus.DISPUTED)
    declaration = declaration_of(deployed, world_evidence(order_id, Milestone.SHIPPED), reason="incorrect_data")
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, declaration, sigs, order_id) == (
        "TradeEscrowInvalidStatus",
        {"orderId": order_id, "status": status},
    )


def test_a_failed_inspection_once_refunded_is_not_reopened(deployed: Deployed, world: World) -> None:
    inspect(deployed, world.inspecting, passed=False)
    declaration = declaration_of(deployed, evidence(world.inspecting, Milestone.INSPECTION_FAILED))
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "inspector")])

    assert refused_on_chain(deployed, declaration, sigs, world.inspecting) == (
        "TradeEscrowInvalidStatus",
        {"orderId": world.inspecting, "status": OrderStatus.REFUNDED},
    )


def test_the_same_declaration_cannot_be_replayed(deployed: Deployed, world: World) -> None:
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])
    escrow_of(deployed).contest_milestone(declaration, sigs, acct(deployed, "relayer"))
    opened_at = escrow_of(deployed).dispute(world.delivered).opened_at
    deployed.chain.advance_time(HOUR)

    assert refused(deployed, declaration, sigs) == (
        "TradeEscrowInvalidStatus",
        {"orderId": world.delivered, "status": OrderStatus.DISPUTED},
    )
    assert escrow_of(deployed).dispute(world.delivered).opened_at == opened_at


# -- the declaration's time ---------------------------------------------------------------------


def test_a_declaration_from_the_future_reverts_with_attestation_from_future(deployed: Deployed, world: World) -> None:
    before = deployed.chain.timestamp()
    declaration = declaration_of(
        deployed, world_evidence(world.delivered, Milestone.DELIVERED), declared_at=before + HOUR
    )
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    error, args = refused(deployed, declaration, sigs)

    assert (error, args["occurredAt"]) == ("TradeEscrowAttestationFromFuture", before + HOUR)
    assert_now(deployed, args["nowTimestamp"], before)


def test_a_declaration_older_than_the_max_attestation_age_reverts_with_stale_attestation(
    deployed: Deployed, world: World
) -> None:
    before = deployed.chain.timestamp()
    declared = before - MAX_ATTESTATION_AGE - HOUR
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED), declared_at=declared)
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    error, args = refused(deployed, declaration, sigs)

    assert (error, args["occurredAt"], args["maxAge"]) == ("TradeEscrowStaleAttestation", declared, MAX_ATTESTATION_AGE)
    assert_now(deployed, args["nowTimestamp"], before)


@pytest.mark.parity
def test_a_declaration_exactly_max_attestation_age_old_is_accepted_and_a_second_older_is_stale(
    deployed: Deployed, world: World
) -> None:
    declared = deployed.chain.timestamp() + HOUR - MAX_ATTESTATION_AGE
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED), declared_at=declared)
    fn = contest_fn(deployed, declaration, declaration_signatures(deployed, declaration, [acct(deployed, "carrier")]))

    at_max_age = passes_at(deployed, declared + MAX_ATTESTATION_AGE, fn, acct(deployed, "relayer"))
    a_second_older = passes_at(deployed, declared + MAX_ATTESTATION_AGE + 1, fn, acct(deployed, "relayer"))

    assert (at_max_age, a_second_older) == (True, False)


def test_a_declaration_may_carry_the_current_second(deployed: Deployed, world: World) -> None:
    declared = deployed.chain.timestamp() + HOUR
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED), declared_at=declared)
    fn = contest_fn(deployed, declaration, declaration_signatures(deployed, declaration, [acct(deployed, "carrier")]))

    assert (
        passes_at(deployed, declared, fn, acct(deployed, "relayer")),
        passes_at(deployed, declared - 1, fn, acct(deployed, "relayer")),
    ) == (True, False)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown+future", "TradeEscrowEvidenceUnknown"),
        ("future+disputed", "TradeEscrowAttestationFromFuture"),
        ("stale+open-account", "TradeEscrowStaleAttestation"),
        ("open-account+no-quorum", "TradeEscrowOpenAccountOrder"),
        ("disputed+no-quorum", "TradeEscrowInvalidStatus"),
    ],
)
def test_the_checks_run_in_order_evidence_time_order_status_then_signatures(
    deployed: Deployed, world: World, case: str, error: str
) -> None:
    """Each declaration is wrong in two ways; the first check in the contract's order decides."""
    now = deployed.chain.timestamp()
    open_account_id, open_account_shipment = open_account_shipped(deployed)
    open_dispute(deployed, world.delivered)
    target = open_account_shipment if "open-account" in case else world_evidence(world.delivered, Milestone.SHIPPED)
    if "unknown" in case:
        target = keccak(text="never attested")
    declared_at = now + DAY if "future" in case else now - MAX_ATTESTATION_AGE - DAY if "stale" in case else now
    declaration = declaration_of(deployed, target, declared_at=declared_at)
    sigs = [] if "no-quorum" in case else declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused(deployed, declaration, sigs)[0] == error
    assert escrow_of(deployed).order(open_account_id).status is OrderStatus.SHIPPED


# -- the quorum -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signer", "milestone", "kind"),
    [
        ("inspector", Milestone.SHIPPED, CARRIER),
        ("inspector", Milestone.DELIVERED, CARRIER),
        ("carrier", Milestone.INSPECTION_PASSED, INSPECTOR),
        ("core", Milestone.DELIVERED, CARRIER),
        ("tier1", Milestone.DELIVERED, CARRIER),
        ("arbiter", Milestone.DELIVERED, CARRIER),
    ],
    ids=[
        "inspector-retracts-shipment",
        "inspector-retracts-delivery",
        "carrier-retracts-inspection",
        "buyer",
        "supplier",
        "arbiter",
    ],
)
def test_a_signer_not_an_oracle_of_the_contested_milestones_kind_reverts_with_unauthorized_oracle(
    deployed: Deployed, world: World, signer: str, milestone: Milestone, kind: int
) -> None:
    if milestone == Milestone.INSPECTION_PASSED:
        inspect(deployed, world.inspecting)
        contested = evidence(world.inspecting, milestone)
    else:
        contested = world_evidence(world.inspecting, milestone)
    declaration = declaration_of(deployed, contested)
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, signer)])

    assert refused_on_chain(deployed, declaration, sigs, world.inspecting) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": addr(deployed, signer), "kind": kind},
    )


def test_an_unregistered_oracle_reverts_with_unauthorized_oracle(deployed: Deployed, world: World) -> None:
    stranger = fixed_key("unregistered-carrier")
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier"), stranger])

    assert refused(deployed, declaration, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": stranger.address, "kind": CARRIER},
    )


def test_a_suspended_oracle_reverts_with_unauthorized_oracle_until_reinstated(deployed: Deployed, world: World) -> None:
    suspend(deployed, addr(deployed, "carrier"))
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    assert refused_on_chain(deployed, declaration, sigs, world.delivered) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": addr(deployed, "carrier"), "kind": CARRIER},
    )

    reinstate(deployed, addr(deployed, "carrier"))
    escrow_of(deployed).contest_milestone(declaration, sigs, acct(deployed, "relayer"))
    assert escrow_of(deployed).order(world.delivered).status is OrderStatus.DISPUTED


def test_an_oracle_signing_twice_reverts_with_duplicate_signer(deployed: Deployed, world: World) -> None:
    set_threshold(deployed, CARRIER, 2)
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, [world.carriers[1], world.carriers[0], world.carriers[1]])

    assert refused(deployed, declaration, sigs) == ("TradeEscrowDuplicateSigner", {"signer": world.carriers[1].address})


@pytest.mark.parametrize("signers", [0, 1, 2])
def test_fewer_signatures_than_the_threshold_revert_with_quorum_not_met_and_change_nothing(
    deployed: Deployed, world: World, signers: int
) -> None:
    set_threshold(deployed, CARRIER, 3)
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, world.carriers[:signers])

    assert refused_on_chain(deployed, declaration, sigs, world.delivered) == (
        "TradeEscrowQuorumNotMet",
        {"signers": signers, "threshold": 3},
    )


def test_a_high_s_signature_reverts_with_malleable_signature_at_its_index(deployed: Deployed, world: World) -> None:
    set_threshold(deployed, CARRIER, 2)
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    good, other = declaration_signatures(deployed, declaration, world.carriers[:2])
    flipped = high_s(other)
    document = escrow_of(deployed).error_declaration_document(declaration)
    assert eip712.recover(document, flipped) == world.carriers[1].address

    assert refused(deployed, declaration, [good, flipped]) == ("TradeEscrowMalleableSignature", {"index": 1})


@pytest.mark.parametrize("domain", ["chainId", "verifyingContract"])
def test_a_declaration_signed_for_another_domain_reverts_with_unauthorized_oracle(
    deployed: Deployed, world: World, domain: str
) -> None:
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    document = escrow_of(deployed).error_declaration_document(declaration)
    other = deployed.chain.chain_id + 1 if domain == "chainId" else deployed.addresses["Receivables"]
    signature = sign_in_domain(acct(deployed, "carrier"), document, **{domain: other})
    recovered = eip712.recover(document, signature)

    assert refused(deployed, declaration, [signature]) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": recovered, "kind": CARRIER},
    )
    assert recovered != addr(deployed, "carrier")


def test_a_declaration_submitted_with_another_reason_than_signed_reverts_with_unauthorized_oracle(
    deployed: Deployed, world: World
) -> None:
    signed = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    submitted = ErrorDeclaration(signed.evidence_hash, keccak(text="another reason"), signed.declared_at)
    sigs = declaration_signatures(deployed, signed, [acct(deployed, "carrier")])
    recovered = eip712.recover(escrow_of(deployed).error_declaration_document(submitted), sigs[0])

    assert refused(deployed, submitted, sigs) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": recovered, "kind": CARRIER},
    )


def test_an_attestation_signature_is_no_declaration_signature(deployed: Deployed, world: World) -> None:
    """Distinct EIP-712 types: what an oracle signed to attest a milestone cannot retract it."""
    delivery = world_evidence(world.delivered, Milestone.DELIVERED)
    order = escrow_of(deployed).order(world.delivered)
    attestation = Attestation(world.delivered, Milestone.DELIVERED, order.delivered_at, delivery)
    attestation_sig = escrow_of(deployed).sign_attestation(acct(deployed, "carrier"), attestation)
    declaration = declaration_of(deployed, delivery)

    error, args = refused(deployed, declaration, [attestation_sig])

    assert (error, args["kind"]) == ("TradeEscrowUnauthorizedOracle", CARRIER)
    assert args["signer"] != addr(deployed, "carrier")


@pytest.mark.parametrize("signature", [b"", b"\x02" * 64], ids=["empty", "64-bytes"])
def test_a_malformed_signature_reverts_with_unauthorized_oracle_from_zero(
    deployed: Deployed, world: World, signature: bytes
) -> None:
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))

    assert refused(deployed, declaration, [signature]) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": ZERO_ADDRESS, "kind": CARRIER},
    )


def test_anyone_may_submit_a_contest_even_a_party_to_the_order(deployed: Deployed, world: World) -> None:
    declaration = declaration_of(deployed, world_evidence(world.delivered, Milestone.DELIVERED))
    sigs = declaration_signatures(deployed, declaration, [acct(deployed, "carrier")])

    receipt = escrow_of(deployed).contest_milestone(declaration, sigs, acct(deployed, "tier1"))  # the supplier

    assert events(deployed, receipt)[1][1]["buyer"] == addr(deployed, "core")
    assert escrow_of(deployed).order(world.delivered).status is OrderStatus.DISPUTED
