"""The purchase orders of a world, week by week, with how each one will end.

Pure and deterministic: the plan is drawn from the world's seed before anything is sent.
The world runs in weekly ticks (tick ``k`` at ``start + 1 day + k weeks``); a month is 30
days. Each supplier gets orders from its buyers at a monthly rate by tier (tier 1: 2.5,
tier 2: 1.5, tier 3: 1.0) that grows with its trend; amounts follow its scale. Cores buy
half on escrow and half on open account (paid by a receivable), suppliers 40/60.

How an order ends is drawn from the supplier's traits: not shipped at all (its rate of
failing to deliver), shipped and lost, damaged or failing inspection (only when the order
asks for an inspection), late, or on time. A buyer disputes half of its late escrowed orders
and every lost one; the supplier answers with a probability equal to its reliability.
Suppliers that deteriorate order less and fail three times as often in the last two observed
months; a failed supplier ships nothing whose ship-by falls after its failure, and gets no
new orders three weeks after it.

The circular traders buy from each other every week of the observation period, escrowed,
on time, with amounts within 3% of each other.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from scenarios.world import CARRIERS, CORE, DAY, INSPECTORS, MONTH, UNIT, WEEK, Party, World

ON_TIME, LATE, LOST, DAMAGED, FAILED_INSPECTION, UNSHIPPED = (
    "on_time",
    "late",
    "lost",
    "damaged",
    "failed_inspection",
    "unshipped",
)
_RATE = {1: 2.5, 2: 1.5, 3: 1.0}


@dataclass(frozen=True)
class PlannedOrder:
    number: int
    po_ref: str
    buyer: int
    supplier: int
    open_account: bool
    amount: int
    tick: int
    ship_by: int
    deliver_by: int
    inspection: bool
    outcome: str
    dispute: bool  # the buyer disputes (escrowed late or lost orders)
    answers: bool  # the supplier answers a dispute
    confirm: bool  # the buyer confirms receipt at once (else the release waits for the claim window)
    circular: bool
    carriers: tuple[int, ...]  # indexes into the world's carriers that witness the shipment
    inspectors: tuple[int, ...]
    sim_seed: int


@dataclass(frozen=True)
class Plan:
    start: int
    ticks: int
    observation_ticks: int  # ticks 0..observation_ticks-1 are observed; the rest is hold-out
    orders: tuple[PlannedOrder, ...]

    def tick_time(self, tick: int) -> int:
        return tick_time(self.start, tick)

    def by_tick(self) -> list[list[PlannedOrder]]:
        out: list[list[PlannedOrder]] = [[] for _ in range(self.ticks)]
        for order in self.orders:
            out[order.tick].append(order)
        return out


def tick_time(start: int, tick: int) -> int:
    return start + DAY + tick * WEEK


def ticks_in(start: int, begin: int, end: int) -> list[int]:
    """Ticks whose time falls in ``[begin, end)`` (offsets from ``start``)."""
    first = max(0, math.ceil((begin - DAY) / WEEK))
    return [k for k in range(first, first + 6) if begin <= tick_time(0, k) < end]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def make_plan(world: World, start: int) -> Plan:
    """Every order of ``world`` for a run starting at ``start`` (UTC seconds)."""
    config = world.config
    rng = random.Random(config.key_material() + "/plan")
    total, observed = config.months * MONTH, config.observed_months * MONTH
    ticks = len([k for k in range(10_000) if tick_time(0, k) < total])
    observation_ticks = len([k for k in range(ticks) if tick_time(0, k) < observed])
    drafts: list[tuple[int, int, Party, Party, int, bool]] = []  # (tick, draw order, buyer, supplier, amount, circle)

    for supplier in world.suppliers:
        traits = supplier.traits
        assert traits is not None and supplier.tier is not None
        rate = _RATE[supplier.tier]
        fail_at = supplier.fail_offset
        for month in range(config.months):
            mean = rate * (1.0 + traits.growth) ** month
            if supplier.deteriorates and config.observed_months - 2 <= month < config.observed_months:
                mean *= 0.6
            for _ in range(_poisson(rng, mean)):
                tick = rng.choice(ticks_in(0, month * MONTH, (month + 1) * MONTH))
                buyer = world.parties[rng.choice(supplier.buyers)]
                amount = max(1_000, round(traits.scale / UNIT / rate * math.exp(rng.gauss(0.0, 0.3)), -2)) * UNIT
                if fail_at is not None and tick_time(0, tick) >= fail_at + 21 * DAY:
                    continue
                drafts.append((tick, len(drafts), buyer, supplier, int(amount), False))

    first, second = (world.parties[i] for i in world.circle)
    assert first.traits is not None
    base = first.traits.scale // 2
    for tick in range(2, observation_ticks):
        buyer, seller = (first, second) if tick % 2 == 0 else (second, first)
        amount = round(base * rng.uniform(0.97, 1.03) / UNIT, -2) * UNIT
        drafts.append((tick, len(drafts), buyer, seller, int(amount), True))

    drafts.sort(key=lambda d: (d[0], d[1]))
    orders = []
    tag = f"S{config.seed}-{config.firms}x{config.months}"
    for number, (tick, _, buyer, supplier, amount, circular) in enumerate(drafts, start=1):
        orders.append(_order(rng, world, number, f"PO-{tag}-{number:06d}", tick, buyer, supplier, amount, circular))
    return Plan(start, ticks, observation_ticks, tuple(_timed(o, start) for o in orders))


def _order(
    rng: random.Random,
    world: World,
    number: int,
    po_ref: str,
    tick: int,
    buyer: Party,
    supplier: Party,
    amount: int,
    circular: bool,
) -> PlannedOrder:
    """One order with times relative to the start (``_timed`` makes them absolute)."""
    traits = supplier.traits
    assert traits is not None
    created = tick_time(0, tick)
    ship_by = created + rng.randint(5, 12) * DAY + rng.randrange(DAY)
    deliver_by = ship_by + rng.randint(5, 14) * DAY
    to_core = buyer.kind == CORE
    open_account = not circular and rng.random() < (0.5 if to_core else 0.6)
    inspection = not circular and rng.random() < (0.5 if to_core else 0.25)
    config = world.config
    month = created // MONTH
    worse = 3.0 if supplier.deteriorates and config.observed_months - 2 <= month < config.observed_months else 1.0
    draw = rng.random()
    late, failing, missing = traits.late_rate * worse, traits.inspection_fail_rate * worse, traits.non_delivery_rate
    missing *= worse
    if circular:
        outcome = ON_TIME
    elif (supplier.fail_offset is not None and ship_by >= supplier.fail_offset) or draw < missing:
        outcome = UNSHIPPED
    elif draw < missing * 1.3:
        outcome = LOST
    elif draw < missing * 1.3 + failing:
        outcome = (DAMAGED if rng.random() < 0.3 else FAILED_INSPECTION) if inspection else LATE
    elif draw < missing * 1.3 + failing + late:
        outcome = LATE
    else:
        outcome = ON_TIME
    escrowed = not open_account
    dispute = escrowed and (outcome == LOST or (outcome == LATE and rng.random() < 0.5))
    answers = rng.random() < traits.reliability
    confirm = circular or rng.random() < 0.6
    carriers = tuple(sorted(rng.sample(range(CARRIERS), 3 if rng.random() < 0.3 else 2)))
    inspectors = tuple(sorted(rng.sample(range(INSPECTORS), 2)))
    return PlannedOrder(
        number,
        po_ref,
        buyer.index,
        supplier.index,
        open_account,
        amount,
        tick,
        ship_by,
        deliver_by,
        inspection,
        outcome,
        dispute,
        answers,
        confirm,
        circular,
        carriers,
        inspectors,
        rng.getrandbits(63),
    )


def _timed(order: PlannedOrder, start: int) -> PlannedOrder:
    from dataclasses import replace

    return replace(order, ship_by=start + order.ship_by, deliver_by=start + order.deliver_by)
