"""The JSON rules every service applies before decoding (``oracles.strict_json``): what is refused, how
the refusal names its place, and that nothing well formed is refused."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracles.errors import InvalidEpcis, MalformedJson, ValueOutOfRange
from oracles.strict_json import MAX_DEPTH, MAX_NUMBER_CHARS, check_value, loads, path_at

# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ('{"a": NaN}', "a", "NaN is not a JSON value"),
        ('{"a": [0, Infinity]}', "a[1]", "Infinity is not a JSON value"),
        ('[{"b": -Infinity}]', "[0].b", "-Infinity is not a JSON value"),
        ('{"a": "\\ud800"}', "a", "unpaired surrogate \\ud800"),
        ('{"a": "x\\udfffy"}', "a", "unpaired surrogate \\udfff"),
        ('{"a": "\\ud800\\u0041"}', "a", "unpaired surrogate \\ud800"),
        ('{"a": {"\\udc00": 1}}', "a", "a key holds an unpaired surrogate"),
        ('{"a": 1, "\\udc00": 2}', "", "a key holds an unpaired surrogate"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[0]" * MAX_DEPTH, f"nested deeper than {MAX_DEPTH}"),
    ],
)
def test_text_no_service_can_take_is_malformed_json_naming_its_place(text: str, path: str, reason: str) -> None:
    with pytest.raises(MalformedJson, match=reason.replace("\\", "\\\\")) as caught:
        loads(text)
    assert caught.value.path == path or (len(path) > 160 and str(caught.value.path).startswith(path[:80]))
    assert caught.value.line == 1 and caught.value.column is not None


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"amount": ' + "9" * 5000 + "}", "amount"),
        ('{"a": [1, -' + "1" * MAX_NUMBER_CHARS + "]}", "a[1]"),
        ('{"a": {"b": 1e400}}', "a.b"),
        ('{"a": -2.5E+999}', "a"),
        ('{"a": 1' + "0" * 98 + "e300}", "a"),
    ],
)
def test_a_number_no_field_can_hold_is_out_of_range_naming_the_field(text: str, path: str) -> None:
    with pytest.raises(ValueOutOfRange) as caught:
        loads(text)
    assert caught.value.path == path
    assert isinstance(caught.value, InvalidEpcis)  # a 422 for the capture service, naming the field


def test_bytes_must_be_utf8_and_the_fault_is_placed_by_line_and_column() -> None:
    with pytest.raises(MalformedJson, match="not UTF-8") as caught:
        loads(b'{\n  "a": "\xed\xa0\x80"}')  # a surrogate encoded as UTF-8 bytes: Python's own decoder lets it in
    assert (caught.value.line, caught.value.column) == (2, 9)
    assert loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a byte-order mark is tolerated


def test_a_syntax_error_names_the_value_being_read() -> None:
    with pytest.raises(MalformedJson) as caught:
        loads('{"terms": {"amount": 12, "buyer": }}')
    assert caught.value.path == "terms.buyer" and (caught.value.line, caught.value.column) == (1, 35)
    assert path_at('{"a": [1, {"b": ', 16) == "a[1].b"


def test_deep_paths_keep_their_start_and_their_end() -> None:
    with pytest.raises(MalformedJson) as caught:
        loads('{"payload": ' + "[" * 100_000 + "]" * 100_000 + "}")
    path = str(caught.value.path)
    assert path.startswith("payload[0][0]") and path.endswith("[0][0]") and len(path) < 200


def test_objects_built_in_python_meet_the_same_rules() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]
    for value, path in (
        ({"a": [1.0, math.nan]}, "a[1]"),
        ({"a": {"b": math.inf}}, "a.b"),
        ({"a": 10**MAX_NUMBER_CHARS}, "a"),
        ({"a": ["ok", "\udfff"]}, "a[1]"),
        ({"\ud800": 1}, ""),
        ({"a": deep}, "a" + "[0]" * (MAX_DEPTH - 1)),
    ):
        with pytest.raises(ValueOutOfRange) as caught:
            check_value(value)
        assert caught.value.path == path, value
    check_value({"a": [10**MAX_NUMBER_CHARS - 1, 1e308, "\U0001f600", True, None]})


# --- nothing well formed is refused -------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8"), max_size=20)  # all of Unicode but surrogates
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**77), max_value=10**78)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_JSON, st.booleans())
def test_well_formed_json_decodes_exactly_as_the_standard_decoder_does(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


_FRAGMENTS = [b"[", b"{", b"]", b"}", b'"', b"\\", b"\\u", b"\\ud800", b"NaN", b"1e999", b"9" * 200, b"\xff", b","]


@st.composite
def _mangled(draw: st.DrawFn) -> bytes:
    """Well-formed JSON with fragments of hostile JSON spliced in at random places."""
    data = json.dumps(draw(_JSON)).encode()
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(_FRAGMENTS)) + data[at:]
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | _mangled() | st.text(st.characters(codec=None), max_size=200))
def test_any_input_decodes_or_raises_an_input_error_never_anything_else(data: bytes | str) -> None:
    with contextlib.suppress(MalformedJson, ValueOutOfRange):
        loads(data)


_POISONS = {
    b"NaN": MalformedJson,
    b"-Infinity": MalformedJson,
    b'"\\udbff"': MalformedJson,
    b'"a\\udc00"': MalformedJson,
    b"1E400": ValueOutOfRange,
    b"-" + b"9" * 5000: ValueOutOfRange,
}


@st.composite
def _poisoned(draw: st.DrawFn) -> tuple[bytes, str, type[Exception]]:
    """A JSON document with one value, somewhere, replaced by a poison; the path of that value."""
    value = draw(st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), _JSON, min_size=1, max_size=4))
    node: Any = value
    path = ""
    while True:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            child_path = f"{path}.{key}" if path else key
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
            child_path = f"{path}[{key}]"
        else:
            break
        if not isinstance(node[key], dict | list) or not node[key] or draw(st.booleans()):
            node[key] = "\x00mark\x00"
            path = child_path
            break
        node, path = node[key], child_path
    poison, error = draw(st.sampled_from(sorted(_POISONS.items())))
    text = json.dumps(value).encode().replace(json.dumps("\x00mark\x00").encode(), poison)
    return text, path, error


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_poisoned())
def test_a_poison_anywhere_is_refused_naming_exactly_where_it_is(case: tuple[bytes, str, type[Exception]]) -> None:
    text, path, error = case
    with pytest.raises(error) as caught:
        loads(text)
    assert caught.value.path == path  # type: ignore[attr-defined]
