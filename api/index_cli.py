"""scf index: the ledger's events into SQL (catch up and exit, or --follow to keep up).

The lead wires it into ``scf`` with ``register(subparsers)``; it also runs on its own:

    python -m api.index_cli [--follow] [--db URL] [--chain devnet|embedded|URL] ...

Exit codes: 0 done (or stopped by Ctrl-C / SIGTERM in follow mode), 2 a ledger error (another
indexer holds the database, a reorg deeper than the window, no deployment, no node, ...).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ledger import compiler
from ledger.chain import Chain, ErrorDecoder
from ledger.errors import LedgerError
from ledger.indexer import DEFAULT_WINDOW, START_SPAN, Indexer
from ledger.indexer import Progress as IndexProgress
from ledger.sql import database_url
from ledger.sql.db import make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--follow", action="store_true", help="keep up with new blocks until interrupted")
    parser.add_argument(
        "--db", help="SQLAlchemy URL of the database (default: SCF_DB_URL, else a SQLite file in the devnet's run dir)"
    )
    parser.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    parser.add_argument(
        "--confirmations",
        type=int,
        help="index only blocks this far below the head (default: 0 on development chains, 12 elsewhere)",
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


def cmd_index(args: argparse.Namespace) -> int:
    build = compiler.build()
    chain = Chain.connect(args.chain, errors=ErrorDecoder(build.artifacts.values()))
    engine = make_engine(database_url(args.db))  # migrated by the indexer, once it holds the database
    options: dict[str, Any] = {
        "confirmations": args.confirmations,
        "window": args.window,
        "poll": args.poll,
        "span": args.span,
        "pause": args.pause,
        "reader": args.reader,
        "refusals": not args.no_refusals,
    }
    if args.max_span:
        options["max_span"] = args.max_span
    indexer = Indexer.for_deployment(
        chain,
        engine,
        build,
        Path(args.deployment) if args.deployment else None,
        from_block=args.from_block,
        **options,
    )
    stop = threading.Event()
    console = Console(stderr=True)
    where = engine.url.render_as_string(hide_password=True)
    with indexer:
        block = indexer.cursor[0]
        console.print(
            f"indexing chain {chain.chain_id} ({chain.endpoint}) into {where} from block {block + 1}; "
            f"{indexer.confirmations} confirmations, reorg window {indexer.window}",
            highlight=False,
        )
        _on_signals(stop)
        if args.quiet or not console.is_terminal:
            done = indexer.run(follow=args.follow, stop=stop, progress=_plain(console) if args.follow else None)
        else:
            with _Bar(console, indexer.cursor[0]) as bar:
                done = indexer.run(follow=args.follow, stop=stop, progress=bar.update)
    print(
        f"chain {done.chain_id}: block {done.block}, {done.events} events in the database; "
        f"this run wrote {done.written} events in {done.pages} pages ({done.rate:,.0f} events/s)"
        + (f", rolled back {done.reorgs} reorgs ({done.rolled_back} events)" if done.reorgs else "")
    )
    return 0


def _on_signals(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM stop after the page being written: nothing is left half done."""

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def _plain(console: Console) -> Any:
    """Progress as a line per page (follow mode without a terminal)."""
    seen = {"pages": 0, "reorgs": 0}

    def report(progress: IndexProgress) -> None:
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
        self.start = start
        self.progress = Progress(
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

    def update(self, state: IndexProgress) -> None:
        assert self.task is not None
        total = max(1, state.target - self.start)
        self.progress.update(
            self.task,
            completed=max(0, min(total, state.block - self.start)),
            total=total,
            events=state.events,
            rate=state.rate,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scf index", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_index(args)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
