"""`rm -rf out && scf demo run-main` on a devnet that already holds the demo world: what `make run` does
before serving decides "already played" from the chain, rebuilds out/demo from it, and a second run
sends nothing.

The devnet is the session's ``small_world`` (the demo's own settings, played by ``scenarios.play``
into a directory of its own, as ``scf simulate --out`` would): the module takes a snapshot of that
chain first and reverts to it at the end, so the other suites see the world as played.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from api.cli import demo as demo_cli
from api.cli.demo.token import demo_account
from api.portal import read_dev_wallet
from ledger.eth.artifacts import BuildResult
from ledger.toolchain.deploy import RECORD_FORMAT, runtime_hash
from scoring.world import load
from tests.support.played_world import PlayedWorld, small_world


@dataclass
class Devnet:
    world: PlayedWorld
    root: Path

    @property
    def out(self) -> Path:
        return self.root / "out" / "demo"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'ledger.db'}"

    def run_main(self) -> int:
        return demo_cli.main(["run-main", "--no-serve", "--out", str(self.out), "--db", self.db_url])


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture(scope="module")
def devnet(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    world = small_world(build)
    assert (world.result.config.firms, world.result.config.months, world.result.config.seed) == (
        demo_cli.FIRMS,
        demo_cli.MONTHS,
        demo_cli.SEED,
    )
    snapshot = world.chain.snapshot()  # Chain.revert also forgets the nonces it counted past the snapshot
    root = tmp_path_factory.mktemp("demo-run-main")
    # The world's deployment as `scf deploy` recorded it: the demo's own `scf deploy` then changes nothing.
    record = root / "deployments" / f"{world.chain.chain_id}.json"
    record.parent.mkdir()
    contracts = {
        name: {"address": address, "blockNumber": 0, "runtimeHash": runtime_hash(build[name])}
        for name, address in world.result.addresses.items()
    }
    record.write_text(json.dumps({"format": RECORD_FORMAT, "chainId": world.chain.chain_id, "contracts": contracts}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCF_DEVNET_PORT", str(world.devnet.port))
        env.setenv("SCF_DEVNET_RUN_DIR", str(root / "run"))
        env.setenv("SCF_DEPLOYMENTS_DIR", str(record.parent))
        env.delenv("SCF_CHAIN", raising=False)
        env.delenv("SCF_DB_URL", raising=False)
        try:
            yield Devnet(world, root)
        finally:
            world.chain.revert(snapshot)


def test_after_rm_rf_out_run_main_finds_the_world_on_chain_and_gets_ready_to_serve(
    devnet: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not devnet.out.exists()  # `rm -rf out`; the world was played elsewhere

    assert devnet.run_main() == 0

    said = " ".join(capsys.readouterr().out.split())
    assert "already played on this deployment" in said and "rebuilt" in said, said[-2000:]
    assert "WorldAlreadyPlayed" not in said
    rebuilt = json.loads((devnet.out / "world.json").read_text())
    played = devnet.world.result
    assert (rebuilt["start"], rebuilt["observation_end"], rebuilt["end"]) == (
        played.start.to_json(),
        played.observation_end.to_json(),
        played.end.to_json(),
    )
    assert rebuilt["facts_digest"] == played.digest
    assert load(devnet.out).observation_end == (played.observation_end.block, played.observation_end.timestamp)
    cast = json.loads((devnet.out / demo_cli.PARTIES_FILE).read_text())
    assert {"core", "tier1", "tier3", "bank", "dev-bank", "auditor"} <= cast.keys()
    assert demo_account(devnet.out, "tier3").address == cast["tier3"]["address"]  # `scf demo token` works
    # The report /v1/credit/evaluation serves (the auditor's calibration chart): the shipped model, measured here.
    evaluation = json.loads((devnet.out / "evaluation.json").read_text())
    assert evaluation["model_fitted_here"] is False and evaluation["n"] >= 1 and evaluation["calibration"]
    # The portal's dev wallet (`scf serve --devnet --dev-wallet`): each demo party's own key, for its owner only.
    wallet = devnet.out / "dev-wallet.json"
    assert wallet.stat().st_mode & 0o077 == 0
    parties = {p["label"]: p for p in read_dev_wallet(wallet)}
    assert parties.keys() == {"tier3", "tier1", "core", "dev-bank", "bank", "auditor"}
    for label, party in parties.items():
        assert Account.from_key(party["key"]).address == cast[label]["address"], label


def test_a_second_run_reuses_everything_and_sends_nothing(devnet: Devnet, capsys: pytest.CaptureFixture[str]) -> None:
    if not (devnet.out / "world.json").is_file():
        assert devnet.run_main() == 0
    before = (devnet.out / "world.json").read_text()
    head = devnet.world.chain.block_number

    assert devnet.run_main() == 0

    said = " ".join(capsys.readouterr().out.split())
    assert f"reusing {devnet.out}" in said and "still valid on chain: not re-published" in said, said[-2000:]
    assert devnet.world.chain.block_number == head, "nothing was played, deployed, published or split again"
    assert (devnet.out / "world.json").read_text() == before
