"""``scf score generalise``: a model (the shipped one unless ``--model``) on worlds it never saw.

    scf score generalise --seeds 51,52,53,54,55 [--firms 300] [--months 12] [--holdout-months 3]
                         [--model FILE] [--out DIR [--reuse]] [--remeasure] [--json]
    scf score generalise --play-only --seeds 7,11-14 --out DIR [--reuse]

Seeds the model may have seen are refused before anything starts (``scoring.generalisation``:
``RESERVED_SEEDS``, the shipped model's training worlds, those kept for evaluation and those
already looked at, and any seed the model's own training record names; ``--remeasure`` lets the
looked-at ones through). Then, one seed after the other:

1. a fresh anvil on a free loopback port, run from a temporary folder (no periodic state dumps);
2. the ledger deployed afresh on it and the world played (``scf simulate``'s ``simulate``);
3. the chain indexed from block 0 with refused calls into ``DIR/world-s<seed>-<firms>x<months>/ledger.db``,
   as the shipped model's own recipe (``training.reproduce``) reads its training worlds;
4. the anvil stopped; the world measured by ``scoring.generalisation.measure`` as of its
   observation end (the model against the hidden ``p_fail`` on every supplier, and against the
   baselines on the held-out half).

It prints one row per seed and the means, and whether the criterion holds (mean ratio of the
model's AUC to ``p_fail``'s at least 0.95 on every supplier, and above both baselines on the
held-out half of every world); ``--json`` prints one JSON object instead. ``--out DIR`` keeps each
world's files and index and writes the object to ``DIR/generalisation.json``; without it they
live in a temporary folder. ``--reuse``: a world ``DIR`` already holds, played with the same
settings and indexed to its end, is measured again without playing it.

A 300-firm, 12-month world takes ~2-3 minutes to play on two cores, and ~1 minute to index.

``--play-only`` makes worlds to fit on, not to measure: steps 1-3 into ``--out DIR`` for any seed
(the reserved ones included: nothing is measured), then it prints the ``scf score fit`` command for
them. The shipped model's recipe (its ``training.reproduce``) is that, then that command. A world's
play prices financing with the shipped model in place at the time (``scenarios.credit``), so the
worlds, and a model fitted on them, follow the model in place when they are played.

In process: ``generalise(seeds, model=..., ...)`` returns a ``Run``; ``print_run`` prints the table.
Exit status: 0 the criterion holds, 1 it does not (or cannot be decided: a baseline could not be
fitted, a world with no failure), 2 bad input (a reserved seed, bad settings) or a chain error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.contracts import build_contracts

if TYPE_CHECKING:
    from rich.console import Console

    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from ledger.toolchain.devnet import Devnet
    from scenarios import ScenarioConfig
    from scoring.generalisation import Generalisation, Summary
    from scoring.scorecard import Model

RESULT_FILE = "generalisation.json"
LEDGER_DB = "ledger.db"
#: Free ports are picked by the kernel; another process may take one before anvil binds it.
PORT_ATTEMPTS = 3
EXIT_HOLDS, EXIT_DOES_NOT_HOLD, EXIT_BAD_INPUT = 0, 1, 2


def parse_seeds(text: str) -> list[int]:
    """``41,42,43`` or ``41-45`` (or both, ``41-43,50``) as a list of seeds, in the order given."""
    from scoring.errors import InvalidRequest

    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            if dash:
                first, last = int(low), int(high)
                if last < first:
                    raise ValueError(part)
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise InvalidRequest(
                f"--seeds {text!r}: give seeds as a comma-separated list or ranges, e.g. 51,52,53 or 51-55"
            ) from None
    return seeds


@dataclass(frozen=True)
class Played:
    """A world's folder and what making it cost (``reused``: found already played and indexed there)."""

    seed: int
    directory: Path
    transactions: int | None
    play_seconds: float | None
    index_seconds: float | None
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "transactions": self.transactions,
            "play_seconds": self.play_seconds,
            "index_seconds": self.index_seconds,
            "reused": self.reused,
        }


@dataclass(frozen=True)
class Run:
    """Every world measured, their summary, and the settings they were made with."""

    summary: Summary
    played: Sequence[Played]
    model_file: str
    firms: int
    months: int
    holdout_months: int
    out: Path | None

    @property
    def holds(self) -> bool | None:
        return self.summary.holds

    def to_json(self) -> dict[str, Any]:
        from scoring.generalisation import RESERVED_SEEDS, describe_seeds

        body = self.summary.to_json()
        for world, played in zip(body["worlds"], self.played, strict=True):
            world["played"] = played.to_json()
            world["directory"] = str(played.directory) if self.out is not None else None
        return {
            "model": self.summary.worlds[0].model if self.summary.worlds else None,
            "model_file": self.model_file,
            "seeds": [p.seed for p in self.played],
            "reserved_seeds": describe_seeds(RESERVED_SEEDS),
            "firms": self.firms,
            "months": self.months,
            "holdout_months": self.holdout_months,
            **body,
        }


def world_dir(root: Path, config: ScenarioConfig) -> Path:
    return root / f"world-s{config.seed}-{config.firms}x{config.months}"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_anvil(run_dir: Path) -> Iterator[Devnet]:
    """An anvil started here on a free port, its files in ``run_dir``, stopped on exit (never one found running)."""
    from api.cli.errors import CommandError
    from ledger.errors import PortTaken
    from ledger.eth.accounts import DevnetConfig
    from ledger.toolchain.devnet import Devnet

    # No periodic state dumps: they grow with the chain and stall the node while they run.
    config = dataclasses.replace(DevnetConfig.load(), state_interval=86_400)
    for attempt in range(PORT_ATTEMPTS):
        devnet = Devnet(config=config, run_dir=run_dir / f"try-{attempt}", port=_free_port(config.host), mining="auto")
        try:
            info = devnet.up()
        except PortTaken:
            continue
        if info.reused or info.pid is None:  # someone else's anvil took the port first: not ours to use or stop
            continue
        try:
            yield devnet
        finally:
            devnet.down()
        return
    raise CommandError(f"no free loopback port for an anvil after {PORT_ATTEMPTS} tries: run again")


def index_world(chain: Chain, build: BuildResult, addresses: dict[str, str], db: Path) -> None:
    """Index every ledger event of ``chain`` from block 0, refused calls included, into SQLite at ``db``."""
    from ledger.index.indexer import Indexer
    from ledger.index.sql import open_engine

    engine = open_engine(f"sqlite:///{db}")
    try:
        indexer = Indexer(chain, engine, addresses, {n: build[n].abi for n in addresses}, from_block=0, confirmations=0)
        with indexer:
            indexer.run()
    finally:
        engine.dispose()


def indexed_world(directory: Path, config: ScenarioConfig) -> bool:
    """Whether ``directory`` holds ``config``'s world, played to its end and indexed up to its last block."""
    from scoring.errors import ScoringError
    from scoring.source import SqlSource

    path, db = directory / "world.json", directory / LEDGER_DB
    if not path.is_file() or not (directory / "ground_truth.json").is_file() or not db.is_file():
        return False
    try:
        world = json.loads(path.read_text())
        settings = tuple(int(world[k]) for k in ("seed", "firms", "months", "holdout_months"))
        end, chain_id = int(world["end"]["block"]), int(world["chain_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if settings != (config.seed, config.firms, config.months, config.holdout_months):
        return False
    try:
        source = SqlSource.open(f"sqlite:///{db}", chain_id)
    except ScoringError:
        return False
    try:
        return source.cursor_block >= end
    finally:
        source.engine.dispose()


def play_seed(
    build: BuildResult, config: ScenarioConfig, directory: Path, notes: Console, *, progress: bool = False
) -> Played:
    """``config``'s world played on an anvil of its own into ``directory`` and indexed into its ledger.db."""
    from api.cli.simulate import PLAY_RPC_TIMEOUT, simulate
    from ledger.eth.chain import Chain, ErrorDecoder

    db = directory / LEDGER_DB
    db.unlink(missing_ok=True)  # a half-made index of an earlier attempt names another chain's blocks
    with tempfile.TemporaryDirectory(prefix=f"scf-generalise-{config.seed}-") as tmp, own_anvil(Path(tmp)) as devnet:
        chain = Chain.http(
            devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=PLAY_RPC_TIMEOUT
        )
        notes.print(f"seed {config.seed}: anvil on {devnet.url}", highlight=False, soft_wrap=True)
        simulated = simulate(chain, build, config, directory, progress=progress)
        played = simulated.played
        assert played is not None  # a fresh deployment is never reused
        notes.print(
            f"seed {config.seed}: {played.transactions:,} transactions in {played.seconds:.0f} s; indexing",
            highlight=False,
            soft_wrap=True,
        )
        started = time.perf_counter()
        index_world(chain, build, played.addresses, db)
        indexed = time.perf_counter() - started
    return Played(config.seed, directory, played.transactions, round(played.seconds, 1), round(indexed, 1))


def make_world(
    build: BuildResult, config: ScenarioConfig, root: Path, notes: Console, *, reuse: bool, progress: bool
) -> Played:
    """``config``'s world in ``root`` (``world_dir``): played and indexed, or (``reuse``) found there already."""
    directory = world_dir(root, config)
    if reuse and indexed_world(directory, config):
        notes.print(f"seed {config.seed}: reusing the world in {directory}", highlight=False, soft_wrap=True)
        return Played(config.seed, directory, None, None, None, reused=True)
    notes.print(
        f"seed {config.seed}: playing {config.firms} firms for {config.months} months on a fresh anvil",
        highlight=False,
        soft_wrap=True,
    )
    return play_seed(build, config, directory, notes, progress=progress)


def play_worlds(
    seeds: Sequence[int],
    out: Path,
    *,
    firms: int = 300,
    months: int = 12,
    holdout_months: int = 3,
    reuse: bool = False,
    notes: Console | None = None,
    progress: bool = False,
) -> list[Played]:
    """The worlds of ``seeds`` played and indexed into ``out``, one after the other, to fit on: nothing is
    measured, so reserved seeds are allowed (a repeated or negative seed and bad settings are still refused)."""
    from rich.console import Console

    from scenarios import ScenarioConfig
    from scoring.errors import InvalidRequest

    if not seeds:
        raise InvalidRequest("no seeds: give the worlds to play, e.g. --seeds 7,11-14")
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise InvalidRequest(f"--seeds {seeds}: each world once, seeds non-negative")
    configs = [ScenarioConfig(firms, months, seed, holdout_months) for seed in seeds]  # InvalidConfig up front
    notes = notes or Console(stderr=True)
    build = build_contracts()
    out.mkdir(parents=True, exist_ok=True)
    return [make_world(build, config, out, notes, reuse=reuse, progress=progress) for config in configs]


def fit_command(played: Sequence[Played], model_out: str = "MODEL.json") -> str:
    """The ``scf score fit`` command that fits a model on every supplier of the ``played`` worlds."""
    worlds = " ".join(f"--world {p.directory}" for p in played)
    return f"scf score fit {worlds} --confirmations 0 --all-parties --out {model_out}"


def measure_world(directory: Path, model: Model) -> Generalisation:
    """``model`` measured on the world in ``directory`` (its files and ``ledger.db``) as of its observation end."""
    from scoring.generalisation import measure
    from scoring.source import SqlSource
    from scoring.world import load

    world = load(directory)
    source = SqlSource.open(f"sqlite:///{directory / LEDGER_DB}", world.chain_id)
    try:
        history = source.history(world.observation_end[0], 0)
    finally:
        source.engine.dispose()
    return measure(history, world.truth, model, seed=int(world.seed) if world.seed is not None else None)


def generalise(
    seeds: Sequence[int],
    *,
    model: Model,
    model_file: str,
    firms: int = 300,
    months: int = 12,
    holdout_months: int = 3,
    out: Path | None = None,
    reuse: bool = False,
    notes: Console | None = None,
    progress: bool = False,
    remeasure: bool = False,
) -> Run:
    """``model`` on the world of each seed, each played on a fresh anvil of its own (``play_seed``), one after the
    other; worlds kept in ``out`` when given. Reserved seeds (``remeasure``: but for the looked-at ones) and bad
    settings are refused before any anvil starts."""
    from rich.console import Console

    from scenarios import ScenarioConfig
    from scoring.generalisation import Summary, check_seeds

    check_seeds(list(seeds), model, remeasure=remeasure)
    configs = [ScenarioConfig(firms, months, seed, holdout_months) for seed in seeds]  # InvalidConfig up front
    notes = notes or Console(stderr=True)
    build = build_contracts()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    results: list[Generalisation] = []
    played: list[Played] = []
    with tempfile.TemporaryDirectory(prefix="scf-generalise-") as tmp:
        root = out if out is not None else Path(tmp)
        for config in configs:
            made = make_world(build, config, root, notes, reuse=reuse, progress=progress)
            result = measure_world(made.directory, model)
            notes.print(f"seed {config.seed}: {_row(result)}", highlight=False, soft_wrap=True)
            results.append(result)
            played.append(made)
        run = Run(Summary(results), played, model_file, firms, months, holdout_months, out)
        if out is not None:
            (out / RESULT_FILE).write_text(json.dumps(run.to_json(), indent=1, sort_keys=True) + "\n")
    return run


def _f(x: float | None, width: int = 7) -> str:
    return f"{x:{width}.3f}" if x is not None else f"{'-':>{width}}"


def _yes(x: bool | None) -> str:
    return {True: "yes", False: "NO", None: "cannot tell"}[x]


def _row(g: Generalisation) -> str:
    return (
        f"{g.every.n} suppliers ({g.every.failures} failed): model AUC {_f(g.every.model_auc, 0)}, "
        f"p_fail AUC {_f(g.every.p_fail_auc, 0)}, ratio {_f(g.every.ratio, 0)}; held out {g.held_out.n}: model "
        f"{_f(g.held_out.model_auc, 0)}, tier-1-only {_f(g.baselines['tier1_only'].auc, 0)}, "
        f"volume-only {_f(g.baselines['volume_only'].auc, 0)}"
    )


HEADER = (
    f"{'seed':>6} {'n':>5} {'failed':>6} {'model':>7} {'p_fail':>7} {'ratio':>7} | {'n':>4} {'failed':>6} "
    f"{'model':>7} {'p_fail':>7} {'tier1':>7} {'volume':>7}  above both"
)


def print_run(run: Run) -> None:
    from scoring.generalisation import ALL, HELD_OUT, RATIO_TARGET

    s = run.summary
    print(
        f"model {s.worlds[0].model if s.worlds else '-'} ({run.model_file}) on {len(s.worlds)} unseen world(s) of "
        f"{run.firms} firms, {run.months} months ({run.holdout_months} hold-out)"
    )
    print(f"{'':>6} {'every supplier: AUC':^35} | {'held-out half: AUC':^48}")
    print(HEADER)
    for g in s.worlds:
        e, h = g.every, g.held_out
        print(
            f"{g.seed!s:>6} {e.n:>5} {e.failures:>6} {_f(e.model_auc)} {_f(e.p_fail_auc)} {_f(e.ratio)} | "
            f"{h.n:>4} {h.failures:>6} {_f(h.model_auc)} {_f(h.p_fail_auc)} {_f(g.baselines['tier1_only'].auc)} "
            f"{_f(g.baselines['volume_only'].auc)}  {_yes(g.beats_baselines)}"
        )
        for name, b in g.baselines.items():
            if not b.fitted:
                without = "no AUC" if b.auc is None else "it ranks every party at its training failure rate"
                print(f"{'':>6} {name} could not be fitted ({without}): {b.error}")
    print(
        f"{'mean':>6} {'':>5} {'':>6} {_f(s.mean(ALL, 'model_auc'))} {_f(s.mean(ALL, 'p_fail_auc'))} "
        f"{_f(s.mean(ALL, 'ratio'))} | {'':>4} {'':>6} {_f(s.mean(HELD_OUT, 'model_auc'))} "
        f"{_f(s.mean(HELD_OUT, 'p_fail_auc'))} {_f(s.mean_baseline('tier1_only'))} "
        f"{_f(s.mean_baseline('volume_only'))}"
    )
    print(f"mean ratio on every supplier {_f(s.mean(ALL, 'ratio'), 0)} >= {RATIO_TARGET}: {_yes(s.ratio_holds)}")
    print(f"above the tier-1-only and volume-only baselines on every world's held-out half: {_yes(s.baselines_hold)}")
    print(f"criterion holds: {_yes(s.holds)}")
    if run.out is not None:
        print(f"worlds and {RESULT_FILE} in {run.out}")


def cmd_generalise(args: argparse.Namespace, model: Model, model_file: str) -> int:
    """``scf score generalise`` (dispatched by ``api.cli.score``, which loads the model)."""
    from rich.console import Console

    from scenarios import ScenarioError
    from scoring.errors import InvalidRequest

    if not args.seeds:
        raise InvalidRequest("`scf score generalise` needs --seeds, e.g. --seeds 51,52,53,54,55")
    if args.reuse and not args.out:
        raise InvalidRequest("--reuse measures worlds kept in --out DIR: give --out")
    notes = Console(stderr=True)
    out = Path(args.out) if args.out else None
    if args.play_only:
        if out is None:
            raise InvalidRequest("--play-only keeps the worlds it plays to fit on: give --out DIR")
        try:
            played = play_worlds(
                parse_seeds(args.seeds),
                out,
                firms=args.firms,
                months=args.months,
                holdout_months=args.holdout_months,
                reuse=args.reuse,
                notes=notes,
                progress=notes.is_terminal,
            )
        except ScenarioError as exc:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"{len(played)} world(s) played and indexed in {out}; fit on them with:")
        print(fit_command(played))
        return EXIT_HOLDS
    try:
        run = generalise(
            parse_seeds(args.seeds),
            model=model,
            model_file=model_file,
            firms=args.firms,
            months=args.months,
            holdout_months=args.holdout_months,
            out=out,
            reuse=args.reuse,
            notes=notes,
            progress=not args.json and notes.is_terminal,
            remeasure=args.remeasure,
        )
    except ScenarioError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        sys.stdout.write(json.dumps(run.to_json(), sort_keys=True) + "\n")
    else:
        print_run(run)
    return EXIT_HOLDS if run.holds else EXIT_DOES_NOT_HOLD


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``scf score`` adds for ``generalise`` (``--model``, ``--out``, ``--json`` are score's own)."""
    parser.add_argument("--seeds", help="generalise: the worlds' seeds, e.g. 51,52,53,54,55 or 51-55")
    parser.add_argument("--firms", type=int, default=300, help="generalise: firms per world (default 300)")
    parser.add_argument("--months", type=int, default=12, help="generalise: months per world (default 12)")
    parser.add_argument(
        "--holdout-months", type=int, default=3, help="generalise: hold-out months per world (default 3)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="generalise: measure a world --out already holds, played and indexed"
    )
    parser.add_argument(
        "--remeasure",
        action="store_true",
        help="generalise: allow seeds already looked at (the same worlds again); never training or evaluation seeds",
    )
    parser.add_argument(
        "--play-only",
        action="store_true",
        help="generalise: play and index the worlds into --out to fit on (any seed), measure nothing, and print "
        "the `scf score fit` command for them",
    )
