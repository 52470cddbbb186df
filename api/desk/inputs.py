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

**Pre-shipment finance** (a pre-payment request: ``unprepayable``, ``no_room``,
``prepayment_quote_request``) reads the same credit, with the order's buyer as the obligor and its
supplier as the seller. What cannot be pre-paid is declined before any credit is read (the request no
longer shown, the order not funded or already pre-paid); what the escrow would refuse for this bank
(the whole amount beyond the limit it published for the supplier, or its guarantee pool too small) is
declined in words before pricing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scoring.pricing import CORE, PRE_SHIPMENT, SUPPLIER, DebtorRecord, QuoteRequest, Reason

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


def _credit(
    obligor_decision: dict[str, Any] | None,
    obligor_record: dict[str, Any] | None,
    seller_decision: dict[str, Any] | None,
) -> dict[str, Any] | list[Reason]:
    """The credit part of a ``QuoteRequest`` (model, obligor, seller), or reasons in words when it cannot be built."""
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
    return {
        "obligor_kind": CORE if record is not None else SUPPLIER,
        "obligor_pd_bps": obligor_pd,
        "obligor_record": record,
        "seller_pd_bps": None if seller_pd is None else int(seller_pd),
        "seller_grade": None if seller_decision is None else seller_decision.get("grade"),
        "model_version": model,
    }


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
    """The pricer's request for a piece from what the desk read; reasons in words when it cannot be built."""
    credit = _credit(obligor_decision, obligor_record, seller_decision)
    if isinstance(credit, list):
        return credit
    return QuoteRequest(
        face=int(piece["amount"]),
        now=now,
        maturity=int(root["maturity"]),
        obligor_outstanding=_outstanding(exposure.get("obligor")),
        seller_outstanding=_outstanding(exposure.get("seller")),
        seller_limit=seller_limit,
        as_of_block=as_of_block,
        **credit,
    )


def _outstanding(part: dict[str, Any] | None) -> int:
    return int((part or {}).get("outstanding") or 0)


# -- pre-shipment finance -----------------------------------------------------------------------------


def unprepayable(request: dict[str, Any], current: dict[str, Any] | None, money: Callable[[int], str]) -> list[Reason]:
    """Why the order of a pre-payment request cannot be pre-paid now, in words (empty: it can). ``current`` is the
    request as the API shows it now (None: no longer shown to this bank)."""
    order = None if current is None else current.get("order")
    if current is None or current.get("state") == "withdrawn" or order is None:
        return [
            Reason(
                "REQUEST_NOT_SHOWN",
                f"pre-payment request {request.get('id')} is no longer shown to this bank: it was withdrawn or its "
                f"order {request.get('orderId')} is gone",
            )
        ]
    out: list[Reason] = []
    order_id = order.get("orderId")
    if order.get("status") != "FUNDED":
        status = str(order.get("status", "unknown")).lower()
        out.append(Reason("ORDER_NOT_FUNDED", f"order {order_id} is {status}: only a funded order is pre-paid"))
    if int(order.get("prepaid") or 0) > 0:
        out.append(Reason("ORDER_PREPAID", f"order {order_id} was already pre-paid ({money(int(order['prepaid']))})"))
    amount, whole = int(current.get("amount") or 0), int(order.get("amount") or 0)
    if amount > whole:
        out.append(
            Reason(
                "AMOUNT_ABOVE_ORDER", f"the request asks {money(amount)}, more than order {order_id}'s {money(whole)}"
            )
        )
    return out


def no_room(*, amount: int, limit: int | None, pool: dict[str, Any], money: Callable[[int], str]) -> list[Reason]:
    """Why the escrow would refuse to draw ``amount`` on this bank now, in words (empty: it has room).

    TradeEscrow counts the **whole amount** (not the price) against the limit this bank published for the
    supplier, on top of its exposure to the supplier on chain, and reserves it in this bank's guarantee pool.
    The desk also counts what its own open offers could still draw (``GET /v1/banks/me/pool``'s ``offered``),
    as every open offer is firm until its deadline. No limit, or a limit of 0, is the pricer's decline
    (``NO_PUBLISHED_LIMIT``, ``SELLER_LIMIT_ZERO``), in its words.
    """
    out: list[Reason] = []
    supplier = pool.get("supplier") or {}
    exposure, offered = int(supplier.get("exposure") or 0), int(supplier.get("offered") or 0)
    if limit and exposure + offered + amount > limit:
        out.append(
            Reason(
                "EXPOSURE_LIMIT",
                f"the escrow counts the whole pre-payment against the {money(limit)} limit this bank published for "
                f"the supplier: its pre-payments backed on chain ({money(exposure)}) and this bank's open offers to "
                f"it ({money(offered)}) plus this {money(amount)} would exceed it",
            )
        )
    available, promised = int(pool.get("available") or 0), int(pool.get("offered") or 0)
    if promised + amount > available:
        out.append(
            Reason(
                "POOL_INSUFFICIENT",
                f"this bank's guarantee pool has {money(available)} available, {money(promised)} of it promised to "
                f"open offers: not enough to reserve this {money(amount)} for the buyer",
            )
        )
    return out


def prepayment_quote_request(
    *,
    current: dict[str, Any],
    now: int,
    obligor_decision: dict[str, Any] | None,
    obligor_record: dict[str, Any] | None,
    seller_decision: dict[str, Any] | None,
    seller_limit: int | None,
    exposure: dict[str, Any],
    pool: dict[str, Any],
    as_of_block: int | None = None,
) -> QuoteRequest | list[Reason]:
    """The pricer's ``pre-shipment`` request for a pre-payment request as the API shows it now (``current``).

    The face is the amount drawn; the obligor is the order's buyer, whose payment repays it; the seller is the
    supplier, whose risk the bank bears (it fails, the pool refunds the buyer). The tenor runs to the latest the
    order's payment can release the guarantee: its ``deliverBy`` plus the escrow's claim window (the request
    shows both). The seller's outstanding is this bank's pre-shipment credit to it: backed on chain and
    offered (the pool's ``supplier.outstanding``), which its published limit caps; the obligor's is this bank's
    financing on the buyer (``GET /v1/banks/me/exposure``).
    """
    credit = _credit(obligor_decision, obligor_record, seller_decision)
    if isinstance(credit, list):
        return credit
    order = current["order"]
    return QuoteRequest(
        face=int(current["amount"]),
        kind=PRE_SHIPMENT,
        now=now,
        maturity=int(order["deliverBy"]) + int(order["claimWindow"]),
        obligor_outstanding=_outstanding(exposure.get("obligor")),
        seller_outstanding=_outstanding(pool.get("supplier")),
        seller_limit=seller_limit,
        as_of_block=as_of_block,
        **credit,
    )
