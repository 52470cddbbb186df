"""Decisions: scores with reasons, insufficient history, flags first, unknown parties, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import features
from scoring.decision import INSUFFICIENT_HISTORY, NOT_SCORED, SCORED, Scorer, _int_or_none, _ints_or_none
from scoring.errors import UnknownParty
from scoring.features import DAY
from tests.scoring.histories import CORE, STRANGER, T0, T1, T2, UNIT, Story
from tests.support.fitted import Fitted


def test_a_scored_decision_has_score_pd_grade_limit_and_at_most_four_reasons(fitted: Fitted) -> None:
    scorer = Scorer(fitted.table, fitted.model)
    decisions = [d for d in scorer.decide_all() if d.scored]
    assert len(decisions) > 100
    for d in decisions:
        assert 0 < d.score <= 65_535 and 1 <= d.pd_bps <= 9_999  # type: ignore[operator]
        assert 1 <= d.grade_code <= 9 and isinstance(d.limit, int) and d.limit >= 0
        assert len(d.reasons) <= 4
        assert d.model == fitted.model.version
        assert d.score == sum(d.points.values())
    assert any(d.limit > 0 for d in decisions)


def test_double_financers_and_circular_traders_get_the_reason_that_names_it(fitted: Fitted) -> None:
    scorer = Scorer(fitted.table, fitted.model)
    actors = [p for p in fitted.world.parties if p.bad_actor]
    assert {p.bad_actor for p in actors} == {"double_financer", "circular_trader"}
    for p in actors:
        d = scorer.decide(p.address)
        codes = [r["code"] for r in d.reasons]
        expected = "DOUBLE_FINANCING" if p.bad_actor == "double_financer" else "CIRCULAR_TRADING"
        assert expected in codes[:4]
        assert d.limit == 0
        text = next(r["text"] for r in d.reasons if r["code"] == expected)
        assert "already financed" in text or "circular trading with 0x" in text


def test_the_same_history_and_model_give_byte_identical_decisions(fitted: Fitted) -> None:
    again = features.build(fitted.world.history())
    a = [d.canonical() for d in Scorer(fitted.table, fitted.model).decide_all()]
    b = [d.canonical() for d in Scorer(again, fitted.model).decide_all()]
    assert a == b


def test_a_member_with_too_little_verified_history_gets_an_explicit_decision(fitted: Fitted) -> None:
    s = Story()
    s.members()
    s.order(T0 + DAY, CORE, T1, 10 * UNIT)
    table = features.build(s.history(T0 + 30 * DAY))
    d = Scorer(table, fitted.model).decide(T2)
    assert d.status == INSUFFICIENT_HISTORY
    assert d.score is None and d.grade is None and d.grade_code == 0 and d.limit == 0
    assert d.reasons[0]["code"] == "INSUFFICIENT_HISTORY"
    assert "0 verified deliveries" in d.reasons[0]["text"]


def test_an_address_that_is_not_a_member_is_an_unknown_party(fitted: Fitted) -> None:
    s = Story()
    s.members()
    s.order(T0 + DAY, STRANGER, T1, 10 * UNIT)  # appears in a trade, never admitted
    table = features.build(s.history(T0 + 30 * DAY))
    scorer = Scorer(table, fitted.model)
    with pytest.raises(UnknownParty, match="not a member"):
        scorer.decide(STRANGER)
    with pytest.raises(UnknownParty):
        scorer.decide("0x" + "12" * 20)


def test_a_history_without_refused_calls_says_double_financing_cannot_be_seen(fitted: Fitted) -> None:
    table = features.build(fitted.world.history(refused=False))
    supplier = next(p for p in fitted.world.parties if p.tier == 1)
    d = Scorer(table, fitted.model).decide(supplier.address)
    assert any("cannot be seen" in n for n in d.notes)
    assert d.status in (SCORED, INSUFFICIENT_HISTORY)


def test_a_core_enterprise_is_not_scored_by_the_supplier_scorecard_but_shown_as_a_debtor(fitted: Fitted) -> None:
    s = Story()
    s.members()
    t = T0 + DAY
    for k in range(6):
        s.order(t + k * 20 * DAY, CORE, T1, 10 * UNIT)
    late = s.receivable(t, CORE, T1, 50 * UNIT, t + 30 * DAY)
    s.repay(t + 60 * DAY, late, CORE, 50 * UNIT)
    s.receivable(t + 100 * DAY, CORE, T1, 70 * UNIT, t + 190 * DAY)
    d = Scorer(features.build(s.history(t + 150 * DAY)), fitted.model).decide(CORE)
    assert d.status == NOT_SCORED
    assert d.score is None and d.grade is None and d.grade_code == 0 and d.limit == 0
    codes = [r["code"] for r in d.reasons]
    assert codes == ["CORE_ENTERPRISE", "PAYDEX_12M", "DEFAULTS_12M", "RECEIVABLES_OUTSTANDING"]
    assert "PAYDEX 50" in d.reasons[1]["text"]  # repaid 30 days late
    assert "70 tokens" in d.reasons[3]["text"]
    assert d.features["paydex_12m"] == 50 and d.features["receivables_outstanding"] == 70 * UNIT


def test_the_columns_a_decision_shows_convert_as_one_value_at_a_time() -> None:
    for column in (
        np.array([0.0, -0.0, 1.9, -1.9, np.nan, 2.0**53, -(2.0**53), 12_345.0]),
        np.array([np.nan, np.nan]),
        np.array([2.0**70, 1.0, np.nan]),  # beyond int64: one at a time
        np.zeros(0),
    ):
        expected = [_int_or_none(v) for v in column.tolist()]
        assert _ints_or_none(column) == expected
        assert [type(v) for v in _ints_or_none(column)] == [type(v) for v in expected]
