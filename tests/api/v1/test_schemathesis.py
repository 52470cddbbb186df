"""Property-based conformance of the whole ``/v1`` API to its own OpenAPI document (Schemathesis).

Schemathesis generates requests from ``/openapi.json`` for every operation, valid ones and
invalid ones (negative mode), and sends them, signed in as a core enterprise, to the app in
process over the indexer scenario's history. Every answer must be no 5xx, a status code the
document declares, its declared media type and a body matching the declared schema. The
strategies are driven by Hypothesis directly (Schemathesis' pytest plugin does not load under
pytest 9); examples are few per operation in CI, ``SCF_FUZZ=long`` raises them.

Strings are drawn from all of Unicode (``codec=None``: astral planes and NUL included). What
Schemathesis will not draw, because a JSON encoder does not write it, comes from a third pass on
every operation with a body: a valid body with one value, at a place Hypothesis picks, replaced by
raw hostile JSON (NaN, Infinity, 1e400, a 5,000-digit integer, a lone surrogate escape, invalid
UTF-8, deep nesting). Those must be 4xx too, conforming like any other answer.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import GenerationConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_world import World

# The document's conformance: the routes' SQL runs on both database kinds in their own tests (SCF_TEST_DATABASES=all
# fuzzes PostgreSQL too: it found the consents' 32-bit cursor, test_credit_consent's regression test now).
pytestmark = pytest.mark.one_database("the OpenAPI document's conformance")

EXAMPLES = 60 if os.environ.get("SCF_FUZZ") == "long" else 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Raw JSON no encoder writes, each put in place of one value of a valid body.
POISONS = (
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1E999", b"9" * 5000, b'"\\ud800"', b'"tail \\udfff"',
    b'"\\udc00\\ud800"', b'"\xed\xa0\x80"', b'"\xff\xfe"', b"[" * 5000 + b"]" * 5000,
)  # fmt: skip
_MARK = "\x00poison\x00"


@st.composite
def poisoned(draw: st.DrawFn, body: Any) -> bytes:
    """``body`` as JSON with one value (or the whole of it), chosen by Hypothesis, made a poison."""
    poison = draw(st.sampled_from(POISONS))
    holder: Any = None
    key: Any = None
    node = body
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        holder, key = node, draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        node = node[key]
    if holder is None:
        return poison
    holder[key] = _MARK
    return json.dumps(body).encode().replace(json.dumps(_MARK).encode(), poison)


def test_every_operation_conforms_to_the_openapi_document(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    schema.config.generation = GenerationConfig.from_dict({"codec": None})  # all of Unicode, not one codec's
    headers = world.sign_in("core")
    leaving = world.sign_in("core")  # POST /v1/auth/logout ends its token: not the one every other operation uses
    failures: list[str] = []
    operations = poisoned_operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: schemathesis.Case) -> None:
                use = leaving if case.operation.path == "/v1/auth/logout" else headers
                case.call_and_validate(headers=use, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to make invalid: no parameters, no body
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
        if operation.body:
            cases = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)

            @given(data=st.data(), case=cases)
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def hostile(data: st.DataObject, case: schemathesis.Case) -> None:
                raw = data.draw(poisoned(case.body), label="body")
                use = leaving if case.operation.path == "/v1/auth/logout" else headers
                response = case.call_and_validate(headers=use, checks=CHECKS, data=raw)
                assert 400 <= response.status_code < 500, (raw[:200], response.status_code)

            try:
                hostile()
            except Exception as exc:
                failures.append(f"{operation.method.upper()} {operation.path} (poisoned): {exc}")
            poisoned_operations += 1
    assert operations >= 30 and poisoned_operations >= 15
    assert not failures, "\n\n".join(failures)
