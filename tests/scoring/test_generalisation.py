"""A model measured on a world it never saw: against the hidden p_fail on the same suppliers, and the baselines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from api.cli.score import DEFAULT_MODEL
from ledger.eth.artifacts import BuildResult
from scenarios.check import auc as pairwise_auc
from scoring import evaluate, features
from scoring.chain_source import ChainEvents
from scoring.errors import InvalidRequest, WorldError
from scoring.generalisation import (
    EVALUATION_SEEDS,
    EXAMPLE_SEEDS,
    LOOKED_AT_SEEDS,
    RATIO_TARGET,
    RESERVED_SEEDS,
    SHIPPED_TRAINING_SEEDS,
    Baseline,
    Generalisation,
    Ranking,
    ReservedSeed,
    Summary,
    check_seeds,
    describe_seeds,
    measure,
    model_seeds,
    ratio,
)
from scoring.history import History
from scoring.scorecard import Model
from scoring.world import WorldFiles, load
from tests.support.played_world import PlayedWorld, world

__all__ = ["world"]  # the small played world (tests.support.played_world), imported to be declared here


@pytest.fixture(scope="module")
def shipped() -> Model:
    return Model.load(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def small(world: PlayedWorld, build: BuildResult) -> tuple[WorldFiles, History]:
    """The small world's files and its history as of the observation end, read from the chain's logs."""
    files = load(Path(world.out_dir))
    block = files.observation_end[0]
    events = ChainEvents(world.chain, files.addresses, {n: build[n].abi for n in files.addresses}, block)
    return files, events.history(block)


# --- the measurement on a played world ---------------------------------------------------------------------------


def test_the_model_and_p_fail_are_ranked_on_the_same_suppliers_and_a_small_world_reports_unfitted_baselines(
    small: tuple[WorldFiles, History], shipped: Model
) -> None:
    files, history = small
    result = measure(history, files.truth, shipped, seed=files.seed)
    split = evaluate.split(features.build(history), files.truth)
    everyone = sorted(split.train + split.test)
    assert result.seed == 7 and result.model == shipped.version
    assert (result.every.n, result.held_out.n) == (len(everyone), len(split.test))
    assert result.every.failures == sum(files.truth[a].failed for a in everyone) > 0
    # p_fail's AUC, by another implementation (pairwise, ties half) over the same suppliers
    labels = [files.truth[a].failed for a in everyone]
    expected = pairwise_auc([files.truth[a].p_fail or 0.0 for a in everyone], labels)
    assert expected is not None and result.every.p_fail_auc == pytest.approx(expected, abs=1e-4)
    assert result.every.model_auc is not None and result.every.ratio is not None
    assert result.every.ratio == pytest.approx(result.every.model_auc / expected, abs=2e-4)
    # the model's held-out figure is evaluate's for the same model on the same parties
    report, _ = evaluate.evaluate(history, files.truth, model=shipped, population="held_out")
    assert result.held_out.model_auc == report["auc"] and result.held_out.n == report["n"]
    # 30 firms: too few failures in the training half to fit the baselines; said, not crashed
    for name, baseline in result.baselines.items():
        assert not baseline.fitted and "cannot fit" in (baseline.error or ""), name
    # unfitted, the tier-1-only bank ranks everyone at its training failure rate (AUC 0.5 where the held-out half
    # has a failure to rank: none in this world's); volume-only ranks nothing
    assert result.held_out.failures == 0 and result.held_out.model_auc is None and result.held_out.ratio is None
    assert result.baselines["tier1_only"].auc is None and result.baselines["volume_only"].auc is None
    assert result.beats("tier1_only") is None and result.beats_baselines is None
    body = result.to_json()
    error = result.baselines["volume_only"].error
    assert body["baselines"]["volume_only"] == {"auc": None, "fitted": False, "error": error}
    assert json.loads(json.dumps(body)) == body


def test_p_fail_is_read_from_the_ground_truth_for_suppliers_only(small: tuple[WorldFiles, History]) -> None:
    files, _ = small
    raw = json.loads((files.directory / "ground_truth.json").read_text())["parties"]
    for address, truth in files.truth.items():
        if truth.kind == "supplier":
            assert truth.p_fail == raw[address]["traits"]["p_fail"]
        else:
            assert truth.p_fail is None


def test_a_truth_without_p_fail_for_a_measured_supplier_is_refused(
    small: tuple[WorldFiles, History], shipped: Model
) -> None:
    files, history = small
    supplier = next(a for a, t in files.truth.items() if t.kind == "supplier")
    truth = {**files.truth, supplier: dataclasses.replace(files.truth[supplier], p_fail=None)}
    with pytest.raises(WorldError, match="no hidden p_fail for 1 of the"):
        measure(history, truth, shipped)


# --- reserved seeds --------------------------------------------------------------------------------------------------


def test_the_shipped_models_training_seeds_are_the_ones_its_record_names() -> None:
    assert model_seeds(Model.load(DEFAULT_MODEL)) == SHIPPED_TRAINING_SEEDS


@pytest.mark.parametrize("seed", sorted(RESERVED_SEEDS))
def test_a_reserved_seed_is_refused_with_its_reason(seed: int) -> None:
    with pytest.raises(ReservedSeed) as refused:
        check_seeds([51, seed])
    assert refused.value.seed == seed
    reason = (
        "fitted on this world"
        if seed in SHIPPED_TRAINING_SEEDS
        else "kept unseen for evaluation"
        if seed in EVALUATION_SEEDS
        else "looked at already"
    )
    assert reason in str(refused.value) and "7, 11-15, 20-29, 41-50" in str(refused.value)


def test_the_reserved_set_is_the_training_the_evaluation_and_the_looked_at_worlds() -> None:
    assert describe_seeds(RESERVED_SEEDS) == "7, 11-15, 20-29, 41-50"
    assert describe_seeds(EVALUATION_SEEDS) == "15, 20-29"
    assert describe_seeds(LOOKED_AT_SEEDS) == "41-50"
    assert not set(EXAMPLE_SEEDS) & RESERVED_SEEDS
    check_seeds(list(EXAMPLE_SEEDS))  # free seeds pass, and the messages suggest free ones


def test_a_remeasure_may_use_the_looked_at_worlds_but_never_the_training_or_evaluation_ones() -> None:
    check_seeds(sorted(LOOKED_AT_SEEDS), remeasure=True)
    for seed in (7, 13, 15, 25):
        with pytest.raises(ReservedSeed):
            check_seeds([46, seed], remeasure=True)


def test_a_seed_the_given_models_record_names_is_refused() -> None:
    model = Model({"training": {"world_seed": [51, 52]}})
    with pytest.raises(ReservedSeed, match="seed 52 is reserved: the model's training record names"):
        check_seeds([53, 52], model)
    check_seeds([53, 54], model)
    assert model_seeds(Model({"training": {"world_seed": 50}})) == {50}
    assert model_seeds(Model({"training": {}})) == frozenset()


@pytest.mark.parametrize(("seeds", "message"), [([], "no seeds"), ([51, 51], "given twice"), ([-1], "non-negative")])
def test_no_seeds_a_repeated_or_a_negative_seed_is_refused(seeds: list[int], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_seeds(seeds)


# --- ratio and summary arithmetic -----------------------------------------------------------------------------------


def test_the_ratio_is_the_models_auc_over_the_ceilings_to_four_places() -> None:
    assert ratio(0.80, 0.90) == 0.8889
    assert ratio(0.90, 0.90) == 1.0
    assert ratio(0.95, 0.90) == 1.0556  # a finite world's outcomes can favour a model over p_fail by chance
    assert ratio(None, 0.9) is None and ratio(0.8, None) is None and ratio(0.8, 0.0) is None


def world_result(seed: int, model: float, ceiling: float, tier1: float | None, volume: float | None) -> Generalisation:
    every = Ranking("all", 290, 35, model, ceiling, ratio(model, ceiling))
    held = Ranking("held_out", 145, 17, model, ceiling, ratio(model, ceiling))
    baselines = {
        "tier1_only": Baseline("tier1_only", tier1, tier1 is not None, None if tier1 is not None else "cannot fit"),
        "volume_only": Baseline("volume_only", volume, volume is not None),
    }
    return Generalisation(seed, "0xmodel", every, held, baselines)


def test_the_criterion_is_the_mean_ratio_and_the_baselines_on_every_world() -> None:
    # ratios 0.9 and 1.0: mean 0.95, exactly the target
    good = Summary([world_result(41, 0.72, 0.8, 0.6, 0.65), world_result(42, 0.8, 0.8, 0.7, 0.75)])
    assert good.mean("all", "ratio") == RATIO_TARGET and good.ratio_holds
    assert good.baselines_hold and good.holds
    assert good.mean("all", "model_auc") == 0.76 and good.mean_baseline("volume_only") == 0.7
    short = Summary([world_result(41, 0.72, 0.8, 0.6, 0.65), world_result(42, 0.79, 0.8, 0.7, 0.75)])
    assert short.ratio_holds is False and short.holds is False
    beaten = Summary([world_result(41, 0.8, 0.8, 0.6, 0.65), world_result(42, 0.8, 0.8, 0.7, 0.8)])
    assert beaten.ratio_holds and beaten.worlds[1].beats("volume_only") is False  # a tie is not above
    assert beaten.baselines_hold is False and beaten.holds is False
    unfitted = Summary([world_result(41, 0.8, 0.8, None, 0.65), world_result(42, 0.8, 0.8, 0.7, 0.75)])
    assert unfitted.baselines_hold is None and unfitted.holds is None and unfitted.mean_baseline("tier1_only") is None
    undecided = Summary([world_result(41, 0.7, 0.8, None, 0.65)])
    assert undecided.baselines_hold is None and undecided.holds is False  # undecided, and the ratio fails: fails


def test_the_summary_json_names_the_populations_of_the_criterion() -> None:
    body = Summary([world_result(41, 0.72, 0.8, 0.6, 0.65)]).to_json()
    assert set(body) == {"worlds", "mean", "criterion"}
    assert body["criterion"] == {
        "ratio_target": RATIO_TARGET,
        "ratio_population": "all",
        "baselines_population": "held_out",
        "ratio_holds": False,
        "baselines_hold": True,
        "holds": False,
    }
    assert set(body["mean"]["held_out"]) == {"model_auc", "p_fail_auc", "ratio", "tier1_only", "volume_only"}
    (w,) = body["worlds"]
    assert set(w) == {"seed", "model", "all", "held_out", "baselines", "beats", "beats_baselines"}
    assert w["all"] == {"population": "all", "n": 290, "failures": 35, "model_auc": 0.72, "p_fail_auc": 0.8,
                        "ratio": 0.9}  # fmt: skip
    assert w["baselines"]["tier1_only"] == {"auc": 0.6, "fitted": True}
