"""Reasons that are true: adverse reasons are the features that cost points against the population's
typical points (recorded by the fit), phrased as facts; favourable factors are listed apart."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest

from scoring import features
from scoring.decision import AGAINST_BEST_BIN, SCORED, TOP_REASONS, Decision, Scorer
from scoring.errors import ModelError
from scoring.scorecard import SPEC_BY_NAME, Model, ModelFeature, format_value
from tests.support.fitted import Fitted

FLAG_CODES = {"DOUBLE_FINANCING", "CIRCULAR_TRADING"}


def _scored(fitted: Fitted) -> list[Decision]:
    decisions = [d for d in Scorer(fitted.table, fitted.model).decide_all() if d.scored]
    assert len(decisions) > 100
    return decisions


def _by_code(model: Model) -> dict[str, ModelFeature]:
    return {f.name.upper(): f for f in model.features}


def _feature_reasons(d: Decision) -> list[dict[str, Any]]:
    return [r for r in d.reasons if r["code"] not in FLAG_CODES]


def _worse(better: int, value: int, than: int) -> bool:
    return value < than if better > 0 else value > than


def test_the_fit_records_each_features_typical_points_and_a_value_worth_them(fitted: Fitted) -> None:
    assert fitted.model.has_typical
    scorer = Scorer(fitted.table, fitted.model)
    # the fitting population: the suppliers the fit was given that have enough history to be scored
    fit_on = [fitted.table.index[p.address] for p in fitted.world.parties if p.tier > 0]
    scored = [i for i in fit_on if not scorer._thin(i)]
    assert len(scored) > 100
    for j, f in enumerate(fitted.model.features):
        assert f.typical_points is not None
        if f.typical_value is not None:
            assert f.points_of(f.typical_value) == f.typical_points
        # the typical points are a median: no more than half of those parties fall below them, or above them
        column = scorer.points[scored, j]
        assert (column < f.typical_points).sum() <= len(scored) / 2
        assert (column > f.typical_points).sum() <= len(scored) / 2


def test_no_adverse_reason_is_at_or_better_than_typical(fitted: Fitted) -> None:
    model = _by_code(fitted.model)
    seen = 0
    for d in _scored(fitted):
        for r in _feature_reasons(d):
            f = model[r["code"]]
            assert f.typical_points is not None
            assert d.points[f.name] < f.typical_points
            assert r["points_lost"] == f.typical_points - d.points[f.name] > 0
            value = d.features[f.name]
            if value is not None and f.typical_value is not None:
                assert _worse(SPEC_BY_NAME[f.name].better, value, f.typical_value), (d.party, r)
                assert r["text"].endswith(f", typical {format_value(SPEC_BY_NAME[f.name].unit, f.typical_value)}")
                seen += 1
    assert seen > 50


def test_adverse_reasons_are_ordered_by_shortfall_and_are_the_largest_ones(fitted: Fitted) -> None:
    model = fitted.model
    for d in _scored(fitted):
        lost = [r["points_lost"] for r in _feature_reasons(d)]
        assert lost == sorted(lost, reverse=True)
        assert len(d.reasons) <= TOP_REASONS
        left_out = [
            f.typical_points - d.points[f.name]  # type: ignore[operator]
            for f in model.features
            if f.name.upper() not in {r["code"] for r in d.reasons}
        ]
        if lost and len(d.reasons) == TOP_REASONS:
            assert all(x <= lost[-1] for x in left_out)
        if len(d.reasons) < TOP_REASONS:
            assert all(x <= 0 for x in left_out)  # every feature below typical is named when there is room


def test_favourable_factors_are_above_typical_by_surplus_and_never_adverse(fitted: Fitted) -> None:
    model = _by_code(fitted.model)
    with_both = 0
    for d in _scored(fitted):
        adverse = {r["code"] for r in d.reasons}
        favourable = [r["code"] for r in d.favourable]
        assert not adverse & set(favourable)
        gained = [r["points_gained"] for r in d.favourable]
        assert gained == sorted(gained, reverse=True)
        for r in d.favourable:
            f = model[r["code"]]
            assert r["points_gained"] == d.points[f.name] - f.typical_points > 0  # type: ignore[operator]
            value = d.features[f.name]
            assert value is not None, (d.party, r)  # no data is never a strength
            if f.typical_value is not None:
                assert _worse(SPEC_BY_NAME[f.name].better, f.typical_value, value), (d.party, r)
        above = {
            f.name.upper()
            for f in model.values()
            if d.points[f.name] > f.typical_points and d.features[f.name] is not None  # type: ignore[operator]
        }
        assert set(favourable) == above
        with_both += bool(adverse and favourable)
    assert with_both > 10


def test_a_party_at_typical_on_every_feature_has_no_adverse_reasons(fitted: Fitted) -> None:
    scorer = Scorer(fitted.table, fitted.model)
    i = next(
        i
        for i in scorer.eligible()
        if not fitted.table.is_core(i)
        and not scorer._thin(i)
        and not scorer.flags_of(i)
        and scorer.decide_index(i).reasons
    )
    values = {name: column.copy() for name, column in fitted.table.values.items()}
    for f in fitted.model.features:
        values[f.name][i] = np.nan if f.typical_value is None else f.typical_value
    typical = Scorer(dataclasses.replace(fitted.table, values=values), fitted.model).decide_index(i)
    assert typical.status == SCORED
    assert typical.reasons == [] and typical.favourable == []
    assert all(typical.points[f.name] == f.typical_points for f in fitted.model.features)


def test_flags_still_come_first_before_any_adverse_reason(fitted: Fitted) -> None:
    scorer = Scorer(fitted.table, fitted.model)
    actors = [p for p in fitted.world.parties if p.bad_actor]
    assert actors
    for p in actors:
        d = scorer.decide(p.address)
        codes = [r["code"] for r in d.reasons]
        flags = [c for c in codes if c in FLAG_CODES]
        assert flags and codes[: len(flags)] == flags == d.flags
        assert d.limit == 0
        assert all(r["points_lost"] is None for r in d.reasons[: len(flags)])


def test_decisions_are_byte_identical_for_the_same_history_and_model_and_integer_only(fitted: Fitted) -> None:
    again = features.build(fitted.world.history())
    model = Model.from_body(copy.deepcopy(fitted.model.body))
    a = [d.canonical() for d in Scorer(fitted.table, fitted.model).decide_all()]
    b = [d.canonical() for d in Scorer(again, model).decide_all()]
    assert a == b
    assert any(b'"favourable":[{' in x for x in a)

    def floats(obj: Any) -> bool:
        if isinstance(obj, float):
            return True
        if isinstance(obj, dict):
            return any(floats(v) for v in obj.values())
        if isinstance(obj, list):
            return any(floats(v) for v in obj)
        return False

    assert not any(floats(d.to_json()) for d in Scorer(fitted.table, fitted.model).decide_all())


def test_a_model_without_typical_values_falls_back_to_the_best_bin_and_says_so(fitted: Fitted) -> None:
    body = copy.deepcopy(fitted.model.body)
    for f in body["features"]:
        del f["typical"]
    older = Model.from_body(body)
    assert not older.has_typical and older.version != fitted.model.version
    decisions = [d for d in Scorer(fitted.table, older).decide_all() if d.scored]
    best = {f.name.upper(): f.best for f in older.features}
    assert any(_feature_reasons(d) for d in decisions)
    for d in decisions:
        assert AGAINST_BEST_BIN in d.notes and d.favourable == []
        for r in _feature_reasons(d):
            assert "scored against the feature's best bin" in r["text"]
            assert r["points_lost"] == best[r["code"]] - d.points[r["code"].lower()] > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda typical: typical.clear(), "malformed"),
        (lambda typical: typical.update(points=typical["points"] + 1000), "is worth"),
        (lambda typical: typical.update(points=1.5), "malformed"),
        (lambda typical: typical.update(value="93%"), "malformed"),
    ],
)
def test_a_model_with_malformed_or_inconsistent_typical_values_is_refused(
    fitted: Fitted, change: Any, message: str
) -> None:
    body = copy.deepcopy(fitted.model.body)
    change(next(f["typical"] for f in body["features"] if f["typical"]["value"] is not None))
    with pytest.raises(ModelError, match=message):
        Model.from_body(body)


def test_a_model_with_typical_values_for_some_features_only_is_refused(fitted: Fitted) -> None:
    body = copy.deepcopy(fitted.model.body)
    del body["features"][0]["typical"]
    with pytest.raises(ModelError, match="typical points recorded for"):
        Model.from_body(body)
