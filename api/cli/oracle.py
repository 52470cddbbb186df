"""``scf oracle serve|aggregate|client``: the EPCIS oracle services and their capture clients.

``oracle_app`` and ``aggregator_app`` build a service's ASGI app from typed settings (what a test or
another process embeds); the handlers print where it listens and run it under uvicorn.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import CHAIN_HELP, KEYSTORE_PASSWORD_HELP, connect, deployed_addresses
from api.cli.contracts import build_contracts
from api.cli.errors import CommandError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

ORACLE_KINDS = ("carrier", "inspector", "customs")
DEFAULT_AGGREGATOR = "http://127.0.0.1:8700"


@dataclass(frozen=True)
class Service:
    """A service's app, the address it signs or submits as, and a line saying what it is."""

    app: Any
    address: str
    summary: str


def _key(keystore: Path | None) -> LocalAccount:
    from ledger.errors import LedgerError
    from ledger.eth.keys import load_keystore

    if keystore is None:
        raise LedgerError("a service signs with its own key: pass --keystore FILE (password in SCF_KEYSTORE_PASSWORD)")
    return load_keystore(keystore)


def oracle_app(
    *,
    kind: str,
    host: str,
    port: int,
    aggregator: str = DEFAULT_AGGREGATOR,
    keystore: Path | None = None,
    clients: str | None = None,
    db: str | None = None,
    chain: str | None = None,
    max_bytes: int | None = None,
    max_age: int | None = None,
    parse_workers: int | None = None,
) -> Service:
    """One oracle service of ``kind``: EPCIS 2.0 capture for its ``clients``, attestations signed with the
    keystore's key and handed to ``aggregator``; its captures in ``db`` (default: a SQLite file in run/).
    ``parse_workers`` processes parse large documents while the app runs (default: one per core but one,
    ``oracles.parallel.default_workers``; 0: in process)."""
    from api.aggregator_client import HttpAggregator
    from api.oracle_app import CaptureClients, create_oracle_app
    from ledger import paths
    from ledger.model.common import OracleKind
    from oracles.capture import CaptureService
    from oracles.epcis import DEFAULT_MAX_BYTES
    from oracles.parallel import default_workers
    from oracles.store import open_database
    from oracles.witness import Witness

    allowed = CaptureClients.from_env(clients)  # before anything else: no service without its clients
    if parse_workers is not None and parse_workers < 0:
        raise CommandError(f"--parse-workers is a number of processes, 0 or more; got {parse_workers}")
    workers = default_workers() if parse_workers is None else parse_workers
    build = build_contracts()
    connected = connect(chain, build)
    _, addresses = deployed_addresses(connected)
    key = _key(keystore)
    witness = Witness(
        connected,
        build,
        escrow=addresses["TradeEscrow"],
        membership=addresses["Membership"],
        key=key,
        kind=OracleKind[kind.upper()],
        max_age=max_age,
    )
    url = db or f"sqlite:///{paths.devnet_run_dir() / f'oracle-{kind}-{port}.db'}"
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    service = CaptureService(witness, HttpAggregator.at(aggregator), open_database(url), max_bytes=limit)
    state = "active" if witness.is_active() else "NOT ACTIVE on chain (captures are refused until it is)"
    parsing = f"{workers} parse worker{'s' if workers != 1 else ''}" if workers else "parsing in process"
    summary = f"{kind} oracle {key.address} ({state}) on http://{host}:{port}; aggregator {aggregator}; {parsing}"
    return Service(create_oracle_app(service, clients=allowed, parse_workers=workers), key.address, summary)


def aggregator_app(
    *, host: str, port: int, keystore: Path | None = None, db: str | None = None, chain: str | None = None
) -> Service:
    """The aggregator: a quorum of oracle signatures, then one transaction sent as the keystore's account."""
    from api.oracle_app import create_aggregator_app
    from ledger import paths
    from oracles.aggregator import Aggregator
    from oracles.store import open_database

    build = build_contracts()
    connected = connect(chain, build)
    _, addresses = deployed_addresses(connected)
    relayer = _key(keystore)
    url = db or f"sqlite:///{paths.devnet_run_dir() / f'aggregator-{port}.db'}"
    aggregator = Aggregator(
        connected,
        build,
        escrow=addresses["TradeEscrow"],
        membership=addresses["Membership"],
        relayer=relayer,
        engine=open_database(url),
    )
    summary = f"aggregator on http://{host}:{port}; submits as {relayer.address} to chain {connected.chain_id}"
    return Service(create_aggregator_app(aggregator), relayer.address, summary)


def add_client(path: Path, client_id: str) -> str:
    """Add a capture client to the clients file at ``path`` (created if missing), or give it a new secret;
    its bearer token, which is stored nowhere."""
    from api.oracle_app import CaptureClients

    clients = CaptureClients.load(path) if path.exists() else CaptureClients()
    clients, token = clients.issue(client_id)
    clients.save(path)
    return token


def remove_client(path: Path, client_id: str) -> None:
    from api.oracle_app import CaptureClients

    clients = CaptureClients.load(path) if path.exists() else CaptureClients()
    clients.without(client_id).save(path)


def _run(service: Service, host: str, port: int) -> int:
    import uvicorn

    print(service.summary)
    from api.cli.corked import CorkedH11Protocol

    uvicorn.run(service.app, host=host, port=port, log_level="warning", http=CorkedH11Protocol)
    return 0


def _keystore(args: argparse.Namespace) -> Path | None:
    return Path(args.keystore) if args.keystore else None


def cmd_oracle_serve(args: argparse.Namespace) -> int:
    service = oracle_app(
        kind=args.kind,
        host=args.host,
        port=args.port,
        aggregator=args.aggregator,
        keystore=_keystore(args),
        clients=args.clients,
        db=args.db,
        chain=args.chain,
        max_bytes=args.max_bytes,
        max_age=args.max_age,
        parse_workers=args.parse_workers,
    )
    return _run(service, args.host, args.port)


def cmd_oracle_aggregate(args: argparse.Namespace) -> int:
    service = aggregator_app(host=args.host, port=args.port, keystore=_keystore(args), db=args.db, chain=args.chain)
    return _run(service, args.host, args.port)


def cmd_oracle_client(args: argparse.Namespace) -> int:
    path = Path(args.clients)
    if args.action_client == "remove":
        remove_client(path, args.client_id)
        print(f"removed capture client {args.client_id} from {path}")
        return 0
    token = add_client(path, args.client_id)
    print(f"capture client {args.client_id} in {path}; its bearer token (shown once, stored nowhere):", file=sys.stderr)
    print(token)
    return 0


def register(subparsers: Any) -> None:
    oracle = subparsers.add_parser("oracle", help="EPCIS oracle services").add_subparsers(dest="action", required=True)
    serve = oracle.add_parser("serve", help="run one oracle service (EPCIS 2.0 capture, signed attestations)")
    serve.add_argument("--kind", required=True, choices=list(ORACLE_KINDS))
    serve.add_argument("--aggregator", default=DEFAULT_AGGREGATOR, help="the aggregator's URL")
    # None stands for oracles.epcis.DEFAULT_MAX_BYTES, resolved when the service is built (no import here).
    serve.add_argument("--max-bytes", type=int, help="largest document accepted")
    serve.add_argument("--max-age", type=int, help="refuse events older than this many seconds (default: the chain's)")
    serve.add_argument("--clients", help="capture clients file (scf oracle client add; default: SCF_ORACLE_CLIENTS)")
    # None stands for oracles.parallel.default_workers(), resolved when the service is built.
    serve.add_argument(
        "--parse-workers",
        type=int,
        metavar="N",
        help="processes that parse and hash large EPCIS documents (default: one per core but one; 0: in process)",
    )
    client = oracle.add_parser("client", help="capture clients of an oracle service").add_subparsers(
        dest="action_client", required=True
    )
    for name, text in (("add", "add a client, or give it a new secret: prints its token"), ("remove", "remove one")):
        p = client.add_parser(name, help=text)
        p.add_argument("client_id", help="the client's id (1-64 of A-Z a-z 0-9 _ -)")
        p.add_argument("--clients", required=True, help="the service's clients file (created if missing)")
        p.set_defaults(func=cmd_oracle_client)
    aggregate = oracle.add_parser("aggregate", help="run the aggregator: quorum of signatures, then one transaction")
    for p in (serve, aggregate):
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--keystore", help=f"the service's encrypted keystore {KEYSTORE_PASSWORD_HELP}")
        p.add_argument("--db", help="SQLAlchemy URL of the service's own database (default: a SQLite file in run/)")
        p.add_argument("--chain", help=CHAIN_HELP)
    serve.set_defaults(func=cmd_oracle_serve)
    aggregate.set_defaults(func=cmd_oracle_aggregate)
