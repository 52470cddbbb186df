"""Every GS1 EPCIS 2.0 example is captured with the expected outcome per event; none crashes.

The table below is the contract for ``../shared/epcis/examples``: the kind of document and,
per event in order, what the oracle makes of it (a milestone for POs, an error declaration,
or the reason it is ignored). A new example file fails ``test_the_table_covers_every_example``
until it is given its expected outcome here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.escrow import Milestone
from oracles.epcis import DocumentKind, parse_document
from oracles.mapping import ErrorDeclared, Ignored, IgnoreReason, Mapped, MappingResult, map_event

DOC = DocumentKind.EPCIS_DOCUMENT
QUERY = DocumentKind.QUERY_DOCUMENT
ACME_PO = "http://transaction.acme.com/po/12345678"
GDTI_PO = "urn:epc:id:gdti:0614141.00001.1618034"
XYZ_PO = "urn:epcglobal:cbv:bt:9529999999991:XYZ567"

SHIPPED, DELIVERED = Milestone.SHIPPED, Milestone.DELIVERED
NO_PO = IgnoreReason.NO_PO
UNMAPPED = IgnoreReason.UNMAPPED_BIZ_STEP
NO_VERDICT = IgnoreReason.INSPECTION_WITHOUT_VERDICT

Outcome = tuple[Any, ...]


def mapped(milestone: Milestone, *po_refs: str) -> Outcome:
    return ("mapped", milestone, po_refs)


def ignored(reason: IgnoreReason) -> Outcome:
    return ("ignored", reason)


def declared(milestone: Milestone | None, *po_refs: str) -> Outcome:
    """An error declaration; ``milestone`` is what the declared event stood for."""
    return ("declared", milestone, po_refs)


def outcome_of(result: MappingResult) -> Outcome:
    if isinstance(result, Mapped):
        return mapped(result.milestone, *result.po_refs)
    if isinstance(result, ErrorDeclared):
        return declared(result.milestone, *result.po_refs)
    return ignored(result.reason)


SHIP_AND_RECEIVE = (mapped(SHIPPED, ACME_PO), mapped(DELIVERED, ACME_PO))

EXPECTED: dict[str, tuple[DocumentKind, tuple[Outcome, ...]]] = {
    "AssociationEvent_AssociationEvent-a.jsonld": (DOC, (ignored(UNMAPPED),)),  # assembling
    "AssociationEvent_AssociationEvent-b.jsonld": (DOC, (ignored(UNMAPPED),)),  # installing
    "AssociationEvent_AssociationEvent-c.jsonld": (DOC, (ignored(UNMAPPED),)),  # removing
    "AssociationEvent_AssociationEvent-d.jsonld": (DOC, (ignored(UNMAPPED),)),  # disassembling
    "AssociationEvent_AssociationEvent-e.jsonld": (DOC, (ignored(UNMAPPED),)),
    "AssociationEvent_AssociationEvent-f.jsonld": (DOC, (ignored(UNMAPPED),)),  # an invoice, no PO
    "AssociationEvent_AssociationEvent-g.jsonld": (DOC, (declared(None),)),  # declares -d erroneous
    "AssociationEvent_AssociationEvent-h.jsonld": (DOC, (ignored(UNMAPPED),)),  # duplicate eventID key
    "EPCISQueryDocument.jsonld": (QUERY, SHIP_AND_RECEIVE),
    # A custom bizStep URI, then rail transporting; the first event cannot be hashed (untyped bizTransaction).
    "Example-TransactionEvents-2020_07_03y.jsonld": (DOC, (ignored(UNMAPPED), ignored(UNMAPPED))),
    "Example-Type-sourceOrDestination_measurement_bizTransaction.jsonld": (DOC, (ignored(UNMAPPED),)),
    "Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld": (DOC, SHIP_AND_RECEIVE),
    "Example_9.6.1-ObjectEvent.jsonld": (DOC, SHIP_AND_RECEIVE),
    "Example_9.6.1-with-comment.jsonld": (DOC, SHIP_AND_RECEIVE),
    "Example_9.6.2-ObjectEvent.jsonld": (DOC, (ignored(NO_PO),)),  # receiving, no PO
    "Example_9.6.3-AggregationEvent.jsonld": (DOC, (ignored(NO_PO),)),
    "Example_9.6.4-TransformationEvent.jsonld": (DOC, (ignored(UNMAPPED),)),  # commissioning
    "PersistentDisposition-example.jsonld": (DOC, (mapped(DELIVERED, XYZ_PO), ignored(NO_VERDICT))),
    "WithDigitalLinkID_Example_9.6.1-ObjectEventWithDigitalLink.jsonld": (DOC, SHIP_AND_RECEIVE),
    "WithDigitalLinkID_Example_9.6.2-ObjectEventWithDigitalLink.jsonld": (DOC, (ignored(NO_PO),)),
    "WithDigitalLinkID_Example_9.6.3-AggregationEventWithDigitalLink.jsonld": (DOC, (ignored(NO_PO),)),
    "WithDigitalLinkID_Example_9.6.4-TransformationEventWithDigitalLink.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithErrorDeclaration_ErrorDeclarationAndCorrectiveEvent.jsonld": (DOC, (declared(None), ignored(UNMAPPED))),
    "WithErrorDeclaration_Example_9.6.1-ObjectEvent-with-error-declaration.jsonld": (
        DOC,
        (declared(SHIPPED, ACME_PO), mapped(DELIVERED, ACME_PO)),
    ),
    "WithFullCombinationOfFields_aggregation_event_all_possible_fields.jsonld": (DOC, (declared(DELIVERED, GDTI_PO),)),
    "WithFullCombinationOfFields_association_event_all_possible_fields.jsonld": (DOC, (declared(None, GDTI_PO),)),
    "WithFullCombinationOfFields_object_event_all_possible_fields.jsonld": (DOC, (declared(DELIVERED, GDTI_PO),)),
    "WithFullCombinationOfFields_transaction_event_all_possible_fields.jsonld": (DOC, (declared(SHIPPED, GDTI_PO),)),
    # Its @context redefines the protected prefix cbvmda: no hash, but still identified by eventID.
    "WithFullCombinationOfFields_transformation_event_all_possible_fields.jsonld": (DOC, (declared(None, GDTI_PO),)),
    "WithSensorData_SensorDataExample1.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample10.jsonld": (DOC, (ignored(UNMAPPED),)),  # sensor_reporting
    "WithSensorData_SensorDataExample11.jsonld": (DOC, (ignored(NO_VERDICT),)),  # needs_replacement, with a PO
    "WithSensorData_SensorDataExample12.jsonld": (DOC, (declared(None),)),
    "WithSensorData_SensorDataExample13.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithSensorData_SensorDataExample14.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithSensorData_SensorDataExample15.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithSensorData_SensorDataExample16.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithSensorData_SensorDataExample17.jsonld": (DOC, (ignored(UNMAPPED),)),
    "WithSensorData_SensorDataExample1b.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample2.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample3.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample4.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample5.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample6.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample7.jsonld": (DOC, (ignored(NO_VERDICT),)),
    "WithSensorData_SensorDataExample8.jsonld": (DOC, (ignored(UNMAPPED),)),  # packing
    "WithSensorData_SensorDataExample9.jsonld": (DOC, (ignored(UNMAPPED),)),
}

#: The events the pinned hash library cannot hash, and why (they are still captured).
UNHASHABLE = {
    ("Example-TransactionEvents-2020_07_03y.jsonld", 0): "bizTransaction",
    ("WithFullCombinationOfFields_transformation_event_all_possible_fields.jsonld", 0): "protected term",
}

#: The evidence hashes of the examples' PO milestones (the shipping/receiving pair of
#: Example 9.6.1 matches the upstream library's published expected hashes, see test_hashing).
EVIDENCE = {
    ("EPCISQueryDocument.jsonld", 0): "df6523665bc5e5803d6c7b84f5a04e103694d8220f2abc4f2c74310e89f31bc6",
    ("EPCISQueryDocument.jsonld", 1): "32547b2344d525ea60ab1b899d82a9011fd9c39bb26ed936e113066146f49941",
    ("Example_9.6.1-ObjectEvent.jsonld", 0): "df6523665bc5e5803d6c7b84f5a04e103694d8220f2abc4f2c74310e89f31bc6",
    ("Example_9.6.1-ObjectEvent.jsonld", 1): "32547b2344d525ea60ab1b899d82a9011fd9c39bb26ed936e113066146f49941",
    ("PersistentDisposition-example.jsonld", 0): "8bc6684804a20deaf675f96e6b452bdd61be2558611da841fd1bf0bf96b23e8e",
    (
        "WithDigitalLinkID_Example_9.6.1-ObjectEventWithDigitalLink.jsonld",
        0,
    ): "d3b08a0fc053bb7dc4065fe2664c18886e2f729abd1221520beffb55831da327",
}

#: SHA-256 over every example event's hash (``file[i]=hash`` lines, files sorted): any change
#: to the hashing of any example (library upgrade, refactor) shows up here.
ALL_HASHES_DIGEST = "1463bea1473aac6965083ea544f5cda20af404a8fa3511481181d040542ecbf1"


def test_the_table_covers_every_example(examples_dir: Path) -> None:
    assert sorted(p.name for p in examples_dir.iterdir() if p.is_file()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_is_captured_with_its_expected_outcome(examples_dir: Path, name: str) -> None:
    kind, outcomes = EXPECTED[name]

    document = parse_document((examples_dir / name).read_bytes())

    assert document.kind is kind
    assert [outcome_of(map_event(event)) for event in document.events] == list(outcomes)
    for index, event in enumerate(document.events):
        if (name, index) in UNHASHABLE:
            assert event.event_hash is None
            assert event.hash_error is not None and UNHASHABLE[name, index] in event.hash_error
        else:
            assert event.event_hash is not None and event.event_hash.startswith("ni:///sha-256;")
            assert event.hash_error is None


def test_example_evidence_hashes_are_stable(examples_dir: Path) -> None:
    for (name, index), digest in EVIDENCE.items():
        result = map_event(parse_document((examples_dir / name).read_bytes()).events[index])
        assert isinstance(result, Mapped), name
        assert result.evidence_hash == f"ni:///sha-256;{digest}?ver=CBV2.0", name
        assert result.evidence_bytes32 == bytes.fromhex(digest)


def test_hashes_of_all_example_events_are_unchanged(examples_dir: Path) -> None:
    lines = []
    for path in sorted(examples_dir.iterdir()):
        for index, event in enumerate(parse_document(path.read_bytes()).events):
            lines.append(f"{path.name}[{index}]={event.event_hash or 'unhashable'}")

    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == ALL_HASHES_DIGEST


def test_example_9_6_1_is_a_shipping_and_a_receiving_of_po_12345678(examples_dir: Path) -> None:
    events = parse_document((examples_dir / "Example_9.6.1-ObjectEvent.jsonld").read_bytes()).events
    shipped, received = (map_event(event) for event in events)

    assert isinstance(shipped, Mapped) and isinstance(received, Mapped)
    assert (shipped.milestone, shipped.po_refs) == (Milestone.SHIPPED, (ACME_PO,))
    assert (received.milestone, received.po_refs) == (Milestone.DELIVERED, (ACME_PO,))
    # 2005-04-03T20:33:31.116-06:00 is 2005-04-04T02:33:31Z; the local time is kept on the event.
    assert shipped.occurred_at == 1112582011
    assert shipped.event.event_time.isoformat() == "2005-04-03T20:33:31.116000-06:00"
    assert received.occurred_at - shipped.occurred_at == 86400


def test_error_declarations_in_the_examples_point_at_the_events_they_declare(examples_dir: Path) -> None:
    def events(name: str) -> Any:
        return parse_document((examples_dir / name).read_bytes()).events

    declaration = map_event(events("WithErrorDeclaration_Example_9.6.1-ObjectEvent-with-error-declaration.jsonld")[0])
    original = events("Example_9.6.1-ObjectEvent.jsonld")[0]
    assert isinstance(declaration, ErrorDeclared)
    assert declaration.declared_event_hash == original.event_hash
    assert declaration.reason == "incorrect_data"
    assert declaration.milestone is Milestone.SHIPPED and declaration.po_refs == (ACME_PO,)

    association = map_event(events("AssociationEvent_AssociationEvent-g.jsonld")[0])
    assert isinstance(association, ErrorDeclared)
    assert association.declared_event_hash == events("AssociationEvent_AssociationEvent-d.jsonld")[0].event_hash
    assert association.corrective_event_ids == (
        "ni:///sha-256;fec9667280c4710a3fa9558b7bc8ddc2ced0dc442d87f82becae24bb6ca6a46f?ver=CBV2.0",
    )
    assert association.declared_at == 1573131600  # 2019-11-07T14:00:00+01:00


def test_an_unhashable_error_declaration_is_still_identified_by_its_event_id(examples_dir: Path) -> None:
    name = "WithFullCombinationOfFields_transformation_event_all_possible_fields.jsonld"
    result = map_event(parse_document((examples_dir / name).read_bytes()).events[0])

    assert isinstance(result, ErrorDeclared)
    assert result.declared_event_hash is None
    assert result.declared_event_id == (
        "ni:///sha-256;0bf4271d60ed65fb687e95f7216c4c0a4c1181c070f657d41385b6fbd93e97ef?ver=CBV2.0"
    )


def test_duplicate_json_keys_resolve_to_the_last_one(examples_dir: Path) -> None:
    event = parse_document((examples_dir / "AssociationEvent_AssociationEvent-h.jsonld").read_bytes()).events[0]

    assert event.event_id == "urn:uuid:fd338495-0e6d-41dd-afee-a862ecd32518"


def test_ignored_example_events_say_why(examples_dir: Path) -> None:
    event = parse_document((examples_dir / "WithSensorData_SensorDataExample11.jsonld").read_bytes()).events[0]
    result = map_event(event)

    assert isinstance(result, Ignored)
    assert result.reason is IgnoreReason.INSPECTION_WITHOUT_VERDICT
    assert "needs_replacement" in result.detail
