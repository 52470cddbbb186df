"""Mapping: which event proves which milestone for which order, and why the others prove nothing."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.clients import escrow
from ledger.domain.escrow import Milestone
from oracles.epcis import EpcisEvent, parse_document
from oracles.hashing import EPCIS_CONTEXT_URL, evidence_bytes32
from oracles.mapping import ErrorDeclared, Ignored, IgnoreReason, Mapped, map_event, map_events
from oracles.vocab import Vocabulary, VocabularyStyle, spell

PO = "urn:epcglobal:cbv:bt:4012345000009:PO-1001"
OTHER_PO = "urn:epcglobal:cbv:bt:4012345000009:PO-1002"
STYLES: tuple[VocabularyStyle, ...] = ("bare", "urn", "web")


def parsed(**changes: Any) -> EpcisEvent:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:7a5c9d1e-3b2f-4e6a-8c0d-1f2e3d4c5b6a",
        "eventTime": "2024-03-05T14:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1001"],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00002.DOCK3"},
        "bizTransactionList": [{"type": "po", "bizTransaction": PO}],
    }
    event.update(changes)
    event = {k: v for k, v in event.items() if v is not None}
    document = {"@context": [EPCIS_CONTEXT_URL], "type": "EPCISDocument", "epcisBody": {"eventList": [event]}}
    return parse_document(document).events[0]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    ("step", "disposition", "milestone"),
    [
        ("shipping", "in_transit", Milestone.SHIPPED),
        ("receiving", "in_progress", Milestone.DELIVERED),
        ("arriving", "in_progress", Milestone.DELIVERED),
        ("inspecting", "conformant", Milestone.INSPECTION_PASSED),
        ("inspecting", "non_conformant", Milestone.INSPECTION_FAILED),
    ],
)
def test_steps_map_to_milestones_in_every_spelling(
    style: VocabularyStyle, step: str, disposition: str, milestone: Milestone
) -> None:
    event = parsed(
        bizStep=spell(step, Vocabulary.BIZ_STEP, style),
        disposition=spell(disposition, Vocabulary.DISPOSITION, style),
        bizTransactionList=[{"type": spell("po", Vocabulary.BIZ_TRANSACTION_TYPE, style), "bizTransaction": PO}],
    )

    result = map_event(event)

    assert isinstance(result, Mapped)
    assert result.milestone is milestone
    assert result.po_refs == (PO,)
    assert result.occurred_at == 1709643600  # 2024-03-05T13:00:00Z
    assert result.evidence_hash == event.event_hash


def test_milestones_are_the_ledgers_own() -> None:
    result = map_event(parsed(bizStep="shipping"))

    assert isinstance(result, Mapped)
    assert type(result.milestone) is escrow.Milestone
    assert int(result.milestone) == 1


def test_evidence_bytes32_is_the_digest_of_the_event_hash() -> None:
    result = map_event(parsed())

    assert isinstance(result, Mapped)
    assert result.evidence_bytes32 == evidence_bytes32(result.evidence_hash)
    assert len(result.evidence_bytes32) == 32


def test_an_event_for_several_orders_is_evidence_for_each_of_them() -> None:
    transactions = [
        {"type": "po", "bizTransaction": PO},
        {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:ASN-7"},
        {"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": OTHER_PO},
        {"type": "po", "bizTransaction": PO},
    ]

    result = map_event(parsed(bizTransactionList=transactions))

    assert isinstance(result, Mapped)
    assert result.po_refs == (PO, OTHER_PO)


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"bizTransactionList": None}, IgnoreReason.NO_PO, "DELIVERED event without a bizTransaction of type po"),
        (
            {"bizTransactionList": [{"type": "inv", "bizTransaction": PO}]},
            IgnoreReason.NO_PO,
            "without a bizTransaction of type po",
        ),
        ({"bizStep": "packing"}, IgnoreReason.UNMAPPED_BIZ_STEP, "'packing'"),
        (
            {"bizStep": "https://example.com/vocab/bizstep/shipping"},
            IgnoreReason.UNMAPPED_BIZ_STEP,
            "'https://example.com/vocab/bizstep/shipping'",
        ),
        ({"bizStep": None}, IgnoreReason.NO_BIZ_STEP, "no bizStep"),
        ({"bizStep": "inspecting", "disposition": None}, IgnoreReason.INSPECTION_WITHOUT_VERDICT, "no disposition"),
        (
            {"bizStep": "inspecting", "disposition": "needs_replacement"},
            IgnoreReason.INSPECTION_WITHOUT_VERDICT,
            "'needs_replacement'",
        ),
        ({"action": "DELETE"}, IgnoreReason.DELETE_ACTION, "DELETE"),
        ({"type": "example:ContainerEvent"}, IgnoreReason.UNKNOWN_EVENT_TYPE, "'example:ContainerEvent'"),
    ],
)
def test_other_events_are_ignored_with_a_reason(changes: dict[str, Any], reason: IgnoreReason, detail: str) -> None:
    result = map_event(parsed(**changes))

    assert isinstance(result, Ignored)
    assert result.reason is reason
    assert detail in result.detail


def test_an_event_without_hash_is_never_evidence() -> None:
    untyped = {"bizTransaction": "urn:epc:id:gdti:95252084.0001.0003555480001000"}
    event = parsed(bizTransactionList=[{"type": "po", "bizTransaction": PO}, untyped])

    result = map_event(event)

    assert isinstance(result, Ignored)
    assert result.reason is IgnoreReason.HASH_UNAVAILABLE
    assert event.hash_error is not None and event.hash_error in result.detail


def test_an_error_declaration_names_the_declared_event_and_what_it_stood_for() -> None:
    original = parsed(bizStep="shipping", disposition="in_transit")
    declaration = {
        "declarationTime": "2024-03-06T10:00:00.000+01:00",
        "reason": "https://ref.gs1.org/cbv/ER-did_not_occur",
        "correctiveEventIDs": ["urn:uuid:0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"],
    }
    declaring = parsed(bizStep="shipping", disposition="in_transit", errorDeclaration=declaration)

    result = map_event(declaring)

    assert isinstance(result, ErrorDeclared)
    assert result.declared_event_id == original.event_id
    assert result.declared_event_hash == original.event_hash
    assert result.reason == "did_not_occur"
    assert result.declared_at == 1709715600
    assert result.declaration_time.isoformat() == "2024-03-06T10:00:00+01:00"
    assert result.corrective_event_ids == ("urn:uuid:0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",)
    assert result.po_refs == (PO,)
    assert result.milestone is Milestone.SHIPPED


def test_an_error_declaration_of_an_unmapped_event_has_no_milestone() -> None:
    result = map_event(parsed(bizStep="packing", errorDeclaration={"declarationTime": "2024-03-06T10:00:00Z"}))

    assert isinstance(result, ErrorDeclared)
    assert result.milestone is None
    assert result.reason is None


def test_an_error_declaration_without_id_or_hash_cannot_be_acted_on() -> None:
    untyped = [{"bizTransaction": "urn:epc:id:gdti:95252084.0001.0003555480001000"}]
    event = parsed(
        eventID=None, bizTransactionList=untyped, errorDeclaration={"declarationTime": "2024-03-06T10:00:00Z"}
    )

    result = map_event(event)

    assert isinstance(result, Ignored)
    assert result.reason is IgnoreReason.ERROR_DECLARATION_UNIDENTIFIED


def test_map_events_keeps_document_order() -> None:
    events = [parsed(bizStep="shipping"), parsed(bizStep="packing"), parsed(bizStep="receiving")]

    results = map_events(events)

    assert [type(r).__name__ for r in results] == ["Mapped", "Ignored", "Mapped"]
    assert [r.event for r in results] == events


def test_ignore_reasons_are_stable_codes() -> None:
    assert {r.value for r in IgnoreReason} == {
        "unknown_event_type",
        "no_biz_step",
        "unmapped_biz_step",
        "inspection_without_verdict",
        "delete_action",
        "no_po",
        "hash_unavailable",
        "error_declaration_unidentified",
    }
