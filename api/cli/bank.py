"""``scf bank desk``: a bank's financing desk, run beside ``scf serve``.

    scf bank desk --api URL --bank ADDR --keystore FILE [--password-file F] --policy FILE
                  [--once] [--interval S] [--journal F] [--offer-ttl S]

Follows the bank's inbox of financing requests over the API, prices each under the policy file
(``scoring/policies/dev-bank.json`` is the dev bank's) from inputs all read as of one indexed
block (recorded with the quote, for ``scf audit replay --offers``), signs EIP-712 offers with the
keystore's key with no human step, posts them with their pricing record, posts each decline's
reasons in plain words for the holder to read, and journals every offer and every decline
(``--journal``, default beside the keystore: ``bank.json`` -> ``bank.desk-journal.jsonl``), so a
restart never prices a request twice. Each ask is priced once: an offer that lapses unaccepted is
closed with a decline that says so, and the holder asking again gets one new price.

Without ``--once`` it runs until SIGTERM or Ctrl-C (it finishes the request in hand and stops),
and waits out an API that is down. ``--once`` makes one pass and exits: 0 when every open
request was decided, 1 when some were left for a later pass, 2 with one line on stderr when it
cannot run (a bad policy file, a wrong password, the API unreachable).

The handler is a thin shell over ``api.desk.run.run_desk``; nothing heavy is imported until it runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.cli.common import KEYSTORE_PASSWORD_HELP

DEFAULT_API = "http://127.0.0.1:8000"
API_ENV = "SCF_API_URL"
EXIT_BAD_INPUT = 2


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the desk finishes the request in hand) instead of killing it."""
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def cmd_bank_desk(args: argparse.Namespace) -> int:
    from api.desk.errors import DeskError
    from api.desk.run import DeskOptions, run_desk
    from ledger.errors import LedgerError
    from scoring.errors import ScoringError

    options = DeskOptions(
        api=args.api,
        bank=args.bank,
        keystore=Path(args.keystore),
        policy=Path(args.policy),
        password_file=Path(args.password_file) if args.password_file else None,
        journal=Path(args.journal) if args.journal else None,
        once=args.once,
        interval=args.interval,
        offer_ttl=args.offer_ttl,
    )
    stop = threading.Event()
    try:
        with _stopped_by_signals(stop):
            report = run_desk(options, stop=stop)
    except (DeskError, ScoringError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.summary())
    return 1 if options.once and report.deferred else 0


def register(subparsers: Any) -> None:
    bank = subparsers.add_parser("bank", help="a bank's own services: the financing desk").add_subparsers(
        dest="action", required=True
    )
    desk = bank.add_parser(
        "desk",
        help="follow the inbox, price, sign and post offers within policy, journal every decision",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_api = os.environ.get(API_ENV, DEFAULT_API)
    desk.add_argument("--api", default=default_api, help=f"the API's URL (default: {API_ENV}, else {DEFAULT_API})")
    desk.add_argument("--bank", required=True, help="the bank's address (the keystore must hold it)")
    desk.add_argument("--keystore", required=True, help=f"the bank's encrypted keystore {KEYSTORE_PASSWORD_HELP}")
    desk.add_argument("--password-file", help="a file holding the keystore's password (instead of the variable)")
    desk.add_argument("--policy", required=True, help="the bank's pricing policy file (scf-pricing-policy JSON)")
    desk.add_argument("--once", action="store_true", help="one pass over the inbox, then exit (tests, cron)")
    desk.add_argument("--interval", type=float, default=5.0, help="seconds between passes (default %(default)s)")
    desk.add_argument("--journal", help="the desk's journal (default: beside the keystore, NAME.desk-journal.jsonl)")
    desk.add_argument(
        "--offer-ttl", type=int, default=86_400, help="an offer's life in seconds, never past maturity (default 1 day)"
    )
    desk.set_defaults(func=cmd_bank_desk)


def main(argv: list[str] | None = None) -> int:
    """``scf bank ...`` on its own: ``python -m api.cli.bank desk ...``."""
    from api.cli.errors import dispatch

    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
