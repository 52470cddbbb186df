"""Idempotency-Key on every POST: a retry gets the stored answer, a twin waits for the first.

A record per (party, key) is inserted *before* the request runs, with the hash of the request
(method, path, query and body) and the state ``in_progress``; the primary key makes a
concurrent twin's insert fail, and the twin then waits for the first request's answer
(``wait`` seconds, then 409). Once the request has run, its status, media type and body are
stored and every retry with the same key gets exactly that answer, marked
``Idempotent-Replayed: true``. The same key with another request is a 422. A 5xx answer is not
stored (the record is deleted): the retry runs again, which is what a client retrying a
server failure wants. Keys are per party (taken from the bearer token), so two parties never
collide; a request without a valid token is not recorded (it is refused with 401 anyway).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import anyio
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidField
from api.v1 import store

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
POLL = 0.05


@dataclass(frozen=True)
class Stored:
    status: int
    content_type: str
    body: bytes


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
    """The records, on the API's store engine (blocking calls: run them off the event loop)."""

    def __init__(self, engine: Engine, wait: float) -> None:
        self.engine = engine
        self.wait = wait

    def _claim(self, party: str, key: str, digest: str) -> Stored | None:
        """None when this request owns the key now; the stored answer when it already ran."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(store.idempotency).values(
                        party=party, key=key, request_hash=digest, state="in_progress", created_at=int(time.time())
                    )
                )
            return None
        except IntegrityError:
            pass
        with self.engine.connect() as connection:
            row = connection.execute(
                select(store.idempotency).where(store.idempotency.c.party == party, store.idempotency.c.key == key)
            ).one_or_none()
        if row is None:  # the first request failed with a 5xx and let go of the key: take it
            return self._claim(party, key, digest)
        if row.request_hash != digest:
            raise IdempotencyKeyReused(key)
        if row.state != "done":
            raise IdempotencyInProgress(key)
        return Stored(int(row.status_code), str(row.content_type), bytes(row.body))

    async def claim(self, party: str, key: str, digest: str) -> Stored | None:
        deadline = time.monotonic() + self.wait
        while True:
            try:
                return await anyio.to_thread.run_sync(self._claim, party, key, digest)
            except IdempotencyInProgress:
                if time.monotonic() >= deadline:
                    raise
                await anyio.sleep(POLL)

    def _finish(self, party: str, key: str, answer: Stored) -> None:
        where = (store.idempotency.c.party == party, store.idempotency.c.key == key)
        with self.engine.begin() as connection:
            if answer.status >= 500:
                connection.execute(delete(store.idempotency).where(*where))
                return
            connection.execute(
                update(store.idempotency)
                .where(*where)
                .values(
                    state="done",
                    status_code=answer.status,
                    content_type=answer.content_type,
                    body=answer.body,
                    completed_at=int(time.time()),
                )
            )

    async def finish(self, party: str, key: str, answer: Stored) -> None:
        await anyio.to_thread.run_sync(self._finish, party, key, answer)
