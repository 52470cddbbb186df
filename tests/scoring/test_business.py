"""A supplier's size against its peers at the same tier, and the growth of its orders, shrunk where they are few."""

from __future__ import annotations

import numpy as np

from scoring.business import GROWTH_PRIOR_BPS, MIN_PEERS, MONTH, order_growth, versus_peers
from scoring.graph import FAR

T = 1_900_000_000
YEAR_AGO = T - 12 * MONTH


def test_sales_are_compared_with_the_median_of_the_suppliers_at_the_same_tier() -> None:
    # five tier-1 suppliers around 1,000 and five tier-3 suppliers around 100: each is measured against its own tier
    amount = np.array([800.0, 900.0, 1000.0, 1100.0, 2000.0, 50.0, 90.0, 100.0, 110.0, 400.0])
    tier = np.array([1.0] * 5 + [3.0] * 5)
    got = versus_peers(amount, tier)
    assert got.tolist() == [8000, 9000, 10000, 11000, 20000, 5000, 9000, 10000, 11000, 40000]


def test_the_median_is_an_actual_peers_and_too_few_peers_or_no_sales_or_no_tier_is_no_data() -> None:
    amount = np.array([100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 0.0, 70.0, 70.0, 80.0])
    tier = np.array([2.0] * 7 + [np.nan, float(FAR), 1.0])
    got = versus_peers(amount, tier)
    assert got[:6].tolist() == [3333, 6666, 10000, 13333, 16666, 20000]  # lower median of six: 300
    assert np.isnan(got[6:]).all()  # no sales; no tier; a chain too long to place; a tier with one supplier
    few = versus_peers(np.full(MIN_PEERS - 1, 10.0), np.ones(MIN_PEERS - 1))
    assert np.isnan(few).all()


def _orders(per_month: list[int], party: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_month[k]`` orders in month k of the last twelve, spread evenly inside it."""
    times = [
        YEAR_AGO + k * MONTH + (j + 1) * MONTH // (count + 1) for k, count in enumerate(per_month) for j in range(count)
    ]
    return np.full(len(times), party, dtype=np.int64), np.asarray(times, dtype=np.int64)


def _growth(per_month: list[int], prior_bps: int = GROWTH_PRIOR_BPS) -> float:
    receiver, created = _orders(per_month)
    return float(order_growth(receiver, created, np.array([YEAR_AGO]), T, 1, prior_bps=prior_bps)[0])


def test_orders_growing_shrinking_or_flat_over_the_year_give_the_sign_and_size_of_the_trend() -> None:
    growing = [round(4 * 1.05**k) for k in range(12)]
    shrinking = growing[::-1]
    assert _growth(growing) > 100 and _growth(shrinking) < -100
    assert abs(_growth([4] * 12)) <= 1
    # with no shrinkage the estimate is the log-linear trend itself: about 5% a month
    assert 400 <= _growth(growing, prior_bps=10**6) <= 600


def test_a_few_orders_say_less_than_many_with_the_same_pattern() -> None:
    few = _growth([0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1])
    many = _growth([0, 0, 0, 0, 0, 0, 10, 0, 10, 0, 10, 10])
    assert 0 < few < many
    assert few < _growth([0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1], prior_bps=10**6)


def test_no_order_or_a_record_too_short_for_a_trend_is_no_data() -> None:
    receiver, created = _orders([1] * 12)
    since = np.array([YEAR_AGO, YEAR_AGO, T - MONTH])
    got = order_growth(receiver, created, since, T, 3)
    assert not np.isnan(got[0]) and np.isnan(got[1]) and np.isnan(got[2])  # party 1: no order; party 2: a month
    late = order_growth(np.array([0]), np.array([YEAR_AGO - MONTH]), np.array([YEAR_AGO]), T, 1)
    assert np.isnan(late[0])  # an order before the window does not count
