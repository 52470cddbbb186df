"""Projections of Receivables: roots (the receivables issued), their pieces, and what happened to them.

A root row equals ``rootOf`` with its status (``statusOf``) as ReceivableStatus's name; a piece row
``pieceOf`` and ``ownerOf`` (the piece of id ``rootId`` is the whole receivable, created with
it); financings, repayments and claims are rows of one event each.
"""

from __future__ import annotations

from ledger.domain.receivables import ReceivableStatus
from ledger.index.projections.bulk import Row
from ledger.index.projections.projector import Event, Page, Touch, on
from ledger.index.sql.types import ZERO_HASH

# ReceivableStatus's names (a root row's ``status``), bound once: reading an enum member is a
# descriptor call (a few hundred ns), and a handler runs once per event.
_OUTSTANDING, _REPAID, _DEFAULTED = (
    status.name for status in (ReceivableStatus.OUTSTANDING, ReceivableStatus.REPAID, ReceivableStatus.DEFAULTED)
)


def _root_status(row: Row) -> str:
    if row["repaid"] == row["face_value"]:
        return _REPAID
    return _DEFAULTED if row["defaulted_at"] else _OUTSTANDING


@on(
    "Receivables",
    "ReceivableIssued",
    lambda log: [("roots", (log.args["rootId"],)), ("pieces", (log.args["rootId"],))],
)
def _issued(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    root_id, block = a["rootId"], log.block_number
    page.create(
        "roots",
        (root_id,),
        {
            "debtor": a["debtor"],
            "creditor": a["creditor"],
            "token": a["token"],
            "face_value": a["faceValue"],
            "maturity": a["maturity"],
            "issued_at": timestamp,
            "defaulted_at": 0,
            "invoice_hash": a["invoiceHash"],
            "fingerprint": a["fingerprint"],
            "invoice_commitment": a["invoiceCommitment"],
            "order_id": a["orderId"],
            "nonce": a["nonce"],
            "submitter": a["submitter"],
            "repaid": 0,
            "claimed": 0,
            "status": _OUTSTANDING,
            "issued_block": block,
        },
    )
    page.create(
        "pieces", (root_id,), _new_piece(root_id, 0, a["faceValue"], ZERO_HASH, False, timestamp, a["creditor"], block)
    )


def _new_piece(
    root_id: int, parent_id: int, amount: int, ref: str, financed: bool, timestamp: int, holder: str, block: int
) -> Row:
    return {
        "root_id": root_id,
        "parent_id": parent_id,
        "amount": amount,
        "claimed": 0,
        "ref": ref,
        "first_child_id": 0,
        "child_count": 0,
        "financed": financed,
        "created_at": timestamp,
        "holder": holder,
        "created_block": block,
    }


def _piece(log: Event) -> list[Touch]:
    return [("pieces", (log.args["pieceId"],))]


@on("Receivables", "PieceSplit", _piece)
def _split(page: Page, log: Event) -> None:
    row = page.get("pieces", (log.args["pieceId"],))
    if row is not None:
        row.update(first_child_id=log.args["firstChildId"], child_count=log.args["childCount"])


@on("Receivables", "PieceCreated", _piece)
def _piece_created(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    values = _new_piece(
        a["rootId"], a["parentId"], a["amount"], a["ref"], a["financed"], timestamp, a["holder"], log.block_number
    )
    page.create("pieces", (a["pieceId"],), values)


@on("Receivables", "Transfer", lambda log: [("pieces", (log.args["tokenId"],))])
def _piece_transfer(page: Page, log: Event) -> None:
    row = page.get("pieces", (log.args["tokenId"],))
    if row is not None:
        row["holder"] = log.args["to"]


@on("Receivables", "PieceFinanced", _piece)
def _financed(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("pieces", (a["pieceId"],))
    if row is not None:
        row["financed"] = True
    page.fact(
        "financings",
        {
            "piece_id": a["pieceId"],
            "root_id": a["rootId"],
            "bank": a["bank"],
            "seller": a["seller"],
            "price": a["price"],
            "amount": a["amount"],
            "discount_bps": a["discountBps"],
            "time_to_maturity": a["timeToMaturity"],
            "nonce": a["nonce"],
            "financed_at": timestamp,
        },
    )


def _root(log: Event) -> list[Touch]:
    return [("roots", (log.args["rootId"],))]


@on("Receivables", "ReceivableRepaid", _root)
def _repaid(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("roots", (a["rootId"],))
    if row is not None:
        row["repaid"] = a["repaid"]
        row["status"] = _root_status(row)
    page.fact(
        "repayments",
        {
            "root_id": a["rootId"],
            "payer": a["payer"],
            "amount": a["amount"],
            "repaid": a["repaid"],
            "outstanding": a["outstanding"],
            "after_default": a["afterDefault"],
            "paid_at": timestamp,
        },
    )


@on("Receivables", "PieceClaimed", lambda log: [*_piece(log), *_root(log)])
def _claimed(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    piece = page.get("pieces", (a["pieceId"],))
    if piece is not None:
        piece["claimed"] = a["claimed"]
    root = page.get("roots", (a["rootId"],))
    if root is not None:
        root["claimed"] += a["amount"]
    page.fact(
        "claims",
        {
            "piece_id": a["pieceId"],
            "root_id": a["rootId"],
            "holder": a["holder"],
            "amount": a["amount"],
            "claimed": a["claimed"],
            "claimed_at": timestamp,
        },
    )


@on("Receivables", "ReceivableDefaulted", _root)
def _defaulted(page: Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("roots", (log.args["rootId"],))
    if row is not None:
        row["defaulted_at"] = timestamp
        row["status"] = _root_status(row)
