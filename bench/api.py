"""API latency and throughput under concurrent load on loopback: reads and credit decisions, one and two workers.

    .venv/bin/python bench/api.py [--quick] [--seconds S] [--concurrency 1,4,16] [--workers 1,2]

Starts its own anvil on a free loopback port (and stops it), deploys the ledger, writes a
history with write_path's workloads (order lifecycles, receivable lifecycles; untimed),
indexes it into a fresh SQLite file, then, for each worker count, starts two servers on free
loopback ports with the same uvicorn settings (that many worker processes, ``log_level=warning``):

* value: ``python -m api.cli.serve serve --workers N`` (the real ``/v1`` app). Two loads:
  - **reads**, a mix of the main reads signed in as a buyer and as an auditor:
    ``GET /v1/orders?limit=20``, ``/v1/orders/{id}`` (the buyer's), ``/v1/receivables/{id}``
    (with its tree), ``/v1/parties/me``;
  - **decisions**: ``GET /v1/credit/decisions/{party}`` for random trading parties, signed in
    as a bank (which may read any supplier's decision) and as an auditor, as of the indexed
    head (confirmations 0: the history does not move). Every worker builds the feature table
    once (its warm-up thread does, or the first request); then decisions come from the cache.
* ceiling: a bare ASGI app (no framework) answering a constant small JSON, run by uvicorn with
  the same worker count: what uvicorn and the loopback give with no project code. (It was a
  one-route FastAPI app until the hot reads, ``api.v1.hot_reads``, came to answer in front of
  FastAPI's router: they then ran 1.3-1.6x that app's pace, so it was no ceiling.) It is
  served as ``scf serve`` serves (``api.cli.serve.listening_sockets`` and ``run_workers``: with N
  workers on Linux, one SO_REUSEPORT socket each), so that both spread the clients' connections
  over their workers alike: with one shared socket, the first worker to wake accepted most of the
  16 connections of a cell, in one server and not the other, and the ratio swung with it.

Each (workers, concurrency) cell runs ceiling, reads, decisions for ``--seconds`` each under that
many clients (aiohttp, one process, keep-alive), in ``ROUNDS`` rounds that take turns (ceiling,
reads, decisions, then again), so that load from elsewhere on the machine weighs on the ceiling
and the value alike, and each round opens its connections anew (spread anew over the workers):
one run of each, one after the other, saw the ceiling alone go from 3,489 to 1,695 req/s between
two 3 s runs on a loaded machine. A single
client also gives the latency of one request with no queue. The **baseline** of a decision is
what a route scoring from scratch pays per request: read the history from SQL, build the
feature table, decide (``scf score PARTY``), timed in this process. The headline (value,
ceiling, ratio) is reads req/s at the highest concurrency with the most workers; every cell is
in ``details``. Latencies: lower is better. Each cell also gives the CPU per request
(``cpu_us_per_request``) of the server's process tree and of the client (this process), read from
``/proc`` and ``os.times`` around each run: the ratio's gap in microseconds, without the queueing
in the latencies; with one worker, each read route also runs alone once (``cpu_us_per_read_route``).
Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import aiohttp
import httpx
import write_path
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from indexer import Workload, write_history

from ledger.index.indexer import Indexer
from ledger.index.sql import open_engine
from ledger.toolchain import compiler

#: Rounds per cell: ceiling, reads and decisions take turns, ``--seconds / ROUNDS`` each (see the module notes).
ROUNDS = 3
TARGET_RPS = 300
TARGET_P50_MS = 20.0
TARGET_DECISION_P50_MS = 50.0
FULL = Workload(events=0, orders=1_000, receivables=400, holders=0, runs=2)
QUICK = Workload(events=0, orders=200, receivables=100, holders=0, runs=2)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "scoring" / "models" / "default.json"

# A bare ASGI app, no framework: the hot reads (api.v1.hot_reads) answer in front of FastAPI's router, and
# measured against a one-route FastAPI app (the ceiling until then) they ran 1.3-1.6x its pace: no ceiling.
CEILING_APP = """
BODY = b'{"status":"ok","chainId":31337,"items":[1,2,3]}'
HEADERS = [(b"content-length", b"%d" % len(BODY)), (b"content-type", b"application/json")]
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""
# How the ceiling is served: as scf serve does (api.cli.serve's listening_sockets and run_workers): with N
# workers, one SO_REUSEPORT socket per worker on Linux (a shared one lets one worker accept most of the
# connections), each made with IPPROTO_TCP named (uvicorn's own leaves it 0 and asyncio then skips TCP_NODELAY:
# ~40 ms per answer), and through the same HTTP protocol (api.cli.corked: an answer in one write, not two; it saved the
# ceiling 8 % of its server's and its client's CPU per answer, the reads 5-20 % and 25-30 %).
CEILING_RUN = """
import sys
sys.path.insert(0, sys.argv[3])
import uvicorn
from api.cli.corked import CorkedH11Protocol
from api.cli.serve import listening_sockets, run_workers
port, workers = int(sys.argv[1]), int(sys.argv[2])
if workers == 1:
    uvicorn.run("ceiling_app:app", host="127.0.0.1", port=port, log_level="warning", http=CorkedH11Protocol)
else:
    config = uvicorn.Config(
        "ceiling_app:app", host="127.0.0.1", port=port, workers=workers, log_level="warning", http=CorkedH11Protocol
    )
    run_workers(config, listening_sockets("127.0.0.1", port, workers))
"""

Pick = Callable[[random.Random], tuple[str, str, dict[str, str]]]


def log(message: str) -> None:
    print(f"[api {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f}s")


def sign_in(base: str, account: LocalAccount) -> dict[str, str]:
    challenge = httpx.post(f"{base}/v1/auth/challenge", json={"address": account.address}).json()
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
    token = httpx.post(
        f"{base}/v1/auth/token", json={"nonce": challenge["nonce"], "signature": "0x" + signature.hex()}
    ).json()["accessToken"]
    return {"Authorization": f"Bearer {token}"}


@dataclasses.dataclass
class Load:
    requests: int
    errors: int
    seconds: float
    latencies: dict[str, list[float]]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float, name: str | None = None) -> float:
        values = sorted(v for k, vs in self.latencies.items() if name in (None, k) for v in vs)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    @classmethod
    def merged(cls, loads: list[Load]) -> Load:
        """The rounds of one load as one: their requests, errors, seconds and latencies added up."""
        latencies: dict[str, list[float]] = {}
        for load in loads:
            for name, values in load.latencies.items():
                latencies.setdefault(name, []).extend(values)
        return cls(
            sum(x.requests for x in loads), sum(x.errors for x in loads), sum(x.seconds for x in loads), latencies
        )

    def summary(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(0.5), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "errors": self.errors,
        }


async def _drive(base: str, pick: Pick, seconds: float, concurrency: int) -> Load:
    # aiohttp, not httpx, drives the load: httpx's async pool itself tops out near 120 req/s at
    # 32 concurrent requests on this machine (285 at one), so it would measure the client.
    latencies: dict[str, list[float]] = {}
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:
        stop_at = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                name, path, headers = pick(rng)
                started = time.perf_counter()
                async with session.get(path, headers=headers) as answer:
                    await answer.read()
                    status = answer.status
                latencies.setdefault(name, []).append(time.perf_counter() - started)
                if status != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Load(sum(len(v) for v in latencies.values()), errors, elapsed, latencies)


def drive(base: str, pick: Pick, seconds: float, c: int) -> Load:
    return asyncio.run(_drive(base, pick, seconds, c))


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server so far: the process and its live descendants (uvicorn's workers)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += write_path.cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile (a worker replaced): what it used is not counted
    return total


@dataclasses.dataclass(frozen=True)
class Served:
    """The two servers of a cell: base URLs and the pids whose process trees do the serving."""

    api: str
    ceiling: str
    api_pid: int
    ceiling_pid: int


@contextmanager
def servers(
    tmp: Path, workers: int, devnet_url: str, db_url: str, model: Path, env: dict[str, str]
) -> Iterator[Served]:
    """The API and the ceiling app, each with ``workers`` uvicorn processes."""
    api_port, ceiling_port = free_port(), free_port()
    (tmp / "ceiling_app.py").write_text(CEILING_APP)
    api_command = [sys.executable, "-m", "api.cli.serve", "serve", "--port", str(api_port), "--chain", devnet_url]
    api_options = ["--db", db_url, "--workers", str(workers), "--model", str(model), "--confirmations", "0", "--devnet"]
    started = [
        subprocess.Popen([*api_command, *api_options], cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
        subprocess.Popen(
            [sys.executable, "-c", CEILING_RUN, str(ceiling_port), str(workers), str(ROOT)], cwd=tmp, env=env
        ),
    ]
    try:
        api, ceiling = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ceiling_port}"
        wait_for(f"{api}/v1/health")
        wait_for(f"{ceiling}/ping")
        yield Served(api, ceiling, started[0].pid, started[1].pid)
    finally:
        for server in started:
            server.terminate()
        for server in started:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def project_first() -> None:
    """bench/ last on the path (its modules are imported by now): bench/scoring.py must not hide ``scoring``."""
    here = str(Path(__file__).resolve().parent)
    while here in sys.path:
        sys.path.remove(here)
    sys.path.append(here)


def bench_model(tmp: Path) -> tuple[Path, str]:
    """The shipped model if this scorer can load it, else one fitted on a synthetic world (latency does
    not depend on the model's points, only on the scorer's work)."""
    from scoring import evaluate
    from scoring.errors import ModelError
    from scoring.scorecard import Model
    from tests.support import synthetic  # importable from the repo root, first on sys.path (above)
    from tests.support.fitted import truth_of

    try:
        Model.load(DEFAULT_MODEL)
        return DEFAULT_MODEL, "the shipped scoring/models/default.json"
    except ModelError as exc:
        log(f"shipped model unusable ({exc}); fitting one on a synthetic world")
    world = synthetic.generate(160, seed=3)
    _report, model = evaluate.evaluate(world.history(), truth_of(world))
    model.save(tmp / "model.json")
    return tmp / "model.json", "fitted on a 160-party synthetic world (the shipped model does not load)"


def from_scratch(db_url: str, model_file: Path, parties: list[str], repeats: int) -> list[float]:
    """Seconds per decision when each one reads the history and builds the feature table (no cache)."""
    from scoring import features
    from scoring.decision import Scorer
    from scoring.scorecard import Model
    from scoring.source import SqlSource

    model = Model.load(model_file)
    times = []
    for k in range(repeats):
        started = time.perf_counter()
        engine = open_engine(db_url)
        Scorer(features.build(SqlSource(engine).history(None, 0)), model).decide(parties[k % len(parties)])
        engine.dispose()
        times.append(time.perf_counter() - started)
    return times


#: The reads' mix, one route in four each.
READ_ROUTES = ("orders_list", "order", "receivable", "party_me")


@dataclasses.dataclass
class Mixes:
    """The requests the load sends: tokens of a buyer, an auditor and a bank, and ids to ask for."""

    buyer: dict[str, str]
    auditor: dict[str, str]
    bank: dict[str, str]
    orders: list[int]
    roots: list[int]
    trading: list[str]

    @classmethod
    def sign_in(cls, api: str, accounts: dict[str, LocalAccount]) -> Mixes:
        buyer = sign_in(api, write_path.party("buyer", 0))
        auditor, bank = sign_in(api, accounts["auditor"]), sign_in(api, accounts["bank"])
        orders = [o["orderId"] for o in httpx.get(f"{api}/v1/orders?limit=200", headers=buyer).json()["items"]]
        roots = [r["rootId"] for r in httpx.get(f"{api}/v1/receivables?limit=200", headers=auditor).json()["items"]]
        members = httpx.get(f"{api}/v1/parties?limit=200", headers=auditor).json()
        trading = [m["address"] for m in members if {"supplier", "core"} & set(m["roles"])]
        assert orders and roots and trading, (orders, roots, trading)
        return cls(buyer, auditor, bank, orders, roots, trading)

    def read(self, name: str, rng: random.Random) -> tuple[str, str, dict[str, str]]:
        if name == "orders_list":
            return name, "/v1/orders?limit=20", self.buyer
        if name == "order":
            return name, f"/v1/orders/{rng.choice(self.orders)}", self.buyer
        if name == "receivable":
            return name, f"/v1/receivables/{rng.choice(self.roots)}", self.auditor
        return name, "/v1/parties/me", self.buyer

    def reads(self, rng: random.Random) -> tuple[str, str, dict[str, str]]:
        return self.read(READ_ROUTES[rng.randrange(len(READ_ROUTES))], rng)

    def route(self, name: str) -> Pick:
        return lambda rng: self.read(name, rng)

    def decisions(self, rng: random.Random) -> tuple[str, str, dict[str, str]]:
        who = self.bank if rng.randrange(2) else self.auditor
        return "decision", f"/v1/credit/decisions/{rng.choice(self.trading)}", who


def ping(_rng: random.Random) -> tuple[str, str, dict[str, str]]:
    return "ping", "/ping", {}


@dataclasses.dataclass
class Timed:
    """A load's rounds with the CPU the server (its process tree) and this client used meanwhile."""

    loads: list[Load] = dataclasses.field(default_factory=list)
    server_s: float = 0.0
    client_s: float = 0.0

    def run(self, pid: int, base: str, pick: Pick, seconds: float, c: int) -> None:
        server, client = tree_cpu(pid), own_cpu()
        self.loads.append(drive(base, pick, seconds, c))
        self.server_s += tree_cpu(pid) - server
        self.client_s += own_cpu() - client

    def merged(self) -> Load:
        return Load.merged(self.loads)

    def cpu_us(self) -> dict[str, float]:
        """Microseconds of CPU per request: what one answer costs the server, and the client that asked."""
        requests = max(1, sum(load.requests for load in self.loads))
        return {"server": round(self.server_s / requests * 1e6, 1), "client": round(self.client_s / requests * 1e6, 1)}


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def measure(workers: int, served: Served, mixes: Mixes, levels: list[int], seconds: float) -> dict[str, dict[str, Any]]:
    """Ceiling, reads and decisions at each concurrency level against one pair of servers."""
    api, ceiling_url = served.api, served.ceiling
    first = time.perf_counter()
    answer = httpx.get(f"{api}/v1/credit/decisions/{mixes.trading[0]}", headers=mixes.bank, timeout=120)
    assert answer.status_code == 200, answer.text
    first_ms = (time.perf_counter() - first) * 1000
    drive(api, mixes.reads, 1.0, max(levels))  # warm-up: connections, caches
    drive(api, mixes.decisions, 2.0, max(levels))  # every worker's table built and its decisions cached
    drive(ceiling_url, ping, 1.0, max(levels))
    cells: dict[str, dict[str, Any]] = {}
    for c in levels:
        top, got, decided = Timed(), Timed(), Timed()
        each = seconds / ROUNDS
        for _round in range(ROUNDS):
            top.run(served.ceiling_pid, ceiling_url, ping, each, c)
            got.run(served.api_pid, api, mixes.reads, each, c)
            decided.run(served.api_pid, api, mixes.decisions, each, c)
        ceiling, reads, decisions = top.merged(), got.merged(), decided.merged()
        cells[f"w{workers}_c{c}"] = {
            "workers": workers,
            "concurrency": c,
            "ceiling": ceiling.summary(),
            "reads": reads.summary(),
            "decisions": decisions.summary(),
            "reads_per_route_ms": {
                n: {"p50": round(reads.percentile(0.5, n), 2), "p99": round(reads.percentile(0.99, n), 2)}
                for n in sorted(reads.latencies)
            },
            "cpu_us_per_request": {"ceiling": top.cpu_us(), "reads": got.cpu_us(), "decisions": decided.cpu_us()},
        }
        log(
            f"{workers} worker(s), {c} client(s): ceiling {ceiling.rps:.0f} req/s p50 "
            f"{ceiling.percentile(0.5):.1f} ms; reads {reads.rps:.0f} req/s p50 {reads.percentile(0.5):.1f} ms "
            f"p99 {reads.percentile(0.99):.1f}; decisions {decisions.rps:.0f} req/s; server CPU per request "
            f"{top.cpu_us()['server']:.0f} / {got.cpu_us()['server']:.0f} / {decided.cpu_us()['server']:.0f} us"
        )
    cells[f"w{workers}_c{levels[0]}"]["first_decision_ms"] = round(first_ms, 1)
    if workers == 1:
        cells[f"w1_c{max(levels)}"]["cpu_us_per_read_route"] = per_route(served, mixes, max(levels), seconds)
    return cells


def per_route(served: Served, mixes: Mixes, c: int, seconds: float) -> dict[str, dict[str, float]]:
    """Each read route alone (and the ceiling), one run of ``seconds / ROUNDS``: CPU per request, to see
    which route's work costs what beyond what uvicorn costs for any answer."""
    routes: dict[str, tuple[int, str, Pick]] = {"ceiling": (served.ceiling_pid, served.ceiling, ping)}
    for name in READ_ROUTES:
        routes[name] = (served.api_pid, served.api, mixes.route(name))
    costs: dict[str, dict[str, float]] = {}
    for name, (pid, base, pick) in routes.items():
        timed = Timed()
        timed.run(pid, base, pick, seconds / ROUNDS, c)
        costs[name] = {**timed.cpu_us(), "rps": round(timed.merged().rps, 1)}
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller history and shorter runs")
    parser.add_argument("--seconds", type=float, help="seconds per load run (default 6, 3 with --quick)")
    parser.add_argument("--concurrency", default="1,4,16", help="concurrent clients per cell (default 1,4,16)")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to compare (default 1,2)")
    args = parser.parse_args(argv)
    project_first()
    work = QUICK if args.quick else FULL
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    levels = sorted({int(c) for c in args.concurrency.split(",")})
    worker_counts = sorted({int(w) for w in args.workers.split(",")})
    total = time.perf_counter()
    build = compiler.build()
    cells: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        write_path.ledger_anvil(build, Path(tmp) / "anvil") as (devnet, _pid, chain, addresses),
    ):
        setup = time.perf_counter()
        write_history(chain, build, addresses, work)
        chain.mine()
        deployments = Path(tmp) / "deployments"
        deployments.mkdir()
        record = deployments / f"{chain.chain_id}.json"
        record.write_text(
            json.dumps(
                {
                    "chainId": chain.chain_id,
                    "contracts": {n: {"address": a, "blockNumber": 0} for n, a in addresses.items()},
                }
            )
        )
        db_url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        engine = open_engine(db_url)
        with Indexer.for_deployment(chain, engine, build, record, confirmations=0, reader="thread") as indexer:
            indexer.run()
        events = engine.connect().exec_driver_sql("SELECT COUNT(*) FROM events").scalar()
        engine.dispose()
        log(f"history written and indexed in {time.perf_counter() - setup:.1f}s ({chain.block_number} blocks)")
        model_file, model_note = bench_model(Path(tmp))
        env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(deployments), "SCF_DEVNET_RUN_DIR": str(Path(tmp) / "run")}

        scratch: list[float] = []
        for workers in worker_counts:
            with servers(Path(tmp), workers, devnet.url, db_url, model_file, env) as served:
                mixes = Mixes.sign_in(served.api, chain.accounts)  # type: ignore[arg-type]
                if not scratch:
                    scratch = from_scratch(db_url, model_file, mixes.trading, 3)
                    log(f"a decision from scratch: {statistics.median(scratch) * 1000:.0f} ms ({events} events)")
                cells.update(measure(workers, served, mixes, levels, seconds))

    head = cells[f"w{worker_counts[-1]}_c{levels[-1]}"]
    one = cells[f"w{worker_counts[0]}_c{levels[-1]}"]
    scratch_ms = statistics.median(scratch) * 1000
    print(
        json.dumps(
            {
                "bench": "api",
                "unit": "req/s",
                "value": head["reads"]["rps"],
                "ceiling": head["ceiling"]["rps"],
                "ratio": round(head["reads"]["rps"] / head["ceiling"]["rps"], 3),
                "baseline": one["reads"]["rps"],
                "target": TARGET_RPS,
                "n": round(head["reads"]["rps"] * seconds),
                "details": {
                    "headline": f"reads at {levels[-1]} clients with {worker_counts[-1]} worker(s); baseline: the "
                    f"same with {worker_counts[0]} worker(s)",
                    "reads_p50_ms": head["reads"]["p50_ms"],
                    "reads_p99_ms": head["reads"]["p99_ms"],
                    "target_p50_ms": TARGET_P50_MS,
                    "decision_p50_ms": head["decisions"]["p50_ms"],
                    "decision_p99_ms": head["decisions"]["p99_ms"],
                    "decision_rps": head["decisions"]["rps"],
                    "decision_target_p50_ms": TARGET_DECISION_P50_MS,
                    "decision_from_scratch_ms": round(scratch_ms, 1),
                    "decision_from_scratch": "read every event from SQL, build every party's features, decide: "
                    "what each request would cost without the cache (median of 3, in the bench process)",
                    "cells": cells,
                    "latency": "lower is better; p50/p99 over every request of a cell, queueing included "
                    "(p50 ~ clients / throughput once the server is saturated); c1 cells: one client, no queue",
                    "history": f"{work.orders} order and {work.receivables} receivable lifecycles (write_path's), "
                    f"{events} events",
                    "model": model_note,
                    "value": "scf serve --workers N answering GET /v1/orders?limit=20, /v1/orders/{id}, "
                    "/v1/receivables/{id}, /v1/parties/me (reads) and /v1/credit/decisions/{party} (decisions, as "
                    "a bank and an auditor) with bearer tokens, from SQLite",
                    "ceiling": "a bare ASGI app (no framework: the hot reads answer in front of FastAPI's router, "
                    "and beat a one-route FastAPI app 1.3-1.6x) answering a constant JSON, same uvicorn worker count, "
                    "served "
                    "as scf serve serves (api.cli.serve: with N workers, one SO_REUSEPORT socket each on Linux, so "
                    "that the kernel, not the first worker to wake, spreads the clients' connections)",
                    "seconds_per_run": seconds,
                    "rounds": f"each run of a cell in {ROUNDS} rounds of {seconds / ROUNDS:g} s, ceiling, reads and "
                    "decisions taking turns (load from elsewhere weighs on all three alike; new connections per round)",
                    "cpus": os.cpu_count(),
                    "load_1m_at_end": round(os.getloadavg()[0], 2),
                    "python": platform.python_version(),
                    "total_s": round(time.perf_counter() - total, 1),
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
