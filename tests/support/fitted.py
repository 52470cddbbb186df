"""Scoring models fitted on synthetic worlds (``tests.support.synthetic``), as two suites need them.

* ``Fitted`` (``fit_scorecard``): the scoring suite's world of 240 parties, its feature table and
  a points scorecard fitted on its suppliers by ``scorecard.fit``, the scorer's own fitting step;
* ``Evaluated`` (``evaluate_synthetic``): the ``/v1`` suite's world of 160 parties written as an
  index, with the model and report of ``scoring.evaluate`` (the path of ``scf score fit``), saved
  where ``scf serve`` can load it, so the credit routes score with a model the test knows rather
  than whatever model ships.

Each suite's conftest makes its one once per session; the seeds are fixed so both are the same
world every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scoring import evaluate, features, scorecard
from scoring.features import FeatureTable
from scoring.scorecard import Model
from scoring.world import Truth
from tests.support import synthetic


@dataclass
class Fitted:
    world: synthetic.World
    table: FeatureTable
    model: scorecard.Model


def fit_scorecard() -> Fitted:
    """The scoring suite's world (240 parties, seed 11), its features and a scorecard fitted on its suppliers."""
    world = synthetic.generate(240, seed=11)
    table = features.build(world.history())
    suppliers = [p for p in world.parties if p.tier > 0]
    model = scorecard.fit(
        table, [table.index[p.address] for p in suppliers], [p.failed for p in suppliers], training={"seed": 11}
    )
    return Fitted(world, table, model)


@dataclass
class Evaluated:
    """A synthetic world, its index, and a model fitted (and evaluated) on it by ``scoring.evaluate``."""

    world: synthetic.World
    db_url: str
    report: dict[str, Any]
    model: Model
    model_file: Path


def truth_of(world: synthetic.World) -> dict[str, Truth]:
    """The world's ground truth in the shape ``scoring.evaluate`` reads from a played world's files."""
    kinds = {0: "core", -1: "bank"}
    return {
        p.address: Truth(
            p.address, kinds.get(p.tier, "supplier"), None if p.tier < 0 else p.tier, p.failed, p.bad_actor, p.tier == 1
        )
        for p in world.parties
    }


def evaluate_synthetic(root: Path) -> Evaluated:
    """The ``/v1`` suite's world (160 parties, seed 3) indexed into ``root``, with its evaluated model saved there."""
    world = synthetic.generate(160, seed=3)
    report, model = evaluate.evaluate(world.history(), truth_of(world), training={"world_seed": 3})
    model.save(root / "model.json")
    return Evaluated(world, synthetic.write_sqlite(world, root / "ledger.db"), report, model, root / "model.json")
