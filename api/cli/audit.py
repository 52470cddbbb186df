"""``scf audit replay``: the auditor's command.

    scf audit replay [--from-block N] [--to-block N] [--json FILE] [--chain devnet|embedded|URL]
                     [--deployment FILE] [--db [URL]] [--scores [MODEL ...]] [--no-views] [--strict]
                     [--offers [--policy FILE ...] [--store-db URL] [--confirmations N]] [--show N] [--quiet]

Derives everything from the chain (a database, with --db, is only compared): replays every
transaction of the deployed ledger into the contracts' Python models, checks block-hash
continuity, every signature, every event and token transfer, then every view at the last
block; with --db, also every row of the indexer's database (cursor, blocks, events, every
projection, refused calls) against what the chain and the replay say; with --scores, every credit
limit published on CreditRegistry, recomputed from the chain's logs alone; with --offers, every
offer in the API's store recomputed from its pricing record, the bank's policy file, the model
and the chain as of the offer's block, and checked against its financing on chain. Prints the
counts, every mismatch with its location and the one-line digest of the event history. Exit
status: 0 when the chain, the replay (and the database, the limits and the offers) agree, 1 on any
mismatch, 3 with ``--strict`` when some transaction or offer could not be checked (a function no
model covers, an offer with no pricing record), 2 when the replay could not run.

With --db (no URL: SCF_DB_URL, else the SQLite file ``scf index`` writes by default) and no
--to-block, the replay stops at the database's cursor block, so that both describe one state.

With --offers (``api.cli.audit_offers``; the checks are ``scoring.price_audit``): --policy FILE
(repeatable, matched by hash; none: the shipped dev bank's), the models --scores names (none: the
shipped default and SCF_SCORE_MODEL), --store-db URL (the API's store: SCF_API_DB_URL, else --db's,
else the indexer's default) and --confirmations N (the API's: SCF_SCORE_CONFIRMATIONS, else 12).

In process: ``audit_replay(chain, build, ...)`` returns an ``Audited`` (the replay's report, the
recomputed limits, the checked offers); ``print_audited`` prints it and ``Audited.exit_status`` is
the command's status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.audit_offers import OfferSources, check_offers, offer_lines
from api.cli.common import CHAIN_HELP, connect
from api.cli.contracts import build_contracts
from api.cli.errors import dispatch
from api.cli.score import DEFAULT_MODEL, MODEL_ENV

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ledger.audit import Deployment, ReplayResult
    from ledger.audit.report import Report
    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from scoring.audit import AuditResult
    from scoring.history import RefusedCall
    from scoring.price_audit import OfferAudit
    from scoring.scorecard import Model

EXIT_MISMATCH = 1
EXIT_UNCHECKED = 3


@dataclass(frozen=True)
class Audited:
    """The replay's report (with the database comparison when there was one), the recomputed limits and
    the checked offers."""

    report: Report
    scores: AuditResult | None = None
    offers: OfferAudit | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok and (self.scores is None or self.scores.ok) and (self.offers is None or self.offers.ok)

    def exit_status(self, *, strict: bool = False) -> int:
        if not self.ok:
            return EXIT_MISMATCH
        if strict and (self.report.gaps or (self.offers is not None and self.offers.unchecked)):
            return EXIT_UNCHECKED
        return 0

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = self.report.to_json()
        if self.scores is not None:
            document["scores"] = self.scores.to_json()
        if self.offers is not None:
            document["offers"] = self.offers.to_json()
        return document


def audit_replay(
    chain: Chain,
    build: BuildResult,
    *,
    deployment: Path | None = None,
    db: str | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    check_views: bool = True,
    scores: list[str] | None = None,
    offers: OfferSources | None = None,
    progress: bool = False,
) -> Audited:
    """Replay the deployment recorded for ``chain`` (``deployment``, else deployments/<chainId>.json) from the
    chain alone and compare. ``db``: also every row of that database ("": SCF_DB_URL, else the indexer's
    default SQLite file; None: no database), replaying to its cursor unless ``to_block`` is given.
    ``scores``: also recompute every published limit with these model files ([]: the shipped default
    and SCF_SCORE_MODEL). ``offers``: also check every offer in the API's store against its pricing
    record, the policy files, the models ``scores`` names (else the defaults) and the chain
    (``api.cli.audit_offers``). Notes on what was compared, and what not, go to stderr."""
    from ledger.audit import Deployment, replay
    from ledger.audit.sql import SqlCompareError, compare_sql, read_cursor
    from ledger.toolchain.deploy import recorded_deployment

    _, record = recorded_deployment(chain.chain_id, deployment)
    replayed = Deployment.from_record(record, build)
    engine = _engine(db) if db is not None else None
    cursor = None
    if engine is not None:
        where = engine.url.render_as_string(hide_password=True)
        cursor = read_cursor(engine, replayed.chain_id)
        if cursor is None:
            raise SqlCompareError(f"{where} has indexed nothing of chain {replayed.chain_id}")
        if to_block is None:
            to_block = cursor.block_number
            print(f"comparing with {where}: replaying to its cursor's block {to_block}", file=sys.stderr)
    result = replay(
        chain,
        replayed,
        from_block=from_block,
        to_block=to_block,
        progress=progress,
        check_views=check_views,
        keep_logs=engine is not None or offers is not None,
    )
    report = result.report
    if engine is not None:
        try:
            comparison = compare_sql(result, replayed, engine, cursor=cursor)
            comparison.add_to(report, where)
            for note in comparison.skipped:
                print(f"not compared: {note}", file=sys.stderr)
        finally:
            engine.dispose()
    from scoring.audit import refused_calls

    refused = refused_calls(replayed, result) if scores is not None or offers is not None else None
    recomputed = None
    if scores is not None:
        recomputed = _recompute_scores(chain, replayed, result, _load_models(scores, "--scores"), refused or [])
    checked = None
    if offers is not None:
        models = _load_models(scores or [], "--offers")
        checked = check_offers(chain, replayed, result, offers, models=models, refused=refused, db=db or None)
    return Audited(report, recomputed, checked)


def print_audited(audited: Audited, *, show: int | None = None) -> None:
    for line in audited.report.lines(limit=show):
        print(line)
    if audited.scores is not None:
        for line in _score_lines(audited.scores, show):
            print(line)
    if audited.offers is not None:
        for line in offer_lines(audited.offers, show):
            print(line)


def cmd_audit_replay(args: argparse.Namespace) -> int:
    offers = None
    if args.offers:
        offers = OfferSources(
            store_db=args.store_db,
            policies=tuple(Path(p) for p in args.policy or ()),
            confirmations=args.confirmations,
        )
    else:
        given = [flag for flag, value in _OFFER_OPTIONS.items() if getattr(args, value) is not None]
        if given:
            from api.cli.errors import CommandError

            verb = "means" if len(given) == 1 else "mean"
            raise CommandError(f"{', '.join(given)} only {verb} something with --offers")
    build = build_contracts()
    audited = audit_replay(
        connect(args.chain, build),
        build,
        deployment=Path(args.deployment) if args.deployment else None,
        db=args.db,
        from_block=args.from_block,
        to_block=args.to_block,
        check_views=not args.no_views,
        scores=args.scores,
        offers=offers,
        progress=not args.quiet,
    )
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(audited.to_json(), indent=2) + "\n")
    print_audited(audited, show=args.show)
    return audited.exit_status(strict=args.strict)


#: ``--offers``'s own options (flag -> argparse name): given without ``--offers`` they are a mistake.
_OFFER_OPTIONS = {"--policy": "policy", "--store-db": "store_db", "--confirmations": "confirmations"}


def _load_models(models: list[str], option: str) -> list[Model]:
    """The model files given (none: the shipped default and SCF_SCORE_MODEL), loaded."""
    from ledger.audit import AuditError
    from scoring.errors import ScoringError
    from scoring.scorecard import Model

    chosen = [Path(m) for m in models] or [Path(m) for m in (os.environ.get(MODEL_ENV), DEFAULT_MODEL) if m]
    try:
        loaded = [Model.load(path) for path in chosen if models or path.is_file()]
    except ScoringError as exc:
        raise AuditError(f"{option}: {exc}") from exc
    if not loaded:
        raise AuditError(f"{option}: no model given and none shipped (scoring/models/default.json)")
    return loaded


def _recompute_scores(
    chain: Chain, deployment: Deployment, result: ReplayResult, loaded: list[Model], refused: list[RefusedCall]
) -> AuditResult:
    """Every limit published on CreditRegistry up to the replay's last block, recomputed from the
    chain's logs with the model its ``modelHash`` names (``loaded``). The replay's reverted calls
    (``refused``) feed the double-financing flags."""
    from ledger.audit import AuditError
    from scoring.audit import recompute_published
    from scoring.errors import ScoringError

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
    if scores.unmodelled:
        banks = sorted({check.bank for check in scores.unmodelled})
        lines.append(
            f"  {len(scores.unmodelled)} limits name no model (modelHash 0), not recomputed: "
            f"published by {', '.join(banks)}"
        )
    lines += [f"  note: {note}" for note in scores.notes]
    return lines


def _engine(url: str) -> Engine:
    """An engine on ``--db``'s URL (none given: SCF_DB_URL, else the indexer's default SQLite file)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.audit.sql import SqlCompareError
    from ledger.index.sql.db import database_url, make_engine

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
    run.add_argument("--chain", help=CHAIN_HELP)
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
        "--strict",
        action="store_true",
        help=f"exit {EXIT_UNCHECKED} when a transaction (or, with --offers, an offer) could not be checked",
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
    run.add_argument(
        "--offers",
        action="store_true",
        help="also recompute every signed offer's price in the API's store from its pricing record, the bank's "
        "policy file, the model (--scores' files, else the defaults) and the chain as of the offer's block",
    )
    run.add_argument(
        "--policy",
        action="append",
        metavar="FILE",
        help="with --offers: a bank's pricing policy file, matched to offers by its hash (repeatable; default: "
        "the shipped dev bank's)",
    )
    run.add_argument(
        "--store-db",
        metavar="URL",
        help="with --offers: the API's store (default: SCF_API_DB_URL, else --db's URL, else the indexer's default)",
    )
    run.add_argument(
        "--confirmations",
        type=int,
        metavar="N",
        help="with --offers: the API's --confirmations, the depth its credit decisions lag its head by "
        "(default: SCF_SCORE_CONFIRMATIONS, else 12)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_audit_replay)


def main(argv: list[str] | None = None) -> int:
    """``scf audit ...`` on its own (``python -m api.cli.audit audit replay ...``)."""
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
