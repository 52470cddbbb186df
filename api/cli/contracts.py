"""``scf contracts build``: compile ``contracts/`` (cached by the hash of the compiler's input)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.eth.artifacts import BuildResult


def build_contracts(*, backend: str | None = None, force: bool = False) -> BuildResult:
    """The contracts' artifacts: compiled, or from the cache when no source changed."""
    from ledger.toolchain import compiler

    return compiler.build(backend=backend, force=force)


def print_build(result: BuildResult) -> None:
    how = "cached, no source changed" if result.from_cache else f"compiled with {result.backend}"
    print(f"solc {result.compiler_version} ({how}); artifacts in {result.out_dir}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for name, artifact in sorted(result.artifacts.items()):
        if artifact.deployable:
            print(f"  {name:<20} {len(artifact.deployed_bytecode) // 2:>6} bytes runtime  ({artifact.source})")


def cmd_contracts_build(args: argparse.Namespace) -> int:
    print_build(build_contracts(backend=args.backend, force=args.force))
    return 0


def register(subparsers: Any) -> None:
    contracts = subparsers.add_parser("contracts", help="Solidity sources and artifacts").add_subparsers(
        dest="action", required=True
    )
    build = contracts.add_parser("build", help="compile contracts/ (cached by source hash)")
    build.add_argument("--force", action="store_true", help="ignore the cache")
    build.add_argument(
        "--backend", choices=["auto", "native", "solcjs"], help="compiler (default: native if installed, else solc-js)"
    )
    build.set_defaults(func=cmd_contracts_build)
