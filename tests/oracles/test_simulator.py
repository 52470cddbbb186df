"""Simulated EPCIS documents look real, are reproducible by seed, and map back to their outcome."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from ledger.domain.escrow import Milestone
from oracles.epcis import parse_document
from oracles.errors import SimulationError
from oracles.hashing import EPCIS_CONTEXT_URL
from oracles.mapping import ErrorDeclared, Ignored, Mapped, map_event
from oracles.simulator import (
    Outcome,
    Shipment,
    SimOrder,
    declare_error,
    epcis_document,
    format_event_time,
    gs1_check_digit,
    simulate,
)

SHIP_BY = 1_717_200_000  # 2024-06-01T00:00:00Z
ORDER = SimOrder(
    po_ref="urn:epcglobal:cbv:bt:4012345000009:PO-2024-0042",
    ship_by=SHIP_BY,
    deliver_by=SHIP_BY + 7 * 86400,
    inspection_required=True,
)

SGTIN = re.compile(r"urn:epc:id:sgtin:\d{7}\.0\d{5}\.\d+")
SGLN = re.compile(r"urn:epc:id:sgln:\d{7}\.\d{5}\.(0|DOCK\d+|QA\d)")
PGLN = re.compile(r"urn:epc:id:pgln:\d{7}\.\d{5}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}")


def mapped(shipment: Shipment) -> list[Any]:
    """Parse the shipment's JSON as a capture client would send it, and map every event."""
    return [map_event(event) for event in parse_document(shipment.to_json()).events]


def milestones(results: list[Any]) -> list[tuple[Milestone, int]]:
    return [(r.milestone, r.occurred_at) for r in results if isinstance(r, Mapped)]


EXPECTED_STEPS = {
    (Outcome.ON_TIME, True): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_PASSED],
    (Outcome.ON_TIME, False): [Milestone.SHIPPED, Milestone.DELIVERED],
    (Outcome.LATE, True): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_PASSED],
    (Outcome.LATE, False): [Milestone.SHIPPED, Milestone.DELIVERED],
    (Outcome.LOST, True): [Milestone.SHIPPED],
    (Outcome.LOST, False): [Milestone.SHIPPED],
    (Outcome.DAMAGED, True): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_FAILED],
    (Outcome.DAMAGED, False): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_FAILED],
    (Outcome.FAILED_INSPECTION, True): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_FAILED],
    (Outcome.FAILED_INSPECTION, False): [Milestone.SHIPPED, Milestone.DELIVERED, Milestone.INSPECTION_FAILED],
}


@pytest.mark.parametrize(("outcome", "inspection"), sorted(EXPECTED_STEPS))
@pytest.mark.parametrize("seed", [1, 2])
def test_every_outcome_round_trips_to_its_milestones(outcome: Outcome, inspection: bool, seed: int) -> None:
    order = SimOrder(ORDER.po_ref, ORDER.ship_by, ORDER.deliver_by, inspection_required=inspection)

    shipment = simulate(order, outcome, seed=seed)
    results = mapped(shipment)

    assert [m for m, _ in milestones(results)] == EXPECTED_STEPS[outcome, inspection]
    assert milestones(results) == [(e.milestone, e.occurred_at) for e in shipment.expected]
    assert all(r.po_refs == (order.po_ref,) for r in results if isinstance(r, Mapped))
    # Whatever is not a milestone is a carrier scan, ignored for a reason.
    assert all(isinstance(r, Mapped) or (isinstance(r, Ignored) and r.reason == "unmapped_biz_step") for r in results)


@pytest.mark.parametrize("seed", range(8))
def test_on_time_and_late_are_judged_against_the_order_dates(seed: int) -> None:
    on_time = dict((e.milestone, e.occurred_at) for e in simulate(ORDER, Outcome.ON_TIME, seed=seed).expected)
    late = dict((e.milestone, e.occurred_at) for e in simulate(ORDER, Outcome.LATE, seed=seed).expected)

    assert on_time[Milestone.SHIPPED] <= ORDER.ship_by and late[Milestone.SHIPPED] <= ORDER.ship_by
    assert on_time[Milestone.SHIPPED] < on_time[Milestone.DELIVERED] <= ORDER.deliver_by
    assert late[Milestone.DELIVERED] > ORDER.deliver_by
    assert on_time[Milestone.DELIVERED] < on_time[Milestone.INSPECTION_PASSED]


def test_damaged_goods_are_received_damaged_and_fail_inspection_with_a_temperature_excursion() -> None:
    shipment = simulate(ORDER, Outcome.DAMAGED, seed=3)
    receiving, inspecting = shipment.events[1], shipment.events[2]

    assert (receiving["bizStep"], receiving["disposition"]) == ("receiving", "damaged")
    assert (inspecting["bizStep"], inspecting["disposition"]) == ("inspecting", "non_conformant")
    report = inspecting["sensorElementList"][0]["sensorReport"][0]
    assert report["type"] == "Temperature" and report["uom"] == "CEL"


def test_a_lost_shipment_stops_after_a_carrier_scan() -> None:
    shipment = simulate(ORDER, Outcome.LOST, seed=4)

    assert [e["bizStep"] for e in shipment.events] == ["shipping", "transporting"]
    assert "bizTransactionList" not in shipment.events[1]


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    assert simulate(ORDER, Outcome.ON_TIME, seed=11).to_json() == simulate(ORDER, Outcome.ON_TIME, seed=11).to_json()
    assert simulate(ORDER, Outcome.ON_TIME, seed=11).to_json() != simulate(ORDER, Outcome.ON_TIME, seed=12).to_json()


def test_one_generator_reproduces_a_stream_of_orders() -> None:
    def stream() -> list[bytes]:
        rng = random.Random(99)
        return [simulate(ORDER, outcome, seed=rng).to_json() for outcome in Outcome]

    first = stream()

    assert first == stream()
    assert len(set(first)) == len(Outcome)


def test_the_three_spellings_mean_the_same_and_hash_the_same() -> None:
    shipments = {style: simulate(ORDER, Outcome.ON_TIME, seed=5, style=style) for style in ("bare", "urn", "web")}
    parsed = {style: parse_document(s.document).events for style, s in shipments.items()}

    assert shipments["urn"].events[0]["bizStep"] == "urn:epcglobal:cbv:bizstep:shipping"
    assert shipments["web"].events[0]["bizStep"] == "https://ref.gs1.org/cbv/BizStep-shipping"
    assert shipments["web"].events[0]["bizTransactionList"][0]["type"] == "https://ref.gs1.org/cbv/BTT-po"
    hashes = {style: [e.event_hash for e in events] for style, events in parsed.items()}
    assert hashes["bare"] == hashes["urn"] == hashes["web"]
    assert all(milestones(mapped(s)) == milestones(mapped(shipments["bare"])) for s in shipments.values())


def test_documents_look_like_real_epcis_2_json_ld() -> None:
    shipment = simulate(ORDER, Outcome.ON_TIME, seed=6)
    document = shipment.document

    assert document["@context"] == [EPCIS_CONTEXT_URL]
    assert (document["type"], document["schemaVersion"]) == ("EPCISDocument", "2.0")
    assert document["id"].startswith("urn:uuid:")
    for event in shipment.events:
        assert event["type"] == "ObjectEvent" and event["action"] == "OBSERVE"
        assert event["eventID"].startswith("urn:uuid:")
        assert TIME.fullmatch(event["eventTime"])
        assert event["eventTime"].endswith(event["eventTimeZoneOffset"])
        assert all(SGTIN.fullmatch(epc) for epc in event["epcList"])
        assert SGLN.fullmatch(event["readPoint"]["id"])
    shipping = shipment.events[0]
    assert shipping["bizTransactionList"][0] == {"type": "po", "bizTransaction": ORDER.po_ref}
    desadv = shipping["bizTransactionList"][1]
    assert desadv["type"] == "desadv"
    gln = desadv["bizTransaction"].split(":")[4]
    assert len(gln) == 13 and gs1_check_digit(gln[:12]) == gln[12]
    assert all(PGLN.fullmatch(s["source"]) or SGLN.fullmatch(s["source"]) for s in shipping["sourceList"])
    receiving = next(e for e in shipment.events if e["bizStep"] == "receiving")
    assert SGLN.fullmatch(receiving["bizLocation"]["id"])


def test_an_error_declaration_of_a_simulated_event_points_at_its_evidence() -> None:
    shipment = simulate(ORDER, Outcome.ON_TIME, seed=8)
    original = parse_document(shipment.document).events[0]

    declared = declare_error(
        shipment.events[0], declared_at=SHIP_BY + 86400, reason="did_not_occur", corrective_event_ids=["urn:uuid:x"]
    )
    result = map_event(parse_document(epcis_document([declared], created_at=SHIP_BY + 86400)).events[0])

    assert isinstance(result, ErrorDeclared)
    assert result.declared_event_hash == original.event_hash
    assert result.declared_event_id == original.event_id
    assert (result.reason, result.declared_at) == ("did_not_occur", SHIP_BY + 86400)
    assert result.milestone is Milestone.SHIPPED and result.po_refs == (ORDER.po_ref,)
    assert "errorDeclaration" not in shipment.events[0]


def test_an_order_that_must_be_delivered_before_it_ships_is_refused() -> None:
    with pytest.raises(SimulationError, match="deliver_by"):
        simulate(SimOrder("PO-1", ship_by=SHIP_BY, deliver_by=SHIP_BY), Outcome.ON_TIME)


def test_outcomes_can_be_named_by_their_value() -> None:
    assert simulate(ORDER, "lost", seed=1).outcome is Outcome.LOST
    with pytest.raises(SimulationError, match="unknown outcome 'stolen'"):
        simulate(ORDER, "stolen", seed=1)


def test_event_times_are_written_in_local_time() -> None:
    assert format_event_time(SHIP_BY, "+08:00", 250) == "2024-06-01T08:00:00.250+08:00"
    assert format_event_time(SHIP_BY, "-05:30") == "2024-05-31T18:30:00.000-05:30"


def test_gs1_check_digit_matches_known_keys() -> None:
    assert gs1_check_digit("401234500000") == "9"  # GLN 4012345000009
    assert gs1_check_digit("0614141073467"[:12]) == "7"
    assert gs1_check_digit("0061414199999") == "6"  # GTIN-14 00614141999996
