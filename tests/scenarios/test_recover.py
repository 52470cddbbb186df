"""A played world found again from the chain alone (scenarios/recover.py): the same checkpoints and files
the play wrote, nothing sent, and the worlds that cannot be played named before anything is."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ledger.eth.artifacts import BuildResult
from ledger.toolchain.deploy import ROLE
from scenarios import ScenarioConfig, generate
from scenarios.errors import WorldConflict, WorldIncomplete
from scenarios.recover import NOT_ON_CHAIN, find_played, rebuild_outputs
from scoring.world import load
from tests.support.deployments import Deployed
from tests.support.played_world import SMALL, PlayedWorld


def test_a_played_world_is_found_with_the_checkpoints_its_play_wrote(world: PlayedWorld, build: BuildResult) -> None:
    head = world.chain.block_number
    found = find_played(world.chain, build, SMALL, world.result.addresses)

    assert found is not None
    assert (found.start, found.observation_end, found.end) == (
        world.result.start,
        world.result.observation_end,
        world.result.end,
    )
    assert found.plan == world.result.plan
    assert world.chain.block_number == head, "reading sends nothing"


def test_files_rebuilt_from_the_chain_are_the_plays_but_for_what_it_kept_off_chain(
    world: PlayedWorld, build: BuildResult, tmp_path: Path
) -> None:
    found = find_played(world.chain, build, SMALL, world.result.addresses)
    assert found is not None

    rebuild_outputs(world.chain, build, found, world.result.addresses, tmp_path)

    played = json.loads((world.out_dir / "world.json").read_text())
    rebuilt = json.loads((tmp_path / "world.json").read_text())
    assert rebuilt.pop("recovered")["not_on_chain"] == list(NOT_ON_CHAIN)
    for key in ("epcis_events", "refused_double_financing"):
        assert rebuilt["summary"].pop(key) is None
        played["summary"].pop(key)
    for mine, theirs in zip(rebuilt["summary"]["banks"], played["summary"]["banks"], strict=True):
        for key in ("pricing", "fill_rate_tier23", "market"):
            assert mine.pop(key) is None and theirs.pop(key) is not None
    assert rebuilt == played
    assert rebuilt["facts_digest"] == world.result.digest

    played_truth = json.loads((world.out_dir / "ground_truth.json").read_text())
    rebuilt_truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert rebuilt_truth.pop("recovered") and rebuilt_truth.pop("refused_attempts") == []
    assert played_truth.pop("refused_attempts"), "the play's bad actors tried"
    assert rebuilt_truth == played_truth
    assert load(tmp_path).observation_end == load(world.out_dir).observation_end  # what the scorer reads


def test_a_world_not_played_here_is_none(world: PlayedWorld, build: BuildResult) -> None:
    assert find_played(world.chain, build, dataclasses.replace(SMALL, seed=8), world.result.addresses) is None


def test_a_world_whose_purchase_orders_another_world_holds_is_refused_before_sending(
    world: PlayedWorld, build: BuildResult
) -> None:
    other = ScenarioConfig(SMALL.firms, SMALL.months, SMALL.seed, holdout_months=2)  # other keys, same PO refs
    head = world.chain.block_number

    with pytest.raises(WorldConflict) as refused:
        find_played(world.chain, build, other, world.result.addresses)

    assert refused.value.po_ref == f"PO-S{SMALL.seed}-{SMALL.firms}x{SMALL.months}-000001"
    assert refused.value.buyer in {p.address for p in generate(SMALL).parties}
    assert "SCF_DEVNET_PORT" in str(refused.value)
    assert world.chain.block_number == head


def test_an_interrupted_play_is_named_with_what_to_do(deployed: Deployed, build: BuildResult) -> None:
    parties = generate(SMALL).parties
    admin = deployed.accounts["admin"]

    def admit(count: int, start: int = 0) -> None:
        for party in parties[start:count]:
            fn = deployed.membership.functions.admit(party.address, ROLE["supplier"], 0, b"\x01" * 32)
            deployed.chain.transact(fn, admin)

    admit(3)
    with pytest.raises(WorldIncomplete, match=f"only 3 of its {len(parties)} parties"):
        find_played(deployed.chain, build, SMALL, deployed.addresses)
    admit(len(parties), 3)
    with pytest.raises(WorldIncomplete, match=r"last week .* is not on chain") as refused:
        find_played(deployed.chain, build, SMALL, deployed.addresses)
    assert "scf devnet reset" in str(refused.value)
