"""From the API's answers to what the pricer takes: a ``QuoteRequest``, or the desk's reasons not to price.

Pure functions over the JSON the desk read (``api.desk.desk`` does the reading), so each rule is
tested without a server:

* **Whether the piece can be sold at all** (``unsellable``): the API must still show it to the
  bank, the requester must still hold it, and it must be unsplit, unfinanced, unclaimed, on an
  outstanding receivable. Otherwise the request is declined with that reason in words, before
  any credit is read.
* **The obligor** is the root debtor of the piece. A core enterprise is not scored (its decision
  is ``NOT_SCORED``): its PD comes from its record as a debtor (``GET /v1/banks/obligors/{party}``)
  by the policy's ``core_pd``, so the desk hands the pricer a ``DebtorRecord``. A supplier debtor
  is priced from its decision's PD (none when it has too little history: the pricer declines).
* **The seller** is the holder that asked; its PD and grade are priced only where the desk bears
  its risk (``scoring.pricing``), but always recorded.
* **The published limits** are those this bank published for the seller and, when the obligor is a
  supplier, for the obligor, unrevoked and valid at ``now``; none otherwise (the pricer declines
  where the bank bears that party's risk: a limit is a constraint, not a number on a page).
* **Outstanding** amounts are this bank's financed and still-offered prices on the obligor and
  bought from the seller (``GET /v1/banks/me/exposure``).
* **The model version** is the scoring model's hash the decisions name, recorded with the quote,
  and **the as-of block** the index stood at while the desk read all of this (``api.desk.desk``).
"""

from __future__ import annotations

from typing import Any

from scoring.pricing import CORE, SUPPLIER, DebtorRecord, QuoteRequest, Reason

#: A decision's status for a core enterprise (``scoring.decision.NOT_SCORED``).
NOT_SCORED = "NOT_SCORED"


def unsellable(request: dict[str, Any], piece: dict[str, Any] | None, root: dict[str, Any] | None) -> list[Reason]:
    """Why the requested piece cannot be bought now, in words (empty: it can)."""
    piece_id = request.get("pieceId")
    if piece is None or root is None:
        return [
            Reason(
                "PIECE_NOT_SHOWN",
                f"piece {piece_id} is no longer shown to this bank: the request was withdrawn or the piece is gone",
            )
        ]
    out: list[Reason] = []
    holder = request.get("holder")
    if piece.get("holder") != holder:
        out.append(Reason("PIECE_MOVED", f"piece {piece_id} is now held by {piece.get('holder')}, not by {holder}"))
    if piece.get("financed"):
        out.append(Reason("PIECE_FINANCED", f"piece {piece_id} is already financed"))
    if int(piece.get("childCount") or 0) > 0:
        out.append(Reason("PIECE_SPLIT", f"piece {piece_id} was split: only an unsplit piece is sold"))
    if int(piece.get("claimed") or 0) > 0:
        out.append(Reason("PIECE_CLAIMED", f"piece {piece_id} was already claimed on"))
    if root.get("status") != "OUTSTANDING":
        status = str(root.get("status", "unknown")).lower()
        out.append(Reason("RECEIVABLE_CLOSED", f"its receivable {root.get('rootId')} is {status}, not outstanding"))
    return out


def published_limit(limits: list[dict[str, Any]], bank: str, seller: str, now: int) -> int | None:
    """The limit ``bank`` published for ``seller``, if unrevoked and valid at ``now`` (None otherwise)."""
    for row in limits:
        mine = row.get("bank") == bank and row.get("party") == seller and not row.get("revoked")
        if mine and int(row.get("validUntil") or 0) > now:
            return int(row["limit"])
    return None


def model_version(*decisions: dict[str, Any] | None) -> str | None:
    """The scoring model's version hash the first of ``decisions`` names."""
    return next((str(d["model"]) for d in decisions if d and d.get("model")), None)


def debtor_record(record: dict[str, Any]) -> DebtorRecord:
    """``GET /v1/banks/obligors/{party}`` as the pricer's ``DebtorRecord``."""
    paydex = record.get("paydex12m")
    return DebtorRecord(
        paydex_12m=None if paydex is None else int(paydex),
        defaults_12m=int(record.get("defaults12m") or 0),
        receivables_outstanding=int(record.get("receivablesOutstanding") or 0),
    )


def is_core(decision: dict[str, Any] | None) -> bool:
    return decision is not None and decision.get("status") == NOT_SCORED


def quote_request(
    *,
    piece: dict[str, Any],
    root: dict[str, Any],
    now: int,
    obligor_decision: dict[str, Any] | None,
    obligor_record: dict[str, Any] | None,
    seller_decision: dict[str, Any] | None,
    seller_limit: int | None,
    exposure: dict[str, Any],
    as_of_block: int | None = None,
) -> QuoteRequest | list[Reason]:
    """The pricer's request from what the desk read; reasons in words when it cannot be built."""
    model = model_version(seller_decision, obligor_decision)
    if model is None:
        return [
            Reason(
                "NO_CREDIT_DECISION",
                "neither the seller nor the obligor has a credit decision on the ledger: nothing to price from",
            )
        ]
    record: DebtorRecord | None = None
    obligor_pd: int | None = None
    if is_core(obligor_decision):
        if obligor_record is None:
            return [Reason("OBLIGOR_NOT_SCORED", "the obligor (core enterprise) has no record as a debtor to price")]
        record = debtor_record(obligor_record)
    elif obligor_decision is not None and obligor_decision.get("pdBps") is not None:
        obligor_pd = int(obligor_decision["pdBps"])
    seller_pd = None if seller_decision is None else seller_decision.get("pdBps")
    return QuoteRequest(
        face=int(piece["amount"]),
        now=now,
        maturity=int(root["maturity"]),
        obligor_kind=CORE if record is not None else SUPPLIER,
        obligor_pd_bps=obligor_pd,
        obligor_record=record,
        seller_pd_bps=None if seller_pd is None else int(seller_pd),
        seller_grade=None if seller_decision is None else seller_decision.get("grade"),
        obligor_outstanding=int((exposure.get("obligor") or {}).get("outstanding") or 0),
        seller_outstanding=int((exposure.get("seller") or {}).get("outstanding") or 0),
        seller_limit=seller_limit,
        model_version=model,
        as_of_block=as_of_block,
    )
