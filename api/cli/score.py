"""``scf score``: credit decisions from verified history.

    scf score PARTY [--as-of-block N] [--json] [--db URL] [--model FILE] [--confirmations N]
    scf score --all [--publish --bank ADDR|dev-bank [--keystore FILE]] [--json] [--chain URL] ...
    scf score evaluate --world DIR [--db URL | --chain URL] [--json] [--out MODEL.json | --model M.json [--all-parties]]
    scf score fit --world DIR [--world DIR ...] --out MODEL.json [--db URL | --chain URL] [--all-parties]
    scf score generalise --seeds 51-55 [--firms 300 --months 12] [--model FILE] [--out DIR] [--remeasure] [--json]
    scf score generalise --play-only --seeds 7,11-14 --out DIR [--reuse]

Decisions read the indexer's database (``--db``, else SCF_DB_URL, else the devnet's SQLite
file) as of a final block: ``--as-of-block`` or the indexed head less ``--confirmations``. The
model is ``--model``, else SCF_SCORE_MODEL, else the shipped ``scoring/models/default.json``.
``--publish`` signs each scored limit with the bank's key and publishes it to CreditRegistry,
valid until the as-of time plus the model's validity (which is how an auditor finds the as-of
point again). A world's events come from ``--db``, else ``--chain`` (its logs), else
``DIR/ledger.db``. ``evaluate`` fits on the world's training suppliers and measures on the
held-out ones; with ``--model`` it measures that model without fitting (a world too small to fit
on, e.g. 30 firms with one failure, can still measure a model fitted on a larger one).
``generalise`` plays a fresh world per seed on an anvil of its own and measures the model on it
against the world's hidden ``p_fail`` and the baselines (``api.cli.generalise``; reserved seeds
are refused; exit 1 when its criterion does not hold); with ``--play-only`` it plays and indexes the
worlds to fit on, measures nothing and prints the ``scf score fit`` command for them. Exit status: 0
done, 2 bad input (unknown party, as-of block in the future, no model, no history, a reserved seed ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli import generalise
from api.cli.common import CHAIN_HELP, connect, deployed_addresses
from api.cli.contracts import build_contracts

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from scoring.decision import Decision
    from scoring.history import History
    from scoring.scorecard import Model
    from scoring.world import WorldFiles

MODEL_ENV = "SCF_SCORE_MODEL"
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "scoring" / "models" / "default.json"
# scoring.source.DEFAULT_CONFIRMATIONS, named here so that building the parser imports no scoring code;
# tests/api/cli/test_startup.py checks that they stay equal.
DEFAULT_CONFIRMATIONS = 12
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class Fitted:
    version: str
    parties: int
    worlds: int


def load_model(given: str | None = None) -> Model:
    """The model at ``given``, else SCF_SCORE_MODEL, else the shipped default."""
    from scoring.errors import ModelError
    from scoring.scorecard import Model

    chosen = given or os.environ.get(MODEL_ENV)
    path = Path(chosen) if chosen else DEFAULT_MODEL
    if not chosen and not path.is_file():
        raise ModelError(str(path), "no model shipped or given: fit one with `scf score fit` and pass --model FILE")
    return Model.load(path)


def decide(
    *,
    model: Model,
    party: str | None = None,
    db: str | None = None,
    as_of_block: int | None = None,
    confirmations: int = DEFAULT_CONFIRMATIONS,
    publishing_on: Chain | None = None,
) -> list[Decision]:
    """The decision for ``party`` (None: every supplier and core enterprise) from the index at ``db``, as of
    ``as_of_block`` (None: the indexed head less ``confirmations``). ``publishing_on``: decided as of the
    point an auditor derives from a published limit's validity end on that chain
    (``scoring.chain_source.decision_point``), for limits that are about to be published there."""
    from scoring import features
    from scoring.decision import Scorer
    from scoring.features import checksum_party
    from scoring.source import SqlSource

    source = SqlSource.open(db)
    if publishing_on is None:
        history = source.history(as_of_block, confirmations)
    else:
        history = _publishable_history(publishing_on, source, as_of_block, confirmations)
    scorer = Scorer(features.build(history), model)
    return scorer.decide_all() if party is None else [scorer.decide(checksum_party(party))]


def _publishable_history(chain: Chain, source: Any, as_of_block: int | None, confirmations: int) -> History:
    from scoring.chain_source import decision_point
    from scoring.errors import NoHistory

    if chain.chain_id != source.chain_id:
        raise NoHistory(f"the database indexes chain {source.chain_id}, the node is chain {chain.chain_id}")
    final, _ = source.resolve(as_of_block, confirmations)
    block, when = decision_point(chain, final)
    history: History = dataclasses.replace(source.history(block, confirmations), as_of_time=when)
    return history


def bank_account(chain: Chain, bank: str, keystore: Path | None) -> LocalAccount:
    """The key that signs the limits: ``dev-bank`` on a devnet, else the keystore's, which must be ``bank``'s."""
    from ledger.eth.keys import load_keystore
    from scoring.errors import InvalidRequest
    from scoring.features import checksum_party

    if bank == "dev-bank":
        if chain.accounts is None:
            raise InvalidRequest("dev-bank exists only on a development chain; give --bank ADDR --keystore FILE")
        return chain.accounts["bank"]
    if keystore is None:
        raise InvalidRequest("--bank ADDR needs --keystore FILE (and SCF_KEYSTORE_PASSWORD)")
    account = load_keystore(keystore)
    if account.address.lower() != checksum_party(bank).lower():
        raise InvalidRequest(f"the keystore holds {account.address}, not {bank}")
    return account


def publish_limits(
    chain: Chain, build: BuildResult, decisions: list[Decision], model: Model, *, bank: LocalAccount, registry: str
) -> int:
    """Sign every scored decision's limit as ``bank`` and publish it to the CreditRegistry at ``registry``,
    valid until the as-of time plus the model's validity; how many were published."""
    from ledger.clients.credit import CreditLimit, CreditRegistryClient

    client = CreditRegistryClient(chain, build, registry)
    nonce = client.nonce(bank.address)
    count = 0
    for d in decisions:
        if not d.scored:
            continue
        grant = CreditLimit(
            bank=bank.address,
            party=d.party,
            limit=d.limit,
            score=int(d.score or 0),
            grade=d.grade_code,
            model_hash=bytes.fromhex(model.version[2:]),
            valid_until=d.as_of_time + model.validity,
            nonce=nonce,
        )
        client.publish(grant, client.sign(bank, grant), bank)
        nonce += 1
        count += 1
    return count


def print_decision(d: Decision) -> None:
    if d.scored:
        print(
            f"{d.party}: score {d.score}, PD {d.pd_bps / 100:.2f}%, grade {d.grade}, "  # type: ignore[operator]
            f"limit {d.limit:,} units ({d.limit // 10**6:,} tokens)"
        )
    else:
        print(f"{d.party}: {d.status}, no score, limit 0")
    for r in d.reasons:
        lost = f" (-{r['points_lost']} points)" if r.get("points_lost") else ""
        print(f"  - {r['text']}{lost}")
    for f in d.favourable:
        gained = f" (+{f['points_gained']} points)" if f.get("points_gained") else ""
        print(f"  + {f['text']}{gained}")
    for note in d.notes:
        print(f"  note: {note}")
    print(f"  model {d.model}, as of block {d.as_of_block} (time {d.as_of_time}), chain {d.chain_id}")


def print_published(count: int) -> None:
    print(f"published {count} limits signed by the bank", file=sys.stderr)


def cmd_score(args: argparse.Namespace) -> int:
    from scoring.errors import InvalidRequest
    from scoring.scorecard import canonical

    if not args.all and not args.party:
        raise InvalidRequest("say which party to score (PARTY) or --all")
    if args.publish and not args.all:
        raise InvalidRequest("--publish goes with --all")
    model = load_model(args.model)
    build = build_contracts() if args.publish else None
    chain = connect(args.chain, build) if build is not None else None
    decisions = decide(
        model=model,
        party=None if args.all else args.party,
        db=args.db,
        as_of_block=args.as_of_block,
        confirmations=args.confirmations,
        publishing_on=chain,
    )
    if args.json:
        payload: Any = [d.to_json() for d in decisions] if args.all else decisions[0].to_json()
        sys.stdout.write(canonical(payload).decode() + "\n")
    else:
        for d in decisions:
            print_decision(d)
    if chain is not None and build is not None:
        bank = bank_account(chain, args.bank, Path(args.keystore) if args.keystore else None)
        _, addresses = deployed_addresses(chain, Path(args.deployment) if args.deployment else None)
        print_published(publish_limits(chain, build, decisions, model, bank=bank, registry=addresses["CreditRegistry"]))
    return 0


def world_history(world: WorldFiles, *, db: str | None, chain: str | None, confirmations: int) -> History:
    """A world's events as of its observation end: from ``db``, else ``DIR/ledger.db``, else ``chain``'s logs."""
    from scoring.chain_source import ChainEvents
    from scoring.errors import NoHistory
    from scoring.source import SqlSource

    block = world.observation_end[0]
    url = db or (f"sqlite:///{world.directory / 'ledger.db'}" if (world.directory / "ledger.db").is_file() else None)
    if url:
        return SqlSource.open(url, world.chain_id).history(block, confirmations)
    if chain:
        build = build_contracts()
        names = list(world.addresses)
        events = ChainEvents(connect(chain, build), world.addresses, {n: build[n].abi for n in names}, block)
        return events.history(block)
    raise NoHistory(f"no events for the world in {world.directory}: give --db URL (an index of its chain) or --chain")


def evaluate_world(
    world_dir: Path,
    *,
    model: Path | None = None,
    out: Path | None = None,
    all_parties: bool = False,
    db: str | None = None,
    chain: str | None = None,
    confirmations: int = DEFAULT_CONFIRMATIONS,
) -> dict[str, Any]:
    """Fit on the world's training suppliers and measure on the held-out ones (or measure ``model``); the
    report, and the fitted model saved to ``out`` when given."""
    from scoring import evaluate as evaluation
    from scoring.errors import InvalidRequest
    from scoring.scorecard import Model
    from scoring.world import load

    given = Model.load(model) if model else None
    if given is not None and out:
        raise InvalidRequest("--out saves the model fitted by `evaluate`; with --model nothing is fitted")
    if given is None and all_parties:
        raise InvalidRequest(
            "evaluate --all-parties goes with --model: a model fitted here is measured on held-out parties"
        )
    world = load(world_dir)
    history = world_history(world, db=db, chain=chain, confirmations=confirmations)
    report, fitted = evaluation.evaluate(
        history,
        world.truth,
        training={"world_seed": world.seed},
        model=given,
        population="all" if all_parties else "held_out",
    )
    if out:
        fitted.save(out)
    return report


def cmd_evaluate(args: argparse.Namespace) -> int:
    from scoring.errors import InvalidRequest

    if len(args.world) != 1:
        raise InvalidRequest("evaluate measures one world: give --world DIR once")
    report = evaluate_world(
        Path(args.world[0]),
        model=Path(args.model) if args.model else None,
        out=Path(args.out) if args.out else None,
        all_parties=args.all_parties,
        db=args.db,
        chain=args.chain,
        confirmations=args.confirmations,
    )
    if args.json:
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
        return 0
    measured = "every supplier" if report["population"] == "all" else "held-out parties"
    trained = (
        f"trained on {report['train']['n']}" if report["model_fitted_here"] else f"model {args.model}, not fitted here"
    )
    print(f"{measured}: {report['n']} ({report['failures']} failed); {trained}")
    rows = [("scorer", report), *report["baselines"].items()]
    print(f"  {'':<12} {'AUC':>6} {'KS':>6} {'Brier':>6} {'coverage t2/3':>14}")
    for name, r in rows:
        print(f"  {name:<12} {_f(r['auc'])} {_f(r['ks'])} {_f(r['brier'])} {_f(r['coverage_tier23']):>14}")
        if r.get("error"):
            print(f"  {'':<12} not fitted: {r['error']}")
    cv = report.get("cross_validated")
    if cv:
        volume = report.get("cross_validated_volume_only") or {}
        print(
            f"  cross-validated over every supplier ({cv['folds']} folds): AUC {_f(cv['auc']).strip()}, "
            f"volume only {_f(volume.get('auc')).strip()}"
        )
    print(f"  mean PD {report['mean_pd_bps']} bps against {report['observed_bps']} bps observed")
    print(
        "  calibration (predicted vs observed failure rate, bps): "
        + ", ".join(f"{c['predicted_bps']}/{c['observed_bps']}" for c in report["calibration"])
    )
    for a in report["bad_actors"]:
        print(f"  {a['bad_actor']} {a['party']}: {'named' if a['named'] else 'NOT named'} in {a['reasons']}")
    print(f"  model {report['model']}" + (f" saved to {args.out}" if args.out else ""))
    return 0


def _f(x: float | None) -> str:
    return f"{x:6.3f}" if x is not None else "     -"


def fit_worlds(
    directories: list[Path],
    out: Path,
    *,
    all_parties: bool = False,
    db: str | None = None,
    chain: str | None = None,
    confirmations: int = DEFAULT_CONFIRMATIONS,
) -> Fitted:
    """Fit a model on the training suppliers (or, with ``all_parties``, every supplier) of each world; save it."""
    from scoring import evaluate as evaluation
    from scoring import features, scorecard
    from scoring.errors import InvalidRequest
    from scoring.world import load

    if len(directories) > 1 and (db or chain):
        raise InvalidRequest("fitting on several worlds reads each one's DIR/ledger.db; --db / --chain name one")
    tables, rows, labels, worlds = [], [], [], []
    offset = 0
    for directory in directories:
        world = load(directory)
        history = world_history(world, db=db, chain=chain, confirmations=confirmations)
        table = features.build(history)
        s = evaluation.split(table, world.truth)
        people = sorted(s.train + s.test) if all_parties else s.train
        rows += [offset + table.index[a] for a in people]
        labels += [s.failed[a] for a in people]
        offset += len(table.parties)
        tables.append(table)
        worlds.append(
            {
                **{k: world.world.get(k) for k in ("firms", "months", "holdout_months", "seed", "chain_id")},
                "as_of_block": history.as_of_block,
                "as_of_time": history.as_of_time,
                "parties": len(people),
            }
        )
    seeds = [w["seed"] for w in worlds]
    model = scorecard.fit(
        features.stack(tables),
        rows,
        labels,
        training={
            "world_seed": seeds[0] if len(seeds) == 1 else seeds,
            "worlds": worlds,
            "parties_used": "all" if all_parties else "training split",
            "reproduce": _reproduce(worlds, all_parties),
        },
    )
    return Fitted(model.save(out), len(rows), len(worlds))


def cmd_fit(args: argparse.Namespace) -> int:
    fitted = fit_worlds(
        [Path(d) for d in args.world],
        Path(args.out),
        all_parties=args.all_parties,
        db=args.db,
        chain=args.chain,
        confirmations=args.confirmations,
    )
    print(f"model {fitted.version} fitted on {fitted.parties} parties of {fitted.worlds} world(s); saved to {args.out}")
    return 0


def _reproduce(worlds: list[dict[str, Any]], all_parties: bool) -> str:
    """The commands that make the same model again: a world is deterministic in its settings (and in the shipped
    model its play prices financing with, ``scenarios.credit``). Worlds of one size: ``scf score generalise
    --play-only`` plays and indexes them all into DIR (each seed once), then ``scf score fit`` on them."""
    fit = " --confirmations 0 --out MODEL.json" + (" --all-parties" if all_parties else "")
    sizes = {(w["firms"], w["months"], w["holdout_months"]) for w in worlds}
    seeds_given = [w["seed"] for w in worlds]
    if len(sizes) == 1 and all(isinstance(x, int) for x in seeds_given) and len(set(seeds_given)) == len(worlds):
        ((firms, months, holdout),) = sizes
        seeds = ",".join(str(x) for x in seeds_given)
        dirs = " ".join(f"--world DIR/world-s{w['seed']}-{firms}x{months}" for w in worlds)
        return (
            f"scf score generalise --play-only --seeds {seeds} --firms {firms} --months {months} "
            f"--holdout-months {holdout} --out DIR; scf score fit {dirs}{fit}"
        )
    plays = "; ".join(
        f"scf simulate --firms {w['firms']} --months {w['months']} --seed {w['seed']} "
        f"--holdout-months {w['holdout_months']} --fresh --out DIR{k} --chain URL{k}"
        for k, w in enumerate(worlds, start=1)
    )
    dirs = " ".join(f"--world DIR{k}" for k in range(1, len(worlds) + 1))
    return (
        f"{plays}; index each chain into DIRk/ledger.db (ledger.index.indexer.Indexer over world.json's addresses, "
        f"from block 0, 0 confirmations); scf score fit {dirs}{fit}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "party",
        nargs="?",
        metavar="PARTY|evaluate|fit|generalise",
        help="the party's address, or the action evaluate / fit / generalise",
    )
    parser.add_argument("--all", action="store_true", help="every supplier and core enterprise")
    parser.add_argument("--as-of-block", type=int, help="decide as of this block (default: the last final block)")
    parser.add_argument("--json", action="store_true", help="canonical JSON (byte-identical for the same inputs)")
    parser.add_argument(
        "--model",
        help=f"model file (default: {MODEL_ENV}, else the shipped default model); evaluate: measure this model "
        "instead of fitting one",
    )
    parser.add_argument("--publish", action="store_true", help="sign and publish each scored limit to CreditRegistry")
    parser.add_argument("--bank", default="dev-bank", help="the bank's address, or dev-bank on a devnet")
    parser.add_argument("--keystore", help="the bank's encrypted keystore (with --bank ADDR)")
    parser.add_argument("--deployment", help="deployment record (default: deployments/<chainId>.json)")
    parser.add_argument(
        "--world",
        action="append",
        help="evaluate / fit: the world's directory (world.json, ground_truth.json); fit: repeat it to fit on the "
        "suppliers of several worlds",
    )
    parser.add_argument(
        "--out",
        help="fit: where to write the model; evaluate: also save the fitted model there; generalise: keep the "
        "worlds and generalisation.json there",
    )
    parser.add_argument(
        "--all-parties",
        action="store_true",
        help="fit: on every supplier, not only the training split; evaluate --model: measure on every supplier "
        "(honest only for a model that never saw this world)",
    )
    parser.add_argument("--db", help="indexer database URL (default: SCF_DB_URL, else the devnet's SQLite file)")
    parser.add_argument(
        "--confirmations",
        type=int,
        default=DEFAULT_CONFIRMATIONS,
        help=f"blocks below the indexed head that count as final (default {DEFAULT_CONFIRMATIONS})",
    )
    parser.add_argument("--chain", help=CHAIN_HELP)
    generalise.add_arguments(parser)


def cmd(args: argparse.Namespace) -> int:
    """Runs the action; domain errors become a message and exit status 2."""
    from ledger.errors import LedgerError
    from scoring.errors import InvalidRequest, ScoringError

    try:
        if args.party == "generalise":
            return generalise.cmd_generalise(
                args, load_model(args.model), args.model or os.environ.get(MODEL_ENV) or str(DEFAULT_MODEL)
            )
        if args.party in ("evaluate", "fit"):
            if not args.world:
                raise InvalidRequest(f"`scf score {args.party}` needs --world DIR")
            if args.party == "fit" and not args.out:
                raise InvalidRequest("`scf score fit` needs --out MODEL.json")
            return cmd_evaluate(args) if args.party == "evaluate" else cmd_fit(args)
        return cmd_score(args)
    except (ScoringError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scf score`` to ``scf``'s subcommands (``subparsers`` of the top-level parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "score",
        help="credit decisions from verified history; evaluate and fit models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``scf score ...`` on its own: ``python -m api.cli.score PARTY ...``."""
    parser = argparse.ArgumentParser(
        prog="scf score", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return cmd(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
