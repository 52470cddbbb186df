"""``api.v1.hot_reads`` answers the polled reads byte for byte as their routes do, and leaves the rest to them.

Each request is asked twice of the same app: once as it comes (the layer answers the plain spellings of
the four hot reads) and once with the layer handing every request to the app (the routes answer). The
two answers must be the same: status, headers, body. The spellings cover what the layer answers and what
it must not (other parameters, bounds, leading zeros, non-ASCII digits, trailing slashes, other methods),
and the refusals (no token, a forged, revoked or expired one, a party that is not a member). Which of them
the layer itself answered is checked too, so that a layer that answers nothing cannot pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from api.v1 import hot_reads
from api.v1.auth import Tokens
from api.v1.hot_reads import HotReads, page_query
from tests.support.api_world import World

ROLES = ("core", "tier1", "bank", "auditor", "arbiter")


@pytest.fixture()
def answered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths the layer answered itself, while the test runs."""
    paths: list[str] = []
    answer = HotReads._answer

    async def spy(scope: Any, read: Any) -> bytes | None:
        body = await answer(scope, read)
        if body is not None:
            paths.append(scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else ""))
        return body

    monkeypatch.setattr(HotReads, "_answer", staticmethod(spy))
    yield paths


def _both(world: World, monkeypatch: pytest.MonkeyPatch, method: str, path: str, headers: dict[str, str]) -> Any:
    """The answer as it comes, and the app's own (the layer answering nothing)."""
    hot = world.client.request(method, path, headers=headers)
    with monkeypatch.context() as m:

        async def nothing(_scope: Any, _read: Any) -> None:
            return None

        m.setattr(HotReads, "_answer", staticmethod(nothing))
        routed = world.client.request(method, path, headers=headers)
    return hot, routed


def _same(
    world: World, monkeypatch: pytest.MonkeyPatch, path: str, headers: dict[str, str], method: str = "GET"
) -> int:
    hot, routed = _both(world, monkeypatch, method, path, headers)
    assert (hot.status_code, hot.content) == (routed.status_code, routed.content), path
    strip = {"date"}
    assert [h for h in hot.headers.multi_items() if h[0] not in strip] == [
        h for h in routed.headers.multi_items() if h[0] not in strip
    ], path
    return int(hot.status_code)


def _spellings(orders: list[int], roots: list[int]) -> list[str]:
    order, root = orders[0], roots[0]
    return [
        "/v1/parties/me",
        "/v1/parties/me?x=1",
        "/v1/parties/me/",
        "/v1/orders",
        "/v1/orders?limit=20",
        "/v1/orders?limit=1&after=0",
        "/v1/orders?after=1&limit=200",
        "/v1/orders?limit=2&status=RELEASED",
        "/v1/orders?status=REFUNDED",
        "/v1/orders?limit=0",
        "/v1/orders?limit=201",
        "/v1/orders?limit=020",
        "/v1/orders?limit=20&limit=3",
        "/v1/orders?limit=+20",
        "/v1/orders?status=released",
        "/v1/orders?status=",
        "/v1/orders?after=-1",
        "/v1/orders?after=9223372036854775808",
        "/v1/orders?other=1",
        "/v1/orders?limit",
        "/v1/orders/",
        *(f"/v1/orders/{o}" for o in orders),
        f"/v1/orders/0{order}",
        f"/v1/orders/{order}?x=1",
        "/v1/orders/0",
        "/v1/orders/999999",
        "/v1/orders/9223372036854775807",
        "/v1/orders/9223372036854775808",
        "/v1/orders/%D9%A1",
        "/v1/orders/abc",
        *(f"/v1/receivables/{r}" for r in roots),
        f"/v1/receivables/0{root}",
        "/v1/receivables/0",
        "/v1/receivables/999999",
        f"/v1/receivables/{root}/",
    ]


def test_every_spelling_of_the_hot_reads_answers_as_its_route_does(
    world: World, monkeypatch: pytest.MonkeyPatch, answered: list[str]
) -> None:
    assert world.scenario is not None
    orders = sorted(set(world.scenario.orders.values()))
    roots = sorted(set(world.scenario.roots.values()))
    spellings = _spellings(orders, roots)
    statuses: set[int] = set()
    for role in ROLES:
        headers = world.sign_in(role)
        answered.clear()
        for path in spellings:
            statuses.add(_same(world, monkeypatch, path, headers))
        # The plain spellings the party may see were the layer's; nothing it must leave to the app was.
        assert "/v1/parties/me" in answered and "/v1/orders?limit=20" in answered, role
        leading_zeros = {f"/v1/orders/0{orders[0]}", f"/v1/receivables/0{roots[0]}"}
        assert not {p for p in answered if p in leading_zeros or p.endswith("/") or "x=1" in p}, role
        assert all(
            p.split("?")[0].rstrip("0123456789") in ("/v1/orders", "/v1/orders/", "/v1/receivables/", "/v1/parties/me")
            for p in answered
        ), answered
    assert {200, 404, 422} <= statuses
    auditor = world.sign_in("auditor")
    answered.clear()
    _same(world, monkeypatch, f"/v1/receivables/{roots[0]}", auditor)
    _same(world, monkeypatch, f"/v1/orders/{orders[0]}", auditor)
    assert answered == [f"/v1/receivables/{roots[0]}", f"/v1/orders/{orders[0]}"]


def test_refused_tokens_get_the_routes_refusals(
    world: World, monkeypatch: pytest.MonkeyPatch, answered: list[str]
) -> None:
    headers = world.sign_in("core")
    token = headers["Authorization"].split(" ", 1)[1]
    payload, _, mac = token.rpartition(".")
    refused = [
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
        {"Authorization": "bearer " + token[:-3]},
        {"Authorization": f"Bearer {payload}.{'A' * len(mac)}"},
        {"Authorization": "Bearer scf1.abc.def"},
    ]
    for spoilt in refused:
        for path in ("/v1/parties/me", "/v1/orders?limit=20", "/v1/orders/1", "/v1/receivables/1"):
            assert _same(world, monkeypatch, path, spoilt) == 401, (path, spoilt)
    assert answered == []
    # Another scheme's spelling of the same token: accepted by both, the scheme is case-insensitive.
    assert _same(world, monkeypatch, "/v1/parties/me", {"Authorization": "bEaReR  " + token}) == 200


def test_a_revoked_token_is_refused_by_the_next_hot_read(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = world.sign_in("tier1")
    assert world.client.get("/v1/parties/me", headers=headers).status_code == 200  # verified, and remembered
    assert world.client.post("/v1/auth/logout", headers=headers).status_code == 204
    for path in ("/v1/parties/me", "/v1/orders?limit=20"):
        assert _same(world, monkeypatch, path, headers) == 401
        assert "revoked" in world.client.get(path, headers=headers).json()["detail"]


def test_an_expired_token_is_refused_by_the_hot_reads(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = world.sign_in("tier2")
    assert world.client.get("/v1/parties/me", headers=headers).status_code == 200
    tokens: Tokens = world.client.app.state.tokens  # type: ignore[attr-defined]
    later = time.time() + tokens.ttl + 1
    monkeypatch.setattr(hot_reads.time, "time", lambda: later)  # the time module: the routes' clock too
    assert _same(world, monkeypatch, "/v1/parties/me", headers) == 401
    assert "expired" in world.client.get("/v1/parties/me", headers=headers).json()["detail"]


def test_other_methods_and_the_openapi_document_are_the_apps(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = world.sign_in("core")
    for method in ("HEAD", "POST", "DELETE"):
        _same(world, monkeypatch, "/v1/parties/me", headers, method)
    _same(world, monkeypatch, "/openapi.json", {})


@pytest.mark.parametrize(
    ("query", "found"),
    [
        (b"", (0, 50, None)),
        (b"limit=20", (0, 20, None)),
        (b"after=0&limit=200&status=SETTLED", (0, 200, "SETTLED")),
        (b"after=9223372036854775807", (2**63 - 1, 50, None)),
        (b"limit=0", None),
        (b"limit=201", None),
        (b"limit=07", None),
        (b"after=9223372036854775808", None),
        (b"status=BAD", None),
        (b"limit=1&limit=2", None),
        (b"limit", None),
        (b"limit=", None),
        (b"limit=2&", None),
        (b"Limit=2", None),
        (b"limit=%32", None),
    ],
)
def test_a_page_query_is_read_only_when_plainly_spelt(query: bytes, found: tuple[int, int, str | None] | None) -> None:
    assert page_query(query) == found
