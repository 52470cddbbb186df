"""The ``scf`` command line: the only place (with the HTTP services) that reads argv.

One module per command (``api/cli/<command>.py``): ``register(subparsers)`` adds its parser, and its
handler is a thin shell that turns the parsed options into typed arguments, calls an in-process
function that returns a result (``contracts.build_contracts``, ``deploy.deploy_contracts``,
``simulate.simulate``, ``index.index_chain``, ``score.decide``, ``audit.audit_replay``,
``serve.serve``, ...), prints it and picks the exit status. ``scf demo`` composes those functions
directly; no command calls another through argv.

Start-up stays cheap on purpose: the command modules import only the standard library at module
level, and each handler imports what it needs (web3, eth-account, numpy, SQLAlchemy, FastAPI,
``ledger``, ``scoring``) when it runs, so ``scf --help`` or a mistyped option does not pay the
~3 s those imports cost. This package imports its command modules only when the parser is built,
so ``python -m api.cli.<command>`` runs a module that is not already half imported.
``bench/cli_startup.py`` measures the start-up; ``tests/api/cli/test_startup.py`` checks that
building the parser loads none of the heavy packages.

Exit status: the command's own (0 done, 1 something checked does not hold, ...), and 2 with one
line on stderr for a domain error of any package (``api.cli.errors.is_domain_error``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from api.cli.errors import dispatch


def parser() -> argparse.ArgumentParser:
    from api.cli import (
        audit,
        bank,
        contracts,
        demo,
        deploy,
        devnet,
        documents,
        fingerprint,
        index,
        keys,
        network,
        oracle,
        score,
        serve,
        simulate,
        verify,
    )

    top = argparse.ArgumentParser(prog="scf", description="scf-ledger: multi-tier supply-chain finance on an EVM chain")
    sub = top.add_subparsers(dest="command", required=True)
    for command in (
        contracts,
        devnet,
        network,
        deploy,
        keys,
        oracle,
        index,
        audit,
        simulate,
        score,
        serve,
        documents,
        fingerprint,
        bank,
        verify,
        demo,
    ):
        command.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(parser().parse_args(argv))


def run() -> Any:
    sys.exit(main())
