"""scf simulate (api/cli/simulate.py): settings checked before anything runs, a tiny world played end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli.simulate import main
from tests.support.played_world import fresh_devnet


def test_impossible_settings_exit_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--firms", "5", "--chain", "http://127.0.0.1:9", "--fresh"]) == 2
    assert "InvalidConfig: firms=5" in " ".join(capsys.readouterr().err.split())


def test_a_tiny_world_plays_and_prints_its_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    devnet = fresh_devnet()
    argv = ["--firms", "20", "--months", "3", "--holdout-months", "1", "--seed", "5", "--chain", devnet.url]
    assert main([*argv, "--fresh", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "refused double-financing attempts" in out and "world.json" in out
    world = json.loads((tmp_path / "world.json").read_text())
    assert (world["seed"], world["firms"], world["months"]) == (5, 20, 3)
    assert world["summary"]["orders"] > 0
    # Without --fresh it looks for the deployment record of `scf deploy` and says what to do.
    assert main([*argv, "--deployment", str(tmp_path / "missing.json"), "--quiet"]) == 2
    assert "run `scf deploy` first" in " ".join(capsys.readouterr().err.split())


def test_json_prints_one_object_with_each_banks_money_and_fill_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devnet = fresh_devnet()
    argv = ["--firms", "20", "--months", "3", "--holdout-months", "1", "--seed", "6", "--chain", devnet.url]
    assert main([*argv, "--fresh", "--out", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["seed"], printed["firms"], printed["out"]) == (6, 20, str(tmp_path))
    banks = printed["summary"]["banks"]
    assert [b["name"] for b in banks] == ["Harbour Bank", "Meridian Trust"]
    for key in ("financed", "interest", "losses", "net_return", "loss_rate_bps", "fill_rate_tier23"):
        assert key in banks[0]
    assert all(isinstance(b["financed"]["total"], int) for b in banks)
