"""``scf score``: decisions, bad input with exit status 2, evaluation of a world, fitting a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import score as score_cli
from tests.support import synthetic
from tests.support.fitted import Fitted


def write_world(directory: Path, fitted: Fitted, db: Path, *, failures: bool = True) -> Path:
    """World files for the synthetic world (``failures=False``: nobody failed, nothing to fit on)."""
    directory.mkdir()
    (directory / "ledger.db").symlink_to(db)
    block, stamp = fitted.world.observation_end
    kinds = {0: "core", -1: "bank"}
    (directory / "world.json").write_text(
        json.dumps(
            {
                "format": 1,
                "seed": 11,
                "chain_id": synthetic.CHAIN_ID,
                "addresses": synthetic.CONTRACTS,
                "observation_end": {"block": block, "timestamp": stamp},
                "parties": [
                    {"address": p.address, "kind": kinds.get(p.tier, "supplier")} for p in fitted.world.parties
                ],
            }
        )
    )
    (directory / "ground_truth.json").write_text(
        json.dumps(
            {
                "format": 1,
                "parties": {
                    p.address: {
                        "kind": kinds.get(p.tier, "supplier"),
                        "tier": None if p.tier < 0 else p.tier,
                        "bad_actor": p.bad_actor,
                        "failed": p.failed and failures,
                        "sells_to_core": p.tier == 1,
                    }
                    for p in fitted.world.parties
                },
            }
        )
    )
    return directory


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, fitted: Fitted) -> tuple[str, str, Path]:
    root = tmp_path_factory.mktemp("cli")
    url = synthetic.write_sqlite(fitted.world, root / "ledger.db")
    model = root / "model.json"
    fitted.model.save(model)
    return url, str(model), write_world(root / "world", fitted, root / "ledger.db")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = score_cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_one_party_as_json_is_the_same_bytes_twice(
    setup: tuple[str, str, Path], fitted: Fitted, capsys: pytest.CaptureFixture[str]
) -> None:
    url, model, _ = setup
    party = next(p for p in fitted.world.parties if p.tier == 1).address
    args = (party.lower(), "--db", url, "--model", model, "--json", "--confirmations", "0")
    code, first, _ = run(capsys, *args)
    assert code == 0
    _, second, _ = run(capsys, *args)
    assert first == second
    decision = json.loads(first)
    assert decision["party"] == party and decision["model"] == fitted.model.version


def test_bad_input_is_a_clear_error_with_exit_status_2(
    setup: tuple[str, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, model, _ = setup
    code, _, err = run(capsys, "0x" + "77" * 20, "--db", url, "--model", model)
    assert code == 2 and "not a member" in err
    code, _, err = run(capsys, "not-an-address", "--db", url, "--model", model)
    assert code == 2 and "not an address" in err
    code, _, err = run(capsys, "0x" + "77" * 20, "--db", url, "--model", model, "--as-of-block", "999999999")
    assert code == 2 and "in the future" in err
    code, _, err = run(capsys, "--all", "--db", url, "--model", str(Path(model).with_name("none.json")))
    assert code == 2 and "cannot read" in err


def test_evaluate_reports_the_model_and_both_baselines_on_held_out_parties(
    setup: tuple[str, str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, _, world = setup
    code, out, _ = run(
        capsys, "evaluate", "--world", str(world), "--json", "--confirmations", "0", "--out", str(tmp_path / "m.json")
    )
    assert code == 0
    report = json.loads(out.strip().splitlines()[-1])
    for key in ("auc", "ks", "coverage_tier23"):
        assert key in report
        assert set(report["baselines"]) == {"tier1_only", "volume_only"}
        assert all(key in b for b in report["baselines"].values())
    assert report["baselines"]["tier1_only"]["coverage_tier23"] == 0.0  # tier 2/3 never sell to a core here
    cv = report["cross_validated"]  # every supplier held out once, by the fit that did not see it
    assert cv["n"] == report["n"] + report["train"]["n"] and cv["folds"] == 5
    assert cv["auc"] > report["cross_validated_volume_only"]["auc"]
    assert report["coverage_tier23"] > 0.5
    assert all(a["named"] for a in report["bad_actors"])
    assert (tmp_path / "m.json").is_file()
    code, out, _ = run(
        capsys, "fit", "--world", str(world), "--out", str(tmp_path / "fit.json"), "--confirmations", "0"
    )
    assert code == 0 and "fitted on" in out


def test_evaluate_on_a_world_without_failures_cannot_fit_but_measures_a_given_model(
    setup: tuple[str, str, Path], fitted: Fitted, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url, model, _ = setup
    world = write_world(tmp_path / "calm", fitted, Path(url.removeprefix("sqlite:///")), failures=False)
    code, _, err = run(capsys, "evaluate", "--world", str(world), "--confirmations", "0")
    assert code == 2 and "too few to fit on" in err and "--model" in err
    code, out, _ = run(capsys, "evaluate", "--world", str(world), "--confirmations", "0", "--model", model, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["model"] == fitted.model.version and report["model_fitted_here"] is False
    assert report["cross_validated"] is None  # nothing is fitted with --model
    assert report["failures"] == 0 and report["auc"] is None  # nothing failed: no ranking to measure
    assert report["coverage_tier23"] is not None and report["coverage_tier23"] > 0.5
    assert report["baselines"]["volume_only"]["fitted"] is False
    code, out, _ = run(capsys, "evaluate", "--world", str(world), "--confirmations", "0", "--model", model)
    assert code == 0 and "not fitted here" in out and "not fitted: cannot fit" in out


def test_evaluate_with_a_given_model_on_every_supplier_matches_the_fit_it_was_measured_against(
    setup: tuple[str, str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, _, world = setup
    fitted_here = tmp_path / "m.json"
    code, out, _ = run(
        capsys, "evaluate", "--world", str(world), "--json", "--confirmations", "0", "--out", str(fitted_here)
    )
    assert code == 0
    first = json.loads(out)
    code, out, _ = run(
        capsys, "evaluate", "--world", str(world), "--json", "--confirmations", "0", "--model", str(fitted_here)
    )
    assert code == 0
    again = json.loads(out)
    assert again["auc"] == first["auc"] and again["coverage_tier23"] == first["coverage_tier23"]
    code, out, _ = run(
        capsys,
        "evaluate",
        "--world",
        str(world),
        "--json",
        "--confirmations",
        "0",
        "--model",
        str(fitted_here),
        "--all-parties",
    )
    assert code == 0
    everyone = json.loads(out)
    assert everyone["population"] == "all" and everyone["n"] == first["n"] + first["train"]["n"]


def test_evaluate_options_that_do_not_fit_together_are_refused(
    setup: tuple[str, str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, model, world = setup
    code, _, err = run(capsys, "evaluate", "--world", str(world), "--model", model, "--out", str(tmp_path / "x.json"))
    assert code == 2 and "nothing is fitted" in err
    code, _, err = run(capsys, "evaluate", "--world", str(world), "--all-parties")
    assert code == 2 and "goes with --model" in err


def test_fit_on_several_worlds_stacks_their_suppliers_and_records_each_world(
    setup: tuple[str, str, Path], fitted: Fitted, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url, _, world = setup
    other = write_world(tmp_path / "again", fitted, Path(url.removeprefix("sqlite:///")))
    out = tmp_path / "pooled.json"
    args = ["fit", "--world", str(world), "--world", str(other), "--confirmations", "0", "--out", str(out)]
    code, printed, _ = run(capsys, *args)
    assert code == 0 and "of 2 world(s)" in printed
    training = json.loads(out.read_text())["training"]
    assert [w["seed"] for w in training["worlds"]] == [11, 11] and training["world_seed"] == [11, 11]
    assert training["parties"] + training["thin_file_parties"] == sum(w["parties"] for w in training["worlds"])
    assert training["reproduce"].count("scf simulate") == 2  # the same seed twice: one play per world
    code, _, err = run(capsys, *args, "--db", url)
    assert code == 2 and "each one's DIR/ledger.db" in err
    code, _, err = run(capsys, "evaluate", "--world", str(world), "--world", str(other))
    assert code == 2 and "once" in err


def test_the_recipe_of_a_fit_on_worlds_of_one_size_plays_them_all_with_one_command() -> None:
    from api.cli.score import _reproduce

    worlds = [{"firms": 300, "months": 12, "holdout_months": 3, "seed": s} for s in (7, 11)]
    assert _reproduce(worlds, True) == (
        "scf score generalise --play-only --seeds 7,11 --firms 300 --months 12 --holdout-months 3 --out DIR; "
        "scf score fit --world DIR/world-s7-300x12 --world DIR/world-s11-300x12 --confirmations 0 "
        "--out MODEL.json --all-parties"
    )
    worlds[1]["months"] = 6
    assert _reproduce(worlds, False).count("scf simulate") == 2  # worlds of several sizes: one play each
