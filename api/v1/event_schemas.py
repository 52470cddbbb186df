"""Bodies of the event feed (``GET /v1/events``) and of webhooks (``/v1/webhooks``), pydantic v2.

The conventions are ``api.v1.schemas``'s: every uint256 (amounts, prices, limits, ids of pieces and roots,
nonces) is a decimal string, and so are the feed's cursors; block numbers, log positions and the times the
API or a block stamped are JSON numbers. An event's ``data`` is an object whose fields depend on its
``type`` (``api.v1.events`` lists them); it follows the same rule.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field

from api.v1.schemas import Request, SafeInt, UintOut

EventType = Literal[
    "financing_request.created",
    "financing_request.declined",
    "financing_request.withdrawn",
    "offer.created",
    "piece.financed",
    "receivable.repaid",
    "receivable.defaulted",
    "limit.published",
    "limit.revoked",
    "prepayment_request.created",
    "prepayment_request.declined",
    "prepayment_request.withdrawn",
    "prepayment_offer.created",
    "prepayment.released",
    "guarantee.claimed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
#: A webhook's ``eventTypes`` may be ``["*"]``: every type, those added later included.
ALL_TYPES = "*"
WebhookType = Literal[EventType, "*"]
DeliveryState = Literal["pending", "delivered", "failed"]
#: The longest webhook URL taken (what browsers and proxies commonly carry).
URL_MAX = 2048
DESCRIPTION_MAX = 200


class EventOut(BaseModel):
    """One event of the feed: the body of an SSE ``data:`` line, of a JSON page's item and of a webhook delivery."""

    id: str = Field(description="evt_ and 32 hex digits: stable for ever; a webhook receiver dedupes on it")
    cursor: UintOut = Field(
        description="the event's place in the feed (the SSE id): pass it as ?after= or Last-Event-ID to resume after it"
    )
    type: EventType
    occurredAt: SafeInt = Field(description="UTC seconds: the block's time for a fact on chain, else the API's stamp")
    data: dict[str, Any] = Field(description="the event's fields, by type (api.v1.events); uint256 as decimal strings")


class EventPage(BaseModel):
    items: list[EventOut]
    nextAfter: UintOut = Field(
        description="pass as ?after= for the next page (also when this one is empty: the feed was read up to it)"
    )
    hasMore: bool = Field(description="true: more events are waiting now; false: poll again later")


class WebhookIn(Request):
    url: Annotated[str, Field(min_length=1, max_length=URL_MAX)] = Field(
        description="http(s) URL the events are POSTed to; no user:password@ (deliveries carry a signature)"
    )
    eventTypes: Annotated[list[WebhookType], Field(min_length=1, max_length=len(EVENT_TYPES) + 1)] = Field(
        description='the types to deliver; ["*"]: every type, those added later included'
    )
    description: Annotated[str | None, Field(max_length=DESCRIPTION_MAX)] = None


class WebhookOut(BaseModel):
    id: str
    url: str
    eventTypes: list[str]
    description: str | None
    createdAt: SafeInt


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="the signing secret (whsec_...): shown this once; verify each delivery's SCF-Signature with it"
    )


class AttemptOut(BaseModel):
    attempt: SafeInt
    startedAt: SafeInt
    finishedAt: SafeInt | None = Field(description="null: under way, or interrupted (see error)")
    statusCode: SafeInt | None = Field(description="the receiver's HTTP status; null when none came back")
    error: str | None = Field(description="why it failed without a 2xx: a timeout, a refused connection, ...")
    nextAttemptAt: SafeInt | None = Field(description="when it is tried again after this attempt; null: no retry")


class DeliveryOut(BaseModel):
    id: UintOut
    eventId: str
    eventType: EventType
    eventCursor: UintOut
    state: DeliveryState = Field(description="pending (will be tried), delivered (answered 2xx), failed (gave up)")
    attempts: SafeInt
    createdAt: SafeInt
    nextAttemptAt: SafeInt | None
    deliveredAt: SafeInt | None
    log: list[AttemptOut] = Field(description="every attempt, oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    nextAfter: UintOut | None = Field(description="pass as ?after= for the next page; null on the last page")
