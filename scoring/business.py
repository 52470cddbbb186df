"""The size and the growth of a supplier's business, as a bank reads them: against its peers, and over time.

Two things a supplier's order book says about its risk that its service record does not:

* **Size against its peers** (``versus_peers``): a small firm fails more often than a large one,
  but "small" only means something next to firms doing the same job: a tier-3 workshop with a
  quarter of a tier-1 assembler's sales is not small for a workshop. The ledger has no tier
  field; it has the trade itself, so a supplier's tier is its place in the chain of verified
  sales (``scoring.graph.supply_tier``), and its size is its verified sales over 12 months as a
  share of the median of the suppliers at the same tier (10,000 bps: the median). Fewer than
  ``MIN_PEERS`` suppliers at a tier are too few to compare with: no data.
* **Growth** (``order_growth``): the monthly trend of the orders it receives over its record
  (12 months, or since admission). A Poisson stream whose rate grows by ``g`` a month puts its
  orders later in the window than a flat one: with ``N`` orders over ``T`` months at a mean
  position of ``m`` months from the window's start, ``g ≈ 12 (m - T/2) / T²``, the maximum
  likelihood estimate of a log-linear rate for small ``g`` (months with no order count as they
  should: they pull the mean away from them). It uses every order, not three months against the
  three before, so one quiet month moves it little. Its noise is ``12 / (N T²)``, large for a
  supplier with a handful of orders, so it is shrunk towards flat by a normal prior of spread
  ``GROWTH_PRIOR_BPS`` (a posterior mean): ten orders that happen to come late in the year say
  less than a hundred.

Both are whole basis points (floor) in float64 arrays by party, NaN where there is nothing to
measure, like every feature in ``scoring.features``.
"""

from __future__ import annotations

import numpy as np

from scoring.graph import FAR

MONTH = 30 * 86_400
#: Peers needed at a tier for a comparison with their median.
MIN_PEERS = 5
#: Spread of suppliers' monthly growth that the estimate is shrunk with (a normal prior around flat).
GROWTH_PRIOR_BPS = 300
#: Growth needs this many months of record to have a trend at all.
MIN_GROWTH_MONTHS = 2


def versus_peers(amount: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """Each party's ``amount`` as basis points of the median (the lower one: an actual peer's) of the parties with
    an amount above 0 at the same tier (1 .. ``FAR`` - 1); NaN for no amount, no tier, or fewer than ``MIN_PEERS``."""
    out = np.full(len(amount), np.nan)
    ranked = (amount > 0) & np.isfinite(tier) & (tier >= 1) & (tier < FAR)
    for level in np.unique(tier[ranked]):
        peers = ranked & (tier == level)
        if peers.sum() < MIN_PEERS:
            continue
        median = float(np.quantile(amount[peers], 0.5, method="lower"))
        out[peers] = np.floor(amount[peers] * 10_000 / median)
    return out


def order_growth(
    receiver: np.ndarray, created: np.ndarray, since: np.ndarray, t: int, n: int, *, prior_bps: int = GROWTH_PRIOR_BPS
) -> np.ndarray:
    """Monthly growth of the orders each party received (``receiver[k]`` got an order at ``created[k]``) between
    ``since[party]`` and ``t``, shrunk towards flat, in basis points a month; NaN for no order in the window or
    fewer than ``MIN_GROWTH_MONTHS`` of it."""
    out = np.full(n, np.nan)
    if n == 0:
        return out
    inside = created > since[receiver]
    who = receiver[inside]
    months = (t - since) / MONTH
    position = (created[inside] - since[who]) / MONTH
    count = np.bincount(who, minlength=n).astype(np.float64)
    total = np.bincount(who, weights=position, minlength=n)
    has = (count > 0) & (months >= MIN_GROWTH_MONTHS)
    span, orders = months[has], count[has]
    raw = 12.0 * (total[has] / orders - span / 2.0) / span**2
    noise = 12.0 / (orders * span**2)
    prior = (prior_bps / 10_000) ** 2
    out[has] = np.floor(np.clip(raw * prior / (prior + noise), -1.0, 1.0) * 10_000)
    return out
