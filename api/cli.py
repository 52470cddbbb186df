"""The ``scf`` command line: the only place (with the HTTP service) that reads argv."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from api import audit_cli, demo_cli, index_cli, score_cli, serve_cli, simulate_cli, verify_cli
from api.errors import ApiError
from ledger import compiler, paths
from ledger.accounts import dev_accounts
from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import (
    deploy,
    enrol_dev_members,
    record_addresses,
    record_path_for,
    recorded_deployment,
    verify,
)
from ledger.devnet import Devnet
from ledger.errors import LedgerError
from ledger.keys import PASSWORD_ENV, load_keystore, write_keystore
from ledger.model.common import OracleKind
from oracles.epcis import DEFAULT_MAX_BYTES
from oracles.errors import OracleError


def _build(args: argparse.Namespace) -> compiler.BuildResult:
    return compiler.build(backend=getattr(args, "backend", None), force=getattr(args, "force", False))


def cmd_contracts_build(args: argparse.Namespace) -> int:
    result = _build(args)
    how = "cached, no source changed" if result.from_cache else f"compiled with {result.backend}"
    print(f"solc {result.compiler_version} ({how}); artifacts in {result.out_dir}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for name, artifact in sorted(result.artifacts.items()):
        if artifact.deployable:
            print(f"  {name:<20} {len(artifact.deployed_bytecode) // 2:>6} bytes runtime  ({artifact.source})")
    return 0


def _devnet(args: argparse.Namespace) -> Devnet:
    return Devnet(
        port=getattr(args, "port", None),
        mining=getattr(args, "mining", None) or "interval",
        block_time=getattr(args, "block_time", None),
    )


def cmd_devnet_up(args: argparse.Namespace) -> int:
    info = _devnet(args).up()
    verb = "reusing the anvil already running" if info.reused else f"started anvil (pid {info.pid})"
    mining = f"interval mining every {info.block_time:g}s" if info.block_time else f"mining: {info.mining}"
    print(f"{verb} at {info.url}: chain {info.chain_id}, {mining}, state {info.state_file}")
    return 0


def cmd_devnet_status(args: argparse.Namespace) -> int:
    status = _devnet(args).status()
    if args.json:
        described = status.info.to_json() if status.info else None
        summary = {"running": status.running, "blockNumber": status.block_number, "detail": status.detail}
        print(json.dumps({**summary, "devnet": described}))
        return 0 if status.running else 1
    if not status.running or status.info is None:
        print(f"devnet: {status.detail}")
        return 1
    info = status.info
    print(f"devnet running at {info.url} (pid {info.pid}, chain {info.chain_id}, block {status.block_number})")
    print(f"  client {info.client}; mining {info.mining}; state {info.state_file}; log {info.log_file}")
    for role, address in info.accounts.items():
        print(f"  {role:<10} {address}")
    return 0


def cmd_devnet_down(args: argparse.Namespace) -> int:
    print(_devnet(args).down())
    return 0


def cmd_devnet_reset(args: argparse.Namespace) -> int:
    print(_devnet(args).reset())
    return 0


def _connect(args: argparse.Namespace, build: compiler.BuildResult) -> Chain:
    return Chain.connect(getattr(args, "chain", None), errors=ErrorDecoder(build.artifacts.values()))


def cmd_deploy(args: argparse.Namespace) -> int:
    build = _build(args)
    chain = _connect(args, build)
    record = record_path_for(paths.deployments_dir(), chain.chain_id)
    if args.verify:
        addresses = verify(chain, build, record)
        print(f"verified on chain {chain.chain_id} against solc {build.compiler_version} ({record}):")
        for name, address in addresses.items():
            print(f"  {name:<20} {address}  runtime matches")
        return 0
    if args.keystore:
        deployer = load_keystore(Path(args.keystore))
    elif chain.accounts is not None:
        deployer = chain.accounts["admin"]
    else:
        raise LedgerError("deploying to a non-development network needs --keystore FILE (and SCF_KEYSTORE_PASSWORD)")
    result = deploy(chain, build, deployer, record)
    enrolled: list[str] = []
    if chain.accounts is not None and deployer.address == chain.accounts["admin"].address:
        enrolled = enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    state = "nothing changed, no-op" if not result.deployed else f"deployed {', '.join(result.deployed)}"
    print(f"chain {chain.chain_id} ({chain.endpoint}): {state}; record {record}")
    for name, address in result.addresses.items():
        print(f"  {name:<20} {address}")
    if enrolled:
        print(f"  enrolled dev members: {', '.join(enrolled)}")
    return 0


def _addresses(chain: Chain) -> dict[str, str]:
    return record_addresses(recorded_deployment(chain.chain_id)[1])


def _key(args: argparse.Namespace) -> LocalAccount:
    if not args.keystore:
        raise LedgerError("a service signs with its own key: pass --keystore FILE (password in SCF_KEYSTORE_PASSWORD)")
    return load_keystore(Path(args.keystore))


def cmd_keys_export_dev(args: argparse.Namespace) -> int:
    """A dev account's key, encrypted: so that services on the devnet start as they would anywhere."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise LedgerError(f"set {PASSWORD_ENV} to the password the keystore is encrypted with")
    account = dev_accounts()[args.role]
    path = write_keystore(account, Path(args.out), password)
    print(f"{args.role} {account.address} -> {path}")
    return 0


def cmd_oracle_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.aggregator_client import HttpAggregator
    from api.oracle_app import CaptureClients, create_oracle_app
    from oracles.capture import CaptureService
    from oracles.store import open_database
    from oracles.witness import Witness

    clients = CaptureClients.from_env(args.clients)  # before anything else: no service without its clients
    build = _build(args)
    chain = _connect(args, build)
    addresses = _addresses(chain)
    key = _key(args)
    kind = OracleKind[args.kind.upper()]
    witness = Witness(
        chain,
        build,
        escrow=addresses["TradeEscrow"],
        membership=addresses["Membership"],
        key=key,
        kind=kind,
        max_age=args.max_age,
    )
    db = args.db or f"sqlite:///{paths.devnet_run_dir() / f'oracle-{args.kind}-{args.port}.db'}"
    service = CaptureService(witness, HttpAggregator.at(args.aggregator), open_database(db), max_bytes=args.max_bytes)
    state = "active" if witness.is_active() else "NOT ACTIVE on chain (captures are refused until it is)"
    print(f"{args.kind} oracle {key.address} ({state}) on http://{args.host}:{args.port}; aggregator {args.aggregator}")
    uvicorn.run(create_oracle_app(service, clients=clients), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_oracle_client(args: argparse.Namespace) -> int:
    from api.oracle_app import CaptureClients

    path = Path(args.clients)
    clients = CaptureClients.load(path) if path.exists() else CaptureClients()
    if args.action_client == "remove":
        clients.without(args.client_id).save(path)
        print(f"removed capture client {args.client_id} from {path}")
        return 0
    clients, token = clients.issue(args.client_id)
    clients.save(path)
    print(f"capture client {args.client_id} in {path}; its bearer token (shown once, stored nowhere):", file=sys.stderr)
    print(token)
    return 0


def cmd_oracle_aggregate(args: argparse.Namespace) -> int:
    import uvicorn

    from api.oracle_app import create_aggregator_app
    from oracles.aggregator import Aggregator
    from oracles.store import open_database

    build = _build(args)
    chain = _connect(args, build)
    addresses = _addresses(chain)
    relayer = _key(args)
    db = args.db or f"sqlite:///{paths.devnet_run_dir() / f'aggregator-{args.port}.db'}"
    aggregator = Aggregator(
        chain,
        build,
        escrow=addresses["TradeEscrow"],
        membership=addresses["Membership"],
        relayer=relayer,
        engine=open_database(db),
    )
    print(f"aggregator on http://{args.host}:{args.port}; submits as {relayer.address} to chain {chain.chain_id}")
    uvicorn.run(create_aggregator_app(aggregator), host=args.host, port=args.port, log_level="warning")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="scf", description="scf-ledger: multi-tier supply-chain finance on an EVM chain")
    sub = top.add_subparsers(dest="command", required=True)

    contracts = sub.add_parser("contracts", help="Solidity sources and artifacts").add_subparsers(
        dest="action", required=True
    )
    build = contracts.add_parser("build", help="compile contracts/ (cached by source hash)")
    build.add_argument("--force", action="store_true", help="ignore the cache")
    build.add_argument(
        "--backend", choices=["auto", "native", "solcjs"], help="compiler (default: native if installed, else solc-js)"
    )
    build.set_defaults(func=cmd_contracts_build)

    devnet = sub.add_parser("devnet", help="the local anvil chain").add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("up", cmd_devnet_up, "start anvil (or reuse the one running)"),
        ("status", cmd_devnet_status, "what is running"),
        ("down", cmd_devnet_down, "stop anvil, keeping its state"),
        ("reset", cmd_devnet_reset, "stop anvil and forget its chain"),
    ):
        p = devnet.add_parser(name, help=text)
        p.add_argument("--port", type=int, help="RPC port (default 8545, or SCF_DEVNET_PORT)")
        if name == "up":
            p.add_argument(
                "--mining", choices=["interval", "auto"], help="interval (default) or a block per transaction"
            )
            p.add_argument("--block-time", type=float, help="seconds between blocks in interval mode")
        if name == "status":
            p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=func)

    dep = sub.add_parser("deploy", help="deploy the contracts (a no-op when unchanged)")
    dep.add_argument("--verify", action="store_true", help="compare deployed runtime bytecode with the local compile")
    dep.add_argument("--keystore", help="deployer's encrypted keystore (password in SCF_KEYSTORE_PASSWORD)")
    dep.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    dep.set_defaults(func=cmd_deploy)

    keys = sub.add_parser("keys", help="encrypted keystores").add_subparsers(dest="action", required=True)
    export = keys.add_parser("export-dev", help="write a dev account's key as an encrypted keystore")
    export.add_argument("role", help="dev account role (carrier, inspector, relayer, ...)")
    export.add_argument("--out", required=True, help="keystore file to write")
    export.set_defaults(func=cmd_keys_export_dev)

    oracle = sub.add_parser("oracle", help="EPCIS oracle services").add_subparsers(dest="action", required=True)
    serve = oracle.add_parser("serve", help="run one oracle service (EPCIS 2.0 capture, signed attestations)")
    serve.add_argument("--kind", required=True, choices=["carrier", "inspector", "customs"])
    serve.add_argument("--aggregator", default="http://127.0.0.1:8700", help="the aggregator's URL")
    serve.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest document accepted")
    serve.add_argument("--max-age", type=int, help="refuse events older than this many seconds (default: the chain's)")
    serve.add_argument("--clients", help="capture clients file (scf oracle client add; default: SCF_ORACLE_CLIENTS)")
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
        p.add_argument("--keystore", help="the service's encrypted keystore (password in SCF_KEYSTORE_PASSWORD)")
        p.add_argument("--db", help="SQLAlchemy URL of the service's own database (default: a SQLite file in run/)")
        p.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    serve.set_defaults(func=cmd_oracle_serve)
    aggregate.set_defaults(func=cmd_oracle_aggregate)

    index_cli.register(sub)
    audit_cli.register(sub)
    simulate_cli.register(sub)
    score_cli.register(sub)
    serve_cli.register(sub)
    verify_cli.register(sub)
    demo_cli.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (LedgerError, OracleError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


def run() -> Any:
    sys.exit(main())
