"""``GET /v1/events``: the party's event feed (``api.v1.events``), as Server-Sent Events or as JSON pages.

**Which answer** is chosen by the ``Accept`` header: ``text/event-stream`` (what ``EventSource`` sends)
gets the stream; anything else (``*/*``, ``application/json``, none) a JSON page, for a client that
polls. The same parameters hold for both:

* ``after``: a cursor (an event's ``cursor``, the stream's ``id:``); the feed resumes after it. None:
  from the first event. ``Last-Event-ID`` (sent by ``EventSource`` when it reconnects) takes
  precedence over ``after``. A cursor that is not a decimal, or beyond the feed's newest event
  (another deployment's), is a 422 naming ``after`` or ``Last-Event-ID``.
* ``types``: comma-separated event types to keep (422 naming ``types`` for an unknown one).
* ``limit`` (pages only): at most this many events; ``nextAfter`` is where to resume, also when
  the page is empty, and ``hasMore`` says whether to ask again at once.

**The stream** opens with ``retry:`` (the reconnection delay, ms), then sends each event as
``id: <cursor>`` / ``event: <type>`` / ``data: <the event's JSON>``, and a comment line
(``: keep-alive``) after ``heartbeat`` seconds of silence, so proxies keep it open. It looks at the
journal every ``poll`` seconds (one sync and one head read per process for all its streams, and a
query for this party only when the head moved) and ends when the access token expires (after a last
comment saying so): reconnect with a new token, and ``Last-Event-ID``, to go on where it stopped.
Behind nginx, the ``X-Accel-Buffering: no`` header it sends turns proxy buffering off.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.v1.auth import Party
from api.v1.deps import ERRORS, Me
from api.v1.event_schemas import EventPage
from api.v1.events import PAGE, Feed, StreamOptions, parse_types, sse_frame

router = APIRouter(prefix="/events", tags=["events"], responses=ERRORS)

STREAM = "text/event-stream"
STREAM_DOC = {
    "description": (
        "the events as they happen (Accept: text/event-stream): `id:` the cursor, `event:` the type, `data:` the "
        "event's JSON (EventOut); comment lines as heartbeats"
    ),
    "content": {STREAM: {"schema": {"type": "string"}}},
}


def feed_of(request: Request) -> Feed:
    found: Feed = request.app.state.feed
    return found


@router.get("", response_model=EventPage, responses={200: STREAM_DOC})
async def events(
    request: Request,
    party: Me,
    after: Annotated[str | None, Query(max_length=40, description="resume after this cursor")] = None,
    types: Annotated[str | None, Query(max_length=400, description="comma-separated event types to keep")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="a page's size (JSON pages only)")] = 100,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=40, description="EventSource's resume cursor")
    ] = None,
) -> Response | EventPage:
    """The events you may see: a JSON page, or with ``Accept: text/event-stream`` a Server-Sent Events stream."""
    feed = feed_of(request)
    wanted = parse_types(types)
    head = await anyio.to_thread.run_sync(feed.refresh)
    start = feed.cursor(last_event_id, "Last-Event-ID", "header", head)
    if start is None:
        start = feed.cursor(after, "after", "query", head) or 0
    if STREAM in request.headers.get("accept", "").lower():
        options: StreamOptions = request.app.state.stream
        return StreamingResponse(
            stream(request, feed, party, start, wanted, options),
            media_type=STREAM,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    items, scanned = await anyio.to_thread.run_sync(feed.page, party, start, limit, wanted, max(head, start))
    return EventPage(items=items, nextAfter=scanned, hasMore=len(items) == limit)


async def stream(
    request: Request, feed: Feed, party: Party, after: int, types: frozenset[str] | None, options: StreamOptions
) -> AsyncIterator[bytes]:
    """The stream's frames: events after ``after`` as the journal grows, heartbeats, and the end at token expiry."""
    yield b"retry: %d\n\n" % options.retry_ms
    scanned = after
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        if time.time() >= party.expires_at:
            yield b": the access token expired; reconnect with a new one and Last-Event-ID\n\n"
            return
        head = await anyio.to_thread.run_sync(feed.refresh)
        while scanned < head:
            items, scanned = await anyio.to_thread.run_sync(feed.page, party, scanned, PAGE, types, head)
            for event in items:
                yield sse_frame(event)
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= options.heartbeat:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(options.poll)
