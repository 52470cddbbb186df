"""Scenario throughput: a synthetic supply-chain world played through the ledger, in transactions per second.

    .venv/bin/python bench/scenarios.py [--quick] [--firms N] [--months M] [--seed S] [--profile FILE]

Starts its own anvil on a free loopback port (and stops it), compiles and deploys, then plays
a world with ``scenarios.play`` (300 firms for 12 months; ``--quick``: 30 firms for 6 months):
parties enrolled and funded, orders co-signed and created, EPCIS documents captured by the
oracle services in process, attestations aggregated and submitted, deliveries settled,
receivables issued, split down the tiers, financed, repaid and claimed, the bad actors'
attempts mined and reverted. ``value`` is the world's transactions (every transaction in
its blocks, counted from the chain) over the seconds the play took, setup included.

``ceiling``, measured in the same run on the same anvil right after the world: pre-signed
ERC-20 transfers posted in JSON-RPC batches with ``requests`` and mined every 1,000
(write_path's ``measure_ceiling``, no project code in the way). ``baseline``: what plain
web3.py gives on the same node, ``transfer(...).transact()`` from an unlocked account and
``wait_for_transaction_receipt`` per transaction, automine on. Progress goes to stderr; the
last line of stdout is one JSON object. ``--profile FILE`` runs the play under cProfile (the
main thread: the batch senders' worker thread shows as waits), writes the stats to FILE and
prints the top functions to stderr; ``details.phases_seconds`` splits the play by stage.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib.util
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# This file's name is the package's: drop bench/ from the path so that ``scenarios`` is the
# package, and load write_path (ceiling, anvil, helpers) from its file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")  # as write_path: 3 us per keccak instead of 13
_spec = importlib.util.spec_from_file_location("write_path", _HERE / "write_path.py")
assert _spec is not None and _spec.loader is not None
write_path = importlib.util.module_from_spec(_spec)
sys.modules["write_path"] = write_path
_spec.loader.exec_module(write_path)

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils import keccak  # noqa: E402

from ledger.eth.batch import (  # noqa: E402
    BatchSender,
    Call,
    FunctionEncoder,
)
from ledger.eth.chain import Chain  # noqa: E402
from ledger.toolchain import compiler  # noqa: E402
from scenarios import ScenarioConfig, play  # noqa: E402
from scenarios.check import separability  # noqa: E402

FULL = ScenarioConfig(firms=300, months=12, seed=7)
QUICK = ScenarioConfig(firms=30, months=6, seed=7)
TARGET = 500  # tx/s: a 300-firm, 12-month world (~60k transactions) in about two minutes
CEILING_TRANSFERS = {True: 4_000, False: 10_000}
BASELINE_TRANSFERS = 100


def payers(chain: Chain, token: str, build: compiler.BuildResult, count: int) -> list[LocalAccount]:
    """The ceiling's senders, funded with gas and tokens by the dev admin and bank (untimed)."""
    assert chain.accounts is not None
    accounts: list[LocalAccount] = [Account.from_key(keccak(text=f"bench/scenarios:payer:{i}")) for i in range(count)]
    with BatchSender(chain, chunk=250) as sender:
        sender.send([Call(a.address, b"", chain.accounts["admin"], value=10**20, gas=21_000) for a in accounts])
        mint = FunctionEncoder(chain.contract(build["SettlementToken"], token), "mint")
        sender.send([mint.call(chain.accounts["bank"], a.address, 10**12) for a in accounts])
    return accounts


def baseline(chain: Chain, token: str, build: compiler.BuildResult, count: int) -> float:
    """web3.py's plain path: transact() from an unlocked dev account, then wait for the receipt."""
    assert chain.accounts is not None
    contract = chain.w3.eth.contract(address=chain.w3.to_checksum_address(token), abi=build["SettlementToken"].abi)
    bank, core = chain.accounts["bank"].address, chain.accounts["core"].address
    chain.w3.eth.wait_for_transaction_receipt(contract.functions.mint(bank, 10**12).transact({"from": bank}))
    started = time.perf_counter()
    for _ in range(count):
        tx = contract.functions.transfer(core, 1).transact({"from": bank})
        chain.w3.eth.wait_for_transaction_receipt(tx)
    return count / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="30 firms, 6 months (well under a minute)")
    parser.add_argument("--firms", type=int, help="firms of the world (default 300; --quick 30)")
    parser.add_argument("--months", type=int, help="months of the world (default 12; --quick 6)")
    parser.add_argument("--seed", type=int, help="the world's seed (default 7)")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the play under cProfile, write its stats to FILE and the top functions to stderr",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    for name in ("firms", "months", "seed"):
        if getattr(args, name) is not None:
            config = dataclasses.replace(config, **{name: getattr(args, name)})
    total = time.perf_counter()
    write_path.log("compiling")
    build = compiler.build()
    with (
        tempfile.TemporaryDirectory(prefix="bench-scenarios-") as tmp,
        write_path.anvil(Path(tmp) / "anvil", "auto") as devnet,
    ):
        info = devnet.read_info()
        assert info is not None and info.pid is not None
        chain, addresses = write_path.deployed_ledger(devnet.url, build)
        write_path.rpc(devnet.url, "anvil_setLoggingEnabled", [False])
        write_path.log(f"anvil on {devnet.url}; playing {config.firms} firms for {config.months} months")
        anvil_before, own_before = write_path.cpu_seconds(info.pid), time.process_time()

        def progress(week: int, weeks: int, _label: str) -> None:
            if week % 4 == 0 or week == weeks:
                write_path.log(f"  week {week}/{weeks}")

        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        result = play(chain, build, config, Path(tmp) / "world", deployment=addresses, progress=progress)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        anvil_cpu = write_path.cpu_seconds(info.pid) - anvil_before
        own_cpu = time.process_time() - own_before
        write_path.log(f"world: {result.transactions} transactions in {result.seconds:.1f} s")
        token = addresses["SettlementToken"]
        write_path.rpc(devnet.url, "evm_setAutomine", [False])  # the senders mine, as in the world
        ceiling_payers = payers(chain, token, build, 250)
        count = CEILING_TRANSFERS[args.quick]
        ceiling = write_path.measure_ceiling(devnet.url, token, ceiling_payers, count, 250, 1_000)
        write_path.rpc(devnet.url, "evm_setAutomine", [True])
        write_path.log(f"ceiling: {ceiling['tx_per_s']:.0f} tx/s; baseline: {BASELINE_TRANSFERS} transfers")
        base = baseline(chain, token, build, BASELINE_TRANSFERS)
    value = result.tx_per_s
    details: dict[str, Any] = {
        "world": {"firms": config.firms, "months": config.months, "seed": config.seed, "weeks": result.plan.ticks},
        "seconds": round(result.seconds, 2),
        "transactions": result.transactions,
        "phases_seconds": result.phases,
        "phases_note": "wall time per phase of the weekly loop (setup, order creation and funding, oracle captures "
        "and aggregation, settlement, receivables, financing, repayments and claims, bad actors' attempts) and the "
        "final read of every event (facts), which is not in 'seconds'",
        "python_cpu_s": round(own_cpu, 2),
        "anvil_cpu_s": round(anvil_cpu, 2),
        "summary": result.summary,
        "labels": separability(result.world, result.facts, result.observation_end.timestamp),
        "labels_note": "AUC of the hold-out failures against observed verified history (share of a supplier's orders "
        "refunded, cancelled, disputed or delivered late), against verified volume alone, and against the hidden "
        "p_fail (scenarios.check)",
        "facts_digest": result.digest,
        "ceiling_run": {k: round(v, 2) if isinstance(v, float) else v for k, v in ceiling.items()},
        "ceiling": "pre-signed ERC-20 transfers in JSON-RPC batches of 250, evm_mine every 1,000, on the same anvil "
        "after the world (write_path.measure_ceiling)",
        "baseline": f"{BASELINE_TRANSFERS} ERC-20 transfers with web3 transact() from an unlocked account + "
        "wait_for_transaction_receipt, automine on, same anvil",
        "cpus": os.cpu_count(),
        "load_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "total_s": round(time.perf_counter() - total, 1),
    }
    print(
        json.dumps(
            {
                "bench": "scenarios",
                "unit": "tx/s",
                "value": round(value, 1),
                "ceiling": round(ceiling["tx_per_s"], 1),
                "ratio": round(value / ceiling["tx_per_s"], 3),
                "baseline": round(base, 1),
                "target": TARGET,
                "n": result.transactions,
                "details": details,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
