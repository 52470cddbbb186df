"""The fast event hash equals the pinned library's, event for event (see :mod:`oracles.canonical`).

Every comparison runs both paths: ``pre_hash_string(..., fast=True)`` (the fast path, which
falls back to the library where it cannot vouch for the result) and ``fast=False`` (the
library alone), and requires the same pre-hash string, or the same EventHashError reason.
Where the fast path is expected to do the work itself, the tests also check that it did not
fall back, so that equality is not won by always asking the library.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import os
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from epcis_event_hash_generator import hash_generator, json_to_py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from oracles import canonical, hashing
from oracles.errors import EventHashError
from oracles.hashing import EPCIS_CONTEXT_URL, event_hash, event_hashes, pre_hash_string
from oracles.simulator import Outcome, SimOrder, declare_error, simulate
from tests.support.epcis import DATA_DIR, load_json

REFERENCE_DIR = DATA_DIR / "reference_hashes"
EXAMPLE = [EPCIS_CONTEXT_URL, {"example": "http://ns.example.com/epcis/"}]
FUZZ_FACTOR = 10 if os.environ.get("SCF_FUZZ") == "long" else 1

#: The only example events the fast path leaves to the library: both cannot be hashed.
EXAMPLE_FALLBACKS = {
    ("Example-TransactionEvents-2020_07_03y.jsonld", 0),  # bizTransaction without type
    ("WithFullCombinationOfFields_transformation_event_all_possible_fields.jsonld", 0),  # redefines cbvmda
}

Case = tuple[dict[str, Any], Any]


def outcome(event: Any, context: Any, *, fast: bool) -> tuple[str, str]:
    try:
        return ("pre-hash", pre_hash_string(event, context, fast=fast))
    except EventHashError as exc:
        return ("error", exc.reason)


def used_fast_path(event: Any, context: Any) -> bool:
    return hashing._fast_pre_hash_string(event, hashing._prepared(context)) is not None


def assert_same(event: Any, context: Any, label: str = "") -> bool:
    """Both paths agree; returns whether the fast path did the work itself."""
    before = json.dumps(event, sort_keys=True, default=repr)
    assert outcome(event, context, fast=True) == outcome(event, context, fast=False), label
    assert json.dumps(event, sort_keys=True, default=repr) == before, f"{label}: the event was modified"
    return used_fast_path(event, context)


def library_cbv_values(event: dict[str, Any], context: Any) -> frozenset[str]:
    """*E* as the library computes it: PyLD's expansion of the one-event document."""
    document = hashing._single_event_document(event, context)
    with hashing._LOCK:
        jsonld.set_document_loader(hashing._offline_loader)
        expanded = jsonld.expand(document)
    values: list[str] = []
    json_to_py._find_expanded_values(expanded, values)
    return frozenset(
        v for v in values if v.startswith("https://ref.gs1.org/cbv") or v.startswith("https://gs1.org/voc")
    )


def fast_cbv_values(event: dict[str, Any], context: Any) -> frozenset[str]:
    prepared = hashing._prepared(context)
    assert prepared is not None
    return canonical.expanded_cbv_values(prepared, {k: v for k, v in event.items() if k != "@context"})


def document_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    events: list[dict[str, Any]] = (
        body["eventList"] if "eventList" in body else body["queryResults"]["resultsBody"]["eventList"]
    )
    return events


def file_cases(paths: Iterator[Path]) -> list[tuple[str, int, dict[str, Any], Any]]:
    cases = []
    for path in paths:
        document = load_json(path)
        for index, event in enumerate(document_events(document)):
            cases.append((path.name, index, event, document.get("@context")))
    return cases


@functools.cache
def simulator_cases() -> list[Case]:
    """A few hundred events: every outcome and spelling, six seeds, with and without
    inspection, plus error declarations of some of them."""
    cases: list[Case] = []
    for seed in range(6):
        for style in ("bare", "urn", "web"):
            for number, outcome_ in enumerate(Outcome):
                ship_by = 1_700_000_000 + 86_400 * (seed * 20 + number)
                order = SimOrder(
                    f"urn:epcglobal:cbv:bt:0614141000005:PO-{seed}-{number}",
                    ship_by,
                    ship_by + 4 * 86_400,
                    inspection_required=(seed + number) % 2 == 0,
                )
                shipment = simulate(order, outcome_, seed=seed * 100 + number, style=style)
                context = shipment.document["@context"]
                cases.extend((event, context) for event in shipment.events)
                if number == seed:
                    reason = ("incorrect_data", "did_not_occur")[seed % 2]
                    cases.append((declare_error(shipment.events[0], declared_at=ship_by + 999, reason=reason), context))
    return cases


# --- the corpora ------------------------------------------------------------------------------


def test_every_gs1_example_event_hashes_alike_on_both_paths(examples_dir: Path) -> None:
    fallbacks = set()
    for name, index, event, context in file_cases(iter(sorted(examples_dir.iterdir()))):
        if not assert_same(event, context, f"{name}[{index}]"):
            fallbacks.add((name, index))

    assert fallbacks == EXAMPLE_FALLBACKS


def test_every_reference_vector_hashes_alike_on_both_paths() -> None:
    cases = file_cases(iter(sorted(REFERENCE_DIR.glob("*.jsonld"))))

    assert len(cases) == 20
    for name, index, event, context in cases:
        assert assert_same(event, context, f"{name}[{index}]"), f"{name}[{index}] fell back to the library"


def test_simulator_events_hash_alike_on_both_paths() -> None:
    cases = simulator_cases()

    assert len(cases) >= 250
    for number, (event, context) in enumerate(cases):
        assert assert_same(event, context, f"simulator[{number}]"), f"simulator[{number}] fell back"


def test_the_walk_finds_the_cbv_values_of_pyld_s_expansion(examples_dir: Path) -> None:
    cases = [(event, context) for _, _, event, context in file_cases(iter(sorted(examples_dir.iterdir())))]
    cases += [(event, context) for _, _, event, context in file_cases(iter(sorted(REFERENCE_DIR.glob("*.jsonld"))))]
    cases += simulator_cases()[::9]
    checked = 0
    for event, context in cases:
        if used_fast_path(event, context):
            assert fast_cbv_values(event, context) == library_cbv_values(event, context)
            checked += 1

    assert checked >= 100


def test_the_walk_is_not_trivial() -> None:
    # A bare word of every vocabulary, a sensor measurement type, a gs1: compact IRI and a
    # web URI written in an extension field all end up in E.
    event = {
        "type": "ObjectEvent",
        "eventTime": "2024-03-01T09:30:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO1"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
        "sensorElementList": [{"sensorReport": [{"type": "Temperature", "value": 3, "uom": "CEL"}]}],
        "readPoint": {"id": "gs1:ReadPoint-x"},
        "example:note": "https://ref.gs1.org/cbv/Disp-damaged",
    }

    assert (
        fast_cbv_values(event, EXAMPLE)
        == library_cbv_values(event, EXAMPLE)
        == {
            "https://ref.gs1.org/cbv/BizStep-shipping",
            "https://ref.gs1.org/cbv/Disp-in_transit",
            "https://ref.gs1.org/cbv/BTT-po",
            "https://ref.gs1.org/cbv/SDT-owning_party",
            "https://gs1.org/voc/Temperature",
            "https://gs1.org/voc/ReadPoint-x",
            "https://ref.gs1.org/cbv/Disp-damaged",
        }
    )
    assert assert_same(event, EXAMPLE)


# --- targeted cases ---------------------------------------------------------------------------


def base_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2005-04-03T20:33:31.116-06:00",
        "eventTimeZoneOffset": "-06:00",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
    }
    event.update(changes)
    return event


TARGETED: dict[str, tuple[dict[str, Any], Any]] = {
    "plain": (base_event(), EXAMPLE),
    "no-context": (base_event(), None),
    "url-only": (base_event(), EPCIS_CONTEXT_URL),
    "older-bundled-context": (base_event(), ["https://gs1.github.io/EPCIS/epcis-context.jsonld"]),
    "event-carries-its-context": (base_event(**{"@context": EXAMPLE}), EXAMPLE),
    "bare-word-elsewhere": (base_event(**{"example:step": "shipping", "example:n": ["in_transit", 5]}), EXAMPLE),
    "bare-word-without-its-vocabulary": (base_event(**{"example:state": "damaged"}), EXAMPLE),
    "ambiguous-bare-word": (
        base_event(
            bizTransactionList=[
                {"type": "po", "bizTransaction": "urn:x:1"},
                {"type": "https://ref.gs1.org/cbv/X-po", "bizTransaction": "urn:x:2"},
            ]
        ),
        EXAMPLE,
    ),
    "empty-string": (base_event(**{"example:empty": "", "example:web": "https://ref.gs1.org/cbv/"}), EXAMPLE),
    "source-in-a-list": (base_event(**{"example:words": ["b", "source", "a"]}), EXAMPLE),
    "source-in-a-list-replaced": (
        base_event(readPoint={"id": "gs1:source"}, **{"example:words": ["b", "source", "a"]}),
        EXAMPLE,
    ),
    "source-in-a-nested-list": (
        # the library pairs the first two items of each bizTransactionList entry: their order counts
        base_event(readPoint={"id": "gs1:source"}, bizTransactionList=[["z", "source", "a"]]),
        EXAMPLE,
    ),
    "delimiter-first-values": (
        base_event(**{"example:a": "-po", "example:b": "/Temperature", "example:c": "BTT-po"}),
        EXAMPLE,
    ),
    "cbv-typed-literal": (
        base_event(**{"ex:t": "4", "ex:u": "Temperature"}),
        [EPCIS_CONTEXT_URL, {"ex": "https://ex.example/", "ex:t": {"@type": "gs1:Temperature"}}],
    ),
    "prefix-then-double-slash": (
        base_event(readPoint={"id": "gs1://Temperature"}, **{"example:u": "Temperature"}),
        EXAMPLE,
    ),
    "nested-extension": (
        base_event(**{"example:box": {"example:size": "12.50", "example:unit": "cbv:Disp-x", "id": "urn:a:b"}}),
        EXAMPLE,
    ),
    "extension-object-list": (
        base_event(**{"example:parts": [{"example:p": "1"}, {"example:p": "0002"}, "loose", 3.5, True, None]}),
        EXAMPLE,
    ),
    "undeclared-prefix": (base_event(**{"acme:note": "shipping"}), EXAMPLE),
    "undefined-key": (base_event(note="https://ref.gs1.org/cbv/BizStep-receiving"), EXAMPLE),
    "absolute-key": (base_event(**{"https://acme.example/x": "gs1:Temperature"}), EXAMPLE),
    "prefix-without-slash": (
        base_event(**{"ex:flag": "x"}),
        [EPCIS_CONTEXT_URL, {"ex": "https://ns.example.com/epcis"}],
    ),
    "two-prefix-objects": (
        base_event(**{"ext1:a": "1", "ext2:b": {"ext3:c": "shipping"}}),
        [EPCIS_CONTEXT_URL, {"ext1": "http://example.com/ext1/"}, {"ext2": "http://example.com/ext2/"}, {"ext3": "x:"}],
    ),
    "expanded-term-definition": (
        base_event(**{"rail:vehicle": "urn:epc:id:giai:952005385.w2", "rail:count": "12"}),
        [
            EPCIS_CONTEXT_URL,
            {
                "rail": "urn:gs1:epcisapp:rail:",
                "rail:vehicle": {"@type": "@id"},
                "rail:count": {"@type": "xsd:integer"},
            },
        ],
    ),
    "term-typed-vocab-in-user-context": (
        base_event(**{"ex:kind": "shipping"}),
        [EPCIS_CONTEXT_URL, {"ex": "https://ex.example/", "ex:kind": {"@type": "@vocab"}}],
    ),
    "user-prefix-named-like-a-bare-word": (
        base_event(**{"shipping:x": "1"}),
        [EPCIS_CONTEXT_URL, {"shipping": "https://ref.gs1.org/cbv/Shipping-"}],
    ),
    "gs1-prefix-redeclared-identically": (
        base_event(**{"gs1:x": "y"}),
        [EPCIS_CONTEXT_URL, {"gs1": "https://gs1.org/voc/"}],
    ),
    "protected-term-redefined": (base_event(), [EPCIS_CONTEXT_URL, {"cbvmda": "http://example.com/cbvmda/"}]),
    "context-object-only": (base_event(), {"example": "http://ns.example.com/epcis/"}),
    "context-in-context": (base_event(), {"@context": EPCIS_CONTEXT_URL}),
    "vocab-in-context": (base_event(note="shipping"), [EPCIS_CONTEXT_URL, {"@vocab": "https://ref.gs1.org/cbv/"}]),
    "unbundled-context": (base_event(), ["https://example.org/remote-context.jsonld"]),
    "untyped-biz-transaction": (base_event(bizTransactionList=[{"bizTransaction": "urn:x:1"}]), EXAMPLE),
    "untyped-source": (base_event(sourceList=[{"source": "urn:x:1"}]), EXAMPLE),
    "source-and-destination": (
        base_event(
            sourceList=[{"type": "owning_party", "source": "urn:x:1"}, {"type": "location", "source": "urn:x:2"}],
            destinationList=[{"destination": "urn:y:1", "type": "possessing_party"}],
        ),
        EXAMPLE,
    ),
    "quantities-and-children": (
        {
            "type": "AggregationEvent",
            "eventTime": "2013-06-08T14:58:56.591Z",
            "eventTimeZoneOffset": "+02:00",
            "parentID": "urn:epc:id:sscc:0614141.1234567890",
            "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
            "childQuantityList": [
                {"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10},
                {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.5, "uom": "KGM"},
            ],
            "action": "ADD",
            "bizStep": "urn:epcglobal:cbv:bizstep:packing",
            "disposition": "https://ref.gs1.org/cbv/Disp-in_progress",
            "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
        },
        EXAMPLE,
    ),
    "transformation": (
        {
            "type": "TransformationEvent",
            "eventTime": "2013-10-31T14:58:56.591Z",
            "eventTimeZoneOffset": "+02:00",
            "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25"],
            "inputQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10, "uom": "KGM"}
            ],
            "outputEPCList": ["urn:epc:id:sgtin:4012345.077889.25"],
            "transformationID": "urn:epc:id:gdti:0614141.12345.400",
            "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
            "ilmd": {"example:bestBeforeDate": "2014-12-10", "example:batch": "XYZ"},
        },
        EXAMPLE,
    ),
    "sensor-report": (
        base_event(
            sensorElementList=[
                {
                    "sensorMetadata": {"time": "2019-04-02T13:05:00.000Z", "deviceID": "urn:epc:id:giai:4000001.111"},
                    "sensorReport": [
                        {"type": "Temperature", "value": 26.0, "uom": "CEL", "exception": "ALARM_CONDITION"},
                        {"type": "gs1:AbsoluteHumidity", "value": 12.1, "uom": "A93", "component": "x"},
                        {"type": "example:custom", "stringValue": "Temperature", "booleanValue": True},
                    ],
                    "example:furtherSensorData": [{"example:measure1": "123.5"}],
                }
            ]
        ),
        EXAMPLE,
    ),
    "comment-and-text": (base_event(comment="shipping", **{"rdfs:comment": "x", "#text": "t"}), EXAMPLE),
    "error-declaration": (
        base_event(
            errorDeclaration={
                "declarationTime": "2005-04-05T00:00:00Z",
                "reason": "did_not_occur",
                "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"],
                "example:vendorExtension": "Test1",
            }
        ),
        EXAMPLE,
    ),
    "certification-info": (base_event(certificationInfo="https://accreditation-council.example.org/cert/xyz"), EXAMPLE),
    "event-id-and-id": (base_event(eventID="urn:uuid:1", id="urn:uuid:2"), EXAMPLE),
    "event-id-compact": (base_event(eventID="gs1:thing"), EXAMPLE),
    "relative-ids": (base_event(readPoint={"id": "dock/4"}, bizLocation="site 7"), EXAMPLE),
    "network-path-id": (base_event(readPoint={"id": "//gs1.org/voc/x"}), EXAMPLE),
    "keyword-key": (base_event(**{"@id": "urn:x:1"}), EXAMPLE),
    "keyword-value": (base_event(readPoint={"id": "@type"}), EXAMPLE),
    "non-string-id": (base_event(readPoint={"id": 5}), EXAMPLE),
    "type-list": (base_event(type=["ObjectEvent"]), EXAMPLE),
    "type-object": (base_event(type={"x": 1}), EXAMPLE),
    "no-type": ({k: v for k, v in base_event().items() if k != "type"}, EXAMPLE),
    "type-with-scoped-context": (base_event(type="bizStep"), EXAMPLE),
    "bizstep-object": (base_event(bizStep={"id": "urn:x:step"}), EXAMPLE),
    "bizstep-number": (base_event(bizStep=5, disposition=None, action=True), EXAMPLE),
    "nested-lists": (base_event(epcList=[["urn:epc:id:sgtin:0614141.107346.1"], []]), EXAMPLE),
    "base-url-alias": (base_event(baseURL="http://x/"), EXAMPLE),
    "numbers": (
        base_event(**{"example:a": "+12.50", "example:b": 1e21, "example:c": -0.0, "example:d": "1_000"}),
        EXAMPLE,
    ),
    "not-a-number-text": (base_event(**{"example:a": "nan", "example:b": "infinity"}), EXAMPLE),
    "nan-float": (base_event(**{"example:a": float("nan")}), EXAMPLE),
    "unicode": (base_event(**{"example:name": "Zürich, 東京", "example:é": "ß"}), EXAMPLE),
    "time-in-utc-without-fraction": (base_event(eventTime="2005-04-04T02:33:31Z"), EXAMPLE),
    "time-with-microseconds": (base_event(eventTime="2005-04-04T02:33:31.123456+05:30"), EXAMPLE),
    "time-rounding-half-even": (base_event(eventTime="2005-04-04T02:33:31.0025Z"), EXAMPLE),
    "time-rounding-to-next-second": (base_event(eventTime="2005-04-04T02:33:31.9996Z"), EXAMPLE),
    "time-nanoseconds": (base_event(eventTime="2005-04-04T02:33:31.123456789Z"), EXAMPLE),
    "time-without-zone": (base_event(**{"example:time": "2005-04-04T02:33:31", "eventTime": "2005-04-04"}), EXAMPLE),
    "time-lowercase": (base_event(eventTime="2005-04-04t02:33:31z"), EXAMPLE),
    "time-invalid-date": (base_event(eventTime="2005-02-30T02:33:31Z"), EXAMPLE),
    "time-not-a-time": (base_event(eventTime="soon"), EXAMPLE),
    "time-24": (base_event(eventTime="2005-04-04T24:00:00Z"), EXAMPLE),
    "time-year-one": (base_event(eventTime="0001-01-01T00:00:00+01:00"), EXAMPLE),
    "digital-link": (base_event(epcList=["https://id.gs1.org/01/10614141073464/21/2017"]), EXAMPLE),
    "user-extension-in-read-point": (
        base_event(readPoint={"id": "urn:epc:id:sgln:0614141.07346.1234", "example:dock": "4"}),
        EXAMPLE,
    ),
}

#: Targeted cases the fast path must handle itself (the rest may fall back).
FAST = {
    "plain", "no-context", "url-only", "source-in-a-list-replaced", "delimiter-first-values", "cbv-typed-literal",
    "prefix-then-double-slash", "older-bundled-context", "event-carries-its-context", "bare-word-elsewhere",
    "bare-word-without-its-vocabulary", "ambiguous-bare-word", "empty-string", "source-in-a-list",
    "nested-extension", "extension-object-list", "undeclared-prefix", "undefined-key", "absolute-key",
    "prefix-without-slash", "two-prefix-objects", "expanded-term-definition", "term-typed-vocab-in-user-context",
    "user-prefix-named-like-a-bare-word", "gs1-prefix-redeclared-identically",
    "source-and-destination", "quantities-and-children", "transformation", "sensor-report", "comment-and-text",
    "error-declaration", "certification-info", "event-id-compact", "relative-ids", "network-path-id",
    "bizstep-object", "bizstep-number", "nested-lists", "numbers", "nan-float",
    "unicode", "time-in-utc-without-fraction", "time-with-microseconds", "time-rounding-half-even",
    "time-nanoseconds", "time-without-zone", "time-lowercase", "time-invalid-date", "time-not-a-time",
    "time-24", "digital-link", "user-extension-in-read-point",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TARGETED))
def test_targeted_case_hashes_alike_on_both_paths(name: str) -> None:
    event, context = TARGETED[name]

    fast = assert_same(event, context, name)

    if name in FAST:
        assert fast, f"{name} fell back to the library"
    if fast:
        assert fast_cbv_values(event, context) == library_cbv_values(event, context)


def test_targeted_cases_cover_both_outcomes() -> None:
    results = {name: outcome(*TARGETED[name], fast=False)[0] for name in TARGETED}

    assert {"pre-hash", "error"} <= set(results.values())
    assert set(TARGETED) >= FAST


def test_non_json_input_gives_the_library_s_answer() -> None:
    class Word(str):
        pass

    for event in (
        base_event(eventTime=object()),
        base_event(bizStep=Word("shipping")),
        base_event(epcList=("urn:epc:id:sgtin:0614141.107346.2017",)),
        {**base_event(), 7: "x"},
        base_event(comment={("a",): "x"}),
        base_event(comment={7: "x"}),
    ):
        assert not used_fast_path(event, EXAMPLE)
        assert outcome(event, EXAMPLE, fast=True) == outcome(event, EXAMPLE, fast=False)


# --- mutations --------------------------------------------------------------------------------

TRICKY_VALUES = [
    "shipping", "receiving", "po", "desadv", "location", "Temperature", "damaged", "in_transit", "", "source",
    "bizTransaction", "cbv:BizStep-shipping", "gs1:Temperature", "https://ref.gs1.org/cbv/BTT-po",
    "https://gs1.org/voc/Temperature", "urn:epcglobal:cbv:disp:damaged", "urn:epc:id:sgtin:0614141.107346.99",
    "example:foo", "relative/x", "-po", "/shipping", "12.50", "007", "1e3", "2024-02-29T23:59:59.9999-01:00",
    0, 2.5, True, None,
    ["shipping", "urn:x:1"], {"example:k": "po"}, {"id": "urn:x:2"},
]  # fmt: skip
TRICKY_KEYS = ["example:extra", "acme:extra", "note", "bizStep", "disposition", "type", "id", "ilmd", "quantity"]


def permuted(value: Any, rng: random.Random) -> Any:
    """``value`` with every object's keys and every list's items in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: permuted(item, rng) for key, item in items}
    if isinstance(value, list):
        items = [permuted(item, rng) for item in value]
        rng.shuffle(items)
        return items
    return value


def edited(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``event`` with one random change: a value replaced, a key added or removed."""
    event = copy.deepcopy(event)
    containers: list[Any] = []
    stack: list[Any] = [event]
    while stack:
        node = stack.pop()
        containers.append(node)
        stack.extend(
            child for child in (node.values() if isinstance(node, dict) else node) if isinstance(child, dict | list)
        )
    target = rng.choice(containers)
    value = copy.deepcopy(rng.choice(TRICKY_VALUES))
    if isinstance(target, list):
        if target:
            target[rng.randrange(len(target))] = value
        else:
            target.append(value)
    elif target and rng.random() < 0.6:
        key = rng.choice(sorted(target))
        if rng.random() < 0.2:
            del target[key]
        else:
            target[key] = value
    else:
        target[rng.choice(TRICKY_KEYS)] = value
    return event


@functools.cache
def mutation_pool(examples_dir: Path) -> list[Case]:
    pool = [(event, context) for _, _, event, context in file_cases(iter(sorted(examples_dir.iterdir())))]
    pool += [(event, context) for _, _, event, context in file_cases(iter(sorted(REFERENCE_DIR.glob("*.jsonld"))))]
    pool += simulator_cases()[::7]
    return pool


@settings(max_examples=60 * FUZZ_FACTOR, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_permuted_keys_and_lists_hash_alike_on_both_paths(examples_dir: Path, data: st.DataObject) -> None:
    event, context = data.draw(st.sampled_from(mutation_pool(examples_dir)))
    rng = data.draw(st.randoms(use_true_random=False))

    assert_same(permuted(event, rng), context)


@settings(max_examples=100 * FUZZ_FACTOR, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_edited_events_hash_alike_on_both_paths(examples_dir: Path, data: st.DataObject) -> None:
    event, context = data.draw(st.sampled_from(mutation_pool(examples_dir)))
    rng = data.draw(st.randoms(use_true_random=False))
    mutated = permuted(edited(edited(event, rng), rng), rng)

    assert_same(mutated, context)
    if used_fast_path(mutated, context):
        assert fast_cbv_values(mutated, context) == library_cbv_values(mutated, context)


# --- timestamps -------------------------------------------------------------------------------


def test_timestamps_are_normalised_like_the_library() -> None:
    rng = random.Random(7)
    samples = [
        "2005-04-03T20:33:31.116-06:00",
        "2005-04-03T20:33:31Z",
        "2005-04-03T20:33:31.9995Z",
        "2005-04-03T20:33:31.0005Z",
        "2005-04-03T20:33:31.0015Z",
        "2005-04-03T20:33:31.999999+14:00",
        "2005-04-03T20:33:31.1-00:00",
        "1970-01-01T00:00:00.000+00:30",
        "9999-12-31T23:59:59.999-01:00",
        "2024-02-29T12:00:00+05:45",
    ]
    for _ in range(300):
        moment = dt.datetime(1990, 1, 1) + dt.timedelta(seconds=rng.randrange(10**9), microseconds=rng.randrange(10**6))
        fraction = f".{moment.microsecond:06d}"[: rng.randint(0, 7)]
        offset = rng.choice(["Z", f"{rng.choice('+-')}{rng.randrange(15):02d}:{rng.choice([0, 15, 30, 45]):02d}"])
        samples.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + (fraction if len(fraction) > 1 else "") + offset)

    for text in samples:
        try:
            expected: Any = hash_generator._fix_time_stamp_format(text)
        except (ValueError, OverflowError) as exc:
            expected = type(exc)
        try:
            actual: Any = canonical.fix_time_stamp_format(text)
        except (ValueError, OverflowError) as exc:
            actual = type(exc)
        assert actual == expected, text


# --- the API around it ------------------------------------------------------------------------


def test_event_hashes_of_a_document_are_its_events_hashes() -> None:
    events = [
        base_event(),
        base_event(bizTransactionList=[{"bizTransaction": "urn:x:1"}]),
        base_event(bizStep="receiving"),
    ]

    results = event_hashes(events, EXAMPLE)

    assert results[0] == event_hash(events[0], EXAMPLE)
    assert isinstance(results[1], EventHashError) and "without its type" in results[1].reason
    assert results[2] == event_hash(events[2], EXAMPLE) != results[0]
    assert event_hashes([], EXAMPLE) == []


def test_contexts_are_prepared_once_and_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hashing._prepared(EXAMPLE) is hashing._prepared(json.loads(json.dumps(EXAMPLE)))
    small = canonical.ContextCache(hashing._offline_loader, hashing._namespaces_of, hashing._LOCK, maxsize=3)
    monkeypatch.setattr(hashing, "_CONTEXTS", small)
    for number in range(5):
        context = [EPCIS_CONTEXT_URL, {f"p{number}": f"https://p{number}.example/"}]
        assert used_fast_path(base_event(**{f"p{number}:x": "1"}), context)
        assert outcome(base_event(**{f"p{number}:x": "1"}), context, fast=True)[1].endswith(
            f"{{https://p{number}.example/}}x=1"
        )

    assert len(small._entries) == 3


def test_cold_contexts_from_many_threads_hash_like_the_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the hashing tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(
        hashing, "_CONTEXTS", canonical.ContextCache(hashing._offline_loader, hashing._namespaces_of, hashing._LOCK)
    )
    cases = [
        (base_event(**{f"t{n % 4}:x": "shipping", "sensorElementList": [{"sensorReport": [{"type": "Temperature"}]}]}),
         [EPCIS_CONTEXT_URL, {f"t{n % 4}": f"https://t{n % 4}.example/"}])
        for n in range(16)
    ] + [(base_event(), ["https://example.org/remote-context.jsonld"])]  # fmt: skip
    expected = [outcome(event, context, fast=False) for event, context in cases]
    results: dict[int, tuple[str, str]] = {}
    barrier = threading.Barrier(len(cases))

    def work(index: int) -> None:
        barrier.wait()
        results[index] = outcome(*cases[index], fast=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [results[i] for i in range(len(cases))] == expected
    assert expected[-1][0] == "error" and "is not bundled" in expected[-1][1]
