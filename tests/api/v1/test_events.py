"""The event feed (issue 16): ``GET /v1/events`` as JSON pages and as Server-Sent Events, scoped per party.

On a chain of this module's own (``fresh``) with a second bank, the facts are made as parties make
them (requests and offers over HTTP; financing, repayment, default and a published limit on chain,
then indexed: ``tests.support.events_world``) and read back by each party. Every test runs twice: with
the API's store in the index's SQLite database (the default) and apart on PostgreSQL
(``SCF_API_DB_URL``; ``tests.support.databases``). Each test reads only the events after the feed's
head when it began. The streams are read from a real socket (``tests.support.live``), frame by frame,
as they come.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.errors import InvalidField
from api.v1 import store
from api.v1.events import Feed, StreamOptions
from tests.support.api_world import World
from tests.support.databases import Databases, databases
from tests.support.events_world import DAY, UNIT, EventsWorld, open_events_world
from tests.support.live import live

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

FACE = 100_000 * UNIT  # tests.support.receivables' default face value
STREAM_HEADERS = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def ew(fresh: World, databases: Databases) -> Iterator[EventsWorld]:
    store_url = None if databases.kind == "sqlite" else databases.url()
    with open_events_world(fresh, store_url, stream=StreamOptions(poll=0.05, heartbeat=0.5, retry_ms=1500)) as world:
        yield world


def head(ew: EventsWorld) -> int:
    ew.feed.catch_up()
    return ew.feed.head()


def key(event: dict[str, Any]) -> tuple[str, str]:
    data = event["data"]
    found = next(data[name] for name in ("requestId", "offerId", "pieceId", "rootId", "party") if name in data)
    return event["type"], str(found)


def seen_by(ew: EventsWorld, start: int, *who: str) -> dict[str, list[dict[str, Any]]]:
    return {party: ew.events(party, after=start) for party in who}


# -- audiences -------------------------------------------------------------------------------------------------


def test_requests_and_offers_reach_their_parties_and_no_bank_sees_another_banks_offer(ew: EventsWorld) -> None:
    start = head(ew)
    to_all, to_one = ew.piece("tier1"), ew.piece("tier1")
    every = ew.ask("tier1", to_all)
    one = ew.ask("tier1", to_one, bank="bank")
    mine, theirs = ew.offer("bank", to_all, 90 * UNIT), ew.offer("bank2", to_all, 91 * UNIT)

    seen = seen_by(ew, start, "tier1", "bank", "bank2", "tier2", "core", "auditor")
    request_all, request_one = ("financing_request.created", every["id"]), ("financing_request.created", one["id"])
    offer_bank, offer_bank2 = ("offer.created", mine["id"]), ("offer.created", theirs["id"])
    assert {key(e) for e in seen["tier1"]} == {request_all, request_one, offer_bank, offer_bank2}
    assert {key(e) for e in seen["bank"]} == {request_all, request_one, offer_bank}
    assert {key(e) for e in seen["bank2"]} == {request_all, offer_bank2}  # not the request to the other bank
    assert seen["tier2"] == [] and seen["core"] == []
    assert {key(e) for e in seen["auditor"]} == {request_all, request_one, offer_bank, offer_bank2}

    by_key = {key(e): e for e in seen["tier1"]}
    assert by_key[request_all]["data"] == {
        "requestId": every["id"],
        "pieceId": str(to_all),
        "holder": ew.address("tier1"),
        "bank": None,  # every bank
        "createdAt": every["createdAt"],
        "expiresAt": every["expiresAt"],
    }
    assert by_key[request_one]["data"]["bank"] == ew.address("bank")
    assert by_key[offer_bank]["data"] == {
        "offerId": mine["id"],
        "pieceId": str(to_all),
        "holder": ew.address("tier1"),
        "bank": ew.address("bank"),
        "price": str(90 * UNIT),
        "deadline": mine["deadline"],
        "nonce": mine["nonce"],
    }
    # One event, one id and one cursor, whoever reads it; cursors increase.
    bank_view = {key(e): e for e in seen["bank"]}
    assert bank_view[request_all] == by_key[request_all]
    assert all(re.fullmatch(r"evt_[0-9a-f]{32}", e["id"]) for e in seen["tier1"])
    cursors = [int(e["cursor"]) for e in seen["auditor"]]
    assert cursors == sorted(cursors) and len(set(cursors)) == 4 and min(cursors) > start


def test_facts_on_chain_reach_the_parties_with_a_stake_and_no_one_else(ew: EventsWorld) -> None:
    start = head(ew)
    piece = ew.piece("tier1")
    ew.ask("tier1", piece)
    ew.offer("bank2", piece, 90 * UNIT)
    taken = ew.offer("bank", piece, 95 * UNIT)
    ew.finance(taken)  # tier1 sells to the dev bank
    ew.repay(piece, FACE)
    late = ew.piece("tier2", maturity_in=DAY)
    ew.default(late)  # marked by the dev bank, which has no stake in it
    ew.grant("bank", "tier1", 50_000 * UNIT)

    seen = seen_by(ew, start, "tier1", "tier2", "core", "bank", "bank2", "auditor")
    financed, repaid = ("piece.financed", str(piece)), ("receivable.repaid", str(piece))
    defaulted, limit = ("receivable.defaulted", str(late)), ("limit.published", ew.address("tier1"))

    def chain_keys(who: str) -> set[tuple[str, str]]:
        return {key(event) for event in seen[who] if "txHash" in event["data"]}

    assert chain_keys("tier1") == {financed, repaid, limit}  # the seller, the creditor, the party limited
    assert chain_keys("bank") == {financed, repaid, limit}  # the buyer (and holder), the grantor; not the default
    assert chain_keys("bank2") == {financed, repaid}  # it offered on the piece
    assert chain_keys("core") == {repaid, defaulted}  # the debtor
    assert chain_keys("tier2") == {defaulted}  # the creditor of the defaulted receivable
    assert chain_keys("auditor") == {financed, repaid, defaulted, limit}

    events = {key(e): e for e in seen["bank"]}
    sale = events[financed]["data"]
    assert sale.pop("blockNumber") > 0 and re.fullmatch(r"0x[0-9a-f]{64}", sale.pop("txHash"))
    assert isinstance(sale.pop("logIndex"), int)
    assert isinstance(sale.pop("discountBps"), str) and isinstance(sale.pop("timeToMaturity"), str)
    assert sale == {
        "pieceId": str(piece),
        "rootId": str(piece),
        "bank": ew.address("bank"),
        "seller": ew.address("tier1"),
        "price": str(95 * UNIT),
        "amount": str(FACE),
        "nonce": taken["nonce"],
    }
    payment = next(e for e in seen["core"] if e["type"] == "receivable.repaid")["data"]
    assert (payment["payer"], payment["amount"], payment["outstanding"]) == (ew.address("core"), str(FACE), "0")
    assert payment["afterDefault"] is False
    granted = events[limit]["data"]
    assert (granted["bank"], granted["limit"]) == (ew.address("bank"), str(50_000 * UNIT))


def test_a_type_filter_keeps_only_those_types(ew: EventsWorld) -> None:
    start = head(ew)
    piece = ew.piece("tier1")
    ew.ask("tier1", piece)
    offer = ew.offer("bank", piece)
    only = ew.events("tier1", after=start, types="offer.created")
    assert [(e["type"], e["data"]["offerId"]) for e in only] == [("offer.created", offer["id"])]
    both = ew.events("tier1", after=start, types="offer.created, financing_request.created")
    assert [e["type"] for e in both] == ["financing_request.created", "offer.created"]


# -- cursors ----------------------------------------------------------------------------------------------------


def test_a_client_resumes_after_its_cursor_from_the_query_or_last_event_id(ew: EventsWorld) -> None:
    start = head(ew)
    asked = [ew.ask("tier1", ew.piece("tier1"))["id"] for _ in range(3)]
    everything = ew.events("tier1", after=start)
    assert [e["data"]["requestId"] for e in everything] == asked

    after, paged = start, []
    while True:
        page = ew.page("tier1", after=str(after), limit=1)
        paged.extend(page["items"])
        assert int(page["nextAfter"]) >= after
        after = int(page["nextAfter"])
        if not page["hasMore"]:
            break
    assert paged == everything
    assert page["items"] == [] and int(page["nextAfter"]) >= int(everything[-1]["cursor"])

    # Last-Event-ID (what EventSource sends when it reconnects) wins over the URL's after.
    answer = ew.client.get(
        "/v1/events",
        params={"after": str(start)},
        headers={**ew.headers("tier1"), "Last-Event-ID": everything[0]["cursor"]},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json()["items"] == everything[1:]
    # No cursor: from the feed's first event.
    assert ew.page("tier1", limit=1)["items"][0]["cursor"] <= everything[0]["cursor"]


def test_bad_cursors_types_and_limits_are_422_naming_the_field(ew: EventsWorld) -> None:
    newest = head(ew)
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"after": "abc"}, {}, "after"),
        ({"after": "-1"}, {}, "after"),
        ({"after": "1.5"}, {}, "after"),
        ({"after": "1e3"}, {}, "after"),
        ({"after": str(2**64)}, {}, "after"),
        ({"after": str(newest + 1_000_000)}, {}, "after"),  # a cursor of another deployment
        ({}, {"Last-Event-ID": "evt_123"}, "Last-Event-ID"),
        ({"after": "0"}, {"Last-Event-ID": str(newest + 1_000_000)}, "Last-Event-ID"),
        ({"types": "piece.financed,piece.eaten"}, {}, "types"),
        ({"limit": 0}, {}, "limit"),
        ({"limit": 201}, {}, "limit"),
    ]
    for params, headers, field in cases:
        for accept in ({}, STREAM_HEADERS):  # refused before any stream starts
            answer = ew.client.get("/v1/events", params=params, headers={**ew.headers("tier1"), **headers, **accept})
            assert answer.status_code == 422, (params, headers, answer.text)
            assert answer.json()["field"] == field, (params, headers, answer.text)
    assert ew.client.get("/v1/events").status_code == 401


def test_a_cursor_from_another_process_ahead_of_this_ones_head_is_taken(ew: EventsWorld) -> None:
    chain_id = ew.world.settings.chain.chain_id
    lagging = Feed(ew.feed.index, ew.feed.store, chain_id, poll=3600)  # looks at the journal once an hour
    cached = lagging.refresh()
    ew.ask("tier1", ew.piece("tier1"))
    other = Feed(ew.feed.index, ew.feed.store, chain_id)  # another worker, which journaled the request
    other.catch_up()
    newest = other.head()
    assert newest > cached == lagging.refresh()
    assert lagging.cursor(str(newest), "after", "query", cached) == newest
    with pytest.raises(InvalidField) as refused:
        lagging.cursor(str(newest + 1), "after", "query", cached)
    assert refused.value.field == "after" and f"its newest is {newest}" in refused.value.reason


def test_appends_from_several_processes_at_once_journal_each_fact_once_in_order(ew: EventsWorld) -> None:
    start = head(ew)
    pieces = [ew.piece("tier1") for _ in range(4)]
    asked = {ew.ask("tier1", piece)["id"] for piece in pieces}
    offers = {ew.offer("bank", pieces[0])["id"]}
    chain_id = ew.world.settings.chain.chain_id
    # Small batches: many appends, each racing the others for the feed row.
    feeds = [Feed(ew.feed.index, ew.feed.store, chain_id, batch=1, lookback=3600) for _ in range(4)]
    failures: list[BaseException] = []

    def run(feed: Feed) -> None:
        try:
            feed.catch_up(rounds=1000)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(feed,)) for feed in feeds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seen = ew.events("auditor", after=start)
    assert sorted(e["data"]["requestId"] for e in seen if e["type"] == "financing_request.created") == sorted(asked)
    assert {e["data"]["offerId"] for e in seen if e["type"] == "offer.created"} == offers
    with ew.feed.store.connect() as connection:
        count, top = connection.execute(select(func.count(), func.max(store.events.c.seq))).one()
    assert count == top  # seqs 1..N: none skipped, none twice


# -- the stream ---------------------------------------------------------------------------------------------------


def frames(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events as dicts of their fields; a comment line as {"comment": text}."""
    frame: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
        elif line == "":
            if frame:
                yield frame
            frame = {}
        else:
            name, _, value = line.partition(":")
            frame[name] = value[1:] if value.startswith(" ") else value


def next_event(stream: Iterator[dict[str, str]]) -> dict[str, str]:
    return next(frame for frame in stream if "id" in frame)


def test_the_stream_sends_each_event_with_its_cursor_as_id_and_heartbeats_while_quiet(ew: EventsWorld) -> None:
    start = head(ew)
    piece = ew.piece("tier1")
    with live(ew.client.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        headers = {**ew.headers("tier1"), **STREAM_HEADERS}
        with http.stream("GET", "/v1/events", params={"after": str(start)}, headers=headers) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            stream = frames(response.iter_lines())
            assert next(stream) == {"retry": "1500"}
            asked = ew.ask("tier1", piece, bank="bank2")  # while the stream is open
            frame = next_event(stream)
            event = json.loads(frame["data"])
            assert frame["event"] == event["type"] == "financing_request.created"
            assert frame["id"] == event["cursor"] and int(frame["id"]) > start
            assert event["data"]["requestId"] == asked["id"]
            assert next(stream) == {"comment": "keep-alive"}  # nothing else for tier1: heartbeats

        # A party the request is not for: its stream scans past it, then only heartbeats.
        ew.feed.catch_up()
        others = {**ew.headers("bank"), **STREAM_HEADERS}
        with http.stream("GET", "/v1/events", params={"after": str(start)}, headers=others) as response:
            stream = frames(response.iter_lines())
            assert next(stream) == {"retry": "1500"}
            assert next(stream) == {"comment": "keep-alive"}

        # Reconnecting with Last-Event-ID goes on after it: what happened meanwhile comes first.
        offer = ew.offer("bank2", piece)
        again = {**headers, "Last-Event-ID": frame["id"]}
        with http.stream("GET", "/v1/events", params={"after": str(start)}, headers=again) as response:
            stream = frames(response.iter_lines())
            resumed = json.loads(next_event(stream)["data"])
            assert (resumed["type"], resumed["data"]["offerId"]) == ("offer.created", offer["id"])
            assert int(resumed["cursor"]) > int(frame["id"])


def test_the_stream_ends_when_its_token_expires(ew: EventsWorld) -> None:
    tokens = ew.client.app.state.tokens  # type: ignore[attr-defined]
    tier1 = ew.account("tier1")
    # A token of the full lifetime issued so that it has about two seconds left.
    token, expires = tokens.issue(tier1.address, 0, int(time.time()) + 2 - tokens.ttl)
    with live(ew.client.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}", **STREAM_HEADERS}
        with http.stream("GET", "/v1/events", params={"after": str(head(ew))}, headers=headers) as response:
            assert response.status_code == 200, response.read()
            comments = [frame["comment"] for frame in frames(response.iter_lines()) if "comment" in frame]
    assert comments[-1].startswith("the access token expired") and time.time() >= expires


def test_the_openapi_document_declares_the_page_and_the_stream(ew: EventsWorld) -> None:
    operation = ew.client.get("/openapi.json").json()["paths"]["/v1/events"]["get"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}
    assert {p["name"] for p in operation["parameters"]} == {"after", "types", "limit", "Last-Event-ID"}
