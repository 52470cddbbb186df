"""Webhooks (issue 16): registration, signed deliveries, retries with backoff, the delivery log, crash safety.

On a chain of this module's own (``fresh``) with a second bank (``tests.support.events_world``), the
store in the index's SQLite database and, in a second run, on PostgreSQL apart from the index, itself on
PostgreSQL. Deliveries go to real HTTP
receivers on loopback ports (``tests.support.receiver``) that answer from a script. The dispatcher is
driven round by round (``run_once``) on a clock the test moves, so backoff is checked to the second
without waiting; the last test kills a real ``scf serve`` (SIGKILL) while a receiver holds its delivery,
and a second one delivers it once the dead one's lease has run out. After each test every webhook is
deleted, so no later dispatcher sends to a receiver that is gone.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.errors import InvalidField
from api.v1.webhooks import DeliveryOptions, Tick, check_url, sign, verify_signature
from api.v1.webhooks.dispatcher import INTERRUPTED
from tests.support import serve
from tests.support.api_world import World
from tests.support.databases import databases_of
from tests.support.events_world import EventsWorld, open_events_world
from tests.support.receivables import issue, issue_terms
from tests.support.receiver import HOLD, Receiver

OPTIONS = DeliveryOptions(private_urls=True, timeout=5, attempts=4, backoff=30, backoff_cap=3600)
PARTIES = ("tier1", "tier2", "bank", "bank2")


class Clock:
    """The dispatcher's clock: UTC seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def module_world(fresh: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventsWorld]:
    # On PostgreSQL the store is apart from the index (SCF_API_DB_URL), as beside an index that is a read replica.
    kind = fresh.database_kind
    with databases_of(kind, tmp_path_factory.mktemp("store")) as apart:
        store_url = None if kind == "sqlite" else apart.url()
        with open_events_world(fresh, store_url, delivery=OPTIONS) as world:
            yield world


@pytest.fixture
def ew(module_world: EventsWorld) -> Iterator[EventsWorld]:
    yield module_world
    for party in PARTIES:
        headers = module_world.headers(party)
        for hook in module_world.client.get("/v1/webhooks", headers=headers).json():
            assert module_world.client.delete(f"/v1/webhooks/{hook['id']}", headers=headers).status_code == 204


def register(ew: EventsWorld, who: str, url: str, types: list[str]) -> dict[str, Any]:
    answer = ew.client.post("/v1/webhooks", json={"url": url, "eventTypes": types}, headers=ew.headers(who))
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def log(ew: EventsWorld, who: str, hook: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    answer = ew.client.get(f"/v1/webhooks/{hook['id']}/deliveries", params=params, headers=ew.headers(who))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# -- registering ------------------------------------------------------------------------------------------------


def test_a_webhook_answers_its_secret_once_is_listed_without_it_and_deleted(ew: EventsWorld) -> None:
    made = register(ew, "tier1", "https://receiver.example/hooks?source=scf", ["offer.created", "*"])
    assert made["secret"].startswith("whsec_") and len(made["secret"]) == 6 + 64
    assert made["eventTypes"] == ["*"] and made["url"] == "https://receiver.example/hooks?source=scf"
    listed = ew.client.get("/v1/webhooks", headers=ew.headers("tier1")).json()
    assert listed == [{k: v for k, v in made.items() if k != "secret"}]
    assert made["secret"] not in json.dumps(listed)
    # Another party neither lists it nor reads or deletes it.
    assert ew.client.get("/v1/webhooks", headers=ew.headers("tier2")).json() == []
    for method, path in (("GET", f"/v1/webhooks/{made['id']}/deliveries"), ("DELETE", f"/v1/webhooks/{made['id']}")):
        assert ew.client.request(method, path, headers=ew.headers("tier2")).status_code == 404
    assert ew.client.delete(f"/v1/webhooks/{made['id']}", headers=ew.headers("tier1")).status_code == 204
    assert ew.client.get("/v1/webhooks", headers=ew.headers("tier1")).json() == []
    assert ew.client.delete(f"/v1/webhooks/{made['id']}", headers=ew.headers("tier1")).status_code == 404


def test_bad_webhooks_are_422_naming_the_field(ew: EventsWorld) -> None:
    good = {"url": "https://receiver.example/hooks", "eventTypes": ["offer.created"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "url": "ftp://receiver.example/hooks"}, "url"),
        ({**good, "url": "javascript:alert(1)"}, "url"),
        ({**good, "url": "https://user:secret@receiver.example/hooks"}, "url"),
        ({**good, "url": "https://token@receiver.example/hooks"}, "url"),
        ({**good, "url": "https://"}, "url"),
        ({**good, "url": "https://receiver.example:0/"}, "url"),
        ({**good, "url": "https://receiver.example:99999/"}, "url"),
        ({**good, "url": "https://receiver.example/hooks#frag"}, "url"),
        ({**good, "url": "https://receiver.example/ho oks"}, "url"),
        ({**good, "url": "https://récepteur.example/hooks"}, "url"),
        ({**good, "url": "https://receiver.example/" + "a" * 2048}, "url"),
        ({**good, "url": ""}, "url"),
        ({**good, "url": 7}, "url"),
        ({**good, "eventTypes": []}, "eventTypes"),
        ({**good, "eventTypes": ["offer.eaten"]}, "eventTypes[0]"),
        ({**good, "eventTypes": "offer.created"}, "eventTypes"),
        ({**good, "secret": "whsec_mine"}, "secret"),
        ({"eventTypes": ["offer.created"]}, "url"),
    ]
    for body, field in cases:
        answer = ew.client.post("/v1/webhooks", json=body, headers=ew.headers("tier1"))
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["field"] == field, (body, answer.text)
    assert ew.client.get("/v1/webhooks", headers=ew.headers("tier1")).json() == []  # nothing was made


def test_outside_devnet_mode_only_public_hosts_are_taken() -> None:
    for url in (
        "http://127.0.0.1:8080/hooks",
        "http://10.0.0.7/hooks",
        "http://192.168.1.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[fd00::1]/hooks",
        "http://0.0.0.0/hooks",
        "http://localhost/hooks",
        "http://api.localhost./hooks",
    ):
        with pytest.raises(InvalidField) as refused:
            check_url(url, private_ok=False)
        assert refused.value.field == "url" and "public" in refused.value.reason, url
        assert check_url(url, private_ok=True) == url
    for url in ("https://receiver.example/hooks", "http://93.184.216.34:8443/x?y=1", "https://[2606:4700::1111]/"):
        assert check_url(url, private_ok=False) == url


def test_a_signature_verifies_and_a_tampered_body_another_secret_or_a_stale_time_does_not() -> None:
    secret, body, now = "whsec_" + "ab" * 32, b'{"id":"evt_1","type":"offer.created"}', 1_700_000_000
    header = sign(secret, body, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature(secret, body, header, now=now)
    assert verify_signature(secret, body, header, now=now + 300)  # within the tolerance
    assert not verify_signature(secret, body + b" ", header, now=now)
    assert not verify_signature(secret, body.replace(b"offer", b"Offer"), header, now=now)
    assert not verify_signature("whsec_" + "cd" * 32, body, header, now=now)
    assert not verify_signature(secret, body, header, now=now + 301)  # a replay, later
    assert not verify_signature(secret, body, header.replace(f"t={now}", f"t={now + 1}"), now=now)
    assert verify_signature(secret, body, f"{header},v1={'0' * 64}", now=now)  # rotation: any v1 may match
    for garbage in ("", "v1=abc", f"t={now}", "t=x,v1=00", header.replace("v1=", "v0=")):
        assert not verify_signature(secret, body, garbage, now=now), garbage


# -- delivering ---------------------------------------------------------------------------------------------------


def test_a_receiver_that_fails_first_gets_the_event_again_with_backoff_until_it_answers(ew: EventsWorld) -> None:
    clock = Clock()
    with Receiver([500, 503, 200]) as receiver:
        hook = register(ew, "tier1", receiver.url, ["financing_request.created"])
        asked = ew.ask("tier1", ew.piece("tier1"))
        dispatcher = ew.dispatcher(OPTIONS, clock)
        try:
            start = int(clock())
            first = dispatcher.run_once()
            assert (first.queued, first.delivered, first.retrying, first.failed) == (1, 0, 1, 0)
            clock.advance(29)
            assert dispatcher.run_once() == Tick()  # not due before 30 s
            clock.advance(1)
            assert dispatcher.run_once() == Tick(retrying=1)  # the 503; next in 60 s
            clock.advance(59)
            assert dispatcher.run_once() == Tick()
            clock.advance(1)
            assert dispatcher.run_once() == Tick(delivered=1)
            clock.advance(3600)
            assert dispatcher.run_once() == Tick()  # delivered once: never again
        finally:
            dispatcher.close()
        sent = receiver.received
    assert len(sent) == 3 and len({r.body for r in sent}) == 1  # the same body each time (re-signed)
    event = json.loads(sent[0].body)
    assert event["type"] == "financing_request.created" and event["data"]["requestId"] == asked["id"]
    for attempt, (received, at) in enumerate(zip(sent, (start, start + 30, start + 90), strict=True), 1):
        headers = received.headers
        assert (headers["scf-event-id"], headers["scf-event-type"]) == (event["id"], event["type"])
        assert headers["scf-delivery-attempt"] == str(attempt) and headers["content-type"] == "application/json"
        assert headers["scf-signature"].startswith(f"t={at},v1=")  # signed when sent, by the dispatcher's clock
        assert verify_signature(hook["secret"], received.body, headers["scf-signature"], now=at)
        assert not verify_signature(hook["secret"], received.body + b"\n", headers["scf-signature"], now=at)
    [delivery] = log(ew, "tier1", hook)
    assert delivery["eventId"] == event["id"] and delivery["eventCursor"] == event["cursor"]
    assert (delivery["state"], delivery["attempts"], delivery["nextAttemptAt"]) == ("delivered", 3, None)
    assert delivery["deliveredAt"] == start + 90 and delivery["eventType"] == "financing_request.created"
    fields = ("attempt", "statusCode", "error", "startedAt", "nextAttemptAt")
    attempts = [tuple(a[name] for name in fields) for a in delivery["log"]]
    assert attempts == [
        (1, 500, None, start, start + 30),
        (2, 503, None, start + 30, start + 90),
        (3, 200, None, start + 90, None),
    ]


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_last_attempt(ew: EventsWorld) -> None:
    clock = Clock()
    options = DeliveryOptions(private_urls=True, timeout=5, attempts=3, backoff=10, backoff_cap=15)
    with Receiver([500]) as receiver:
        hook = register(ew, "tier1", receiver.url, ["*"])
        ew.ask("tier1", ew.piece("tier1"))
        dispatcher = ew.dispatcher(options, clock)
        try:
            assert dispatcher.run_once().retrying == 1
            clock.advance(10)
            assert dispatcher.run_once() == Tick(retrying=1)
            clock.advance(15)  # 20 s capped at 15
            assert dispatcher.run_once() == Tick(failed=1)
            clock.advance(86_400)
            assert dispatcher.run_once() == Tick()
        finally:
            dispatcher.close()
        assert len(receiver.received) == 3
    [delivery] = log(ew, "tier1", hook)
    assert (delivery["state"], delivery["attempts"], delivery["nextAttemptAt"]) == ("failed", 3, None)
    assert [a["statusCode"] for a in delivery["log"]] == [500, 500, 500]
    assert delivery["log"][-1]["nextAttemptAt"] is None
    assert log(ew, "tier1", hook, state="failed") == [delivery] and log(ew, "tier1", hook, state="pending") == []


def test_an_unreachable_receiver_is_logged_with_the_error(ew: EventsWorld) -> None:
    clock = Clock()
    with Receiver() as gone:
        url = gone.url
    hook = register(ew, "tier1", url, ["financing_request.created"])
    ew.ask("tier1", ew.piece("tier1"))
    dispatcher = ew.dispatcher(OPTIONS, clock)
    try:
        assert dispatcher.run_once().retrying == 1
    finally:
        dispatcher.close()
    [delivery] = log(ew, "tier1", hook)
    [attempt] = delivery["log"]
    assert attempt["statusCode"] is None and attempt["error"].startswith("ConnectError")
    assert delivery["state"] == "pending" and delivery["nextAttemptAt"] == int(clock()) + 30


def test_a_webhook_gets_only_what_its_party_may_see_of_its_types(ew: EventsWorld) -> None:
    clock = Clock()
    with Receiver() as to_bank2, Receiver() as to_tier2, Receiver() as to_bank:
        register(ew, "bank2", to_bank2.url, ["financing_request.created", "offer.created"])
        register(ew, "tier2", to_tier2.url, ["*"])
        register(ew, "bank", to_bank.url, ["piece.financed"])
        private, public = ew.piece("tier1"), ew.piece("tier1")
        ew.ask("tier1", private, bank="bank")  # to the dev bank alone
        every = ew.ask("tier1", public)  # to every bank
        ew.offer("bank", private)
        offered = ew.offer("bank2", public, 91 * 10**6)
        taken = ew.offer("bank", public, 92 * 10**6)
        ew.finance(taken)
        dispatcher = ew.dispatcher(OPTIONS, clock)
        try:
            assert dispatcher.run_once().delivered == 3
        finally:
            dispatcher.close()

        def got(receiver: Receiver) -> set[tuple[str, str]]:  # sent side by side: in no particular order
            found = set()
            for received in receiver.received:
                data = json.loads(received.body)["data"]
                named = data.get("requestId") or data.get("offerId") or data["pieceId"]
                found.add((received.headers["scf-event-type"], named))
            return found

        assert got(to_bank2) == {("financing_request.created", every["id"]), ("offer.created", offered["id"])}
        assert got(to_tier2) == set()
        assert got(to_bank) == {("piece.financed", str(public))}


def test_webhooks_of_the_new_types_receive_declines_withdrawals_and_pre_payment_offers_signed(
    ew: EventsWorld,
) -> None:
    clock = Clock()
    kinds = ["financing_request.declined", "prepayment_request.withdrawn", "prepayment_offer.created"]
    with Receiver() as to_tier1, Receiver() as to_bank, Receiver() as to_bank2:
        hook = register(ew, "tier1", to_tier1.url, kinds)
        register(ew, "bank", to_bank.url, kinds)  # the dev bank: neither the decline nor the offer is its own
        mine = register(ew, "bank2", to_bank2.url, ["prepayment_offer.created"])
        asked = ew.ask("tier1", ew.piece("tier1"))  # to every bank
        ew.decline("bank2", asked["id"])
        order = ew.order()
        prepayment = ew.ask_prepayment(order, 1_000 * 10**6, bank="bank2")
        offer = ew.offer_prepayment("bank2", prepayment["id"])
        ew.withdraw_prepayment(prepayment["id"])
        dispatcher = ew.dispatcher(OPTIONS, clock)
        try:
            assert dispatcher.run_once().delivered == 4
        finally:
            dispatcher.close()
        got = {r.headers["scf-event-type"]: r for r in to_tier1.received}
        assert to_bank.received == [] and len(to_tier1.received) == 3 and len(to_bank2.received) == 1
    assert set(got) == set(kinds)
    for kind, received in got.items():
        event = json.loads(received.body)
        assert event["type"] == kind and received.headers["scf-event-id"] == event["id"]
        assert verify_signature(hook["secret"], received.body, received.headers["scf-signature"], now=int(clock()))
    declined = json.loads(got["financing_request.declined"].body)["data"]
    assert (declined["requestId"], declined["bank"]) == (asked["id"], ew.address("bank2"))
    assert json.loads(got["prepayment_request.withdrawn"].body)["data"]["requestId"] == prepayment["id"]
    [to_its_bank] = to_bank2.received
    assert json.loads(to_its_bank.body)["data"]["offerId"] == offer["id"]
    assert verify_signature(mine["secret"], to_its_bank.body, to_its_bank.headers["scf-signature"], now=int(clock()))
    deliveries = log(ew, "tier1", hook)
    assert {d["eventType"] for d in deliveries} == set(kinds) and {d["state"] for d in deliveries} == {"delivered"}


def test_a_dispatcher_killed_mid_delivery_leaves_it_to_the_next_once_its_lease_ends(ew: EventsWorld) -> None:
    class Killed(BaseException):
        """The process dies in the middle of the POST."""

    def dying(url: str, body: bytes, headers: Any) -> int:
        raise Killed

    clock = Clock()
    with Receiver() as receiver:
        hook = register(ew, "tier1", receiver.url, ["financing_request.created"])
        ew.ask("tier1", ew.piece("tier1"))
        first = ew.dispatcher(OPTIONS, clock, send=dying)
        with pytest.raises(Killed):
            first.run_once()
        first.close()
        [leased] = log(ew, "tier1", hook)
        assert (leased["state"], leased["attempts"]) == ("pending", 1)
        assert leased["log"] == [
            {
                "attempt": 1,
                "startedAt": int(clock()),
                "finishedAt": None,
                "statusCode": None,
                "error": None,
                "nextAttemptAt": None,
            }
        ]
        second = ew.dispatcher(OPTIONS, clock)  # another process, or this one restarted
        try:
            clock.advance(OPTIONS.lease - 1)
            assert second.run_once() == Tick()  # still leased to the first
            clock.advance(1)
            assert second.run_once() == Tick(delivered=1)
        finally:
            second.close()
        [received] = receiver.received
    assert received.headers["scf-delivery-attempt"] == "2"
    [delivery] = log(ew, "tier1", hook)
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 2)
    assert [(a["statusCode"], a["error"]) for a in delivery["log"]] == [(None, INTERRUPTED), (200, None)]


def test_a_deleted_webhook_is_sent_nothing_more(ew: EventsWorld) -> None:
    clock = Clock()
    with Receiver() as receiver:
        hook = register(ew, "tier1", receiver.url, ["*"])
        ew.ask("tier1", ew.piece("tier1"))
        dispatcher = ew.dispatcher(OPTIONS, clock)
        try:
            dispatcher.feed.catch_up()
            assert dispatcher.fan_out() == 1  # queued, not sent
            assert ew.client.delete(f"/v1/webhooks/{hook['id']}", headers=ew.headers("tier1")).status_code == 204
            ew.ask("tier1", ew.piece("tier1"))
            assert dispatcher.run_once() == Tick(appended=1)
        finally:
            dispatcher.close()
        assert receiver.received == []


def test_the_delivery_log_pages_and_refuses_bad_parameters(ew: EventsWorld) -> None:
    clock = Clock()
    with Receiver() as receiver:
        hook = register(ew, "tier1", receiver.url, ["financing_request.created"])
        for _ in range(3):
            ew.ask("tier1", ew.piece("tier1"))
        dispatcher = ew.dispatcher(OPTIONS, clock)
        try:
            assert dispatcher.run_once().delivered == 3
        finally:
            dispatcher.close()
    everything = log(ew, "tier1", hook)
    assert len(everything) == 3 and [d["state"] for d in everything] == ["delivered"] * 3
    path = f"/v1/webhooks/{hook['id']}/deliveries"
    first = ew.client.get(path, params={"limit": 2}, headers=ew.headers("tier1")).json()
    assert first["items"] == everything[:2] and first["nextAfter"] == everything[1]["id"]
    rest = ew.client.get(path, params={"after": first["nextAfter"]}, headers=ew.headers("tier1")).json()
    assert rest == {"items": everything[2:], "nextAfter": None}
    for params, field in (({"state": "lost"}, "state"), ({"after": 0}, "after"), ({"limit": 0}, "limit")):
        answer = ew.client.get(path, params=params, headers=ew.headers("tier1"))
        assert answer.status_code == 422 and answer.json()["field"] == field, (params, answer.text)
    answer = ew.client.get("/v1/webhooks/not-a-webhook/deliveries", headers=ew.headers("tier1"))
    assert answer.status_code == 422 and answer.json()["field"] == "webhook_id"
    missing = "/v1/webhooks/00000000-0000-0000-0000-000000000000/deliveries"
    assert ew.client.get(missing, headers=ew.headers("tier1")).status_code == 404


# -- a real process, killed -------------------------------------------------------------------------------------


@pytest.mark.one_database("a killed scf serve, and its restart, cost two processes to repeat")
def test_scf_serve_killed_mid_delivery_delivers_the_event_after_a_restart(fresh: World, tmp_path: Path) -> None:
    """The dispatcher of ``scf serve`` POSTs; the receiver holds the request; the process is killed (SIGKILL).
    A new ``scf serve`` on the same database delivers the same event once the dead one's lease has run out."""
    target = serve.Target(fresh.devnet.url, fresh.record.parent, fresh.db_url)
    # The restarted process waits out the dead one's lease (3 x timeout + 5 s): a short timeout keeps that wait short,
    # with room for a loaded machine to kill the first process while the receiver holds its request.
    env = {**serve.shared_secrets(), "SCF_WEBHOOK_TIMEOUT": "3", "SCF_WEBHOOK_POLL": "0.2"}
    tier1 = fresh.account("tier1")
    terms = issue_terms(fresh.deployed, creditor="tier1", invoice=f"KILLED-{time.time_ns()}", nonce=time.time_ns())
    piece, _ = issue(fresh.deployed, terms)
    fresh.index()
    with Receiver([HOLD, 200]) as receiver:
        first = serve.start(target, tmp_path / "first", env)
        try:
            headers = serve.sign_in(first.base, tier1)
            body = {"url": receiver.url, "eventTypes": ["financing_request.created"]}
            made = httpx.post(f"{first.base}/v1/webhooks", json=body, headers=headers, timeout=30)
            assert made.status_code == 201, made.text
            hook = made.json()
            asked = httpx.post(
                f"{first.base}/v1/receivables/pieces/{piece}/financing-requests", json={}, headers=headers, timeout=30
            )
            assert asked.status_code == 201, asked.text
            [held] = receiver.wait_for(1)  # mid-delivery: the receiver has it and answers nothing
            os.kill(first.process.pid, signal.SIGKILL)
            assert first.process.wait(timeout=30) == -signal.SIGKILL
        finally:
            first.stop()
        receiver.release()
        second = serve.start(target, tmp_path / "second", env)
        try:
            again = receiver.wait_for(2)[1]  # after the lease (3 x 3 s + 5 s from the first attempt)
            headers = serve.sign_in(second.base, tier1)
            path = f"{second.base}/v1/webhooks/{hook['id']}/deliveries"
            deadline = time.monotonic() + 60
            while (delivery := httpx.get(path, headers=headers, timeout=30).json()["items"][0])["state"] == "pending":
                assert time.monotonic() < deadline, delivery
                time.sleep(0.2)
        finally:
            second.stop()
    assert json.loads(held.body)["data"]["requestId"] == asked.json()["id"]
    assert again.body == held.body and again.headers["scf-event-id"] == held.headers["scf-event-id"]
    assert (held.headers["scf-delivery-attempt"], again.headers["scf-delivery-attempt"]) == ("1", "2")
    assert verify_signature(hook["secret"], again.body, again.headers["scf-signature"])
    assert delivery["state"] == "delivered" and len(receiver.received) == 2
    assert [(a["statusCode"], a["error"]) for a in delivery["log"]] == [(None, INTERRUPTED), (200, None)]
