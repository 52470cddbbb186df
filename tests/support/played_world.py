"""A small played world for any test suite: 30 firms, 6 months, seed 7, played once per session.

    from tests.support.played_world import small_world
    world = small_world(build)                 # on an anvil of its own, kept for the session
    world = small_world(build, devnet=anvil)   # on a given anvil (its automine is restored)

It returns the ``PlayResult`` (``out_dir`` holds ``world.json`` and ``ground_truth.json``) with
the chain it was played on. Playing takes ~15-20 s on two cores; the result is cached per
process and per anvil. A world on the session ``anvil`` must not be combined with the
``deployed`` fixture in one test: its snapshot/revert would roll the world back.

A suite that reads the world on its own anvil imports the ``world`` fixture (importing it into a
conftest or a test module declares it there).
"""

from __future__ import annotations

import atexit
import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.eth.accounts import DevnetConfig
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.toolchain.devnet import Devnet
from scenarios import PlayResult, ScenarioConfig, play
from tests.support.ports import free_port

SMALL = ScenarioConfig(firms=30, months=6, seed=7)


@dataclass(frozen=True)
class PlayedWorld:
    result: PlayResult
    chain: Chain
    devnet: Devnet

    @property
    def out_dir(self) -> Path:
        return self.result.out_dir


_played: dict[tuple[str, ScenarioConfig], PlayedWorld] = {}
_own: list[Devnet] = []


def fresh_devnet() -> Devnet:
    """An anvil of its own on a free loopback port, stopped when the process exits."""
    # No periodic state dumps: they grow with the chain and stall the node while they run.
    config = dataclasses.replace(DevnetConfig.load(), state_interval=86_400)
    run_dir = Path(tempfile.mkdtemp(prefix="scf-world-anvil-"))
    devnet = Devnet(config=config, run_dir=run_dir, port=free_port(), mining="auto")
    devnet.up()
    atexit.register(devnet.down)
    return devnet


def play_world(build: BuildResult, devnet: Devnet, config: ScenarioConfig, out_dir: Path) -> PlayedWorld:
    chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=120)
    return PlayedWorld(play(chain, build, config, out_dir), chain, devnet)


def small_world(build: BuildResult, devnet: Devnet | None = None, config: ScenarioConfig = SMALL) -> PlayedWorld:
    """The world of ``config`` played on ``devnet`` (default: an anvil of its own), once per session."""
    if devnet is None:
        if not _own:
            _own.append(fresh_devnet())
        devnet = _own[0]
    key = (devnet.url, config)
    if key not in _played:
        out_dir = Path(tempfile.mkdtemp(prefix=f"scf-world-{config.seed}-"))
        _played[key] = play_world(build, devnet, config, out_dir)
    return _played[key]


@pytest.fixture(scope="session")
def world(build: BuildResult) -> PlayedWorld:
    """The small world on its own anvil (``small_world``'s cache makes it one per process whatever the scope)."""
    return small_world(build)
