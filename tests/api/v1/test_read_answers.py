"""The hot reads' answers (``api.v1.read_answers``, ``api.v1.rawsql``) are byte for byte what the models give.

Every role of the world asks for every order, receivable and member it might see (and some it may not),
and each answer must be exactly the JSON FastAPI writes for the model ``api.v1.reads`` builds through
SQLAlchemy's own connections: the bytes, the status, the media type. The prepared statements must give
the rows SQLAlchemy gives, and what the caches keep must never outlive what it was made from.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import Engine

from api.errors import NotFound, Unauthenticated
from api.v1 import rawsql
from api.v1 import read_answers as answers
from api.v1.auth import Party, Tokens
from api.v1.deps import Services
from api.v1.schemas import MemberOut, OrderDetailOut, OrderPage, ReceivableDetailOut
from tests.support.api_world import World

ROLES = ("admin", "core", "tier1", "tier2", "tier3", "bank", "carrier", "auditor", "arbiter")


def _services(world: World) -> Services:
    found: Services = world.client.app.state.services  # type: ignore[attr-defined]
    return found


def _party(world: World, role: str) -> tuple[Party, dict[str, str]]:
    headers = world.sign_in(role)
    svc = _services(world)
    token = headers["Authorization"].split(" ", 1)[1]
    party = svc.tokens.verify(token, int(time.time()))
    return party, headers


def _expected(make: Any, model: Any) -> tuple[int, bytes]:
    """What the route answered before: the model's JSON as FastAPI writes it, or the 404 of a hidden object."""
    try:
        return 200, TypeAdapter(model).dump_json(make(), by_alias=True)
    except NotFound:
        return 404, b""


def _check(world: World, headers: dict[str, str], path: str, expected: tuple[int, bytes]) -> None:
    answer = world.client.get(path, headers=headers)
    assert answer.status_code == expected[0], (path, answer.text)
    if expected[0] == 200:
        assert answer.content == expected[1], path
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == str(len(expected[1]))


def test_every_hot_read_answers_the_bytes_the_models_give(world: World) -> None:
    assert world.scenario is not None
    svc = _services(world)
    orders = [*sorted(set(world.scenario.orders.values())), 999_999]
    roots = [*sorted(set(world.scenario.roots.values())), 999_999]
    pages = ((0, 20, None), (0, 2, None), (2, 3, None), (0, 50, "RELEASED"), (0, 1, "REFUNDED"))
    for role in ROLES:
        party, headers = _party(world, role)
        for order_id in orders:
            expected = _expected(lambda p=party, o=order_id: svc.reads.order(p, o), OrderDetailOut)
            _check(world, headers, f"/v1/orders/{order_id}", expected)
        for root_id in roots:
            expected = _expected(lambda p=party, r=root_id: svc.reads.receivable(p, r), ReceivableDetailOut)
            _check(world, headers, f"/v1/receivables/{root_id}", expected)
        for after, limit, status in pages:

            def page(p: Party = party, a: int = after, n: int = limit, s: str | None = status) -> OrderPage:
                items, next_after = svc.reads.orders(p, a, n, s)
                return OrderPage(items=items, nextAfter=next_after)

            query = f"?after={after}&limit={limit}" + (f"&status={status}" if status else "")
            _check(world, headers, f"/v1/orders{query}", _expected(page, OrderPage))
        _check(world, headers, "/v1/parties/me", _expected(lambda p=party: svc.reads.member(p.address), MemberOut))
        for other in ROLES[:3]:
            address = world.account(other).address
            expected = _expected(lambda a=address: svc.reads.member(a), MemberOut)
            _check(world, headers, f"/v1/parties/{address.lower()}", expected)


def test_the_prepared_statements_give_the_rows_sqlalchemy_gives(world: World) -> None:
    assert world.scenario is not None
    svc = _services(world)
    engine: Engine = svc.engine
    core = world.account("core").address
    cases: list[tuple[rawsql.Prepared, dict[str, Any]]] = [
        (answers.ORDERS["auditor", False], {"after": 0, "limit": 200}),
        (answers.ORDERS["party", True], {"after": 0, "limit": 200, "party": core, "status": "RELEASED"}),
        (answers.ORDERS["arbiter", False], {"after": 0, "limit": 200, "party": core}),
        (answers.MEMBER, {"address": core}),
    ]
    for order_id in world.scenario.orders.values():
        cases += [(answers.MILESTONES, {"order_id": order_id}), (answers.DISPUTE, {"order_id": order_id})]
    for root_id in world.scenario.roots.values():
        cases += [(answers.ROOT, {"root_id": root_id}), (answers.TREE, {"root_id": root_id})]
    seen = 0
    for prepared, params in cases:
        params = {"chain_id": svc.chain_id, **params}
        with engine.connect() as connection:
            expected = [tuple(row) for row in connection.execute(prepared.statement, params)]
        with rawsql.snapshot(engine) as reading:
            got = reading.rows(prepared, **params)
        assert [tuple(row) for row in got] == expected
        types = [type(value) for row in got for value in row]
        assert types == [type(value) for row in expected for value in row]
        seen += len(got)
    assert seen > 0
    with rawsql.snapshot(engine) as reading:
        (row,) = reading.rows(answers.MEMBER, chain_id=svc.chain_id, address=core)
    assert row.address == core and row.status == "ACTIVE"
    with pytest.raises(AttributeError):
        _ = row.no_such_column


def test_a_page_is_joined_as_pydantic_joins_it(world: World) -> None:
    svc = _services(world)
    party, _headers = _party(world, "auditor")
    for limit in (1, 2, 200):
        items, next_after = svc.reads.orders(party, 0, limit, None)
        want = OrderPage(items=items, nextAfter=next_after).model_dump_json().encode()
        assert answers.page([item.model_dump_json().encode() for item in items], next_after) == want


def test_the_answers_cache_is_bounded_and_keys_on_what_it_made_from() -> None:
    cache = answers.Answers(keep=2)
    made: list[str] = []

    def make(text: str) -> bytes:
        made.append(text)
        return text.encode()

    assert cache.get(("order", (1, "A")), lambda: make("a")) == b"a"
    assert cache.get(("order", (1, "A")), lambda: make("again")) == b"a"  # the same rows: the same bytes
    assert cache.get(("order", (1, "B")), lambda: make("b")) == b"b"  # a changed row is a new answer
    assert cache.get(("order", (2, "C")), lambda: make("c")) == b"c"  # full: starts again empty
    assert cache.get(("order", (1, "A")), lambda: make("a2")) == b"a2"
    # A row with an unhashable value (PostgreSQL's JSONB as a list) is made every time, never kept.
    assert cache.get(("order", (1, ["x"])), lambda: make("j")) == b"j"
    assert cache.get(("order", (1, ["x"])), lambda: make("j")) == b"j"
    assert made == ["a", "b", "c", "a2", "j", "j"]


class _Revocations:
    def __init__(self) -> None:
        self.ids: set[bytes] = set()

    def revoked(self, token_id: bytes) -> bool:
        return token_id in self.ids

    def revoke(self, token_id: bytes, _expires_at: int, _now: int) -> None:
        self.ids.add(token_id)


def test_a_remembered_token_still_expires_and_is_still_revoked() -> None:
    revocations = _Revocations()
    tokens = Tokens(b"k" * 32, 900, revocations=revocations)  # type: ignore[arg-type]
    now = 1_800_000_000
    token, expires = tokens.issue("0x" + "ab" * 20, 2, now)
    party = tokens.verify(token, now)
    assert tokens.verify(token, now + 1) == party  # remembered: the same party
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(token, expires)
    with pytest.raises(Unauthenticated, match="future"):
        tokens.verify(token, now - 10)
    tokens.revoke(party, now)
    with pytest.raises(Unauthenticated, match="revoked"):
        tokens.verify(token, now + 2)
    # Another secret never meets what this one remembered.
    with pytest.raises(Unauthenticated, match="signature"):
        Tokens(b"j" * 32, 900).verify(token, now)
