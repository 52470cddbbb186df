"""The scorer on a world played through the real contracts: indexed into SQL (SQLite and PostgreSQL), and read from
the chain's logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import score as score_cli
from ledger.eth.artifacts import BuildResult
from ledger.index.indexer import Indexer
from ledger.index.sql import open_engine
from scoring import features
from scoring.chain_source import ChainEvents
from scoring.decision import NOT_SCORED, Scorer
from scoring.source import SqlSource
from scoring.world import load
from tests.support.databases import Databases, databases
from tests.support.fitted import Fitted
from tests.support.played_world import PlayedWorld, world

# The small played world (tests.support.played_world) and the databases of each kind, imported to be declared here.
__all__ = ["databases", "world"]


@pytest.fixture(scope="module")
def indexed(world: PlayedWorld, build: BuildResult, databases: Databases) -> str:
    files = json.loads((world.out_dir / "world.json").read_text())
    url = databases.url()
    addresses = files["addresses"]
    indexer = Indexer(
        world.chain, open_engine(url), addresses, {n: build[n].abi for n in addresses}, from_block=0, confirmations=0
    )
    with indexer:
        indexer.run()
    return url


def test_bad_actors_of_a_played_world_get_the_reasons_that_name_them(
    indexed: str, world: PlayedWorld, fitted: Fitted
) -> None:
    files = load(Path(world.out_dir))
    block = files.observation_end[0]
    history = SqlSource.open(indexed, files.chain_id).history(block, confirmations=0)
    assert history.refused is not None, "the indexer keeps refused calls"
    scorer = Scorer(features.build(history), fitted.model)
    actors = {a: t.bad_actor for a, t in files.truth.items() if t.bad_actor}
    assert set(actors.values()) == {"double_financer", "circular_trader"}
    for address, kind in actors.items():
        decision = scorer.decide(address)
        codes = [r["code"] for r in decision.reasons]
        assert ("DOUBLE_FINANCING" if kind == "double_financer" else "CIRCULAR_TRADING") in codes[:4], decision
        assert decision.limit == 0
    honest = [a for a, t in files.truth.items() if t.kind == "supplier" and not t.bad_actor]
    flagged = [a for a in honest if scorer.decide(a).flags]
    assert not flagged, flagged


def test_the_chain_logs_and_the_index_give_the_same_features(
    indexed: str, world: PlayedWorld, build: BuildResult
) -> None:
    files = load(Path(world.out_dir))
    block = files.observation_end[0]
    from_sql = SqlSource.open(indexed, files.chain_id).history(block, confirmations=0)
    abis = {n: build[n].abi for n in files.addresses}
    from_chain = ChainEvents(world.chain, files.addresses, abis, block).history(block, from_sql.refused)
    assert len(from_chain.events) == len(from_sql.events) > 500
    a, b = features.build(from_sql), features.build(from_chain)
    for address in files.truth:
        if address in a.index:
            assert a.row(address) == b.row(address)


def test_a_small_played_world_measures_a_given_model_and_its_cores_are_not_scored_as_suppliers(
    indexed: str, world: PlayedWorld, fitted: Fitted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.json"
    fitted.model.save(model)
    args = ["evaluate", "--world", str(world.out_dir), "--db", indexed, "--confirmations", "0", "--json"]
    code = score_cli.main(args)
    out = capsys.readouterr()
    assert code == 0 or (code == 2 and "too few to fit on" in out.err), out.err  # 30 firms: one failure or so
    assert score_cli.main([*args, "--model", str(model)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == fitted.model.version and not report["model_fitted_here"]
    assert report["n"] > 0 and all(a["named"] for a in report["bad_actors"])
    files = load(Path(world.out_dir))
    history = SqlSource.open(indexed, files.chain_id).history(files.observation_end[0], confirmations=0)
    scorer = Scorer(features.build(history), fitted.model)
    cores = [a for a, t in files.truth.items() if t.kind == "core"]
    assert cores
    for core in cores:
        d = scorer.decide(core)
        assert d.status == NOT_SCORED and d.reasons[0]["code"] == "CORE_ENTERPRISE" and d.limit == 0
