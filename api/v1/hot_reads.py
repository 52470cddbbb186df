"""The hot reads answered in front of FastAPI's router, byte for byte as their routes answer them.

``GET /v1/orders``, ``/v1/orders/{id}``, ``/v1/receivables/{id}`` and ``/v1/parties/me`` are what
clients poll. Their routes already answer cached JSON bytes (``api.v1.read_answers``), so what
FastAPI does around them costs more than they do: its router tries the routes of every included
router in turn (over 80), the dependencies are solved and the parameters validated through
pydantic, a ``Request`` is built, the answer passes two more middlewares. ``HotReads``, plain
ASGI, recognises a request to one of these four routes whose parameters are spelt plainly
(ASCII digits without leading zeros, within the route's bounds; for the page, only ``after``,
``limit`` and ``status`` with a status the route accepts, each at most once) and does what the
route does, with the same functions. The API's app (``api.v1.app.LedgerApp``) asks it first, before FastAPI's
own middleware stack (its error, telemetry and body-limit layers, and ours: 7-10 % of a hot read's CPU in
the server, measured per route; nothing in them applies to a GET answered without raising):

* the party: ``current_party``'s checks, in its order (the bearer header as ``auth.bearer``
  reads it, ``Tokens.verify``: MAC, expiry, issued-at and the revocation lookup, on every
  request; then ``Standing.check``: Membership as of now, a read);
* the answer: ``Reads.orders_json``, ``order_json``, ``receivable_json``, ``member_json``, sent as
  the route's ``Response`` sends it (200, ``content-length`` then ``content-type:
  application/json``).

Anything else goes to the app unchanged: another path, method or spelling, a root path, a
dependency override, and any request whose check or read raises (a 401, a 404, a 503...):
nothing has been sent by then, so the app answers it from the start, as it always did (the
checks run again; they have no effect but their caches). The routes stay the definition: the
OpenAPI document, and every answer but these 200s. ``tests/api/v1/test_hot_reads.py`` compares
the two answers request by request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.v1.auth import Party, Standing, Tokens
from api.v1.deps import Services
from api.v1.routes import orders as order_routes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

#: The routes' bounds (``OrderId``, ``Id``, the page's ``Query`` parameters).
ID_LIMIT = 2**63
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
#: The statuses ``GET /v1/orders`` accepts, from its own pattern.
ORDER_STATUSES = frozenset(order_routes.STATUSES.strip("^$()").split("|"))
ORDERS, ORDER_PREFIX, RECEIVABLE_PREFIX, ME = "/v1/orders", "/v1/orders/", "/v1/receivables/", "/v1/parties/me"
JSON = b"application/json"


def _number(text: str | bytes, low: int, high: int) -> int | None:
    """``text`` as an int in [low, high) if it is spelt plainly (ASCII digits, no leading zero), else None."""
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None
    if len(text) > 1 and text[:1] in ("0", b"0"):
        return None
    value = int(text)
    return value if low <= value < high else None


def page_query(query: bytes) -> tuple[int, int, str | None] | None:
    """``after``, ``limit`` and ``status`` of a plainly spelt page query, else None (the app decides)."""
    after, limit, status = 0, DEFAULT_LIMIT, None
    seen: set[bytes] = set()
    for pair in query.split(b"&") if query else ():
        name, equals, value = pair.partition(b"=")
        if not equals or name in seen:
            return None
        seen.add(name)
        if name == b"after":
            found = _number(value, 0, ID_LIMIT)
            if found is None:
                return None
            after = found
        elif name == b"limit":
            found = _number(value, 1, MAX_LIMIT + 1)
            if found is None:
                return None
            limit = found
        elif name == b"status" and value.decode("ascii", "replace") in ORDER_STATUSES:
            status = value.decode("ascii")
        else:
            return None
    return after, limit, status


def _bearer(scope: Scope) -> str | None:
    """The token of the first Authorization header, as ``auth.bearer`` reads it (None where it refuses)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class HotReads:
    """The ASGI answers of the module notes; the app answers every request they do not."""

    @classmethod
    async def answered(cls, scope: Scope, send: Send) -> bool:
        """Whether this request was a hot read and is answered (``scope["app"]`` is the API's app); if not,
        nothing has been sent and the app answers it."""
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            read = cls._read(scope)
            if read is not None:
                body = await cls._answer(scope, read)
                if body is not None:
                    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON)]
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return True
        return False

    @staticmethod
    def _read(scope: Scope) -> Callable[[Services, Party], bytes] | None:
        """What the route of this request would read, if it is one of the four, plainly spelt."""
        path: str = scope["path"]
        if path == ME:
            return None if scope["query_string"] else lambda svc, party: svc.reads.member_json(party.address)
        if path == ORDERS:
            query = page_query(scope["query_string"])
            if query is None:
                return None
            after, limit, status = query
            return lambda svc, party: svc.reads.orders_json(party, after, limit, status)
        if scope["query_string"]:
            return None
        if path.startswith(ORDER_PREFIX):
            order_id = _number(path[len(ORDER_PREFIX) :], 1, ID_LIMIT)
            return None if order_id is None else lambda svc, party: svc.reads.order_json(party, order_id)
        if path.startswith(RECEIVABLE_PREFIX):
            root_id = _number(path[len(RECEIVABLE_PREFIX) :], 1, ID_LIMIT)
            return None if root_id is None else lambda svc, party: svc.reads.receivable_json(party, root_id)
        return None

    @staticmethod
    async def _answer(scope: Scope, read: Callable[[Services, Party], bytes]) -> bytes | None:
        """The route's answer, or None when the app must answer (it checks again and says why)."""
        app = scope.get("app")
        token = _bearer(scope)
        if app is None or token is None or getattr(app, "dependency_overrides", None):
            return None
        state = app.state
        tokens: Tokens = state.tokens
        standing: Standing | None = getattr(state, "standing", None)
        try:
            party = tokens.verify(token, int(time.time()))
            if standing is not None:
                party = await standing.check(party, reading=True)
            return read(state.services, party)
        except Exception:  # every refusal and failure is the app's to answer, with its own handlers
            return None
