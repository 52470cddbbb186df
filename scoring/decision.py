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

from ledger.gc_pause import collector_paused
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
        self._prepared: _Prepared | None = None
        # The model's numbers a decision reads, read once (each is a lookup in the model's body).
        self._min_deliveries = model.min_deliveries
        self._base_points = model.base_points
        self._has_typical = model.has_typical
        # Memos of pure functions of a few values: many parties share a score, a PD, a grade or a fact.
        self._pd: dict[int, int] = {}
        self._grade: dict[int, tuple[str, int]] = {}
        self._facts: dict[tuple[int, int | None], str] = {}

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

    def _prepare(self) -> _Prepared:
        """What every decision reads, for every party at once (made on first use, like the columns)."""
        if self._prepared is None:
            values = self.table.values
            shown = [f.name for f in self.features if f.name in values] + list(_EXTRAS)
            # A core's debtor record only where the table has it (a decision of a core reads it, and fails without).
            core = [*shown, *_CORE_EXTRAS] if all(name in values for name in _CORE_EXTRAS) else None
            ints = {name: _ints_or_none(values[name]) for name in {*shown, *(core or ())}}
            shortfall = self.reference - self.points
            # Adverse: above zero, largest first; favourable: below zero, most negative first; ties
            # in model order either way (a stable sort of the row).
            adverse = np.argsort(-shortfall, axis=1, kind="stable").tolist()
            favourable = np.argsort(shortfall, axis=1, kind="stable").tolist()
            n_adverse = (shortfall > 0).sum(axis=1).tolist()
            n_favourable = (shortfall < 0).sum(axis=1).tolist()
            self._prepared = _Prepared(
                shown=[(name, ints[name]) for name in shown],
                core_shown=None if core is None else [(name, ints[name]) for name in core],
                known=[ints[f.name] if f.name in values else None for f in self.features],
                names=[f.name for f in self.features],
                scores=self.scores.tolist(),
                adverse=[row[:k] for row, k in zip(adverse, n_adverse, strict=True)],
                favourable=[row[:k] for row, k in zip(favourable, n_favourable, strict=True)],
            )
        return self._prepared

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
        # Each decision is a dozen small containers that live on: the cycle collector's passes over
        # them (and over everything else the process holds) would cost a third of the decisions.
        with collector_paused():
            return [self.decide_index(i) for i in (self.eligible() if rows is None else rows)]

    def pd_of(self, i: int) -> int:
        """The PD a decision uses (the thin-file PD without a score): what evaluation ranks by."""
        if self._thin(i):
            return self.model.thin_file_pd_bps
        return self.model.pd_bps(int(self.scores[i]))

    def _thin(self, i: int) -> bool:
        return self._column("deliveries_12m")[i] < self._min_deliveries

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
        prepared = self._prepare()
        flags = self.flags_of(i)
        flag_reasons: list[dict[str, Any]] = [{"code": code, "text": text, "points_lost": None} for code, text in flags]
        notes = [] if t.refused_visible else [UNSEEN_REFUSED]
        core = t.is_core(i)
        # The model's features the table has, then the extras (a core's debtor record too).
        columns = prepared.core_shown if core else prepared.shown
        if columns is None:
            columns = [(name, _ints_or_none(t.values[name])) for name in _CORE_EXTRAS]  # the missing one's KeyError
        shown = {name: column[i] for name, column in columns}
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
        if core:
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
            deliveries = int(self._column("deliveries_12m")[i])
            reason = {
                "code": "INSUFFICIENT_HISTORY",
                "text": f"only {deliveries} verified deliveries in the last 12 months "
                f"(a score needs at least {self._min_deliveries})",
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
        score = max(0, min(65_535, prepared.scores[i]))
        pd = self._pd.get(score)
        if pd is None:
            pd = self._pd[score] = model.pd_bps(score)
        graded = self._grade.get(pd)
        if graded is None:
            graded = self._grade[pd] = model.grade(pd)
        grade, code = graded
        volume = int(self._column("volume_12m")[i])
        limit = model.limit(grade, volume)
        if flags:
            grade, code = model.cap_grade(grade, code)
            limit = 0
        # Positive: points below typical (an adverse reason); negative: above it (favourable); ties by model order.
        points, shortfall = self._points_and_shortfall(i)
        reasons = list(flag_reasons)
        names = prepared.names
        known, fact = prepared.known, self._fact_at
        for j in prepared.adverse[i]:
            if len(reasons) >= TOP_REASONS:
                break
            value = None if (column := known[j]) is None else column[i]
            reasons.append({"code": names[j].upper(), "text": fact(j, value), "points_lost": shortfall[j]})
        # No data is never a strength, even where the model scores it above a typical party's value.
        favourable = [
            {"code": names[j].upper(), "text": fact(j, value), "points_gained": -shortfall[j]}
            for j in prepared.favourable[i]
            if (column := known[j]) is not None and (value := column[i]) is not None
        ]
        if not self._has_typical:
            common["notes"] = [*notes, AGAINST_BEST_BIN]
        by_feature: dict[str, int] = {"base": self._base_points}
        by_feature.update(zip(names, points, strict=True))
        return Decision(
            status=SCORED,
            score=score,
            pd_bps=pd,
            grade=grade,
            grade_code=code,
            limit=limit,
            reasons=reasons[:TOP_REASONS],
            points=by_feature,
            favourable=favourable,
            **common,
        )

    def _fact(self, i: int, j: int) -> str:
        """Feature ``j`` of party ``i`` as a fact beside the population's typical value."""
        column = self._prepare().known[j]
        return self._fact_at(j, None if column is None else column[i])

    def _fact_at(self, j: int, value: int | None) -> str:
        """Feature ``j`` at ``value`` (its whole part, all a fact shows; None: no data) as a fact, made
        once per value."""
        fact = self._facts.get((j, value))
        if fact is None:
            fact = self._facts[(j, value)] = self._fact_of(j, value)
        return fact

    def _fact_of(self, j: int, value: float | None) -> str:
        f = self.features[j]
        spec = SPEC_BY_NAME[f.name]
        fact = describe(spec, value)
        if f.typical_points is None:
            return f"{fact}; scored against the feature's best bin (this model records no typical values)"
        if f.typical_value is None:  # the typical party has no data on this feature
            return f"{fact}; typical: {spec.missing}"
        if value is None:
            return f"{fact}; typical: {describe(spec, float(f.typical_value))}"
        return f"{fact}, typical {format_value(spec.unit, f.typical_value)}"


#: What every decision shows beside the model's features, and what a core's shows beyond that.
_EXTRAS = ("deliveries_12m", "active_months_12m", "double_financing_attempts", "circular_cycles")
_CORE_EXTRAS = ("paydex_12m", "defaults_12m", "receivables_outstanding")


@dataclass(frozen=True)
class _Prepared:
    """Every party's inputs to a decision as Python lists (``Scorer._prepare``): a decision then reads
    list items, never a numpy scalar, and sorts nothing."""

    #: (name, value per party, None for no data) of each feature a decision shows, in the order shown
    shown: list[tuple[str, list[int | None]]]
    core_shown: list[tuple[str, list[int | None]]] | None
    #: per model feature: its values per party (None: no data), or None when the table lacks it
    known: list[list[int | None] | None]
    names: list[str]
    scores: list[int]
    #: per party: the model features below the reference, largest shortfall first (ties in model order)
    adverse: list[list[int]]
    #: per party: the model features above the reference, largest surplus first (ties in model order)
    favourable: list[list[int]]


def _ints_or_none(column: np.ndarray) -> list[int | None]:
    """``_int_or_none`` of every value: by numpy where every value is finite and well inside int64
    (both truncate towards zero), else one by one."""
    missing = np.isnan(column)
    present = column[~missing]
    if not np.all(np.abs(present) < 2.0**62):  # infinities too: int() of one raises, as it should
        return [_int_or_none(v) for v in column.tolist()]
    out: list[int | None] = np.where(missing, 0.0, column).astype(np.int64).tolist()
    for k in np.flatnonzero(missing).tolist():
        out[k] = None
    return out


def _int_or_none(value: float) -> int | None:
    return None if math.isnan(value) else int(value)


def _short(address: str) -> str:
    return address[:6] + "…" + address[-4:]


def decisions_json(decisions: Sequence[Decision]) -> bytes:
    return canonical([d.to_json() for d in decisions])
