"""A synthetic world, its features and a model fitted on it, made once for the scoring suite."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scoring import features, scorecard, synthetic
from scoring.features import FeatureTable


@dataclass
class Fitted:
    world: synthetic.World
    table: FeatureTable
    model: scorecard.Model


@pytest.fixture(scope="session")
def fitted() -> Fitted:
    world = synthetic.generate(240, seed=11)
    table = features.build(world.history())
    suppliers = [p for p in world.parties if p.tier > 0]
    model = scorecard.fit(
        table, [table.index[p.address] for p in suppliers], [p.failed for p in suppliers], training={"seed": 11}
    )
    return Fitted(world, table, model)
