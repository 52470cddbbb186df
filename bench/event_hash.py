"""Event-hash throughput: GS1 EPCIS event hashes of simulator documents and the GS1 examples.

    .venv/bin/python bench/event_hash.py [--quick] [--orders N] [--rounds N] [--profile]

Builds a corpus (untimed): simulator documents for ``--orders`` orders, every outcome, the
three vocabulary spellings (bare words, URNs, web URIs) and several seeds, plus every event
of the GS1 EPCIS examples in ``../shared/epcis/examples`` when present (``SCF_EPCIS_DIR``
points elsewhere), each event with its document's ``@context``. Then, in rounds that
alternate so that other load on the machine weighs on all three alike, it times

- the value: ``oracles.hashing.event_hashes`` per document (the fast path, falling back to
  the library for what it does not handle; the examples include two events that cannot be
  hashed, which take the library path and are counted as failures);
- the ceiling: ``json.dumps(event, sort_keys=True)`` + SHA-256 of the same events, the floor
  cost of any canonical hash of them;
- the baseline: the pinned library alone (``pre_hash_string(..., fast=False)`` + SHA-256),
  which is what ``event_hash`` cost before the fast path.

The memo of canonical values (EPC to Digital Link...) is emptied before every timed round,
so EPCs are seen fresh once per round, as in a stream of new shipments; the prepared
``@context`` stays, as in a long-running oracle. Before timing, every event's fast hash is
checked against the baseline's. Progress goes to stderr; the last line of stdout is one
JSON object. ``--profile`` prints cProfile's top functions of one fast round to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oracles import canonical, hashing
from oracles.errors import EventHashError
from oracles.simulator import Outcome, SimOrder, simulate

TARGET = 3333  # events/s: 0.3 ms per event
REPO_ROOT = Path(__file__).resolve().parent.parent
EPCIS_DIR = Path(os.environ.get("SCF_EPCIS_DIR", REPO_ROOT / ".." / "shared" / "epcis")).resolve()
STYLES = ("bare", "urn", "web")


@dataclass(frozen=True)
class Plan:
    orders: int
    rounds: int


QUICK = Plan(orders=45, rounds=3)
FULL = Plan(orders=180, rounds=5)


@dataclass(frozen=True)
class Document:
    source: str  # "simulator" or "examples"
    name: str
    context: Any
    events: list[dict[str, Any]]


def log(message: str) -> None:
    print(f"[event_hash {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def simulator_documents(orders: int) -> list[Document]:
    rng = random.Random(20240301)
    outcomes = list(Outcome)
    documents = []
    for index in range(orders):
        ship_by = 1_700_000_000 + index * 3_600
        order = SimOrder(
            po_ref=f"urn:epcglobal:cbv:bt:0614141000005:PO{index:05d}",
            ship_by=ship_by,
            deliver_by=ship_by + rng.randint(2, 9) * 86_400,
            inspection_required=rng.random() < 0.5,
        )
        shipment = simulate(
            order, outcomes[index % len(outcomes)], seed=rng.randrange(1 << 30), style=STYLES[index % 3]
        )
        documents.append(Document("simulator", f"order-{index}", shipment.document["@context"], shipment.events))
    return documents


def example_documents() -> list[Document]:
    examples = EPCIS_DIR / "examples"
    if not examples.is_dir():
        log(f"no GS1 examples at {examples}: simulator documents only")
        return []
    documents = []
    for path in sorted(examples.iterdir()):
        document = json.loads(path.read_text(encoding="utf-8"))
        body = document["epcisBody"]
        events = body["eventList"] if "eventList" in body else body["queryResults"]["resultsBody"]["eventList"]
        documents.append(Document("examples", path.name, document.get("@context"), events))
    return documents


def fast(documents: Sequence[Document]) -> list[str | EventHashError]:
    results: list[str | EventHashError] = []
    for document in documents:
        results.extend(hashing.event_hashes(document.events, document.context))
    return results


def ceiling(documents: Sequence[Document]) -> list[str]:
    return [
        hashlib.sha256(json.dumps(event, sort_keys=True).encode("utf-8")).hexdigest()
        for document in documents
        for event in document.events
    ]


def baseline(documents: Sequence[Document]) -> list[str | EventHashError]:
    results: list[str | EventHashError] = []
    for document in documents:
        for event in document.events:
            try:
                pre_hash = hashing.pre_hash_string(event, document.context, fast=False)
                results.append("ni:///sha-256;" + hashlib.sha256(pre_hash.encode("utf-8")).hexdigest() + "?ver=CBV2.0")
            except EventHashError as exc:
                results.append(exc)
    return results


def timed(work: Callable[[], Any], *, fresh_memo: bool = False) -> float:
    if fresh_memo:
        canonical._canonize_value.cache_clear()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def same(a: str | EventHashError, b: str | EventHashError) -> bool:
    if isinstance(a, EventHashError) or isinstance(b, EventHashError):
        return isinstance(a, EventHashError) and isinstance(b, EventHashError) and a.reason == b.reason
    return a == b


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run (a few seconds)")
    parser.add_argument("--orders", type=int, help="simulated orders (one document each)")
    parser.add_argument("--rounds", type=int, help="alternations of value, ceiling and baseline")
    parser.add_argument("--profile", action="store_true", help="cProfile one fast round; top functions to stderr")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    plan = Plan(orders=args.orders or plan.orders, rounds=args.rounds or plan.rounds)
    total = time.perf_counter()

    simulated = simulator_documents(plan.orders)
    examples = example_documents()
    documents = simulated + examples
    n = sum(len(document.events) for document in documents)
    n_sim = sum(len(document.events) for document in simulated)
    log(f"corpus: {n} events ({n_sim} simulated in {len(simulated)} documents, {n - n_sim} from the GS1 examples)")

    log("checking the fast path against the library on every event")
    reference = baseline(documents)
    results = fast(documents)
    mismatches = sum(not same(a, b) for a, b in zip(results, reference, strict=True))
    if mismatches:
        log(f"{mismatches} events hash differently on the fast path")
        return 1
    fallbacks = [
        f"{document.source}/{document.name}[{index}]"
        for document in documents
        for index, event in enumerate(document.events)
        if hashing._fast_pre_hash_string(event, hashing._prepared(document.context)) is None
    ]
    failures = sum(isinstance(result, EventHashError) for result in results)
    log(f"equal on all {n} events; {len(fallbacks)} fall back to the library, {failures} cannot be hashed")

    rounds: dict[str, list[float]] = {"value": [], "ceiling": [], "baseline": [], "simulator": [], "examples": []}
    for number in range(1, plan.rounds + 1):
        rounds["value"].append(timed(lambda: fast(documents), fresh_memo=True))
        rounds["ceiling"].append(timed(lambda: ceiling(documents)))
        rounds["baseline"].append(timed(lambda: baseline(documents)))
        rounds["simulator"].append(timed(lambda: fast(simulated), fresh_memo=True))
        if examples:
            rounds["examples"].append(timed(lambda: fast(examples), fresh_memo=True))
        log(
            f"round {number}/{plan.rounds}: value {n / rounds['value'][-1]:.0f}/s, "
            f"ceiling {n / rounds['ceiling'][-1]:.0f}/s, baseline {n / rounds['baseline'][-1]:.0f}/s"
        )
    if args.profile:
        profile = cProfile.Profile()
        canonical._canonize_value.cache_clear()
        profile.runcall(fast, documents)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)

    value = n * plan.rounds / sum(rounds["value"])
    ceiling_value = n * plan.rounds / sum(rounds["ceiling"])
    baseline_value = n * plan.rounds / sum(rounds["baseline"])

    def per_event_us(name: str, count: int) -> dict[str, float]:
        times = [seconds / count * 1e6 for seconds in rounds[name]]
        return {"median": round(statistics.median(times), 1), "min": round(min(times), 1), "max": round(max(times), 1)}

    details = {
        "us_per_event": {
            "value": per_event_us("value", n),
            "ceiling": per_event_us("ceiling", n),
            "baseline": per_event_us("baseline", n),
            "simulator_only": per_event_us("simulator", n_sim),
            **({"examples_only": per_event_us("examples", n - n_sim)} if examples else {}),
        },
        "speedup_vs_baseline": round(value / baseline_value, 1),
        "events": {"total": n, "simulator": n_sim, "examples": n - n_sim, "documents": len(documents)},
        "fallbacks": fallbacks,
        "unhashable": failures,
        "checked_equal_to_library": n,
        "rounds": plan.rounds,
        "orders": plan.orders,
        "value_is": "oracles.hashing.event_hashes per document, canonical-value memo emptied before each round",
        "ceiling_is": "json.dumps(event, sort_keys=True) + sha256, same events",
        "baseline_is": "pre_hash_string(fast=False) (epcis-event-hash-generator 1.9.3 + PyLD) + sha256, same events",
        "cpus": os.cpu_count(),
        "load_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "total_s": round(time.perf_counter() - total, 1),
    }
    log(f"value {value:.0f} events/s, ceiling {ceiling_value:.0f}/s, baseline {baseline_value:.0f}/s")
    print(
        json.dumps(
            {
                "bench": "event_hash",
                "unit": "events/s",
                "value": round(value, 1),
                "ceiling": round(ceiling_value, 1),
                "ratio": round(value / ceiling_value, 3),
                "baseline": round(baseline_value, 1),
                "target": TARGET,
                "n": n * plan.rounds,
                "details": details,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
