"""``scf serve``: the ledger's HTTP API under ``/v1`` (uvicorn), optionally with the indexer alongside.

    scf serve [--host 127.0.0.1] [--port 8000] [--chain devnet|embedded|URL] [--db URL]
              [--keystore RELAYER.json] [--domain HOST:PORT] [--index]

The API reads the indexer's database (``--db``, else ``SCF_DB_URL``, else the devnet's SQLite
file) and the chain; ``--index`` also runs the indexer in follow mode in this process, so
writes show up in the reads without a separate ``scf index --follow``. Secrets come from
``SCF_API_SECRET`` and ``SCF_API_DOCUMENT_KEY`` (hex; required off a devnet). The relayer,
which tops parties' gas up, is ``--keystore`` (password in ``SCF_KEYSTORE_PASSWORD``) or, on
a devnet, the dev ``relayer`` account.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.errors import ApiError
from ledger import compiler, paths
from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import load_record, record_path_for
from ledger.errors import DeploymentMissing, LedgerError
from ledger.keys import load_keystore
from ledger.sql import database_url


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.v1.app import create_app
    from api.v1.settings import Settings

    build = compiler.build()
    chain = Chain.connect(args.chain, errors=ErrorDecoder(build.artifacts.values()))
    record_path = record_path_for(paths.deployments_dir(), chain.chain_id)
    record = load_record(record_path)
    if record is None:
        raise DeploymentMissing(chain.chain_id, str(record_path))
    contracts: dict[str, Any] = record["contracts"]
    addresses = {name: str(entry["address"]) for name, entry in contracts.items()}
    relayer = load_keystore(Path(args.keystore)) if args.keystore else None
    if relayer is None and chain.accounts is not None:
        relayer = chain.accounts["relayer"]
    db_url = database_url(args.db)
    settings = Settings.from_env(
        chain, build, addresses, db_url, domain=args.domain or f"{args.host}:{args.port}", relayer=relayer
    )
    settings.start_block = min(int(entry.get("blockNumber", 0)) for entry in contracts.values())
    app = create_app(settings)
    stop = threading.Event()
    indexer_thread = _start_indexer(chain, build, db_url, record_path, stop) if args.index else None
    print(f"scf API on http://{args.host}:{args.port}/v1 (docs at /docs) for chain {chain.chain_id}; db {db_url}")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        stop.set()
        if indexer_thread is not None:
            indexer_thread.join(timeout=10)
    return 0


def _start_indexer(
    chain: Chain, build: compiler.BuildResult, db_url: str, record: Path, stop: threading.Event
) -> threading.Thread:
    from ledger.indexer import Indexer
    from ledger.sql.db import make_engine

    # A chain object of its own: the indexer's reads must not share the API's HTTP session.
    own = Chain.http(chain.endpoint, backend=chain.backend) if chain.endpoint.startswith("http") else chain
    indexer = Indexer.for_deployment(own, make_engine(db_url), build, record, reader="thread")

    def run() -> None:
        try:
            with indexer:
                indexer.run(follow=True, stop=stop)
        except LedgerError as exc:
            print(f"indexer stopped: {exc}", file=sys.stderr)

    thread = threading.Thread(target=run, name="scf-indexer", daemon=True)
    thread.start()
    return thread


def register(subparsers: Any) -> None:
    """Add ``serve`` to ``scf``'s subcommands."""
    serve = subparsers.add_parser("serve", help="run the HTTP API under /v1 (OpenAPI at /openapi.json, docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--chain", help="devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)")
    serve.add_argument("--db", help="the indexer's database URL (default: SCF_DB_URL, else the devnet's SQLite file)")
    serve.add_argument("--keystore", help="the relayer's encrypted keystore (password in SCF_KEYSTORE_PASSWORD)")
    serve.add_argument("--domain", help="the domain sign-in messages name (default: HOST:PORT)")
    serve.add_argument("--index", action="store_true", help="also run the indexer (follow mode) in this process")
    serve.set_defaults(func=cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except (LedgerError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
