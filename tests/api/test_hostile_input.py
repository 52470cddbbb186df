"""Hostile bytes and JSON against every route of every service: a 4xx naming the problem or a 2xx,
never a 5xx, never a crash (issue 14).

The routes are enumerated from each app (``app.routes``), not listed by hand: the ``/v1`` API on a
chain of this module's own (as ``fresh`` gives the ``/v1`` suite: nothing here may disturb the
shared world), and an oracle capture service and the aggregator on the same chain. Every route
gets every class of hostile input as a body (nesting 100,000 deep; NaN, Infinity, -Infinity,
1e400, a 5,000-digit integer, lone surrogate escapes, invalid UTF-8, a 200 KB string in each JSON
field; truncated JSON, an empty body, top-level non-objects, bodies over the limit, wrong content
types) and, where it has them, in its path and query parameters. Every answer must be below 500,
and an error a JSON object with an ``error`` code; a write's answer to a value class must have the
class's status and name the field it was in. The deep-nesting body also goes to a real ``scf serve``
process, which must answer it and then still answer ``/v1/health``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from api.aggregator_client import HttpAggregator
from api.oracle_app import AGGREGATOR_MAX_BODY, create_aggregator_app
from api.v1.app import DOCUMENT_PATHS
from ledger.eth.artifacts import BuildResult
from ledger.model.common import OracleKind
from oracles.capture import CaptureService
from oracles.epcis import DEFAULT_MAX_BYTES
from oracles.store import open_database
from tests.support import serve
from tests.support.api_world import World, open_api_world, sign_in
from tests.support.capture_clients import oracle_client
from tests.support.oracle_pipeline import aggregator_of, witness_of

DEEP = 100_000
NESTED = b"[" * DEEP + b"]" * DEEP  # about 200 KB: under every body limit
HUGE_STRING = b'"' + b"x" * 200_000 + b'"'


@dataclass(frozen=True)
class Value:
    """A hostile JSON value put in a field: a write must answer ``status`` and name the field as
    ``named`` says (``inside``: a path within it; ``no``: the bytes are not text, so no path exists)."""

    name: str
    raw: bytes
    status: int | None
    named: Literal["exactly", "inside", "no"] = "exactly"

    @property
    def large(self) -> bool:
        """Sent in one field of each route only: the classes are about bytes, not about which field."""
        return len(self.raw) > 100_000


VALUES = (
    Value("nan", b"NaN", 400),
    Value("infinity", b"Infinity", 400),
    Value("minus-infinity", b"-Infinity", 400),
    Value("1e400", b"1e400", 422),
    Value("huge-integer", b"9" * 5000, 422),
    Value("lone-high-surrogate", b'"\\ud800"', 400),
    Value("lone-low-surrogate", b'"ok \\udfff"', 400),
    Value("reversed-surrogates", b'"\\udc00\\ud800"', 400),
    Value("invalid-utf8-surrogate-bytes", b'"\xed\xa0\x80"', 400, named="no"),
    Value("invalid-utf8-byte", b'"\xff\xfe"', 400, named="no"),
    Value("nested-100k", NESTED, 400, named="inside"),
    Value("huge-string", HUGE_STRING, None),
)


@dataclass(frozen=True)
class Body:
    """A hostile body as a whole; ``status`` (when set) is what every write must answer."""

    name: str
    raw: bytes
    content_type: str | None = "application/json"
    status: int | None = None


BODIES = (
    Body("nested-100k", NESTED, status=400),
    Body("nested-40k-objects", b'{"a":' * 40_000 + b"1" + b"}" * 40_000, status=400),
    Body("truncated", b'{"address": "0x', status=400),
    Body("not-json", b"address=0x12", status=400),
    Body("empty", b""),
    Body("array", b"[1, 2, 3]"),
    Body("string", b'"hello"'),
    Body("number", b"12"),
    Body("null", b"null"),
    Body("bom", b'\xef\xbb\xbf{"a": 1}'),
    Body("utf16", '{"a": "\u00e9"}'.encode("utf-16"), "application/json; charset=utf-16", status=400),
    Body("text-plain", b'{"a": 1}', "text/plain", status=415),
    Body("form", b"a=1&b=2", "application/x-www-form-urlencoded", status=415),
    Body("multipart", b"--x\r\n\r\n1\r\n--x--\r\n", "multipart/form-data; boundary=x", status=415),
    Body("no-content-type", b'{"a": 1}', None),
)

#: Hostile path and query parameter values (sent percent-encoded as written).
PARAMETERS = (
    "NaN", "Infinity", "-1", "1e400", "9" * 5000, "%ED%A0%80", "%FF%FE", "%00", "%F0%9F%92%A9", "x" * 8000, "..%2F..",
)  # fmt: skip


@dataclass
class Target:
    """One service's app, how to reach it (``headers``: a credential), its body limit on ``path``."""

    name: str
    client: TestClient
    headers: dict[str, str]
    max_body: int
    fill: dict[str, str]  # path parameter -> a plausible value
    large_paths: tuple[str, ...] = ()  # paths with a larger limit (the /v1 documents)

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.client.app  # type: ignore[assignment]
        return app


@dataclass
class Services:
    api: World
    targets: list[Target]

    def signed_in(self) -> list[Target]:
        """The targets, the ``/v1`` one with a new token: the last route of a run is logout."""
        self.targets[0].headers = sign_in(self.api.client, self.api.account("core"))
        return self.targets


@pytest.fixture(scope="module")
def services(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    for world in open_api_world(build, tmp_path_factory.mktemp("hostile"), None):
        deployed = world.deployed
        aggregator = aggregator_of(deployed)
        hub = TestClient(create_aggregator_app(aggregator))
        witness = witness_of(deployed, deployed.accounts["carrier"], OracleKind.CARRIER)
        capture = oracle_client(CaptureService(witness, HttpAggregator(hub), open_database("sqlite://")))
        core = world.account("core").address
        targets = [
            Target("v1", world.client, {}, world.settings.max_body, {"address": core, "party": core}, DOCUMENT_PATHS),
            Target("capture", capture, {}, DEFAULT_MAX_BYTES, {"capture_id": "cap_0"}),
            Target("aggregator", hub, {}, AGGREGATOR_MAX_BODY, {"key": "0x" + "00" * 32}),
        ]
        yield Services(world, targets)
        aggregator.close()


def routes(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, query parameter names) of every route of ``app.routes`` (included routers
    flattened as FastAPI's OpenAPI does); logout last, since it ends the token."""
    found: list[tuple[str, str, list[str]]] = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.append(("GET", f"{route.path}/{{file}}", []))
            continue
        dependant = getattr(route.original_route, "dependant", None)
        query = [p.alias for p in dependant.query_params] if dependant is not None else []
        found += [(method, str(route.path), query) for method in sorted(route.methods or ())]
    return sorted(found, key=lambda r: r[1].endswith("/logout"))


def fields(app: FastAPI, method: str, path: str) -> tuple[list[str], bool]:
    """The top-level JSON fields of a route's request body (its OpenAPI schema; a stand-in if it has
    none), and whether the body is an array of such objects."""
    operation = app.openapi()["paths"].get(path, {}).get(method.lower(), {})
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    array = schema.get("type") == "array"
    ref = (schema.get("items") or {}).get("$ref") if array else schema.get("$ref")
    if ref:
        schema = app.openapi()["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {})) or ["x"], array


def concrete(path: str, fill: dict[str, str], value: str | None = None) -> str:
    """``path`` with every parameter set to ``value``, else to a plausible value."""
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        name = path[start + 1 : end].removesuffix(":path")
        path = path[:start] + (value if value is not None else fill.get(name, "1")) + path[end + 1 :]
    return path


def in_field(target: Target, field: str, array: bool, raw: bytes) -> tuple[bytes, str]:
    """A body holding ``raw`` in ``field`` (in an EPCIS event's ``bizStep`` for the capture service,
    whose body has no schema), and the JSON path the answer must name."""
    if target.name == "capture":
        event = b'{"type": "ObjectEvent", "eventTime": "2024-03-01T09:30:00Z", "bizStep": %s}' % raw
        return b'{"type": "EPCISDocument", "epcisBody": {"eventList": [%s]}}' % event, "epcisBody.eventList[0].bizStep"
    body = b'{"%s": %s}' % (field.encode(), raw)
    return (b"[" + body + b"]", f"[0].{field}") if array else (body, field)


def check(
    answer: httpx.Response, what: str, status: int | None = None, field: str | None = None, inside: bool = False
) -> list[str]:
    """What is wrong with ``answer`` (nothing: an empty list)."""
    problems = []
    if answer.status_code >= 500:
        problems.append(f"{what}: {answer.status_code} {answer.text[:200]}")
    elif answer.status_code >= 400:
        try:
            body: Any = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            problems.append(f"{what}: {answer.status_code} without a JSON error code: {answer.text[:200]}")
        elif field is not None and not _names(str(body.get("field")), field, inside):
            problems.append(f"{what}: names {body.get('field')!r}, not {field!r}: {answer.text[:200]}")
    if status is not None and answer.status_code != status:
        problems.append(f"{what}: {answer.status_code}, not {status}: {answer.text[:200]}")
    return problems


def _names(named: str, field: str, inside: bool) -> bool:
    return named.startswith((field + "[", field + ".")) if inside else named == field


def send(target: Target, method: str, path: str, body: bytes, content_type: str | None) -> httpx.Response:
    headers = dict(target.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    return target.client.request(method, path, content=body, headers=headers)


def test_the_routes_are_enumerated_from_the_apps(services: Services) -> None:
    v1, capture, aggregator = ({path for _, path, _ in routes(t.app)} for t in services.targets)
    assert len(v1) > 50 and {"/v1/auth/challenge", "/v1/submissions", "/v1/documents", "/docs/static/{file}"} <= v1
    assert {"/capture", "/capture/{capture_id}", "/capture/{capture_id}/document", "/health"} <= capture
    assert {"/attestations", "/attestations/{key}", "/declarations"} <= aggregator


def test_every_route_of_every_service_answers_hostile_bodies_with_a_4xx_naming_the_problem(
    services: Services,
) -> None:
    problems: list[str] = []
    sent = 0
    for target in services.signed_in():
        for method, template, _query in routes(target.app):
            path = concrete(template, target.fill)
            write = method in ("POST", "PUT", "PATCH")
            names, array = fields(target.app, method, template)
            for value in VALUES:
                for field in names[:1] if value.large else names:
                    body, where = in_field(target, field, array, value.raw)
                    answer = send(target, method, path, body, "application/json")
                    sent += 1
                    what = f"{target.name} {method} {path} {value.name} in {where}"
                    named = where if write and value.named != "no" and value.status is not None else None
                    problems += check(answer, what, value.status if write else None, named, value.named == "inside")
            for hostile in BODIES:
                answer = send(target, method, path, hostile.raw, hostile.content_type)
                sent += 1
                problems += check(
                    answer, f"{target.name} {method} {path} {hostile.name}", hostile.status if write else None
                )
            over = b'{"a": "' + b"x" * target.max_body + b'"}'
            answer = send(target, method, path, over, "application/json")
            sent += 1
            larger = path.startswith(target.large_paths) if target.large_paths else False
            problems += check(
                answer, f"{target.name} {method} {path} over the limit", 413 if write and not larger else None
            )
    assert sent > 2000
    assert not problems, f"{len(problems)} of {sent} answers were wrong:\n" + "\n".join(problems[:60])


def test_every_route_of_every_service_answers_hostile_path_and_query_values_with_a_4xx(services: Services) -> None:
    problems: list[str] = []
    for target in services.signed_in():
        for method, template, query in routes(target.app):
            plausible = concrete(template, target.fill)
            for value in PARAMETERS:
                if "{" in template:
                    path = concrete(template, target.fill, value)
                    problems += check(send(target, method, path, b"", None), f"{target.name} {method} {path[:120]}")
                for name in query:
                    url = f"{plausible}?{name}={value}"
                    problems += check(send(target, method, url, b"", None), f"{target.name} {method} {url[:120]}")
    assert not problems, "\n".join(problems[:60])


def test_the_epcis_cases_of_the_issue_are_4xx_naming_biz_step(services: Services) -> None:
    capture = next(t for t in services.targets if t.name == "capture")
    for raw, status, error in (
        (b"9" * 5000, 422, "invalid_epcis"),
        (b'"\\ud800"', 400, "malformed_json"),
        (b'"shipping\\udfff"', 400, "malformed_json"),
    ):
        body, where = in_field(capture, "bizStep", False, raw)
        answer = send(capture, "POST", "/capture", body, "application/ld+json")
        assert answer.status_code == status, answer.text
        assert answer.json()["error"] == error and answer.json()["field"] == where


def test_a_real_scf_serve_answers_a_body_nested_100k_deep_and_keeps_serving(services: Services, tmp_path: Path) -> None:
    world = services.api
    served = serve.start(serve.Target(world.devnet.url, world.record.parent, world.db_url), tmp_path)
    try:
        answer = httpx.post(
            f"{served.base}/v1/auth/challenge", content=NESTED, headers={"content-type": "application/json"}, timeout=60
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "malformed_json" and "nested deeper than 100" in answer.json()["detail"]
        objects = b'{"a":' * 40_000 + b"1" + b"}" * 40_000
        answer = httpx.post(
            f"{served.base}/v1/auth/challenge",
            content=objects,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        assert answer.status_code == 400 and answer.json()["field"].endswith("a.a.a"), answer.text
        assert httpx.get(f"{served.base}/v1/health", timeout=30).status_code == 200
        assert served.process.poll() is None
        challenge = httpx.post(
            f"{served.base}/v1/auth/challenge", json={"address": world.account("core").address}, timeout=30
        )
        assert challenge.status_code == 200 and json.loads(challenge.text)["nonce"]
    finally:
        served.stop()
