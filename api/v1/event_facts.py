"""What each source of the event feed becomes as an event (``api.v1.events``): a ``Fact`` with its type,
time, data and audience.

One function per source row (a financing or pre-payment request, an offer, a decline, a withdrawal, from the
API's store) and ``chain_data`` for a ledger event indexed from the chain (``CHAIN_EVENTS`` names the ones in
the feed). Every uint256 in the data is a decimal string; the data of each type is listed in the feed's module
docstring and typed in ``api.v1.event_schemas``. The audience is who may read it, by address
(``EVERY_BANK`` for a request to every bank), fixed when the fact is journaled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.v1.event_schemas import EventType
from api.v1.financing import EVERY_BANK

CHAIN_EVENTS: dict[tuple[str, str], EventType] = {
    ("Receivables", "PieceFinanced"): "piece.financed",
    ("Receivables", "ReceivableRepaid"): "receivable.repaid",
    ("Receivables", "ReceivableDefaulted"): "receivable.defaulted",
    ("CreditRegistry", "LimitPublished"): "limit.published",
    ("CreditRegistry", "LimitRevoked"): "limit.revoked",
    ("TradeEscrow", "PrepaymentReleased"): "prepayment.released",
    ("TradeEscrow", "GuaranteeClaimed"): "guarantee.claimed",
}


@dataclass(frozen=True)
class Fact:
    """A fact to journal: where it comes from (unique), its type, time, data and audience."""

    source: str
    type: EventType
    occurred_at: int
    data: dict[str, Any]
    audience: frozenset[str]


def _u(value: Any) -> str:
    return str(int(value))


def chain_data(kind: EventType, args: dict[str, Any]) -> dict[str, Any]:
    if kind == "piece.financed":
        return {
            "pieceId": _u(args["pieceId"]),
            "rootId": _u(args["rootId"]),
            "bank": args["bank"],
            "seller": args["seller"],
            "price": _u(args["price"]),
            "amount": _u(args["amount"]),
            "discountBps": _u(args["discountBps"]),
            "timeToMaturity": _u(args["timeToMaturity"]),
            "nonce": _u(args["nonce"]),
        }
    if kind == "receivable.repaid":
        return {
            "rootId": _u(args["rootId"]),
            "payer": args["payer"],
            "amount": _u(args["amount"]),
            "repaid": _u(args["repaid"]),
            "outstanding": _u(args["outstanding"]),
            "afterDefault": bool(args["afterDefault"]),
        }
    if kind == "receivable.defaulted":
        return {
            "rootId": _u(args["rootId"]),
            "debtor": args["debtor"],
            "outstanding": _u(args["outstanding"]),
            "by": args["by"],
        }
    if kind == "limit.published":
        return {
            "bank": args["bank"],
            "party": args["party"],
            "limit": _u(args["limit"]),
            "score": int(args["score"]),
            "grade": int(args["grade"]),
            "modelHash": args["modelHash"],
            "validUntil": _u(args["validUntil"]),
            "nonce": _u(args["nonce"]),
        }
    if kind == "prepayment.released":
        return {
            "orderId": _u(args["orderId"]),
            "supplier": args["supplier"],
            "guarantor": args["guarantor"],
            "amount": _u(args["amount"]),
            "fee": _u(args["fee"]),
            "limitLeft": _u(args["limitLeft"]),
            "nonce": _u(args["nonce"]),
        }
    if kind == "guarantee.claimed":
        return {
            "orderId": _u(args["orderId"]),
            "guarantor": args["guarantor"],
            "supplier": args["supplier"],
            "amount": _u(args["amount"]),
        }
    return {"bank": args["bank"], "party": args["party"]}


def request_fact(row: Any) -> Fact:
    return Fact(
        f"request:{row.id}:{row.created_at}",
        "financing_request.created",
        int(row.created_at),
        {
            "requestId": row.id,
            "pieceId": _u(row.piece_id),
            "holder": row.holder,
            "bank": None if row.bank == EVERY_BANK else row.bank,
            "createdAt": int(row.created_at),
            "expiresAt": None if row.expires_at is None else int(row.expires_at),
        },
        frozenset({row.holder, row.bank}),
    )


def offer_fact(row: Any) -> Fact:
    return Fact(
        f"offer:{row.id}",
        "offer.created",
        int(row.created_at),
        {
            "offerId": row.id,
            "pieceId": _u(row.piece_id),
            "holder": row.holder,
            "bank": row.bank,
            "price": _u(row.price),
            "deadline": _u(row.deadline),
            "nonce": _u(row.nonce),
        },
        frozenset({row.holder, row.bank}),
    )


def _reasons(text: str) -> list[dict[str, str]]:
    return [{"code": reason["code"], "text": reason["text"]} for reason in json.loads(text)]


def decline_fact(row: Any) -> Fact:
    """A bank's decline of one ask (its ``round``), of a financing request or of a pre-payment request: the request
    row joined (``piece_id``) says which. Seen by the one who asked and the declining bank, never by other banks."""
    source = f"decline:{row.request_id}:{row.bank}:{row.round}"
    common = {"requestId": row.request_id, "bank": row.bank, "round": int(row.round)}
    declined = {"reasons": _reasons(row.reasons), "declinedAt": int(row.created_at)}
    if row.piece_id is not None:
        data = {**common, "pieceId": _u(row.piece_id), "holder": row.holder, **declined}
        return Fact(source, "financing_request.declined", int(row.created_at), data, frozenset({row.holder, row.bank}))
    data = {**common, "orderId": _u(row.order_id), "supplier": row.supplier, **declined}
    return Fact(source, "prepayment_request.declined", int(row.created_at), data, frozenset({row.supplier, row.bank}))


def withdrawal_fact(row: Any) -> Fact:
    """The asker's withdrawal of one ask (its ``round``), of a financing or a pre-payment request (``piece_id``
    says which). Seen by the one who asked and the bank asked, or every bank."""
    source = f"withdrawal:{row.id}"
    at = int(row.withdrawn_at)
    if row.piece_id is not None:
        bank, asker = row.financing_bank, row.holder
        named = {"pieceId": _u(row.piece_id), "holder": asker}
        kind: EventType = "financing_request.withdrawn"
    else:
        bank, asker = row.prepayment_bank, row.supplier
        named = {"orderId": _u(row.order_id), "supplier": asker}
        kind = "prepayment_request.withdrawn"
    data = {
        "requestId": row.request_id,
        **named,
        "bank": None if bank == EVERY_BANK else bank,
        "round": int(row.round),
        "withdrawnAt": at,
    }
    return Fact(source, kind, at, data, frozenset({asker, bank}))


def prepayment_request_fact(row: Any) -> Fact:
    return Fact(
        f"prepayment_request:{row.id}:{row.created_at}",
        "prepayment_request.created",
        int(row.created_at),
        {
            "requestId": row.id,
            "orderId": _u(row.order_id),
            "supplier": row.supplier,
            "bank": None if row.bank == EVERY_BANK else row.bank,
            "amount": _u(row.amount),
            "createdAt": int(row.created_at),
            "expiresAt": int(row.expires_at),
        },
        frozenset({row.supplier, row.bank}),
    )


def prepayment_offer_fact(row: Any) -> Fact:
    return Fact(
        f"prepayment_offer:{row.id}",
        "prepayment_offer.created",
        int(row.created_at),
        {
            "offerId": row.id,
            "requestId": row.request_id,
            "orderId": _u(row.order_id),
            "supplier": row.supplier,
            "bank": row.bank,
            "amount": _u(row.amount),
            "fee": _u(row.fee),
            "deadline": _u(row.deadline),
            "nonce": _u(row.nonce),
            "round": int(row.round),
        },
        frozenset({row.supplier, row.bank}),
    )
