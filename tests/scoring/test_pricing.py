"""A bank desk's pricing: the policy file and its hash, the anchors' present value, monotone prices,
recomputation from the record, declines in words, typed validation errors, and hostile sizes."""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scoring.errors import PolicyMismatch, QuoteRequestError
from scoring.policy import DEV_BANK, MAX_UINT256, Policy
from scoring.pricing import (
    CORE,
    PRE_SHIPMENT,
    RAY,
    RECEIVABLE,
    SUPPLIER,
    DebtorRecord,
    Decline,
    Quote,
    QuoteRequest,
    audit,
    core_pd_bps,
    quote,
    recompute,
)
from scoring.scorecard import Model, canonical

UNIT = 10**6  # one dUSD
DAY = 86_400
MODEL = Model.load(Path(__file__).resolve().parents[2] / "scoring" / "models" / "default.json")
SHIPPED = Policy.load(DEV_BANK)
#: The shipped policy with caps out of the way, for the properties that compare prices.
ROOMY = Policy.from_body(
    {**SHIPPED.body, "concentration": {"max_per_obligor": str(MAX_UINT256), "max_per_seller": str(MAX_UINT256)}}
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def policy_with(base: Policy = SHIPPED, **changes: Any) -> Policy:
    body = copy.deepcopy(base.body)
    body.update(changes)
    return Policy.from_body(body)


def request(**changes: Any) -> QuoteRequest:
    fields: dict[str, Any] = {
        "face": 100_000 * UNIT,
        "tenor_seconds": 90 * DAY,
        "obligor_kind": SUPPLIER,
        "obligor_pd_bps": 80,
        "seller_pd_bps": 150,
        "seller_grade": "BBB",
        "seller_limit": MAX_UINT256,
        "model_version": MODEL.version,
    }
    fields.update(changes)
    return QuoteRequest(**fields)


def value(result: Quote | Decline) -> int:
    """A price to compare; a decline is worse than any offer."""
    return result.price if isinstance(result, Quote) else -1


def priced(policy: Policy, **changes: Any) -> Quote:
    result = quote(policy, request(**changes))
    assert isinstance(result, Quote), result
    return result


# -- strategies --------------------------------------------------------------------------------------


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Any valid policy: curves that never fall, bands whose spreads never fall, caps out of the way."""
    # Drawn as pairs, then each column sorted: a curve that never falls, bands whose spreads never fall.
    curve = draw(
        st.lists(
            st.tuples(st.integers(0, 3_650), st.integers(0, 100_000)), min_size=1, max_size=6, unique_by=lambda p: p[0]
        )
    )
    tenors, rates = sorted(t for t, _ in curve), sorted(r for _, r in curve)
    rate = st.integers(0, 100_000)
    table = draw(st.lists(st.tuples(st.integers(0, 9_999), rate, rate), max_size=6, unique_by=lambda b: b[0]))
    table.append((10_000, draw(rate), draw(rate)))
    bounds = sorted(b for b, _, _ in table)
    spreads, seller = sorted(s for _, s, _ in table), sorted(s for _, _, s in table)
    body = copy.deepcopy(ROOMY.body)
    body.update(
        base_rate_curve=[{"tenor_days": t, "rate_bps": r} for t, r in zip(tenors, rates, strict=True)],
        obligor_spread=[{"max_pd_bps": b, "spread_bps": s} for b, s in zip(bounds, spreads, strict=True)],
        seller_spread=[{"max_pd_bps": b, "spread_bps": s} for b, s in zip(bounds, seller, strict=True)],
        lgd_bps=draw(st.integers(0, 10_000)),
        advance_rate_bps=draw(st.integers(1, 10_000)),
        max_obligor_pd_bps=10_000,
        max_seller_pd_bps=10_000,
        min_tenor_days=0,
        max_tenor_days=3_650,
    )
    return Policy.from_body(body)


faces = st.one_of(st.integers(1, 10**15), st.sampled_from([1, 2, 10**6, MAX_UINT256]), st.integers(1, MAX_UINT256))
pds = st.integers(0, 10_000)
products = st.sampled_from([(RECEIVABLE, False), (RECEIVABLE, True), (PRE_SHIPMENT, False)])


def _grade_bands() -> list[tuple[str, int, int]]:
    """The shipped model's grades, best first, with the lowest and highest PD each one covers."""
    out, low = [], 0
    for g in MODEL.body["grades"]:
        out.append((g["grade"], low, g["max_pd_bps"]))
        low = g["max_pd_bps"] + 1
    return out


GRADES = _grade_bands()


# -- the policy file -----------------------------------------------------------------------------------


def test_shipped_policy_hash_is_keccak_of_its_canonical_json_like_a_models_version() -> None:
    body = json.loads(DEV_BANK.read_bytes())
    assert SHIPPED.hash == "0x" + keccak(canonical(body)).hex()
    assert SHIPPED.raw == canonical(body)
    assert (SHIPPED.name, SHIPPED.label, SHIPPED.symbol, SHIPPED.decimals) == (
        "Dev Bank supply-chain finance desk",
        "2030-02",
        "dUSD",
        6,
    )
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4)
    assert Policy.from_json(reordered).hash == SHIPPED.hash  # layout and key order do not matter


def test_saved_policy_loads_back_with_the_same_hash(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    assert SHIPPED.save(path) == SHIPPED.hash
    assert Policy.load(path).hash == SHIPPED.hash


@pytest.mark.parametrize(
    ("field", "new"),
    [
        ("lgd_bps", 4_501),
        ("version", "2030-03"),
        ("advance_rate_bps", 9_999),
        ("max_tenor_days", 181),
        ("core_pd", {**SHIPPED.body["core_pd"], "per_default_bps": 401}),
        ("concentration", {**SHIPPED.body["concentration"], "max_per_seller": "1000000000001"}),
    ],
)
def test_a_doctored_policy_has_another_hash_and_recompute_detects_it(field: str, new: Any) -> None:
    doctored = policy_with(**{field: new})
    assert doctored.hash != SHIPPED.hash
    recorded = priced(SHIPPED).to_json()
    with pytest.raises(PolicyMismatch) as caught:
        recompute(doctored, recorded)
    assert caught.value.recorded == SHIPPED.hash and caught.value.given == doctored.hash


def test_a_doctored_loss_given_default_changes_the_price_under_the_same_inputs() -> None:
    honest = priced(SHIPPED)
    doctored = quote(policy_with(lgd_bps=9_000), honest.request)
    assert isinstance(doctored, Quote) and doctored.price < honest.price
    assert doctored.to_json()["inputs"]["policy"] != honest.to_json()["inputs"]["policy"]


# -- the price ----------------------------------------------------------------------------------------


def test_price_is_the_anchors_present_value_face_times_one_minus_pd_lgd_over_one_plus_r_to_the_t() -> None:
    # One year: (1 + r)^1 and the tenor PD are exact, so the ray arithmetic must land on the formula.
    policy = policy_with(ROOMY, max_tenor_days=365)
    q = priced(policy, tenor_seconds=365 * DAY, obligor_pd_bps=100, face=123_456_789 * UNIT)
    assert (q.base_rate_bps, q.obligor_spread_bps, q.seller_spread_bps, q.rate_bps) == (500, 100, 0, 600)
    assert q.tenor_pd_ray == RAY // 100 and q.expected_loss_ray == RAY * 45 // 10_000
    exact = Fraction(q.face) * (1 - Fraction(100, 10_000) * Fraction(4_500, 10_000)) / Fraction(10_600, 10_000)
    assert exact - 1 <= q.price <= exact
    assert q.price == q.face * q.factor_ray // RAY == q.present_value
    assert q.factor_ray == (RAY - q.expected_loss_ray) * RAY // q.growth_ray


def test_part_year_price_matches_a_hundred_digit_computation_to_the_token_unit() -> None:
    q = priced(SHIPPED, tenor_seconds=61 * DAY + 1, obligor_pd_bps=420, recourse=True, seller_pd_bps=900)
    assert q.tenor_days == 62  # a part day counts as a day
    with localcontext() as c:
        c.prec = 100
        t = Decimal(62) / Decimal(365)
        tenor_pd = 1 - (1 - Decimal(420) / 10_000) ** t
        r = Decimal(q.base_rate_bps + 350 + 450) / 10_000
        pv = Decimal(q.face) * (1 - tenor_pd * Decimal("0.45")) / (1 + r) ** t
    assert q.rate_bps == q.base_rate_bps + 350 + 450
    assert int(pv) - 1 <= q.price <= int(pv)


def test_base_curve_interpolates_linearly_floored_and_is_flat_beyond_its_ends() -> None:
    assert SHIPPED.base_rate_bps(0) == SHIPPED.base_rate_bps(7) == 400
    assert SHIPPED.base_rate_bps(30) == 425
    assert SHIPPED.base_rate_bps(60) == 437  # 425 + 25 * 30 / 60 = 437.5, floored
    assert SHIPPED.base_rate_bps(365) == SHIPPED.base_rate_bps(3_650) == 500


def test_core_obligor_pd_follows_its_paydex_and_defaults_by_the_policys_parameters() -> None:
    params = SHIPPED.core_pd
    record = DebtorRecord(paydex_12m=80, defaults_12m=0, receivables_outstanding=10**12)
    assert core_pd_bps(params, record) == 20
    assert core_pd_bps(params, dataclasses.replace(record, paydex_12m=95)) == 20  # early pays no less than on time
    assert core_pd_bps(params, dataclasses.replace(record, paydex_12m=50)) == 20 + 30 * 50
    assert core_pd_bps(params, dataclasses.replace(record, defaults_12m=2)) == 20 + 800
    assert core_pd_bps(params, dataclasses.replace(record, paydex_12m=None, defaults_12m=1)) == 150 + 400
    assert core_pd_bps(params, dataclasses.replace(record, defaults_12m=10**6)) == 10_000
    q = priced(
        SHIPPED, obligor_kind=CORE, obligor_pd_bps=None, obligor_record=dataclasses.replace(record, paydex_12m=70)
    )
    assert q.obligor_pd_bps == 520 and q.obligor_spread_bps == 600  # 20 + 10 points * 50: the 1,000 band
    assert "PAYDEX 70 over 12 months" in q.reasons[1].text and "1,000,000 dUSD outstanding" in q.reasons[1].text


def test_seller_is_priced_only_with_recourse_or_before_shipment() -> None:
    plain = priced(SHIPPED)
    recourse = priced(SHIPPED, recourse=True)
    pre = priced(SHIPPED, kind=PRE_SHIPMENT)
    assert plain.seller_spread_bps == 0 and plain.seller_pd_bps is None
    assert recourse.seller_spread_bps == pre.seller_spread_bps == 125
    assert plain.loss_pd_e8 == recourse.loss_pd_e8 == 80 * 10_000  # recourse is not credited as a recovery
    assert pre.loss_pd_e8 == 10**8 - (10_000 - 80) * (10_000 - 150)  # fails to deliver or obligor fails to pay
    assert pre.price < recourse.price < plain.price
    assert [r.code for r in plain.reasons] == [
        "BASE_RATE",
        "OBLIGOR_SPREAD",
        "SELLER_NOT_PRICED",
        "EXPECTED_LOSS",
        "PRICE",
    ]
    assert "because the bank has recourse to the seller" in recourse.reasons[2].text
    assert "pre-shipment finance is repaid only if the seller delivers" in pre.reasons[2].text


def test_quote_shows_discount_and_apr_in_basis_points_and_words() -> None:
    q = priced(SHIPPED)
    assert q.discount_bps == (q.face - q.price) * 10_000 // q.face
    assert q.apr_bps == (q.face - q.price) * 10_000 * 365 // (q.price * 90)
    assert q.rate_bps <= q.apr_bps <= q.rate_bps + 100  # simple APR on the price, near the compounded rate
    last = q.reasons[-1].text
    assert last.startswith(f"{q.price // UNIT:,}.") and "for 100,000 dUSD due in 90 days" in last
    assert f"APR {q.apr_bps // 100}.{q.apr_bps % 100:02d}%" in last


def test_advance_rate_caps_the_price_and_says_so() -> None:
    q = priced(policy_with(advance_rate_bps=9_500))
    assert q.price == q.advance_cap == 95_000 * UNIT < q.present_value
    assert any(r.code == "ADVANCE_RATE" and "95.00% advance rate" in r.text for r in q.reasons)


def test_price_does_not_depend_on_the_callers_decimal_context() -> None:
    expected = priced(SHIPPED, recourse=True)
    with localcontext() as c:
        c.prec = 3
        c.traps[Inexact] = True  # the caller's context would trap at once: pricing must not use it
        assert quote(SHIPPED, expected.request) == expected


# -- monotone prices ---------------------------------------------------------------------------------


@PROPERTY
@given(policies(), faces, st.integers(0, 3_650), products, pds, pds, pds)
def test_price_never_rises_as_the_obligors_pd_worsens(
    policy: Policy, face: int, days: int, product: tuple[str, bool], seller: int, a: int, b: int
) -> None:
    kind, recourse = product
    better, worse = sorted((a, b))
    common = {"face": face, "tenor_seconds": days * DAY, "kind": kind, "recourse": recourse, "seller_pd_bps": seller}
    assert value(quote(policy, request(obligor_pd_bps=better, **common))) >= value(
        quote(policy, request(obligor_pd_bps=worse, **common))
    )


@PROPERTY
@given(policies(), faces, st.integers(0, 3_650), products, pds, pds, pds)
def test_price_never_rises_as_the_sellers_pd_worsens_and_ignores_it_without_seller_risk(
    policy: Policy, face: int, days: int, product: tuple[str, bool], obligor: int, a: int, b: int
) -> None:
    kind, recourse = product
    better, worse = sorted((a, b))
    common = {"face": face, "tenor_seconds": days * DAY, "kind": kind, "recourse": recourse, "obligor_pd_bps": obligor}
    good = quote(policy, request(seller_pd_bps=better, **common))
    bad = quote(policy, request(seller_pd_bps=worse, **common))
    assert value(good) >= value(bad)
    if kind == RECEIVABLE and not recourse:
        assert value(good) == value(bad)


@PROPERTY
@given(policies(), faces, products, pds, st.integers(0, 3_650), st.integers(0, 3_650))
def test_a_longer_tenor_never_pays_a_higher_price(
    policy: Policy, face: int, product: tuple[str, bool], pd: int, a: int, b: int
) -> None:
    kind, recourse = product
    shorter, longer = sorted((a, b))
    common = {"face": face, "kind": kind, "recourse": recourse, "obligor_pd_bps": pd, "seller_pd_bps": pd}
    short = quote(policy, request(tenor_seconds=shorter * DAY, **common))
    long = quote(policy, request(tenor_seconds=longer * DAY, **common))
    event(f"{type(short).__name__} then {type(long).__name__}")
    assert value(short) >= value(long)


@PROPERTY
@given(
    faces,
    st.integers(1, 180),
    products,
    st.sampled_from(["obligor", "seller"]),
    st.integers(0, len(GRADES) - 2),
    st.data(),
)
def test_a_better_grade_of_the_shipped_model_never_gets_a_lower_price(
    face: int, days: int, product: tuple[str, bool], role: str, better: int, data: st.DataObject
) -> None:
    kind, recourse = product
    if role == "seller" and not (recourse or kind == PRE_SHIPMENT):
        recourse = True  # the seller's grade only counts where the desk bears its risk
    worse = data.draw(st.integers(better + 1, len(GRADES) - 1))
    (g_good, _, good_top), (g_bad, bad_low, _) = GRADES[better], GRADES[worse]
    assert MODEL.grade(good_top)[0] == g_good and MODEL.grade(bad_low)[0] == g_bad
    common: dict[str, Any] = {"face": face, "tenor_seconds": days * DAY, "kind": kind, "recourse": recourse}
    other = data.draw(st.integers(0, 2_000))
    if role == "obligor":
        good = request(obligor_pd_bps=good_top, seller_pd_bps=other, **common)
        bad = request(obligor_pd_bps=bad_low, seller_pd_bps=other, **common)
    else:
        good = request(seller_pd_bps=good_top, seller_grade=g_good, obligor_pd_bps=other, **common)
        bad = request(seller_pd_bps=bad_low, seller_grade=g_bad, obligor_pd_bps=other, **common)
    # The worst PD of the better grade against the best PD of the worse one: every pair in between follows.
    assert value(quote(ROOMY, good)) >= value(quote(ROOMY, bad))


@PROPERTY
@given(faces, st.integers(1, 180), products, st.integers(1, 100), st.integers(1, 100), st.integers(0, 5))
def test_a_core_that_pays_more_punctually_or_defaults_less_never_costs_more(
    face: int, days: int, product: tuple[str, bool], a: int, b: int, defaults: int
) -> None:
    kind, recourse = product
    late, early = sorted((a, b))
    common: dict[str, Any] = {
        "face": face,
        "tenor_seconds": days * DAY,
        "kind": kind,
        "recourse": recourse,
        "obligor_kind": CORE,
        "obligor_pd_bps": None,
    }

    def record(paydex: int, defaults: int) -> DebtorRecord:
        return DebtorRecord(paydex_12m=paydex, defaults_12m=defaults, receivables_outstanding=10**12)

    punctual = value(quote(ROOMY, request(obligor_record=record(early, defaults), **common)))
    assert punctual >= value(quote(ROOMY, request(obligor_record=record(late, defaults), **common)))
    assert punctual >= value(quote(ROOMY, request(obligor_record=record(early, defaults + 1), **common)))


# -- recomputation --------------------------------------------------------------------------------------


@st.composite
def requests(draw: st.DrawFn) -> QuoteRequest:
    kind, recourse = draw(products)
    core = draw(st.booleans())
    tenor: dict[str, Any]
    if draw(st.booleans()):
        tenor = {"tenor_seconds": draw(st.integers(0, 400 * DAY))}
    else:
        now = draw(st.integers(10 * DAY, 2**64))
        tenor = {"tenor_seconds": None, "now": now, "maturity": now + draw(st.integers(-10 * DAY, 400 * DAY))}
    return request(
        face=draw(faces),
        kind=kind,
        recourse=recourse,
        obligor_kind=CORE if core else SUPPLIER,
        obligor_pd_bps=None if core else draw(st.none() | pds),
        obligor_record=DebtorRecord(
            paydex_12m=draw(st.none() | st.integers(1, 100)),
            defaults_12m=draw(st.integers(0, 3)),
            receivables_outstanding=draw(st.integers(0, 10**15)),
        )
        if core
        else None,
        seller_pd_bps=draw(st.none() | pds),
        seller_grade=draw(st.none() | st.sampled_from([g for g, _, _ in GRADES])),
        obligor_outstanding=draw(st.integers(0, 10**13)),
        seller_outstanding=draw(st.integers(0, 10**12)),
        seller_limit=draw(st.none() | st.integers(0, 10**12)),
        **tenor,
    )


@PROPERTY
@given(requests())
def test_recompute_from_the_record_gives_the_identical_result(req: QuoteRequest) -> None:
    result = quote(SHIPPED, req)
    recorded = result.to_json()
    assert recorded == json.loads(result.canonical())  # the record is plain JSON: ints and decimal strings
    for form in (recorded, result.inputs(), result.canonical(), result.canonical().decode()):
        again = recompute(SHIPPED, form)
        assert again == result and again.canonical() == result.canonical()
    assert audit(SHIPPED, recorded) == []


def test_audit_names_what_a_doctored_record_claims() -> None:
    recorded = priced(SHIPPED).to_json()
    assert audit(SHIPPED, {**recorded, "price": str(int(recorded["price"]) + 1)}) == ["price"]
    forged = copy.deepcopy(recorded)
    forged["inputs"]["request"]["obligor_pd_bps"] = 10
    assert "price" in audit(SHIPPED, forged)  # the recorded price is not what the recorded inputs give


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["request"].pop("face"), "request.face"),
        (lambda r: r["request"].update(face=100), "face"),
        (lambda r: r["request"].update(face="0x10"), "face"),
        (lambda r: r["request"].update(colour="blue"), "request.colour"),
        (lambda r: r["request"].update(obligor_pd_bps="80"), "obligor_pd_bps"),
        (lambda r: r.update(request=[]), "request"),
    ],
)
def test_malformed_recorded_inputs_are_a_typed_error_naming_the_field(mutate: Any, field: str) -> None:
    inputs = priced(SHIPPED).inputs()
    mutate(inputs)
    with pytest.raises(QuoteRequestError) as caught:
        recompute(SHIPPED, inputs)
    assert caught.value.field == field


# -- declines --------------------------------------------------------------------------------------------

#: The shipped policy without a price for an unscored supplier debtor: it declines one.
NO_UNSCORED = Policy.from_body({k: v for k, v in SHIPPED.body.items() if k != "unscored_supplier_pd_bps"})
EXPOSED = {"seller_outstanding": 45_000 * UNIT, "seller_limit": 50_000 * UNIT, "face": 10_000 * UNIT, "recourse": True}
DECLINES: list[tuple[str, Policy, dict[str, Any], str]] = [
    (
        "PRODUCT_NOT_OFFERED",
        policy_with(products=["receivable"]),
        {"kind": PRE_SHIPMENT},
        "this bank does not offer pre-shipment finance",
    ),
    ("PAST_MATURITY", SHIPPED, {"tenor_seconds": None, "now": 10 * DAY, "maturity": 8 * DAY}, "matured 2 days ago"),
    (
        "TENOR_TOO_SHORT",
        policy_with(min_tenor_days=7),
        {"tenor_seconds": 3 * DAY},
        "tenor 3 days is below this bank's 7-day minimum",
    ),
    ("TENOR_TOO_LONG", SHIPPED, {"tenor_seconds": 400 * DAY}, "tenor 400 days is beyond this bank's 180-day maximum"),
    ("OBLIGOR_NOT_SCORED", NO_UNSCORED, {"obligor_pd_bps": None}, "the obligor (a supplier) has no credit score"),
    (
        "OBLIGOR_PD_TOO_HIGH",
        SHIPPED,
        {"obligor_pd_bps": 6_000},
        "the obligor (a supplier) has PD 60.00%, above the 50.00% this bank accepts",
    ),
    (
        "SELLER_NOT_SCORED",
        SHIPPED,
        {"recourse": True, "seller_pd_bps": None},
        "the seller has no credit score, and the bank has recourse to the seller",
    ),
    (
        "SELLER_PD_TOO_HIGH",
        SHIPPED,
        {"kind": PRE_SHIPMENT, "seller_pd_bps": 3_000, "seller_grade": "CC"},
        "the seller's PD 30.00% (grade CC) is above the 20.00% this bank accepts where pre-shipment finance",
    ),
    (
        "NO_PUBLISHED_LIMIT",
        SHIPPED,
        {"recourse": True, "seller_limit": None},
        "no valid limit published for the seller on the ledger, and the bank has recourse to the seller",
    ),
    ("SELLER_LIMIT_ZERO", SHIPPED, {"seller_limit": 0}, "this bank published a limit of 0 for the seller"),
    (
        "EXPOSURE_LIMIT",
        SHIPPED,
        EXPOSED,
        "the seller's outstanding financing with this bank (45,000 dUSD) plus this price (",
    ),
    (
        "OBLIGOR_CONCENTRATION",
        SHIPPED,
        {"obligor_outstanding": 4_950_000 * UNIT},
        "on the obligor (4,950,000 dUSD) plus this price (",
    ),
    (
        "SELLER_CONCENTRATION",
        SHIPPED,
        {"seller_outstanding": 950_000 * UNIT},
        "would exceed its 1,000,000 dUSD cap per seller",
    ),
    ("ZERO_PRICE", SHIPPED, {"face": 1}, "the price of 0.000001 dUSD face rounds down to nothing"),
]


@pytest.mark.parametrize(("code", "policy", "changes", "words"), DECLINES, ids=[d[0] for d in DECLINES])
def test_each_decline_reason_fires_with_its_words(
    code: str, policy: Policy, changes: dict[str, Any], words: str
) -> None:
    result = quote(policy, request(**changes))
    assert isinstance(result, Decline), result
    assert result.codes == [code]
    assert words in result.reasons[0].text
    assert result.policy == policy.hash and result.model == MODEL.version
    assert recompute(policy, result.to_json()) == result


def test_exposure_decline_names_the_limit_the_bank_published_and_the_price() -> None:
    result = quote(SHIPPED, request(**EXPOSED))
    assert isinstance(result, Decline) and result.price is not None
    price = f"{result.price // UNIT:,}.{result.price % UNIT:06d}".rstrip("0").rstrip(".")
    assert result.reasons[0].text == (
        f"the seller's outstanding financing with this bank (45,000 dUSD) plus this price ({price} dUSD) "
        "would exceed the 50,000 dUSD limit this bank published for it"
    )


def test_every_reason_before_pricing_is_reported_at_once() -> None:
    result = quote(SHIPPED, request(tenor_seconds=400 * DAY, obligor_pd_bps=6_000, seller_limit=None, recourse=True))
    assert isinstance(result, Decline) and result.price is None
    assert result.codes == ["TENOR_TOO_LONG", "OBLIGOR_PD_TOO_HIGH", "NO_PUBLISHED_LIMIT"]


# -- request validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"face": 0}, "face"),
        ({"face": -5}, "face"),
        ({"face": 2**256}, "face"),
        ({"face": True}, "face"),
        ({"face": 1.5}, "face"),
        ({"kind": "factoring"}, "kind"),
        ({"recourse": 1}, "recourse"),
        ({"tenor_seconds": None}, "tenor_seconds"),
        ({"now": 1, "maturity": 2}, "tenor_seconds"),
        ({"tenor_seconds": -1}, "tenor_seconds"),
        ({"obligor_pd_bps": 10_001}, "obligor_pd_bps"),
        ({"seller_pd_bps": -1}, "seller_pd_bps"),
        ({"seller_grade": "AAA; drop"}, "seller_grade"),
        ({"obligor_kind": "bank"}, "obligor_kind"),
        ({"obligor_kind": CORE, "obligor_pd_bps": None}, "obligor_record"),
        ({"obligor_kind": CORE}, "obligor_pd_bps"),
        ({"seller_outstanding": 2**256}, "seller_outstanding"),
        ({"seller_limit": -1}, "seller_limit"),
        ({"model_version": "0x1234"}, "model_version"),
    ],
)
def test_request_validation_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    if changes.get("obligor_kind") == CORE and "obligor_pd_bps" not in changes:
        changes = {**changes, "obligor_record": DebtorRecord(paydex_12m=80, defaults_12m=0, receivables_outstanding=0)}
    with pytest.raises(QuoteRequestError) as caught:
        request(**changes)
    assert caught.value.field == field, str(caught.value)


@PROPERTY
@given(policies(), faces, st.integers(0, 3_650 * DAY), products, pds, pds)
def test_price_never_exceeds_face_times_advance_and_is_never_negative(
    policy: Policy, face: int, seconds: int, product: tuple[str, bool], obligor: int, seller: int
) -> None:
    kind, recourse = product
    result = quote(
        policy,
        request(
            face=face,
            tenor_seconds=seconds,
            kind=kind,
            recourse=recourse,
            obligor_pd_bps=obligor,
            seller_pd_bps=seller,
        ),
    )
    event("quoted" if isinstance(result, Quote) else f"declined: {result.codes[0]}")
    if isinstance(result, Quote):
        assert 0 < result.price <= face * policy.advance_rate_bps // 10_000
        assert result.price == min(result.present_value, result.advance_cap)
        assert result.rate_bps == result.base_rate_bps + result.obligor_spread_bps + result.seller_spread_bps
    else:
        assert result.codes == ["ZERO_PRICE"] and result.price == 0


# -- hostile sizes ---------------------------------------------------------------------------------------

uint256 = st.one_of(
    st.integers(0, 10**15), st.sampled_from([0, 1, MAX_UINT256 - 1, MAX_UINT256]), st.integers(0, 2**256 - 1)
)
#: Mostly uint256, the extremes among them, and now and then what is not one at all.
huge = st.one_of(uint256, uint256, uint256, st.sampled_from([-1, 2**256, -(2**300), 2**300]))


@PROPERTY
@given(
    policies() | st.just(SHIPPED),
    huge,
    st.one_of(st.integers(0, 200 * DAY), huge),
    st.sampled_from([0, 1, 5_000, 9_999, 10_000, -1, 10_001]),
    st.sampled_from([0, 1, 5_000, 9_999, 10_000, None]),
    huge,
    st.one_of(st.none(), huge),
    products,
)
def test_hostile_sizes_give_a_result_within_face_and_advance_or_a_typed_error(
    policy: Policy,
    face: int,
    tenor: int,
    obligor_pd: int,
    seller_pd: int | None,
    outstanding: int,
    limit: int | None,
    product: tuple[str, bool],
) -> None:
    kind, recourse = product
    try:
        req = request(
            face=face,
            tenor_seconds=tenor,
            obligor_pd_bps=obligor_pd,
            seller_pd_bps=seller_pd,
            obligor_outstanding=outstanding,
            seller_outstanding=outstanding,
            seller_limit=limit,
            kind=kind,
            recourse=recourse,
        )
    except QuoteRequestError as exc:
        event(f"refused: {exc.field}")
        return
    result = quote(policy, req)
    event("quoted" if isinstance(result, Quote) else f"declined: {result.codes[0]}")
    assert isinstance(result, Quote | Decline)
    if isinstance(result, Quote):
        assert 0 < result.price <= face * policy.advance_rate_bps // 10_000
        assert result.price <= result.present_value <= face
        assert 0 <= result.discount_bps <= 10_000
        assert recompute(policy, result.to_json()) == result
    elif result.price is not None:
        assert 0 <= result.price <= face


@pytest.mark.parametrize("face", [1, 10**6, MAX_UINT256])
def test_extreme_pds_and_tenor_zero_price_without_crashing(face: int) -> None:
    edgy = policy_with(
        ROOMY,
        min_tenor_days=0,
        max_tenor_days=3_650,
        max_obligor_pd_bps=10_000,
        max_seller_pd_bps=10_000,
        lgd_bps=10_000,
        obligor_spread=[{"max_pd_bps": 10_000, "spread_bps": 100_000}],
        seller_spread=[{"max_pd_bps": 10_000, "spread_bps": 100_000}],
    )
    at_once = quote(edgy, request(face=face, tenor_seconds=0, obligor_pd_bps=10_000))
    assert isinstance(at_once, Quote) and at_once.price == face and at_once.apr_bps is None  # nothing to wait or lose
    certain_loss = quote(edgy, request(face=face, tenor_seconds=DAY, obligor_pd_bps=10_000))
    assert isinstance(certain_loss, Decline) and certain_loss.codes == ["ZERO_PRICE"]
    safe = quote(
        edgy, request(face=face, tenor_seconds=3_650 * DAY, obligor_pd_bps=0, kind=PRE_SHIPMENT, seller_pd_bps=0)
    )
    if face == MAX_UINT256:  # ten years at 2,000% a year still leaves something of the largest face
        assert isinstance(safe, Quote) and safe.growth_ray > RAY and 0 < safe.price < face
    else:
        assert isinstance(safe, Decline) and safe.codes == ["ZERO_PRICE"]


def test_a_core_receivable_bought_without_recourse_needs_no_limit_for_the_seller() -> None:
    """Reverse factoring: a tier-3 seller without a score of its own sells its core's debt; its limit caps nothing."""
    record = DebtorRecord(paydex_12m=80, defaults_12m=0, receivables_outstanding=0)
    common: dict[str, Any] = {"obligor_kind": CORE, "obligor_pd_bps": None, "obligor_record": record}
    unscored = quote(SHIPPED, request(seller_limit=None, seller_pd_bps=None, seller_grade=None, **common))
    assert isinstance(unscored, Quote)
    beyond = quote(SHIPPED, request(seller_limit=1 * UNIT, seller_outstanding=500_000 * UNIT, **common))
    assert isinstance(beyond, Quote)
    with_recourse = quote(SHIPPED, request(seller_limit=1 * UNIT, recourse=True, **common))
    assert isinstance(with_recourse, Decline) and with_recourse.codes == ["EXPOSURE_LIMIT"]


def test_an_unscored_supplier_debtor_is_priced_at_the_policys_pd_for_one_never_better_than_a_scored_peer() -> None:
    unscored = priced(SHIPPED, obligor_pd_bps=None)
    assert unscored.obligor_pd_bps == SHIPPED.unscored_supplier_pd_bps == 3_000
    assert "too little verified history for a score: priced at this bank's PD for an unscored debtor, 30.00%" in (
        unscored.reasons[1].text
    )
    assert priced(SHIPPED, obligor_pd_bps=2_999).price >= unscored.price >= priced(SHIPPED, obligor_pd_bps=3_000).price
