"""What a write-path run does: its sizes, its target, its accounts, and what it says on stderr.

``FULL`` is ``make bench``'s run, ``QUICK`` the under-a-minute one; both time order
lifecycles and receivable lifecycles in rounds that alternate with the ceiling, so that
other load on the machine weighs on both alike. The accounts are derived from fixed
strings, so every run (and every benchmark that borrows them) uses the same parties.
Progress goes to stderr, as does ``--profile``'s table: stdout carries only the JSON line.
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import pstats
import sys
import time

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

TARGET = 1000
DAY = 86_400


@dataclasses.dataclass(frozen=True)
class Plan:
    lifecycles: int  # timed, in total
    rounds: int  # lifecycles and ceiling alternate in rounds, so a neighbour's load hits both alike
    buyers: int
    suppliers: int
    carriers: int
    payers: int  # senders of the ceiling's transfers
    ceiling_txs: int  # in total
    baseline_lifecycles: int
    chunk: int  # transactions per JSON-RPC batch request
    mine_every: int | None  # transactions per evm_mine; None: one block per batch
    receivables: int  # receivable lifecycles timed, in total (ten operations each)
    receivable_rounds: int
    debtors: int
    receivable_suppliers: int  # seven per lifecycle: creditor and two each of tiers 2 to 4
    banks: int
    receivable_ceiling_txs: int  # in total, on the receivables' anvil


FULL = Plan(2_000, 2, 250, 250, 8, 250, 10_000, 60, 250, 1_000, 1_000, 2, 100, 250, 20, 10_000)
QUICK = Plan(800, 2, 100, 100, 4, 100, 4_000, 20, 250, 1_000, 400, 2, 50, 100, 10, 4_000)


def log(message: str) -> None:
    print(f"[write_path {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def party(tag: str, i: int) -> LocalAccount:
    return Account.from_key(keccak(text=f"bench/write_path:{tag}:{i}"))


def print_profile(profiler: cProfile.Profile | None, title: str) -> None:
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        print(f"-- profile: {title}", file=sys.stderr)
        print(out.getvalue(), file=sys.stderr)
