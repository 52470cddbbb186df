"""Idempotency-Key on every POST: a retry gets the stored answer, a twin waits for the first, a crash is recovered.

A record per (party, key) is inserted *before* the request runs, with the hash of the request
(method, path, query and body), the state ``in_progress``, an owner (a random id per claim)
and a **lease**; the primary key makes a concurrent twin's insert fail, and the twin then
waits for the first request's answer (``wait`` seconds, then 409). While the request runs, the
gate renews the lease (every third of it). Once it has run, its status, media type and body
are stored and every retry with the same key gets exactly that answer, marked
``Idempotent-Replayed: true``. The same key with another request is a 422. Keys are per party
(taken from the bearer token), so two parties never collide; a request without a valid token
is not recorded (it is refused with 401 anyway).

**Recovery.** A process killed mid-request (kill -9, a power cut) leaves its record
``in_progress`` and stops renewing it. Once the lease has run out, the next request with the
key takes the record over (a compare-and-set on owner and lease, so only one retry does) and
runs the route again as a *resumed* claim (``Claim.resumed``), with what the first attempt
recorded (``Claim.effect``). Routes whose effect outlives a crash make the re-run land on that
effect instead of repeating it: a submission is found by its transaction hash, which the
relayer writes before any top-up or broadcast (``relayer.py``); a document upload records the
document id on the claim (``Claim.record``) before it stores the document, and a resumed claim
answers the stored document, or stores it under that id. A route with no lasting effect simply
runs again: the record is released. An owner that lost its lease (paused past it, then woke)
can neither record an effect nor store its answer. A 5xx or a 429 (retry later) answer is not stored: the record is
deleted, or, if an effect was recorded, released at once so the retry resumes it.

**Expiry.** Records expire ``ttl`` seconds (24 hours, as Stripe's do) after they were created:
an expired key is a new key. A party's expired records are deleted when it next claims a key.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidField
from api.v1 import store

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
POLL = 0.05
#: 429 says "the same request later will be served": storing it would replay the refusal for ever.
RETRY_LATER = 429
#: Where the gate puts the request's ``Claim`` in the ASGI scope (routes read it with ``claim_of``).
SCOPE_KEY = "scf.idempotency"
DAY = 86_400
_TAKEOVER_ATTEMPTS = 8


@dataclass(frozen=True)
class Stored:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Claim:
    """This request's hold on (party, key): ``resumed`` when it took over the record of an attempt that
    died, and ``effect`` what that attempt recorded (None when nothing)."""

    records: IdempotencyStore
    party: str
    key: str
    owner: str
    effect: str | None = None
    resumed: bool = False

    def record(self, effect: str) -> None:
        """Write what this request is about to create, *before* creating it (blocking: from a route's thread)."""
        self.records.record_effect(self, effect)


def claim_of(scope: MutableMapping[str, Any]) -> Claim | None:
    """The Idempotency-Key claim of the request whose ASGI scope this is (None: no key sent)."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, Claim) else None


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidField("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} printable characters", location="header")
    return key


class IdempotencyStore:
    """The records, on the API's store engine (blocking calls: the async ones run them off the event loop)."""

    def __init__(
        self,
        engine: Engine,
        *,
        wait: float,
        lease: float = 8.0,
        ttl: int = DAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.wait = wait
        self.lease = lease
        self.ttl = ttl
        self.clock = clock

    def _lease_until(self) -> int:
        return int((self.clock() + self.lease) * 1000)

    def _where(self, party: str, key: str) -> tuple[Any, ...]:
        return (store.idempotency.c.party == party, store.idempotency.c.key == key)

    def _claim(self, party: str, key: str, digest: str) -> Stored | Claim:
        """A claim when this request owns the key now (a resumed one after a dead attempt); the stored
        answer when it already ran."""
        table = store.idempotency
        for _ in range(_TAKEOVER_ATTEMPTS):
            now = self.clock()
            owner = str(uuid.uuid4())
            try:
                with self.engine.begin() as connection:
                    # Expired records of this party go first: an expired key is a new key.
                    connection.execute(
                        delete(table).where(table.c.party == party, table.c.created_at <= now - self.ttl)
                    )
                    connection.execute(
                        insert(table).values(
                            party=party,
                            key=key,
                            request_hash=digest,
                            state="in_progress",
                            created_at=int(now),
                            owner=owner,
                            lease_until_ms=self._lease_until(),
                        )
                    )
                return Claim(self, party, key, owner)
            except IntegrityError:
                pass
            with self.engine.connect() as connection:
                row = connection.execute(select(table).where(*self._where(party, key))).one_or_none()
            if row is None:  # the first attempt let go of the key (a 5xx) or it just expired: take it
                continue
            if row.request_hash != digest:
                raise IdempotencyKeyReused(key)
            if row.state == "done":
                return Stored(int(row.status_code), str(row.content_type), bytes(row.body))
            if row.lease_until_ms is not None and row.lease_until_ms > now * 1000:
                raise IdempotencyInProgress(key)
            # The attempt holding the key died (or is a record from before leases): take it over, once.
            same_holder = (
                table.c.owner.is_(None) if row.owner is None else table.c.owner == row.owner,
                table.c.lease_until_ms.is_(None)
                if row.lease_until_ms is None
                else table.c.lease_until_ms == row.lease_until_ms,
            )
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(table)
                    .where(*self._where(party, key), table.c.state == "in_progress", *same_holder)
                    .values(owner=owner, lease_until_ms=self._lease_until())
                ).rowcount
            if taken == 1:
                return Claim(self, party, key, owner, row.effect, resumed=True)
        raise IdempotencyInProgress(key)

    async def claim(self, party: str, key: str, digest: str) -> Stored | Claim:
        deadline = time.monotonic() + self.wait
        while True:
            try:
                return await anyio.to_thread.run_sync(self._claim, party, key, digest)
            except IdempotencyInProgress:
                if time.monotonic() >= deadline:
                    raise
                await anyio.sleep(POLL)

    def _held(self, claim: Claim) -> tuple[Any, ...]:
        return (*self._where(claim.party, claim.key), store.idempotency.c.owner == claim.owner)

    def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when this claim has lost the record (taken over after it ran out)."""
        with self.engine.begin() as connection:
            return bool(
                connection.execute(
                    update(store.idempotency)
                    .where(*self._held(claim), store.idempotency.c.state == "in_progress")
                    .values(lease_until_ms=self._lease_until())
                ).rowcount
            )

    def record_effect(self, claim: Claim, effect: str) -> None:
        with self.engine.begin() as connection:
            held = connection.execute(
                update(store.idempotency)
                .where(*self._held(claim), store.idempotency.c.state == "in_progress")
                .values(effect=effect, lease_until_ms=self._lease_until())
            ).rowcount
        if not held:  # another request resumed this key: it, not this one, creates the effect
            raise IdempotencyInProgress(claim.key)

    def _finish(self, claim: Claim, answer: Stored) -> None:
        table = store.idempotency
        with self.engine.begin() as connection:
            if answer.status >= 500 or answer.status == RETRY_LATER:
                connection.execute(delete(table).where(*self._held(claim), table.c.effect.is_(None)))
                connection.execute(update(table).where(*self._held(claim)).values(lease_until_ms=0))
                return
            connection.execute(
                update(table)
                .where(*self._held(claim))
                .values(
                    state="done",
                    status_code=answer.status,
                    content_type=answer.content_type,
                    body=answer.body,
                    completed_at=int(self.clock()),
                )
            )

    async def finish(self, claim: Claim, answer: Stored) -> None:
        await anyio.to_thread.run_sync(self._finish, claim, answer)

    async def keep(self, claim: Claim) -> None:
        """Renew ``claim``'s lease every third of it until cancelled (the gate runs this beside the route)."""
        while True:
            await anyio.sleep(self.lease / 3)
            try:
                held = await anyio.to_thread.run_sync(self.renew, claim)
            except Exception:  # a database hiccup: the next beat retries; a lost lease ends in recovery
                continue
            if not held:
                return
