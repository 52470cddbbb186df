"""The parties of a synthetic supply chain and their hidden traits, drawn from one seed.

A world is a pyramid like the auto or electronics industry's: a few strong core enterprises
buy from tier-1 suppliers, tier 1 from tier 2, tier 2 from tier 3; only a few tier-2 and
tier-3 suppliers ever sell to a core directly. Banks finance receivables, carriers and
inspectors run oracle services, an arbiter resolves disputes.

Tier sizes for ``firms`` firms (cores and suppliers): cores 1% (at least 2), tier 1 10% (at
least 3), tier 2 30% (at least 5), tier 3 the rest: 300 firms give 3 / 30 / 90 / 177 and 30
firms 2 / 3 / 9 / 16. Two banks below 100 firms, three from 100; three carriers and three
inspectors (quorum two of each kind); one arbiter.

Every supplier has hidden traits. A latent weakness ``w`` drives its reliability (late
shipments, failed inspections, failures to deliver); scale is its monthly sales; growth its
monthly trend. Its probability of failing in the hold-out period, ``p_fail``, is a logistic
function of what history shows (weakness, negative growth, small scale) plus noise; whether
it fails is drawn from ``p_fail``, and most failing suppliers deteriorate visibly in the
last two observed months. Two bad actors: a tier-1 supplier who tries to finance the same
invoice twice, and a pair of tier-2 suppliers who trade in a circle to inflate volume.

Keys are derived from the seed and the settings, so a world has the same addresses
wherever it is played. Everything is drawn from one ``random.Random``: the same settings
give the same world on every machine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.fingerprints import ConsortiumKey
from scenarios.errors import InvalidConfig

UNIT = 10**6  # the settlement token has 6 decimals
DAY = 86_400
WEEK = 7 * DAY
MONTH = 30 * DAY
#: Worlds start here unless the chain's clock is already later.
DEFAULT_START = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())

CORE, SUPPLIER, BANK, CARRIER, INSPECTOR, ARBITER = "core", "supplier", "bank", "carrier", "inspector", "arbiter"
DOUBLE_FINANCER, CIRCULAR_TRADER = "double_financer", "circular_trader"
CARRIERS, INSPECTORS, QUORUM = 3, 3, 2

_TRADES = {
    1: ("Assemblies", "Modules", "Electronics", "Systems", "Drivetrain", "Interiors"),
    2: ("Castings", "Stampings", "Harness", "Plastics", "Machining", "PCB"),
    3: ("Resins", "Fasteners", "Coatings", "Wire", "Springs", "Tooling"),
}
_CORES = ("Motors", "Devices", "Mobility", "Appliances", "Aerospace")
_BANKS = ("Harbour Bank", "Meridian Trust", "Northgate Capital")
#: Typical monthly sales of a supplier, in dollars, per tier (log-normal around it).
_SCALE = {1: 400_000, 2: 120_000, 3: 40_000}


@dataclass(frozen=True)
class ScenarioConfig:
    """What a world is made of: ``firms`` cores and suppliers, ``months`` of activity, ``seed``.

    The last ``holdout_months`` months are the hold-out period in which suppliers fail.
    """

    firms: int
    months: int
    seed: int
    holdout_months: int = 3

    def __post_init__(self) -> None:
        if self.firms < 20:
            raise InvalidConfig("firms", self.firms, "a world needs at least 20 firms (2 cores, 3+5+10 suppliers)")
        if self.firms > 5_000:
            raise InvalidConfig("firms", self.firms, "at most 5,000 firms")
        if self.holdout_months < 1:
            raise InvalidConfig("holdout_months", self.holdout_months, "at least one hold-out month")
        if self.months < self.holdout_months + 2:
            raise InvalidConfig(
                "months", self.months, f"at least two observed months before {self.holdout_months} hold-out months"
            )
        if self.months > 36:
            raise InvalidConfig("months", self.months, "at most 36 months")
        if not 0 <= self.seed < 2**63:
            raise InvalidConfig("seed", self.seed, "a non-negative integer below 2**63")

    @property
    def observed_months(self) -> int:
        return self.months - self.holdout_months

    def tier_sizes(self) -> dict[int, int]:
        """Firms per tier: 0 for cores, 1..3 for suppliers."""
        cores = max(2, round(self.firms * 0.01))
        tier1 = max(3, round(self.firms * 0.10))
        tier2 = max(5, round(self.firms * 0.30))
        return {0: cores, 1: tier1, 2: tier2, 3: self.firms - cores - tier1 - tier2}

    def banks(self) -> int:
        return 2 if self.firms < 100 else 3

    def key_material(self) -> str:
        return f"scf-scenario/{self.seed}/{self.firms}/{self.months}/{self.holdout_months}"

    def consortium_key(self) -> ConsortiumKey:
        """The demo consortium's invoice-fingerprint key, derived from the seed (a real consortium draws
        its key at random and shares it with its members only: ``ledger.domain.fingerprints``)."""
        return ConsortiumKey.derived(self.key_material() + "/consortium-key")


@dataclass(frozen=True)
class Traits:
    """A supplier's hidden nature; rates are per order, growth per month, scale in token units a month."""

    reliability: float
    late_rate: float
    inspection_fail_rate: float
    non_delivery_rate: float
    scale: int
    growth: float
    p_fail: float

    def to_json(self) -> dict[str, float | int]:
        return {
            "reliability": round(self.reliability, 4),
            "late_rate": round(self.late_rate, 4),
            "inspection_fail_rate": round(self.inspection_fail_rate, 4),
            "non_delivery_rate": round(self.non_delivery_rate, 4),
            "scale": self.scale,
            "growth": round(self.growth, 4),
            "p_fail": round(self.p_fail, 4),
        }


@dataclass
class Party:
    """One participant: its key, its public kind and name, and (suppliers) its hidden side."""

    index: int
    name: str
    kind: str
    account: LocalAccount
    tier: int | None = None
    traits: Traits | None = None
    buyers: tuple[int, ...] = ()  # indexes of the parties it sells to
    bad_actor: str | None = None
    fails: bool = False  # fails in the hold-out period (drawn from p_fail)
    fail_offset: int | None = None  # seconds after the world's start
    deteriorates: bool = False  # worse in the last two observed months, before failing
    weak_payer: bool = False  # a core that misses some repayments
    tenor_days: int = 90  # receivables it issues as debtor

    @property
    def address(self) -> str:
        return str(self.account.address)


@dataclass
class World:
    config: ScenarioConfig
    parties: list[Party]
    circle: tuple[int, int]
    double_financer: int
    relayer: LocalAccount
    by_kind: dict[str, list[int]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Party]:
        return [self.parties[i] for i in self.by_kind.get(kind, [])]

    def tier(self, tier: int) -> list[Party]:
        return [p for p in self.parties if p.tier == tier]

    @property
    def suppliers(self) -> list[Party]:
        return self.of_kind(SUPPLIER)


def _account(config: ScenarioConfig, label: str) -> LocalAccount:
    account: LocalAccount = Account.from_key(keccak(text=f"{config.key_material()}/{label}"))
    return account


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _traits(rng: random.Random, tier: int) -> tuple[Traits, float]:
    """Traits and the latent weakness behind them."""
    weakness = rng.betavariate(2.0, 5.0)
    late = min(0.6, 0.02 + 0.6 * weakness * rng.uniform(0.8, 1.2))
    inspection = min(0.4, 0.01 + 0.3 * weakness * rng.uniform(0.8, 1.2))
    non_delivery = min(0.3, 0.002 + 0.3 * weakness**2 * rng.uniform(0.8, 1.2))
    scale = int(_SCALE[tier] * math.exp(rng.gauss(0.0, 0.5))) * UNIT
    growth = max(-0.08, min(0.08, rng.gauss(0.01, 0.03)))
    smallness = -math.log(scale / (_SCALE[tier] * UNIT))  # > 0 for smaller than typical
    logit = -5.3 + 9.0 * weakness - 15.0 * growth + 0.5 * smallness + rng.gauss(0.0, 0.5)
    reliability = max(0.0, 1.0 - late - inspection - non_delivery)
    return Traits(reliability, late, inspection, non_delivery, scale, growth, _sigmoid(logit)), weakness


def generate(config: ScenarioConfig) -> World:
    """The world of ``config``: the same parties, traits and links for the same settings."""
    rng = random.Random(config.key_material())
    sizes = config.tier_sizes()
    parties: list[Party] = []
    by_kind: dict[str, list[int]] = {}

    def add(kind: str, name: str, label: str, **extra: object) -> Party:
        party = Party(len(parties), name, kind, _account(config, label), **extra)  # type: ignore[arg-type]
        parties.append(party)
        by_kind.setdefault(kind, []).append(party.index)
        return party

    for i in range(sizes[0]):
        # The last core of three or more is the weak payer; in small worlds the second one.
        add(
            CORE,
            f"Core {_CORES[i % len(_CORES)]} {i + 1:02d}",
            f"core/{i}",
            tier=0,
            weak_payer=i == sizes[0] - 1,
            tenor_days=(90, 60, 120)[i % 3],
        )
    cores = list(by_kind[CORE])
    observed = config.observed_months * MONTH
    total = config.months * MONTH
    for tier in (1, 2, 3):
        above = cores if tier == 1 else [p.index for p in parties if p.tier == tier - 1]
        for i in range(sizes[tier]):
            traits, _ = _traits(rng, tier)
            count = min(len(above), rng.choice((1, 1, 2)) if tier != 2 else rng.choice((1, 2, 2, 3)))
            buyers = sorted(rng.sample(above, count))
            # A few lower-tier suppliers also sell to a core directly (most never do).
            if (tier == 2 and rng.random() < 0.10) or (tier == 3 and rng.random() < 0.02):
                buyers.append(rng.choice(cores))
            fails = rng.random() < traits.p_fail
            fail_offset = rng.randrange(observed + 7 * DAY, total - 21 * DAY) if fails else None
            trade = _TRADES[tier][i % len(_TRADES[tier])]
            add(
                SUPPLIER,
                f"Tier{tier} {trade} {i + 1:03d}",
                f"tier{tier}/{i}",
                tier=tier,
                traits=traits,
                buyers=tuple(sorted(set(buyers))),
                fails=fails,
                fail_offset=fail_offset,
                deteriorates=fails and rng.random() < 0.6,
                tenor_days=60,
            )
    for i in range(config.banks()):
        add(BANK, _BANKS[i % len(_BANKS)] + (f" {i + 1}" if i >= len(_BANKS) else ""), f"bank/{i}")
    for i in range(CARRIERS):
        add(CARRIER, f"Carrier {chr(ord('A') + i)} Logistics", f"carrier/{i}")
    for i in range(INSPECTORS):
        add(INSPECTOR, f"Inspector {chr(ord('A') + i)} Labs", f"inspector/{i}")
    add(ARBITER, "Trade Arbitration Chamber", "arbiter/0")

    # Bad actors: among the suppliers that will not fail, so their schemes run the whole period.
    tier1 = [p for p in parties if p.tier == 1 and not p.fails]
    tier2 = [p for p in parties if p.tier == 2 and not p.fails]
    if not tier1 or len(tier2) < 2:
        tier1 = tier1 or [p for p in parties if p.tier == 1]
        tier2 = tier2 if len(tier2) >= 2 else [p for p in parties if p.tier == 2]
    financer = rng.choice(tier1)
    financer.bad_actor = DOUBLE_FINANCER
    first, second = rng.sample(tier2, 2)
    first.bad_actor = second.bad_actor = CIRCULAR_TRADER
    relayer = _account(config, "relayer")
    return World(config, parties, (first.index, second.index), financer.index, relayer, by_kind)
