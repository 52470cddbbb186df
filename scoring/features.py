"""Per-party features from a verified history, for every party at once (numpy arrays indexed by party).

One pass over the events (``History.events``, chain order) collects orders, milestones, refunds,
disputes, receivable trees, repayments, financings and memberships into flat arrays; every feature
is then a vectorised expression over those arrays (``np.bincount`` by party), never a loop per
party.

The pass is ``scoring.collect.Collector``'s. When the source read the history in bulk (``History.raw``:
the scored events' JSON as one array per event type, ``scoring.source``), ``scoring.bulk`` decodes
each with msgspec into a typed struct per event in one call, the orders' events (most of them)
become the same arrays at once (each order's last attestation or contest of each kind, its first
dispute, ...), the receivables' too (``scoring.bulk_receivables``: each piece's holders as one
sorted sequence), and only membership and guarantee events go one by one; parties keep the index of
their first appearance. Where that cannot promise the per-event result (a field missing or of
another type, an order id made twice), the per-event pass runs instead (for the receivables alone
where a root or piece id is made twice); ``tests/scoring/test_bulk.py`` pins the two to the same
tables bit for bit.

Everything is point in time: the history holds nothing after the as-of point and the windows end
at it.

Values are exact integers carried in float64 arrays (amounts are capped at 2**53 - 1 token units
so that sums stay exact), NaN where the party has nothing to measure (no order due, no debt due,
no inspection): the scorecard gives "no data" its own bin. Rates are basis points, amounts token
units, times UTC seconds, durations whole days.

Windows are trailing 3, 6 and 12 months of 91, 182 and 365 days, and a recent window of 61 days
that shows a supplier going downhill: its trouble rate there, the troubles beyond what its own
earlier record predicts (``trouble_excess_2m``), and its order intake against its usual rate.

The order book's size and trend (``scoring.business``): ``supply_tier``, the links of a party's
longest chain of verified sales down to a core (``scoring.graph.supply_tier``; in the direct view,
1 for a core's direct suppliers); ``sales_vs_tier_12m``, its verified sales over 12 months as
basis points of the median at its tier; ``order_growth``, the monthly trend of the orders it
received over 12 months (or since admission), shrunk towards flat where they are few.

``scf-features/3`` (from ``/2``): the trouble rates are shrunk towards 30 % as if with 10 more
orders (was 20 %, 4 orders), near a beta-binomial fit of the suppliers' rates (about 6 orders at
34 %) and among the best priors in a leave-one-world-out cross-validation on the shipped model's
training worlds (the stronger ones differ by less than the noise); ``supply_tier``,
``sales_vs_tier_12m`` and ``order_growth`` are new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_utils import to_checksum_address

from ledger.gc_pause import collector_paused
from scoring.bulk import BulkCollector, Undecodable
from scoring.business import order_growth, versus_peers
from scoring.collect import INSPECTION_FAILED, INSPECTION_PASSED, NONE, Collector
from scoring.graph import CircularTrading, TradeGraph, core_distance, find_cycles, propagate_trust, supply_tier
from scoring.history import History

#: Bumped whenever a feature's definition changes: part of every model's version hash.
FEATURES_VERSION = "scf-features/3"

DAY = 86_400
WINDOWS = {3: 91 * DAY, 6: 182 * DAY, 12: 365 * DAY}
#: The recent window that shows a supplier going downhill (deterioration), against its 12 months.
RECENT = 61 * DAY
#: Shrinkage of a trouble rate towards a typical supplier's: as if it had this many more orders
#: at this rate. A supplier with two orders, one late, is not worse than one with 3 of 10 late.
TROUBLE_PRIOR_ORDERS = 10
TROUBLE_PRIOR_BPS = 3_000
MONTH = 30 * DAY
ROLE_CORE = 1 << 1
ROLE_SUPPLIER = 1 << 2
ROLE_BANK = 1 << 3
#: Refused calls that are attempts to get paid twice for one claim.
DOUBLE_FINANCING_ERRORS = ("ReceivablesAlreadyFinanced", "ReceivablesInvoiceAlreadyIssued")
#: PAYDEX-like map of days beyond terms (negative: early) to 1..100, as D&B describes it.
PAYDEX_DAYS = (-20.0, -10.0, 0.0, 15.0, 22.0, 30.0, 60.0, 90.0, 120.0, 180.0)
PAYDEX_SCORE = (100.0, 90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 1.0)


def _i64(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _count(index: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index[mask], minlength=n).astype(np.float64)


def _sum(index: np.ndarray, mask: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index[mask], weights=weights[mask].astype(np.float64), minlength=n)


def _rate_bps(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator in whole basis points (floor), NaN where nothing was due."""
    out = np.full(numerator.shape, np.nan)
    has = denominator > 0
    out[has] = np.floor(numerator[has] * 10_000 / denominator[has])
    return out


def paydex(days_beyond_terms: np.ndarray) -> np.ndarray:
    """PAYDEX-like 1..100 (100: 20+ days early, 90: 10 early, 80: on time, 50: 30 days late, 1: 180+ late)."""
    return np.interp(days_beyond_terms, PAYDEX_DAYS, PAYDEX_SCORE)


@dataclass
class FeatureTable:
    """Every party's features as of one point: ``values[name][index[address]]``."""

    history: dict[str, Any]
    parties: list[str]
    index: dict[str, int]
    roles: np.ndarray
    member: np.ndarray
    values: dict[str, np.ndarray]
    circular: dict[int, list[str]] = field(default_factory=dict)
    refused_visible: bool = False

    def row(self, address: str) -> dict[str, float | None]:
        i = self.index[address]
        return {name: (None if np.isnan(v[i]) else float(v[i])) for name, v in sorted(self.values.items())}

    def is_core(self, i: int) -> bool:
        return bool(self.roles[i] & ROLE_CORE)


def build(history: History, *, view: str = "ledger") -> FeatureTable:
    """The feature table of every party in ``history``.

    ``view="ledger"`` is the scorer's view: the whole verified multi-tier history. ``view="direct"``
    is what a bank sees that only knows a core enterprise's direct suppliers (the tier-1-only
    baseline): orders placed by a core, nothing else (no receivable trees, no graph).
    """
    # The pass makes a million short-lived objects and no garbage that needs the cycle collector
    # before the table is done: its passes, set off every 700 allocations and walking the objects
    # that live on, cost about a sixth of the build (10,000 parties, in a process holding little else).
    with collector_paused():
        if history.raw is not None:
            try:
                bulk = BulkCollector()
                bulk.collect(history.raw)
                return _features(bulk, history, view)
            except Undecodable:
                pass  # the per-event path below decides (and raises what it raises) from the same rows
        c = Collector()
        handlers = c.handlers
        for e in history.events:
            handler = handlers.get((e.contract, e.event))
            if handler is not None:
                handler(e.timestamp, e.args)
        return _features(c, history, view)


def _features(c: Collector, history: History, view: str) -> FeatureTable:
    n = len(c.parties)
    t = history.as_of_time
    roles = _i64(c.roles)
    is_core = (roles & ROLE_CORE) != 0
    is_bank = (roles & ROLE_BANK) != 0
    values: dict[str, np.ndarray] = {}

    buyer, supplier, amount = _i64(c.o_buyer), _i64(c.o_supplier), _i64(c.o_amount)
    ship_by, deliver_by = _i64(c.o_ship_by), _i64(c.o_deliver_by)
    shipped, delivered, delivered_rec = _i64(c.o_shipped), _i64(c.o_delivered), _i64(c.o_delivered_recorded)
    inspection, inspected_rec = _i64(c.o_inspection), _i64(c.o_inspected_recorded)
    refunded, disputed = _i64(c.o_refunded), _i64(c.o_disputed)
    cancelled = np.asarray(c.o_cancelled, dtype=bool)
    contested = _i64(c.o_contested)
    scope = np.ones(len(buyer), dtype=bool)
    if view == "direct" and len(buyer):
        scope = is_core[buyer]
    seen = ~cancelled & scope
    verified = seen & (delivered_rec != NONE) & (refunded == NONE)

    # Circular trading: short cycles of similar amounts; their orders are not verified business.
    in_year = verified & (delivered_rec > t - WINDOWS[12])
    circular = CircularTrading({}, np.zeros(0, dtype=np.int64))
    if view == "ledger":
        circular = find_cycles(supplier, buyer, amount, delivered_rec, in_year)
    business = verified.copy()
    business[circular.orders] = False
    values["circular_cycles"] = np.zeros(n)
    for i, counterparts in circular.counterparties.items():
        values["circular_cycles"][i] = len(counterparts)

    for months, span in WINDOWS.items():
        start = t - span
        due_ship = seen & (ship_by > start) & (ship_by <= t)
        ok_ship = due_ship & (shipped != NONE) & (shipped <= ship_by)
        due_delivery = seen & (deliver_by > start) & (deliver_by <= t)
        ok_delivery = due_delivery & (delivered != NONE) & (delivered <= deliver_by)
        n_due = _count(supplier, due_delivery, n)
        values[f"orders_due_{months}m"] = n_due
        values[f"on_time_ship_{months}m"] = _rate_bps(_count(supplier, ok_ship, n), _count(supplier, due_ship, n))
        values[f"on_time_delivery_{months}m"] = _rate_bps(_count(supplier, ok_delivery, n), n_due)
        inspected = seen & (inspection != 0) & (inspected_rec > start)
        passed = inspected & (inspection == INSPECTION_PASSED)
        values[f"inspection_pass_{months}m"] = _rate_bps(_count(supplier, passed, n), _count(supplier, inspected, n))
        n_disputes = _count(supplier, seen & (disputed > start), n)
        n_refunds = _count(supplier, seen & (refunded > start), n)
        values[f"dispute_rate_{months}m"] = _rate_bps(n_disputes, np.maximum(n_due, n_disputes))
        values[f"refund_rate_{months}m"] = _rate_bps(n_refunds, np.maximum(n_due, n_refunds))
        in_window = business & (delivered_rec > start)
        values[f"volume_{months}m"] = _sum(supplier, in_window, amount, n)
        values[f"deliveries_{months}m"] = _count(supplier, in_window, n)

    v3 = values["volume_3m"]
    previous = values["volume_6m"] - v3
    trend = np.full(n, np.nan)
    has = (previous > 0) | (v3 > 0)
    trend[has] = np.clip(np.floor((v3[has] - previous[has]) * 10_000 / np.maximum(previous[has], 1.0)), -10_000, 30_000)
    values["volume_trend"] = trend
    _trouble_features(c, values, n, t, seen, scope, supplier, ship_by, deliver_by, shipped, delivered)

    # Months of the last twelve with at least one verified delivery, and tenure.
    year = business & (delivered_rec > t - 12 * MONTH)
    month_keys = np.unique(supplier[year] * 12 + (t - delivered_rec[year]) // MONTH)
    values["active_months_12m"] = np.bincount(month_keys // 12, minlength=n).astype(np.float64)
    first = np.full(n, np.iinfo(np.int64).max)
    if business.any():
        np.minimum.at(first, supplier[business], delivered_rec[business])
        np.minimum.at(first, buyer[business], delivered_rec[business])
    tenure = np.full(n, np.nan)
    known = first != np.iinfo(np.int64).max
    tenure[known] = (t - first[known]) // DAY
    values["tenure_days"] = tenure

    # Counterparties and concentration of sales over twelve months.
    year12 = business & (delivered_rec > t - WINDOWS[12])
    pairs = np.unique(supplier[year12] * n + buyer[year12]) if n else np.zeros(0, dtype=np.int64)
    values["counterparties_12m"] = (np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)).astype(
        np.float64
    )
    pair_volume = np.bincount(
        np.searchsorted(pairs, supplier[year12] * n + buyer[year12]),
        weights=amount[year12].astype(np.float64),
        minlength=len(pairs),
    )
    seller = pairs // n
    total = np.bincount(seller, weights=pair_volume, minlength=n)
    share = pair_volume / np.maximum(total[seller], 1.0)
    hhi = np.full(n, np.nan)
    sold = total > 0
    hhi[sold] = np.floor(np.bincount(seller, weights=share * share, minlength=n)[sold] * 10_000)
    values["concentration_12m"] = hhi

    values["guarantee_failures_12m"] = _count(_i64(c.g_supplier), _i64(c.g_time) > t - WINDOWS[12], n)
    recent = seen & (contested > 0) & (_i64(c.o_created) > t - WINDOWS[12])
    values["contested_12m"] = _sum(supplier, recent, contested, n)

    _receivable_features(c, values, n, t, is_core, is_bank, view)
    graph = TradeGraph(n)
    if view == "ledger":
        _graph_edges(c, graph, business, buyer, supplier, amount, t)
        distance = core_distance(graph, is_core)
        values["core_distance"] = distance
        values["trust"] = propagate_trust(graph, is_core)
    else:
        values["core_distance"] = np.where(is_core, 0.0, np.nan)
        values["trust"] = np.full(n, np.nan)
        if len(buyer):
            direct = np.zeros(n, dtype=bool)
            direct[supplier[seen]] = True
            values["core_distance"][direct & ~is_core] = 1.0
    # Size against the peers at the same tier, and the growth of the orders received (scoring.business).
    if view == "ledger":
        values["supply_tier"] = supply_tier(supplier[year12], buyer[year12], is_core)
    else:  # a core's direct suppliers are all one tier to a bank that sees nothing else
        values["supply_tier"] = values["core_distance"].copy()
    values["sales_vs_tier_12m"] = versus_peers(values["volume_12m"], values["supply_tier"])
    admitted = _i64(c.admitted)
    since = np.maximum(admitted, t - WINDOWS[12]) if n else admitted
    values["order_growth"] = order_growth(supplier[scope], _i64(c.o_created)[scope], since, t, n)

    refused = history.refused
    attempts = np.full(n, np.nan)
    if refused is not None:
        attempts[:] = 0
        for call in refused:
            if call.error in DOUBLE_FINANCING_ERRORS and call.block_number <= history.as_of_block:
                signer = c.index.get(call.sender)
                if signer is not None:
                    attempts[signer] += 1
    values["double_financing_attempts"] = attempts

    return FeatureTable(
        history=history.describe(),
        parties=c.parties,
        index=c.index,
        roles=roles,
        member=np.asarray(c.member, dtype=bool) & ~np.asarray(c.suspended, dtype=bool),
        values=values,
        circular={i: sorted(c.parties[j] for j in js) for i, js in circular.counterparties.items()},
        refused_visible=refused is not None,
    )


def _shrunk_rate_bps(troubles: np.ndarray, due: np.ndarray) -> np.ndarray:
    """troubles / due shrunk towards ``TROUBLE_PRIOR_BPS`` (whole basis points), NaN where nothing was due."""
    out = np.full(troubles.shape, np.nan)
    has = due > 0
    prior = TROUBLE_PRIOR_BPS * TROUBLE_PRIOR_ORDERS
    out[has] = np.floor((troubles[has] * 10_000 + prior) / (due[has] + TROUBLE_PRIOR_ORDERS))
    return out


def _trouble_features(
    c: Collector,
    values: dict[str, np.ndarray],
    n: int,
    t: int,
    seen: np.ndarray,
    scope: np.ndarray,
    supplier: np.ndarray,
    ship_by: np.ndarray,
    deliver_by: np.ndarray,
    shipped: np.ndarray,
    delivered: np.ndarray,
) -> None:
    """How often anything went wrong with a supplier's orders, over 12 months and lately, and
    whether its order intake is drying up.

    One pooled rate says more about a small supplier than one rate per kind of failure: a tier-3
    firm has about one order a month, so each separate rate rests on a handful of orders. An
    order went wrong when it was not shipped by its ship-by, not delivered by its deliver-by,
    failed inspection, was refunded or disputed, or was cancelled after its ship-by passed
    unshipped (open-account orders end that way). An order counts once its deliver-by has
    passed, or earlier if something already went wrong; it falls in a window by its ship-by.
    """
    cancelled_at = _i64(c.o_cancelled_at)
    inspection = _i64(c.o_inspection)
    refunded, disputed = _i64(c.o_refunded), _i64(c.o_disputed)
    not_shipped = (ship_by <= t) & ((shipped == NONE) | (shipped > ship_by))
    # An order cancelled before its ship-by was the buyer's choice; after it, the supplier's failure.
    counted = seen | (scope & (cancelled_at != NONE) & (cancelled_at > ship_by) & (shipped == NONE))
    wrong = counted & (
        not_shipped
        | ((deliver_by <= t) & ((delivered == NONE) | (delivered > deliver_by)))
        | (inspection == INSPECTION_FAILED)
        | (refunded != NONE)
        | (disputed != NONE)
    )
    due = counted & ((deliver_by <= t) | wrong)
    for name, span in (("12m", WINDOWS[12]), ("2m", RECENT)):
        window = ship_by > t - span
        n_due = _count(supplier, due & window, n)
        values[f"orders_known_{name}"] = n_due
        values[f"trouble_rate_{name}"] = _shrunk_rate_bps(_count(supplier, wrong & window, n), n_due)
    # Deterioration: troubles in the recent window beyond what the supplier's own earlier rate
    # (the 12 months before it, shrunk) predicts for as many orders, in hundredths of an order.
    recent = ship_by > t - RECENT
    earlier = ~recent & (ship_by > t - RECENT - WINDOWS[12])
    rate_before = _shrunk_rate_bps(_count(supplier, wrong & earlier, n), _count(supplier, due & earlier, n))
    rate_before = np.where(np.isnan(rate_before), TROUBLE_PRIOR_BPS, rate_before)
    known_recent = values["orders_known_2m"]
    excess = _count(supplier, wrong & recent, n) * 100 - np.floor(known_recent * rate_before / 100)
    values["trouble_excess_2m"] = np.where(known_recent > 0, excess, np.nan)

    # Order intake: orders received in the recent window against the rate before it (12 months,
    # or since admission), as a shrunk ratio in basis points (10,000: as many as before).
    created = _i64(c.o_created)
    admitted = _i64(c.admitted)
    recent = _count(supplier, created > t - RECENT, n)
    before = _count(supplier, (created > t - WINDOWS[12]) & (created <= t - RECENT), n)
    since = np.maximum(admitted, t - WINDOWS[12]) if n else admitted
    span_before = (t - RECENT) - since
    intake = np.full(n, np.nan)
    has = (admitted != NONE) & (span_before >= MONTH) & (recent + before > 0)
    expected = before[has] * RECENT / span_before[has]
    intake[has] = np.floor((recent[has] + 1.0) * 10_000 / (expected + 1.0))
    values["intake_trend"] = intake


def stack(tables: Sequence[FeatureTable]) -> FeatureTable:
    """Several feature tables (e.g. of several simulated worlds) as one, rows one table after the
    other, for fitting a model on all of them: row ``i`` of table ``k`` is row ``offset_k + i``
    (offsets: the sizes of the tables before it). Addresses are indexed as ``k:address``."""
    if len(tables) == 1:
        return tables[0]
    names = sorted(set.intersection(*(set(t.values) for t in tables)))
    parties = [f"{k}:{p}" for k, t in enumerate(tables) for p in t.parties]
    return FeatureTable(
        history={"stacked": [t.history for t in tables]},
        parties=parties,
        index={p: i for i, p in enumerate(parties)},
        roles=np.concatenate([t.roles for t in tables]),
        member=np.concatenate([t.member for t in tables]),
        values={name: np.concatenate([t.values[name] for t in tables]) for name in names},
        refused_visible=all(t.refused_visible for t in tables),
    )


def _receivable_features(
    c: Collector,
    values: dict[str, np.ndarray],
    n: int,
    t: int,
    is_core: np.ndarray,
    is_bank: np.ndarray,
    view: str,
) -> None:
    debtor, face, maturity = _i64(c.r_debtor), _i64(c.r_face), _i64(c.r_maturity)
    repaid_at, defaulted = _i64(c.r_repaid_at), _i64(c.r_defaulted)
    # Repayment timeliness as a debtor, PAYDEX-like, weighted by face value, debts due in the window.
    for months, span in WINDOWS.items():
        due = (maturity > t - span) & (maturity <= t)
        settled = np.where(repaid_at != NONE, repaid_at, t)
        days = (settled - maturity) // DAY
        score = paydex(days.astype(np.float64))
        weight = face.astype(np.float64)
        total = np.bincount(debtor[due], weights=weight[due], minlength=n)
        weighted = np.bincount(debtor[due], weights=(score * weight)[due], minlength=n)
        out = np.full(n, np.nan)
        has = total > 0
        out[has] = np.floor(weighted[has] / total[has] + 0.5)
        values[f"paydex_{months}m"] = out
    values["defaults_12m"] = _count(debtor, (defaulted != NONE) & (defaulted > t - WINDOWS[12]), n)
    repaid = _i64(c.r_repaid)
    open_debt = (repaid_at == NONE) & (defaulted == NONE)
    values["receivables_outstanding"] = _sum(debtor, open_debt, np.maximum(face - repaid, 0), n)

    if view != "ledger":
        values["core_receivables_12m"] = np.full(n, np.nan)
        values["core_receivables_held"] = np.full(n, np.nan)
        return
    p_root, p_amount, p_holder = _i64(c.p_root), _i64(c.p_amount), _i64(c.p_holder)
    p_split = np.asarray(c.p_split, dtype=bool)
    core_root = is_core[debtor] if len(debtor) else np.zeros(0, dtype=bool)
    piece_core = core_root[p_root] if len(p_root) else np.zeros(0, dtype=bool)
    rc_party, rc_piece, rc_time = _i64(c.rc_party), _i64(c.rc_piece), _i64(c.rc_time)
    received = (rc_time > t - WINDOWS[12]) & ~is_bank[rc_party] if len(rc_party) else np.zeros(0, dtype=bool)
    if len(rc_piece):
        received &= piece_core[rc_piece]
    values["core_receivables_12m"] = _sum(rc_party, received, p_amount[rc_piece] if len(rc_piece) else rc_piece, n)
    live = ~p_split
    if len(p_root):
        live &= piece_core & (repaid_at[p_root] == NONE) & (defaulted[p_root] == NONE)
    values["core_receivables_held"] = _sum(p_holder, live, p_amount, n)


def _graph_edges(
    c: Collector,
    graph: TradeGraph,
    business: np.ndarray,
    buyer: np.ndarray,
    supplier: np.ndarray,
    amount: np.ndarray,
    t: int,
) -> None:
    """Edges along which trust flows: paid, verified trade (buyer → supplier) and receivables
    (giver → receiver) weighted by how good the root debt is: repaid 1, not yet due 1/2,
    overdue or defaulted 0."""
    graph.add(buyer[business], supplier[business], amount[business].astype(np.float64))
    if not c.rc_party:
        return
    rc_party, rc_from, rc_piece = _i64(c.rc_party), _i64(c.rc_from), _i64(c.rc_piece)
    p_root, p_amount = _i64(c.p_root), _i64(c.p_amount)
    repaid_at, defaulted, maturity = _i64(c.r_repaid_at), _i64(c.r_defaulted), _i64(c.r_maturity)
    root = p_root[rc_piece]
    quality = np.where(
        repaid_at[root] != NONE, 1.0, np.where((defaulted[root] == NONE) & (maturity[root] > t), 0.5, 0.0)
    )
    graph.add(rc_from, rc_party, p_amount[rc_piece].astype(np.float64) * quality)


def checksum_party(text: str) -> str:
    """EIP-55 form of an address given in any case (``InvalidParty`` when it is not one)."""
    from scoring.errors import InvalidParty

    stripped = text.strip()
    if len(stripped) != 42 or not stripped.startswith(("0x", "0X")):
        raise InvalidParty(text)
    try:
        int(stripped[2:], 16)
        return to_checksum_address("0x" + stripped[2:])
    except ValueError as exc:
        raise InvalidParty(text) from exc
