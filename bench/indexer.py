"""Indexer throughput: the ledger's events from anvil into a fresh SQLite database, end to end.

    .venv/bin/python bench/indexer.py [--quick] [--runs N] [--events N] [--reader auto|thread|process] [--profile]

Starts its own anvil on a free loopback port (and stops it), deploys the ledger and writes
a realistic history with write_path's workloads (untimed): order lifecycles (create, fund
with a permit, SHIPPED and DELIVERED attestations, confirm receipt), receivable lifecycles
(issue, three splits down the tiers, a financing, the repayment, four claims), and deposit
mints by the bank to many holders (DepositsMinted + Transfer) until the history holds
100,000+ events (25,000+ with ``--quick``).

Then, in alternating runs over the whole history:

* ceiling: raw ``eth_getLogs`` of every deployed contract with ``requests`` (JSON parsed, no
  decoding), ranges adapted to the answers as the indexer does: what the node and the wire
  allow with no project code in the way;
* value: ``ledger.index.indexer.Indexer`` catching up from the deployment into a fresh SQLite file:
  fetch, check headers, decode, digest, raw events and projections, one transaction per page;
  the database's history digest is checked against the chain's afterwards;
* baseline (once): web3's ``contract.events.E().get_logs()`` (ABI decoding by web3) over the
  whole history for a sample of event types.

Progress goes to stderr; the last line of stdout is one JSON object: value (events/s),
ceiling, ratio = value / ceiling (best runs), baseline, target, n.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import platform
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import requests
import write_path

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.eth.batch import BatchSender, FunctionEncoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import sign_typed_data, sign_typed_data_by
from ledger.eth.history import MAX_SPAN, HistoryDigest, LogDecoder, fetch_logs
from ledger.index.indexer import Indexer, Reader
from ledger.index.pages import PAGE_EVENTS, START_SPAN
from ledger.index.sql import database_digest, open_engine
from ledger.toolchain import compiler

TARGET = 20_000
TARGET_RATIO = 0.4


@dataclasses.dataclass(frozen=True)
class Workload:
    events: int  # at least this many events in the history
    orders: int  # order lifecycles
    receivables: int  # receivable lifecycles
    holders: int  # recipients of the filler mints
    runs: int  # value runs (ceiling runs: one more, around them)


FULL = Workload(100_000, 2_000, 1_000, 2_000, 2)
QUICK = Workload(25_000, 500, 250, 500, 2)


def log(message: str) -> None:
    print(f"[indexer {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the history ------------------------------------------------------------------------------


def count_logs(url: str, addresses: list[str], head: int) -> int:
    return sum(len(page) for page in raw_pages(url, addresses, head))


def write_history(chain: Chain, build: compiler.BuildResult, addresses: dict[str, str], work: Workload) -> None:
    """Order and receivable lifecycles, then mints, until the history has ``work.events`` events."""
    plan = dataclasses.replace(
        write_path.QUICK,
        buyers=100,
        suppliers=100,
        carriers=4,
        debtors=20,
        receivable_suppliers=100,
        banks=10,
    )
    escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
    tokens = TokenClient(chain, build, addresses["SettlementToken"])
    receivables = ReceivablesClient(chain, build, addresses["Receivables"])
    # Blocks of up to 250 transactions (write_path mines a block per 1,000): ~200 blocks for 100,000 events.
    sender = BatchSender(chain, chunk=250, mine_every=250, lean_signing=True)

    per_buyer = -(-work.orders // plan.buyers) + 1
    parties = write_path.admit_parties(chain, build, addresses, plan, write_path.AMOUNT * per_buyer)
    _ = tokens.domain
    done = 0
    while done < work.orders:
        count = min(500, work.orders - done)
        log(f"order lifecycles {done}..{done + count}")
        write_path.run_lifecycles(
            chain, escrow, tokens, parties, count, f"o{done}", sender, sign_typed_data, sign_typed_data_by
        )
        done += count
    rparties = write_path.admit_receivable_parties(chain, build, addresses, plan, work.receivables)
    done = 0
    while done < work.receivables:
        count = min(250, work.receivables - done)
        log(f"receivable lifecycles {done}..{done + count}")
        write_path.run_receivables(
            chain, receivables, tokens.address, rparties, count, f"r{done}", sender, sign_typed_data
        )
        done += count
    url = chain.endpoint
    watched = sorted(addresses.values())
    have = count_logs(url, watched, chain.block_number)
    assert chain.accounts is not None
    bank = chain.accounts["bank"]
    mint = FunctionEncoder(chain.contract(build["SettlementToken"], addresses["SettlementToken"]), "mint")
    holders = [write_path.party("holder", i).address for i in range(work.holders)]
    missing = max(0, work.events - have)
    mints = -(-missing // 2)  # DepositsMinted + Transfer
    log(f"{have} events so far; {mints} mints to {len(holders)} holders")
    for start in range(0, mints, 5_000):
        items = [mint.call(bank, holders[i % len(holders)], 1_000 + i) for i in range(start, min(mints, start + 5_000))]
        sender.send(items)


# -- ceiling, baseline, value --------------------------------------------------------------------


def raw_pages(url: str, addresses: list[str], head: int) -> Iterator[list[dict[str, Any]]]:
    """Every log of ``addresses`` in 0..head, raw, page by page, with the indexer's range policy."""
    session = requests.Session()
    low, span = 0, START_SPAN
    while low <= head:
        high = min(head, low + span - 1)
        query = {"fromBlock": hex(low), "toBlock": hex(high), "address": addresses}
        answer = session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [query]})
        logs: list[dict[str, Any]] = answer.json()["result"]
        yield logs
        # The indexer's range policy (ledger.index.indexer.next_span), written out.
        wanted = (high - low + 1) * PAGE_EVENTS // len(logs) if logs else span * 2
        low = high + 1
        span = max(1, min(MAX_SPAN, span * 2, max(span // 2, wanted)))


def measure_ceiling(url: str, addresses: list[str], head: int) -> dict[str, Any]:
    """The raw pages, counted and dropped as they come (nothing kept: no project code, no memory)."""
    started = time.perf_counter()
    n = requests_made = 0
    for page in raw_pages(url, addresses, head):
        n += len(page)
        requests_made += 1
    seconds = time.perf_counter() - started
    return {"events_per_s": n / seconds, "seconds": seconds, "n": n, "requests": requests_made}


def measure_baseline(chain: Chain, build: compiler.BuildResult, addresses: dict[str, str], head: int) -> dict[str, Any]:
    """web3's own decoding: ``contract.events.E().get_logs()`` per event type, over the whole history."""
    sample = (("TradeEscrow", "OrderCreated"), ("TradeEscrow", "MilestoneAttested"), ("Receivables", "PieceCreated"))
    n, started = 0, time.perf_counter()
    for name, event in sample:
        contract = chain.contract(build[name], addresses[name])
        n += len(contract.events[event]().get_logs(from_block=0, to_block=head))
    seconds = time.perf_counter() - started
    return {"events_per_s": n / seconds, "seconds": seconds, "n": n, "events": [f"{c}.{e}" for c, e in sample]}


def measure_value(
    chain: Chain,
    build: compiler.BuildResult,
    addresses: dict[str, str],
    directory: Path,
    expected: tuple[str, int],
    profiler: cProfile.Profile | None,
    reader: Reader,
    refusals: bool = True,
) -> dict[str, Any]:
    url = f"sqlite:///{directory / 'ledger.db'}"
    engine = open_engine(url)
    abis = {name: build[name].abi for name in addresses}
    indexer = Indexer(chain, engine, addresses, abis, from_block=0, confirmations=0, reader=reader, refusals=refusals)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    with indexer:
        progress = indexer.run()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    writer_cpu = time.process_time() - own
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the reader process, reaped at the end of run()
    reader_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    digest = database_digest(engine, chain.chain_id)
    if digest != expected:
        raise SystemExit(f"the database's history {digest} is not the chain's {expected}")
    engine.dispose()  # the last connection: SQLite checkpoints the WAL into the file
    size = (directory / "ledger.db").stat().st_size
    return {
        "events_per_s": progress.written / seconds,
        "seconds": seconds,
        "n": progress.written,
        "pages": progress.pages,
        "reader": progress.reader,
        "reader_process_cpu_s": round(reader_cpu, 2),
        "writer_cpu_s": round(writer_cpu, 2),
        "database_mb": round(size / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller history (25,000+ events)")
    parser.add_argument("--runs", type=int, help="indexer runs (the ceiling runs once more, around them)")
    parser.add_argument("--events", type=int, help="events to write at least")
    parser.add_argument("--profile", action="store_true", help="cProfile the indexer runs; top functions to stderr")
    parser.add_argument(
        "--reader", choices=["auto", "thread", "process"], default="auto", help="the indexer's reader (default auto)"
    )
    args = parser.parse_args(argv)
    work = QUICK if args.quick else FULL
    if args.runs:
        work = dataclasses.replace(work, runs=args.runs)
    if args.events:
        work = dataclasses.replace(work, events=args.events)
    total = time.perf_counter()
    log("compiling")
    build = compiler.build()
    with (
        tempfile.TemporaryDirectory(prefix="bench-indexer-") as tmp,
        write_path.ledger_anvil(build, Path(tmp) / "anvil") as (devnet, pid, chain, addresses),
    ):
        setup = time.perf_counter()
        write_history(chain, build, addresses, work)
        head = chain.block_number
        watched = LogDecoder(addresses, {n: build[n].abi for n in addresses}).addresses
        setup_s = time.perf_counter() - setup
        digest = HistoryDigest(chain.chain_id)
        for _, _, page in fetch_logs(chain, watched, 0, head):
            digest.add_many(page)
        expected = (digest.hex, digest.count)
        log(f"history: {digest.count} events in {head} blocks, written in {setup_s:.1f}s")

        baseline = measure_baseline(chain, build, addresses, head)
        log(f"baseline (web3 get_logs): {baseline['events_per_s']:.0f} events/s over {baseline['n']} events")
        profiler = cProfile.Profile() if args.profile else None
        ceilings, values, withouts = [], [], []
        for run in range(work.runs + 1):
            anvil_before = write_path.cpu_seconds(pid)
            ceiling = measure_ceiling(devnet.url, watched, head)
            ceiling["anvil_cpu_s"] = round(write_path.cpu_seconds(pid) - anvil_before, 2)
            ceilings.append(ceiling)
            log(f"ceiling run {run + 1}: {ceiling['events_per_s']:.0f} events/s ({ceiling['seconds']:.2f}s)")
            if run == work.runs:
                break
            anvil_before = write_path.cpu_seconds(pid)
            value = measure_value(chain, build, addresses, Path(tmp) / f"run{run}", expected, profiler, args.reader)
            value["anvil_cpu_s"] = round(write_path.cpu_seconds(pid) - anvil_before, 2)
            values.append(value)
            log(f"indexer run {run + 1}: {value['events_per_s']:.0f} events/s ({value['seconds']:.2f}s)")
            # What recording refused calls costs: the same run, interleaved, without them.
            without = measure_value(
                chain, build, addresses, Path(tmp) / f"plain{run}", expected, None, args.reader, refusals=False
            )
            withouts.append(without)
            log(f"  without refused calls: {without['events_per_s']:.0f} events/s ({without['seconds']:.2f}s)")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)

    best_value = max(v["events_per_s"] for v in values)
    best_ceiling = max(c["events_per_s"] for c in ceilings)
    ratio = best_value / best_ceiling
    log(f"value {best_value:.0f} events/s, ceiling {best_ceiling:.0f}, ratio {ratio:.3f}")
    print(
        json.dumps(
            {
                "bench": "indexer",
                "unit": "events/s",
                "value": round(best_value, 1),
                "ceiling": round(best_ceiling, 1),
                "ratio": round(ratio, 3),
                "baseline": round(baseline["events_per_s"], 1),
                "target": TARGET,
                "n": expected[1],
                "details": {
                    "target_ratio": TARGET_RATIO,
                    "history": {
                        "events": expected[1],
                        "blocks": head,
                        "digest": expected[0],
                        "setup_s": round(setup_s, 1),
                    },
                    "workload": f"{work.orders} order lifecycles, {work.receivables} receivable lifecycles "
                    f"(write_path's), deposit mints to {work.holders} holders up to {work.events}+ events",
                    "value_runs": [
                        {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in values
                    ],
                    "without_refusals_runs": [
                        {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in withouts
                    ],
                    "best_without_refusals": round(max(r["events_per_s"] for r in withouts), 1),
                    "refusals_cost": "value runs record refused calls (every block's transaction count read; a "
                    "block with quiet transactions: its hashes, the quiet ones fetched, traced, decoded; none in this "
                    "history); "
                    "without_refusals_runs (interleaved with the value runs) read no transaction counts",
                    "ceiling_runs": [
                        {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in ceilings
                    ],
                    "value": "ledger.index.indexer.Indexer.run() from the deployment into a fresh SQLite file (WAL): a "
                    "reader process (forked) fetches raw eth_getLogs pages (the next while it prepares this one), "
                    "checks headers, decodes with generated functions, folds the history digest and makes the rows; "
                    "the writer bulk-inserts events and projections with the cursor in one transaction per page; "
                    "the time includes opening (lock, cursor) and the reader's start and stop; best run",
                    "ceiling": "raw eth_getLogs over the same range with requests and the same range policy, JSON "
                    "parsed, no decoding; best run",
                    "baseline": "web3 contract.events.E().get_logs() over the whole history for "
                    f"{', '.join(baseline['events'])} ({baseline['n']} events)",
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
