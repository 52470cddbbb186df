"""Straight-through financing: request -> desk offer -> acceptance -> financed and indexed, over HTTP, 1-s blocks.

    .venv/bin/python bench/financing.py [--quick] [--requests N] [--block-time S] [--interval S]

Issue 16: a supplier's financing request should be financed with no human step in under 2 s. The
bench sets up the desk's world of ``tests.support.desk_world`` (the played small world on an anvil of
its own, the dev members enrolled, the dev bank's limits published, its deposits minted and allowed
to Receivables, the dev bank's keystore, ``scf serve --index`` over it all), then splits ``N`` small
pieces off a live piece of a core's receivable held by the supplier with the largest limit (each a
small share of that limit, so that the bank's exposure never declines the later ones). The setup runs
with automine (the played world is thousands of transactions: at one block a second it would take
hours); then anvil is switched to **interval mining** (``evm_setAutomine false``,
``evm_setIntervalMining S``), exactly what ``anvil --block-time S`` does, and ``scf bank desk`` starts
as a subprocess following the inbox (``--interval``, default 0.1 s). Untimed up to here.

For each piece in turn the holder, signed in with its own key, posts a financing request to the dev
bank, polls the piece's offers until the desk's appears, asks the API for the acceptance transaction,
signs it (eth-account) and submits it, then polls the piece until the API's index shows it financed
and held by the bank. A request's time is wall seconds from posting it to that read; the holder's
side is a script, so every second of it is the system's (desk pass, block, indexer).

* value: p50 of those seconds (lower is better; target < 2 s);
* ceiling: the block time measured in the same run, the median wall interval between new heads seen
  by a poller during the timed part: a financing is one on-chain transaction, so it cannot be faster
  on average than waiting for the next block (ratio = value / ceiling, >= ~0.5, lower is better);
* details: p99, max, the split of each request (to the offer seen, to financed and indexed), the
  desk's journal counts, and ``no_human_step_share``: requests the desk priced and offered on its own
  (an ``offered`` outcome in its journal, no intervention) over requests posted.

Every process started here (anvil, ``scf serve``, ``scf bank desk``) is stopped on exit, on an
exception, Ctrl-C or SIGTERM. Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

# The repo root first: the project's packages and the test kit's world (tests.support: test data and
# harness, not product code) import from there.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import httpx
from eth_utils import keccak

from ledger.clients.receivables import ReceivablesClient
from ledger.domain.receivables import Child
from ledger.eth.artifacts import BuildResult
from ledger.toolchain import compiler
from scenarios.world import CORE, UNIT
from scoring.policy import DEV_BANK
from tests.support.desk_world import DeskWorld, Party, _sellable, rpc, served_desk_world, wait_indexed
from tests.support.wallet import sign_prepared

TARGET = 2.0  # seconds, p50 request -> financed and indexed (issue 16)
ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0  # seconds one step may take before the request counts as stuck
POLL = 0.05  # seconds between the holder's polls


def log(message: str) -> None:
    print(f"[financing {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM as Ctrl-C: the context managers' finally blocks stop the servers, atexit stops anvil.
    raise KeyboardInterrupt(f"signal {signum}")


def own_signals() -> None:
    """Ctrl-C and SIGTERM unwind this process again: ``scf index`` run in process by the world's setup installs
    handlers of its own that only set its stop event, and leaves them installed."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Heads:
    """A poller of the chain's head on a thread: the wall time each new block was first seen, and its timestamp."""

    def __init__(self, url: str, every: float = 0.02) -> None:
        self.url, self.every = url, every
        self.seen: list[tuple[int, float, int]] = []  # (number, wall seconds, block timestamp)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="heads", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stop.is_set():
                try:
                    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}
                    block = http.post(self.url, json=body).json()["result"]
                    number = int(block["number"], 16)
                    if not self.seen or number > self.seen[-1][0]:
                        self.seen.append((number, time.monotonic(), int(block["timestamp"], 16)))
                except (httpx.HTTPError, KeyError, TypeError, ValueError):
                    pass
                self.stop.wait(self.every)

    def __enter__(self) -> Heads:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def intervals(self) -> list[float]:
        """Wall seconds between consecutive blocks (the first sighting is dropped: its arrival is unknown)."""
        return [b[1] - a[1] for a, b in zip(self.seen[1:], self.seen[2:], strict=False) if b[0] == a[0] + 1]

    def timestamp_gaps(self) -> list[int]:
        return [b[2] - a[2] for a, b in zip(self.seen, self.seen[1:], strict=False) if b[0] == a[0] + 1]


def carve(desk: DeskWorld, build: BuildResult, count: int) -> tuple[list[int], str]:
    """``count`` pieces split off the largest sellable piece of the supplier with the largest limit, each at most a
    fortieth of that limit / ``count`` apart, so their sum stays far inside the limit and the policy's caps."""
    chain = desk.world.chain
    cores = {p.address for p in desk.parties.of_kind(CORE)}
    wait_indexed(desk.base, desk.rpc)  # the served indexer has the world's slices; _sellable reads its database
    found = [
        (row, limit)
        for row, limit in _sellable(desk.db_url, desk.bank.address, cores, chain.timestamp())
        if row.holder in desk.keys and row.holder != desk.tier3 and int(row.piece_id) not in desk.slices
    ]
    if not found:
        raise RuntimeError("no live piece of a core's receivable held by a supplier with a limit")
    row, limit = max(found, key=lambda f: (f[1], int(f[0].amount)))
    size = min(limit // (4 * count), int(row.amount) // (count + 1)) // UNIT * UNIT
    if size <= 0:
        raise RuntimeError(f"piece {row.piece_id} ({row.amount}) too small for {count} pieces")
    children = [Child(size, row.holder, keccak(text=f"financing bench {i}")) for i in range(count)]
    children.append(Child(int(row.amount) - count * size, row.holder, keccak(text="financing bench rest")))
    receivables = ReceivablesClient(chain, build, desk.world.result.addresses["Receivables"])
    created, _ = receivables.split(int(row.piece_id), children, desk.keys[row.holder])
    log(f"split {count} pieces of {size // UNIT:,} dUSD off piece {row.piece_id} of {row.holder} (limit "
        f"{limit // UNIT:,} dUSD)")  # fmt: skip
    return list(created[:count]), str(row.holder)


def interval_mining(url: str, seconds: float) -> None:
    """What ``anvil --block-time S`` does, switched on an anvil that was automining."""
    rpc(url, "evm_setAutomine", [False])
    rpc(url, "evm_setIntervalMining", [int(seconds) if float(seconds).is_integer() else seconds])


def start_desk(desk: DeskWorld, journal: Path, interval: float) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "api", "bank", "desk", "--api", desk.base, "--bank", desk.bank.address,
        "--keystore", str(desk.keystore), "--password-file", str(desk.password_file), "--policy", str(DEV_BANK),
        "--journal", str(journal), "--interval", f"{interval:g}",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=desk.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + WAIT
    while not journal.exists():  # the desk opens its journal before it signs in and polls
        if process.poll() is not None:
            raise RuntimeError(f"scf bank desk exited {process.returncode}: {process.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("scf bank desk did not start")
        time.sleep(0.05)
    time.sleep(1.0)  # signed in and polling
    return process


def stop_process(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then SIGKILL after 20 s; its stderr tail."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return err or ""


def finance_one(seller: Party, piece_id: int, bank: str) -> dict[str, Any]:
    """One request, timed: posted -> offer seen -> acceptance signed and submitted -> financed in the index."""
    http = httpx.Client(base_url=seller.world.base, headers=seller.headers, timeout=30)
    try:
        started = time.monotonic()
        request = seller.ask(piece_id, bank)
        deadline = started + WAIT
        offers: list[dict[str, Any]] = []
        while not offers:
            if time.monotonic() > deadline:
                return {"piece": piece_id, "request": request["id"], "stuck": "no offer"}
            time.sleep(POLL)
            answer = http.get(f"/v1/receivables/pieces/{piece_id}/offers")
            answer.raise_for_status()
            offers = [o for o in answer.json() if o["bank"] == bank]
            if not offers:  # declined: the request left the open state with no offer
                state = http.get("/v1/financing-requests", params={"pieceId": piece_id}).json()["items"][0]["state"]
                if state not in ("open", "offered"):
                    return {"piece": piece_id, "request": request["id"], "stuck": f"request {state}"}
        offered = time.monotonic()
        prepared = seller.post(f"/v1/receivables/offers/{offers[0]['id']}/accept")
        raw = sign_prepared(seller.account, prepared)
        seller.post("/v1/submissions", {"rawTransaction": raw}, expect=202)
        submitted = time.monotonic()
        while True:
            piece = http.get(f"/v1/receivables/pieces/{piece_id}").json()
            if piece.get("financed") and piece.get("holder") == bank:
                break
            if time.monotonic() > deadline:
                return {"piece": piece_id, "request": request["id"], "stuck": "not financed"}
            time.sleep(POLL)
        done = time.monotonic()
        return {
            "piece": piece_id,
            "request": request["id"],
            "seconds": done - started,
            "to_offer": offered - started,
            "accept_and_submit": submitted - offered,
            "to_indexed": done - submitted,
        }
    finally:
        http.close()


def journal_counts(path: Path, requests: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("request") in requests:
            counts[record["kind"]] = counts.get(record["kind"], 0) + 1
    return counts


def offered_by_desk(path: Path) -> set[str]:
    out: set[str] = set()
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("kind") == "offered":
            out.add(str(record["request"]))
    return out


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    build = compiler.build()
    setup = time.monotonic()
    with served_desk_world(build, tmp, slices=1) as desk:
        own_signals()
        pieces, holder = carve(desk, build, args.requests)
        wait_indexed(desk.base, desk.rpc)
        seller = Party(desk, desk.keys[holder])
        interval_mining(desk.rpc, args.block_time)
        journal = tmp / "journal.jsonl"
        process = start_desk(desk, journal, args.interval)
        log(f"world served, desk following, {args.block_time:g}-s blocks ({time.monotonic() - setup:.0f} s setup)")
        results: list[dict[str, Any]] = []
        try:
            rng = random.Random(16)
            with Heads(desk.rpc) as heads:
                for k, piece_id in enumerate(pieces):
                    # Untimed: a request made right after the last one's block would always land at the same
                    # phase of the block clock; a uniform phase makes the p50 what a holder at any moment sees.
                    time.sleep(rng.uniform(0, args.block_time))
                    result = finance_one(seller, piece_id, desk.bank.address)
                    results.append(result)
                    took = f"{result['seconds']:.2f} s" if "seconds" in result else result["stuck"]
                    log(f"request {k + 1}/{len(pieces)} on piece {piece_id}: {took}")
        finally:
            err = stop_process(process)
            # Back to automine so that the world's revert and shutdown do not wait for blocks.
            try:
                rpc(desk.rpc, "evm_setIntervalMining", [0])
                rpc(desk.rpc, "evm_setAutomine", [True])
            except (httpx.HTTPError, AssertionError):
                pass
        if process.returncode not in (0, None):
            log(f"scf bank desk exited {process.returncode}: {err[-1000:]}")
    done = [r for r in results if "seconds" in r]
    if not done:
        raise RuntimeError(f"no request was financed: {results}")
    seconds = [r["seconds"] for r in done]
    intervals = heads.intervals()
    ceiling = statistics.median(intervals) if intervals else args.block_time
    asked = {str(r["request"]) for r in results}
    by_desk = offered_by_desk(journal) & asked
    counts = journal_counts(journal, asked)
    value = statistics.median(seconds)
    return {
        "bench": "financing",
        "unit": "s",
        "value": round(value, 3),
        "ceiling": round(ceiling, 3),
        "ratio": round(value / ceiling, 3) if ceiling else None,
        "target": TARGET,
        "n": len(results),
        "details": {
            "better": "lower (wall seconds)",
            "value_is": "p50 seconds from the holder posting a financing request to the API's index showing the "
            "piece financed and held by the bank (desk offer, acceptance signed and submitted, mined, indexed)",
            "ceiling_is": f"the block time measured in this run: median wall interval between new heads "
            f"({len(intervals)} intervals; anvil interval mining at {args.block_time:g} s)",
            "p99": round(percentile(seconds, 0.99), 3),
            "max": round(max(seconds), 3),
            "min": round(min(seconds), 3),
            "financed": len(done),
            "stuck": [r for r in results if "stuck" in r],
            "no_human_step_share": round(len(by_desk) / len(results), 3),
            "no_human_step_is": "requests the desk priced and offered on its own (an offered outcome in its "
            "journal) / requests posted",
            "declined": counts.get("declined", 0),
            "desk_journal": counts,
            "to_offer_p50": round(statistics.median(r["to_offer"] for r in done), 3),
            "to_offer_p99": round(percentile([r["to_offer"] for r in done], 0.99), 3),
            "accept_and_submit_p50": round(statistics.median(r["accept_and_submit"] for r in done), 3),
            "submitted_to_indexed_p50": round(statistics.median(r["to_indexed"] for r in done), 3),
            "submitted_to_indexed_p99": round(percentile([r["to_indexed"] for r in done], 0.99), 3),
            "block_timestamp_gap_p50": statistics.median(heads.timestamp_gaps()) if heads.timestamp_gaps() else None,
            "desk_interval_s": args.interval,
            "holder_poll_s": POLL,
            "phase": "each request starts after an untimed random wait of 0..block time, at a uniform phase of "
            "the block clock, one request at a time",
            "setup": "the played small world (tests.support.desk_world) set up with automine, then anvil switched to "
            "interval mining (evm_setIntervalMining), as --block-time does; scf serve --index; scf bank desk "
            "following the inbox as a subprocess",
            "seconds": [round(s, 3) for s in seconds],
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 requests instead of 20")
    parser.add_argument("--requests", type=int, help="financing requests, one after another (default 20, --quick 5)")
    parser.add_argument("--block-time", type=float, default=1.0, help="anvil's interval mining, seconds (default 1)")
    parser.add_argument("--interval", type=float, default=0.1, help="the desk's seconds between passes (default 0.1)")
    args = parser.parse_args(argv)
    args.requests = args.requests or (5 if args.quick else 20)
    own_signals()
    started = time.monotonic()
    # The setup's commands (scf index, scf score --publish, scf serve) print on stdout, in process and in the
    # processes started here: fd 1 goes to stderr until the result, so that stdout is the one JSON line.
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-financing-") as tmp:
            result = run(args, Path(tmp))
    except KeyboardInterrupt as stopped:
        log(f"stopped ({stopped or 'Ctrl-C'}): every process started here is stopped")
        return 130
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)
    result["details"]["total_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
