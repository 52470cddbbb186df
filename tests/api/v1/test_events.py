"""The event feed (issue 16): ``GET /v1/events`` as JSON pages and as Server-Sent Events, scoped per party.

On a chain of this module's own (``fresh``) with a second bank, the facts are made as parties make
them (requests and offers over HTTP; financing, repayment, default and a published limit on chain,
then indexed: ``tests.support.events_world``) and read back by each party. Every test runs twice: with
the index and the API's store in one SQLite database (the default), and on PostgreSQL with the store apart
from the index (``SCF_API_DB_URL``; ``tests.support.databases``). Each test reads only the events after the feed's
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
from api.v1.declines import declines
from api.v1.events import LOOKBACK, Feed, StreamOptions
from tests.support.api_world import World
from tests.support.databases import databases_of
from tests.support.events_world import DAY, DECLINED, UNIT, EventsWorld, open_events_world
from tests.support.live import live

FACE = 100_000 * UNIT  # tests.support.receivables' default face value
STREAM_HEADERS = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def ew(fresh: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventsWorld]:
    # On PostgreSQL the store is apart from the index (SCF_API_DB_URL), as beside an index that is a read replica.
    kind = fresh.database_kind
    with databases_of(kind, tmp_path_factory.mktemp("store")) as apart:
        store_url = None if kind == "sqlite" else apart.url()
        with open_events_world(fresh, store_url, stream=StreamOptions(poll=0.05, heartbeat=0.5, retry_ms=1500)) as ew:
            yield ew


def head(ew: EventsWorld) -> int:
    ew.feed.catch_up()
    return ew.feed.head()


def key(event: dict[str, Any]) -> tuple[str, str]:
    data = event["data"]
    found = next(data[name] for name in ("requestId", "offerId", "pieceId", "rootId", "party") if name in data)
    return event["type"], str(found)


def seen_by(ew: EventsWorld, start: int, *who: str) -> dict[str, list[dict[str, Any]]]:
    return {party: ew.events(party, after=start) for party in who}


def named(event: dict[str, Any]) -> tuple[str, str]:
    """An event as its type and what it is about: a request or offer id, else the order's."""
    data = event["data"]
    return event["type"], str(data.get("offerId") or data.get("requestId") or data["orderId"])


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


def test_declines_and_withdrawals_reach_the_holder_and_the_banks_asked_and_no_other_bank(ew: EventsWorld) -> None:
    start = head(ew)
    to_all, to_one = ew.piece("tier1"), ew.piece("tier1")
    every = ew.ask("tier1", to_all)
    one = ew.ask("tier1", to_one, bank="bank")
    head(ew)  # journaled, as the dispatcher's poll does
    [by_bank2] = ew.decline("bank2", every["id"])["declines"]  # a bank sees its own decline only
    ew.decline("bank", one["id"])
    withdrawn = ew.withdraw("tier1", every["id"])
    ew.withdraw("tier1", one["id"])

    seen = seen_by(ew, start, "tier1", "bank", "bank2", "tier2", "core", "auditor")
    created_all, created_one = ("financing_request.created", every["id"]), ("financing_request.created", one["id"])
    declined_all, declined_one = ("financing_request.declined", every["id"]), ("financing_request.declined", one["id"])
    gone_all, gone_one = ("financing_request.withdrawn", every["id"]), ("financing_request.withdrawn", one["id"])
    everything = [created_all, created_one, declined_all, declined_one, gone_all, gone_one]
    assert [key(e) for e in seen["tier1"]] == everything
    assert [key(e) for e in seen["auditor"]] == everything
    # Each bank: the requests to it or to every bank, its own decline (never the other's), their withdrawals.
    assert [key(e) for e in seen["bank"]] == [created_all, created_one, declined_one, gone_all, gone_one]
    assert [key(e) for e in seen["bank2"]] == [created_all, declined_all, gone_all]
    assert seen["tier2"] == [] and seen["core"] == []

    events = {key(e): e for e in seen["tier1"]}
    declined = events[declined_all]
    assert declined["data"] == {
        "requestId": every["id"],
        "pieceId": str(to_all),
        "holder": ew.address("tier1"),
        "bank": ew.address("bank2"),  # the declining bank
        "round": every["createdAt"],  # the ask it answers
        "reasons": DECLINED,
        "declinedAt": by_bank2["declinedAt"],
    }
    assert declined["occurredAt"] == by_bank2["declinedAt"]
    assert events[gone_all]["data"] == {
        "requestId": every["id"],
        "pieceId": str(to_all),
        "holder": ew.address("tier1"),
        "bank": None,  # every bank
        "round": every["createdAt"],
        "withdrawnAt": withdrawn["withdrawnAt"],
    }
    assert events[gone_one]["data"]["bank"] == ew.address("bank")
    assert {key(e): e for e in seen["bank2"]}[declined_all] == declined  # one event, whoever reads it


def test_a_request_withdrawn_asked_again_and_withdrawn_between_two_syncs_has_both_withdrawals(
    ew: EventsWorld,
) -> None:
    start = head(ew)
    piece = ew.piece("tier1")
    asked = ew.ask("tier1", piece, bank="bank2")
    head(ew)
    first = ew.withdraw("tier1", asked["id"])
    again = ew.ask("tier1", piece, bank="bank2")  # the same row, open again: its withdrawn_at cleared
    assert (again["id"], again["state"], again["withdrawnAt"]) == (asked["id"], "open", None)
    second = ew.withdraw("tier1", asked["id"])
    for who in ("tier1", "bank2"):
        withdrawals = [e for e in ew.events(who, after=start) if e["type"] == "financing_request.withdrawn"]
        assert [e["data"]["withdrawnAt"] for e in withdrawals] == [first["withdrawnAt"], second["withdrawnAt"]]
        assert len({e["id"] for e in withdrawals}) == 2 and {e["data"]["requestId"] for e in withdrawals} == {
            asked["id"]
        }
    assert ew.events("bank", after=start) == []  # not asked
    # Journaled once: another sync, or another process's, adds nothing.
    assert Feed(ew.feed.index, ew.feed.store, ew.world.settings.chain.chain_id).catch_up() == 0


def test_a_decline_or_withdrawal_that_commits_late_comes_after_the_cursor_a_reader_holds(ew: EventsWorld) -> None:
    """A decline or a withdrawal is stamped before its transaction commits: one that commits after a later one was
    journaled (and read) is still journaled, behind every cursor handed out, so no reader skips it."""
    start = head(ew)
    slow, quick = ew.ask("tier1", ew.piece("tier1"), bank="bank"), ew.ask("tier1", ew.piece("tier1"), bank="bank")
    head(ew)
    [decline] = ew.decline("bank", quick["id"])["declines"]
    gone = ew.withdraw("tier1", quick["id"])
    page = ew.page("bank", after=str(start))
    assert [key(e) for e in page["items"]][-2:] == [
        ("financing_request.declined", quick["id"]),
        ("financing_request.withdrawn", quick["id"]),
    ]
    cursor = int(page["nextAfter"])
    # Stamped before those two, within LOOKBACK, committed only now (slow transactions).
    with ew.feed.store.begin() as connection:
        connection.execute(
            declines.insert().values(
                request_id=slow["id"],
                bank=ew.address("bank"),
                round=slow["createdAt"],
                reasons=json.dumps(DECLINED),
                created_at=decline["declinedAt"] - LOOKBACK // 2,
            )
        )
        assert store.withdraw(connection, store.financing_requests, slow["id"], gone["withdrawnAt"] - LOOKBACK // 2)
    late = ew.page("bank", after=str(cursor))["items"]
    assert [key(e) for e in late] == [
        ("financing_request.declined", slow["id"]),
        ("financing_request.withdrawn", slow["id"]),
    ]
    assert all(int(e["cursor"]) > cursor for e in late)
    assert late[0]["data"]["declinedAt"] == decline["declinedAt"] - LOOKBACK // 2


def test_pre_payment_requests_offers_declines_withdrawals_draws_and_claims_reach_their_parties(
    ew: EventsWorld,
) -> None:
    start = head(ew)
    order = ew.order(amount=10_000 * UNIT, ship_in=5 * DAY)
    every = ew.ask_prepayment(order, 2_000 * UNIT)  # to every bank
    one = ew.ask_prepayment(order, 3_000 * UNIT, bank="bank2")
    head(ew)  # each step journaled before the next, as the dispatcher's poll does
    [by_bank2] = ew.decline_prepayment("bank2", every["id"])["declines"]
    head(ew)
    offer = ew.offer_prepayment("bank", every["id"], fee=UNIT)
    head(ew)
    other = ew.offer_prepayment("bank2", one["id"], fee=2 * UNIT)
    head(ew)
    withdrawn = ew.withdraw_prepayment(one["id"])
    head(ew)
    ew.draw(offer)  # the dev bank's offer, drawn by the supplier on chain
    head(ew)
    ew.refund_unshipped(order)  # never shipped: the buyer is refunded from the dev bank's pool

    seen = seen_by(ew, start, "tier1", "bank", "bank2", "core", "tier2", "auditor")
    created_all = ("prepayment_request.created", every["id"])
    created_one = ("prepayment_request.created", one["id"])
    declined = ("prepayment_request.declined", every["id"])
    offered, offered_other = ("prepayment_offer.created", offer["id"]), ("prepayment_offer.created", other["id"])
    gone = ("prepayment_request.withdrawn", one["id"])
    released, claimed = ("prepayment.released", str(order)), ("guarantee.claimed", str(order))
    everything = [created_all, created_one, declined, offered, offered_other, gone, released, claimed]
    assert [named(e) for e in seen["tier1"]] == everything  # the supplier
    assert [named(e) for e in seen["auditor"]] == everything
    # The dev bank: the request to every bank, its offer, its draw and the claim on its pool; not the other
    # bank's decline, offer or request, nor that request's withdrawal.
    assert [named(e) for e in seen["bank"]] == [created_all, offered, released, claimed]
    assert [named(e) for e in seen["bank2"]] == [created_all, created_one, declined, offered_other, gone]
    assert [named(e) for e in seen["core"]] == [released]  # the buyer: its escrow paid early
    assert seen["tier2"] == []

    events = {named(e): e for e in seen["auditor"]}
    supplier, bank = ew.address("tier1"), ew.address("bank")
    assert events[created_all]["data"] == {
        "requestId": every["id"],
        "orderId": str(order),
        "supplier": supplier,
        "bank": None,
        "amount": str(2_000 * UNIT),
        "createdAt": every["createdAt"],
        "expiresAt": every["expiresAt"],
    }
    assert events[created_one]["data"]["bank"] == ew.address("bank2")
    assert events[declined]["data"] == {
        "requestId": every["id"],
        "orderId": str(order),
        "supplier": supplier,
        "bank": ew.address("bank2"),
        "round": every["createdAt"],
        "reasons": DECLINED,
        "declinedAt": by_bank2["declinedAt"],
    }
    assert events[offered]["data"] == {
        "offerId": offer["id"],
        "requestId": every["id"],
        "orderId": str(order),
        "supplier": supplier,
        "bank": bank,
        "amount": str(2_000 * UNIT),
        "fee": str(UNIT),
        "deadline": str(offer["deadline"]),
        "nonce": str(offer["nonce"]),
        "round": every["createdAt"],
    }
    assert events[gone]["data"] == {
        "requestId": one["id"],
        "orderId": str(order),
        "supplier": supplier,
        "bank": ew.address("bank2"),
        "round": one["createdAt"],
        "withdrawnAt": withdrawn["withdrawnAt"],
    }
    draw = dict(events[released]["data"])
    assert draw.pop("blockNumber") > 0 and re.fullmatch(r"0x[0-9a-f]{64}", draw.pop("txHash"))
    assert isinstance(draw.pop("logIndex"), int) and int(draw.pop("limitLeft")) >= 0
    assert draw == {
        "orderId": str(order),
        "supplier": supplier,
        "guarantor": bank,
        "amount": str(2_000 * UNIT),
        "fee": str(UNIT),
        "nonce": str(offer["nonce"]),
    }
    claim = {k: v for k, v in events[claimed]["data"].items() if k not in ("blockNumber", "txHash", "logIndex")}
    assert claim == {"orderId": str(order), "guarantor": bank, "supplier": supplier, "amount": str(2_000 * UNIT)}
    assert int(events[claimed]["data"]["blockNumber"]) > int(events[released]["data"]["blockNumber"])
    # A type filter keeps the new types as it keeps the others.
    kept = ew.events("bank2", after=start, types="prepayment_request.declined,prepayment_offer.created")
    assert [named(e) for e in kept] == [declined, offered_other]


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
