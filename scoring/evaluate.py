"""Honest measurement: fit on part of a simulated world's parties, report on the others.

The population is the world's suppliers (tiers 1..3) that are members as of the observation
period's end. They are split deterministically by a hash of their address (``held_out``): the
model is fitted on the training part (features as of the observation end, labels from the
ground truth: failed during the hold-out period) and every figure is measured on the held-out
part, which the fit never saw. Two baselines are measured the same way:

* ``tier1_only``: a bank that sees only its core enterprise's direct suppliers. It fits the same
  kind of scorecard on what a direct relationship shows (orders placed by a core: no receivable
  trees, no graph) and can only score parties that sold to a core; everyone else gets no limit
  and, for ranking, the training failure rate.
* ``volume_only``: a scorecard on verified 12-month sales alone.

Figures: AUC (ties count half), KS, calibration (held-out parties in five bins of predicted PD:
mean predicted vs observed failure rate), Brier score, and **coverage**: the share of active
tier-2/3 suppliers (verified deliveries in at least 3 of the last 12 months) given a limit above
zero. The bad actors' decisions are listed with whether their reason codes name what they did.

A held-out half of a 300-firm world holds ~150 suppliers and ~20 failures: its AUC has a standard
error of about 0.045, so the report adds a **cross-validated** AUC over every supplier (five
folds by address hash, each party scored by the fit that did not see it), the same question
asked of twice the parties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_utils import keccak

from scoring import features, scorecard
from scoring.decision import Scorer
from scoring.errors import FitError
from scoring.history import History
from scoring.scorecard import SPEC_BY_NAME, SPECS, VOLUME_ONLY, Model
from scoring.world import Truth

HOLDOUT_PERCENT = 50
CV_FOLDS = 5
ACTIVE_MONTHS = 3
CALIBRATION_BINS = 5
#: What a direct relationship with a core shows a bank: no receivable trees, no graph.
DIRECT_SPECS = tuple(s for s in SPECS if s.name not in ("core_receivables_12m", "core_distance", "trust", "paydex_12m"))
FLAG_OF = {"double_financer": "DOUBLE_FINANCING", "circular_trader": "CIRCULAR_TRADING"}


def held_out(address: str) -> bool:
    """Whether a party is in the hold-out set: the same answer for the same address, everywhere."""
    return int.from_bytes(keccak(text="scf-holdout/" + address.lower())[:4], "big") % 100 < HOLDOUT_PERCENT


def fold_of(address: str) -> int:
    """A party's cross-validation fold, from its address alone (like ``held_out``)."""
    return int.from_bytes(keccak(text="scf-fold/" + address.lower())[:4], "big") % CV_FOLDS


def auc(pd: np.ndarray, failed: np.ndarray) -> float | None:
    bad, good = int(failed.sum()), int((~failed).sum())
    if bad == 0 or good == 0:
        return None
    # scipy.stats costs ~0.9 s to import, on every `scf` start: imported where it is used.
    from scipy.stats import rankdata

    ranks = rankdata(pd)
    return float((ranks[failed].sum() - bad * (bad + 1) / 2) / (bad * good))


def ks(pd: np.ndarray, failed: np.ndarray) -> float | None:
    if failed.all() or not failed.any():
        return None
    thresholds = np.unique(pd)
    bad = np.searchsorted(np.sort(pd[failed]), thresholds, side="right") / failed.sum()
    good = np.searchsorted(np.sort(pd[~failed]), thresholds, side="right") / (~failed).sum()
    return float(np.max(np.abs(good - bad)))


def calibration(pd_bps: np.ndarray, failed: np.ndarray) -> list[dict[str, Any]]:
    order = np.argsort(pd_bps, kind="stable")
    out = []
    for chunk in np.array_split(order, CALIBRATION_BINS):
        if len(chunk) == 0:
            continue
        out.append(
            {
                "n": len(chunk),
                "predicted_bps": round(float(pd_bps[chunk].mean())),
                "observed_bps": round(float(failed[chunk].mean()) * 10_000),
                "failures": int(failed[chunk].sum()),
            }
        )
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


@dataclass(frozen=True)
class Split:
    train: list[str]
    test: list[str]
    failed: dict[str, bool]
    tier: dict[str, int]


def split(table: features.FeatureTable, truth: Mapping[str, Truth]) -> Split:
    people = sorted(
        a
        for a, t in truth.items()
        if t.kind == "supplier" and t.tier in (1, 2, 3) and a in table.index and table.member[table.index[a]]
    )
    return Split(
        [a for a in people if not held_out(a)],
        [a for a in people if held_out(a)],
        {a: truth[a].failed for a in people},
        {a: int(truth[a].tier or 0) for a in people},
    )


def _measure(
    pds: Sequence[int], limits: Sequence[int], people: Sequence[str], s: Split, table: features.FeatureTable
) -> dict[str, Any]:
    pd = np.asarray(pds, dtype=np.float64)
    failed = np.asarray([s.failed[a] for a in people], dtype=bool)
    active = [
        k
        for k, a in enumerate(people)
        if s.tier[a] in (2, 3) and table.values["active_months_12m"][table.index[a]] >= ACTIVE_MONTHS
    ]
    covered = sum(1 for k in active if limits[k] > 0)
    return {
        "auc": _round(auc(pd, failed)),
        "ks": _round(ks(pd, failed)),
        "brier": _round(float(np.mean((pd / 10_000 - failed) ** 2)) if len(pd) else None),
        "calibration": calibration(pd, failed),
        # calibration in the large: the mean PD against the observed failure rate of the same parties
        "mean_pd_bps": round(float(pd.mean())) if len(pd) else None,
        "observed_bps": round(float(failed.mean()) * 10_000) if len(pd) else None,
        "coverage_tier23": _round(covered / len(active) if active else None),
        "active_tier23": len(active),
        "n": len(people),
        "failures": int(failed.sum()),
    }


def evaluate(
    history: History,
    truth: Mapping[str, Truth],
    *,
    training: Mapping[str, Any] | None = None,
    model: Model | None = None,
    population: str = "held_out",
) -> tuple[dict[str, Any], Model]:
    """Fit on the training parties (unless ``model`` is given), measure the model and both
    baselines on the held-out parties; the report and the model measured.

    ``model``: a model fitted elsewhere, measured as it is (no fit here; a world too small to fit
    on can still measure one). ``population="all"``: measure on every supplier, which is honest
    only for a model that never saw this world. The baselines are always fitted on the training
    parties; one that cannot be fitted (too few failures) is reported as such, with no figures.
    """
    if population not in ("held_out", "all"):
        raise ValueError(f"population must be 'held_out' or 'all', not {population!r}")
    table = features.build(history)
    s = split(table, truth)
    rows = [table.index[a] for a in s.train]
    labels = [s.failed[a] for a in s.train]
    meta = {"as_of_block": history.as_of_block, "as_of_time": history.as_of_time, **dict(training or {})}
    fitted_here = model is None
    if model is None:
        try:
            model = scorecard.fit(table, rows, labels, training=meta)
        except FitError as exc:
            raise FitError(
                f"this world's {len(s.train)} training suppliers are too few to fit on ({exc.detail}); a world of "
                "100+ firms has enough, or measure a model fitted elsewhere (scf score evaluate --model FILE)"
            ) from exc
    measured = sorted(s.train + s.test) if population == "all" else s.test
    scorer = Scorer(table, model)
    test_rows = [table.index[a] for a in measured]
    decisions = scorer.decide_all(test_rows)
    report = _measure([scorer.pd_of(i) for i in test_rows], [d.limit for d in decisions], measured, s, table)

    try:
        volume_model = scorecard.fit(table, rows, labels, specs=[SPEC_BY_NAME[n] for n in VOLUME_ONLY], training=meta)
    except FitError as exc:
        volume_report = _unfitted(str(exc), measured, s)
    else:
        volume = Scorer(table, volume_model)
        volume_report = _measure(
            [volume.pd_of(i) for i in test_rows],
            [d.limit for d in volume.decide_all(test_rows)],
            measured,
            s,
            table,
        )
        volume_report["fitted"] = True

    direct_table = features.build(history, view="direct")
    tier1_report = _tier1_only(direct_table, table, s, meta, measured)

    actors = []
    for a, t in sorted(truth.items()):
        if t.bad_actor and a in table.index and table.member[table.index[a]]:
            d = scorer.decide(a)
            codes = [r["code"] for r in d.reasons]
            actors.append(
                {
                    "party": a,
                    "bad_actor": t.bad_actor,
                    "status": d.status,
                    "limit": d.limit,
                    "reasons": codes,
                    "named": FLAG_OF.get(t.bad_actor, "?") in codes[:4],
                    "held_out": held_out(a),
                }
            )
    return {
        **report,
        "cross_validated": cross_validated(table, s) if fitted_here else None,
        "cross_validated_volume_only": (
            cross_validated(table, s, [SPEC_BY_NAME[n] for n in VOLUME_ONLY]) if fitted_here else None
        ),
        "model": model.version,
        "model_fitted_here": fitted_here,
        "population": population,
        "as_of_block": history.as_of_block,
        "as_of_time": history.as_of_time,
        "train": {"n": len(s.train), "failures": int(sum(labels))},
        "baselines": {"tier1_only": tier1_report, "volume_only": volume_report},
        "bad_actors": actors,
        "refused_calls_visible": table.refused_visible,
    }, model


def cross_validated(table: features.FeatureTable, s: Split, specs: Sequence[scorecard.Spec] = SPECS) -> dict[str, Any]:
    """Every supplier held out once: ``CV_FOLDS`` fits, each on the other folds, each party's PD from
    the fit that did not see it. The same question as the held-out half with twice the parties,
    so the answer depends less on which parties the split happened to hold out."""
    people = sorted(s.train + s.test)
    pds: dict[str, int] = {}
    for k in range(CV_FOLDS):
        fit_on = [a for a in people if fold_of(a) != k]
        try:
            model = scorecard.fit(table, [table.index[a] for a in fit_on], [s.failed[a] for a in fit_on], specs=specs)
        except FitError as exc:
            return {"folds": CV_FOLDS, "auc": None, "ks": None, "error": str(exc)}
        scorer = Scorer(table, model)
        pds.update((a, scorer.pd_of(table.index[a])) for a in people if fold_of(a) == k)
    pd = np.asarray([pds[a] for a in people], dtype=np.float64)
    failed = np.asarray([s.failed[a] for a in people], dtype=bool)
    return {
        "folds": CV_FOLDS,
        "auc": _round(auc(pd, failed)),
        "ks": _round(ks(pd, failed)),
        "n": len(people),
        "failures": int(failed.sum()),
    }


def _unfitted(error: str, people: Sequence[str], s: Split) -> dict[str, Any]:
    """A baseline that could not be fitted: no figures, and why."""
    return {
        "auc": None,
        "ks": None,
        "brier": None,
        "calibration": [],
        "coverage_tier23": None,
        "n": len(people),
        "failures": sum(1 for a in people if s.failed[a]),
        "fitted": False,
        "error": error,
    }


def _tier1_only(
    direct: features.FeatureTable,
    table: features.FeatureTable,
    s: Split,
    meta: Mapping[str, Any],
    measured: Sequence[str],
) -> dict[str, Any]:
    def sees(a: str) -> bool:
        return direct.values["core_distance"][direct.index[a]] == 1

    train = [a for a in s.train if sees(a)]
    base_rate = round(10_000 * sum(s.failed[a] for a in s.train) / max(1, len(s.train)))
    error: str | None = None
    try:
        model: Model | None = scorecard.fit(
            direct, [direct.index[a] for a in train], [s.failed[a] for a in train], specs=DIRECT_SPECS, training=meta
        )
    except FitError as exc:  # too few direct suppliers or failures among them: the bank cannot fit anything
        model, error = None, str(exc)
    pds, limits = [], []
    scorer = Scorer(direct, model) if model is not None else None
    for a in measured:
        i = direct.index[a]
        if scorer is None or not sees(a):
            pds.append(base_rate)
            limits.append(0)
            continue
        pds.append(scorer.pd_of(i))
        limits.append(scorer.decide_index(i).limit)
    report = _measure(pds, limits, measured, s, table)
    report["scored"] = sum(1 for a in measured if sees(a))
    report["fitted"] = model is not None
    if error is not None:
        report["error"] = error
    return report
