"""scf simulate: play a synthetic multi-tier supply-chain world through the ledger on the devnet.

The lead wires it into ``scf`` with ``register(subparsers)``; it also runs on its own:

    python -m api.simulate_cli --firms 300 --months 12 --seed 7 [--holdout-months 3] [--out DIR]
                               [--chain devnet|URL] [--deployment FILE | --fresh] [--quiet]

It plays on the deployment ``scf deploy`` recorded (``deployments/<chainId>.json``; the dev
admin account enrols the world's parties), or on a new unrecorded deployment with
``--fresh``. The same seed, firm count and month count give the same world; a world can be
played once per deployment (its purchase-order references and invoices are unique for ever).
``world.json`` (public facts) and ``ground_truth.json`` (hidden traits and outcomes, for
evaluation only) are written to ``--out``.

Exit codes: 0 played, 2 a scenario or ledger error (no devnet, no deployment, world already
played on it, a step refused by the chain).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ledger import compiler, paths
from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import load_record, record_path_for
from ledger.errors import LedgerError
from scenarios import PlayResult, ScenarioConfig, ScenarioError, play
from scenarios.world import UNIT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--firms", type=int, default=300, help="core enterprises and suppliers (default 300)")
    parser.add_argument("--months", type=int, default=12, help="months of activity (default 12)")
    parser.add_argument("--seed", type=int, default=7, help="the world's seed (default 7)")
    parser.add_argument(
        "--holdout-months", type=int, default=3, help="last months, in which suppliers fail (default 3)"
    )
    parser.add_argument("--out", help="directory for world.json and ground_truth.json (default out/world-<settings>)")
    parser.add_argument("--chain", help="devnet (default) or an http:// URL of an anvil (default: SCF_CHAIN)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--deployment", help="deployment record to play on (default: deployments/<chainId>.json)")
    where.add_argument("--fresh", action="store_true", help="deploy the contracts afresh (not recorded) and play there")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scf simulate`` to the ``scf`` command line (``subparsers`` of its top parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="play a synthetic multi-tier supply-chain world through the ledger on the devnet",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)
    parser.set_defaults(func=cmd_simulate)
    return parser


def cmd_simulate(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        config = ScenarioConfig(args.firms, args.months, args.seed, args.holdout_months)
        build = compiler.build()
        chain = Chain.connect(args.chain, errors=ErrorDecoder(build.artifacts.values()), timeout=120)
        deployment = None if args.fresh else _deployment(chain, args.deployment)
        out = Path(args.out) if args.out else Path("out") / f"world-s{config.seed}-{config.firms}x{config.months}"
        console.print(
            f"simulating {config.firms} firms for {config.months} months (seed {config.seed}, "
            f"{config.holdout_months} hold-out months) on chain {chain.chain_id} ({chain.endpoint})",
            highlight=False,
        )
        result = play(chain, build, config, out, deployment=deployment, progress=not args.quiet and console.is_terminal)
    except (ScenarioError, LedgerError) as exc:
        console.print(f"[red]scf simulate: {type(exc).__name__}: {exc}[/red]", highlight=False, soft_wrap=True)
        return 2
    Console().print(summary_table(result))
    print(f"wrote {result.world_path} and {result.truth_path}; facts digest {result.digest}")
    return 0


def _deployment(chain: Chain, record: str | None) -> dict[str, str]:
    path = Path(record) if record else record_path_for(paths.deployments_dir(), chain.chain_id)
    data = load_record(path)
    if data is None:
        raise ScenarioError(f"no deployment record at {path}: run `scf deploy` first, or pass --fresh")
    if data.get("chainId") != chain.chain_id:
        raise ScenarioError(f"{path} is for chain {data.get('chainId')}, not {chain.chain_id}")
    return {name: entry["address"] for name, entry in data["contracts"].items()}


def _dollars(amount: int) -> str:
    return f"{amount / UNIT:,.0f} dUSD"


def summary_table(result: PlayResult) -> Table:
    s = result.summary
    table = Table(title=f"world seed {result.config.seed}: {result.config.firms} firms, {result.config.months} months")
    table.add_column("what")
    table.add_column("count", justify="right")
    parties = s["parties"]
    rows: list[tuple[str, str]] = [
        ("core enterprises / tier 1 / tier 2 / tier 3", f"{parties['cores']} / {parties['tier1']} / "
         f"{parties['tier2']} / {parties['tier3']}"),
        ("banks / carriers / inspectors / arbiters", f"{parties['banks']} / {parties['carriers']} / "
         f"{parties['inspectors']} / {parties['arbiters']}"),
        ("orders (escrowed / open account)", f"{s['orders']:,} ({s['escrowed_orders']:,} / "
         f"{s['open_account_orders']:,})"),
        ("  of which circular trades", f"{s['circular_orders']:,}"),
        ("attested milestones", f"{s['attested_milestones']:,}"),
        ("released / refunded / cancelled", f"{s['released']:,} / {s['refunds']:,} / {s['cancelled']:,}"),
        ("disputes (resolved)", f"{s['disputes']:,} ({s['disputes_resolved']:,})"),
        ("receivables issued / split", f"{s['receivables_issued']:,} / {s['receivables_split']:,}"),
        ("split depth (tree levels / deepest tier paid)", f"{s['split_depth']} / {s['tier_depth']}"),
        ("pieces financed (price / face)", f"{s['financings']:,} ({_dollars(s['financed_amount'])} / "
         f"{_dollars(s['financed_face'])})"),
        ("repayments / claims", f"{s['repayments']:,} / {s['claims']:,}"),
        ("defaults", f"{s['defaults']:,}"),
        ("refused double-financing attempts", f"{s['refused_double_financing']}"),
        ("transactions / blocks", f"{s['transactions']:,} / {s['blocks']:,}"),
        ("seconds / tx/s", f"{s['seconds']:,.1f} / {s['tx_per_s']:,.0f}"),
    ]  # fmt: skip
    for what, count in rows:
        table.add_row(what, count)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scf simulate", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    return cmd_simulate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
