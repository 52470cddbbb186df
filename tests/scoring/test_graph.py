"""Trust propagation, distance to a core, and circular trading on small graphs."""

from __future__ import annotations

import numpy as np

from scoring.graph import CYCLE_WINDOW, FAR, TradeGraph, core_distance, find_cycles, propagate_trust, supply_tier

DAY = 86_400


def graph(n: int, edges: list[tuple[int, int, float]]) -> TradeGraph:
    g = TradeGraph(n)
    if edges:
        src, dst, w = zip(*edges, strict=True)
        g.add(np.array(src), np.array(dst), np.array(w, dtype=float))
    return g


def test_trust_flows_from_cores_along_paid_trade_and_not_into_a_closed_ring() -> None:
    # 0 core → 1 → 2; ring 3 → 4 → 5 → 3 trades only among itself
    g = graph(6, [(0, 1, 100.0), (1, 2, 50.0), (3, 4, 80.0), (4, 5, 80.0), (5, 3, 80.0)])
    cores = np.array([True, False, False, False, False, False])
    trust = propagate_trust(g, cores)
    assert trust[1] > trust[2] > 0
    assert trust[3] == trust[4] == trust[5] == 0
    assert abs(trust.sum() - 6 * 1000) <= 6  # shares of one walk, in thousandths of an average party


def test_no_core_means_no_trust_rather_than_zero() -> None:
    assert np.isnan(propagate_trust(graph(3, [(0, 1, 1.0)]), np.zeros(3, dtype=bool))).all()


def test_distance_to_a_core_is_undirected_hops_and_far_without_a_link() -> None:
    g = graph(5, [(0, 1, 1.0), (1, 2, 1.0), (3, 2, 1.0)])
    d = core_distance(g, np.array([True, False, False, False, False]))
    assert d.tolist() == [0, 1, 2, 3, FAR]


def tiers(n: int, sales: list[tuple[int, int]], cores: list[int]) -> list[float | None]:
    seller = np.array([s for s, _ in sales], dtype=np.int64)
    buyer = np.array([b for _, b in sales], dtype=np.int64)
    is_core = np.zeros(n, dtype=bool)
    is_core[cores] = True
    return [None if np.isnan(x) else float(x) for x in supply_tier(seller, buyer, is_core)]


def test_a_suppliers_tier_is_its_longest_chain_of_sales_to_a_core_not_its_shortest() -> None:
    # 0 core; 1 sells to 0; 2 sells to 1 and now and then to the core; 3 sells to 2; 4 sells to nobody on a chain
    sales = [(1, 0), (2, 1), (2, 0), (3, 2), (4, 5)]
    assert tiers(6, sales, [0]) == [0, 1, 2, 3, None, None]
    g = graph(6, [(b, s, 1.0) for s, b in sales])
    assert core_distance(g, np.array([True] + [False] * 5))[2] == 1  # its distance is the short way round


def test_firms_selling_in_a_circle_are_one_link_and_do_not_cut_off_their_suppliers() -> None:
    # 1 and 2 sell to each other and to tier-1 firm 3 (which sells to core 0); 4 supplies 1; 5 and 6 circle alone
    sales = [(1, 2), (2, 1), (1, 3), (2, 3), (3, 0), (4, 1), (5, 6), (6, 5)]
    assert tiers(7, sales, [0]) == [0, 2, 2, 1, 3, None, None]


def test_a_chain_longer_than_far_stops_at_far_and_no_sales_means_no_tier() -> None:
    n = FAR + 3
    chain = [(k + 1, k) for k in range(n - 1)]  # k+1 sells to k: a chain of n-1 links from the core 0
    got = tiers(n, chain, [0])
    assert got[: FAR + 1] == [float(k) for k in range(FAR + 1)] and got[FAR + 1 :] == [float(FAR)] * 2
    assert tiers(3, [], [0]) == [0, None, None]


def orders(rows: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, ...]:
    s, b, a, t = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return s, b, a, t, np.ones(len(rows), dtype=bool)


def test_two_and_three_party_cycles_of_similar_amounts_are_found() -> None:
    found = find_cycles(
        *orders(
            [
                (0, 1, 1000, 0),
                (1, 0, 980, 10 * DAY),  # A→B→A
                (2, 3, 500, 0),
                (3, 4, 510, 5 * DAY),
                (4, 2, 495, 9 * DAY),  # A→B→C→A
                (5, 6, 700, 0),  # one way only
            ]
        )
    )
    assert found.counterparties == {0: {1}, 1: {0}, 2: {3, 4}, 3: {2, 4}, 4: {2, 3}}
    assert found.orders.tolist() == [0, 1, 2, 3, 4]


def test_different_amounts_or_a_long_gap_are_not_a_cycle() -> None:
    assert not find_cycles(*orders([(0, 1, 1000, 0), (1, 0, 500, DAY)])).counterparties
    assert not find_cycles(*orders([(0, 1, 1000, 0), (1, 0, 1000, CYCLE_WINDOW + DAY)])).counterparties
