"""Property-based conformance of the whole ``/v1`` API to its own OpenAPI document (Schemathesis).

Schemathesis generates requests from ``/openapi.json`` for every operation, valid ones and
invalid ones (negative mode), and sends them, signed in as a core enterprise, to the app in
process over the indexer scenario's history. Every answer must be no 5xx, a status code the
document declares, its declared media type and a body matching the declared schema. The
strategies are driven by Hypothesis directly (Schemathesis' pytest plugin does not load under
pytest 9); examples are few per operation in CI, ``SCF_FUZZ=long`` raises them.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.v1.conftest import World

EXAMPLES = 60 if os.environ.get("SCF_FUZZ") == "long" else 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_conforms_to_the_openapi_document(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    headers = world.sign_in("core")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to make invalid: no parameters, no body
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert operations >= 30
    assert not failures, "\n\n".join(failures)
