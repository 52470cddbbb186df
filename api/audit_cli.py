"""``scf audit replay``: the auditor's command (wired into ``api.cli`` by ``register``).

    scf audit replay [--from-block N] [--to-block N] [--json FILE] [--chain devnet|embedded|URL]
                     [--deployment FILE] [--db [URL]] [--scores [MODEL ...]] [--no-views] [--strict]
                     [--show N] [--quiet]

Derives everything from the chain (a database, with --db, is only compared): replays every
transaction of the deployed ledger into the contracts' Python models, checks block-hash
continuity, every signature, every event and token transfer, then every view at the last
block; with --db, also every row of the indexer's database (cursor, blocks, events, every
projection, refused calls) against what the chain and the replay say; with --scores, every credit
limit published on CreditRegistry, recomputed from the chain's logs alone. Prints the counts,
every mismatch with its location and the one-line digest of the event history. Exit status:
0 when the chain, the replay (and the database) agree, 1 on any mismatch, 3 with ``--strict``
when some transaction could not be checked (a function no model covers), 2 when the replay
could not run.

With --db (no URL: SCF_DB_URL, else the SQLite file ``scf index`` writes by default) and no
--to-block, the replay stops at the database's cursor block, so that both describe one state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from api.score_cli import DEFAULT_MODEL, MODEL_ENV
from ledger import compiler
from ledger.audit import AuditError, Deployment, ReplayResult, replay
from ledger.audit.refusals import RefusalDecoder
from ledger.audit.sql import SqlCompareError, compare_sql, read_cursor
from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import recorded_deployment
from ledger.errors import LedgerError
from ledger.sql.db import database_url, make_engine

if TYPE_CHECKING:
    from scoring.audit import AuditResult

EXIT_MISMATCH = 1
EXIT_UNCHECKED = 3


def cmd_audit_replay(args: argparse.Namespace) -> int:
    build = compiler.build()
    chain = Chain.connect(args.chain, errors=ErrorDecoder(build.artifacts.values()))
    _, record = recorded_deployment(chain.chain_id, Path(args.deployment) if args.deployment else None)
    deployment = Deployment.from_record(record, build)
    engine = _engine(args.db) if args.db is not None else None
    to_block = args.to_block
    cursor = None
    if engine is not None:
        where = engine.url.render_as_string(hide_password=True)
        cursor = read_cursor(engine, deployment.chain_id)
        if cursor is None:
            raise SqlCompareError(f"{where} has indexed nothing of chain {deployment.chain_id}")
        if to_block is None:
            to_block = cursor.block_number
            print(f"comparing with {where}: replaying to its cursor's block {to_block}", file=sys.stderr)
    result = replay(
        chain,
        deployment,
        from_block=args.from_block,
        to_block=to_block,
        progress=not args.quiet,
        check_views=not args.no_views,
        keep_logs=engine is not None,
    )
    report = result.report
    if engine is not None:
        try:
            comparison = compare_sql(result, deployment, engine, cursor=cursor)
            comparison.add_to(report, where)
            for note in comparison.skipped:
                print(f"not compared: {note}", file=sys.stderr)
        finally:
            engine.dispose()
    scores = _recompute_scores(chain, deployment, result, args.scores) if args.scores is not None else None
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        document = report.to_json()
        if scores is not None:
            document["scores"] = scores.to_json()
        out.write_text(json.dumps(document, indent=2) + "\n")
    for line in report.lines(limit=args.show):
        print(line)
    if scores is not None:
        for line in _score_lines(scores, args.show):
            print(line)
    if not report.ok or (scores is not None and not scores.ok):
        return EXIT_MISMATCH
    if args.strict and report.gaps:
        return EXIT_UNCHECKED
    return 0


def _recompute_scores(chain: Chain, deployment: Deployment, result: ReplayResult, models: list[str]) -> AuditResult:
    """Every limit published on CreditRegistry up to the replay's last block, recomputed from the
    chain's logs with the model its ``modelHash`` names (``models``: files; none given: the shipped
    default and SCF_SCORE_MODEL). The replay's reverted calls feed the double-financing flags."""
    from scoring.audit import recompute_published
    from scoring.errors import ScoringError
    from scoring.history import RefusedCall
    from scoring.scorecard import Model

    chosen = [Path(m) for m in models] or [Path(m) for m in (os.environ.get(MODEL_ENV), DEFAULT_MODEL) if m]
    try:
        loaded = [Model.load(path) for path in chosen if models or path.is_file()]
    except ScoringError as exc:
        raise AuditError(f"--scores: {exc}") from exc
    if not loaded:
        raise AuditError("--scores: no model given and none shipped (scoring/models/default.json)")
    decoder = RefusalDecoder(deployment.addresses, deployment.abis)
    refused = []
    for tx in result.quiet_calls:
        refusal = decoder.refusal(tx) if tx.reverted else None
        if refusal is not None:
            refused.append(
                RefusedCall(
                    refusal.block_number,
                    refusal.tx_index,
                    refusal.sender,
                    refusal.contract,
                    refusal.function,
                    refusal.error or "",
                )
            )
    try:
        return recompute_published(
            chain,
            deployment.addresses,
            loaded,
            abis=deployment.abis,
            from_block=deployment.start_block,
            to_block=result.report.to_block,
            refused=refused,
        )
    except ScoringError as exc:
        raise AuditError(f"--scores: {exc}") from exc


def _score_lines(scores: AuditResult, limit: int | None) -> list[str]:
    checked = len(scores.matches) + len(scores.mismatches)
    lines = [f"published limits: {checked} recomputed from the chain, {len(scores.mismatches)} differ"]
    for check in scores.mismatches[:limit]:
        problem = check.problem or f"published {check.published}, recomputed {check.expected}"
        lines.append(f"  [limit] block {check.block}, bank {check.bank}, party {check.party}: {problem}")
    lines += [f"  note: {note}" for note in scores.notes]
    return lines


def _engine(url: str) -> Engine:
    """An engine on ``--db``'s URL (none given: SCF_DB_URL, else the indexer's default SQLite file)."""
    try:
        return make_engine(database_url(url or None))
    except SQLAlchemyError as exc:
        raise SqlCompareError(f"--db {url!r} is not a database URL SQLAlchemy can open: {exc}") from exc


def register(subparsers: Any) -> None:
    """Add ``audit replay`` to ``scf``'s subcommands (``subparsers`` of the top-level parser)."""
    audit = subparsers.add_parser("audit", help="re-derive the ledger from the chain and compare").add_subparsers(
        dest="action", required=True
    )
    run = audit.add_parser(
        "replay",
        help="replay every transaction into the models; compare events, transfers, signatures and views",
        description=(__doc__ or "").split("\n\n")[2].replace("\n", " "),
    )
    run.add_argument("--from-block", type=int, help="first block of the digest (default: the deployment's)")
    run.add_argument(
        "--to-block",
        type=int,
        help="last block replayed and compared (default: the latest; with --db, the database's cursor)",
    )
    run.add_argument("--json", metavar="FILE", help="write the full report (every mismatch and gap) as JSON")
    run.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    run.add_argument("--deployment", metavar="FILE", help="deployment record (default: deployments/<chainId>.json)")
    run.add_argument(
        "--db",
        nargs="?",
        const="",
        metavar="URL",
        help="also compare every row of the indexer's database (default URL: SCF_DB_URL, else the SQLite file "
        "scf index writes); without --to-block the replay stops at the database's cursor",
    )
    run.add_argument("--no-views", action="store_true", help="skip the comparison with the views at the last block")
    run.add_argument(
        "--strict", action="store_true", help=f"exit {EXIT_UNCHECKED} when a transaction could not be checked"
    )
    run.add_argument(
        "--show", type=int, help="print at most this many mismatches and gaps (default: all; --json has all)"
    )
    run.add_argument(
        "--scores",
        nargs="*",
        metavar="MODEL",
        help="also recompute every published credit limit from the chain with the model its hash names "
        "(model files; none given: the shipped default model and SCF_SCORE_MODEL)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_audit_replay)


def main(argv: list[str] | None = None) -> int:
    """``scf audit ...`` on its own (tests, or before the command is wired into ``scf``)."""
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
