"""Playing a world through the real ledger: contracts, parties' own signatures, oracle services.

``play`` generates the world, plans its weeks, deploys the ledger unless given one, and hands the
plan to the ``Player`` (``scenarios.player``), which sends every fact as a transaction signed by
its party; it then reads the facts back from the chain (``scenarios.facts``), counts the summary
and writes the world's two files (``scenarios.truth``).

Time is the chain's: the run switches the node's own mining off, stamps every block one
second after the one before (``anvil_setBlockTimestampInterval``) and sets the first block of
each weekly tick to the tick's time (``evm_setNextBlockTimestamp``); both are restored at the
end. The wall clock never enters the chain, so the same settings give the same facts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import EMBEDDED, Chain, is_dev_node
from ledger.toolchain.deploy import deploy
from scenarios.desk import ProgressFn
from scenarios.errors import ChainNotSupported, ScenarioError
from scenarios.facts import ChainFacts, read_facts
from scenarios.plan import Plan, make_plan
from scenarios.player import Player
from scenarios.records import Checkpoint, Refusal
from scenarios.summary import summarise
from scenarios.truth import write_outputs
from scenarios.world import DAY, DEFAULT_START, ScenarioConfig, World, generate


@dataclass
class PlayResult:
    """What ``play`` did and where it wrote it (``world.json``, ``ground_truth.json``)."""

    config: ScenarioConfig
    out_dir: Path
    world_path: Path
    truth_path: Path
    chain_id: int
    addresses: dict[str, str]
    start: Checkpoint
    observation_end: Checkpoint
    end: Checkpoint
    summary: dict[str, Any]
    digest: str
    seconds: float
    transactions: int
    phases: dict[str, float]
    refusals: list[Refusal]
    world: World
    plan: Plan
    facts: ChainFacts

    @property
    def tx_per_s(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def _start_time(chain: Chain) -> int:
    now = chain.timestamp()
    return max(DEFAULT_START, (now // DAY + 2) * DAY)


def play(
    chain: Chain,
    build: BuildResult,
    config: ScenarioConfig,
    out_dir: Path,
    *,
    deployment: dict[str, str] | None = None,
    admin: LocalAccount | None = None,
    progress: bool | ProgressFn = False,
) -> PlayResult:
    """Generate the world of ``config`` and play it on ``chain``; write ``world.json`` and ``ground_truth.json``.

    ``deployment`` names the contracts (``Membership``, ``SettlementToken``, ``CreditRegistry``,
    ``TradeEscrow``, ``Receivables``); without it the ledger is deployed afresh by ``admin``
    (default: the devnet's admin account), which must hold the ADMIN role of the deployment.
    ``progress`` is True for a rich progress bar, or a callback ``(done, total, label)``.
    """
    if chain.backend == EMBEDDED or not is_dev_node(chain.w3):
        raise ChainNotSupported(chain.endpoint, "a world needs a devnet (anvil) whose block times it can set")
    if admin is None:
        if chain.accounts is None:
            raise ScenarioError("no admin account: pass admin=, or use a devnet with the dev accounts")
        admin = chain.accounts["admin"]
    addresses = dict(deployment) if deployment else deploy(chain, build, admin, None).addresses
    world = generate(config)
    plan = make_plan(world, _start_time(chain))
    player = Player(chain, build, world, plan, addresses, admin, None)
    mining = _pause_mining(player)
    bar = _ProgressBar(plan.ticks) if progress is True else None
    report = bar.update if bar else (progress if callable(progress) else None)
    started = time.perf_counter()
    try:
        player.set_time(plan.start)
        first_block = chain.block_number + 1
        mark = time.perf_counter()
        player.setup()
        player.phases["setup"] = time.perf_counter() - mark
        start = Checkpoint(first_block, plan.start)
        observation_end = player.checkpoint()
        for tick, new in enumerate(plan.by_tick()):
            if tick == plan.observation_ticks:
                observation_end = player.checkpoint()
            player.run_tick(tick, new)
            if report:
                report(tick + 1, plan.ticks, f"week {tick + 1}")
        if plan.observation_ticks >= plan.ticks:
            observation_end = player.checkpoint()
        end = player.checkpoint()
        seconds = time.perf_counter() - started
    finally:
        if bar:
            bar.close()
        player.close()
        _restore_mining(player, mining)
    mark = time.perf_counter()
    facts = read_facts(chain, build, addresses, start.block, end.block)
    phases = dict(player.phases)
    phases["facts"] = time.perf_counter() - mark
    summary = summarise(world, facts, player.refusals, player.epcis, {b.book.address: b.book for _, b in player.market})
    world_path, truth_path = write_outputs(
        Path(out_dir), world, plan, facts, chain.chain_id, addresses, start, observation_end, end, summary,
        player.refusals, invoices={root_id: root.invoice.to_json() for root_id, root in player.roots.items()},
    )  # fmt: skip
    summary["seconds"] = round(seconds, 2)
    summary["tx_per_s"] = round(facts.transactions / seconds, 1) if seconds else 0.0
    return PlayResult(
        config,
        Path(out_dir),
        world_path,
        truth_path,
        chain.chain_id,
        addresses,
        start,
        observation_end,
        end,
        summary,
        facts.digest,
        seconds,
        facts.transactions,
        {k: round(v, 3) for k, v in phases.items()},
        player.refusals,
        world,
        plan,
        facts,
    )


def _pause_mining(player: Player) -> tuple[bool, int]:
    """Switch the node's own mining off (the senders mine) and make block times step by one second."""
    automine = bool(player.dev_rpc("anvil_getAutomine", []))
    interval = int(player.dev_rpc("anvil_getIntervalMining", []) or 0)
    player.dev_rpc("evm_setAutomine", [False])
    if interval:
        player.dev_rpc("evm_setIntervalMining", [0])
    player.dev_rpc("anvil_setBlockTimestampInterval", [1])
    return automine, interval


def _restore_mining(player: Player, previous: tuple[bool, int]) -> None:
    automine, interval = previous
    player.dev_rpc("anvil_removeBlockTimestampInterval", [])
    if interval:
        player.dev_rpc("evm_setIntervalMining", [interval])
    elif automine:
        player.dev_rpc("evm_setAutomine", [True])


class _ProgressBar:
    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )  # fmt: skip
        self.task = self.progress.add_task("", total=total)
        self.progress.start()

    def update(self, done: int, total: int, label: str) -> None:
        self.progress.update(self.task, completed=done, total=total, description=label)

    def close(self) -> None:
        self.progress.stop()
