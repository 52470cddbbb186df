"""The financing market of a played world: banks quote on every sale request, holders take the best price.

Each week a holder that wants cash for a piece asks every bank (a ``SaleRequest``); each bank
answers with a price or declines with a reason code, and the holder sells to the highest price,
which is the cheapest financing (a tie goes to the bank listed first). Three kinds of bank compete:

* ``PolicyBank`` prices with a desk policy file (the dev bank's, ``scoring/policies/dev-bank.json``)
  through the same ``scoring.pricing.quote`` that ``scf bank desk`` uses. The obligor's PD comes
  from the shipped model (a core's PD from its debtor record), and the seller's limit comes from
  its decision. Outstanding exposures come from the bank's own book of financed pieces that are
  not yet repaid or defaulted. All of it is as of the last monthly refresh (``scenarios.credit``).
* ``FlatBank`` charges one annual rate on any piece up to its longest tenor, with no score and no
  limits. This is the demo's old flat 5 %, and how a desk without data prices the long tail.
* ``TierOneBank`` is traditional supply-chain finance, which stops at tier 1. It charges a flat
  rate, and only on pieces of a core enterprise's receivables sold by a supplier that sells to
  that core directly.

A world has two banks below 100 firms (policy, flat) and three from 100 (policy, flat, tier-1),
in the world's bank order. What each bank was asked, offered and won is counted per seller tier
in its ``BankBook``; the money (financed, interest, losses) is counted from the chain afterwards
(``scenarios.returns``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from ledger.domain.receivables import BPS, YEAR
from scenarios.credit import CreditView
from scoring.decision import INSUFFICIENT_HISTORY, NOT_SCORED, Decision
from scoring.policy import Policy
from scoring.pricing import CORE, SUPPLIER, Decline, QuoteRequest, quote

POLICY, FLAT, TIER_ONE = "policy", "flat", "tier1_only"
#: The flat bank's annual rate, simple on the face (as the old world's desks priced).
FLAT_RATE_BPS = 800
#: The tier-1 bank's rate: cheaper than flat, because it takes only a core's risk.
TIER_ONE_RATE_BPS = 600
MAX_TENOR_DAYS = 180
DAY = 86_400


@dataclass(frozen=True)
class SaleRequest:
    """A holder asks for cash for a piece: who sells, on whose debt, how much, until when."""

    piece_id: int
    root_id: int
    month: int  # of the world, from 0
    seller: str
    seller_tier: int
    obligor: str
    obligor_is_core: bool
    seller_sells_to_obligor: bool
    face: int
    now: int
    maturity: int


@dataclass
class BankBook:
    """What one bank was asked and answered, per seller tier; its open exposures by obligor and seller."""

    name: str
    address: str
    pricing: str
    asked: Counter[int] = field(default_factory=Counter)
    offered: Counter[int] = field(default_factory=Counter)
    won: Counter[int] = field(default_factory=Counter)
    declined: Counter[str] = field(default_factory=Counter)
    #: tier-2/3 requests and offers by month of the world, to see how the fill rate grows with history
    asked_deep: Counter[int] = field(default_factory=Counter)
    offered_deep: Counter[int] = field(default_factory=Counter)
    by_obligor: Counter[str] = field(default_factory=Counter)
    by_seller: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        tiers = (1, 2, 3)
        return {
            "name": self.name,
            "address": self.address,
            "pricing": self.pricing,
            "requests": {f"tier{t}": self.asked[t] for t in tiers},
            "offers": {f"tier{t}": self.offered[t] for t in tiers},
            "won": {f"tier{t}": self.won[t] for t in tiers},
            "declined": dict(sorted(self.declined.items())),
            "fill_rate_tier23_by_month": [
                round(self.offered_deep[m] / self.asked_deep[m], 4) if self.asked_deep[m] else None
                for m in range(max(self.asked_deep, default=-1) + 1)
            ],
        }


class Bank(Protocol):
    book: BankBook

    def quote(self, request: SaleRequest) -> int | str:
        """A price in token units, or the code of the reason it declines."""
        ...


class FlatBank:
    """One annual rate, simple on the face, for any piece within the longest tenor."""

    def __init__(self, book: BankBook, rate_bps: int = FLAT_RATE_BPS) -> None:
        self.book, self.rate_bps = book, rate_bps

    def quote(self, request: SaleRequest) -> int | str:
        ttm = request.maturity - request.now
        if ttm <= 0 or ttm > MAX_TENOR_DAYS * DAY:
            return "TENOR_OUT_OF_RANGE"
        return request.face - request.face * self.rate_bps * ttm // (BPS * YEAR)


class TierOneBank(FlatBank):
    """Traditional supply-chain finance: only a core's receivables, only from its direct suppliers."""

    def __init__(self, book: BankBook, rate_bps: int = TIER_ONE_RATE_BPS) -> None:
        super().__init__(book, rate_bps)

    def quote(self, request: SaleRequest) -> int | str:
        if not request.obligor_is_core:
            return "OBLIGOR_NOT_A_CORE"
        if not request.seller_sells_to_obligor:
            return "SELLER_NOT_TIER_ONE"
        return super().quote(request)


class PolicyBank:
    """Prices with a desk policy from the shipped model's decisions, as ``scf bank desk`` does over HTTP."""

    def __init__(self, book: BankBook, policy: Policy, credit: CreditView) -> None:
        self.book, self.policy, self.credit = book, policy, credit

    def quote(self, request: SaleRequest) -> int | str:
        if self.credit.as_of_block is None:
            return "NO_CREDIT_DECISION"
        seller = self.credit.decision(request.seller)
        obligor_pd: int | None = None
        record = None
        if request.obligor_is_core:
            record = self.credit.debtor_record(request.obligor)
            if record is None:
                return "OBLIGOR_NOT_SCORED"
        else:
            obligor = self.credit.decision(request.obligor)
            obligor_pd = obligor.pd_bps if obligor is not None else None
        priced = quote(
            self.policy,
            QuoteRequest(
                face=request.face,
                now=request.now,
                maturity=request.maturity,
                obligor_kind=CORE if request.obligor_is_core else SUPPLIER,
                obligor_pd_bps=obligor_pd,
                obligor_record=record,
                seller_pd_bps=seller.pd_bps if seller is not None else None,
                seller_grade=seller.grade if seller is not None else None,
                obligor_outstanding=self.book.by_obligor[request.obligor],
                seller_outstanding=self.book.by_seller[request.seller],
                seller_limit=_published(seller),
                model_version=self.credit.version,
            ),
        )
        if isinstance(priced, Decline):
            return priced.codes[0]
        return priced.price


def _published(decision: Decision | None) -> int | None:
    """The limit a scoring bank publishes for a party: its decision's, none without a score."""
    if decision is None or decision.status in (INSUFFICIENT_HISTORY, NOT_SCORED):
        return None
    return decision.limit


def best_offer(banks: list[tuple[int, Bank]], request: SaleRequest) -> tuple[int, int] | None:
    """Every bank's answer counted in its book; the (bank index, price) the holder takes, if any."""
    best: tuple[int, int] | None = None
    for index, bank in banks:
        deep = request.seller_tier in (2, 3)
        bank.book.asked[request.seller_tier] += 1
        bank.book.asked_deep[request.month] += deep
        answer = bank.quote(request)
        if isinstance(answer, str):
            bank.book.declined[answer] += 1
            continue
        bank.book.offered[request.seller_tier] += 1
        bank.book.offered_deep[request.month] += deep
        if best is None or answer > best[1]:
            best = (index, answer)
    return best
