"""The webhook dispatcher: queues each webhook's new events, POSTs them signed, retries with backoff, logs it all.

``run_once()`` is one round; ``run(stop)`` repeats it every ``poll`` seconds (``scf serve`` runs it in a
thread beside the indexer, once per ``scf serve``, whatever its ``--workers``). A round:

1. **Feed.** ``Feed.catch_up``: new facts into the journal (``api.v1.events``).
2. **Queue.** For each live webhook, the events after its ``cursor`` that its party may see (roles
   as the index last projected Membership; a party that is no longer ACTIVE gets nothing, and what
   happens meanwhile is skipped) and of its types become deliveries, due now; the cursor moves by
   compare-and-set in the same transaction, so two dispatchers never queue one event twice (the
   unique key (webhook, event) would refuse it anyway).
3. **Send.** Due deliveries (pending, ``next_attempt_at`` reached, lease free) of live webhooks are
   each claimed by compare-and-set on their attempt count and lease, with the attempt written to
   the log in the same transaction, then POSTed (``senders`` at once): the event's JSON, signed
   (``api.v1.webhooks.signing``), with ``SCF-Event-Id``, ``SCF-Event-Type``, ``SCF-Delivery-Id`` and
   ``SCF-Delivery-Attempt`` headers. A 2xx delivers it; anything else (a 3xx too: redirects are
   not followed) schedules the next attempt ``DeliveryOptions.delay(n)`` seconds later, or gives up
   after ``attempts``. Outside devnet mode a host that resolves to a non-public address is refused
   (an attempt that failed, saying so). Deliveries go side by side and retries come later, so they
   arrive in no particular order: a receiver that needs the order sorts by the event's ``cursor``.

**Crash safety.** Every step is a committed row before it acts: a kill -9 mid-delivery leaves the
delivery pending and leased with its attempt open; once the lease ends (``DeliveryOptions.lease``),
the next round (after a restart, or on another process) closes that attempt as interrupted and
tries again. Nothing is lost or stuck; a receiver may get an event twice (at least once): it dedupes
on the event id. The clock (``clock``) and the sender (``send``) are injectable, so tests drive
rounds and time themselves.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine, insert, or_, select, update

from api.v1 import store
from api.v1.auth import Party
from api.v1.event_schemas import ALL_TYPES
from api.v1.events import Feed, wire
from api.v1.webhooks.book import DeliveryOptions, non_public
from api.v1.webhooks.signing import SIGNATURE_HEADER, SecretBox, SecretUnreadable, sign
from ledger.index.sql.models import Party as Member

if TYPE_CHECKING:
    from api.v1.settings import Settings

INTERRUPTED = "interrupted: no answer was recorded (the dispatcher stopped mid-delivery); tried again"
USER_AGENT = "scf-ledger-webhooks/1"
ERROR_MAX = 500
#: ``send(url, body, headers)``: the receiver's status code; raises on a transport failure.
Sender = Callable[[str, bytes, Mapping[str, str]], int]


class Refused(Exception):
    """The URL resolves to an address deliveries may not go to."""


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    attempt: int
    webhook_id: str
    event_seq: int


@dataclass(frozen=True)
class Tick:
    """What one round did: events journaled, deliveries queued, attempts that delivered, that will be retried,
    and deliveries given up."""

    appended: int = 0
    queued: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


class Dispatcher:
    def __init__(
        self,
        feed: Feed,
        box: SecretBox,
        options: DeliveryOptions,
        *,
        auditors: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        send: Sender | None = None,
    ) -> None:
        self.feed = feed
        self.store = feed.store
        self.index = feed.index
        self.box = box
        self.options = options
        self.auditors = auditors
        self.clock = clock
        self.owner = str(uuid.uuid4())
        self._client: httpx.Client | None = None
        self._send = send or self._post
        self._pool = ThreadPoolExecutor(max_workers=options.senders, thread_name_prefix="scf-webhook")
        self._engines: tuple[Engine, ...] = ()  # made for it by ``from_settings``: disposed by ``close``

    @classmethod
    def from_settings(cls, settings: Settings, options: DeliveryOptions) -> Dispatcher:
        """A dispatcher with engines of its own on the API's databases (``scf serve``)."""
        from ledger.index.sql.db import make_engine

        index = make_engine(settings.db_url)
        store_engine = index if not settings.store_url else make_engine(settings.store_url)
        feed = Feed(index, store_engine, settings.chain.chain_id, poll=options.poll)
        dispatcher = cls(feed, SecretBox(settings.webhook_key), options, auditors=settings.auditors)
        dispatcher._engines = (index,) if store_engine is index else (index, store_engine)
        return dispatcher

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
        for engine in self._engines:
            engine.dispose()

    def run(self, stop: threading.Event) -> None:
        """Rounds every ``poll`` seconds until ``stop`` is set; a round that fails is reported and the next one
        tries again (the database or a receiver may be back)."""
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except Exception as exc:  # a background loop: report, and try again next round
                    print(f"webhook dispatcher: {type(exc).__name__}: {exc}", file=sys.stderr)
                stop.wait(self.options.poll)
        finally:
            self.close()

    def run_once(self) -> Tick:
        appended = self.feed.catch_up()
        queued = self.fan_out()
        delivered, retrying, failed = self.deliver()
        return Tick(appended, queued, delivered, retrying, failed)

    # -- queueing --------------------------------------------------------------------------------------

    def _parties(self, addresses: set[str]) -> dict[str, Party]:
        """The parties that are ACTIVE members as the index last projected Membership, with their roles."""
        if not addresses:
            return {}
        with self.index.connect() as connection:
            rows = connection.execute(
                select(Member.address, Member.roles, Member.status).where(
                    Member.chain_id == self.feed.chain_id, Member.address.in_(sorted(addresses))
                )
            ).all()
        return {
            row.address: Party(row.address, int(row.roles), 0, row.address in self.auditors)
            for row in rows
            if row.status == "ACTIVE"
        }

    def fan_out(self) -> int:
        """Queue each live webhook's new events (see the module notes); returns how many were queued."""
        hooks_table, deliveries = store.webhooks, store.webhook_deliveries
        head = self.feed.head()
        with self.store.connect() as connection:
            hooks = connection.execute(
                select(hooks_table.c.id, hooks_table.c.party, hooks_table.c.types, hooks_table.c.cursor).where(
                    hooks_table.c.deleted_at.is_(None), hooks_table.c.cursor < head
                )
            ).all()
        parties = self._parties({hook.party for hook in hooks})
        now = int(self.clock())
        queued = 0
        for hook in hooks:
            party = parties.get(hook.party)
            types = store_types(hook.types)
            items, upto = self.feed.page(party, hook.cursor, 500, types, head) if party else ([], head)
            with self.store.begin() as connection:
                moved = connection.execute(
                    update(hooks_table)
                    .where(
                        hooks_table.c.id == hook.id,
                        hooks_table.c.cursor == hook.cursor,
                        hooks_table.c.deleted_at.is_(None),
                    )
                    .values(cursor=upto)
                )
                if moved.rowcount != 1 or not items:
                    continue  # another dispatcher queued them, or it was deleted, or nothing is for it
                connection.execute(
                    insert(deliveries),
                    [
                        {
                            "webhook_id": hook.id,
                            "event_seq": event.cursor,
                            "event_id": event.id,
                            "state": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                        for event in items
                    ],
                )
            queued += len(items)
        return queued

    # -- sending ---------------------------------------------------------------------------------------

    def deliver(self) -> tuple[int, int, int]:
        """Send what is due; returns (delivered, to be retried, given up)."""
        now = int(self.clock())
        claims, gave_up = self._claim(now)
        if not claims:
            return 0, 0, gave_up
        hooks = self._hooks({claim.webhook_id for claim in claims})
        events = self.feed.events([claim.event_seq for claim in claims])
        outcomes = list(self._pool.map(lambda claim: self._attempt(claim, hooks, events), claims))
        delivered = retrying = 0
        for claim, (status, error) in zip(claims, outcomes, strict=True):
            state = self._finish(claim, status, error)
            delivered += state == "delivered"
            retrying += state == "pending"
            gave_up += state == "failed"
        return delivered, retrying, gave_up

    def _claim(self, now: int) -> tuple[list[Claim], int]:
        """Lease up to ``batch`` due deliveries, each with its attempt logged; an attempt a stopped dispatcher left
        open is closed as interrupted, and a delivery whose last attempt was that is given up."""
        deliveries, attempts, hooks = store.webhook_deliveries, store.webhook_attempts, store.webhooks
        free = or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now)
        with self.store.connect() as connection:
            due = connection.execute(
                select(deliveries.c.id, deliveries.c.attempts, deliveries.c.webhook_id, deliveries.c.event_seq)
                .join(hooks, hooks.c.id == deliveries.c.webhook_id)
                .where(
                    deliveries.c.state == "pending",
                    deliveries.c.next_attempt_at <= now,
                    free,
                    hooks.c.deleted_at.is_(None),
                )
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(self.options.batch)
            ).all()
        claims: list[Claim] = []
        gave_up = 0
        for row in due:
            spent = int(row.attempts) >= self.options.attempts
            mine = (deliveries.c.id == row.id, deliveries.c.state == "pending", deliveries.c.attempts == row.attempts)
            with self.store.begin() as connection:
                if spent:
                    values: dict[str, Any] = {
                        "state": "failed",
                        "next_attempt_at": None,
                        "lease_owner": None,
                        "lease_until": None,
                    }
                else:
                    values = {
                        "attempts": row.attempts + 1,
                        "lease_owner": self.owner,
                        "lease_until": now + self.options.lease,
                    }
                taken = connection.execute(update(deliveries).where(*mine, free).values(**values))
                if taken.rowcount != 1:
                    continue  # another dispatcher took it
                connection.execute(
                    update(attempts)
                    .where(attempts.c.delivery_id == row.id, attempts.c.finished_at.is_(None))
                    .values(finished_at=now, error=INTERRUPTED)
                )
                if spent:
                    gave_up += 1
                    continue
                connection.execute(
                    insert(attempts).values(delivery_id=row.id, attempt=row.attempts + 1, started_at=now)
                )
            claims.append(Claim(int(row.id), int(row.attempts) + 1, row.webhook_id, int(row.event_seq)))
        return claims, gave_up

    def _hooks(self, ids: set[str]) -> dict[str, Any]:
        table = store.webhooks
        with self.store.connect() as connection:
            rows = connection.execute(
                select(table.c.id, table.c.url, table.c.secret_nonce, table.c.secret).where(table.c.id.in_(sorted(ids)))
            ).all()
        return {row.id: row for row in rows}

    def _attempt(
        self, claim: Claim, hooks: Mapping[str, Any], events: Mapping[int, Any]
    ) -> tuple[int | None, str | None]:
        """One POST: the receiver's status, or why there is none."""
        hook, event = hooks.get(claim.webhook_id), events.get(claim.event_seq)
        if hook is None or event is None:
            return None, "the webhook or the event is gone"
        try:
            secret = self.box.open(hook.id, hook.secret_nonce, hook.secret)
        except SecretUnreadable as exc:
            return None, str(exc)
        body = wire(event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "SCF-Event-Id": event.id,
            "SCF-Event-Type": event.type,
            "SCF-Delivery-Id": str(claim.delivery_id),
            "SCF-Delivery-Attempt": str(claim.attempt),
            SIGNATURE_HEADER: sign(secret, body, int(self.clock())),
        }
        try:
            return self._send(hook.url, body, headers), None
        except Refused as exc:
            return None, f"refused: {exc}"
        except httpx.TimeoutException:
            return None, f"timed out after {self.options.timeout:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except OSError as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        if not self.options.private_urls:
            refuse_non_public(url)
        if self._client is None:
            self._client = httpx.Client(timeout=self.options.timeout, follow_redirects=False)
        with self._client.stream("POST", url, content=body, headers=dict(headers)) as response:
            return int(response.status_code)  # the body is not read: a receiver's answer is its status

    def _finish(self, claim: Claim, status: int | None, error: str | None) -> str:
        """Record the attempt's outcome and the delivery's next state (unless another dispatcher took it over)."""
        deliveries, attempts = store.webhook_deliveries, store.webhook_attempts
        now = int(self.clock())
        ok = status is not None and 200 <= status < 300
        if ok:
            state, next_at = "delivered", None
        elif claim.attempt >= self.options.attempts:
            state, next_at = "failed", None
        else:
            state, next_at = "pending", now + self.options.delay(claim.attempt)
        with self.store.begin() as connection:
            connection.execute(
                update(attempts)
                .where(
                    attempts.c.delivery_id == claim.delivery_id,
                    attempts.c.attempt == claim.attempt,
                    attempts.c.finished_at.is_(None),
                )
                .values(
                    finished_at=now,
                    status_code=status,
                    error=None if error is None else error[:ERROR_MAX],
                    next_attempt_at=next_at,
                )
            )
            connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claim.delivery_id,
                    deliveries.c.lease_owner == self.owner,
                    deliveries.c.attempts == claim.attempt,
                )
                .values(
                    state=state,
                    next_attempt_at=next_at,
                    lease_owner=None,
                    lease_until=None,
                    delivered_at=now if ok else None,
                )
            )
        return state


def store_types(text: str) -> frozenset[str] | None:
    """A webhook's stored types as the feed filters them (None: every type)."""
    found = set(json.loads(text))
    return None if ALL_TYPES in found else frozenset(found)


def refuse_non_public(url: str) -> None:
    """Raise ``Refused`` when the URL's host resolves to a non-public address (checked before each delivery:
    a name registered as public may have been pointed inside since)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if non_public(address):
            raise Refused(f"{host} resolves to {address}, not a public address")
