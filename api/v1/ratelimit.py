"""Rate limits: token buckets kept in the API's store, so every worker and host shares them.

A bucket of ``count`` tokens that refills over ``per`` seconds is kept as one number, its
*theoretical arrival time* ``tat`` (GCRA, the generic cell rate algorithm: a token bucket
written as a timestamp). A request at ``now`` is let through when ``max(tat, now) + per/count
<= now + per`` (at least one token left), and then ``tat`` moves on by ``per/count``. One
conditional UPDATE both decides and records that, so ``scf serve --workers N`` (and several
hosts on one PostgreSQL store) share each limit exactly, with no lock and no read-modify-write
race; a refused request changes nothing. A bucket with no row is full; a row whose ``tat`` has
passed is too, and is swept now and then. A refusal is ``RateLimited``: 429 with
``Retry-After``, the whole seconds until a token is back.

What is limited (``RateLimits``, in ``Settings``):

* ``POST /v1/auth/challenge``: per client IP (a dependency, before the body is read) and per
  address asked for (in the route);
* ``POST /v1/auth/token``: per client IP (dependency), per challenge nonce (guessing at one
  challenge) and per address (trying many challenges of one key), in the route;
* ``POST /v1/documents``: per signed-in party (dependency).

The client IP is the connection's peer as uvicorn reports it: behind a reverse proxy, run
uvicorn with ``--forwarded-allow-ips`` naming the proxy so the peer is the real client.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import RateLimited
from api.v1 import store
from api.v1.auth import Party, current_party


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``per`` seconds, all of them at once if saved up."""

    count: int
    per: float

    @property
    def valid(self) -> bool:
        return self.count >= 1 and self.per > 0

    def __str__(self) -> str:
        return f"{self.count} per {self.per:g} s"


@dataclass(frozen=True)
class RateLimits:
    """The limits the API applies; a person never meets them, a script hammering one route does."""

    challenge_per_ip: Rate = Rate(120, 60)
    challenge_per_address: Rate = Rate(20, 60)
    sign_in_per_ip: Rate = Rate(120, 60)
    #: Attempts at one challenge: a wallet needs one, a client that got the signature wrong a few.
    sign_in_per_nonce: Rate = Rate(5, 300)
    sign_in_per_address: Rate = Rate(20, 60)
    upload_per_party: Rate = Rate(30, 60)


class Limiter:
    """Takes one token from a bucket in the shared store, or refuses with ``RateLimited``."""

    #: Every this many new buckets, the full ones (``tat`` passed) are deleted.
    SWEEP_EVERY = 256

    def __init__(self, *, engine: Engine, limits: RateLimits, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.limits = limits
        self._clock = clock
        self._created = itertools.count(1)

    def take(self, scope: str, value: str, rate: Rate) -> None:
        """One request of ``scope`` for ``value`` (an IP, an address, a nonce) under ``rate``."""
        table = store.rate_limits
        key = f"{scope}:{value}"[:128]
        now = int(self._clock() * 1000)
        step = math.ceil(rate.per * 1000 / rate.count)
        period = math.ceil(rate.per * 1000)
        after = case((table.c.tat_ms > now, table.c.tat_ms), else_=now) + step
        for _attempt in range(2):  # a second pass only when another process created the bucket meanwhile
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(table).where(table.c.key == key, after <= now + period).values(tat_ms=after)
                ).rowcount
                if taken == 1:
                    return
                tat = connection.execute(select(table.c.tat_ms).where(table.c.key == key)).scalar_one_or_none()
            if tat is not None:
                wait_ms = max(tat, now) + step - period - now
                raise RateLimited(f"{scope}: {rate}", max(1, math.ceil(wait_ms / 1000)))
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(table).values(key=key, tat_ms=now + step))
            except IntegrityError:
                continue
            if next(self._created) % self.SWEEP_EVERY == 0:
                with self.engine.begin() as connection:
                    connection.execute(delete(table).where(table.c.tat_ms < now))
            return


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def limit_challenges(request: Request) -> None:
    """Dependency of ``POST /v1/auth/challenge``: its per-IP bucket (a thread: the store may block)."""
    limiter = _limiter(request)
    limiter.take("challenge-ip", client_ip(request), limiter.limits.challenge_per_ip)


def limit_sign_ins(request: Request) -> None:
    """Dependency of ``POST /v1/auth/token``: its per-IP bucket."""
    limiter = _limiter(request)
    limiter.take("sign-in-ip", client_ip(request), limiter.limits.sign_in_per_ip)


def limit_uploads(request: Request, party: Annotated[Party, Depends(current_party)]) -> None:
    """Dependency of ``POST /v1/documents``: the signed-in party's bucket (after its token is checked)."""
    limiter = _limiter(request)
    limiter.take("upload-party", party.address, limiter.limits.upload_per_party)


ChallengeLimit = Annotated[None, Depends(limit_challenges)]
SignInLimit = Annotated[None, Depends(limit_sign_ins)]
UploadLimit = Annotated[None, Depends(limit_uploads)]
