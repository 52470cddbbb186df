"""The receivable lifecycles the write-path benchmark measures (``details.receivables``).

Fresh debtors (CORE), suppliers (SUPPLIER) and banks (BANK) are admitted and funded
(untimed), then lifecycles of ten operations are timed: issue (the debtor's EIP-712
ReceivableIssue, sent by the creditor), three splits down to tier 4, finance (a bank's
EIP-712 FinanceOffer for the other tier-2 piece), repay (the debtor, the root's face value)
and a claim by each of the four leaves' holders. Each step of every lifecycle of a round
goes in one batch; piece ids come from the ReceivableIssued and PieceSplit logs, and the
financing, repayment and claims are checked against the amounts they must move. The
workload runs on an anvil of its own and its ceiling is measured there, in rounds that
alternate with its lifecycles.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.domain.receivables import FinanceOffer, IssueTerms, ReceivableStatus
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchResult, BatchSender, Call, FunctionEncoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import sign_typed_data
from ledger.toolchain.deploy import ROLE
from writes.ceiling import fund_payers, measure_ceiling
from writes.events import data_word, event_topics, one_log
from writes.nodes import cpu_seconds, ledger_anvil
from writes.plan import DAY, TARGET, Plan, log, party, print_profile

RECEIVABLE_WARM_UP = 8
FACE = 1_000 * 10**6
# A lifecycle's tree: the creditor splits the root between two tier-2 suppliers, the first
# tier-2 supplier splits its piece between two tier-3 suppliers, the first of those splits
# again between two tier-4 suppliers. Leaves: 400 (financed), 240, 200, 160.
SPLITS = ((600 * 10**6, 400 * 10**6), (360 * 10**6, 240 * 10**6), (200 * 10**6, 160 * 10**6))
SPLIT_REFS = tuple((keccak(text=f"PO-T{t}-A"), keccak(text=f"PO-T{t}-B")) for t in (2, 3, 4))
PRICE = 392 * 10**6  # a bank buys the second tier-2 piece (400) at 2% off
RECEIVABLE_OPS = {"issue": 1, "split": 3, "finance": 1, "repay": 1, "claim": 4}
RECEIVABLE_OPS_PER_LIFECYCLE = sum(RECEIVABLE_OPS.values())
MAX_UINT256 = 2**256 - 1


@dataclasses.dataclass
class ReceivableParties:
    debtors: list[LocalAccount]
    suppliers: list[LocalAccount]
    banks: list[LocalAccount]
    issue_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next issuance nonce per debtor
    offer_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next offer nonce per bank
    lifecycles: int = 0  # run so far: the next lifecycle's parties start there


@dataclasses.dataclass(frozen=True)
class Receivable:
    """One lifecycle's parties: the debtor, a bank and seven suppliers down the tree."""

    debtor: LocalAccount
    bank: LocalAccount
    tiers: tuple[LocalAccount, ...]  # creditor; tier-2 a, b; tier-3 a, b; tier-4 a, b

    def split(self, level: int) -> tuple[LocalAccount, LocalAccount, LocalAccount]:
        """(holder, first child's holder, second child's holder) of the split at ``level`` (0-2)."""
        return self.tiers[max(0, 2 * level - 1)], self.tiers[2 * level + 1], self.tiers[2 * level + 2]


def admit_receivable_parties(
    chain: Chain, build: BuildResult, addresses: dict[str, str], plan: Plan, lifecycles: int
) -> ReceivableParties:
    """Fresh debtors, suppliers and banks: admitted, with ETH for gas, tokens to repay and to lend,
    and allowances to Receivables (not timed)."""
    assert chain.accounts is not None
    admin, minter = chain.accounts["admin"], chain.accounts["bank"]
    parties = ReceivableParties(
        [party("debtor", i) for i in range(plan.debtors)],
        [party("receivable-supplier", i) for i in range(plan.receivable_suppliers)],
        [party("lender", i) for i in range(plan.banks)],
    )
    sender = BatchSender(chain, chunk=plan.chunk)
    admit = FunctionEncoder(chain.contract(build["Membership"], addresses["Membership"]), "admit")
    members = (
        [(a, ROLE["core"]) for a in parties.debtors]
        + [(a, ROLE["supplier"]) for a in parties.suppliers]
        + [(a, ROLE["bank"]) for a in parties.banks]
    )
    sender.send([admit.call(admin, a.address, roles, 0, keccak(text=a.address)) for a, roles in members])
    sender.send([Call(a.address, b"", admin, value=10**20, label="gas money") for a, _ in members])
    token = chain.contract(build["SettlementToken"], addresses["SettlementToken"])
    mint, approve = FunctionEncoder(token, "mint"), FunctionEncoder(token, "approve")
    per_debtor = FACE * (-(-lifecycles // plan.debtors) + 1)
    per_bank = PRICE * (-(-lifecycles // plan.banks) + 1)
    sender.send(
        [mint.call(minter, a.address, per_debtor) for a in parties.debtors]
        + [mint.call(minter, a.address, per_bank) for a in parties.banks]
    )
    receivables = addresses["Receivables"]
    sender.send([approve.call(a, receivables, MAX_UINT256) for a in parties.debtors + parties.banks])
    return parties


def run_receivables(
    chain: Chain,
    receivables: ReceivablesClient,
    token: str,
    parties: ReceivableParties,
    count: int,
    tag: str,
    sender: BatchSender,
    sign: Callable[[LocalAccount, dict[str, Any]], bytes],
) -> dict[str, Any]:
    """``count`` receivable lifecycles, one batch per step; returns per-step timings and root ids.

    Every transaction's success is checked by BatchSender (a failure raises ``BatchFailed``);
    the piece ids come from the ReceivableIssued and PieceSplit logs, and the repayments and
    claims are checked against the amounts they must move.
    """
    contract = receivables.contract
    issue, split, finance, repay, claim = (
        FunctionEncoder(contract, name) for name in ("issue", "split", "finance", "repay", "claim")
    )
    topics = event_topics(contract)
    now = chain.timestamp()
    maturity, deadline = now + 90 * DAY, now + DAY
    debtors, suppliers, banks = parties.debtors, parties.suppliers, parties.banks
    lifecycles = []
    for i in range(parties.lifecycles, parties.lifecycles + count):
        tiers = tuple(suppliers[(7 * i + k) % len(suppliers)] for k in range(7))
        lifecycles.append(Receivable(debtors[i % len(debtors)], banks[i % len(banks)], tiers))
    parties.lifecycles += count
    steps: dict[str, Any] = {}

    def record(name: str, result: BatchResult) -> BatchResult:
        steps[name] = {
            "n": len(result),
            "seconds": round(result.seconds, 3),
            **{k: round(v, 3) for k, v in result.timings.items()},
            "blocks": result.last_block - result.first_block,
        }
        log(f"  {name}: {len(result)} in {result.seconds:.2f}s")
        return result

    def issues() -> Iterator[Call]:
        issue_nonce = parties.issue_nonce
        for i, lifecycle in enumerate(lifecycles):
            debtor, creditor = lifecycle.debtor, lifecycle.tiers[0]
            nonce = issue_nonce.get(debtor.address, 0)
            issue_nonce[debtor.address] = nonce + 1
            number = f"INV-{tag}-{i}"
            # A fingerprint and a commitment stand in for the invoice (their rule is off chain: fingerprints.py).
            terms = IssueTerms(
                debtor.address, creditor.address, token, FACE, maturity, keccak(text=number),
                keccak(text=f"fingerprint {number}"), keccak(text=f"commitment {number}"), 0, nonce, deadline,
            )  # fmt: skip
            document = receivables.issue_document(terms)
            # The message holds the terms in ABI order already (as IssueTerms.as_tuple gives them).
            yield issue.call(creditor, tuple(document["message"].values()), sign(debtor, document))

    def splits(level: int, pieces: Sequence[int]) -> Iterator[Call]:
        (first, second), (first_ref, second_ref) = SPLITS[level], SPLIT_REFS[level]
        for lifecycle, piece in zip(lifecycles, pieces, strict=True):
            holder, a, b = lifecycle.split(level)
            yield split.call(holder, piece, [(first, a.address, first_ref), (second, b.address, second_ref)])

    def children(name: str, result: BatchResult, parents: Sequence[int]) -> list[int]:
        """First child id of each split, from its PieceSplit log (checked against the parent)."""
        firsts = []
        for parent, logs in zip(parents, result.logs, strict=True):
            entry = one_log(logs, topics["PieceSplit"], f"{name} of piece {parent}")
            if int(entry["topics"][1], 16) != parent or data_word(entry, 1) != 2:
                raise RuntimeError(f"{name}: PieceSplit {entry} does not split piece {parent} in two")
            firsts.append(data_word(entry, 0))
        return firsts

    def finances(pieces: Sequence[int]) -> Iterator[Call]:
        offer_nonce = parties.offer_nonce
        for lifecycle, piece in zip(lifecycles, pieces, strict=True):
            bank = lifecycle.bank
            nonce = offer_nonce.get(bank.address, 0)
            offer_nonce[bank.address] = nonce + 1
            document = receivables.offer_document(FinanceOffer(piece, bank.address, PRICE, deadline, nonce))
            yield finance.call(lifecycle.tiers[2], tuple(document["message"].values()), sign(bank, document))

    # Generators: BatchSender builds chunk k+1 while chunk k is on the wire. Each split needs
    # the ids of the one before (from its logs); the other steps are submitted back to back,
    # each sent once the one before is mined: finance before repay (a repaid root can no
    # longer be financed), claims after repay. Steps that need nothing of each other share a
    # block (a block costs anvil a pass over the whole state): the second split and the
    # financing of the sibling piece, the third split and the repayment (a split looks at
    # its piece's claims only, a repayment at the root's sums).
    issued = record("issue", sender.send(issues()))
    roots = [
        int(one_log(logs, topics["ReceivableIssued"], f"issue #{i}")["topics"][1], 16)
        for i, logs in enumerate(issued.logs)
    ]
    first = children("split1", record("split1", sender.send(splits(0, roots))), roots)
    tier2a, tier2b = first, [c + 1 for c in first]
    pending_split2 = sender.submit(splits(1, tier2a), share_block=True)
    pending_finance = sender.submit(finances(tier2b))
    second = children("split2", record("split2", pending_split2.result()), tier2a)
    tier3a, tier3b = second, [c + 1 for c in second]
    pending_split3 = sender.submit(splits(2, tier3a), share_block=True)
    financed = record("finance", pending_finance.result())
    pending_repay = sender.submit(repay.call(lc.debtor, root, FACE) for lc, root in zip(lifecycles, roots, strict=True))
    third = children("split3", record("split3", pending_split3.result()), tier3a)
    tier4a, tier4b = third, [c + 1 for c in third]
    leaves = [
        (holder, piece, amount)
        for lc, b, a2, a1a, a1b in zip(lifecycles, tier2b, tier3b, tier4a, tier4b, strict=True)
        for holder, piece, amount in (
            (lc.bank, b, SPLITS[0][1]),
            (lc.tiers[4], a2, SPLITS[1][1]),
            (lc.tiers[5], a1a, SPLITS[2][0]),
            (lc.tiers[6], a1b, SPLITS[2][1]),
        )
    ]
    pending_claims = sender.submit(claim.call(holder, piece) for holder, piece, _ in leaves)
    repaid = record("repay", pending_repay.result())
    claimed = record("claim", pending_claims.result())

    for piece, logs in zip(tier2b, financed.logs, strict=True):
        entry = one_log(logs, topics["PieceFinanced"], f"finance of piece {piece}")
        if int(entry["topics"][1], 16) != piece or data_word(entry, 1) != PRICE:
            raise RuntimeError(f"finance of piece {piece}: unexpected PieceFinanced {entry}")
    for root, logs in zip(roots, repaid.logs, strict=True):
        entry = one_log(logs, topics["ReceivableRepaid"], f"repay of root {root}")
        if int(entry["topics"][1], 16) != root or data_word(entry, 0) != FACE or data_word(entry, 2) != 0:
            raise RuntimeError(f"repay of root {root}: unexpected ReceivableRepaid {entry}")
    for (_, piece, amount), logs in zip(leaves, claimed.logs, strict=True):
        entry = one_log(logs, topics["PieceClaimed"], f"claim of piece {piece}")
        if int(entry["topics"][1], 16) != piece or data_word(entry, 0) != amount:
            raise RuntimeError(f"claim of piece {piece}: unexpected PieceClaimed {entry}")
    steps["roots"] = roots
    return steps


def measure_receivables(build: BuildResult, run_dir: Path, plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """The receivable lifecycles and their ceiling, in alternating rounds, on an anvil of their own."""
    per_round = plan.receivables // plan.receivable_rounds
    transfers = plan.receivable_ceiling_txs // plan.receivable_rounds
    with ledger_anvil(build, run_dir) as (devnet, pid, chain, addresses):
        setup = time.perf_counter()
        lifecycles = RECEIVABLE_WARM_UP + per_round * plan.receivable_rounds
        parties = admit_receivable_parties(chain, build, addresses, plan, lifecycles)
        payers = fund_payers(chain, build, addresses, plan)
        accounts = plan.debtors + plan.receivable_suppliers + plan.banks + plan.payers
        log(f"receivables: admitted and funded {accounts} accounts; warming up")
        receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        sender = BatchSender(chain, chunk=plan.chunk, mine_every=plan.mine_every, lean_signing=not args.eth_account)
        sign = eip712.sign if args.eth_account else sign_typed_data

        def run(count: int, tag: str) -> dict[str, Any]:
            return run_receivables(chain, receivables, tokens.address, parties, count, tag, sender, sign)

        run(RECEIVABLE_WARM_UP, "warm-up")  # untimed: gas estimates, once per kind of call
        setup_s = time.perf_counter() - setup
        profiler = cProfile.Profile() if args.profile else None

        seconds = own_cpu = anvil_cpu = 0.0
        ceiling_s = ceiling_cpu = 0.0
        rounds: list[dict[str, Any]] = []
        roots: list[int] = []
        per_op: dict[str, dict[str, float]] = {}
        for r in range(plan.receivable_rounds):
            ops = per_round * RECEIVABLE_OPS_PER_LIFECYCLE
            log(f"receivables round {r + 1}/{plan.receivable_rounds}: {per_round} lifecycles ({ops} operations)")
            anvil_before, own_before, load = cpu_seconds(pid), time.process_time(), os.getloadavg()[0]
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            steps = run(per_round, f"r{r}")
            if profiler:
                profiler.disable()
            took = time.perf_counter() - started
            seconds += took
            own_cpu += time.process_time() - own_before
            anvil_cpu += cpu_seconds(pid) - anvil_before
            roots += steps.pop("roots")
            for name, step in steps.items():
                kind = name.rstrip("123")
                total = per_op.setdefault(kind, {"n": 0, "batch_seconds": 0.0})
                total["n"] += step["n"]
                total["batch_seconds"] += step["seconds"]
            log(f"  {ops / took:.1f} ops/s; ceiling: {transfers} pre-signed transfers")
            anvil_before = cpu_seconds(pid)
            ceiling = measure_ceiling(devnet.url, tokens.address, payers, transfers, plan.chunk, plan.mine_every)
            ceiling_s += ceiling["seconds"]
            ceiling_cpu += cpu_seconds(pid) - anvil_before
            log(f"  ceiling {ceiling['tx_per_s']:.1f} tx/s")
            rounds.append(
                {
                    "ops_per_s": round(ops / took, 1),
                    "ceiling_tx_per_s": round(ceiling["tx_per_s"], 1),
                    "load_1m_before": round(load, 2),
                    "steps": steps,
                }
            )

        # Beyond every transaction's own check: the trees, the money and the states add up.
        timed = per_round * plan.receivable_rounds
        sample = roots[:: max(1, len(roots) // 20)]
        repaid = all(receivables.status(root) is ReceivableStatus.REPAID for root in sample)
        claimed = all(receivables.root(root).claimed == FACE for root in sample)
        balance = tokens.balance_of(receivables.address)
        pieces = receivables.piece_count()
        if not repaid or not claimed or balance != 0 or len(set(roots)) != timed or pieces != 7 * lifecycles:
            raise SystemExit(
                f"receivable lifecycles did not complete: repaid={repaid} claimed={claimed} "
                f"Receivables balance={balance} pieces={pieces} (expected {7 * lifecycles})"
            )

    print_profile(profiler, "receivable lifecycles")
    ops = timed * RECEIVABLE_OPS_PER_LIFECYCLE
    value = ops / seconds
    ceiling_value = transfers * plan.receivable_rounds / ceiling_s
    log(f"receivables: {value:.1f} ops/s, ceiling {ceiling_value:.1f} tx/s")
    return {
        "unit": "ops/s",
        "value": round(value, 1),
        "ceiling": round(ceiling_value, 1),
        "ratio": round(value / ceiling_value, 3),
        "target": TARGET,
        "target_ratio": 0.5,
        "n": ops,
        "per_op": {
            kind: {
                "per_lifecycle": RECEIVABLE_OPS[kind],
                "n": int(total["n"]),
                # Batches are pipelined (one is built while the one before is mined), so their
                # times overlap and add up to more than the rounds took.
                "batch_seconds": round(total["batch_seconds"], 3),
                "batch_ops_per_s": round(total["n"] / total["batch_seconds"], 1),
            }
            for kind, total in per_op.items()
        },
        "per_op_note": "batch_seconds: from submitting a step's batch to its checked result; the batches are "
        "pipelined (one is built and sent while the one before is mined), so they overlap",
        "workload": "receivable lifecycles through ReceivablesClient's typed data and BatchSender: issue (the "
        "debtor's EIP-712 ReceivableIssue, sent by the creditor), split x3 (creditor splits the root between two "
        "tier-2 suppliers, one of them splits between two tier-3 suppliers, one of those between two tier-4 "
        "suppliers), finance (a bank's EIP-712 FinanceOffer for the other tier-2 piece, sent by its holder), repay "
        "(the debtor, the root's face value), claim by each of the four leaves' holders; one batch per step, "
        "piece ids from the ReceivableIssued and PieceSplit logs, repayments and claims checked from their logs; "
        "split2 and finance share a block, as do split3 and repay (neither of a pair needs the other)",
        "lifecycles": timed,
        "ops_per_lifecycle": RECEIVABLE_OPS_PER_LIFECYCLE,
        "rounds": plan.receivable_rounds,
        "parties": {"debtors": plan.debtors, "suppliers": plan.receivable_suppliers, "banks": plan.banks},
        "seconds": round(seconds, 2),
        "python_cpu_ms_per_op": round(own_cpu / ops * 1000, 3),
        "anvil_cpu_ms_per_op": round(anvil_cpu / ops * 1000, 3),
        "anvil_cpu_ms_per_ceiling_tx": round(ceiling_cpu / (transfers * plan.receivable_rounds) * 1000, 3),
        "anvil_bound_ratio": round(ceiling_cpu / (transfers * plan.receivable_rounds) / (anvil_cpu / ops), 3),
        "per_round": rounds,
        "setup_s": round(setup_s, 2),
        "warm_up_lifecycles": RECEIVABLE_WARM_UP,
        "ceiling_run": f"as the orders' ceiling: {transfers * plan.receivable_rounds} pre-signed ERC-20 transfers "
        "on the receivables' own anvil, alternating with its lifecycles",
    }
