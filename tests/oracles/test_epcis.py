"""Capture: the three document shapes, the three spellings, times with their zones, and bad input
answered with a typed error that names the field."""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracles.epcis import DEFAULT_MAX_BYTES, BizTransaction, DocumentKind, parse_date_time, parse_document, parse_event
from oracles.errors import (
    DocumentTooLarge,
    EpcisDocumentError,
    InvalidEpcis,
    MalformedJson,
    OracleError,
    ValueOutOfRange,
)
from oracles.hashing import EPCIS_CONTEXT_URL
from oracles.vocab import Vocabulary, bare_word

PO = "urn:epcglobal:cbv:bt:4012345000009:PO-1001"


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0d4f4bb4-4c5e-4ed1-9f0e-5b0f0a1d2c3e",
        "eventTime": "2024-03-01T09:30:00.250+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.1001"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.DOCK1"},
        "bizLocation": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "bizTransactionList": [{"type": "po", "bizTransaction": PO}],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def as_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- shapes -----------------------------------------------------------------------------------


def test_epcis_document_events_come_typed_and_in_order() -> None:
    parsed = parse_document(as_bytes(document(event(), event(bizStep="receiving"))))

    assert parsed.kind is DocumentKind.EPCIS_DOCUMENT
    assert parsed.schema_version == "2.0"
    assert [e.biz_step for e in parsed.events] == ["shipping", "receiving"]
    first = parsed.events[0]
    assert first.path == "epcisBody.eventList[0]"
    assert first.type == "ObjectEvent"
    assert first.event_id == "urn:uuid:0d4f4bb4-4c5e-4ed1-9f0e-5b0f0a1d2c3e"
    assert first.action == "OBSERVE"
    assert first.disposition == "in_transit"
    assert first.biz_transactions == (BizTransaction("po", PO),)
    assert first.po_refs == (PO,)
    assert first.read_point == "urn:epc:id:sgln:4012345.00001.DOCK1"
    assert first.biz_location == "urn:epc:id:sgln:4012345.00001.0"
    assert first.error_declaration is None
    assert first.event_hash is not None and first.event_hash.startswith("ni:///sha-256;")


def test_query_document_events_are_read_from_query_results() -> None:
    query = {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": [event()]}}},
    }

    parsed = parse_document(as_bytes(query))

    assert parsed.kind is DocumentKind.QUERY_DOCUMENT
    assert parsed.events[0].path == "epcisBody.queryResults.resultsBody.eventList[0]"
    assert parsed.events[0].event_hash == parse_document(document(event())).events[0].event_hash


def test_a_bare_event_is_a_document_of_one_event_and_its_context_is_not_part_of_it() -> None:
    single = {"@context": [EPCIS_CONTEXT_URL], **event()}

    parsed = parse_document(as_bytes(single))

    assert parsed.kind is DocumentKind.SINGLE_EVENT
    assert parsed.events[0].path == ""
    assert "@context" not in parsed.events[0].raw
    assert parsed.events[0].event_hash == parse_document(document(event())).events[0].event_hash


def test_plain_json_without_context_reads_like_json_ld() -> None:
    plain = document(event())
    del plain["@context"]

    assert parse_document(plain).events[0].event_hash == parse_document(document(event())).events[0].event_hash


def test_text_and_decoded_objects_are_accepted_like_bytes() -> None:
    doc = document(event())

    assert parse_document(json.dumps(doc)) == parse_document(as_bytes(doc)) == parse_document(doc)


def test_raw_event_is_kept_read_only() -> None:
    parsed = parse_document(document(event(**{"example:note": "fragile"})))

    assert parsed.events[0].raw["example:note"] == "fragile"
    with pytest.raises(TypeError):
        parsed.events[0].raw["bizStep"] = "receiving"  # type: ignore[index]


def test_empty_event_list_is_a_valid_document_of_no_events() -> None:
    assert parse_document(document()).events == ()


def test_extension_event_types_are_kept() -> None:
    parsed = parse_document(document(event(type="example:ContainerEvent")))

    assert parsed.events[0].type == "example:ContainerEvent"


# --- vocabulary spellings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "written", "word"),
    [
        ("bizStep", "shipping", "shipping"),
        ("bizStep", "urn:epcglobal:cbv:bizstep:shipping", "shipping"),
        ("bizStep", "https://ref.gs1.org/cbv/BizStep-shipping", "shipping"),
        ("bizStep", "cbv:BizStep-shipping", "shipping"),
        ("disposition", "non_conformant", "non_conformant"),
        ("disposition", "urn:epcglobal:cbv:disp:non_conformant", "non_conformant"),
        ("disposition", "https://ref.gs1.org/cbv/Disp-non_conformant", "non_conformant"),
    ],
)
def test_cbv_values_are_read_as_bare_words_in_every_spelling(field: str, written: str, word: str) -> None:
    parsed = parse_document(document(event(**{field: written})))

    assert getattr(parsed.events[0], "biz_step" if field == "bizStep" else "disposition") == word


@pytest.mark.parametrize("written", ["po", "urn:epcglobal:cbv:btt:po", "https://ref.gs1.org/cbv/BTT-po"])
def test_po_type_is_recognised_in_every_spelling(written: str) -> None:
    parsed = parse_document(document(event(bizTransactionList=[{"type": written, "bizTransaction": PO}])))

    assert parsed.events[0].po_refs == (PO,)


def test_spellings_give_the_same_hash() -> None:
    bare = parse_document(document(event())).events[0]
    urn = parse_document(
        document(
            event(
                bizStep="urn:epcglobal:cbv:bizstep:shipping",
                disposition="urn:epcglobal:cbv:disp:in_transit",
                bizTransactionList=[{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": PO}],
            )
        )
    ).events[0]

    assert bare.event_hash == urn.event_hash


def test_custom_biz_step_uri_is_kept_as_written() -> None:
    custom = "https://example.com/vocab/bizstep/summarising_discharge"

    assert parse_document(document(event(bizStep=custom))).events[0].biz_step == custom


def test_bare_word_keeps_unknown_values_and_matches_prefixes_case_insensitively() -> None:
    assert bare_word("URN:EPCGLOBAL:CBV:BIZSTEP:receiving", Vocabulary.BIZ_STEP) == "receiving"
    assert bare_word("urn:epcglobal:cbv:bizstep:", Vocabulary.BIZ_STEP) == "urn:epcglobal:cbv:bizstep:"
    assert bare_word("urn:epcglobal:cbv:disp:damaged", Vocabulary.BIZ_STEP) == "urn:epcglobal:cbv:disp:damaged"


def test_untyped_and_custom_business_transactions_are_not_pos() -> None:
    parsed = parse_document(
        document(
            event(
                bizTransactionList=[
                    {"bizTransaction": "urn:epc:id:gdti:95252084.0001.0003555480001000"},
                    {"type": "urn:gs1:epcisapp:rail:btt:passage", "bizTransaction": "http://rail.example/xyz"},
                    {"type": "po", "bizTransaction": PO},
                    {"type": "po", "bizTransaction": PO},
                ]
            )
        )
    )

    first = parsed.events[0]
    assert [t.type for t in first.biz_transactions] == [None, "urn:gs1:epcisapp:rail:btt:passage", "po", "po"]
    assert first.po_refs == (PO,)
    # The hash library cannot hash an untyped bizTransaction: the event is kept, without hash.
    assert first.event_hash is None and first.hash_error is not None


# --- times --------------------------------------------------------------------------------------


def test_event_time_is_shown_in_the_event_zone_and_occurred_at_is_utc_seconds() -> None:
    parsed = parse_document(document(event(eventTime="2024-03-01T01:30:00.999Z", eventTimeZoneOffset="+08:00")))

    first = parsed.events[0]
    assert first.occurred_at == int(datetime(2024, 3, 1, 1, 30, tzinfo=UTC).timestamp())
    assert first.event_time.isoformat() == "2024-03-01T09:30:00.999000+08:00"
    assert first.time_zone_offset == "+08:00"


def test_missing_time_zone_offset_falls_back_to_the_event_time_offset() -> None:
    parsed = parse_document(document(event(eventTimeZoneOffset=None, eventTime="2024-03-01T09:30:00-05:30")))

    assert parsed.events[0].time_zone_offset == "-05:30"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2005-04-03T20:33:31.116000-06:00", datetime(2005, 4, 4, 2, 33, 31, 116000, tzinfo=UTC)),
        ("2023-02-02T11:04:03.1415926Z", datetime(2023, 2, 2, 11, 4, 3, 141592, tzinfo=UTC)),
        ("2005-07-11T11:30:47.0Z", datetime(2005, 7, 11, 11, 30, 47, tzinfo=UTC)),
        ("1969-12-31T23:59:59.5Z", datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_with_zone_parse_to_the_same_instant(text: str, expected: datetime) -> None:
    assert parse_date_time(text) == expected


def test_occurred_at_floors_before_the_epoch() -> None:
    parsed = parse_document(document(event(eventTime="1969-12-31T23:59:59.500Z", eventTimeZoneOffset="+00:00")))

    assert parsed.events[0].occurred_at == -1


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_json_says_where() -> None:
    with pytest.raises(MalformedJson) as caught:
        parse_document(b'{"type": "EPCISDocument",\n  "epcisBody": {]}')

    assert (caught.value.line, caught.value.column) == (2, 17)
    assert caught.value.code == "malformed_json"
    assert "line 2 column 17" in str(caught.value)


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe{}", b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000],
    ids=["empty", "not-utf8", "nan", "too-deep"],
)
def test_non_json_input_is_malformed_json(data: bytes) -> None:
    with pytest.raises(MalformedJson):
        parse_document(data, max_bytes=1 << 20)


def test_deep_nesting_is_refused_before_it_can_exhaust_the_stack() -> None:
    # ledger (web3) raises the recursion limit to 100,000: without this check the decoder
    # would crash the process instead of raising RecursionError.
    nested: Any = "x"
    for _ in range(150):
        nested = [nested]

    with pytest.raises(MalformedJson, match="nested deeper than 100"):
        parse_document(b'{"a": "[[[[", "b": ' + b"[" * 150 + b"]" * 150 + b"}")
    with pytest.raises(EpcisDocumentError, match="nested deeper than 100"):
        parse_document({"type": "EPCISDocument", "epcisBody": {"eventList": nested}})
    assert parse_document(document(event(**{"example:deep": [[["ok"]]], "example:text": "]]]]]]"}))).events


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"9" * 5000, ValueOutOfRange),  # Python's int parser would raise ValueError: a 500 before
        (b"1e400", ValueOutOfRange),
        (b'"shipping\\ud800"', MalformedJson),  # no UTF-8 encoder takes it: a 500 before
        (b'"\\udfff"', MalformedJson),
        (b"NaN", MalformedJson),
    ],
    ids=["5000-digits", "1e400", "high-surrogate", "low-surrogate", "nan"],
)
def test_a_biz_step_no_json_consumer_can_take_is_refused_naming_it(raw: bytes, error: type[InvalidEpcis]) -> None:
    data = as_bytes(document(event(bizStep="\x00mark\x00"))).replace(b'"\\u0000mark\\u0000"', raw)

    with pytest.raises(error) as caught:
        parse_document(data)

    assert caught.value.path == "epcisBody.eventList[0].bizStep"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("time", "offset"),
    [("9999-12-31T23:59:59-14:00", "+14:00"), ("0001-01-01T00:00:00+14:00", "-14:00"), ("9999-12-31T23:59:59Z", None)],
)
def test_a_time_at_the_edge_of_the_calendar_is_refused_not_overflowed(time: str, offset: str | None) -> None:
    with pytest.raises(EpcisDocumentError, match="out of range") as caught:
        parse_document(document(event(eventTime=time, eventTimeZoneOffset=offset)))
    assert caught.value.path == "epcisBody.eventList[0].eventTime"


def test_times_are_written_in_ascii_digits() -> None:
    with pytest.raises(EpcisDocumentError, match="not an ISO 8601 date-time"):
        parse_document(document(event(eventTime="\u0662\u0660\u0662\u0664-03-01T09:30:00Z")))


def test_document_over_the_size_limit_is_refused_before_parsing() -> None:
    data = b"{" + b" " * 2000  # also malformed: the size is checked first

    with pytest.raises(DocumentTooLarge) as caught:
        parse_document(data, max_bytes=1000)

    assert (caught.value.size, caught.value.limit) == (2001, 1000)
    assert caught.value.code == "document_too_large"


def test_size_limit_counts_utf8_bytes_of_text() -> None:
    with pytest.raises(DocumentTooLarge) as caught:
        parse_document('"' + "é" * 600 + '"', max_bytes=1000)

    assert caught.value.size == 1202


def test_default_size_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_BYTES == 1 << 20


def test_missing_event_time_names_the_field() -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        parse_document(as_bytes(document(event(), event(), event(eventTime=None))))

    assert caught.value.path == "epcisBody.eventList[2].eventTime"
    assert caught.value.reason == "missing"
    assert str(caught.value) == "epcisBody.eventList[2].eventTime: missing"


def test_event_time_without_time_zone_is_refused() -> None:
    with pytest.raises(EpcisDocumentError, match="no time zone") as caught:
        parse_document(document(event(eventTime="2024-03-01T09:30:00.000")))

    assert caught.value.path == "epcisBody.eventList[0].eventTime"


@pytest.mark.parametrize(
    ("changes", "path", "reason"),
    [
        ({"eventTime": "yesterday"}, "epcisBody.eventList[0].eventTime", "not an ISO 8601"),
        ({"eventTime": "2024-02-30T10:00:00Z"}, "epcisBody.eventList[0].eventTime", "not a valid date-time"),
        ({"eventTime": 1709285400}, "epcisBody.eventList[0].eventTime", "must be a string"),
        ({"eventTimeZoneOffset": "+0800"}, "epcisBody.eventList[0].eventTimeZoneOffset", "not a time zone offset"),
        ({"eventTimeZoneOffset": "+15:00"}, "epcisBody.eventList[0].eventTimeZoneOffset", "out of range"),
        ({"type": None}, "epcisBody.eventList[0].type", "missing"),
        ({"action": "MOVE"}, "epcisBody.eventList[0].action", "ADD, OBSERVE or DELETE"),
        ({"bizStep": ""}, "epcisBody.eventList[0].bizStep", "must not be empty"),
        ({"bizStep": ["shipping"]}, "epcisBody.eventList[0].bizStep", "must be a string"),
        ({"readPoint": "urn:epc:id:sgln:4012345.00001.0"}, "epcisBody.eventList[0].readPoint", "must be an object"),
        ({"bizLocation": {}}, "epcisBody.eventList[0].bizLocation.id", "missing"),
        ({"bizTransactionList": {"type": "po"}}, "epcisBody.eventList[0].bizTransactionList", "must be an array"),
        (
            {"bizTransactionList": [{"type": "po"}]},
            "epcisBody.eventList[0].bizTransactionList[0].bizTransaction",
            "missing",
        ),
        (
            {"errorDeclaration": {"reason": "incorrect_data"}},
            "epcisBody.eventList[0].errorDeclaration.declarationTime",
            "missing",
        ),
        (
            {"errorDeclaration": {"declarationTime": "2024-03-02T00:00:00Z", "correctiveEventIDs": [""]}},
            "epcisBody.eventList[0].errorDeclaration.correctiveEventIDs[0]",
            "non-empty string",
        ),
    ],
)
def test_invalid_fields_are_named_by_their_json_path(changes: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(EpcisDocumentError, match=reason) as caught:
        parse_document(document(event(**changes)))

    assert caught.value.path == path


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], ""),
        ({"epcisBody": {"eventList": []}}, "type"),
        ({"type": "EPCISMasterDataDocument"}, "type"),
        ({"type": "EPCISDocument"}, "epcisBody"),
        ({"type": "EPCISDocument", "epcisBody": {"events": []}}, "epcisBody.eventList"),
        ({"type": "EPCISDocument", "epcisBody": {"eventList": {}}}, "epcisBody.eventList"),
        ({"type": "EPCISDocument", "epcisBody": {"eventList": ["x"]}}, "epcisBody.eventList[0]"),
        ({"type": "EPCISQueryDocument", "epcisBody": {"queryResults": {}}}, "epcisBody.queryResults.resultsBody"),
        ({"type": "EPCISDocument", "@context": 5, "epcisBody": {"eventList": []}}, "@context"),
    ],
)
def test_invalid_document_structure_is_named_by_its_path(doc: Any, path: str) -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        parse_document(as_bytes(doc))

    assert caught.value.path == path


def test_one_bad_event_refuses_the_whole_document() -> None:
    good, bad = event(), event(eventTime="2024-03-01T09:30:00")

    with pytest.raises(EpcisDocumentError) as caught:
        parse_document(document(good, good, bad, good))

    assert caught.value.path == "epcisBody.eventList[2].eventTime"


def test_input_errors_share_one_root() -> None:
    assert issubclass(DocumentTooLarge, InvalidEpcis)
    assert issubclass(MalformedJson, InvalidEpcis)
    assert issubclass(EpcisDocumentError, InvalidEpcis)
    assert issubclass(InvalidEpcis, OracleError)


def test_error_declaration_is_parsed_with_its_reason_in_any_spelling() -> None:
    declaration = {
        "declarationTime": "2024-03-02T08:00:00.000+08:00",
        "reason": "urn:epcglobal:cbv:er:did_not_occur",
        "correctiveEventIDs": ["urn:uuid:11111111-2222-4333-8444-555555555555"],
    }

    parsed = parse_document(document(event(errorDeclaration=declaration)))

    decl = parsed.events[0].error_declaration
    assert decl is not None
    assert decl.reason == "did_not_occur"
    assert decl.declared_at == int(datetime(2024, 3, 2, tzinfo=UTC).timestamp())
    assert decl.declaration_time.utcoffset() == timedelta(hours=8)
    assert decl.corrective_event_ids == ("urn:uuid:11111111-2222-4333-8444-555555555555",)


# --- robustness -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "type", "eventTime", "eventTimeZoneOffset", "eventID", "action", "bizStep", "disposition", "readPoint",
        "bizLocation", "bizTransactionList", "errorDeclaration", "epcList", "sourceList", "@context",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_arbitrary_json_is_answered_with_an_input_error_never_a_crash(value: Any) -> None:
    for data in (value, {"type": "EPCISDocument", "epcisBody": {"eventList": [value]}}):
        with contextlib.suppress(InvalidEpcis):
            parse_document(json.dumps(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELDS, JSON)
def test_any_field_of_a_valid_event_may_be_replaced_without_a_crash(field: str, value: Any) -> None:
    try:
        parsed = parse_document(json.dumps(document(event(**{field: value}))))
    except InvalidEpcis:
        return
    assert (parsed.events[0].event_hash is None) != (parsed.events[0].hash_error is None)


_HOSTILE = st.one_of(
    st.text(st.characters(codec=None), max_size=30),  # surrogates included
    st.integers(min_value=-(10**120), max_value=10**120),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        fullmatch=True,
    ),
    st.from_regex(r"[+-][0-9]{2}:[0-9]{2}", fullmatch=True),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELDS | st.sampled_from(["eventTime", "eventTimeZoneOffset", "bizStep"]), _HOSTILE, st.booleans())
def test_a_hostile_value_in_any_field_is_an_input_error_never_a_crash(field: str, value: Any, as_text: bool) -> None:
    data: Any = document(event(**{field: value}))
    if as_text:  # as JSON text the way a client sends it: NaN and surrogate escapes included
        data = json.dumps(data).encode("utf-8", "surrogatepass")
    try:
        parsed = parse_document(data)
    except InvalidEpcis as exc:
        str(exc).encode("utf-8")  # its message can be sent back out as it is
        return
    assert (parsed.events[0].event_hash is None) != (parsed.events[0].hash_error is None)


def test_a_single_event_can_be_parsed_on_its_own_with_its_document_context() -> None:
    context = [EPCIS_CONTEXT_URL, {"example": "http://ns.example.com/epcis/"}]

    parsed = parse_event(event(**{"example:note": "x"}), context=context, path="events[4]")

    assert parsed.path == "events[4]"
    assert (
        parsed.event_hash
        == parse_document({**document(event(**{"example:note": "x"})), "@context": context}).events[0].event_hash
    )
    with pytest.raises(EpcisDocumentError) as caught:
        parse_event(event(eventTime=None), path="events[4]")
    assert caught.value.path == "events[4].eventTime"


def test_a_po_reference_longer_than_an_identifier_is_refused_naming_it() -> None:
    long = "urn:epcglobal:cbv:bt:0614141000005:" + "9" * 600  # a key of the capture records: PostgreSQL would refuse it
    with pytest.raises(EpcisDocumentError, match="longer than 512 bytes") as caught:
        parse_document(document(event(bizTransactionList=[{"type": "po", "bizTransaction": long}])))
    assert caught.value.path == "epcisBody.eventList[0].bizTransactionList[0].bizTransaction"
