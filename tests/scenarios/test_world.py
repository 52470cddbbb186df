"""World generation: the pyramid, the hidden traits and the bad actors come from the seed alone."""

from __future__ import annotations

import pytest

from scenarios import InvalidConfig, ScenarioConfig, ScenarioError, generate
from scenarios.plan import UNSHIPPED, make_plan
from scenarios.world import CIRCULAR_TRADER, CORE, DEFAULT_START, DOUBLE_FINANCER, SUPPLIER, Party


def test_tier_sizes_form_a_pyramid() -> None:
    assert ScenarioConfig(300, 12, 1).tier_sizes() == {0: 3, 1: 30, 2: 90, 3: 177}
    assert ScenarioConfig(30, 6, 1).tier_sizes() == {0: 2, 1: 3, 2: 9, 3: 16}


def test_the_same_settings_give_the_same_world_and_another_seed_another() -> None:
    one, two, other = (generate(ScenarioConfig(60, 6, s)) for s in (5, 5, 6))
    assert [p.address for p in one.parties] == [p.address for p in two.parties]
    assert [p.traits for p in one.parties] == [p.traits for p in two.parties]
    assert [(p.buyers, p.fails, p.fail_offset, p.bad_actor) for p in one.parties] == [
        (p.buyers, p.fails, p.fail_offset, p.bad_actor) for p in two.parties
    ]
    assert {p.address for p in one.parties}.isdisjoint(p.address for p in other.parties)


def test_suppliers_sell_one_tier_up_and_few_lower_ones_to_a_core() -> None:
    world = generate(ScenarioConfig(300, 12, 3))
    for supplier in world.suppliers:
        tiers = {world.parties[b].tier for b in supplier.buyers}
        assert supplier.tier is not None and supplier.tier - 1 in tiers
        assert tiers <= {supplier.tier - 1, 0}
    lower = [p for p in world.suppliers if p.tier in (2, 3)]
    to_core = [p for p in lower if any(world.parties[b].kind == CORE for b in p.buyers)]
    assert 0 < len(to_core) < 0.1 * len(lower)


def test_one_double_financer_and_one_circular_pair() -> None:
    world = generate(ScenarioConfig(300, 12, 3))
    assert [p.tier for p in world.parties if p.bad_actor == DOUBLE_FINANCER] == [1]
    assert [p.tier for p in world.parties if p.bad_actor == CIRCULAR_TRADER] == [2, 2]


def test_a_tenth_or_so_of_suppliers_fail_and_the_weak_ones_more_often() -> None:
    world = generate(ScenarioConfig(300, 12, 11))
    suppliers = [p for p in world.parties if p.kind == SUPPLIER]
    failing = [p for p in suppliers if p.fails]
    assert 0.06 <= len(failing) / len(suppliers) <= 0.2
    assert all(p.fail_offset is not None and p.fail_offset >= 9 * 30 * 86_400 for p in failing)

    def mean_reliability(group: list[Party]) -> float:
        return sum(p.traits.reliability for p in group if p.traits is not None) / len(group)

    assert mean_reliability(failing) < mean_reliability([p for p in suppliers if not p.fails])


def test_a_failed_supplier_ships_nothing_due_after_its_failure() -> None:
    world = generate(ScenarioConfig(300, 12, 11))
    plan = make_plan(world, DEFAULT_START)
    failing = {p.index: DEFAULT_START + p.fail_offset for p in world.parties if p.fail_offset is not None}
    late = [o for o in plan.orders if o.supplier in failing and o.ship_by >= failing[o.supplier]]
    assert late and all(o.outcome == UNSHIPPED for o in late)
    assert all(plan.tick_time(o.tick) < failing[o.supplier] + 21 * 86_400 for o in late)


def test_the_circular_traders_trade_back_and_forth() -> None:
    world = generate(ScenarioConfig(30, 6, 7))
    plan = make_plan(world, DEFAULT_START)
    circle = [o for o in plan.orders if o.circular]
    assert {(o.buyer, o.supplier) for o in circle} == {world.circle, world.circle[::-1]}
    amounts = [o.amount for o in circle]
    assert max(amounts) <= 1.07 * min(amounts)


@pytest.mark.parametrize(
    ("firms", "months", "holdout", "field"),
    [(10, 12, 3, "firms"), (300, 4, 3, "months"), (300, 12, 0, "holdout_months"), (300, 48, 3, "months")],
)
def test_impossible_settings_are_refused_with_the_reason(firms: int, months: int, holdout: int, field: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        ScenarioConfig(firms, months, 1, holdout)
    assert caught.value.field == field
    assert isinstance(caught.value, ScenarioError)
