"""The escrow model's contested milestones: a quorum of oracles of the milestone's kind declares the event
behind attested evidence erroneous, and the order goes into dispute as its buyer would have opened one.

``contest`` signs with the carrier unless told otherwise, and ``evidence`` recomputes the hash that
``attest`` (in ``escrow_model_helpers``) quoted, so a test names evidence by order and milestone.
"""

from __future__ import annotations

from functools import partial

import pytest
from eth_utils import keccak

from ledger.domain.escrow import Dispute, Milestone, OrderStatus
from ledger.model import Effect, EscrowModel, OracleKind, Transfer
from ledger.model.escrow import DEFAULT_WINDOWS, ZERO_ADDRESS, ZERO_HASH
from tests.ledger.model.escrow_model_helpers import (
    ADMIN,
    AMOUNT,
    ARBITER,
    BUYER,
    CARRIER,
    DAY,
    ESCROW,
    INSPECTOR,
    STRANGER,
    SUPPLIER,
    T0,
    TOKEN,
    attest,
    delivered,
    funded,
    new_model,
    rejected,
    terms,
)


def evidence(order_id: int, milestone: Milestone) -> bytes:
    """The evidence hash ``attest`` uses for ``milestone`` of ``order_id``."""
    return keccak(text=f"epcis:{order_id}:{milestone.name}")


REASON = keccak(text="urn:epcglobal:cbv:er:did_not_occur")


def contest(
    model: EscrowModel,
    evidence_hash: bytes,
    now: int,
    *,
    declared_at: int | None = None,
    signers: list[str | None] | None = None,
    reason: bytes = REASON,
) -> Effect:
    return model.contest_milestone(
        evidence_hash,
        reason,
        now if declared_at is None else declared_at,
        [CARRIER] if signers is None else signers,
        caller=STRANGER,
        now=now,
    )


def open_account_shipped(model: EscrowModel) -> int:
    t = terms(nonce=model.order_count)
    order_id = model.create_open_account_order(
        t, buyer_signer=BUYER, supplier_signer=SUPPLIER, caller=SUPPLIER, now=T0
    ).order_id
    assert order_id is not None
    attest(model, order_id, Milestone.SHIPPED, T0)
    return order_id


def test_attested_evidence_names_its_order_and_milestone() -> None:
    model = new_model()
    first, second = delivered(model), funded(model)
    attest(model, second, Milestone.SHIPPED, T0)
    assert model.evidence_of(evidence(first, Milestone.SHIPPED)) == (first, Milestone.SHIPPED)
    assert model.evidence_of(evidence(first, Milestone.DELIVERED)) == (first, Milestone.DELIVERED)
    assert model.evidence_of(evidence(second, Milestone.SHIPPED)) == (second, Milestone.SHIPPED)
    assert model.evidence_of(evidence(second, Milestone.DELIVERED)) is None
    assert model.evidence_used(evidence(first, Milestone.DELIVERED))


def test_a_contested_delivery_disputes_the_order_as_its_buyer_would_after_the_claim_window() -> None:
    model = new_model()
    order_id = delivered(model)
    now = model.claim_window_end(order_id) + DAY  # too late for the buyer, not for the oracles
    assert rejected(lambda: model.clone().open_dispute(order_id, ZERO_HASH, caller=BUYER, now=now)).error == (
        "TradeEscrowClaimWindowClosed"
    )
    effect = contest(model, evidence(order_id, Milestone.DELIVERED), now, declared_at=now - DAY)
    assert effect == Effect(("MilestoneContested", "DisputeOpened"))
    assert model.order(order_id).status is OrderStatus.DISPUTED and model.held() == AMOUNT
    assert model.dispute(order_id) == Dispute(
        now, now + DEFAULT_WINDOWS.answer_window, now + DEFAULT_WINDOWS.resolve_window, False, REASON, ZERO_HASH
    )
    # From here the dispute runs as any other: unanswered, it refunds the buyer.
    effect = model.close_expired_dispute(order_id, caller=STRANGER, now=now + DEFAULT_WINDOWS.answer_window + 1)
    assert effect.transfers == (Transfer(TOKEN, ESCROW, BUYER, AMOUNT),)
    assert model.invariant_violations() == []


@pytest.mark.parametrize(
    ("stage", "milestone", "oracle"),
    [
        ("shipped", Milestone.SHIPPED, CARRIER),
        ("delivered", Milestone.SHIPPED, CARRIER),
        ("delivered", Milestone.DELIVERED, CARRIER),
        ("inspected", Milestone.DELIVERED, CARRIER),
        ("inspected", Milestone.INSPECTION_PASSED, INSPECTOR),
    ],
)
def test_any_attested_milestone_of_a_shipped_delivered_or_inspected_order_can_be_contested(
    stage: str, milestone: Milestone, oracle: str
) -> None:
    model = new_model()
    order_id = funded(model, terms(inspection_required=True))
    attest(model, order_id, Milestone.SHIPPED, T0)  # before deliver-by: no buyer could dispute yet
    if stage != "shipped":
        attest(model, order_id, Milestone.DELIVERED, T0)
    if stage == "inspected":
        attest(model, order_id, Milestone.INSPECTION_PASSED, T0)
    assert contest(model, evidence(order_id, milestone), T0 + 1, signers=[oracle]).events[0] == "MilestoneContested"
    assert model.order(order_id).status is OrderStatus.DISPUTED


def test_a_contest_needs_a_quorum_of_the_contested_milestones_kind() -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=True))
    attest(model, order_id, Milestone.INSPECTION_PASSED, T0)
    passed, shipped = evidence(order_id, Milestone.INSPECTION_PASSED), evidence(order_id, Milestone.SHIPPED)
    wrong = rejected(lambda: contest(model, passed, T0, signers=[CARRIER]))
    assert (wrong.error, wrong.error_args) == (
        "TradeEscrowUnauthorizedOracle",
        {"signer": CARRIER, "kind": OracleKind.INSPECTOR},
    )
    wrong = rejected(lambda: contest(model, shipped, T0, signers=[INSPECTOR]))
    assert wrong.error_args == {"signer": INSPECTOR, "kind": OracleKind.CARRIER}
    assert rejected(lambda: contest(model, shipped, T0, signers=[None])).error_args == {
        "signer": ZERO_ADDRESS,
        "kind": OracleKind.CARRIER,
    }
    assert rejected(lambda: contest(model, shipped, T0, signers=[CARRIER, CARRIER])).error_args == {"signer": CARRIER}
    model.set_threshold(OracleKind.CARRIER, 2, caller=ADMIN)
    short = rejected(lambda: contest(model, shipped, T0, signers=[CARRIER]))
    assert (short.error, short.error_args) == ("TradeEscrowQuorumNotMet", {"signers": 1, "threshold": 2})
    assert model.order(order_id).status is OrderStatus.INSPECTED


def test_a_declaration_is_refused_from_the_future_and_once_stale() -> None:
    model = new_model()
    order_id = delivered(model)
    delivery = evidence(order_id, Milestone.DELIVERED)
    now, max_age = T0 + 10 * DAY, DEFAULT_WINDOWS.max_attestation_age
    future = rejected(lambda: contest(model, delivery, now, declared_at=now + 1))
    assert (future.error, future.error_args) == (
        "TradeEscrowAttestationFromFuture",
        {"occurredAt": now + 1, "nowTimestamp": now},
    )
    stale = rejected(lambda: contest(model, delivery, now + max_age + 1, declared_at=now))
    assert (stale.error, stale.error_args) == (
        "TradeEscrowStaleAttestation",
        {"occurredAt": now, "maxAge": max_age, "nowTimestamp": now + max_age + 1},
    )
    assert contest(model.clone(), delivery, now, declared_at=now).events[0] == "MilestoneContested"
    assert contest(model, delivery, now + max_age, declared_at=now).events[0] == "MilestoneContested"


@pytest.mark.parametrize(
    ("end", "status"),
    [
        ("disputed", OrderStatus.DISPUTED),
        ("released", OrderStatus.RELEASED),
        ("settled", OrderStatus.SETTLED),
        ("refunded", OrderStatus.REFUNDED),
    ],
)
def test_a_disputed_or_closed_order_is_not_reopened(end: str, status: OrderStatus) -> None:
    model = new_model()
    order_id = delivered(model, terms(inspection_required=end == "refunded"))
    if end in ("disputed", "settled"):
        model.open_dispute(order_id, ZERO_HASH, caller=BUYER, now=T0)
    if end == "settled":
        model.arbitrate(order_id, 0, caller=ARBITER, now=T0)
    if end == "released":
        model.confirm_receipt(order_id, caller=BUYER, now=T0)
    if end == "refunded":
        attest(model, order_id, Milestone.INSPECTION_FAILED, T0)
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        closed = rejected(partial(contest, model, evidence(order_id, milestone), T0 + 1))
        assert (closed.error, closed.error_args) == (
            "TradeEscrowInvalidStatus",
            {"orderId": order_id, "status": status},
        )
    if end == "refunded":
        failed = rejected(
            lambda: contest(model, evidence(order_id, Milestone.INSPECTION_FAILED), T0, signers=[INSPECTOR])
        )
        assert failed.error_args == {"orderId": order_id, "status": OrderStatus.REFUNDED}


def test_a_declaration_is_accepted_once_the_order_then_being_disputed() -> None:
    model = new_model()
    order_id = delivered(model)
    contest(model, evidence(order_id, Milestone.DELIVERED), T0 + 1)
    for milestone in (Milestone.DELIVERED, Milestone.SHIPPED):
        again = rejected(partial(contest, model, evidence(order_id, milestone), T0 + 2))
        assert again.error_args == {"orderId": order_id, "status": OrderStatus.DISPUTED}
    assert model.dispute(order_id).opened_at == T0 + 1


def test_a_contest_of_an_open_account_order_is_refused_nothing_being_escrowed() -> None:
    model = new_model()
    order_id = open_account_shipped(model)
    refused = rejected(lambda: contest(model, evidence(order_id, Milestone.SHIPPED), T0))
    assert (refused.error, refused.error_args) == ("TradeEscrowOpenAccountOrder", {"orderId": order_id})
    assert model.order(order_id).status is OrderStatus.SHIPPED


def test_unknown_evidence_is_refused_also_when_only_a_refused_attestation_quoted_it() -> None:
    model = new_model()
    order_id = funded(model)
    unused = evidence(order_id, Milestone.SHIPPED)
    rejected(lambda: model.attest(order_id, Milestone.SHIPPED, T0, unused, [INSPECTOR], caller=STRANGER, now=T0))
    unknown = rejected(lambda: contest(model, unused, T0))
    assert (unknown.error, unknown.error_args) == ("TradeEscrowEvidenceUnknown", {"evidenceHash": unused})
    assert model.evidence_of(unused) is None


@pytest.mark.parametrize(
    ("case", "error"),
    [
        # Each declaration is wrong in several ways; the contract reports the first check.
        ("unknown+future", "TradeEscrowEvidenceUnknown"),
        ("future+open-account", "TradeEscrowAttestationFromFuture"),
        ("stale+disputed", "TradeEscrowStaleAttestation"),
        ("open-account+no-quorum", "TradeEscrowOpenAccountOrder"),
        ("disputed+no-quorum", "TradeEscrowInvalidStatus"),
    ],
)
def test_declarations_are_checked_in_the_contracts_order(case: str, error: str) -> None:
    model = new_model()
    escrowed = delivered(model)
    open_account = open_account_shipped(model)
    now = T0 + DAY
    model.open_dispute(escrowed, ZERO_HASH, caller=BUYER, now=T0)
    target = evidence(open_account if "open-account" in case else escrowed, Milestone.SHIPPED)
    declared_at = now
    if "unknown" in case:
        target = keccak(text="never attested")
    if "future" in case:
        declared_at = now + 1
    if "stale" in case:
        declared_at = now - DEFAULT_WINDOWS.max_attestation_age - 1
    signers: list[str | None] = [] if "no-quorum" in case else [CARRIER]
    before = model.state()
    assert rejected(lambda: contest(model, target, now, declared_at=declared_at, signers=signers)).error == error
    assert model.state() == before
