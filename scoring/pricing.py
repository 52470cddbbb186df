"""A bank desk's price for one piece of financing, from its policy file, exact to the token unit.

``quote(policy, request)`` gives a ``Quote`` (price, discount, APR, the rate's components and the
reasons in words) or a ``Decline`` (each reason in plain words with a machine code). Either one
records the policy hash, the scoring model's version and every input (``inputs()``, canonical JSON,
integers and decimal strings only), so ``recompute(policy, recorded)`` gives the same object back
from the record, and ``audit`` names what differs. Nothing here reads the chain or signs: the desk
gathers the inputs (PDs from the scorer, exposures from the index, the limit it published), this
module only prices them.

**Price**, in the anchors' terms (Centrifuge Tinlake's discounting of an asset by its risk group)::

    PV = face * (1 - PD_t * LGD) / (1 + r)^t,      t = tenor days / 365
    price = min(PV, face * advance rate), floored to the token unit

* ``r`` = base rate of the tenor (the policy's curve) + the obligor's spread (its PD's band) + the
  seller's spread (its PD's band) where the desk bears the seller's risk: a receivable bought
  **with recourse** to the seller, or **pre-shipment** finance (repaid only if the seller delivers).
  Compounded once a year, so that a rate means the same at every tenor.
* ``PD_t``, the chance of a loss within the tenor, from an annual PD ``p`` as a constant hazard:
  ``PD_t = 1 - (1 - p)^t`` (not ``p * t``, which exceeds 1 for a bad PD over a long tenor). The
  annual PD of a loss is the obligor's for a receivable (recourse is not credited as a recovery:
  a desk that counts on it sets a lower LGD), and for pre-shipment finance the chance that the
  seller fails to deliver or the obligor fails to pay: ``1 - (1 - p_obligor) * (1 - p_seller)``.
* The obligor is the root debtor of the piece. A supplier debtor's PD is its scorecard PD; a core
  enterprise is not scored (``scoring.decision``), so its PD follows from its debtor record by the
  policy's ``core_pd`` parameters (``core_pd_bps``). The receivables it has outstanding are shown
  with the price but move no PD: their size says nothing of its punctuality without its financials,
  and the desk's own exposure to it is bounded by the concentration cap instead.

**Exact, deterministic arithmetic.** Each non-integer step is one ``decimal`` operation in a local
context of 60 significant digits (``CONTEXT``), rounded once to an integer in units of 10**-27
(``RAY``, Tinlake's fixed point), always against the desk: the tenor PD and ``(1 + r)^t`` rounded
up. Everything after is integer arithmetic, and each ray-valued step is recorded with the quote::

    tenor_pd_ray = ceil((1 - (1 - p)^t) * RAY)
    expected_loss_ray = ceil(tenor_pd_ray * lgd_bps / 10_000)
    growth_ray = ceil((1 + r)^t * RAY)
    factor_ray = floor((RAY - expected_loss_ray) * RAY / growth_ray)
    present_value = floor(face * factor_ray / RAY)

No float touches money; a face up to 2**256 - 1 is exact. The tenor is the piece's time to
maturity in whole days, a part day counting as a day. Shown with the price: the **discount**,
(face - price) / face, and the **APR**, simple and annual on the price: (face - price) / price *
365 / tenor days (none at tenor 0); both floored to a basis point.

**Monotone by construction**: the curve never falls with tenor, spreads never fall with PD, the
core PD never falls as PAYDEX falls or defaults rise, and every rounding is monotone, so a better
PD or grade never gets a lower price for the same obligor, face and tenor, and a longer tenor never
a higher one. The caps are the one exception a bank expects: a higher price may exceed a cap that
a lower one fits under.

**A published limit caps credit to the party it was published for.** The scorer's limit for a
supplier is sized on its own sales (a multiple of its monthly verified sales by grade): what the
bank lends it. So the seller's published limit caps what the bank has bought from it where the
bank bears the seller's risk (recourse, pre-shipment), as the escrow's assured pre-payment counts
exposure against the same limit on chain. Buying a receivable without recourse is credit to its
obligor, not to the seller. That is reverse factoring, whose point is that a small seller's own
credit does not limit it, so such a seller needs no limit of its own; but a limit of 0 the bank
published for it (a flagged party, or one below its grades) is a refusal to deal, and declines it.
The obligor's risk is priced from its PD and bounded by the policy's concentration cap per
obligor. Its sales-sized limit is not a debtor limit: one invoice to a supplier is often larger
than a month of the obligor's verified sales, and the bank can hold no more of an obligor's paper
than the obligor issued.

**Declines**: the product not offered, a piece past maturity, a tenor out of bounds, an obligor or
seller without a score or with a PD above the policy's maximum, no limit published for a seller
whose risk the bank would bear, a seller with a published limit of 0; then, priced: a price of
0, the seller's outstanding financing plus the price above the limit the bank published for it
(where it bears the seller's risk), or above the policy's concentration cap per obligor or per
seller. Checks before pricing come
first and all of them are reported together.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from scoring.errors import PolicyMismatch, QuoteRequestError
from scoring.features import FeatureTable
from scoring.policy import BPS, MAX_UINT256, PRE_SHIPMENT, PRODUCTS, RECEIVABLE, CorePd, Policy
from scoring.scorecard import canonical

__all__ = [
    "CORE",
    "PRE_SHIPMENT",
    "RECEIVABLE",
    "SUPPLIER",
    "DebtorRecord",
    "Decline",
    "Quote",
    "QuoteRequest",
    "Reason",
    "audit",
    "core_pd_bps",
    "quote",
    "recompute",
]

CORE, SUPPLIER = "core", "supplier"
RAY = 10**27
E8 = BPS * BPS  # a probability in units of 10**-8: the product of two PDs in basis points stays exact
DAY = 86_400
YEAR_DAYS = 365
PRECISION = 60
#: The context every decimal step runs in (a fresh copy per step, whatever the caller's thread context says).
CONTEXT = Context(
    prec=PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_VERSION = re.compile(r"0x[0-9a-f]{64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")
_GRADE = re.compile(r"[A-Za-z][A-Za-z+\-]{0,7}")


@dataclass(frozen=True, kw_only=True)
class DebtorRecord:
    """A core enterprise's record as a debtor on the ledger, as ``Scorer._debtor_record`` shows it."""

    paydex_12m: int | None  # PAYDEX-like 1..100 over 12 months (80: on time); None: nothing fell due
    defaults_12m: int
    receivables_outstanding: int  # token units it owes on receivables not yet repaid

    def __post_init__(self) -> None:
        if self.paydex_12m is not None:
            _int(self.paydex_12m, "obligor_record.paydex_12m", 1, 100)
        _int(self.defaults_12m, "obligor_record.defaults_12m", 0, 2**32)
        _int(self.receivables_outstanding, "obligor_record.receivables_outstanding", 0, MAX_UINT256)

    def to_json(self) -> dict[str, Any]:
        return {
            "paydex_12m": self.paydex_12m,
            "defaults_12m": self.defaults_12m,
            "receivables_outstanding": str(self.receivables_outstanding),
        }

    @classmethod
    def from_json(cls, obj: Any) -> DebtorRecord:
        body = _exact(obj, "obligor_record", {"paydex_12m", "defaults_12m", "receivables_outstanding"})
        return cls(
            paydex_12m=body["paydex_12m"],
            defaults_12m=body["defaults_12m"],
            receivables_outstanding=_amount_in(
                body["receivables_outstanding"], "obligor_record.receivables_outstanding"
            ),
        )


def debtor_record_of(table: FeatureTable, i: int) -> DebtorRecord:
    """Row ``i``'s record as a debtor from the scorer's feature table: what ``GET /v1/banks/obligors``
    answers and what the ``--offers`` audit checks a quote's record against."""

    def number(name: str) -> int | None:
        value = float(table.values[name][i])
        return None if math.isnan(value) else int(value)

    return DebtorRecord(
        paydex_12m=number("paydex_12m"),
        defaults_12m=number("defaults_12m") or 0,
        receivables_outstanding=number("receivables_outstanding") or 0,
    )


@dataclass(frozen=True, kw_only=True)
class QuoteRequest:
    """Everything a price depends on besides the policy; validated on construction (``QuoteRequestError``).

    The tenor is either ``tenor_seconds`` or ``now`` and ``maturity`` (UTC seconds). The obligor
    is the root debtor: a ``core`` with its ``obligor_record``, or a ``supplier`` with its
    ``obligor_pd_bps`` (None: not scored). ``seller_limit`` is the limit this bank published for
    the seller (None: none, or expired); outstanding amounts are this bank's financing now
    outstanding on the obligor and bought from the seller, from the index.

    ``as_of_block`` is the indexed block the desk read those ledger inputs at (its limits, its
    exposure, and the credit decisions as of that block less the API's confirmations), so an
    auditor recomputes the inputs as of that block. It moves no price; None (a record made before
    desks recorded it) is left out of the JSON, so such a record still recomputes to itself.
    """

    face: int
    kind: str = RECEIVABLE
    recourse: bool = False
    tenor_seconds: int | None = None
    now: int | None = None
    maturity: int | None = None
    obligor_kind: str
    obligor_pd_bps: int | None = None
    obligor_record: DebtorRecord | None = None
    seller_pd_bps: int | None = None
    seller_grade: str | None = None
    obligor_outstanding: int = 0
    seller_outstanding: int = 0
    seller_limit: int | None = None
    model_version: str
    as_of_block: int | None = None

    def __post_init__(self) -> None:
        _int(self.face, "face", 1, MAX_UINT256)
        if self.kind not in PRODUCTS:
            raise QuoteRequestError("kind", f"must be one of {', '.join(PRODUCTS)}, not {self.kind!r}")
        if not isinstance(self.recourse, bool):
            raise QuoteRequestError("recourse", f"must be true or false, not {self.recourse!r}")
        if self.tenor_seconds is None:
            if self.now is None or self.maturity is None:
                raise QuoteRequestError("tenor_seconds", "missing: give tenor_seconds, or now and maturity")
            _int(self.now, "now", 0, MAX_UINT256)
            _int(self.maturity, "maturity", 0, MAX_UINT256)
        else:
            if self.now is not None or self.maturity is not None:
                raise QuoteRequestError("tenor_seconds", "give tenor_seconds or now and maturity, not both")
            _int(self.tenor_seconds, "tenor_seconds", 0, MAX_UINT256)
        if self.obligor_kind == CORE:
            if not isinstance(self.obligor_record, DebtorRecord):
                raise QuoteRequestError("obligor_record", "missing: a core obligor's PD comes from its debtor record")
            if self.obligor_pd_bps is not None:
                raise QuoteRequestError("obligor_pd_bps", "must be empty for a core obligor (derived from its record)")
        elif self.obligor_kind == SUPPLIER:
            if self.obligor_record is not None:
                raise QuoteRequestError("obligor_record", "must be empty for a supplier obligor (it has a PD)")
            if self.obligor_pd_bps is not None:
                _int(self.obligor_pd_bps, "obligor_pd_bps", 0, BPS)
        else:
            raise QuoteRequestError("obligor_kind", f"must be {CORE} or {SUPPLIER}, not {self.obligor_kind!r}")
        if self.seller_pd_bps is not None:
            _int(self.seller_pd_bps, "seller_pd_bps", 0, BPS)
        if self.seller_grade is not None and not (
            isinstance(self.seller_grade, str) and _GRADE.fullmatch(self.seller_grade)
        ):
            raise QuoteRequestError("seller_grade", f"not a grade: {self.seller_grade!r}")
        _int(self.obligor_outstanding, "obligor_outstanding", 0, MAX_UINT256)
        _int(self.seller_outstanding, "seller_outstanding", 0, MAX_UINT256)
        if self.seller_limit is not None:
            _int(self.seller_limit, "seller_limit", 0, MAX_UINT256)
        if not isinstance(self.model_version, str) or not _VERSION.fullmatch(self.model_version):
            raise QuoteRequestError("model_version", "must be 0x and 64 lower-case hex digits (the model's hash)")
        if self.as_of_block is not None:
            _int(self.as_of_block, "as_of_block", 0, MAX_BLOCK)

    @property
    def seconds(self) -> int:
        """Time to maturity in seconds; negative when the piece is past it."""
        if self.tenor_seconds is not None:
            return self.tenor_seconds
        assert self.now is not None and self.maturity is not None  # __post_init__ saw to it
        return self.maturity - self.now

    @property
    def seller_risk(self) -> bool:
        """Whether the desk bears the seller's risk: recourse to it, or finance before shipment."""
        return self.recourse or self.kind == PRE_SHIPMENT

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, DebtorRecord):
                value = value.to_json()
            elif f.name in _AMOUNTS and value is not None:
                value = str(value)
            elif f.name in _OPTIONAL and value is None:
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, obj: Any) -> QuoteRequest:
        names = {f.name for f in fields(cls)}
        if isinstance(obj, Mapping):
            obj = {**{name: None for name in _OPTIONAL}, **obj}  # left out of the record when None
        body = dict(_exact(obj, "request", names))
        for name in _AMOUNTS:
            if body[name] is not None:
                body[name] = _amount_in(body[name], name)
        if body["obligor_record"] is not None:
            body["obligor_record"] = DebtorRecord.from_json(body["obligor_record"])
        return cls(**body)


#: Request fields left out of its JSON when None: added after records were made without them.
_OPTIONAL = ("as_of_block",)
#: A block number: within a JSON number (2**53 - 1), as the API's integers.
MAX_BLOCK = 2**53 - 1
_AMOUNTS = (
    "face",
    "tenor_seconds",
    "now",
    "maturity",
    "obligor_outstanding",
    "seller_outstanding",
    "seller_limit",
)


@dataclass(frozen=True)
class Reason:
    """One reason in words, with the code a machine matches on."""

    code: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True, kw_only=True)
class Quote:
    """A price and how it was made: every step an integer, recorded (see the module's docstring)."""

    price: int
    face: int
    tenor_days: int
    discount_bps: int
    apr_bps: int | None
    rate_bps: int
    base_rate_bps: int
    obligor_spread_bps: int
    seller_spread_bps: int
    obligor_pd_bps: int
    seller_pd_bps: int | None  # the seller's PD where it was priced, else None
    loss_pd_e8: int  # annual PD of a loss, in units of 10**-8
    lgd_bps: int
    tenor_pd_ray: int
    expected_loss_ray: int
    expected_loss_bps: int  # expected_loss_ray in whole basis points of face, floored (for people)
    growth_ray: int
    factor_ray: int
    present_value: int
    advance_cap: int
    reasons: tuple[Reason, ...]
    policy: str
    model: str
    request: QuoteRequest

    def inputs(self) -> dict[str, Any]:
        return {"policy": self.policy, "request": self.request.to_json()}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": "quoted", "inputs": self.inputs()}
        for f in fields(self):
            if f.name in ("request", "reasons"):
                continue
            value = getattr(self, f.name)
            out[f.name] = str(value) if f.name in _QUOTE_AMOUNTS else value
        out["reasons"] = [r.to_json() for r in self.reasons]
        return out

    def canonical(self) -> bytes:
        return canonical(self.to_json())


#: Quote fields written as decimal strings: token amounts and ray-valued steps (beyond a JSON number's 2**53).
_QUOTE_AMOUNTS = frozenset(
    ("price", "face", "tenor_pd_ray", "expected_loss_ray", "growth_ray", "factor_ray", "present_value", "advance_cap")
)


@dataclass(frozen=True, kw_only=True)
class Decline:
    """No offer, and why in words; ``price`` is what the piece would have fetched when a cap declined it."""

    reasons: tuple[Reason, ...]
    price: int | None
    policy: str
    model: str
    request: QuoteRequest

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def inputs(self) -> dict[str, Any]:
        return {"policy": self.policy, "request": self.request.to_json()}

    def to_json(self) -> dict[str, Any]:
        return {
            "result": "declined",
            "inputs": self.inputs(),
            "reasons": [r.to_json() for r in self.reasons],
            "price": None if self.price is None else str(self.price),
            "policy": self.policy,
            "model": self.model,
        }

    def canonical(self) -> bytes:
        return canonical(self.to_json())


def core_pd_bps(params: CorePd, record: DebtorRecord) -> int:
    """A core enterprise's annual PD from its debtor record (the policy's ``core_pd``), at most 10,000."""
    if record.paydex_12m is None:
        pd = params.no_history_pd_bps
    else:
        pd = params.base_pd_bps + max(0, params.on_time_paydex - record.paydex_12m) * params.per_paydex_point_bps
    return min(BPS, pd + record.defaults_12m * params.per_default_bps)


def quote(policy: Policy, request: QuoteRequest) -> Quote | Decline:
    """The desk's price for ``request`` under ``policy``, or its reasons for declining."""
    words = _Words(policy)
    declines: list[Reason] = []
    seconds = request.seconds
    days = -(-seconds // DAY) if seconds > 0 else 0
    if request.kind not in policy.products:
        declines.append(Reason("PRODUCT_NOT_OFFERED", f"this bank does not offer {request.kind} finance"))
    if seconds < 0:
        declines.append(Reason("PAST_MATURITY", f"the piece matured {words.duration(-seconds)} ago"))
    elif days < policy.min_tenor_days:
        declines.append(
            Reason(
                "TENOR_TOO_SHORT",
                f"tenor {words.days(days)} is below this bank's {policy.min_tenor_days}-day minimum",
            )
        )
    elif days > policy.max_tenor_days:
        declines.append(
            Reason(
                "TENOR_TOO_LONG",
                f"tenor {words.days(days)} is beyond this bank's {policy.max_tenor_days}-day maximum",
            )
        )
    obligor_pd, obligor_text = _obligor(policy, request, words)
    if obligor_pd is None:
        declines.append(Reason("OBLIGOR_NOT_SCORED", f"{obligor_text}: this bank prices only a scored debtor"))
    elif obligor_pd > policy.max_obligor_pd_bps:
        declines.append(
            Reason(
                "OBLIGOR_PD_TOO_HIGH",
                f"{obligor_text}, above the {words.pct(policy.max_obligor_pd_bps)} this bank accepts",
            )
        )
    seller_pd = request.seller_pd_bps if request.seller_risk else None
    why_seller = _why_seller(request)
    if request.seller_risk and seller_pd is None:
        declines.append(Reason("SELLER_NOT_SCORED", f"the seller has no credit score, and {why_seller}"))
    elif seller_pd is not None and seller_pd > policy.max_seller_pd_bps:
        declines.append(
            Reason(
                "SELLER_PD_TOO_HIGH",
                f"the seller's PD {words.pct(seller_pd)}{words.grade(request.seller_grade)} is above the "
                f"{words.pct(policy.max_seller_pd_bps)} this bank accepts where {why_seller}",
            )
        )
    if request.seller_risk and request.seller_limit is None:
        declines.append(
            Reason(
                "NO_PUBLISHED_LIMIT",
                f"this bank has no valid limit published for the seller on the ledger, and {why_seller}",
            )
        )
    elif request.seller_limit == 0:
        declines.append(
            Reason(
                "SELLER_LIMIT_ZERO",
                "this bank published a limit of 0 for the seller (a flagged party, or one below its grades): "
                "it does not deal with it",
            )
        )
    if declines:
        return Decline(
            reasons=tuple(declines), price=None, policy=policy.hash, model=request.model_version, request=request
        )
    assert obligor_pd is not None  # no decline above means both PDs are known and accepted
    priced = _price(policy, request, days, obligor_pd, seller_pd, words, obligor_text)
    if isinstance(priced, Decline):
        return priced
    caps = _caps(policy, request, priced.price, words)
    if caps:
        return Decline(
            reasons=tuple(caps), price=priced.price, policy=policy.hash, model=request.model_version, request=request
        )
    return priced


def _obligor(policy: Policy, request: QuoteRequest, words: _Words) -> tuple[int | None, str]:
    """The obligor's annual PD and how it came about, in words."""
    record = request.obligor_record
    if request.obligor_kind == CORE and record is not None:
        pd = core_pd_bps(policy.core_pd, record)
        paydex = (
            "no receivable of its own fell due in 12 months"
            if record.paydex_12m is None
            else f"PAYDEX {record.paydex_12m} over 12 months ({policy.core_pd.on_time_paydex}: on time)"
        )
        return pd, (
            f"the obligor (core enterprise) has PD {words.pct(pd)} from its record as a debtor: {paydex}, "
            f"{record.defaults_12m} receivable(s) defaulted in 12 months, "
            f"{words.money(record.receivables_outstanding)} outstanding"
        )
    if request.obligor_pd_bps is None:
        if policy.unscored_supplier_pd_bps is not None:
            pd = policy.unscored_supplier_pd_bps
            return pd, (
                f"the obligor (a supplier) has too little verified history for a score: priced at this bank's PD "
                f"for an unscored debtor, {words.pct(pd)}"
            )
        return None, "the obligor (a supplier) has no credit score"
    return request.obligor_pd_bps, f"the obligor (a supplier) has PD {words.pct(request.obligor_pd_bps)}"


def _why_seller(request: QuoteRequest) -> str:
    if request.kind == PRE_SHIPMENT:
        return "pre-shipment finance is repaid only if the seller delivers"
    return "the bank has recourse to the seller"


def _price(
    policy: Policy,
    request: QuoteRequest,
    days: int,
    obligor_pd: int,
    seller_pd: int | None,
    words: _Words,
    obligor_text: str,
) -> Quote | Decline:
    base = policy.base_rate_bps(days)
    obligor_spread = Policy.spread_bps(policy.obligor_spread, obligor_pd)
    seller_spread = 0 if seller_pd is None else Policy.spread_bps(policy.seller_spread, seller_pd)
    assert obligor_spread is not None and seller_spread is not None  # the bands cover every accepted PD
    rate = base + obligor_spread + seller_spread
    if request.kind == PRE_SHIPMENT:
        loss_pd_e8 = E8 - (BPS - obligor_pd) * (BPS - (seller_pd or 0))
    else:
        loss_pd_e8 = obligor_pd * BPS
    tenor_pd_ray = _tenor_pd_ray(loss_pd_e8, days)
    expected_loss_ray = -(-tenor_pd_ray * policy.lgd_bps // BPS)
    growth_ray = _growth_ray(rate, days)
    factor_ray = (RAY - expected_loss_ray) * RAY // growth_ray
    face = request.face
    present_value = face * factor_ray // RAY
    advance_cap = face * policy.advance_rate_bps // BPS
    price = min(present_value, advance_cap)
    if price == 0:
        return Decline(
            reasons=(Reason("ZERO_PRICE", f"the price of {words.money(face)} face rounds down to nothing"),),
            price=0,
            policy=policy.hash,
            model=request.model_version,
            request=request,
        )
    discount_bps = (face - price) * BPS // face
    apr_bps = (face - price) * BPS * YEAR_DAYS // (price * days) if days else None
    expected_loss_bps = expected_loss_ray * BPS // RAY
    reasons = [
        Reason("BASE_RATE", f"base rate for {words.days(days)}: {words.pct(base)} a year on this bank's curve"),
        Reason("OBLIGOR_SPREAD", f"{obligor_text}: spread {words.pct(obligor_spread)} a year"),
    ]
    if seller_pd is None:
        reasons.append(
            Reason(
                "SELLER_NOT_PRICED",
                "the seller's credit is not priced: without recourse the bank bears only the obligor's risk",
            )
        )
    else:
        reasons.append(
            Reason(
                "SELLER_SPREAD",
                f"the seller has PD {words.pct(seller_pd)}{words.grade(request.seller_grade)}: spread "
                f"{words.pct(seller_spread)} a year, because {_why_seller(request)}",
            )
        )
    loss_of = "the seller failing to deliver or the obligor to pay" if request.kind == PRE_SHIPMENT else "default"
    reasons.append(
        Reason(
            "EXPECTED_LOSS",
            f"expected loss {words.pct(expected_loss_bps)} of face: chance of {loss_of} within the tenor "
            f"{words.pct(tenor_pd_ray * BPS // RAY)} times loss given default {words.pct(policy.lgd_bps)}",
        )
    )
    if advance_cap < present_value:
        reasons.append(
            Reason(
                "ADVANCE_RATE",
                f"capped at this bank's {words.pct(policy.advance_rate_bps)} advance rate "
                f"(present value {words.money(present_value)})",
            )
        )
    apr = "no APR at tenor 0" if apr_bps is None else f"APR {words.pct(apr_bps)}"
    reasons.append(
        Reason(
            "PRICE",
            f"{words.money(price)} for {words.money(face)} due in {words.days(days)} at {words.pct(rate)} a year: "
            f"a discount of {words.pct(discount_bps)}, {apr}",
        )
    )
    return Quote(
        price=price,
        face=face,
        tenor_days=days,
        discount_bps=discount_bps,
        apr_bps=apr_bps,
        rate_bps=rate,
        base_rate_bps=base,
        obligor_spread_bps=obligor_spread,
        seller_spread_bps=seller_spread,
        obligor_pd_bps=obligor_pd,
        seller_pd_bps=seller_pd,
        loss_pd_e8=loss_pd_e8,
        lgd_bps=policy.lgd_bps,
        tenor_pd_ray=tenor_pd_ray,
        expected_loss_ray=expected_loss_ray,
        expected_loss_bps=expected_loss_bps,
        growth_ray=growth_ray,
        factor_ray=factor_ray,
        present_value=present_value,
        advance_cap=advance_cap,
        reasons=tuple(reasons),
        policy=policy.hash,
        model=request.model_version,
        request=request,
    )


def _caps(policy: Policy, request: QuoteRequest, price: int, words: _Words) -> list[Reason]:
    """The caps a priced piece would break: the bank's published limit, then the policy's concentration caps."""
    out: list[Reason] = []
    limit = request.seller_limit
    if request.seller_risk and limit is not None and request.seller_outstanding + price > limit:
        out.append(
            Reason(
                "EXPOSURE_LIMIT",
                f"the seller's outstanding financing with this bank ({words.money(request.seller_outstanding)}) plus "
                f"this price ({words.money(price)}) would exceed the {words.money(limit)} limit this bank published "
                "for it",
            )
        )
    if request.obligor_outstanding + price > policy.max_per_obligor:
        out.append(
            Reason(
                "OBLIGOR_CONCENTRATION",
                f"this bank's outstanding financing on the obligor ({words.money(request.obligor_outstanding)}) plus "
                f"this price ({words.money(price)}) would exceed its {words.money(policy.max_per_obligor)} cap per "
                "obligor",
            )
        )
    if request.seller_outstanding + price > policy.max_per_seller:
        out.append(
            Reason(
                "SELLER_CONCENTRATION",
                f"this bank's outstanding financing bought from the seller ({words.money(request.seller_outstanding)}) "
                f"plus this price ({words.money(price)}) would exceed its {words.money(policy.max_per_seller)} cap per "
                "seller",
            )
        )
    return out


def _tenor_pd_ray(loss_pd_e8: int, days: int) -> int:
    """ceil((1 - (1 - p)^t) * RAY) for an annual PD ``p`` = loss_pd_e8 / 10**8 and t = days / 365."""
    if days == 0 or loss_pd_e8 == 0:
        return 0
    if loss_pd_e8 >= E8:
        return RAY
    with localcontext(CONTEXT) as c:
        survival = c.power(c.divide(Decimal(E8 - loss_pd_e8), Decimal(E8)), _years(c, days))
        return min(RAY, _ceil_ray(c, c.subtract(Decimal(1), survival)))


def _growth_ray(rate_bps: int, days: int) -> int:
    """ceil((1 + r)^t * RAY) for r = rate_bps / 10,000 and t = days / 365: at least RAY."""
    if days == 0 or rate_bps == 0:
        return RAY
    with localcontext(CONTEXT) as c:
        return max(RAY, _ceil_ray(c, c.power(c.divide(Decimal(BPS + rate_bps), Decimal(BPS)), _years(c, days))))


def _years(c: Context, days: int) -> Decimal:
    return c.divide(Decimal(days), Decimal(YEAR_DAYS))


def _ceil_ray(c: Context, value: Decimal) -> int:
    # scaleb only shifts the exponent (exact); the integral value then keeps every digit of the product.
    return int(value.scaleb(27, c).to_integral_value(rounding=ROUND_CEILING, context=c))


def recompute(policy: Policy, recorded: Mapping[str, Any] | str | bytes) -> Quote | Decline:
    """The result the recorded inputs give under ``policy``: a ``Quote.to_json()``/``inputs()``, or its JSON text.

    ``PolicyMismatch`` when the record names another policy (a doctored file has another hash).
    """
    record = _record(recorded)
    inputs = _exact(record.get("inputs", record), "inputs", {"policy", "request"})
    if inputs["policy"] != policy.hash:
        raise PolicyMismatch(str(inputs["policy"]), policy.hash)
    return quote(policy, QuoteRequest.from_json(inputs["request"]))


def audit(policy: Policy, recorded: Mapping[str, Any] | str | bytes) -> list[str]:
    """The recorded result's top-level fields that its recomputation under ``policy`` does not reproduce."""
    record = _record(recorded)
    again = recompute(policy, record).to_json()
    return sorted(k for k in set(record) | set(again) if record.get(k) != again.get(k))


def _record(recorded: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    if isinstance(recorded, str | bytes):
        try:
            recorded = json.loads(recorded)
        except (ValueError, RecursionError) as exc:
            raise QuoteRequestError("inputs", f"not JSON: {exc}") from exc
    if not isinstance(recorded, Mapping):
        raise QuoteRequestError("inputs", "must be a JSON object")
    return dict(recorded)


class _Words:
    """Amounts, rates and tenors as a desk's page writes them."""

    def __init__(self, policy: Policy) -> None:
        self.unit = 10**policy.decimals
        self.decimals = policy.decimals
        self.symbol = policy.symbol

    def money(self, amount: int) -> str:
        whole, part = divmod(amount, self.unit)
        fraction = f".{part:0{self.decimals}d}".rstrip("0") if part else ""
        return f"{whole:,}{fraction} {self.symbol}"

    @staticmethod
    def pct(bps: int) -> str:
        return f"{bps // 100:,}.{bps % 100:02d}%"

    @staticmethod
    def days(days: int) -> str:
        return f"{days:,} day" + ("" if days == 1 else "s")

    def duration(self, seconds: int) -> str:
        return self.days(-(-seconds // DAY))

    @staticmethod
    def grade(grade: str | None) -> str:
        return "" if grade is None else f" (grade {grade})"


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QuoteRequestError(name, f"must be an integer, not {value!r:.40}")
    if value < low:
        raise QuoteRequestError(name, f"{value} is negative" if value < 0 <= low else f"{value} is below {low}")
    if value > high:
        raise QuoteRequestError(name, "is above 2**256 - 1" if high == MAX_UINT256 else f"{value} is above {high:,}")
    return value


def _amount_in(value: Any, name: str) -> int:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise QuoteRequestError(name, f"must be a decimal string, not {value!r:.40}")
    return int(value)


def _exact(obj: Any, name: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise QuoteRequestError(name, "must be a JSON object")
    for key in sorted(keys - set(obj)):
        raise QuoteRequestError(f"{name}.{key}", "missing")
    for key in sorted(set(obj) - keys):
        raise QuoteRequestError(f"{name}.{key}", "unknown field")
    return dict(obj)
