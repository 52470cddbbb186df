"""Point-in-time features from hand-made verified histories."""

from __future__ import annotations

import math

import numpy as np

from scoring import features
from scoring.features import DAY, ROLE_SUPPLIER
from scoring.history import ChainEvent
from tests.scoring.histories import BANK, CORE, T0, T1, T2, T3, UNIT, Story, party


def value(table: features.FeatureTable, who: str, name: str) -> float | None:
    return table.row(who)[name]


def trading_story() -> Story:
    s = Story()
    s.members()
    start = T0 + 10 * DAY
    # tier 1 sells to the core: three on time, one delivered late, one never shipped (refunded)
    for k in range(3):
        s.order(start + k * 20 * DAY, CORE, T1, 100 * UNIT)
    s.order(start + 60 * DAY, CORE, T1, 100 * UNIT, deliver_late=True, ship_late=True)
    s.order(start + 80 * DAY, CORE, T1, 100 * UNIT, shipped=False)
    # tier 2 sells to tier 1 with an inspection that fails once
    s.order(start + 5 * DAY, T1, T2, 40 * UNIT, inspection=True)
    s.order(start + 25 * DAY, T1, T2, 40 * UNIT, inspection=False)
    return s


def test_on_time_rates_volume_and_refunds_count_only_verified_orders() -> None:
    s = trading_story()
    table = features.build(s.history(T0 + 200 * DAY))
    assert value(table, T1, "on_time_delivery_12m") == 6000  # 3 of 5 due (late one, unshipped one)
    assert value(table, T1, "on_time_ship_12m") == 6000
    assert value(table, T1, "refund_rate_12m") == 2000
    assert value(table, T1, "volume_12m") == 400 * UNIT  # the refunded order is not verified business
    assert value(table, T1, "deliveries_12m") == 4
    assert value(table, T2, "inspection_pass_12m") == 5000
    assert value(table, T2, "volume_12m") == 40 * UNIT  # the failed inspection was refunded
    assert value(table, CORE, "on_time_delivery_12m") is None  # nothing due as a supplier: no data, not zero


def test_nothing_after_the_as_of_point_is_used() -> None:
    s = trading_story()
    early = features.build(s.history(T0 + 35 * DAY))
    assert value(early, T1, "deliveries_12m") == 1
    assert value(early, T1, "volume_12m") == 100 * UNIT
    late = features.build(s.history(T0 + 200 * DAY))
    assert value(late, T1, "deliveries_12m") == 4


def test_trailing_windows_forget_old_trade() -> None:
    s = trading_story()
    table = features.build(s.history(T0 + 10 * DAY + 300 * DAY))
    assert value(table, T1, "volume_3m") == 0
    assert value(table, T1, "volume_12m") == 400 * UNIT
    assert value(table, T1, "on_time_delivery_3m") is None


def test_a_contested_milestone_stops_counting() -> None:
    s = Story()
    s.members()
    oid = s.order(T0 + DAY, CORE, T1, 10 * UNIT)
    before = features.build(s.history(T0 + 30 * DAY))
    assert value(before, T1, "on_time_delivery_12m") == 10_000
    s.emit(
        T0 + 31 * DAY,
        "TradeEscrow",
        "MilestoneContested",
        orderId=str(oid),
        milestone=2,
        evidenceHash="0x",
        reasonHash="0x",
        declaredAt=T0 + 31 * DAY,
        signers=[],
    )
    after = features.build(s.history(T0 + 40 * DAY))
    assert value(after, T1, "on_time_delivery_12m") == 0
    assert value(after, T1, "volume_12m") == 0
    assert value(after, T1, "contested_12m") == 1


def test_receivables_from_a_core_reach_tier_two_and_three_through_splits() -> None:
    s = Story()
    s.members()
    t = T0 + 10 * DAY
    s.order(t, CORE, T1, 90 * UNIT)
    s.order(t, T1, T2, 30 * UNIT)
    s.order(t, T2, T3, 10 * UNIT)
    root = s.receivable(t + 20 * DAY, CORE, T1, 90 * UNIT, t + 80 * DAY)
    _, to_t2 = s.split(t + 21 * DAY, root, root, T1, [(T1, 60 * UNIT), (T2, 30 * UNIT)])
    s.split(t + 22 * DAY, to_t2, root, T2, [(T2, 20 * UNIT), (T3, 10 * UNIT)])
    table = features.build(s.history(t + 30 * DAY))
    assert value(table, T2, "core_receivables_12m") == 30 * UNIT
    assert value(table, T3, "core_receivables_12m") == 10 * UNIT
    assert value(table, T3, "core_receivables_held") == 10 * UNIT
    assert value(table, T2, "core_receivables_held") == 20 * UNIT  # the split piece is locked; its kept child counts
    assert [value(table, who, "core_distance") for who in (CORE, T1, T2, T3)] == [0, 1, 2, 3]
    trust = [value(table, who, "trust") or 0.0 for who in (T1, T2, T3)]
    assert trust[0] > trust[1] > trust[2] > 0  # trust fades with each tier
    assert value(table, BANK, "trust") == 0


def test_paydex_rewards_paying_on_time_and_punishes_paying_late() -> None:
    s = Story()
    s.members()
    t = T0 + DAY
    early = s.receivable(t, T1, T2, 50 * UNIT, t + 30 * DAY)
    late = s.receivable(t, CORE, T1, 50 * UNIT, t + 30 * DAY)
    s.repay(t + 20 * DAY, early, T1, 50 * UNIT)
    s.repay(t + 60 * DAY, late, CORE, 50 * UNIT)
    table = features.build(s.history(t + 90 * DAY))
    assert value(table, T1, "paydex_12m") == 90  # 10 days early
    assert value(table, CORE, "paydex_12m") == 50  # 30 days late
    assert value(table, T2, "paydex_12m") is None
    unpaid = features.build(s.history(t + 45 * DAY))
    assert value(unpaid, CORE, "paydex_12m") == round(
        float(features.paydex(np.array([15.0]))[0])
    )  # still unpaid: 15 days beyond


def test_sales_are_measured_against_the_suppliers_at_the_same_tier_of_the_chain() -> None:
    s = Story()
    s.members()
    workshops = [T2, T3, *(party(f"workshop{k}") for k in range(3))]
    for k, who in enumerate(workshops[2:]):
        s.admit(T0 + 10 + k, who, ROLE_SUPPLIER)
    for month in range(3):
        s.order(T0 + DAY + month * 30 * DAY, CORE, T1, 500 * UNIT)
        for k, who in enumerate(workshops):  # five tier-2 workshops selling 10, 20, .. 50 a month to tier 1
            s.order(T0 + 2 * DAY + month * 30 * DAY, T1, who, (k + 1) * 10 * UNIT)
    s.order(T0 + 3 * DAY, CORE, T3, 10 * UNIT)  # one of them once sold to the core directly
    table = features.build(s.history(T0 + 100 * DAY))
    assert [value(table, who, "supply_tier") for who in (CORE, T1, *workshops)] == [0, 1, 2, 2, 2, 2, 2]
    assert value(table, T3, "core_distance") == 1  # near the core, yet a tier-2 firm by its trade
    assert [value(table, who, "sales_vs_tier_12m") for who in workshops] == [3333, 7777, 10000, 13333, 16666]
    assert value(table, T1, "sales_vs_tier_12m") is None  # the only tier-1 supplier: no peers to compare with
    assert (value(table, T2, "order_growth") or 0) < 0  # three orders in the first 70 days, none in the last 30
    # a bank that sees only a core's direct suppliers puts them all at tier 1 and sees no other orders
    direct = features.build(s.history(T0 + 100 * DAY), view="direct")
    assert value(direct, T1, "supply_tier") == value(direct, T3, "supply_tier") == 1
    assert value(direct, T2, "supply_tier") is None and value(direct, T2, "order_growth") is None


def test_concentration_and_counterparties() -> None:
    s = Story()
    s.members()
    s.order(T0 + DAY, CORE, T2, 30 * UNIT)
    s.order(T0 + DAY, T1, T2, 10 * UNIT)
    table = features.build(s.history(T0 + 30 * DAY))
    assert value(table, T2, "counterparties_12m") == 2
    assert value(table, T2, "concentration_12m") == math.floor((0.75**2 + 0.25**2) * 10_000)


def test_refused_calls_count_double_financing_attempts_or_say_they_are_unseen() -> None:
    from scoring.history import RefusedCall

    s = Story()
    s.members()
    s.refused.append(RefusedCall(3, 0, T1, "Receivables", "finance", "ReceivablesAlreadyFinanced"))
    s.refused.append(RefusedCall(4, 0, T2, "Receivables", "finance", "ReceivablesOfferExpired"))
    seen = features.build(s.history(T0 + DAY))
    assert value(seen, T1, "double_financing_attempts") == 1
    assert value(seen, T2, "double_financing_attempts") == 0
    assert seen.refused_visible
    unseen = features.build(s.history(T0 + DAY, refused=False))
    assert value(unseen, T1, "double_financing_attempts") is None
    assert not unseen.refused_visible


def test_sql_and_chain_argument_forms_give_the_same_features() -> None:
    s = trading_story()
    history = s.history(T0 + 200 * DAY)
    as_ints = [
        ChainEvent(
            e.block_number,
            e.log_index,
            e.timestamp,
            e.contract,
            e.event,
            {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in e.args.items()},
        )
        for e in history.events
    ]
    a = features.build(history)
    b = features.build(
        type(history)(history.chain_id, history.as_of_block, history.as_of_time, as_ints, history.refused, "chain")
    )
    for who in (CORE, T1, T2):
        assert a.row(who) == b.row(who)


def test_the_trouble_rate_pools_everything_that_went_wrong_shrunk_towards_a_typical_supplier() -> None:
    s = trading_story()  # tier 1: three on time, one shipped and delivered late, one never shipped
    table = features.build(s.history(T0 + 200 * DAY))
    prior = features.TROUBLE_PRIOR_BPS * features.TROUBLE_PRIOR_ORDERS
    assert value(table, T1, "orders_known_12m") == 5
    assert value(table, T1, "trouble_rate_12m") == (2 * 10_000 + prior) // (5 + features.TROUBLE_PRIOR_ORDERS)
    # tier 2: one of two failed its inspection (and was refunded)
    assert value(table, T2, "trouble_rate_12m") == (10_000 + prior) // (2 + features.TROUBLE_PRIOR_ORDERS)
    assert value(table, CORE, "trouble_rate_12m") is None  # never a supplier: no data, not zero


def test_an_order_cancelled_after_its_ship_by_passed_unshipped_is_the_suppliers_trouble() -> None:
    s = Story()
    s.members()
    for k, cancelled_at in enumerate((5 * DAY, 9 * DAY)):  # ship-by is 7 days after creation
        t = T0 + DAY + k * 30 * DAY
        oid = s.order(t, CORE, T1, 10 * UNIT, shipped=False)
        s.events = [e for e in s.events if not (e.event == "OrderRefunded" and e.args["orderId"] == str(oid))]
        s.emit(t + cancelled_at, "TradeEscrow", "OrderCancelled", orderId=str(oid), by=CORE)
    table = features.build(s.history(T0 + 100 * DAY))
    prior = features.TROUBLE_PRIOR_BPS * features.TROUBLE_PRIOR_ORDERS
    assert value(table, T1, "orders_known_12m") == 1  # the buyer's own cancellation before ship-by does not count
    assert value(table, T1, "trouble_rate_12m") == (10_000 + prior) // (1 + features.TROUBLE_PRIOR_ORDERS)


def test_deterioration_shows_as_troubles_beyond_the_suppliers_own_record_and_fewer_orders() -> None:
    s = Story()
    s.members()
    end = T0 + 300 * DAY
    for k in range(8):  # eight months of good service, two orders a month
        s.order(T0 + DAY + k * 30 * DAY, CORE, T1, 10 * UNIT)
        s.order(T0 + 15 * DAY + k * 30 * DAY, CORE, T1, 10 * UNIT)
        s.order(T0 + DAY + k * 30 * DAY, CORE, T2, 10 * UNIT)
        s.order(T0 + 15 * DAY + k * 30 * DAY, CORE, T2, 10 * UNIT)
    for k in range(2):  # the last two months: tier 1 late and with fewer orders, tier 2 as before
        s.order(end - 55 * DAY + k * 25 * DAY, CORE, T1, 10 * UNIT, deliver_late=True)
        for j in range(2):
            s.order(end - 58 * DAY + k * 28 * DAY + j * 14 * DAY, CORE, T2, 10 * UNIT)
    table = features.build(s.history(end))
    t1, t2 = table.row(T1), table.row(T2)
    assert (t1["trouble_excess_2m"] or 0) > 100  # more than one order beyond what its record predicts
    assert (t2["trouble_excess_2m"] or 0) < 0
    assert (t1["trouble_rate_2m"] or 0) > (t2["trouble_rate_2m"] or 0)
    assert (t1["intake_trend"] or 0) < 7_000  # two orders where its record predicts about four
    assert 9_000 < (t2["intake_trend"] or 0) < 11_000
    assert (t1["trouble_rate_12m"] or 0) > (t2["trouble_rate_12m"] or 0)


def test_a_debtors_outstanding_receivables_are_face_value_not_yet_repaid() -> None:
    s = Story()
    s.members()
    t = T0 + DAY
    paid = s.receivable(t, CORE, T1, 50 * UNIT, t + 30 * DAY)
    s.receivable(t, CORE, T1, 70 * UNIT, t + 60 * DAY)
    s.repay(t + 30 * DAY, paid, CORE, 50 * UNIT)
    table = features.build(s.history(t + 40 * DAY))
    assert value(table, CORE, "receivables_outstanding") == 70 * UNIT
    assert value(table, T1, "receivables_outstanding") == 0


def test_stacked_tables_keep_each_tables_rows_one_after_the_other() -> None:
    a = features.build(trading_story().history(T0 + 200 * DAY))
    b = features.build(trading_story().history(T0 + 40 * DAY))
    both = features.stack([a, b])
    assert len(both.parties) == len(a.parties) + len(b.parties)
    offset = len(a.parties)
    for name in ("volume_12m", "trouble_rate_12m", "deliveries_12m"):
        assert both.values[name][a.index[T1]] == a.values[name][a.index[T1]]
        assert both.values[name][offset + b.index[T1]] == b.values[name][b.index[T1]]
    assert both.parties[offset + b.index[T1]] == f"1:{T1}"
    assert features.stack([a]) is a
