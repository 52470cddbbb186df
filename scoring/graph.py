"""The multi-tier link: trust propagated from the core enterprises, distance to one, circular trading.

* **Trust** is personalised PageRank: a walk that restarts at the core enterprises (uniformly) and
  follows verified, paid trade (buyer → supplier) and receivables (whoever handed a piece on →
  whoever received it), each edge weighted by its amount; a party's trust is its share of the
  walk's time, scaled so that 1000 is the share of an average party. Trust only flows along
  money that really moved (or a claim on a core that is still good), so a ring of firms trading
  among themselves gains none. scipy sparse power iteration (1M nodes / 5M edges in about 1 s).
* **Distance** to a core: the fewest hops on the same graph, undirected (a tier-2 supplier paid
  by a tier-1 that sells to a core is 2), capped at ``FAR`` (also for no link at all).
* **Tier**: the supplier's place in the supply chain, the links in its **longest** chain of
  verified sales down to a core (sells to a core: 1; sells to a tier-1: 2; ...). Not the shortest
  one: a tier-2 firm that also sells to a core now and then is still a tier-2 firm by its trade,
  and its peers are the other tier-2 firms, while its distance to a core is 1. Sales only, one way
  (seller → buyer). Firms that sell to each other in a circle (directly or round several firms)
  are one link of the chain together, so a circle neither lengthens the chains through it without
  end nor cuts off the suppliers below it; a chain is capped at ``FAR`` links, and a party with
  no chain of sales to a core has no tier (NaN).
* **Circular trading**: short cycles of sales between the same parties (A→B→A, A→B→C→A) of
  similar amounts (within ``SIMILAR_BPS``) inside ``CYCLE_WINDOW``: goods going round in a circle
  are how turnover is invented. Real supply chains flow one way (tier 3 → tier 2 → tier 1 →
  core), so such cycles are rare and each is reported with its counterparties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, shortest_path

FAR = 9
DAMPING = 0.85
TOLERANCE = 1e-10
MAX_ITERATIONS = 100
CYCLE_WINDOW = 60 * 86_400
SIMILAR_BPS = 1_000
#: Orders per (seller, buyer) pair looked at for cycles: the most recent ones.
CYCLE_ORDERS = 32


class TradeGraph:
    """Weighted directed edges between party indices, added in bulk."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._src: list[np.ndarray] = []
        self._dst: list[np.ndarray] = []
        self._weight: list[np.ndarray] = []

    def add(self, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> None:
        self._src.append(np.asarray(src, dtype=np.int64))
        self._dst.append(np.asarray(dst, dtype=np.int64))
        self._weight.append(np.asarray(weight, dtype=np.float64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._src:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        return np.concatenate(self._src), np.concatenate(self._dst), np.concatenate(self._weight)


def propagate_trust(graph: TradeGraph, seeds: np.ndarray) -> np.ndarray:
    """Personalised PageRank restarting at ``seeds``, as whole thousandths of an average party's share
    (NaN everywhere when there is no seed)."""
    n = graph.n
    if n == 0 or not seeds.any():
        return np.full(n, np.nan)
    src, dst, weight = graph.arrays()
    keep = (weight > 0) & (src != dst)
    matrix = csr_matrix((weight[keep], (src[keep], dst[keep])), shape=(n, n))
    matrix.sum_duplicates()
    out = np.asarray(matrix.sum(axis=1)).ravel()
    dangling = out == 0
    scale = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out))
    transition_t = csr_matrix(matrix.multiply(scale[:, None])).T.tocsr()
    restart = seeds.astype(np.float64) / float(seeds.sum())
    x = restart.copy()
    for _ in range(MAX_ITERATIONS):
        spread = DAMPING * (transition_t @ x)
        leaked = 1.0 - float(spread.sum())  # restarts and dangling mass go back to the cores
        following = spread + leaked * restart
        if float(np.abs(following - x).sum()) < TOLERANCE:
            x = following
            break
        x = following
    return np.floor(x * n * 1000 + 0.5)


def core_distance(graph: TradeGraph, cores: np.ndarray) -> np.ndarray:
    """Fewest hops from any core over the undirected trade graph, capped at ``FAR``."""
    n = graph.n
    if n == 0:
        return np.zeros(0)
    if not cores.any():
        return np.full(n, float(FAR))
    src, dst, _ = graph.arrays()
    keep = src != dst
    hub = np.full(int(cores.sum()), n, dtype=np.int64)  # one extra node linked to every core
    rows = np.concatenate([src[keep], hub])
    cols = np.concatenate([dst[keep], np.flatnonzero(cores)])
    adjacency = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1))
    hops = shortest_path(adjacency, directed=False, unweighted=True, indices=n)[:n] - 1
    return np.minimum(np.where(np.isfinite(hops), hops, FAR), FAR)


def supply_tier(seller: np.ndarray, buyer: np.ndarray, cores: np.ndarray) -> np.ndarray:
    """The links in each party's longest chain of sales (``seller[k]`` sold to ``buyer[k]``) down to a core, the
    firms of a circle of sales counted as one: 0 for a core, at most ``FAR``, NaN for no chain to a core."""
    n = len(cores)
    if n == 0 or len(seller) == 0:
        return np.where(cores, 0.0, np.nan)
    sales = csr_matrix((np.ones(len(seller)), (seller, buyer)), shape=(n, n))
    _, circle = connected_components(sales, directed=True, connection="strong")
    m = int(circle.max()) + 1
    core_circle = np.zeros(m, dtype=bool)
    core_circle[circle[cores]] = True
    down = circle[seller] != circle[buyer]  # sales inside a circle are no link of the chain
    src, dst = circle[seller[down]], circle[buyer[down]]
    tier = np.where(core_circle, 0.0, -np.inf)
    for _ in range(m + 1):  # circles condensed, the chains are acyclic: each round settles one more link
        longer = np.full(m, -np.inf)
        np.maximum.at(longer, src, tier[dst] + 1)
        following = np.where(core_circle, 0.0, np.minimum(np.maximum(tier, longer), FAR))
        if np.array_equal(following, tier):
            break
        tier = following
    return np.where(np.isfinite(tier), tier, np.nan)[circle]


@dataclass(frozen=True)
class CircularTrading:
    """Parties in short cycles of similar amounts (party → the other parties of its cycles), and the
    orders that made the cycles."""

    counterparties: dict[int, set[int]]
    orders: np.ndarray


def _similar(a: int, b: int) -> bool:
    return abs(a - b) * 10_000 <= SIMILAR_BPS * max(a, b)


def find_cycles(
    supplier: np.ndarray, buyer: np.ndarray, amount: np.ndarray, when: np.ndarray, mask: np.ndarray
) -> CircularTrading:
    """Cycles of two and three sales among ``mask``'s orders (seller ``supplier`` → ``buyer``)."""
    chosen = np.flatnonzero(mask)
    chosen = chosen[np.argsort(when[chosen], kind="stable")]
    if not len(chosen):
        return CircularTrading({}, np.zeros(0, dtype=np.int64))
    # Each pair's sales in time order as a slice of one sorted array, its list made only when a cycle
    # may pass through it (few pairs): the pairs in the order of their first sale, as a dict of lists
    # filled sale by sale would have them.
    seller, sold_to = supplier[chosen], buyer[chosen]
    span = int(max(seller.max(), sold_to.max())) + 1
    key = seller * span + sold_to
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    first_sale = np.argsort(by_key[starts], kind="stable")
    times, amounts, ids = when[chosen].tolist(), amount[chosen].tolist(), chosen.tolist()
    positions, start_of, end_of = by_key.tolist(), starts.tolist(), ends.tolist()
    by_pair: dict[tuple[int, int], int] = {}
    sells_to: dict[int, set[int]] = {}
    for g, pair_key in zip(first_sale.tolist(), sorted_key[starts][first_sale].tolist(), strict=True):
        s, b = divmod(pair_key, span)
        by_pair[(s, b)] = g
        sells_to.setdefault(s, set()).add(b)

    def last_sales(pair: tuple[int, int]) -> list[tuple[int, int, int]]:
        """The pair's last ``CYCLE_ORDERS`` sales as (time, amount, order), in time order."""
        g = by_pair[pair]
        return [
            (times[k], amounts[k], ids[k]) for k in positions[max(start_of[g], end_of[g] - CYCLE_ORDERS) : end_of[g]]
        ]

    found: dict[int, set[int]] = {}
    orders: set[int] = set()

    def flag(parties: tuple[int, ...], cycle_orders: tuple[int, ...]) -> None:
        for p in parties:
            found.setdefault(p, set()).update(q for q in parties if q != p)
        orders.update(cycle_orders)

    for a, b in by_pair:
        if a < b and (b, a) in by_pair:
            back = last_sales((b, a))
            hit = next(
                (
                    (x[2], y[2])
                    for x in last_sales((a, b))
                    for y in back
                    if abs(x[0] - y[0]) <= CYCLE_WINDOW and _similar(x[1], y[1])
                ),
                None,
            )
            if hit is not None:
                flag((a, b), hit)
        for c in sells_to.get(b, ()):
            if c in (a, b) or not (a < b and a < c) or (c, a) not in by_pair:
                continue
            closing = last_sales((c, a))
            middle = last_sales((b, c))
            triple = next(
                (
                    (x[2], y[2], z[2])
                    for x in last_sales((a, b))
                    for y in middle
                    if abs(x[0] - y[0]) <= CYCLE_WINDOW and _similar(x[1], y[1])
                    for z in closing
                    if max(x[0], y[0], z[0]) - min(x[0], y[0], z[0]) <= CYCLE_WINDOW and _similar(x[1], z[1])
                ),
                None,
            )
            if triple is not None:
                flag((a, b, c), triple)
    return CircularTrading(found, np.asarray(sorted(orders), dtype=np.int64))
