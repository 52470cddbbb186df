"""The ASGI layer in front of every ``/v1`` route: body size, media type, then idempotency.

It reads a request's body once (refusing it with 413 as soon as it passes the limit, a
lying Content-Length included), refuses a body that is not JSON with 415 naming
Content-Type, and for a POST with an ``Idempotency-Key`` either replays the stored answer or
runs the route (renewing the key's lease while it runs, and handing the route its claim in the
scope) and stores its answer (``idempotency.py``). Routes then read the buffered body as usual.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from api import errors, json_input
from api.errors import MediaTypeRefused, PayloadTooLarge, Unauthenticated
from api.v1.auth import Tokens
from api.v1.idempotency import HEADER, SCOPE_KEY, IdempotencyStore, Stored, check_key, request_hash

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_TYPES = ("application/json",)
WRITES = frozenset({"POST", "PUT", "PATCH"})


class Gate:
    def __init__(
        self,
        app: App,
        *,
        tokens: Tokens,
        idempotency: IdempotencyStore,
        max_body: int,
        large_paths: tuple[str, ...] = (),
        max_large_body: int = 0,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.idempotency = idempotency
        self.max_body = max_body
        self.large_paths = large_paths
        self.max_large_body = max_large_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        try:
            await self._write(scope, receive, send)
        except errors.DOMAIN_ERRORS as exc:
            await errors.response(exc)(scope, receive, send)

    def _limit(self, path: str) -> int:
        return self.max_large_body if path.startswith(self.large_paths) and self.large_paths else self.max_body

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self._limit(scope["path"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(int(declared), limit)
        body = await json_input.read_body(receive, limit)
        if body:
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media not in JSON_TYPES:
                raise MediaTypeRefused(media or "(none)", JSON_TYPES)
            json_input.check_body(body)  # before any route parses it: nesting, NaN, surrogates (api.json_input)

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        key = headers.get(HEADER)
        party = self._party(headers) if key is not None else None
        if key is None or party is None or scope["method"] != "POST":
            await self.app(scope, replay, send)
            return
        key = check_key(key)
        digest = request_hash(scope["method"], scope["path"], scope.get("query_string", b""), body)
        claim = await self.idempotency.claim(party, key, digest)
        if isinstance(claim, Stored):
            await _send_stored(send, claim)
            return
        scope[SCOPE_KEY] = claim  # the route reads it (claim_of) to record or find its effect
        captured = _Capture(send)
        failure: Exception | None = None
        try:
            async with anyio.create_task_group() as beats:
                beats.start_soon(self.idempotency.keep, claim)
                try:
                    await self.app(scope, replay, captured)
                except Exception as exc:  # kept out of the task group, which would wrap it in an ExceptionGroup
                    failure = exc
                beats.cancel_scope.cancel()
        except BaseException:
            with anyio.CancelScope(shield=True):  # a cancelled request still lets go of its key
                await self.idempotency.finish(claim, Stored(500, "", b""))
            raise
        if failure is not None:
            await self.idempotency.finish(claim, Stored(500, "", b""))
            raise failure
        await self.idempotency.finish(claim, captured.stored())

    def _party(self, headers: dict[str, str]) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            # The route checks revocation itself; the key needs only whose request this is.
            return self.tokens.read(token.strip(), int(time.time())).address
        except Unauthenticated:
            return None


class _Capture:
    """Passes the response through while keeping its status, media type and body."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.content_type = ""
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    self.content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))
        await self._send(message)

    def stored(self) -> Stored:
        return Stored(self.status, self.content_type, b"".join(self.body))


async def _send_stored(send: Send, stored: Stored) -> None:
    headers = [(b"content-length", str(len(stored.body)).encode()), (b"idempotent-replayed", b"true")]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})
