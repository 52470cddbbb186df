"""Trust propagation, distance to a core, and circular trading on small graphs."""

from __future__ import annotations

import numpy as np

from scoring.graph import CYCLE_WINDOW, FAR, TradeGraph, core_distance, find_cycles, propagate_trust

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
