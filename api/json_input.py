"""Request bodies of every HTTP service, held to ``oracles.strict_json``'s rules before any route sees them.

Three services take JSON from anyone who can reach them: the ``/v1`` API, the oracle capture
service and the aggregator. Each must answer any byte sequence with a 4xx naming the problem,
and none may crash. Two layers make that so:

- **The process.** ``py_ecc`` (imported by eth-account, so by every service) raises the
  interpreter's recursion limit to 100,000, and py-evm (the embedded chain) to 12,288. That limit
  is the only guard of C code that recurses, the JSON decoder among it: past roughly 80,000
  levels the C stack overflows and the process dies with a segfault (``make run``'s in-process
  indexer with it). :func:`api.recursion.sane_recursion_limit` brings the limit back down; ``api.errors.install``
  calls it, and every service's app goes through ``install``, after those imports have run.
- **The body.** :func:`check_body` decodes a body under ``oracles.strict_json`` (the same rules
  the EPCIS capture applies: UTF-8, nesting at most 100 deep, no NaN/Infinity, no unpaired
  surrogate, numbers of at most 100 characters and finite) before the route's own parsing, and
  raises ``oracles.errors.MalformedJson`` (400 ``malformed_json``) or ``InvalidField`` (422,
  a number no field can hold), each naming the JSON path, line and column. The ``/v1`` Gate calls
  it right after reading the body; :class:`JsonBodyGuard` does the Gate's job (size, media type,
  this check) for a service without one, the aggregator.

The capture route reads its own body and hands it to ``oracles.epcis.parse_document``, which
applies the same rules through ``oracles.strict_json``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api import errors
from api.errors import InvalidField, MediaTypeRefused, PayloadTooLarge
from oracles import strict_json
from oracles.errors import ValueOutOfRange

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_MEDIA_TYPES = ("application/json",)
WRITES = frozenset({"POST", "PUT", "PATCH"})


def check_body(body: bytes) -> None:
    """Refuse a JSON body no service can safely take (see the module docstring); the route parses it."""
    try:
        strict_json.loads(body)
    except ValueOutOfRange as exc:
        raise InvalidField(exc.path or "body", exc.reason) from exc


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, refused with ``PayloadTooLarge`` as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class JsonBodyGuard:
    """ASGI middleware for a JSON service without the ``/v1`` Gate: every write's body is at most
    ``max_body`` bytes (413, a lying Content-Length included), JSON by media type (415) and by
    :func:`check_body` (400/422), before the app reads it from the buffer."""

    def __init__(self, app: App, *, max_body: int, media_types: tuple[str, ...] = JSON_MEDIA_TYPES) -> None:
        self.app = app
        self.max_body = max_body
        self.media_types = media_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._body(scope, receive)
        except errors.DOMAIN_ERRORS as exc:
            await errors.response(exc)(scope, receive, send)
            return

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(int(declared), self.max_body)
        body = await read_body(receive, self.max_body)
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in self.media_types:
            raise MediaTypeRefused(media or "(none)", self.media_types)
        check_body(body)
        return body
