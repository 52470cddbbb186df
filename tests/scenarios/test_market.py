"""The world's financing market (scenarios/market.py): each kind of bank's answer, and the holder's choice."""

from __future__ import annotations

from ledger.domain.receivables import BPS, YEAR
from scenarios.market import (
    FLAT_RATE_BPS,
    TIER_ONE_RATE_BPS,
    Bank,
    BankBook,
    FlatBank,
    PrepaymentAsk,
    Room,
    SaleRequest,
    TierOneBank,
    best_offer,
    best_prepayment,
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


def ask(**changes: object) -> PrepaymentAsk:
    fields: dict[str, object] = {
        "order_id": 9,
        "month": 2,
        "seller": "0x" + "22" * 20,
        "seller_tier": 3,
        "buyer": "0x" + "11" * 20,
        "buyer_is_core": True,
        "amount": 20_000 * UNIT,
        "now": 1_000 * DAY,
        "maturity": 1_050 * DAY,
    }
    fields.update(changes)
    return PrepaymentAsk(**fields)  # type: ignore[arg-type]


ROOMY = Room(limit=200_000 * UNIT, exposure=0, pool=10**6 * UNIT)


def test_the_flat_bank_charges_its_rate_on_the_amount_for_the_tenor_rounded_up() -> None:
    flat = FlatBank(book())
    exact = 20_000 * UNIT * FLAT_RATE_BPS * 50 * DAY / (BPS * YEAR)
    fee = flat.quote_prepayment(ask(), ROOMY)
    assert isinstance(fee, int) and fee == -(-int(20_000 * UNIT * FLAT_RATE_BPS * 50 * DAY) // (BPS * YEAR))
    assert exact <= fee < exact + 1
    assert flat.quote_prepayment(ask(maturity=1_181 * DAY), ROOMY) == "TENOR_OUT_OF_RANGE"


def test_a_bank_guarantees_only_within_the_limit_it_published_less_its_exposure_and_its_pool() -> None:
    flat, amount = FlatBank(book()), 20_000 * UNIT
    assert flat.quote_prepayment(ask(), Room(None, 0, 10**9)) == "NO_PUBLISHED_LIMIT"
    assert flat.quote_prepayment(ask(), Room(0, 0, 10**9)) == "NO_PUBLISHED_LIMIT"  # a published 0 refuses
    assert flat.quote_prepayment(ask(), Room(amount * 2, amount + 1, 10**12)) == "LIMIT_EXCEEDED"
    assert isinstance(flat.quote_prepayment(ask(), Room(amount * 2, amount, 10**12)), int)  # exactly the limit
    assert flat.quote_prepayment(ask(), Room(amount * 2, 0, amount - 1)) == "POOL_INSUFFICIENT"


def test_the_tier_one_bank_offers_no_pre_shipment_finance() -> None:
    assert TierOneBank(book()).quote_prepayment(ask(seller_tier=1), ROOMY) == "NO_PRE_SHIPMENT"


class _Fixed:
    def __init__(self, name: str, answer: int | str) -> None:
        self.book, self.answer = book(name), answer

    def quote(self, request: SaleRequest) -> int | str:
        return self.answer

    def quote_prepayment(self, ask: PrepaymentAsk, room: Room) -> int | str:
        return self.answer


def test_the_supplier_takes_the_lowest_fee_a_tie_goes_to_the_bank_listed_first_and_every_answer_is_counted() -> None:
    banks: list[tuple[int, Bank]] = [
        (10, _Fixed("declines", "NO_PUBLISHED_LIMIT")),
        (11, _Fixed("dear", 300 * UNIT)),
        (12, _Fixed("cheapest", 100 * UNIT)),
        (13, _Fixed("tie", 100 * UNIT)),
    ]
    rooms = {i: ROOMY for i, _ in banks}
    assert best_prepayment(banks, ask(seller_tier=2), rooms) == (12, 100 * UNIT)
    assert best_prepayment(banks, ask(seller_tier=1), rooms) == (12, 100 * UNIT)
    shown = {b.book.name: b.book.to_json()["pre_shipment"] for _, b in banks}
    assert shown["declines"]["declined"] == {"NO_PUBLISHED_LIMIT": 2} and shown["declines"]["fill_rate_tier23"] == 0.0
    assert shown["cheapest"]["won"] == {"tier1": 1, "tier2": 1, "tier3": 0}
    assert shown["tie"]["offers"] == {"tier1": 1, "tier2": 1, "tier3": 0} and shown["tie"]["won"]["tier2"] == 0
    assert best_prepayment(banks[:1], ask(), rooms) is None


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
