"""Idempotency records on the store directly: leases, recovery after a dead attempt, 24-hour expiry.

A real store, on SQLite (a temporary file) and on PostgreSQL (``tests.support.databases``); the clock is the
store's own injectable one, moved by hand, so a lease or a day passes without waiting for it. The HTTP side (a
real process killed mid-request, then a retry) is in ``test_relayer.py`` and ``test_documents.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert

from api.errors import IdempotencyInProgress, IdempotencyKeyReused
from api.v1 import migrate, store
from api.v1.idempotency import DAY, Claim, IdempotencyStore, Stored
from ledger.index.sql.db import make_engine
from tests.support.databases import Databases, databases

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

PARTY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
LEASE = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(databases: Databases) -> Iterator[Engine]:
    engine = make_engine(databases.url())
    migrate.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def records(engine: Engine, clock: Clock) -> IdempotencyStore:
    return IdempotencyStore(engine, wait=0, lease=LEASE, clock=clock)


def claimed(records: IdempotencyStore, key: str = "k", digest: str = "d") -> Claim:
    claim = records._claim(PARTY, key, digest)
    assert isinstance(claim, Claim), claim
    return claim


def test_a_finished_request_is_replayed_until_its_record_expires_after_24_hours(
    records: IdempotencyStore, clock: Clock
) -> None:
    records._finish(claimed(records), Stored(201, "application/json", b'{"id":"a"}'))
    clock.now += DAY - 1
    assert records._claim(PARTY, "k", "d") == Stored(201, "application/json", b'{"id":"a"}')
    with pytest.raises(IdempotencyKeyReused):
        records._claim(PARTY, "k", "another request")
    clock.now += 1
    fresh = claimed(records, digest="another request")  # an expired key is a new key, for any request
    assert (fresh.resumed, fresh.effect) == (False, None)


def test_a_running_request_keeps_its_key_while_it_renews_its_lease(records: IdempotencyStore, clock: Clock) -> None:
    first = claimed(records)
    for _ in range(5):
        clock.now += LEASE - 1
        with pytest.raises(IdempotencyInProgress):
            records._claim(PARTY, "k", "d")
        assert records.renew(first)


def test_a_dead_attempt_is_taken_over_once_with_the_effect_it_recorded(records: IdempotencyStore, clock: Clock) -> None:
    dead = claimed(records)
    dead.record("document-1")
    clock.now += LEASE + 1
    resumed = claimed(records)
    assert (resumed.resumed, resumed.effect) == (True, "document-1")
    with pytest.raises(IdempotencyInProgress):  # the new holder has a lease of its own
        records._claim(PARTY, "k", "d")
    # The old holder, should it wake up, can neither renew, record nor answer.
    assert not records.renew(dead)
    with pytest.raises(IdempotencyInProgress):
        dead.record("document-2")
    records._finish(dead, Stored(201, "application/json", b"stale"))
    records._finish(resumed, Stored(201, "application/json", b"resumed"))
    assert records._claim(PARTY, "k", "d") == Stored(201, "application/json", b"resumed")


def test_a_5xx_releases_the_key_and_keeps_what_it_recorded(records: IdempotencyStore) -> None:
    without = claimed(records, key="plain")
    records._finish(without, Stored(503, "application/json", b"{}"))
    assert claimed(records, key="plain", digest="another request").resumed is False  # deleted: a new request
    with_effect = claimed(records, key="effect")
    with_effect.record("document-9")
    records._finish(with_effect, Stored(500, "", b""))
    again = claimed(records, key="effect")  # no waiting for the lease
    assert (again.resumed, again.effect) == (True, "document-9")


def test_a_429_is_not_replayed_so_the_retry_after_the_wait_runs(records: IdempotencyStore) -> None:
    records._finish(claimed(records), Stored(429, "application/json", b'{"error":"rate_limited"}'))
    assert isinstance(records._claim(PARTY, "k", "d"), Claim)  # runs again rather than replaying the refusal


def test_a_record_left_in_progress_before_leases_existed_is_recovered(
    engine: Engine, records: IdempotencyStore, clock: Clock
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(store.idempotency).values(
                party=PARTY, key="old", request_hash="d", state="in_progress", created_at=int(clock.now) - 60
            )
        )
    claim = claimed(records, key="old")
    assert (claim.resumed, claim.effect) == (True, None)


def test_keys_are_per_party(records: IdempotencyStore) -> None:
    claimed(records)
    other = records._claim("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "k", "another request")
    assert isinstance(other, Claim) and not other.resumed
