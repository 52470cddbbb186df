"""scf index: the ledger's events into SQL (catch up and exit, or --follow to keep up).

    scf index [--follow] [--db URL] [--chain devnet|embedded|URL] ...

In process: ``index_chain(chain, build, db=..., ...)`` runs the indexer (``ledger.index.indexer``) and returns
its final ``Progress``; ``print_indexed`` prints the command's summary line.

Exit codes: 0 done (or stopped by Ctrl-C / SIGTERM in follow mode), 2 a ledger error (another
indexer holds the database, a reorg deeper than the window, no deployment, no node, ...).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import connect, finality, network_profile
from api.cli.contracts import build_contracts
from api.cli.errors import dispatch

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from ledger.index.indexer import Progress

# ledger.index.indexer's DEFAULT_WINDOW and START_SPAN, named here so that building the parser imports no ledger
# code; tests/api/cli/test_startup.py checks that they stay equal.
DEFAULT_WINDOW = 64
START_SPAN = 16


def index_chain(
    chain: Chain,
    build: BuildResult,
    *,
    db: str | None = None,
    deployment: Path | None = None,
    follow: bool = False,
    from_block: int | None = None,
    confirmations: int | None = None,
    window: int = DEFAULT_WINDOW,
    poll: float = 1.0,
    span: int = START_SPAN,
    max_span: int | None = None,
    reader: str = "auto",
    pause: float = 0.0,
    refusals: bool = True,
    quiet: bool = False,
    stop: threading.Event | None = None,
    finality_depth: int | None = None,
) -> Progress:
    """Index every event of the deployment recorded for ``chain`` (``deployment``, else deployments/<chainId>.json)
    into ``db`` (None: SCF_DB_URL, else the devnet's SQLite file); catch up and return, or with ``follow`` keep
    up until ``stop`` is set. ``quiet``: no progress bar (follow mode then reports a line per page). Signal
    handlers are the caller's: ``scf index`` has Ctrl-C and SIGTERM set ``stop``. ``finality_depth``: the network
    file's, under which a reorg of a final block is refused (``FinalityViolated``) instead of followed."""
    from rich.console import Console

    from ledger.index.indexer import Indexer
    from ledger.index.sql import database_url
    from ledger.index.sql.db import make_engine

    engine = make_engine(database_url(db))  # migrated by the indexer, once it holds the database
    try:
        options: dict[str, Any] = {
            "confirmations": confirmations,
            "window": window,
            "poll": poll,
            "span": span,
            "pause": pause,
            "reader": reader,
            "refusals": refusals,
            "finality_depth": finality_depth,
        }
        if max_span:
            options["max_span"] = max_span
        indexer = Indexer.for_deployment(chain, engine, build, deployment, from_block=from_block, **options)
        console = Console(stderr=True)
        where = engine.url.render_as_string(hide_password=True)
        with indexer:
            block = indexer.cursor[0]
            console.print(
                f"indexing chain {chain.chain_id} ({chain.endpoint}) into {where} from block {block + 1}; "
                f"{indexer.confirmations} confirmations, reorg window {indexer.window}",
                highlight=False,
            )
            if stop is None:
                stop = threading.Event()
            if quiet or not console.is_terminal:
                return indexer.run(follow=follow, stop=stop, progress=_plain(console) if follow else None)
            with _Bar(console, indexer.cursor[0]) as bar:
                return indexer.run(follow=follow, stop=stop, progress=bar.update)
    finally:
        engine.dispose()


def print_indexed(done: Progress) -> None:
    print(
        f"chain {done.chain_id}: block {done.block}, {done.events} events in the database; "
        f"this run wrote {done.written} events in {done.pages} pages ({done.rate:,.0f} events/s)"
        + (f", rolled back {done.reorgs} reorgs ({done.rolled_back} events)" if done.reorgs else "")
    )


def cmd_index(args: argparse.Namespace) -> int:
    build = build_contracts()
    chain = connect(args.chain, build)
    stop = threading.Event()
    _on_signals(stop)
    done = index_chain(
        chain,
        build,
        db=args.db,
        deployment=Path(args.deployment) if args.deployment else None,
        follow=args.follow,
        from_block=args.from_block,
        confirmations=finality(args.chain, args.confirmations),
        finality_depth=None if (profile := network_profile(args.chain)) is None else profile.finality_depth,
        window=args.window,
        poll=args.poll,
        span=args.span,
        max_span=args.max_span,
        reader=args.reader,
        pause=args.pause,
        refusals=not args.no_refusals,
        quiet=args.quiet,
        stop=stop,
    )
    print_indexed(done)
    return 0


def _on_signals(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM stop after the page being written: nothing is left half done."""

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def _plain(console: Console) -> Callable[[Progress], None]:
    """Progress as a line per page (follow mode without a terminal)."""
    seen = {"pages": 0, "reorgs": 0}

    def report(progress: Progress) -> None:
        if progress.reorgs != seen["reorgs"]:
            removed = progress.rolled_back
            console.print(f"reorg: rolled back to block {progress.block} ({removed} events removed so far)")
        if progress.pages != seen["pages"]:
            first, last, events = progress.last_page
            console.print(f"blocks {first}..{last}: {events} events (head {progress.head})")
        seen.update(pages=progress.pages, reorgs=progress.reorgs)

    return report


class _Bar:
    """A rich progress bar over blocks, with events and events/s."""

    def __init__(self, console: Console, start: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.start = start
        self.progress = Bar(
            TextColumn("[bold]index"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TextColumn("{task.fields[events]:,} events"),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        self.task = self.progress.add_task("index", total=None, events=0, rate=0.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def update(self, state: Progress) -> None:
        assert self.task is not None
        total = max(1, state.target - self.start)
        self.progress.update(
            self.task,
            completed=max(0, min(total, state.block - self.start)),
            total=total,
            events=state.events,
            rate=state.rate,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--follow", action="store_true", help="keep up with new blocks until interrupted")
    parser.add_argument(
        "--db", help="SQLAlchemy URL of the database (default: SCF_DB_URL, else a SQLite file in the devnet's run dir)"
    )
    parser.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    parser.add_argument(
        "--confirmations",
        type=int,
        help="index only blocks this far below the head (default: a network file's finalityDepth, else 0 on "
        "development chains, 12 elsewhere)",
    )
    parser.add_argument("--from-block", type=int, help="first block to index (default: the earliest deployment block)")
    parser.add_argument("--deployment", help="deployment record to index (default: deployments/<chainId>.json)")
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help=f"blocks kept for reorg checks (default {DEFAULT_WINDOW})"
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the head in --follow mode")
    parser.add_argument("--span", type=int, default=START_SPAN, help="blocks in the first eth_getLogs range")
    parser.add_argument("--max-span", type=int, help="largest eth_getLogs block range")
    parser.add_argument("--reader", choices=["auto", "thread", "process"], default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--pause", type=float, default=0.0, help=argparse.SUPPRESS)  # between pages (tests)
    parser.add_argument(
        "--no-refusals",
        action="store_true",
        help="do not record refused calls (reverted transactions to the ledger; they need every block's header)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scf index`` to the ``scf`` command line (``subparsers`` of its top parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "index",
        help="index every event of the deployed contracts into SQL (catch up; --follow to keep up)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)
    parser.set_defaults(func=cmd_index)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``scf index ...`` on its own: ``python -m api.cli.index --db URL ...``."""
    parser = argparse.ArgumentParser(prog="scf index", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    parser.set_defaults(func=cmd_index)
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
