"""``scf serve``: the ledger's HTTP API under ``/v1`` (uvicorn), optionally with the indexer alongside.

    scf serve [--host 127.0.0.1] [--port 8000] [--chain devnet|embedded|URL] [--db URL]
              [--keystore RELAYER.json] [--domain HOST:PORT] [--index] [--workers N]
              [--model MODEL.json] [--evaluation REPORT.json] [--confirmations N]
              [--devnet [--dev-wallet PARTIES.json]] [--rpc-timeout SECONDS] [--fingerprint-key KEY_FILE]

The API reads the indexer's database (``--db``, else ``SCF_DB_URL``, else the devnet's SQLite
file) and the chain; ``--index`` also runs the indexer in follow mode in this process, so
writes show up in the reads without a separate ``scf index --follow``. The webhook dispatcher
(``api.v1.webhooks.dispatcher``) always runs beside it, one per ``scf serve`` whatever ``--workers``:
it fills the event feed and delivers webhooks (``SCF_WEBHOOK_*`` tune it: ``DeliveryOptions.from_env``).
Secrets come from ``SCF_API_SECRET`` and ``SCF_API_WEBHOOK_KEY`` (hex, 32 random bytes each; weak ones are refused).
The relayer, which tops parties' gas up, is ``--keystore`` (password in ``SCF_KEYSTORE_PASSWORD``), else a network
file's ``relayer`` keystore.

``--devnet`` (or ``SCF_DEVNET=1``) is devnet mode, for a local devnet only: secrets may be left
unset (drawn at random per start) and the relayer defaults to the devnet's dev ``relayer``
account, whose key comes from a public mnemonic. It is never inferred from the node, whose
client version anyone can fake; ``make run`` (``scf demo run-main``) passes it. ``--dev-wallet`` (devnet
mode only) hands the web portal at ``/app`` the demo parties' keys for its dev wallet (``api.portal``).

``--rpc-timeout`` (else ``SCF_RPC_TIMEOUT``, else 2 s) bounds each JSON-RPC request of the API,
retries included: a node that is down or silent makes a route answer 503 within about that
long, and the per-request Membership check fails closed (``api.v1.auth``).

Credit decisions use ``--model`` (else ``SCF_SCORE_MODEL``, else the shipped model), as of the
indexed head less ``--confirmations`` (else ``SCF_SCORE_CONFIRMATIONS``, else 12);
``--evaluation`` is the report ``GET /v1/credit/evaluation`` serves (``scf score evaluate --json``).

``--workers N`` runs N uvicorn worker processes on one port: on Linux each listens on a socket of its own,
all bound to that port with SO_REUSEPORT, so that the kernel spreads new connections over the workers
(``listening_sockets``; one shared socket let whichever worker woke first accept most of them). What they
share is safe across processes: tokens are HMAC-signed under one secret (drawn once here on a devnet and handed to
every worker, so a token from one worker verifies on all), challenges and idempotency records
live in SQL (a unique key decides races), the relayer's top-ups take a host-wide file lock and
re-read its nonce. Each worker keeps its own feature-table cache; the schema is migrated once,
here, before the workers start: each worker re-imports this module by path (``WORKER_APP``) and
rebuilds its ``ServeOptions`` from ``SCF_SERVE_WORKER_ARGS``.

uvicorn speaks HTTP/1.1 through ``api.cli.corked``: an answer goes out in one write, its headers and
body together, not in two (less CPU per answer on both ends; the module says how much).

In process: ``serve(ServeOptions(...))`` serves until stopped (what ``scf demo run-main`` calls).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import CHAIN_HELP, DB_HELP, KEYSTORE_PASSWORD_HELP
from api.cli.errors import CommandError, dispatch

if TYPE_CHECKING:
    from api.v1.settings import Settings
    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain

WORKER_ARGS_ENV = "SCF_SERVE_WORKER_ARGS"
#: What each uvicorn worker process imports: the factory below, by module path.
WORKER_APP = "api.cli.serve:worker_app"
RPC_TIMEOUT_ENV = "SCF_RPC_TIMEOUT"
DEVNET_ENV_NAME = "SCF_DEVNET"  # api.v1.settings.DEVNET_ENV, named here without importing the API at parse time
#: The API's deadline per JSON-RPC request: a route must answer 503 within 3 s when the node is silent.
API_RPC_TIMEOUT = 2.0


class ServeError(CommandError):
    """The API cannot be served as asked (the address is taken, say)."""


@dataclass(frozen=True)
class ServeOptions:
    """``scf serve``'s options, typed; what the workers of ``--workers N`` rebuild from the environment."""

    host: str = "127.0.0.1"
    port: int = 8000
    chain: str | None = None
    db: str | None = None
    keystore: str | None = None
    domain: str | None = None
    index: bool = False
    workers: int = 1
    model: str | None = None
    evaluation: str | None = None
    confirmations: int | None = None
    devnet: bool = False
    rpc_timeout: float | None = None
    dev_wallet: str | None = None
    fingerprint_key: str | None = None

    @classmethod
    def of(cls, args: ServeOptions | argparse.Namespace) -> ServeOptions:
        """The options of a parsed ``scf serve`` command line (its other attributes are ignored)."""
        if isinstance(args, ServeOptions):
            return args
        given = vars(args)
        return cls(**{f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given})


def _credit_env(options: ServeOptions) -> None:
    """The credit options as the environment ``Settings.from_env`` reads (and worker processes inherit)."""
    from api.v1.settings import CONFIRMATIONS_ENV, EVALUATION_ENV, MODEL_ENV

    for value, name in ((options.model, MODEL_ENV), (options.evaluation, EVALUATION_ENV)):
        if value:
            os.environ[name] = str(Path(value).resolve())
    if options.confirmations is not None:
        os.environ[CONFIRMATIONS_ENV] = str(options.confirmations)


def _settings(args: ServeOptions | argparse.Namespace) -> tuple[Settings, Chain, Path, str]:
    """The API's settings from the options and the environment, the chain, the deployment record, the db."""
    from api.cli.common import connect, network_profile
    from api.cli.contracts import build_contracts
    from api.v1.settings import DEVNET_ENV, Settings, devnet_mode
    from ledger.eth.keys import load_keystore
    from ledger.index.sql import database_url
    from ledger.toolchain.deploy import record_addresses, recorded_deployment

    options = ServeOptions.of(args)
    build = build_contracts()
    devnet = options.devnet or devnet_mode(os.environ.get(DEVNET_ENV))
    chain = connect(options.chain, build, timeout=rpc_timeout(options))
    record_path, record = recorded_deployment(chain.chain_id)
    addresses = record_addresses(record)
    keystore = Path(options.keystore) if options.keystore else None
    profile = network_profile(options.chain)
    if keystore is None and profile is not None:
        keystore = profile.keystores.get("relayer")
    relayer = load_keystore(keystore) if keystore is not None else None
    if relayer is None and devnet and chain.accounts is not None:
        relayer = chain.accounts["relayer"]
    db_url = database_url(options.db)
    settings = Settings.from_env(
        chain,
        build,
        addresses,
        db_url,
        domain=options.domain or f"{options.host}:{options.port}",
        relayer=relayer,
        devnet=devnet,
    )
    if options.dev_wallet:
        if not devnet:
            raise ServeError("--dev-wallet hands the portal the demo parties' keys: devnet mode (--devnet) only")
        settings.dev_wallet = Path(options.dev_wallet).resolve()
    if options.fingerprint_key:
        from api.v1.settings import fingerprint_key_of

        settings.fingerprint_key = fingerprint_key_of(Path(options.fingerprint_key).resolve())
    settings.start_block = min(int(entry.get("blockNumber", 0)) for entry in record["contracts"].values())
    return settings, chain, record_path, db_url


def rpc_timeout(options: ServeOptions | argparse.Namespace) -> float:
    """``--rpc-timeout``, else ``SCF_RPC_TIMEOUT``, else ``API_RPC_TIMEOUT``."""
    value = getattr(options, "rpc_timeout", None) or os.environ.get(RPC_TIMEOUT_ENV) or API_RPC_TIMEOUT
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ServeError(f"{RPC_TIMEOUT_ENV} must be a number of seconds, got {value!r}") from exc
    if not 0 < seconds <= 600:
        raise ServeError(f"the RPC timeout must be between 0 and 600 s, got {seconds}")
    return seconds


def serve(options: ServeOptions) -> int:
    """Serve the API as ``options`` say, in the foreground, until uvicorn stops (Ctrl-C, SIGTERM)."""
    import uvicorn

    from api.cli.common import finality
    from api.cli.corked import CorkedH11Protocol
    from api.v1.app import create_app

    # A network file's finality depth is what counts as final, for decisions and the indexer alike.
    options = dataclasses.replace(options, confirmations=finality(options.chain, options.confirmations))
    _credit_env(options)
    if options.workers > 1:
        return _serve_workers(options)
    settings, chain, record_path, db_url = _settings(options)
    app = create_app(settings)
    stop = threading.Event()
    following = options.index
    indexer_thread = _start_indexer(chain, settings.build, db_url, record_path, stop, options) if following else None
    dispatcher_thread = _start_dispatcher(settings, stop)
    print(
        f"scf API on http://{options.host}:{options.port}/v1 (docs at /docs, portal at /app) for chain "
        f"{chain.chain_id}; db {db_url}"
    )
    try:
        uvicorn.run(app, host=options.host, port=options.port, log_level="warning", http=CorkedH11Protocol)
    finally:
        stop.set()
        for thread in (indexer_thread, dispatcher_thread):
            if thread is not None:
                thread.join(timeout=10)
    return 0


def _serve_workers(options: ServeOptions) -> int:
    import uvicorn

    from api.cli.corked import CorkedH11Protocol
    from api.v1 import migrate
    from api.v1.settings import SECRET_ENV, WEBHOOK_KEY_ENV
    from ledger.index.sql.db import make_engine, upgrade

    settings, chain, record_path, db_url = _settings(options)  # checks everything once, before any worker starts
    # Every worker must sign and check tokens, and seal webhook secrets, under the same secrets.
    os.environ.setdefault(SECRET_ENV, settings.token_secret.hex())
    os.environ.setdefault(WEBHOOK_KEY_ENV, settings.webhook_key.hex())
    engine = make_engine(db_url)
    upgrade(engine)  # once here: N workers migrating one database at the same time would race
    migrate.create(engine if not settings.store_url else make_engine(settings.store_url))
    engine.dispose()
    os.environ[WORKER_ARGS_ENV] = json.dumps(dataclasses.asdict(options))
    stop = threading.Event()
    following = options.index
    indexer_thread = _start_indexer(chain, settings.build, db_url, record_path, stop, options) if following else None
    dispatcher_thread = _start_dispatcher(settings, stop)
    print(
        f"scf API on http://{options.host}:{options.port}/v1 (docs at /docs) for chain {chain.chain_id}; "
        f"db {db_url}; {options.workers} workers"
    )
    config = uvicorn.Config(
        WORKER_APP,
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_level="warning",
        http=CorkedH11Protocol,
    )
    try:
        run_workers(config, listening_sockets(options.host, options.port, options.workers))
    finally:
        stop.set()
        for thread in (indexer_thread, dispatcher_thread):
            if thread is not None:
                thread.join(timeout=10)
    return 0


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket for the workers, made as ``uvicorn.run(workers=N)`` makes it but with the TCP protocol
    named: asyncio sets TCP_NODELAY only on connections of a socket whose ``proto`` is IPPROTO_TCP, and
    uvicorn's leaves it 0, so every answer then waited ~40 ms on Nagle's algorithm and delayed ACKs
    (measured: 44 ms per request for a constant route, 1 ms with this socket). ``reuse_port``: one of
    several bound to the same address (``listening_sockets``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def listening_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """The workers' sockets: on Linux one per worker, all bound to ``host:port`` with SO_REUSEPORT, so that
    the kernel spreads new connections over the workers; elsewhere one they share.

    Sharing one socket, the worker whose event loop wakes first accepts every connection waiting (asyncio
    accepts up to its backlog per wake-up): 16 keep-alive connections opened at once were measured split
    16/0, 15/1 and 13/3 between two workers (12 tries: 5/11 or worse in 7), so one worker served most of the
    load while the other idled. One socket each, the kernel hashes each connection to a socket: 6/10 at worst
    in 12 tries (a hash, not a round robin: 5/11 happens too). macOS and the BSDs accept SO_REUSEPORT but do
    not spread connections with it: there the workers share one socket.
    The address is first bound without SO_REUSEPORT, so one that is taken, by another ``scf serve --workers``
    too, is refused as before instead of silently shared."""
    if workers == 1 or not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return [listening_socket(host, port)]
    listening_socket(host, port).close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(listening_socket(host, port, reuse_port=True))
            port = sockets[0].getsockname()[1]  # port 0: the one the first was given
    except ServeError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run_workers(config: Any, sockets: list[socket.socket]) -> None:
    """uvicorn's supervisor over ``config.workers`` processes: all on one shared socket, or worker i (and any
    replacement of it) on ``sockets[i]`` when there is one per worker (``listening_sockets``)."""
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess
    from uvicorn.supervisors.multiprocess import Process

    if len(sockets) == 1:
        Multiprocess(config, sockets=sockets).run()
        return
    log = logging.getLogger("uvicorn.error")

    # uvicorn's Multiprocess hands every worker the same sockets: these three of its methods are its own but
    # for the socket each worker gets (uvicorn imported here: `scf` starts without it, tests/api/cli).
    class OwnSockets(Multiprocess):
        def init_processes(self) -> None:
            for sock in sockets:
                process = Process(self.config, [sock])
                process.start()
                self.processes.append(process)

        def restart_all(self) -> None:
            for idx, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = Process(self.config, [sockets[idx]])
                new.start()
                if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                    new.kill()
                    new.join()
                    log.error(f"New child process [{new.pid}] was not ready in time; aborting the restart.")
                    return
                old.terminate()
                old.join()
                self.processes[idx] = new

        def keep_subprocess_alive(self) -> None:
            for idx, process in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                    continue
                process.kill()
                process.join()
                if process.exitcode == STARTUP_FAILURE:  # it would fail the same way on every restart
                    log.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                    self.should_exit.set()
                    return
                log.info(f"Child process [{process.pid}] died")
                replacement = Process(self.config, [sockets[idx]])
                replacement.start()
                self.processes[idx] = replacement

    OwnSockets(config, sockets=sockets).run()


def worker_app() -> Any:
    """The app of one worker process of ``scf serve --workers N`` (uvicorn's factory, in the worker)."""
    from api.v1.app import create_app

    options = ServeOptions(**json.loads(os.environ[WORKER_ARGS_ENV]))
    settings, _chain, _record, _db = _settings(options)
    return create_app(settings)


def _start_indexer(
    chain: Chain, build: BuildResult, db_url: str, record: Path, stop: threading.Event, options: ServeOptions
) -> threading.Thread:
    from api.cli.common import network_profile
    from ledger.errors import LedgerError
    from ledger.eth.chain import Chain
    from ledger.index.indexer import Indexer
    from ledger.index.sql.db import make_engine

    # A chain object of its own: the indexer's reads must not share the API's HTTP session.
    urls = getattr(chain.w3.provider, "urls", (chain.endpoint,))
    own = Chain.http(urls[0], backend=chain.backend, fallbacks=urls[1:]) if chain.endpoint.startswith("http") else chain
    engine = make_engine(db_url)
    profile = network_profile(options.chain)
    indexer = Indexer.for_deployment(
        own,
        engine,
        build,
        record,
        reader="thread",
        confirmations=options.confirmations,
        finality_depth=None if profile is None else profile.finality_depth,
    )

    def run() -> None:
        try:
            with indexer:
                indexer.run(follow=True, stop=stop)
        except LedgerError as exc:
            print(f"indexer stopped: {exc}", file=sys.stderr)

    thread = threading.Thread(target=run, name="scf-indexer", daemon=True)
    thread.start()
    return thread


def _start_dispatcher(settings: Settings, stop: threading.Event) -> threading.Thread:
    """The webhook dispatcher's thread (its own engines; it stops when ``stop`` is set)."""
    from api.v1.webhooks import DeliveryOptions, Dispatcher

    dispatcher = Dispatcher.from_settings(settings, DeliveryOptions.from_env(devnet=settings.devnet))
    thread = threading.Thread(target=dispatcher.run, args=(stop,), name="scf-webhooks", daemon=True)
    thread.start()
    return thread


def cmd_serve(args: argparse.Namespace) -> int:
    return serve(ServeOptions.of(args))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``serve`` to ``scf``'s subcommands."""
    defaults = ServeOptions()
    serve_parser = subparsers.add_parser(
        "serve", help="run the HTTP API under /v1 (OpenAPI at /openapi.json, docs at /docs)"
    )
    serve_parser.add_argument("--host", default=defaults.host)
    serve_parser.add_argument("--port", type=int, default=defaults.port)
    serve_parser.add_argument("--chain", help=CHAIN_HELP)
    serve_parser.add_argument("--db", help=DB_HELP)
    serve_parser.add_argument(
        "--keystore",
        help=f"the relayer's encrypted keystore (default: a network file's 'relayer') {KEYSTORE_PASSWORD_HELP}",
    )
    serve_parser.add_argument("--domain", help="the domain sign-in messages name (default: HOST:PORT)")
    serve_parser.add_argument("--index", action="store_true", help="also run the indexer (follow mode) in this process")
    serve_parser.add_argument(
        "--workers", type=_positive, default=defaults.workers, help="uvicorn worker processes (default 1)"
    )
    serve_parser.add_argument("--model", help="credit model file (default: SCF_SCORE_MODEL, else the shipped model)")
    serve_parser.add_argument(
        "--evaluation", help="the evaluation report to serve at /v1/credit/evaluation (scf score evaluate --json)"
    )
    serve_parser.add_argument(
        "--confirmations",
        type=int,
        help="blocks below the indexed head that count as final for decisions (default: SCF_SCORE_CONFIRMATIONS, "
        "else 12)",
    )
    serve_parser.add_argument(
        "--devnet",
        action="store_true",
        help=f"devnet mode, for a local devnet only: random secrets if unset, the dev relayer ({DEVNET_ENV_NAME}=1)",
    )
    serve_parser.add_argument(
        "--dev-wallet",
        metavar="PARTIES.json",
        help="devnet mode only: the demo parties' keys for the portal's dev wallet at /app (scf demo writes one)",
    )
    serve_parser.add_argument(
        "--rpc-timeout",
        type=float,
        help=f"seconds each JSON-RPC request may take, retries included (default: {RPC_TIMEOUT_ENV}, else "
        f"{API_RPC_TIMEOUT:g})",
    )
    serve_parser.add_argument(
        "--fingerprint-key",
        metavar="KEY_FILE",
        help="the consortium's invoice-fingerprint key file: the API then fingerprints invoices sent by number "
        "(default: SCF_FINGERPRINT_KEY_FILE; without one, clients send fingerprints: scf fingerprint)",
    )
    serve_parser.set_defaults(func=cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """``scf serve ...`` on its own: ``python -m api.cli.serve serve --port P ...`` (what the tests start)."""
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
