"""``scf demo``: the product's front door, and the tier-3 story told in the terminal.

    scf demo [story] [--out DIR] [--db URL]          the story, step by step, no HTTP server
    scf demo run-main [--host H] [--port P] [--no-serve]   what ``make run`` runs: set up, then serve the API
    scf demo token PARTY [--api URL] [--out DIR]     a bearer token for a demo party (devnet only)

Both ``story`` and ``run-main`` first set the ledger up, doing only what is missing: compile,
start the devnet (or reuse it), deploy (a no-op when unchanged) and check the bytecode, play
the demo world (30 firms, 6 months, seed 7, into ``out/demo``; when the chain already holds it on
this deployment it is reused, and ``out/demo``'s files are rebuilt from the chain if they are
gone), index it, and have the dev bank score every party and publish the limits it signs
(skipped while the limits it published are still valid). ``run-main --no-serve`` stops before
serving.

The story is about a tier-3 supplier that never sold to a core enterprise. When none holds a
live piece of a core's receivable yet (in the world as played, the tier-3 suppliers have
sold or been repaid theirs by the end), its buyers pay it the way the world does: each holder
up the supply chain splits a piece of the core's receivable it holds and passes part down,
signed with its own key. The demo parties' keys are derived from the world's seed
(``scenarios.world``), so the demo can act as any of them: that is a devnet convenience
only; real parties keep their keys and sign for themselves through the API.

Exit codes: 0 done, 1 a step of the story found something that does not hold (a proof, the
audit), 2 the demo could not run (no node, no world, a port in use, ...).

The command is this module (thin: it imports nothing heavy until an action runs); the action's work is in
``stage`` (set up, only what is missing; stage the story), ``story`` (who it is about), ``cast`` (the demo
parties and their keys), ``teller`` (the six steps), ``run_main`` (banner, then serve) and ``token``.
Each setup step calls the in-process function its ``scf`` command is a shell over.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from api.cli.demo.base import DEFAULT_API, DEFAULT_OUT, EXIT_ERROR, FIRMS, MONTHS, PARTIES_FILE, SEED, out_dir
from api.cli.errors import is_domain_error

__all__ = ["DEFAULT_API", "DEFAULT_OUT", "FIRMS", "MONTHS", "PARTIES_FILE", "SEED", "main", "register"]

#: The packages whose domain errors the demo reports as one line and exit 2.
DEMO_ERRORS = (
    "api.errors:ApiError",
    "api.cli.errors:CommandError",
    "ledger.errors:LedgerError",
    "scenarios.errors:ScenarioError",
    "scoring.errors:ScoringError",
)


def cmd_story(args: argparse.Namespace) -> int:
    from api.cli.demo.teller import tell_story

    return tell_story(out_dir(args.out), args.db)


def cmd_run_main(args: argparse.Namespace) -> int:
    from api.cli.demo.run_main import run_main

    return run_main(host=args.host, port=args.port, out=out_dir(args.out), db=args.db, serving=not args.no_serve)


def cmd_token(args: argparse.Namespace) -> int:
    from api.cli.demo.token import demo_account, sign_in

    account = demo_account(out_dir(args.out), args.party)
    answer = sign_in(args.api, account)
    print(
        f"devnet convenience: signed {args.api}'s sign-in challenge with the seed-derived key of {account.address}; "
        f"token valid until {answer['expiresAt']}",
        file=sys.stderr,
    )
    print(answer["accessToken"])
    return 0


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # An action's own defaults would override what was given before it (`scf demo --out X token`).
    out, db = (None, None) if top else (argparse.SUPPRESS, argparse.SUPPRESS)
    parser.add_argument("--out", default=out, help=f"the demo world's directory (default {DEFAULT_OUT})")
    parser.add_argument(
        "--db", default=db, help="the indexer's database URL (default: SCF_DB_URL, else the devnet's SQLite file)"
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scf demo`` to ``scf``'s subcommands (``subparsers`` of the top-level parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the tier-3 story in the terminal; run-main (make run); a token for a demo party",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    _add(parser)
    return parser


def _add(parser: argparse.ArgumentParser) -> None:
    _common(parser, top=True)
    parser.set_defaults(func=_guarded(cmd_story))
    actions = parser.add_subparsers(dest="demo_action")
    story = actions.add_parser("story", help="the story, step by step, no HTTP server (the default)")
    _common(story)
    story.set_defaults(func=_guarded(cmd_story))
    run_main = actions.add_parser("run-main", help="set everything up, then serve the API (what make run does)")
    _common(run_main)
    run_main.add_argument("--host", default="127.0.0.1")
    run_main.add_argument("--port", type=int, default=8000)
    run_main.add_argument(
        "--no-serve", action="store_true", help="set everything up and print the banner, then exit instead of serving"
    )
    run_main.set_defaults(func=_guarded(cmd_run_main))
    token = actions.add_parser("token", help="sign the API's challenge as a demo party; print a bearer token")
    token.add_argument("party", help="core, tier1, tier3, bank, dev-bank, auditor, or an address of the world")
    token.add_argument("--api", default=DEFAULT_API, help=f"the API's base URL (default {DEFAULT_API})")
    _common(token)
    token.set_defaults(func=_guarded(cmd_token))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Domain errors of every package the demo drives become one line and exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except Exception as exc:
            if not is_domain_error(exc, DEMO_ERRORS):
                raise
            print(f"scf demo: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """``scf demo ...`` on its own (tests)."""
    parser = argparse.ArgumentParser(prog="scf demo", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _add(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
