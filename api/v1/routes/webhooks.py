"""``/v1/webhooks``: a party's webhooks and their delivery log (``api.v1.webhooks``).

``POST /v1/webhooks {url, eventTypes, description?}`` makes one and answers its signing secret, this
once (201); ``GET /v1/webhooks`` lists the party's live ones (no secrets); ``DELETE
/v1/webhooks/{id}`` ends one (204; nothing more is queued or sent to it); ``GET
/v1/webhooks/{id}/deliveries?state=&after=&limit=`` is the delivery log, oldest first: each event
queued for it, its state (pending, delivered, failed), the next attempt's time, and every attempt
with the receiver's status code or the error. Another party's webhook answers 404. How deliveries
are signed, retried and verified: ``api.v1.webhooks.signing`` and ``api.v1.webhooks.dispatcher``.
A POST with an ``Idempotency-Key`` stores its answer, secret included, for the key's 24 hours, so that
a retry gets the same webhook and secret.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.v1.deps import ERRORS, Me
from api.v1.event_schemas import DeliveryPage, DeliveryState, WebhookCreatedOut, WebhookIn, WebhookOut
from api.v1.webhooks import WebhookBook

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=ERRORS)

WebhookId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


def book_of(request: Request) -> WebhookBook:
    found: WebhookBook = request.app.state.webhooks
    return found


@router.post("", status_code=201, response_model=WebhookCreatedOut)
def register(request: Request, party: Me, body: WebhookIn) -> WebhookCreatedOut:
    """A webhook for your events of ``eventTypes`` from now on; the answer holds its secret, shown only this once."""
    return book_of(request).register(party, body.url, body.eventTypes, body.description)


@router.get("", response_model=list[WebhookOut])
def webhooks(request: Request, party: Me) -> list[WebhookOut]:
    return book_of(request).webhooks(party)


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete(request: Request, party: Me, webhook_id: WebhookId) -> Response:
    book_of(request).delete(party, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def deliveries(
    request: Request,
    party: Me,
    webhook_id: WebhookId,
    state: DeliveryState | None = None,
    after: Annotated[int | None, Query(ge=1, lt=2**63, description="nextAfter of the last page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    items, next_after = book_of(request).deliveries(party, webhook_id, state, after, limit)
    return DeliveryPage(items=items, nextAfter=next_after)
