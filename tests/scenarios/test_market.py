"""The world's financing market (scenarios/market.py): each kind of bank's answer, and the holder's choice."""

from __future__ import annotations

from ledger.domain.receivables import BPS, YEAR
from scenarios.market import (
    FLAT_RATE_BPS,
    TIER_ONE_RATE_BPS,
    Bank,
    BankBook,
    FlatBank,
    SaleRequest,
    TierOneBank,
    best_offer,
)

DAY = 86_400
UNIT = 10**6


def sale(**changes: object) -> SaleRequest:
    fields: dict[str, object] = {
        "piece_id": 7,
        "root_id": 3,
        "month": 4,
        "seller": "0x" + "22" * 20,
        "seller_tier": 3,
        "obligor": "0x" + "11" * 20,
        "obligor_is_core": True,
        "seller_sells_to_obligor": False,
        "face": 100_000 * UNIT,
        "now": 1_000 * DAY,
        "maturity": 1_060 * DAY,
    }
    fields.update(changes)
    return SaleRequest(**fields)  # type: ignore[arg-type]


def book(name: str = "bank") -> BankBook:
    return BankBook(name, "0x" + "33" * 20, name)


def test_the_flat_bank_discounts_any_piece_at_its_one_rate_within_its_longest_tenor() -> None:
    flat = FlatBank(book())
    expected = 100_000 * UNIT - 100_000 * UNIT * FLAT_RATE_BPS * 60 * DAY // (BPS * YEAR)
    assert flat.quote(sale()) == expected
    assert flat.quote(sale(obligor_is_core=False, seller_tier=2)) == expected  # it never asks whose debt it is
    assert flat.quote(sale(maturity=1_181 * DAY)) == "TENOR_OUT_OF_RANGE"
    assert flat.quote(sale(maturity=1_000 * DAY)) == "TENOR_OUT_OF_RANGE"


def test_the_tier_one_bank_buys_only_a_cores_debt_from_the_cores_own_supplier() -> None:
    tier_one = TierOneBank(book())
    direct = sale(seller_tier=1, seller_sells_to_obligor=True)
    assert tier_one.quote(direct) == 100_000 * UNIT - 100_000 * UNIT * TIER_ONE_RATE_BPS * 60 * DAY // (BPS * YEAR)
    assert tier_one.quote(sale()) == "SELLER_NOT_TIER_ONE"  # a tier-3 holder of the same core's paper
    assert tier_one.quote(sale(obligor_is_core=False, seller_sells_to_obligor=True)) == "OBLIGOR_NOT_A_CORE"


class _Fixed:
    def __init__(self, name: str, answer: int | str) -> None:
        self.book, self.answer = book(name), answer

    def quote(self, request: SaleRequest) -> int | str:
        return self.answer


def test_the_holder_takes_the_highest_price_a_tie_goes_to_the_bank_listed_first_and_every_answer_is_counted() -> None:
    banks: list[tuple[int, Bank]] = [
        (10, _Fixed("declines", "OBLIGOR_PD_TOO_HIGH")),
        (11, _Fixed("cheap", 98 * UNIT)),
        (12, _Fixed("best", 99 * UNIT)),
        (13, _Fixed("tie", 99 * UNIT)),
    ]
    assert best_offer(banks, sale(seller_tier=2)) == (12, 99 * UNIT)
    assert best_offer(banks, sale(seller_tier=1, month=5)) == (12, 99 * UNIT)
    declines = banks[0][1].book
    assert declines.asked == {2: 1, 1: 1} and declines.offered == {} and declines.declined == {"OBLIGOR_PD_TOO_HIGH": 2}
    assert banks[1][1].book.offered == {2: 1, 1: 1}
    assert best_offer(banks[:1], sale()) is None


def test_a_books_fill_rate_by_month_counts_only_tier_two_and_three_requests() -> None:
    bank = _Fixed("mixed", 0)
    for tier, month, answer in ((2, 0, 99 * UNIT), (3, 0, "NO_CREDIT_DECISION"), (1, 1, 99 * UNIT), (3, 2, "X")):
        bank.answer = answer
        best_offer([(0, bank)], sale(seller_tier=tier, month=month))
    shown = bank.book.to_json()
    assert shown["requests"] == {"tier1": 1, "tier2": 1, "tier3": 2}
    assert shown["offers"] == {"tier1": 1, "tier2": 1, "tier3": 0}
    assert shown["fill_rate_tier23_by_month"] == [0.5, None, 0.0]  # tier 1 (month 1) is not in the deep-tier fill
