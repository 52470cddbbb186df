"""API read latency and throughput under concurrent load on loopback: ``scf serve`` against a trivial route.

    .venv/bin/python bench/api.py [--quick] [--seconds S] [--concurrency C]

Starts its own anvil on a free loopback port (and stops it), deploys the ledger, writes a
history with write_path's workloads (order lifecycles, receivable lifecycles; untimed),
indexes it into a fresh SQLite file, then starts two servers on free loopback ports, each a
uvicorn process of its own with the same settings (one worker, ``log_level=warning``):

* value: ``python -m api.serve_cli serve`` (the real ``/v1`` app: bearer token check, per-party
  SQL reads, pydantic responses). The load is a mix of the main reads, signed in as a buyer
  and as an auditor: ``GET /v1/orders?limit=20``, ``GET /v1/orders/{id}`` (the buyer's),
  ``GET /v1/receivables/{id}`` (with its tree), ``GET /v1/parties/me``;
A single client also runs the read mix alone, for the latency of one read with no queue.

* ceiling: a FastAPI app with one route answering a constant small JSON: what uvicorn,
  FastAPI and the loopback give on this machine with no project code in the way.

Each runs ``--seconds`` under ``--concurrency`` clients (aiohttp, one process, keep-alive),
ceiling, value, ceiling, value (best of two each). The credit-decision route is not measured
yet (the scorer is not wired into the API). Progress goes to stderr; the last line of stdout
is one JSON object: value (requests/s), ceiling, ratio, p50/p99 in details (lower is better).
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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

from ledger import compiler
from ledger.indexer import Indexer
from ledger.sql import open_engine

TARGET_RPS = 300
TARGET_P50_MS = 20.0
FULL = Workload(events=0, orders=1_000, receivables=400, holders=0, runs=2)
QUICK = Workload(events=0, orders=200, receivables=100, holders=0, runs=2)
ROOT = Path(__file__).resolve().parent.parent

CEILING_APP = """
from fastapi import FastAPI
import uvicorn, sys
app = FastAPI()
@app.get("/ping")
def ping() -> dict:
    return {"status": "ok", "chainId": 31337, "items": [1, 2, 3]}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def log(message: str) -> None:
    print(f"[api {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
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


async def _drive(
    base: str, pick: Callable[[random.Random], tuple[str, str, dict[str, str]]], seconds: float, concurrency: int
) -> Load:
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


def drive(base: str, pick: Callable[[random.Random], tuple[str, str, dict[str, str]]], seconds: float, c: int) -> Load:
    return asyncio.run(_drive(base, pick, seconds, c))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller history and shorter runs")
    parser.add_argument("--seconds", type=float, help="seconds per load run (default 10, 4 with --quick)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    args = parser.parse_args(argv)
    work = QUICK if args.quick else FULL
    seconds = args.seconds or (4.0 if args.quick else 10.0)
    total = time.perf_counter()
    build = compiler.build()
    servers: list[subprocess.Popen[bytes]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        write_path.ledger_anvil(build, Path(tmp) / "anvil") as (devnet, _pid, chain, addresses),
    ):
        try:
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
            engine.dispose()
            log(f"history written and indexed in {time.perf_counter() - setup:.1f}s ({chain.block_number} blocks)")

            api_port, ceiling_port = free_port(), free_port()
            env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(deployments), "SCF_DEVNET_RUN_DIR": str(Path(tmp) / "run")}
            servers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "api.serve_cli",
                        "serve",
                        "--port",
                        str(api_port),
                        "--chain",
                        devnet.url,
                        "--db",
                        db_url,
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
            )
            servers.append(subprocess.Popen([sys.executable, "-c", CEILING_APP, str(ceiling_port)], cwd=ROOT))
            api, ceiling_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ceiling_port}"
            wait_for(f"{api}/v1/health")
            wait_for(f"{ceiling_url}/ping")

            buyer = sign_in(api, write_path.party("buyer", 0))
            auditor = sign_in(api, chain.accounts["auditor"])  # type: ignore[index]
            orders = [o["orderId"] for o in httpx.get(f"{api}/v1/orders?limit=200", headers=buyer).json()["items"]]
            roots = [r["rootId"] for r in httpx.get(f"{api}/v1/receivables?limit=200", headers=auditor).json()["items"]]
            assert orders and roots, (orders, roots)
            log(f"buyer 0 has {len(orders)} orders; {len(roots)} receivables sampled")

            def reads(rng: random.Random) -> tuple[str, str, dict[str, str]]:
                kind = rng.randrange(4)
                if kind == 0:
                    return "orders_list", "/v1/orders?limit=20", buyer
                if kind == 1:
                    return "order", f"/v1/orders/{rng.choice(orders)}", buyer
                if kind == 2:
                    return "receivable", f"/v1/receivables/{rng.choice(roots)}", auditor
                return "party_me", "/v1/parties/me", buyer

            def ping(_rng: random.Random) -> tuple[str, str, dict[str, str]]:
                return "ping", "/ping", {}

            drive(api, reads, 1.0, args.concurrency)  # warm-up: connections, caches
            drive(ceiling_url, ping, 1.0, args.concurrency)
            single = drive(api, reads, seconds / 2, 1)  # one client: the latency of a read with no queue
            log(f"one client: {single.rps:.0f} req/s, p50 {single.percentile(0.5):.2f} ms")
            values: list[Load] = []
            ceilings: list[Load] = []
            for run in range(work.runs):
                ceilings.append(drive(ceiling_url, ping, seconds, args.concurrency))
                values.append(drive(api, reads, seconds, args.concurrency))
                log(
                    f"run {run + 1}: ceiling {ceilings[-1].rps:.0f} req/s (p50 {ceilings[-1].percentile(0.5):.1f} ms); "
                    f"reads {values[-1].rps:.0f} req/s (p50 {values[-1].percentile(0.5):.1f} ms, "
                    f"p99 {values[-1].percentile(0.99):.1f} ms, {values[-1].errors} errors)"
                )
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()

    best = max(values, key=lambda load: load.rps)
    top = max(ceilings, key=lambda load: load.rps)
    names = sorted(best.latencies)
    print(
        json.dumps(
            {
                "bench": "api",
                "unit": "req/s",
                "value": round(best.rps, 1),
                "ceiling": round(top.rps, 1),
                "ratio": round(best.rps / top.rps, 3),
                "baseline": None,
                "target": TARGET_RPS,
                "n": best.requests,
                "details": {
                    "reads_p50_ms": round(best.percentile(0.5), 2),
                    "one_client_p50_ms": round(single.percentile(0.5), 2),
                    "one_client_p99_ms": round(single.percentile(0.99), 2),
                    "one_client_rps": round(single.rps, 1),
                    "reads_p99_ms": round(best.percentile(0.99), 2),
                    "target_p50_ms": TARGET_P50_MS,
                    "latency": "lower is better; reads_* over every request of the best run at the concurrency below "
                    "(queueing included: p50 ~ concurrency / throughput); one_client_* with a single client",
                    "per_route_ms": {
                        n: {"p50": round(best.percentile(0.5, n), 2), "p99": round(best.percentile(0.99, n), 2)}
                        for n in names
                    },
                    "errors": best.errors,
                    "ceiling_p50_ms": round(top.percentile(0.5), 2),
                    "ceiling_p99_ms": round(top.percentile(0.99), 2),
                    "concurrency": args.concurrency,
                    "seconds_per_run": seconds,
                    "runs": [round(v.rps, 1) for v in values],
                    "ceiling_runs": [round(c.rps, 1) for c in ceilings],
                    "history": f"{work.orders} order and {work.receivables} receivable lifecycles (write_path's)",
                    "value": "scf serve (uvicorn, one worker) answering a mix of GET /v1/orders?limit=20, "
                    "/v1/orders/{id}, /v1/receivables/{id}, /v1/parties/me with bearer tokens, from SQLite",
                    "ceiling": "a one-route FastAPI app answering a constant JSON, same uvicorn settings",
                    "baseline": "none measured: there is no naive API to compare with; the ceiling bounds the value",
                    "decision": "not measured: credit decisions are not served by the API yet",
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
