"""A bank's decline of a financing request, in words, for the holder to read.

A bank that makes no offer on a request says why: ``POST /v1/financing-requests/{id}/decline``
with its reasons, each a machine code and a sentence (as ``scoring.pricing`` writes them: "the
seller's outstanding financing with this bank (...) plus this price (...) would exceed the ...
limit this bank published for it"). The holder reads them in its inbox, with the request
(``declines``), and a request to one bank that the bank declined reads ``declined``
(``api.v1.financing.state_of``), so an applicant is never left waiting for an answer that came.

**One answer per ask.** The API keeps one request row per piece, holder and bank, and reopens it
when the holder asks again: same id, a new ``created_at``. A decline answers the ask it was made
on: it is stored with the request's ``created_at`` then (its ``round``), and shown only while the
request is in that round. Asking again after a decline reopens the request as a new round, which
the bank answers afresh. A bank declines once per round: declining again answers the first
decline unchanged (the first reasons stand, as a signed offer's terms do).

**Storage.** The table is declared here, beside the code that writes it, on the store's metadata
(``api.v1.store``), and made by the store's Alembic history (``api.v1.migrate``: its baseline
revision). ``api.v1.financing`` imports this module, and the app imports that before it migrates. The
event feed (``api.v1.events``) journals each decline once, as a financing or a pre-payment request's by the
table that holds its request's id.

The request and response bodies live here too (``api.v1.schemas`` is near its size limit, and shows
``DeclineOut`` in ``FinancingRequestOut``): this module imports nothing of the API but the store.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from api.v1 import store

#: One row per bank's decline of one round of a request.
declines = Table(
    "api_financing_declines",
    store.metadata,
    Column("request_id", String(36), primary_key=True),
    Column("bank", store.ADDRESS, primary_key=True),
    Column("round", BigInteger, primary_key=True),  # the request's created_at when it was declined
    Column("reasons", Text, nullable=False),  # JSON: [{"code": ..., "text": ...}, ...]
    Column("created_at", BigInteger, nullable=False),  # by the same clock as the request's (FinancingBook.now)
    # The event feed's scan of recent declines (``api.v1.events``; ``api.v1.migrate`` step 5 on older databases).
    Index("ix_api_financing_declines_created", "created_at"),
)

MAX_REASONS = 16
MAX_TEXT = 1_000
MAX_SAFE_INTEGER = 2**53 - 1


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$", description="a machine code, e.g. EXPOSURE_LIMIT")]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="the reason in plain words")]


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasons: Annotated[list[ReasonIn], Field(min_length=1, max_length=MAX_REASONS)]


class ReasonOut(BaseModel):
    code: str
    text: str


class DeclineOut(BaseModel):
    bank: str
    reasons: list[ReasonOut]
    declinedAt: int = Field(ge=0, le=MAX_SAFE_INTEGER, description="UTC seconds, by the clock that stamps requests")


def reasons_text(body: DeclineIn) -> str:
    return json.dumps([r.model_dump() for r in body.reasons], separators=(",", ":"), ensure_ascii=False)


def decline_out(row: Any) -> DeclineOut:
    reasons = [ReasonOut(**reason) for reason in json.loads(row.reasons)]
    return DeclineOut(bank=row.bank, reasons=reasons, declinedAt=row.created_at)
