"""The scorecard: monotone points, PDO scaling, grades, limits, and a version hash that covers everything."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from scoring import scorecard
from scoring.errors import FitError, ModelError
from scoring.scorecard import Model
from tests.support.fitted import Fitted


def test_points_are_monotone_in_each_features_better_direction(fitted: Fitted) -> None:
    for f in fitted.model.body["features"]:
        points = f["points"]
        steps = [b - a for a, b in itertools.pairwise(points)]
        if f["better"] > 0:
            assert all(s >= 0 for s in steps), f
        else:
            assert all(s <= 0 for s in steps), f
    assert any(f["coefficient"] != 0 for f in fitted.model.body["features"])


def test_pdo_scaling_doubles_the_odds_every_twenty_points() -> None:
    model = Model.from_body(_body())
    assert model.pd_bps(600) == round(10_000 / 51)
    odds = [(10_000 - model.pd_bps(s)) / model.pd_bps(s) for s in (600, 620)]
    assert abs(odds[1] / odds[0] - 2) < 0.1
    assert model.grade(25) == ("AAA", 1)
    assert model.grade(26) == ("AA", 2)
    assert model.grade(9_999) == ("C", 9)


def test_limit_is_whole_tokens_of_monthly_verified_business_times_the_grades_multiple() -> None:
    model = Model.from_body(_body())
    assert model.limit("BB", 12 * 1_000_500_000) == 1_000_000_000  # 100% of 1,000.5 tokens, rounded down
    assert model.limit("C", 10**15) == 0
    assert isinstance(model.limit("A", 123_456_789_012), int)


def test_the_version_hash_is_stable_and_covers_every_field(fitted: Fitted, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    version = fitted.model.save(path)
    assert Model.load(path).version == version == fitted.model.version
    body = json.loads(path.read_bytes())
    body["validity"] += 1
    assert Model.from_body(body).version != version


def test_bad_model_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        Model.load(tmp_path / "missing.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ModelError, match="not JSON"):
        Model.load(tmp_path / "junk.json")
    body = _body()
    body["features_version"] = "scf-features/0"
    with pytest.raises(ModelError, match="built for features"):
        Model.from_body(body)
    body = _body()
    body["features"] = [{"name": "x", "edges": [1, 2], "points": [0], "missing_points": 0}]
    with pytest.raises(ModelError, match="2 edges but 1 bins"):
        Model.from_body(body)


def test_fitting_without_failures_says_why(fitted: Fitted) -> None:
    rows = list(range(len(fitted.table.parties)))
    with pytest.raises(FitError, match="0 failures"):
        scorecard.fit(fitted.table, rows, [False] * len(rows))


def _body() -> dict[str, object]:
    return {
        "format": 1,
        "kind": "scf-scorecard",
        "features_version": scorecard.FEATURES_VERSION,
        "scaling": {"base_score": 600, "base_odds": 50, "pdo": 20},
        "base_points": 600,
        "features": [],
        "grades": [{"grade": g, "code": c, "max_pd_bps": p, "multiple_bps": m} for g, c, p, m in scorecard.GRADES],
        "limit_policy": {"unit": scorecard.LIMIT_UNIT, "max_limit": scorecard.MAX_LIMIT},
        "min_history": {"deliveries_12m": 3},
        "thin_file_pd_bps": 1500,
        "overrides": {"flagged_grade_cap": "CCC"},
        "validity": scorecard.VALIDITY,
    }


def test_the_penalty_is_chosen_by_cross_validation_on_the_training_parties_and_recorded(fitted: Fitted) -> None:
    training = fitted.model.body["training"]
    losses = {float(k): v for k, v in training["cv_log_loss_by_l2"].items()}
    assert set(losses) == set(scorecard.L2_GRID)
    assert training["l2"] == min(losses, key=lambda k: (losses[k], k))
    suppliers = [p for p in fitted.world.parties if p.tier > 0]
    rows, labels = [fitted.table.index[p.address] for p in suppliers], [p.failed for p in suppliers]
    again = scorecard.fit(fitted.table, rows, labels, training={"seed": 11})
    assert again.version == fitted.model.version  # deterministic folds: the same data give the same model
    fixed = scorecard.fit(fitted.table, rows, labels, l2=1000.0)
    assert fixed.body["training"]["l2"] == 1000.0 and fixed.body["training"]["cv_log_loss_by_l2"] == {}
    assert sum(abs(f["coefficient"]) for f in fixed.body["features"]) < sum(
        abs(f["coefficient"]) for f in fitted.model.body["features"]
    )


def test_a_weak_supplier_gets_a_small_limit_and_only_a_likely_failure_gets_none() -> None:
    model = Model.from_body(_body())
    assert model.grade(3_500) == ("CC", 8) and model.grade(5_000) == ("CC", 8)
    assert model.grade(5_001) == ("C", 9)
    assert model.limit("CC", 12 * 100 * scorecard.LIMIT_UNIT) == 5 * scorecard.LIMIT_UNIT  # 5% of a month
    assert model.limit("C", 12 * 100 * scorecard.LIMIT_UNIT) == 0


def test_percentages_print_with_their_sign_and_hundredths() -> None:
    assert [scorecard.format_value("pct", v) for v in (2957, 10_000, 5, 0)] == ["29.57%", "100%", "0.05%", "0%"]
    assert [scorecard.format_value("pct", v) for v in (-62, -120, -10_000)] == ["-0.62%", "-1.20%", "-100%"]


def test_the_shipped_model_scores_the_default_features_of_this_features_version() -> None:
    from api.cli.score import DEFAULT_MODEL

    shipped = Model.load(DEFAULT_MODEL)
    assert shipped.body["features_version"] == scorecard.FEATURES_VERSION
    assert [f.name for f in shipped.features] == list(scorecard.DEFAULT_FEATURES)
    for f in shipped.body["features"]:  # every feature it scores can be said in words, both ways of typical
        spec = scorecard.SPEC_BY_NAME[f["name"]]
        assert (spec.better, spec.scale) == (f["better"], f["scale"])
        assert "{v}" in spec.words and spec.missing
