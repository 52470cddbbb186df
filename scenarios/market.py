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

**Pre-shipment finance** (``PrepaymentAsk``): a supplier asks for part of a funded escrowed order
before it ships, guaranteed by a bank's pool against the limit that bank published for it on
chain (``scenarios.prepayment``). Each bank answers with a fee or a reason: the policy bank prices
it as the desk does (``kind="pre-shipment"``: the seller's PD priced and its published limit
binding), the flat bank charges its flat rate on the amount for the tenor, within the one limit it
publishes for every supplier, and the tier-1 bank does not offer it. A bank offers only within its
room (``Room``: the limit it published less what it guarantees the supplier already, and its
pool); the supplier takes the lowest fee.

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
from scoring.policy import PRE_SHIPMENT, RECEIVABLE, Policy
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


@dataclass(frozen=True)
class PrepaymentAsk:
    """A supplier asks for ``amount`` of a funded escrowed order now; the guarantee runs until ``maturity``
    (the order's deliverBy plus the escrow's claim window: the latest a refund can call it)."""

    order_id: int
    month: int  # of the world, from 0
    seller: str
    seller_tier: int
    buyer: str
    buyer_is_core: bool
    amount: int
    now: int
    maturity: int


@dataclass(frozen=True)
class Room:
    """What a bank can still guarantee a supplier on chain: the limit it published (None: none valid), what it
    guarantees the supplier already (exposure, shortfall included), and the unreserved currency in its pool."""

    limit: int | None
    exposure: int
    pool: int

    def refuses(self, amount: int) -> str | None:
        if self.limit is None or self.limit == 0:
            return "NO_PUBLISHED_LIMIT"
        if self.exposure + amount > self.limit:
            return "LIMIT_EXCEEDED"
        if amount > self.pool:
            return "POOL_INSUFFICIENT"
        return None


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
    #: pre-shipment asks, fees offered and won per seller tier; declines by code
    pre_asked: Counter[int] = field(default_factory=Counter)
    pre_offered: Counter[int] = field(default_factory=Counter)
    pre_won: Counter[int] = field(default_factory=Counter)
    pre_declined: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, object]:
        tiers = (1, 2, 3)
        deep_asked = self.pre_asked[2] + self.pre_asked[3]
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
            "pre_shipment": {
                "requests": {f"tier{t}": self.pre_asked[t] for t in tiers},
                "offers": {f"tier{t}": self.pre_offered[t] for t in tiers},
                "won": {f"tier{t}": self.pre_won[t] for t in tiers},
                "declined": dict(sorted(self.pre_declined.items())),
                "fill_rate_tier23": (
                    round((self.pre_offered[2] + self.pre_offered[3]) / deep_asked, 4) if deep_asked else None
                ),
            },
        }


class Bank(Protocol):
    book: BankBook

    def quote(self, request: SaleRequest) -> int | str:
        """A price in token units, or the code of the reason it declines."""
        ...

    def quote_prepayment(self, ask: PrepaymentAsk, room: Room) -> int | str:
        """A fee in token units for guaranteeing the pre-payment, or the code of the reason it declines."""
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

    def quote_prepayment(self, ask: PrepaymentAsk, room: Room) -> int | str:
        ttm = ask.maturity - ask.now
        if ttm <= 0 or ttm > MAX_TENOR_DAYS * DAY:
            return "TENOR_OUT_OF_RANGE"
        refused = room.refuses(ask.amount)
        if refused is not None:
            return refused
        return -(-ask.amount * self.rate_bps * ttm // (BPS * YEAR))  # rounded up: the bank's fee


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

    def quote_prepayment(self, ask: PrepaymentAsk, room: Room) -> int | str:
        return "NO_PRE_SHIPMENT"  # traditional supply-chain finance buys receivables, never before shipment


class PolicyBank:
    """Prices with a desk policy from the shipped model's decisions, as ``scf bank desk`` does over HTTP."""

    def __init__(self, book: BankBook, policy: Policy, credit: CreditView) -> None:
        self.book, self.policy, self.credit = book, policy, credit

    def quote(self, request: SaleRequest) -> int | str:
        seller = self.credit.decision(request.seller)
        return self._price(
            face=request.face,
            now=request.now,
            maturity=request.maturity,
            obligor=request.obligor,
            obligor_is_core=request.obligor_is_core,
            seller=seller,
            seller_outstanding=self.book.by_seller[request.seller],
            seller_limit=_published(seller),
        )

    def quote_prepayment(self, ask: PrepaymentAsk, room: Room) -> int | str:
        """The desk's pre-shipment price on the amount; the fee is what it keeps of it. The buyer is the obligor
        (its escrow pays the order), the supplier the seller whose delivery the guarantee rests on; the limit
        is the one this bank published on chain, and the seller's outstanding what it guarantees it already."""
        refused = room.refuses(ask.amount)
        if refused is not None:
            return refused
        price = self._price(
            face=ask.amount,
            now=ask.now,
            maturity=ask.maturity,
            obligor=ask.buyer,
            obligor_is_core=ask.buyer_is_core,
            seller=self.credit.decision(ask.seller),
            seller_outstanding=room.exposure,
            seller_limit=room.limit,
            kind=PRE_SHIPMENT,
        )
        if isinstance(price, str):
            return price
        return ask.amount - price if price > 0 else "PRICE_ZERO"

    def _price(
        self,
        *,
        face: int,
        now: int,
        maturity: int,
        obligor: str,
        obligor_is_core: bool,
        seller: Decision | None,
        seller_outstanding: int,
        seller_limit: int | None,
        kind: str = RECEIVABLE,
    ) -> int | str:
        if self.credit.as_of_block is None:
            return "NO_CREDIT_DECISION"
        obligor_pd: int | None = None
        record = None
        if obligor_is_core:
            record = self.credit.debtor_record(obligor)
            if record is None:
                return "OBLIGOR_NOT_SCORED"
        else:
            decided = self.credit.decision(obligor)
            obligor_pd = decided.pd_bps if decided is not None else None
        priced = quote(
            self.policy,
            QuoteRequest(
                face=face,
                kind=kind,
                now=now,
                maturity=maturity,
                obligor_kind=CORE if obligor_is_core else SUPPLIER,
                obligor_pd_bps=obligor_pd,
                obligor_record=record,
                seller_pd_bps=seller.pd_bps if seller is not None else None,
                seller_grade=seller.grade if seller is not None else None,
                obligor_outstanding=self.book.by_obligor[obligor],
                seller_outstanding=seller_outstanding,
                seller_limit=seller_limit,
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


def best_prepayment(
    banks: list[tuple[int, Bank]], ask: PrepaymentAsk, rooms: dict[int, Room]
) -> tuple[int, int] | None:
    """Every bank's fee (or decline) counted in its book; the (bank index, fee) the supplier takes: the lowest."""
    best: tuple[int, int] | None = None
    for index, bank in banks:
        bank.book.pre_asked[ask.seller_tier] += 1
        answer = bank.quote_prepayment(ask, rooms[index])
        if isinstance(answer, str):
            bank.book.pre_declined[answer] += 1
            continue
        bank.book.pre_offered[ask.seller_tier] += 1
        if best is None or answer < best[1]:
            best = (index, answer)
    if best is not None:
        next(b for i, b in banks if i == best[0]).book.pre_won[ask.seller_tier] += 1
    return best
