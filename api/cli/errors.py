"""Errors of the command line itself, and which errors a command reports as one line.

``CommandError`` is the root of what the command line raises on its own account (a port that is
taken, a demo world with no story, a bad ``--rpc-timeout``): the command cannot do what was asked,
and the message says what to do instead.

``is_domain_error`` decides whether an exception is one of the project's domain errors (printed as
``error: ...``, exit 2) or a bug (a traceback). It looks only at the error modules already loaded:
an error class whose module was never imported cannot have been raised, and importing
``api.errors`` just to catch its ``ApiError`` would load FastAPI into every command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable


class CommandError(Exception):
    """The command line cannot do what was asked (the message says what to do instead)."""


#: The roots every ``scf`` command reports as one line and exit status 2.
DOMAIN_ROOTS: tuple[str, ...] = (
    "ledger.errors:LedgerError",
    "oracles.errors:OracleError",
    "api.errors:ApiError",
    "api.cli.errors:CommandError",
)


def is_domain_error(exc: BaseException, roots: Iterable[str] = DOMAIN_ROOTS) -> bool:
    """Whether ``exc`` is an instance of one of ``roots`` (``"module:Class"``), importing nothing."""
    for root in roots:
        module_name, _, class_name = root.partition(":")
        module = sys.modules.get(module_name)
        error = getattr(module, class_name, None) if module is not None else None
        if isinstance(error, type) and isinstance(exc, error):
            return True
    return False


#: The exit status of a command that met a domain error.
EXIT_DOMAIN_ERROR = 2


def dispatch(args: argparse.Namespace, *, exit_code: int = EXIT_DOMAIN_ERROR) -> int:
    """Run a parsed command (``args.func``): a domain error prints one line and returns ``exit_code``;
    anything else is a bug and keeps its traceback."""
    try:
        return int(args.func(args))
    except Exception as exc:
        if not is_domain_error(exc):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exit_code
