"""Write-path throughput: complete order and receivable lifecycles through the clients and BatchSender.

    .venv/bin/python bench/write_path.py [--quick] [--profile] [--no-baseline] [--eth-account]
                                         [--only orders|receivables]

Starts its own anvil on a free loopback port (and stops it), compiles and deploys, admits
fresh buyers, suppliers and carrier oracles and funds them with ETH and tokens (untimed),
then times order lifecycles: create (co-signed by buyer and supplier), fund with a permit,
SHIPPED and DELIVERED attestations, confirmReceipt; each is one operation. The anvil runs
with automine off (``--no-mining``) and BatchSender mines a block per 1,000 transactions and
at the end of each step, except where two steps share a block (``share_block``: the two
attestations, which one carrier sends in nonce order). While the node mines the orders, the
buyers' permits and the carriers' attestations for the ids the orders will get are signed.

In the same run it measures the ceiling (pre-signed ERC-20 transfers posted as JSON-RPC
batches with ``requests``, no project code), in rounds that alternate with the lifecycles
so that other load on the machine weighs on both alike, and the baseline (web3's
``transact()`` + ``wait_for_transaction_receipt`` with anvil's unlocked accounts, on a
second, automining anvil). Progress goes to stderr; the last line of stdout is one JSON
object. ``--profile`` prints cProfile's top functions of the timed part to stderr.

The receivables workload runs after it on an anvil of its own (deployed and set up the same
way), and is reported under ``details.receivables``: fresh debtors (CORE), suppliers
(SUPPLIER) and banks (BANK) are admitted and funded (untimed), then receivable lifecycles
are timed, ten operations each: issue (the debtor's EIP-712 ReceivableIssue, submitted by
the creditor), three splits (the creditor splits the root between two tier-2 suppliers, one
of them splits its piece between two tier-3 suppliers, one of those splits again between two
tier-4 suppliers), finance (a bank's EIP-712 FinanceOffer for the other tier-2 piece,
accepted by its holder), repay (the debtor repays the root's face value) and a claim by the
holder of each of the four leaves. Each step of every lifecycle of a round goes in one batch;
piece ids are read from the ReceivableIssued and PieceSplit logs. The second split and the
financing share a block, as do the third split and the repayment (neither needs the other). Its ceiling is measured on
its own anvil, in rounds that alternate with its lifecycles. ``--only`` runs one workload;
with ``--only receivables`` the top-level figures are the receivables'.

This file is the command line; the benchmark's parts are in ``bench/writes/`` (sizes and
accounts, nodes, the ceiling, the order and receivable workloads, the baseline, the report).
The other benchmarks import this module for its helpers (``anvil``, ``measure_ceiling``, the
workloads' parties and lifecycles, ...), so it re-exports them under the names they use.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The parts in bench/writes/ import each other by name, from bench/: Python puts it on the path
# when it runs a script from here, but bench/scenarios.py drops it and loads this file by path.
# Appended, not prepended, so that bench/scenarios.py and bench/oracles.py never hide the packages.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
# eth-hash picks pycryptodome before pysha3 when both are installed (safe-pysha3 comes with
# eth-tester[py-evm]); per hash 13 us against 3 us, and the clients hash in
# to_checksum_address and po_ref_hash on every operation. Set before anything hashes.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

from writes.baseline import measure_baseline
from writes.ceiling import fund_payers, measure_ceiling
from writes.events import event_topics, one_log
from writes.nodes import anvil, cpu_seconds, deployed_ledger, ledger_anvil, rpc
from writes.orders import AMOUNT, admit_parties, measure_orders, run_lifecycles
from writes.plan import FULL, QUICK, log, party, print_profile
from writes.receivables import admit_receivable_parties, measure_receivables, run_receivables
from writes.report import report

from ledger.toolchain import compiler

# What bench/api.py, faults.py, indexer.py, oracles.py, replay.py and scenarios.py use as
# ``write_path.<name>``: the parts moved to bench/writes/, these names stay.
__all__ = [
    "AMOUNT",
    "FULL",
    "QUICK",
    "admit_parties",
    "admit_receivable_parties",
    "anvil",
    "cpu_seconds",
    "deployed_ledger",
    "event_topics",
    "fund_payers",
    "ledger_anvil",
    "log",
    "main",
    "measure_ceiling",
    "one_log",
    "party",
    "print_profile",
    "rpc",
    "run_lifecycles",
    "run_receivables",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smaller run (under a minute)")
    parser.add_argument("--lifecycles", type=int, help="order lifecycles to time (5 operations each)")
    parser.add_argument("--rounds", type=int, help="alternations of lifecycles and ceiling")
    parser.add_argument("--receivables", type=int, help="receivable lifecycles to time (10 operations each)")
    parser.add_argument("--receivable-rounds", type=int, help="alternations of receivable lifecycles and ceiling")
    parser.add_argument("--chunk", type=int, help="transactions per JSON-RPC batch request")
    parser.add_argument("--mine-every", type=int, help="transactions per evm_mine (0: one block per batch)")
    parser.add_argument("--only", choices=("orders", "receivables"), help="run one workload only")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed part; top functions to stderr")
    parser.add_argument(
        "--eth-account", action="store_true", help="sign with eth-account (client's sign_order etc.), not the lean path"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (for profiling runs)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    for name in ("lifecycles", "rounds", "receivables", "receivable_rounds", "chunk"):
        if getattr(args, name):
            plan = dataclasses.replace(plan, **{name: getattr(args, name)})
    if args.mine_every is not None:
        plan = dataclasses.replace(plan, mine_every=args.mine_every or None)
    total = time.perf_counter()

    log("compiling")
    build = compiler.build()
    orders: dict[str, Any] | None = None
    receivables: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-write-path-") as tmp:
        baseline: dict[str, Any] = {"ops_per_s": 0.0, "skipped": True}
        if not args.no_baseline and args.only != "receivables":
            log(f"baseline: {plan.baseline_lifecycles} lifecycles with transact() + wait on an automining anvil")
            baseline = measure_baseline(build, Path(tmp) / "baseline", plan.baseline_lifecycles)
            log(f"baseline: {baseline['ops_per_s']:.1f} ops/s")
        if args.only != "receivables":
            orders = measure_orders(build, Path(tmp) / "main", plan, args)
        if args.only != "orders":
            receivables = measure_receivables(build, Path(tmp) / "receivables", plan, args)

    print(json.dumps(report(orders, receivables, baseline, total)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
