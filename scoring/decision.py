"""One credit decision per party: score, PD, grade, limit, the top four reasons, and what it rests on.

Rules on top of the points, applied the same way every time:

* **Insufficient history**: fewer verified deliveries in 12 months than the model's minimum is
  an explicit ``INSUFFICIENT_HISTORY`` decision (no score, no grade, limit 0, the reason in
  words), never a zero score.
* **Flags first**: a party that signed a refused attempt to finance an already financed
  receivable (or to issue an invoice twice), or that sits in a possible circular-trading cycle,
  gets that reason among its top four whatever the points say (flags come first), its grade
  capped at the model's ``flagged_grade_cap`` and a limit of 0.
* **Core enterprises are not scored by the supplier scorecard**: a party with the CORE role is
  the debtor whose receivables the whole chain is financed on, assessed by a bank on its own
  financials. Its decision is an explicit ``NOT_SCORED`` (no score, no grade, limit 0) whose
  reasons are its record as a debtor on the ledger: PAYDEX-like repayment timeliness over 12
  months, receivables defaulted, and receivables outstanding, so a bank sees at once whether
  the anchor of its programme pays on time.
* **Reasons are true**: otherwise, the adverse reasons are the features whose points fall below the
  population's typical points for that feature (what the fit recorded: ``scorecard.typical``),
  ranked by the shortfall, after the flags, four in all; each is a fact with the party's value and
  the typical one ("on-time delivery 71% over 6 months, typical 93%"). A feature at or above
  typical is never an adverse reason, however far it is from its best bin: a reason that a bank
  hands to a supplier must be something in which it does worse than its peers. The features above
  typical are ``favourable``, ranked by the surplus, listed separately (all of them; the same
  facts), except a feature with no data: no data is never a strength, even where the model's
  no-data points beat the typical party's. No data on a feature is compared by its no-data
  points, and says so ("no delivery due in the last 6 months; typical: on-time delivery 75% over
  6 months"). A model fitted before
  typicals were recorded still decides, rather than being refused, because an auditor recomputes
  each published limit with the model its hash names: its reasons are measured against the best
  bin as before, each reason and the notes say so, and no factor is favourable (nothing beats a
  best bin). Scores, grades and limits do not depend on any of this.

A decision serialises to canonical JSON (sorted keys, integers only apart from nothing): the
same history and the same model version give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.errors import UnknownParty
from scoring.features import ROLE_CORE, ROLE_SUPPLIER, FeatureTable
from scoring.scorecard import SPEC_BY_NAME, Model, canonical, describe, format_value

SCORED = "SCORED"
INSUFFICIENT_HISTORY = "INSUFFICIENT_HISTORY"
NOT_SCORED = "NOT_SCORED"
STATUSES = (SCORED, INSUFFICIENT_HISTORY, NOT_SCORED)
TOP_REASONS = 4
UNSEEN_REFUSED = (
    "refused calls are not in this history (no refused_calls table): double-financing attempts cannot be seen"
)
AGAINST_BEST_BIN = (
    "this model records no population typical values (it was fitted before them): reasons are the points lost "
    "against each feature's best bin, and no factor is listed as favourable"
)


@dataclass(frozen=True)
class Decision:
    party: str
    status: str
    score: int | None
    pd_bps: int | None
    grade: str | None
    grade_code: int
    limit: int
    reasons: list[dict[str, Any]]
    flags: list[str]
    points: dict[str, int]
    features: dict[str, int | None]
    model: str
    chain_id: int
    as_of_block: int
    as_of_time: int
    notes: list[str] = field(default_factory=list)
    #: features above the population's typical points: {"code", "text", "points_gained"}, by surplus
    favourable: list[dict[str, Any]] = field(default_factory=list)

    @property
    def scored(self) -> bool:
        return self.status == SCORED

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "status": self.status,
            "score": self.score,
            "pd_bps": self.pd_bps,
            "grade": self.grade,
            "grade_code": self.grade_code,
            "limit": self.limit,
            "reasons": self.reasons,
            "flags": self.flags,
            "points": self.points,
            "features": self.features,
            "model": self.model,
            "chain_id": self.chain_id,
            "as_of_block": self.as_of_block,
            "as_of_time": self.as_of_time,
            "notes": self.notes,
            "favourable": self.favourable,
        }

    def canonical(self) -> bytes:
        return canonical(self.to_json())


class Scorer:
    """Decisions from one feature table and one model; points are computed for every party at once."""

    def __init__(self, table: FeatureTable, model: Model) -> None:
        self.table = table
        self.model = model
        self.version = model.version
        self.features = model.features
        n = len(table.parties)
        self.points = np.zeros((n, len(self.features)), dtype=np.int64)
        for j, f in enumerate(self.features):
            column = table.values.get(f.name, np.full(n, np.nan))
            bins = np.searchsorted(np.asarray(f.edges, dtype=np.float64), column, side="right")
            table_points = np.asarray(f.points, dtype=np.int64)
            self.points[:, j] = np.where(
                np.isnan(column), f.missing_points, table_points[np.minimum(bins, len(f.edges))]
            )
        self.scores = model.base_points + self.points.sum(axis=1)
        # What reasons are measured against: each feature's typical points (its best bin for an older model).
        self.reference = np.asarray([f.reference for f in self.features], dtype=np.int64)
        # Python lists of the columns and rows a decision reads, made on first use: reading a numpy
        # scalar costs more than the rest of a decision's arithmetic.
        self._columns: dict[str, list[float]] = {}
        self._rows: tuple[list[list[int]], list[list[int]]] | None = None

    def _column(self, name: str) -> list[float]:
        column = self._columns.get(name)
        if column is None:
            column = self._columns[name] = self.table.values[name].tolist()
        return column

    def _points_and_shortfall(self, i: int) -> tuple[list[int], list[int]]:
        """Party ``i``'s points per feature, and how far each falls below the reference."""
        if self._rows is None:
            self._rows = (self.points.tolist(), (self.reference - self.points).tolist())
        return self._rows[0][i], self._rows[1][i]

    def eligible(self) -> list[int]:
        """Members (active) that trade: suppliers and core enterprises, in address order."""
        t = self.table
        wanted = (t.roles & (ROLE_SUPPLIER | ROLE_CORE)) != 0
        return sorted((i for i in range(len(t.parties)) if t.member[i] and wanted[i]), key=lambda i: t.parties[i])

    def decide(self, party: str) -> Decision:
        i = self.table.index.get(party)
        if i is None or not self.table.member[i]:
            raise UnknownParty(party, int(self.table.history["as_of_block"]))
        return self.decide_index(i)

    def decide_all(self, rows: Iterable[int] | None = None) -> list[Decision]:
        return [self.decide_index(i) for i in (self.eligible() if rows is None else rows)]

    def pd_of(self, i: int) -> int:
        """The PD a decision uses (the thin-file PD without a score): what evaluation ranks by."""
        if self._thin(i):
            return self.model.thin_file_pd_bps
        return self.model.pd_bps(int(self.scores[i]))

    def _thin(self, i: int) -> bool:
        return self._column("deliveries_12m")[i] < self.model.min_deliveries

    def flags_of(self, i: int) -> list[tuple[str, str]]:
        flags: list[tuple[str, str]] = []
        attempts = self._column("double_financing_attempts")[i]
        if not math.isnan(attempts) and attempts > 0:
            flags.append(
                (
                    "DOUBLE_FINANCING",
                    f"signed {int(attempts)} refused attempt(s) to finance an already financed receivable "
                    "or to issue an invoice twice (possible double financing)",
                )
            )
        circle = self.table.circular.get(i)
        if circle:
            names = ", ".join(_short(a) for a in circle[:3]) + (
                f" and {len(circle) - 3} more" if len(circle) > 3 else ""
            )
            flags.append(("CIRCULAR_TRADING", f"possible circular trading with {names}"))
        return flags

    def _debtor_record(self, i: int) -> list[dict[str, Any]]:
        """A core enterprise's decision: why it is not scored, and its record as a debtor."""
        values = self.table.values
        paydex = values["paydex_12m"][i]
        defaults = int(values["defaults_12m"][i])
        outstanding = int(values["receivables_outstanding"][i])
        return [
            {
                "code": "CORE_ENTERPRISE",
                "text": "core enterprise: the debtor of the receivables its suppliers hold, assessed on its own "
                "financials, not by the supplier scorecard",
                "points_lost": None,
            },
            {
                "code": "PAYDEX_12M",
                "text": "no receivable of its own due in 12 months"
                if np.isnan(paydex)
                else f"repays its receivables with PAYDEX {int(paydex)} over 12 months (80: on time)",
                "points_lost": None,
            },
            {
                "code": "DEFAULTS_12M",
                "text": f"receivables defaulted in 12 months: {defaults}",
                "points_lost": None,
            },
            {
                "code": "RECEIVABLES_OUTSTANDING",
                "text": f"receivables outstanding as debtor: {format_value('tokens', outstanding)}",
                "points_lost": None,
            },
        ]

    def decide_index(self, i: int) -> Decision:
        t, model = self.table, self.model
        values = t.values
        flags = self.flags_of(i)
        flag_reasons: list[dict[str, Any]] = [{"code": code, "text": text, "points_lost": None} for code, text in flags]
        notes = [] if t.refused_visible else [UNSEEN_REFUSED]
        column = self._column
        shown = {f.name: _int_or_none(column(f.name)[i]) for f in self.features if f.name in values}
        extras = ["deliveries_12m", "active_months_12m", "double_financing_attempts", "circular_cycles"]
        if t.is_core(i):
            extras += ["paydex_12m", "defaults_12m", "receivables_outstanding"]
        for extra in extras:
            shown[extra] = _int_or_none(column(extra)[i])
        common: dict[str, Any] = {
            "party": t.parties[i],
            "model": self.version,
            "chain_id": int(t.history["chain_id"]),
            "as_of_block": int(t.history["as_of_block"]),
            "as_of_time": int(t.history["as_of_time"]),
            "flags": [code for code, _ in flags],
            "features": shown,
            "notes": notes,
        }
        if t.is_core(i):
            return Decision(
                status=NOT_SCORED,
                score=None,
                pd_bps=None,
                grade=None,
                grade_code=0,
                limit=0,
                reasons=([*flag_reasons, *self._debtor_record(i)])[:TOP_REASONS],
                points={},
                **common,
            )
        if self._thin(i):
            deliveries = int(column("deliveries_12m")[i])
            reason = {
                "code": "INSUFFICIENT_HISTORY",
                "text": f"only {deliveries} verified deliveries in the last 12 months "
                f"(a score needs at least {model.min_deliveries})",
                "points_lost": None,
            }
            return Decision(
                status=INSUFFICIENT_HISTORY,
                score=None,
                pd_bps=None,
                grade=None,
                grade_code=0,
                limit=0,
                reasons=([*flag_reasons, reason])[:TOP_REASONS],
                points={},
                **common,
            )
        score = int(max(0, min(65_535, int(self.scores[i]))))
        pd = model.pd_bps(score)
        grade, code = model.grade(pd)
        volume = int(column("volume_12m")[i])
        limit = model.limit(grade, volume)
        if flags:
            grade, code = model.cap_grade(grade, code)
            limit = 0
        # Positive: points below typical (an adverse reason); negative: above it (favourable); ties by model order.
        points, shortfall = self._points_and_shortfall(i)
        features = range(len(self.features))
        reasons = list(flag_reasons)
        for j in sorted((j for j in features if shortfall[j] > 0), key=lambda j: (-shortfall[j], j)):
            if len(reasons) >= TOP_REASONS:
                break
            feature = self.features[j].name.upper()
            reasons.append({"code": feature, "text": self._fact(i, j), "points_lost": shortfall[j]})
        # No data is never a strength, even where the model scores it above a typical party's value.
        favourable = [
            {"code": self.features[j].name.upper(), "text": self._fact(i, j), "points_gained": -shortfall[j]}
            for j in sorted(
                (j for j in features if shortfall[j] < 0 and self._known(i, j)), key=lambda j: (shortfall[j], j)
            )
        ]
        if not model.has_typical:
            common["notes"] = [*notes, AGAINST_BEST_BIN]
        return Decision(
            status=SCORED,
            score=score,
            pd_bps=pd,
            grade=grade,
            grade_code=code,
            limit=limit,
            reasons=reasons[:TOP_REASONS],
            points={"base": model.base_points, **{f.name: points[j] for j, f in enumerate(self.features)}},
            favourable=favourable,
            **common,
        )

    def _known(self, i: int, j: int) -> bool:
        name = self.features[j].name
        return name in self.table.values and not math.isnan(self._column(name)[i])

    def _fact(self, i: int, j: int) -> str:
        """Feature ``j`` of party ``i`` as a fact beside the population's typical value."""
        f = self.features[j]
        spec = SPEC_BY_NAME[f.name]
        raw = self._column(f.name)[i] if f.name in self.table.values else math.nan
        value = None if math.isnan(raw) else float(raw)
        fact = describe(spec, value)
        if f.typical_points is None:
            return f"{fact}; scored against the feature's best bin (this model records no typical values)"
        if f.typical_value is None:  # the typical party has no data on this feature
            return f"{fact}; typical: {spec.missing}"
        if value is None:
            return f"{fact}; typical: {describe(spec, float(f.typical_value))}"
        return f"{fact}, typical {format_value(spec.unit, f.typical_value)}"


def _int_or_none(value: float) -> int | None:
    return None if math.isnan(value) else int(value)


def _short(address: str) -> str:
    return address[:6] + "…" + address[-4:]


def decisions_json(decisions: Sequence[Decision]) -> bytes:
    return canonical([d.to_json() for d in decisions])
