"""A party's webhooks: register (the secret once), list, delete, and read the delivery log.

A webhook receives the events of the feed its party may see (``api.v1.events``), of the types it
names, from the moment it is made: its ``cursor`` starts at the feed's head. URLs are checked when
registered (``check_url``): http or https, at most ``URL_MAX`` characters, a host, no
``user:password@`` (a delivery proves itself by its signature, and a URL is shown back in lists and
logs), no fragment; outside devnet mode no loopback, private, link-local or otherwise non-public
address, nor ``localhost`` (the dispatcher checks again what a host name resolves to before each
delivery). A party has at most ``DeliveryOptions.max_webhooks`` live webhooks.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from api.errors import Conflict, InvalidField, NotFound
from api.v1 import store
from api.v1.auth import Party
from api.v1.event_schemas import (
    ALL_TYPES,
    EVENT_TYPES,
    URL_MAX,
    AttemptOut,
    DeliveryOut,
    DeliveryState,
    WebhookCreatedOut,
    WebhookOut,
)
from api.v1.events import Feed
from api.v1.settings import SettingsError
from api.v1.webhooks.signing import SecretBox, new_secret

TIMEOUT_ENV = "SCF_WEBHOOK_TIMEOUT"
ATTEMPTS_ENV = "SCF_WEBHOOK_ATTEMPTS"
BACKOFF_ENV = "SCF_WEBHOOK_BACKOFF"
POLL_ENV = "SCF_WEBHOOK_POLL"
PRIVATE_ENV = "SCF_WEBHOOK_PRIVATE_URLS"
MAX_PAGE = 200


@dataclass(frozen=True)
class DeliveryOptions:
    """How webhooks are checked and delivered.

    ``timeout``: seconds a receiver has to answer; a delivery is leased to its dispatcher for ``lease``
    seconds (3 x timeout + 5: connect, send and read each get the timeout), after which another dispatcher
    (or this one after a restart) may try it again. ``attempts``: tries before a delivery is given up
    (failed); after the n-th failed try the next comes ``min(backoff * 2**(n-1), backoff_cap)`` seconds
    later. ``poll``: seconds between the dispatcher's rounds. ``private_urls``: allow loopback and private
    addresses (devnet mode allows them). ``batch``: deliveries started per round; ``senders``: at once.
    """

    timeout: float = 10.0
    attempts: int = 5
    backoff: float = 30.0
    backoff_cap: float = 3600.0
    poll: float = 1.0
    private_urls: bool = False
    max_webhooks: int = 16
    batch: int = 100
    senders: int = 4

    @property
    def lease(self) -> int:
        return int(3 * self.timeout) + 5

    def delay(self, attempt: int) -> int:
        """Seconds from the failed ``attempt`` (1-based) to the next one."""
        return int(min(self.backoff * 2 ** (attempt - 1), self.backoff_cap))

    @classmethod
    def from_env(cls, *, devnet: bool) -> DeliveryOptions:
        """The defaults, changed by ``SCF_WEBHOOK_TIMEOUT``, ``_ATTEMPTS``, ``_BACKOFF``, ``_POLL`` (seconds or a
        count) and ``SCF_WEBHOOK_PRIVATE_URLS`` (1/0; default: 1 in devnet mode)."""
        values: dict[str, Any] = {"private_urls": devnet}
        for env, name, kind in (
            (TIMEOUT_ENV, "timeout", float),
            (ATTEMPTS_ENV, "attempts", int),
            (BACKOFF_ENV, "backoff", float),
            (POLL_ENV, "poll", float),
        ):
            value = os.environ.get(env)
            if value is None:
                continue
            try:
                values[name] = kind(value)
            except ValueError as exc:
                raise SettingsError(f"{env} must be a number, got {value!r}") from exc
            if values[name] <= 0:
                raise SettingsError(f"{env} must be positive, got {value!r}")
        private = os.environ.get(PRIVATE_ENV)
        if private is not None:
            values["private_urls"] = private.strip().lower() in ("1", "true", "yes")
        return cls(**values)


def non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified, or anything else not globally routed."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return non_public(mapped)
    return bool(
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_url(url: str, *, private_ok: bool) -> str:
    """``url`` if a webhook may be sent to it (see the module notes), else 422 naming ``url``."""
    if len(url) > URL_MAX:
        raise InvalidField("url", f"is {len(url)} characters; at most {URL_MAX}")
    if not url.isascii() or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidField("url", "must be ASCII with no spaces or control characters (percent-encode, punycode)")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidField("url", f"is not a valid URL ({exc})") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidField("url", "must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise InvalidField(
            "url", "must not carry credentials (user:password@): deliveries prove themselves by their signature"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidField("url", "names no host")
    if port == 0:
        raise InvalidField("url", "port 0 is not a port a receiver listens on")
    if parts.fragment or url.endswith("#"):
        raise InvalidField("url", "must not have a #fragment (it is never sent)")
    if not private_ok:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if (
            (literal is not None and non_public(literal))
            or host.lower() == "localhost"
            or host.lower().endswith(".localhost")
        ):
            raise InvalidField("url", f"{host} is not a public address: deliveries go to public hosts only")
    return url


def _types_of(row: Any) -> list[str]:
    found: list[str] = json.loads(row.types)
    return found


def webhook_out(row: Any) -> WebhookOut:
    return WebhookOut(
        id=row.id, url=row.url, eventTypes=_types_of(row), description=row.description, createdAt=int(row.created_at)
    )


class WebhookBook:
    """The webhooks table as a party sees it (``/v1/webhooks``)."""

    def __init__(
        self,
        store_engine: Engine,
        feed: Feed,
        box: SecretBox,
        options: DeliveryOptions,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store_engine
        self.feed = feed
        self.box = box
        self.options = options
        self.clock = clock

    def register(
        self, party: Party, url: str, types: Sequence[str], description: str | None = None
    ) -> WebhookCreatedOut:
        """A new webhook for ``party``'s events of ``types`` from now on; its secret is answered this once."""
        url = check_url(url, private_ok=self.options.private_urls)
        wanted: list[str] = [ALL_TYPES] if ALL_TYPES in types else [kind for kind in EVENT_TYPES if kind in set(types)]
        table = store.webhooks
        with self.store.connect() as connection:
            live = connection.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.party == party.address, table.c.deleted_at.is_(None))
            ).scalar_one()
        if live >= self.options.max_webhooks:
            raise Conflict(
                "webhook_limit",
                f"{party.address} has {live} webhooks, the most one party may have; delete one first",
            )
        self.feed.catch_up()  # "from now on": every fact made before this request is journaled below its cursor
        head = self.feed.head()
        webhook_id, secret, now = str(uuid.uuid4()), new_secret(), int(self.clock())
        nonce, sealed = self.box.seal(webhook_id, secret)
        row = {
            "id": webhook_id,
            "party": party.address,
            "url": url,
            "types": json.dumps(wanted),
            "description": description,
            "secret_nonce": nonce,
            "secret": sealed,
            "cursor": head,
            "created_at": now,
            "deleted_at": None,
        }
        with self.store.begin() as connection:
            connection.execute(insert(table).values(**row))
        return WebhookCreatedOut(
            id=webhook_id, url=url, eventTypes=wanted, description=description, createdAt=now, secret=secret
        )

    def _own(self, party: Party, webhook_id: str) -> Any:
        table = store.webhooks
        with self.store.connect() as connection:
            row = connection.execute(select(table).where(table.c.id == webhook_id)).one_or_none()
        if row is None or row.party != party.address or row.deleted_at is not None:
            raise NotFound("webhook", webhook_id)
        return row

    def webhooks(self, party: Party) -> list[WebhookOut]:
        table = store.webhooks
        with self.store.connect() as connection:
            rows = connection.execute(
                select(table)
                .where(table.c.party == party.address, table.c.deleted_at.is_(None))
                .order_by(table.c.created_at, table.c.id)
            ).all()
        return [webhook_out(row) for row in rows]

    def delete(self, party: Party, webhook_id: str) -> None:
        """Ends the webhook: nothing more is queued or sent to it (404 for another party's, or once deleted)."""
        self._own(party, webhook_id)
        table = store.webhooks
        with self.store.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.id == webhook_id, table.c.deleted_at.is_(None))
                .values(deleted_at=int(self.clock()))
            )

    def deliveries(
        self, party: Party, webhook_id: str, state: DeliveryState | None, after: int | None, limit: int
    ) -> tuple[list[DeliveryOut], int | None]:
        """The delivery log of the party's webhook, oldest first, each with every attempt."""
        self._own(party, webhook_id)
        deliveries, attempts, journal = store.webhook_deliveries, store.webhook_attempts, store.events
        limit = min(limit, MAX_PAGE)
        query = (
            select(deliveries, journal.c.type)
            .join(journal, journal.c.seq == deliveries.c.event_seq)
            .where(deliveries.c.webhook_id == webhook_id)
        )
        if state is not None:
            query = query.where(deliveries.c.state == state)
        if after is not None:
            query = query.where(deliveries.c.id > after)
        with self.store.connect() as connection:
            rows = connection.execute(query.order_by(deliveries.c.id).limit(limit + 1)).all()
            ids = [int(row.id) for row in rows[:limit]]
            log: dict[int, list[AttemptOut]] = defaultdict(list)
            if ids:
                for attempt in connection.execute(
                    select(attempts)
                    .where(attempts.c.delivery_id.in_(ids))
                    .order_by(attempts.c.delivery_id, attempts.c.attempt)
                ):
                    log[int(attempt.delivery_id)].append(
                        AttemptOut(
                            attempt=attempt.attempt,
                            startedAt=attempt.started_at,
                            finishedAt=attempt.finished_at,
                            statusCode=attempt.status_code,
                            error=attempt.error,
                            nextAttemptAt=attempt.next_attempt_at,
                        )
                    )
        items = [
            DeliveryOut(
                id=int(row.id),
                eventId=row.event_id,
                eventType=row.type,
                eventCursor=int(row.event_seq),
                state=row.state,
                attempts=row.attempts,
                createdAt=row.created_at,
                nextAttemptAt=row.next_attempt_at,
                deliveredAt=row.delivered_at,
                log=log.get(int(row.id), []),
            )
            for row in rows[:limit]
        ]
        return items, (items[-1].id if len(rows) > limit else None)
