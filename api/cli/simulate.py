"""scf simulate: play a synthetic multi-tier supply-chain world through the ledger on the devnet.

    scf simulate --firms 300 --months 12 --seed 7 [--holdout-months 3] [--out DIR]
                 [--chain devnet|URL] [--deployment FILE | --fresh] [--reuse] [--quiet]

It plays on the deployment ``scf deploy`` recorded (``deployments/<chainId>.json``; the dev
admin account enrols the world's parties), or on a new unrecorded deployment with
``--fresh``. The same seed, firm count and month count give the same world; a world can be
played once per deployment (its purchase-order references and invoices are unique for ever).
``world.json`` (public facts) and ``ground_truth.json`` (hidden traits and outcomes, for
evaluation only) are written to ``--out``. With ``--reuse``, a world that ``--out`` says was
played with these settings on this deployment, and that the chain confirms (its parties are
members, its last block is still there), is not played again: its summary is printed and the
command exits 0 (what ``make run`` does on a second run).

In process: ``simulate(chain, build, config, out, deployment=...)`` returns a ``Simulated`` (the
``scenarios.PlayResult``, or the reused world's file); ``print_simulated`` prints what the command prints.

Exit codes: 0 played (or reused), 2 a scenario or ledger error (no devnet, no deployment, world already
played on it, a step refused by the chain).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import connect, deployed_record_path
from api.cli.contracts import build_contracts

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from scenarios import PlayResult, ScenarioConfig

#: A slow anvil under a world's load still answers; the default RPC deadline is for interactive reads.
PLAY_RPC_TIMEOUT = 120.0


@dataclass(frozen=True)
class Simulated:
    """A world played now (``played``), or found already played on this deployment (``reused``: its world.json)."""

    config: ScenarioConfig
    out: Path
    played: PlayResult | None = None
    reused: dict[str, Any] | None = None


def default_out(config: ScenarioConfig) -> Path:
    return Path("out") / f"world-s{config.seed}-{config.firms}x{config.months}"


def simulate(
    chain: Chain,
    build: BuildResult,
    config: ScenarioConfig,
    out: Path,
    *,
    deployment: dict[str, str] | None = None,
    reuse: bool = False,
    progress: bool = False,
    notes: Console | None = None,
) -> Simulated:
    """Play ``config`` on ``deployment`` (None: a fresh, unrecorded one) into ``out``; with ``reuse``, a world
    ``out`` records as played there, and the chain confirms, is returned instead. ``notes`` gets the
    announcement printed before a play starts."""
    from scenarios import play

    if reuse and deployment is not None:
        recorded = played_world(chain, build, config, out, deployment)
        if recorded is not None:
            return Simulated(config, out, reused=recorded)
    if notes is not None:
        notes.print(
            f"simulating {config.firms} firms for {config.months} months (seed {config.seed}, "
            f"{config.holdout_months} hold-out months) on chain {chain.chain_id} ({chain.endpoint})",
            highlight=False,
        )
    return Simulated(config, out, played=play(chain, build, config, out, deployment=deployment, progress=progress))


def print_simulated(simulated: Simulated, notes: Console, *, as_json: bool = False) -> None:
    from rich.console import Console

    from scenarios.truth import TRUTH_FILE, WORLD_FILE

    out = simulated.out
    config = simulated.config
    if simulated.reused is not None:
        notes.print(f"world already played on this deployment: reusing {out}", highlight=False)
        summary, digest = simulated.reused["summary"], simulated.reused["facts_digest"]
    else:
        assert simulated.played is not None
        summary, digest = simulated.played.summary, simulated.played.digest
    if as_json:
        settings = {"firms": config.firms, "months": config.months, "seed": config.seed}
        settings["holdout_months"] = config.holdout_months
        print(json.dumps({**settings, "out": str(out), "facts_digest": digest, "summary": summary}, sort_keys=True))
        return
    Console().print(_table(config, summary))
    if summary.get("banks"):
        Console().print(banks_table(summary["banks"]))
        Console().print(pre_shipment_table(summary["banks"]))
    if simulated.reused is not None:
        print(f"kept {out / WORLD_FILE} and {out / TRUTH_FILE}; facts digest {digest}")
    else:
        assert simulated.played is not None
        print(f"wrote {simulated.played.world_path} and {simulated.played.truth_path}; facts digest {digest}")


def banks_table(banks: list[dict[str, Any]]) -> Table:
    """Per bank: how it priced, what it financed by seller tier, what it earned and lost, its tier-2/3 fill."""
    from rich.table import Table

    table = Table(title="banks (money in dUSD; rates on the financed amount that has been repaid or lost)")
    for column in ("bank", "pricing", "financed t1 / t2 / t3", "interest", "losses", "net", "loss / net", "fill t2-3"):
        table.add_column(column, justify="left" if column in ("bank", "pricing") else "right")
    for b in banks:
        f = b["financed"]
        rates = "-" if b["loss_rate_bps"] is None else f"{b['loss_rate_bps']} / {b['net_return_bps']} bps"
        fill = "-" if b["fill_rate_tier23"] is None else f"{b['fill_rate_tier23']:.1%}"
        table.add_row(
            b["name"],
            b["pricing"] or "-",
            f"{_dollars(f['tier1'])} / {_dollars(f['tier2'])} / {_dollars(f['tier3'])}",
            _dollars(b["interest"]),
            _dollars(b["losses"]),
            _dollars(b["net_return"]),
            rates,
            fill,
        )
    return table


def pre_shipment_table(banks: list[dict[str, Any]]) -> Table:
    """Per bank: what it guaranteed before shipment by seller tier, its fees, what its pool paid and got back."""
    from rich.table import Table

    table = Table(title="pre-shipment (dUSD; rates on guarantees whose orders ended; total: both products)")
    columns = ("bank", "guaranteed t1 / t2 / t3", "fees", "pool paid", "repaid", "losses", "net", "loss / net",
               "fill t2-3", "total net")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "bank" else "right")
    for b in banks:
        pre, g = b["pre_shipment"], b["pre_shipment"]["guaranteed"]
        rates = "-" if pre["loss_rate_bps"] is None else f"{pre['loss_rate_bps']} / {pre['net_return_bps']} bps"
        market = (b.get("market") or {}).get("pre_shipment") or {}
        fill = market.get("fill_rate_tier23")
        table.add_row(
            b["name"],
            f"{_dollars(g['tier1'])} / {_dollars(g['tier2'])} / {_dollars(g['tier3'])}",
            _dollars(pre["fees"]),
            _dollars(pre["claimed"]),
            _dollars(pre["recovered"]),
            _dollars(pre["losses"]),
            _dollars(pre["net_return"]),
            rates,
            "-" if fill is None else f"{fill:.1%}",
            f"{_dollars(b['total']['net_return'])} ({b['total']['net_return_bps']} bps)",
        )
    return table


def recorded_deployment(chain: Chain, record: str | None) -> dict[str, str]:
    """Contract name → address of the deployment recorded for ``chain`` (``record``, else the default record)."""
    from ledger.toolchain.deploy import load_record
    from scenarios import ScenarioError

    path = Path(record) if record else deployed_record_path(chain.chain_id)
    data = load_record(path)
    if data is None:
        raise ScenarioError(f"no deployment record at {path}: run `scf deploy` first, or pass --fresh")
    if data.get("chainId") != chain.chain_id:
        raise ScenarioError(f"{path} is for chain {data.get('chainId')}, not {chain.chain_id}")
    return {name: entry["address"] for name, entry in data["contracts"].items()}


def played_world(
    chain: Chain, build: BuildResult, config: ScenarioConfig, out: Path, deployment: dict[str, str]
) -> dict[str, Any] | None:
    """``out``'s world.json when it records ``config`` played on ``deployment`` of this chain and the chain
    agrees (the world's first party is a member, its last block is still there); else None.

    The file alone is not enough: a reset devnet redeploys at the same addresses, so a stale
    world.json would name a deployment that no longer has the world in it.
    """
    from ledger.clients.membership import MembershipClient
    from scenarios import ScenarioError
    from scenarios.truth import TRUTH_FILE, WORLD_FILE

    path = out / WORLD_FILE
    if not path.is_file() or not (out / TRUTH_FILE).is_file():
        return None
    try:
        recorded: dict[str, Any] = json.loads(path.read_text())
        settings = tuple(int(recorded[key]) for key in ("seed", "firms", "months", "holdout_months"))
        same_chain = int(recorded["chain_id"]) == chain.chain_id
        addresses = {str(k): str(v).lower() for k, v in recorded["addresses"].items()}
        end_block, end_time = int(recorded["end"]["block"]), int(recorded["end"]["timestamp"])
        first = str(recorded["parties"][0]["address"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ScenarioError(f"{path} is not a world file this command wrote: {exc!r}") from exc
    if settings != (config.seed, config.firms, config.months, config.holdout_months) or not same_chain:
        return None
    if any(addresses.get(name) != address.lower() for name, address in deployment.items() if name in addresses):
        return None
    if not MembershipClient(chain, build, deployment["Membership"]).member_of(first).admitted:  # not played here
        return None
    if end_block > chain.block_number or int(chain.w3.eth.get_block(end_block)["timestamp"]) != end_time:
        return None
    return recorded


def _dollars(amount: int) -> str:
    from scenarios.world import UNIT

    return f"{amount / UNIT:,.0f} dUSD"


def summary_table(result: PlayResult) -> Table:
    return _table(result.config, result.summary)


def _table(config: ScenarioConfig, s: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title=f"world seed {config.seed}: {config.firms} firms, {config.months} months")
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
    ]  # fmt: skip
    if "seconds" in s:  # measured while playing; a reused world's file has no timing
        rows.append(("seconds / tx/s", f"{s['seconds']:,.1f} / {s['tx_per_s']:,.0f}"))
    for what, count in rows:
        table.add_row(what, count)
    return table


def cmd_simulate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ledger.errors import LedgerError
    from scenarios import ScenarioConfig, ScenarioError

    notes = Console(stderr=True)
    try:
        config = ScenarioConfig(args.firms, args.months, args.seed, args.holdout_months)
        build = build_contracts()
        chain = connect(args.chain, build, timeout=PLAY_RPC_TIMEOUT)
        deployment = None if args.fresh else recorded_deployment(chain, args.deployment)
        out = Path(args.out) if args.out else default_out(config)
        progress = not (args.quiet or args.json) and notes.is_terminal
        simulated = simulate(
            chain, build, config, out, deployment=deployment, reuse=args.reuse, progress=progress, notes=notes
        )
    except (ScenarioError, LedgerError) as exc:
        notes.print(f"[red]scf simulate: {type(exc).__name__}: {exc}[/red]", highlight=False, soft_wrap=True)
        return 2
    print_simulated(simulated, notes, as_json=args.json)
    return 0


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
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="if --out holds this world already played on this deployment, print its summary and exit 0",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON object (per bank: financed by tier, interest, losses, net return, "
        "loss rate, tier-2/3 fill rate) instead of tables",
    )


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


def main(argv: Sequence[str] | None = None) -> int:
    """``scf simulate ...`` on its own: ``python -m api.cli.simulate --firms 30 ...``."""
    parser = argparse.ArgumentParser(prog="scf simulate", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_arguments(parser)
    return cmd_simulate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
