"""Every on-chain fact of a world comes from its settings: replayed on a fresh anvil, the same digest.

The digest covers each event's contract, name, arguments and block timestamp (ids of orders,
receivables and pieces included). Block hashes differ between the two chains: anvil stamps
its genesis block (and the deployment, mined before the world's clock starts) with the
wall clock, and every later block hash chains from it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ledger.eth.artifacts import BuildResult
from scenarios import ScenarioConfig
from tests.support.played_world import PlayedWorld, fresh_devnet, play_world


def test_the_same_settings_replay_the_same_facts_on_a_fresh_chain(world: PlayedWorld, build: BuildResult) -> None:
    again = play_world(build, fresh_devnet(), world.result.config, Path(tempfile.mkdtemp(prefix="scf-world-again-")))
    first, second = world.result, again.result
    assert second.digest == first.digest
    assert [f.canonical() for f in second.facts.facts if f.event == "OrderCreated"] == [
        f.canonical() for f in first.facts.facts if f.event == "OrderCreated"
    ]
    assert (second.start.timestamp, second.end.timestamp) == (first.start.timestamp, first.end.timestamp)
    assert second.summary["transactions"] == first.summary["transactions"]
    assert second.world_path.read_text() == first.world_path.read_text()
    assert second.truth_path.read_text() == first.truth_path.read_text()
    # The invoices too: numbers, salts (derived from the seed) and so fingerprints and commitments.
    assert (second.out_dir / "invoices.json").read_text() == (first.out_dir / "invoices.json").read_text()


def test_another_seed_gives_another_world(world: PlayedWorld, build: BuildResult) -> None:
    other = ScenarioConfig(firms=20, months=3, seed=8, holdout_months=1)
    played = play_world(build, fresh_devnet(), other, Path(tempfile.mkdtemp(prefix="scf-world-other-")))
    assert played.result.digest != world.result.digest
    assert played.result.summary["orders"] > 0
