"""A bank desk's pricing policy file (scoring/policy.py): every malformed field is a typed error naming it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scoring.errors import PolicyError, ScoringError
from scoring.policy import DEV_BANK, Policy

SHIPPED = Policy.load(DEV_BANK)

_BODY = SHIPPED.body
POLICY_ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing", {"lgd_bps": None}, "lgd_bps", "missing"),
    ("non-integer", {"lgd_bps": 45.5}, "lgd_bps", "non-integer"),
    ("negative", {"lgd_bps": -1}, "lgd_bps", "negative"),
    ("bool", {"advance_rate_bps": True}, "advance_rate_bps", "boolean"),
    ("advance-over-100%", {"advance_rate_bps": 10_001}, "advance_rate_bps", "above 10,000"),
    ("advance-zero", {"advance_rate_bps": 0}, "advance_rate_bps", "below 1"),
    (
        "curve-unsorted",
        {"base_rate_curve": [{"tenor_days": 30, "rate_bps": 400}, {"tenor_days": 7, "rate_bps": 450}]},
        "base_rate_curve[1].tenor_days",
        "unsorted",
    ),
    (
        "curve-inverted",
        {"base_rate_curve": [{"tenor_days": 7, "rate_bps": 500}, {"tenor_days": 30, "rate_bps": 450}]},
        "base_rate_curve[1].rate_bps",
        "falls with tenor",
    ),
    ("curve-empty", {"base_rate_curve": []}, "base_rate_curve", "non-empty array"),
    (
        "band-spread-falls",
        {"obligor_spread": [{"max_pd_bps": 100, "spread_bps": 90}, {"max_pd_bps": 10_000, "spread_bps": 80}]},
        "obligor_spread[1].spread_bps",
        "falls as PD rises",
    ),
    (
        "band-short",
        {"seller_spread": [{"max_pd_bps": 100, "spread_bps": 90}]},
        "seller_spread[0].max_pd_bps",
        "below max_seller_pd_bps",
    ),
    ("band-entry-field", {"seller_spread": [{"max_pd_bps": 10_000}]}, "seller_spread[0].spread_bps", "missing"),
    (
        "amount-as-number",
        {"concentration": {"max_per_obligor": 5, "max_per_seller": "1"}},
        "concentration.max_per_obligor",
        "decimal string",
    ),
    (
        "amount-hex",
        {"concentration": {"max_per_obligor": "1", "max_per_seller": "0x10"}},
        "concentration.max_per_seller",
        "decimal string",
    ),
    (
        "amount-too-big",
        {"concentration": {"max_per_obligor": str(2**256), "max_per_seller": "1"}},
        "concentration.max_per_obligor",
        "2**256",
    ),
    ("unknown", {"advance_rate": 9_000}, "advance_rate", "unknown field"),
    ("decimals-string", {"token": {"symbol": "dUSD", "decimals": "6"}}, "token.decimals", "must be an integer"),
    ("product", {"products": ["factoring"]}, "products[0]", "must be one of"),
    ("tenors-crossed", {"min_tenor_days": 90, "max_tenor_days": 30}, "max_tenor_days", "below min_tenor_days"),
    ("paydex", {"core_pd": {**_BODY["core_pd"], "on_time_paydex": 0}}, "core_pd.on_time_paydex", "below 1"),
    ("format", {"format": 2}, "format", "must be 1"),
    ("kind", {"kind": "scf-scorecard"}, "kind", "scf-pricing-policy"),
    ("name", {"name": "  "}, "name", "non-empty string"),
]


@pytest.mark.parametrize(("case", "changes", "field", "detail"), POLICY_ERRORS, ids=[e[0] for e in POLICY_ERRORS])
def test_policy_validation_errors_name_the_field(case: str, changes: dict[str, Any], field: str, detail: str) -> None:
    body = copy.deepcopy(_BODY)
    for key, new in changes.items():
        if new is None:
            del body[key]
        else:
            body[key] = new
    with pytest.raises(PolicyError) as caught:
        Policy.from_body(body, "bank.json")
    assert isinstance(caught.value, ScoringError)
    assert (caught.value.where, caught.value.field) == ("bank.json", field), str(caught.value)
    assert detail in caught.value.detail
    assert str(caught.value).startswith(f"pricing policy bank.json: {field}: ")


@pytest.mark.parametrize(
    ("text", "field", "detail"),
    [
        (DEV_BANK.read_text().replace('"lgd_bps": 4500', '"lgd_bps": NaN'), "lgd_bps", "nan"),
        (DEV_BANK.read_text().replace('"lgd_bps": 4500', '"lgd_bps": Infinity'), "lgd_bps", "inf"),
        (DEV_BANK.read_text().replace('"lgd_bps": 4500', '"lgd_bps": 4500, "lgd_bps": 0'), "lgd_bps", "given twice"),
        ("{not json", "(file)", "not JSON"),
        ("[]", "(file)", "JSON object"),
    ],
)
def test_policy_text_errors_name_the_field(text: str, field: str, detail: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_json(text)
    assert caught.value.field == field and detail in caught.value.detail


def test_a_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.load(tmp_path / "absent.json")
    assert caught.value.field == "(file)" and "cannot read" in caught.value.detail
