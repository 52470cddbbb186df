"""The points scorecard: fit, PDO scaling, PD, grades, limits, and the model's version hash.

**Fit.** Each model feature is cut into bins at the training parties' deciles (integer edges)
plus a "no data" bin. A bin stands for the mean of its training values on the feature's scale
(log for amounts, counts and durations), standardised. A logistic regression of failure on
those values is fitted with an L2 penalty and **sign constraints** (scipy L-BFGS-B bounds): a
feature whose higher values are better may only lower the log-odds of failure, and the other
way round, so every effect is monotone, as a bank's credit policy requires (more on-time
deliveries never cost points). A feature whose fitted effect is zero keeps all bins at 0 points.
The penalty is chosen from ``L2_GRID`` by 5-fold cross-validated log-loss on the training parties
themselves (deterministic folds), so a world of 150 training suppliers with 15 failures gets the
stronger penalty it needs and a larger one a lighter touch; the choice and the losses are kept
in the model's ``training`` metadata.

**Points.** PDO scaling: ``score = offset + factor * ln(odds good:bad)`` with ``BASE_SCORE``
points at odds ``BASE_ODDS``:1 and ``PDO`` points to double the odds; each bin's points are
``-factor * coefficient * value`` rounded to an integer, the intercept goes to the base points.
A decision's score is the integer sum of its bins' points: no float survives into a decision
except the PD, computed from the integer score by one formula. The PD is calibrated because the
logistic fit is (its intercept is not penalised), and `evaluate` checks it on held-out parties.

**Typical.** A scorecard's points say how far a party is from the log-odds of an average one,
but a reason must say how it compares with the parties a bank knows, so the fit records per
feature what the *fitting population* (the parties scored in the fit: enough history) typically
gets: ``typical.points`` is the median (the lower one, an actual party's points) of the points
those parties get on the feature, parties with no data counted with the no-data points, since
"no data" is as much part of the population as any bin; ``typical.value`` is the median value of
the parties with known values that get exactly those points (``null`` when the typical party has
no data), so the value and the points name the same bin. A median of points rather than the
points of the median value keeps the no-data parties in the population (most suppliers owe no
receivable of their own, so their typical PAYDEX points are the no-data points, not a payer's).
Points are monotone in the value, so a value at or better than the typical one never has fewer
points than typical. A model made before this (no ``typical`` in its features) still loads: its
decisions fall back to the best bin and say so.

**Grades** AAA..C are PD bands (``GRADES``: the on-chain code is 1 for AAA .. 9 for C; 0 means no
grade, e.g. insufficient history). **Limit** = average monthly verified business (12 months)
times the grade's multiple, in whole tokens (token units rounded down to ``LIMIT_UNIT``). The
multiple falls with the PD: a CC supplier (PD up to 50%) still gets 5% of a month's verified
sales, a bounded pre-payment exposure that keeps a weak but trading SME inside the system; only
C (more likely to fail than not) and flagged parties get no limit.

**Version.** A model is one canonical JSON object (keys sorted, no spaces, ASCII); its version is
the keccak-256 of those bytes, the ``modelHash`` published on chain, so an auditor holding the
file can check it is the model that made a limit and recompute the limit byte for byte.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_utils import keccak

from scoring.errors import FitError, ModelError
from scoring.features import FEATURES_VERSION, FeatureTable

FORMAT = 1
BASE_SCORE = 600
BASE_ODDS = 50
PDO = 20
#: Penalties tried; the one with the best cross-validated log-loss on the training parties is used.
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 5
#: Bin edges at the training parties' deciles: finer than quintiles, so that the strongest
#: features still rank within a bin's width (ties cost AUC and limits alike).
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_DELIVERIES = 3  # verified deliveries in 12 months below which there is no score
VALIDITY = 30 * 86_400  # a published limit is valid this long after its as-of time
LIMIT_UNIT = 10**6  # whole tokens of a 6-decimal settlement token
MAX_LIMIT = 10**15
#: (grade, on-chain code, largest PD in basis points, limit as bps of average monthly business)
GRADES: tuple[tuple[str, int, int, int], ...] = (
    ("AAA", 1, 25, 30_000),
    ("AA", 2, 50, 25_000),
    ("A", 3, 100, 20_000),
    ("BBB", 4, 200, 15_000),
    ("BB", 5, 500, 10_000),
    ("B", 6, 1_000, 6_000),
    ("CCC", 7, 2_000, 3_000),
    ("CC", 8, 5_000, 500),
    ("C", 9, 10_000, 0),
)
#: The best grade a party flagged for double financing or circular trading can get.
FLAGGED_GRADE_CAP = "CCC"


@dataclass(frozen=True)
class Spec:
    """A model feature: its column, which way is better, its scale, and how to say it in words."""

    name: str
    better: int  # +1: higher is better; -1: higher is worse
    scale: str  # "linear" or "log"
    unit: str  # how to print a value: "pct", "tokens", "days", "count", "hops", "trust", "paydex", "orders100"
    #: a fact, not a judgement ("{v}": the value printed in its unit): a reason and a favourable
    #: factor say the same words, so they must read true on either side of typical
    words: str
    missing: str  # what "no data" means, in words


#: Every feature a scorecard can use, with which way is better and its words.
CATALOGUE: tuple[Spec, ...] = (
    Spec(
        "trouble_rate_12m",
        -1,
        "linear",
        "pct",
        "orders gone wrong (late, unshipped, failed inspection, refunded or disputed) {v} over 12 months",
        "no order due in the last 12 months",
    ),
    Spec(
        "trouble_rate_2m",
        -1,
        "linear",
        "pct",
        "orders gone wrong {v} over the last 2 months",
        "no order due in the last 2 months",
    ),
    Spec(
        "trouble_excess_2m",
        -1,
        "linear",
        "orders100",
        "orders gone wrong in the last 2 months beyond what its own record predicts: {v}",
        "no order due in the last 2 months",
    ),
    Spec(
        "intake_trend",
        1,
        "linear",
        "pct",
        "orders received in the last 2 months against its usual rate: {v}",
        "no order received in 12 months",
    ),
    Spec(
        "on_time_delivery_6m",
        1,
        "linear",
        "pct",
        "on-time delivery {v} over 6 months",
        "no delivery due in the last 6 months",
    ),
    Spec(
        "on_time_delivery_3m",
        1,
        "linear",
        "pct",
        "on-time delivery {v} over 3 months",
        "no delivery due in the last 3 months",
    ),
    Spec(
        "on_time_ship_6m",
        1,
        "linear",
        "pct",
        "on-time shipping {v} over 6 months",
        "no shipment due in the last 6 months",
    ),
    Spec(
        "inspection_pass_6m",
        1,
        "linear",
        "pct",
        "inspections passed {v} over 6 months",
        "no inspection in the last 6 months",
    ),
    Spec(
        "refund_rate_6m",
        -1,
        "linear",
        "pct",
        "orders refunded to the buyer {v} over 6 months",
        "no order due in the last 6 months",
    ),
    Spec(
        "refund_rate_3m",
        -1,
        "linear",
        "pct",
        "orders refunded to the buyer {v} over 3 months",
        "no order due in the last 3 months",
    ),
    Spec(
        "dispute_rate_6m",
        -1,
        "linear",
        "pct",
        "orders disputed by the buyer {v} over 6 months",
        "no order due in the last 6 months",
    ),
    Spec("volume_12m", 1, "log", "tokens", "verified sales {v} over 12 months", "no verified sales"),
    Spec(
        "volume_trend",
        1,
        "linear",
        "pct",
        "verified sales of the last 3 months against the 3 before: {v}",
        "no verified sales in the last 6 months",
    ),
    Spec(
        "sales_vs_tier_12m",
        1,
        "log",
        "pct",
        "verified sales over 12 months {v} of the median of suppliers at its tier of the supply chain",
        "no verified sales, or too few suppliers at its tier of the supply chain to compare with",
    ),
    Spec(
        "order_growth",
        1,
        "linear",
        "pct",
        "orders received trending {v} a month over 12 months",
        "no order received in 12 months",
    ),
    Spec(
        "counterparties_12m",
        1,
        "log",
        "count",
        "verified trading partners over 12 months: {v}",
        "no verified trading partner",
    ),
    Spec(
        "concentration_12m",
        -1,
        "linear",
        "pct",
        "sales concentration on its buyers {v} over 12 months (HHI)",
        "no verified sales",
    ),
    Spec("tenure_days", 1, "log", "days", "verified trading history of {v}", "no verified trade"),
    Spec(
        "paydex_12m",
        1,
        "linear",
        "paydex",
        "repays its own receivables at {v} over 12 months (80: on time)",
        "no receivable of its own due in 12 months",
    ),
    Spec(
        "core_receivables_12m",
        1,
        "log",
        "tokens",
        "receivables received from a core enterprise {v} over 12 months",
        "no receivable received from a core enterprise",
    ),
    Spec(
        "core_distance",
        -1,
        "linear",
        "hops",
        "distance to a core enterprise in the trade graph: {v}",
        "no verified link to a core enterprise",
    ),
    Spec(
        "trust",
        1,
        "log",
        "trust",
        "trust propagated from core enterprises: {v}",
        "no trust propagated from a core enterprise",
    ),
    Spec(
        "guarantee_failures_12m",
        -1,
        "log",
        "count",
        "pre-payments it failed to deliver on over 12 months: {v}",
        "no pre-payment failure",
    ),
)
SPEC_BY_NAME = {s.name: s for s in CATALOGUE}
#: The default scorecard's features. Few on purpose: a world of 300 firms leaves ~300 suppliers
#: with ~30-45 failures, and every extra feature is noise the fit must pay for. One pooled trouble
#: rate (with its recent excess) says what the separate on-time, inspection, refund and dispute
#: rates say, with less noise; the order book says how the business goes (the recent intake
#: against its usual rate, the trend of a whole year of orders, and its size against the suppliers
#: at the same tier of the chain: small firms fail more); the multi-tier link (trust, receivables
#: from a core) and the debtor record (PAYDEX) add what only the ledger shows. Sales of three
#: months against the three before (``volume_trend``) and buyer concentration are left out: the
#: first is mostly noise next to ``order_growth``, the second earned no points.
DEFAULT_FEATURES = (
    "trouble_rate_12m",
    "trouble_excess_2m",
    "on_time_delivery_6m",
    "intake_trend",
    "order_growth",
    "sales_vs_tier_12m",
    "trust",
    "paydex_12m",
    "core_receivables_12m",
)
SPECS: tuple[Spec, ...] = tuple(SPEC_BY_NAME[name] for name in DEFAULT_FEATURES)
VOLUME_ONLY = ("volume_12m",)


def describe(spec: Spec, value: float | None) -> str:
    if value is None:
        return spec.missing
    return spec.words.format(v=format_value(spec.unit, value))


def format_value(unit: str, value: float) -> str:
    v = int(value)
    if unit == "pct":
        sign, whole, cents = "-" if v < 0 else "", abs(v) // 100, abs(v) % 100
        return f"{sign}{whole}.{cents:02d}%" if cents else f"{sign}{whole}%"
    if unit == "tokens":
        return f"{v // LIMIT_UNIT:,} tokens"
    if unit == "days":
        return f"{v} days"
    if unit == "hops":
        return "no link" if v >= 9 else f"{v} hops"
    if unit == "orders100":  # hundredths of an order
        return f"{'-' if v < 0 else '+'}{abs(v) // 100}.{abs(v) % 100:02d} orders"
    if unit == "trust":
        return f"{v / 1000:.3f} times an average party"
    if unit == "paydex":
        return f"PAYDEX {v}"
    return str(v)


def transform(scale: str, values: np.ndarray) -> np.ndarray:
    if scale == "log":
        return np.log1p(np.maximum(values, 0.0))
    return values.astype(np.float64)


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, ASCII (what the version hash covers)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


@dataclass(frozen=True)
class ModelFeature:
    name: str
    edges: tuple[int, ...]  # bin i holds edges[i-1] <= value < edges[i]
    points: tuple[int, ...]  # len(edges) + 1 bins
    missing_points: int
    #: The fitting population's typical points on this feature and the value they stand for
    #: (None: the typical party has no data); ``typical_points`` None: a model made before typicals.
    typical_points: int | None = None
    typical_value: int | None = None

    def bin_of(self, value: float | None) -> int | None:
        if value is None or math.isnan(value):
            return None
        return sum(1 for e in self.edges if value >= e)

    def points_of(self, value: float | None) -> int:
        b = self.bin_of(value)
        return self.missing_points if b is None else self.points[b]

    @property
    def best(self) -> int:
        return max(max(self.points), self.missing_points)

    @property
    def reference(self) -> int:
        """The points a party's points are compared with for reasons: typical, else (an older model) the best bin."""
        return self.best if self.typical_points is None else self.typical_points


@dataclass(frozen=True)
class Model:
    """A fitted scorecard (``body`` is its canonical JSON object, ``version`` its hash)."""

    body: dict[str, Any]

    @property
    def raw(self) -> bytes:
        return canonical(self.body)

    @property
    def version(self) -> str:
        return "0x" + keccak(self.raw).hex()

    @property
    def features(self) -> list[ModelFeature]:
        return [
            ModelFeature(
                f["name"],
                tuple(f["edges"]),
                tuple(f["points"]),
                int(f["missing_points"]),
                *_typical_of(f.get("typical")),
            )
            for f in self.body["features"]
        ]

    @property
    def has_typical(self) -> bool:
        """Whether the model records the population's typical points (models fitted before them do not)."""
        return all("typical" in f for f in self.body["features"])

    @property
    def base_points(self) -> int:
        return int(self.body["base_points"])

    @property
    def validity(self) -> int:
        return int(self.body["validity"])

    @property
    def min_deliveries(self) -> int:
        return int(self.body["min_history"]["deliveries_12m"])

    @property
    def thin_file_pd_bps(self) -> int:
        return int(self.body["thin_file_pd_bps"])

    def pd_bps(self, score: int) -> int:
        """PD of an integer score in whole basis points (at least 1, at most 9999)."""
        s = self.body["scaling"]
        factor = s["pdo"] / math.log(2)
        offset = s["base_score"] - factor * math.log(s["base_odds"])
        odds_good = math.exp(min(700.0, (score - offset) / factor))
        return min(9_999, max(1, math.floor(10_000 / (1 + odds_good) + 0.5)))

    def grade(self, pd_bps: int) -> tuple[str, int]:
        for name, code, max_pd, _ in self._grades():
            if pd_bps <= max_pd:
                return name, code
        last = self._grades()[-1]
        return last[0], last[1]

    def _grades(self) -> list[tuple[str, int, int, int]]:
        return [(g["grade"], g["code"], g["max_pd_bps"], g["multiple_bps"]) for g in self.body["grades"]]

    def multiple_bps(self, grade: str) -> int:
        return next(g[3] for g in self._grades() if g[0] == grade)

    def cap_grade(self, grade: str, code: int) -> tuple[str, int]:
        cap = self.body["overrides"]["flagged_grade_cap"]
        cap_code = next(g[1] for g in self._grades() if g[0] == cap)
        return (grade, code) if code >= cap_code else (cap, cap_code)

    def limit(self, grade: str, volume_12m: int) -> int:
        policy = self.body["limit_policy"]
        monthly = volume_12m // 12
        raw = monthly * self.multiple_bps(grade) // 10_000
        unit = int(policy["unit"])
        return min(int(policy["max_limit"]), raw // unit * unit)

    def save(self, path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.raw + b"\n")
        return self.version

    @classmethod
    def load(cls, path: Path) -> Model:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ModelError(str(path), f"cannot read: {exc.strerror or exc}") from exc
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ModelError(str(path), f"not JSON: {exc}") from exc
        return cls.from_body(body, str(path))

    @classmethod
    def from_body(cls, body: Any, where: str = "<memory>") -> Model:
        if not isinstance(body, dict) or body.get("format") != FORMAT or body.get("kind") != "scf-scorecard":
            raise ModelError(where, f"not a format {FORMAT} scf-scorecard")
        if body.get("features_version") != FEATURES_VERSION:
            raise ModelError(
                where, f"built for features {body.get('features_version')!r}, this scorer computes {FEATURES_VERSION!r}"
            )
        try:
            model = cls(body)
            recorded = sum(1 for f in body["features"] if "typical" in f)
            if recorded not in (0, len(body["features"])):
                raise ModelError(where, f"typical points recorded for {recorded} of {len(body['features'])} features")
            for f in model.features:
                if len(f.points) != len(f.edges) + 1:
                    raise ModelError(where, f"feature {f.name}: {len(f.edges)} edges but {len(f.points)} bins")
                if f.typical_value is not None and f.points_of(f.typical_value) != f.typical_points:
                    raise ModelError(
                        where,
                        f"feature {f.name}: typical value {f.typical_value} is worth {f.points_of(f.typical_value)} "
                        f"points, not the typical {f.typical_points}",
                    )
            model.pd_bps(BASE_SCORE)
            model.grade(1)
        except (KeyError, TypeError, ValueError, StopIteration) as exc:
            raise ModelError(where, f"malformed: {exc!r}") from exc
        return model


def _typical_of(recorded: Any) -> tuple[int | None, int | None]:
    """(points, value) of a feature's ``typical`` entry; (None, None) for a model made before typicals."""
    if recorded is None:
        return None, None
    points, value = recorded["points"], recorded["value"]
    if not isinstance(points, int) or isinstance(points, bool):
        raise TypeError(f"typical points must be an integer, not {points!r}")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"typical value must be an integer or null, not {value!r}")
    return points, value


def typical(
    edges: Sequence[int], points: Sequence[int], missing_points: int, values: np.ndarray
) -> dict[str, int | None]:
    """The typical points of a feature over a population's ``values`` (NaN: no data), and the value they stand for.

    Points: the lower median of every party's points (no data counts with the no-data points).
    Value: the lower median of the known values worth exactly those points, None if no known value is
    (the typical party has no data). Both are actual parties' figures, so no rounding enters.
    """
    known = ~np.isnan(values)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    table = np.asarray(points, dtype=np.int64)
    each = np.where(known, table[np.minimum(bins, len(edges))], missing_points)
    if len(each) == 0:
        return {"points": int(missing_points), "value": None}
    median = int(np.quantile(each, 0.5, method="lower"))
    at = known & (each == median)
    value = int(np.floor(np.quantile(values[at], 0.5, method="lower"))) if at.any() else None
    return {"points": median, "value": value}


def _edges(values: np.ndarray) -> tuple[int, ...]:
    known = values[~np.isnan(values)]
    if len(known) == 0:
        return ()
    cuts = np.floor(np.quantile(known, QUANTILES, method="lower")).astype(np.int64)
    low = int(np.floor(known.min()))
    return tuple(sorted({int(c) for c in cuts if c > low}))


def fit(
    table: FeatureTable,
    rows: Sequence[int],
    failed: Sequence[bool],
    *,
    specs: Sequence[Spec] = SPECS,
    training: Mapping[str, Any] | None = None,
    l2: float | None = None,
) -> Model:
    """A scorecard fitted on the parties ``rows`` of ``table`` with labels ``failed``.

    Parties with too little history (fewer than ``MIN_DELIVERIES`` verified deliveries in 12
    months) are left out of the fit; their failure rate becomes the model's thin-file PD.
    ``l2``: the penalty; None chooses it from ``L2_GRID`` by cross-validation on these parties.
    Each feature records its ``typical`` points and value over the parties fitted (``typical``).
    """
    rows_a = np.asarray(rows, dtype=np.int64)
    y_all = np.asarray(failed, dtype=np.float64)
    deliveries = table.values["deliveries_12m"][rows_a] if len(rows_a) else np.zeros(0)
    thick = deliveries >= MIN_DELIVERIES
    thin_bad, thin_n = float(y_all[~thick].sum()), int((~thick).sum())
    base_rate = float(y_all.mean()) if len(y_all) else 0.0
    thin_pd = (thin_bad + base_rate) / (thin_n + 1)  # shrunk towards the overall rate
    idx, y = rows_a[thick], y_all[thick]
    if len(idx) < 20 or y.sum() < 2 or y.sum() > len(y) - 2:
        raise FitError(f"{len(idx)} parties with enough history and {int(y.sum())} failures among them")

    columns: list[np.ndarray] = []
    shaped: list[dict[str, Any]] = []
    for spec in specs:
        raw = table.values[spec.name][idx]
        edges = _edges(raw)
        x = transform(spec.scale, raw)
        known = ~np.isnan(raw)
        neutral = float(x[known].mean()) if known.any() else 0.0
        bins = np.searchsorted(np.asarray(edges, dtype=np.float64), raw, side="right")
        stands_for = []
        for b in range(len(edges) + 1):
            inside = known & (bins == b)
            if inside.any():
                stands_for.append(float(x[inside].mean()))
            elif edges:  # an empty bin: its lower edge on the feature's scale
                edge = edges[b - 1] if b > 0 else edges[0]
                stands_for.append(float(transform(spec.scale, np.asarray([float(edge)]))[0]))
            else:
                stands_for.append(neutral)
        value = np.where(known, np.asarray(stands_for)[np.minimum(bins, len(edges))], neutral)
        mean, sd = float(value.mean()), float(value.std())
        sd = sd if sd > 1e-9 else 1.0
        columns.append((value - mean) / sd)
        shaped.append(
            {"spec": spec, "edges": edges, "stands_for": stands_for, "neutral": neutral, "mean": mean, "sd": sd}
        )

    x_matrix = np.column_stack(columns) if columns else np.zeros((len(idx), 0))
    better = [s.better for s in specs]
    cv: dict[str, float] = {}
    if l2 is None:
        cv = {f"{penalty:g}": round(_cv_log_loss(x_matrix, y, better, penalty), 6) for penalty in L2_GRID}
        l2 = min(L2_GRID, key=lambda penalty: (cv[f"{penalty:g}"], penalty))
    coef, intercept = _logistic(x_matrix, y, better, l2)

    factor = PDO / math.log(2)
    offset = BASE_SCORE - factor * math.log(BASE_ODDS)
    features = []
    for beta, s in zip(coef.tolist(), shaped, strict=True):

        def pts(v: float, beta: float = beta, s: dict[str, Any] = s) -> int:
            return math.floor(-factor * beta * (v - s["mean"]) / s["sd"] + 0.5)

        bin_points = [pts(v) for v in s["stands_for"]]
        features.append(
            {
                "name": s["spec"].name,
                "better": s["spec"].better,
                "scale": s["spec"].scale,
                "edges": list(s["edges"]),
                "points": bin_points,
                "missing_points": pts(s["neutral"]),
                "coefficient": round(beta, 6),
                "mean": round(s["mean"], 6),
                "sd": round(s["sd"], 6),
                # over the parties this fit scored (enough history): what reasons are measured against
                "typical": typical(s["edges"], bin_points, pts(s["neutral"]), table.values[s["spec"].name][idx]),
            }
        )
    body = {
        "format": FORMAT,
        "kind": "scf-scorecard",
        "features_version": FEATURES_VERSION,
        "scaling": {"base_score": BASE_SCORE, "base_odds": BASE_ODDS, "pdo": PDO},
        "base_points": math.floor(offset - factor * intercept + 0.5),
        "features": features,
        "grades": [{"grade": g, "code": c, "max_pd_bps": p, "multiple_bps": m} for g, c, p, m in GRADES],
        "limit_policy": {
            "scale": "average monthly verified sales over 12 months (volume_12m // 12)",
            "unit": LIMIT_UNIT,
            "max_limit": MAX_LIMIT,
        },
        "min_history": {"deliveries_12m": MIN_DELIVERIES},
        "thin_file_pd_bps": min(9_999, max(1, math.floor(thin_pd * 10_000 + 0.5))),
        "overrides": {
            "flagged_grade_cap": FLAGGED_GRADE_CAP,
            "flagged_limit": 0,
            "flags": ["double_financing", "circular_trading"],
        },
        "validity": VALIDITY,
        "training": {
            "parties": len(idx),
            "failures": int(y.sum()),
            "thin_file_parties": thin_n,
            "l2": l2,
            "cv_log_loss_by_l2": cv,
            **dict(training or {}),
        },
    }
    return Model(body)


def _folds(y: np.ndarray) -> np.ndarray:
    """Deterministic stratified folds: failures and survivors dealt round-robin in row order."""
    folds = np.zeros(len(y), dtype=np.int64)
    for label in (0.0, 1.0):
        where = np.flatnonzero(y == label)
        folds[where] = np.arange(len(where)) % CV_FOLDS
    return folds


def _cv_log_loss(x: np.ndarray, y: np.ndarray, better: Sequence[int], l2: float) -> float:
    """Mean log-loss of held-out folds for penalty ``l2`` (how well it predicts parties it did not see)."""
    folds = _folds(y)
    total = 0.0
    for k in range(CV_FOLDS):
        out = folds == k
        coef, intercept = _logistic(x[~out], y[~out], better, l2)
        z = intercept + x[out] @ coef
        total += float(np.sum(np.logaddexp(0.0, z) - y[out] * z))
    return total / len(y)


def _logistic(x: np.ndarray, y: np.ndarray, better: Sequence[int], l2: float) -> tuple[np.ndarray, float]:
    """Penalised logistic regression of ``y`` on ``x`` with each coefficient's sign bounded:
    a feature whose higher values are better gets a coefficient <= 0 on the log-odds of failure."""
    _n, k = x.shape
    prior = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = w[0] + x @ w[1:]
        p = 1.0 / (1.0 + np.exp(-z))
        nll = float(np.sum(np.logaddexp(0.0, z) - y * z))
        grad = np.concatenate([[np.sum(p - y)], x.T @ (p - y) + l2 * w[1:]])
        return nll + 0.5 * l2 * float(w[1:] @ w[1:]), grad

    start = np.zeros(k + 1)
    start[0] = math.log(prior / (1 - prior))
    bounds = [(None, None)] + [((None, 0.0) if b > 0 else (0.0, None)) for b in better]
    from scipy.optimize import minimize  # only fitting needs it; importing it costs every `scf` start

    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
    w = result.x
    return w[1:], float(w[0])
