"""The process-level and body-level guards of ``api.json_input``: the recursion limit every service runs
with, the body check the ``/v1`` Gate makes, and ``JsonBodyGuard`` for a service without the Gate."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api import errors
from api.errors import InvalidField
from api.json_input import JsonBodyGuard, check_body
from api.recursion import RECURSION_LIMIT, sane_recursion_limit
from oracles.errors import MalformedJson

ROOT = Path(__file__).resolve().parents[2]

# Imports what every service imports, installs the error handlers as every service's app does (or
# not), then feeds the C decoder a body 100,000 deep.
_PROBE = """
import json, sys
from fastapi import FastAPI
import eth_account  # imported by every service; it imports py_ecc, which raises the limit to 100,000
from api import errors
print("imported", sys.getrecursionlimit(), flush=True)
if sys.argv[1] == "install":
    errors.install(FastAPI())
print("serving", sys.getrecursionlimit(), flush=True)
try:
    json.loads("[" * 100_000 + "]" * 100_000)
except RecursionError:
    print("RecursionError", flush=True)
"""


def _probe(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PROBE), mode], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_every_service_runs_with_a_recursion_limit_under_which_deep_json_raises_instead_of_crashing() -> None:
    # Without the clamp: the import raises the limit and the C decoder overflows the stack (SIGSEGV).
    bare = _probe("bare")
    assert "imported 100000" in bare.stdout, bare.stderr
    assert bare.returncode < 0 and "RecursionError" not in bare.stdout
    # Every service's app goes through errors.install: the limit is back down, the decoder raises.
    served = _probe("install")
    assert served.returncode == 0, served.stderr
    assert "imported 100000" in served.stdout and f"serving {RECURSION_LIMIT}" in served.stdout
    assert "RecursionError" in served.stdout


def test_the_recursion_limit_is_only_ever_lowered() -> None:
    before = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(RECURSION_LIMIT - 500)
        assert sane_recursion_limit() == RECURSION_LIMIT - 500
        sys.setrecursionlimit(100_000)
        assert sane_recursion_limit() == RECURSION_LIMIT
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.parametrize(
    ("body", "field", "line", "column"),
    [
        (b'{"a": {"b": [1, NaN]}}', "a.b[1]", 1, 17),
        (b'{\n  "memo": "\\ud800"\n}', "memo", 2, 11),
        (b'{"x": "\xc3\x28"}', None, 1, 8),
        (b"[" * 100_000 + b"]" * 100_000, "[0]", 1, 101),
        (b'{"a": [1, 2', "a[1]", 1, 12),
    ],
    ids=["nan", "surrogate", "invalid-utf8", "deep", "truncated"],
)
def test_a_body_json_cannot_carry_is_malformed_naming_where(
    body: bytes, field: str | None, line: int, column: int
) -> None:
    with pytest.raises(MalformedJson) as caught:
        check_body(body)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.path == field or (field is not None and str(caught.value.path).startswith(field))
    status, answer = errors.problem(caught.value)
    assert status == 400 and answer["error"] == "malformed_json" and answer.get("field") == caught.value.path


@pytest.mark.parametrize(("raw", "field"), [(b"1e400", "amount"), (b"-" + b"7" * 101, "amount")])
def test_a_number_no_field_can_hold_is_422_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        check_body(b'{"amount": ' + raw + b"}")
    assert caught.value.field == field
    status, answer = errors.problem(caught.value)
    assert status == 422 and answer["field"] == field and answer["detail"][0]["loc"] == ["body", field]


def test_well_formed_bodies_pass_untouched() -> None:
    for body in (b"{}", b'{"a": [1, 2.5e300, -3, "\\ud83d\\ude00", "\\\\ud800", null, true]}', b"[" * 100 + b"]" * 100):
        check_body(body)


class _Order(BaseModel):
    amount: int
    memo: str = ""


def _guarded() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.post("/orders")
    def create(order: _Order) -> dict[str, int]:
        return {"amount": order.amount}

    @app.get("/orders")
    def read() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(JsonBodyGuard, max_body=8192)
    return TestClient(app)


def test_the_guard_refuses_before_the_route_reads_and_lets_good_bodies_through() -> None:
    client = _guarded()
    json_type = {"content-type": "application/json"}
    assert client.post("/orders", content=b'{"amount": 5}', headers=json_type).json() == {"amount": 5}
    nan = client.post("/orders", content=b'{"amount": NaN}', headers=json_type)
    assert nan.status_code == 400 and nan.json()["field"] == "amount"
    huge = client.post("/orders", content=b'{"amount": ' + b"9" * 5000 + b"}", headers=json_type)
    assert huge.status_code == 422 and huge.json()["field"] == "amount"
    text = client.post("/orders", content=b'{"amount": 5}', headers={"content-type": "text/plain"})
    assert text.status_code == 415 and text.json()["field"] == "Content-Type"
    big = client.post("/orders", content=b'{"memo": "' + b"x" * 9000 + b'"}', headers=json_type)
    assert big.status_code == 413 and big.json()["limit"] == 8192


def test_the_guard_counts_the_bytes_not_the_declared_length() -> None:
    def chunks() -> object:
        yield b'{"memo": "'
        for _ in range(50):
            yield b"x" * 200
        yield b'"}'

    answer = _guarded().post("/orders", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "payload_too_large"


def test_reads_pass_the_guard_untouched() -> None:
    assert _guarded().request("GET", "/orders", content=b"[" * 5000).json() == {"status": "ok"}
