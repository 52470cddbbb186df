"""Write-path throughput: complete order and receivable lifecycles through the clients and BatchSender.

    .venv/bin/python bench/write_path.py [--quick] [--profile] [--no-baseline] [--eth-account]
                                         [--only orders|receivables]

Starts its own anvil on a free loopback port (and stops it), compiles and deploys, admits
fresh buyers, suppliers and carrier oracles and funds them with ETH and tokens (untimed),
then times order lifecycles: create (co-signed by buyer and supplier), fund with a permit,
SHIPPED and DELIVERED attestations, confirmReceipt; each is one operation. The anvil runs
with automine off (``--no-mining``) and BatchSender mines a block per 1,000 transactions.

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
piece ids are read from the ReceivableIssued and PieceSplit logs. Its ceiling is measured on
its own anvil, in rounds that alternate with its lifecycles. ``--only`` runs one workload;
with ``--only receivables`` the top-level figures are the receivables'.
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
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# eth-hash picks pycryptodome before pysha3 when both are installed (safe-pysha3 comes with
# eth-tester[py-evm]); per hash 13 us against 3 us, and the clients hash in
# to_checksum_address and po_ref_hash on every operation. Set before anything hashes.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic, keccak

from ledger import compiler, typed_data
from ledger.accounts import DevnetConfig
from ledger.batch import BatchResult, BatchSender, Call, FunctionEncoder, sign_typed_data, sign_typed_data_by
from ledger.chain import Chain, ErrorDecoder
from ledger.compiler import BuildResult
from ledger.deploy import ORACLE_KIND, ROLE, deploy, enrol_dev_members
from ledger.devnet import Devnet, Mining
from ledger.escrow import Attestation, Milestone, OrderStatus, OrderTerms, TradeEscrowClient, po_ref_hash
from ledger.receivables import FinanceOffer, IssueTerms, ReceivablesClient, ReceivableStatus
from ledger.token import TokenClient

TARGET = 1000
OPS_PER_LIFECYCLE = 5
WARM_UP = 8  # lifecycles before the clock starts
AMOUNT = 1_000 * 10**6
DAY = 86_400
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


def log(message: str) -> None:
    print(f"[write_path {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


# -- nodes --------------------------------------------------------------------------------


@contextmanager
def anvil(run_dir: Path, mining: Mining) -> Iterator[Devnet]:
    """An anvil of our own; its periodic state dump is pushed past the run (it costs anvil CPU)."""
    config = dataclasses.replace(DevnetConfig.load(), state_interval=86_400)
    devnet = Devnet(config=config, run_dir=run_dir, port=free_port(), mining=mining)
    info = devnet.up()
    if info.reused or info.pid is None:
        raise SystemExit(f"port {devnet.port} was taken by another anvil; run again")
    try:
        yield devnet
    finally:
        devnet.down()


def rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60)
    payload = answer.json()
    if "error" in payload:
        raise RuntimeError(f"{method}: {payload['error']}")
    return payload["result"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deployed_ledger(url: str, build: BuildResult) -> tuple[Chain, dict[str, str]]:
    chain = Chain.http(url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()), timeout=120)
    assert chain.accounts is not None
    result = deploy(chain, build, chain.accounts["admin"], None)
    enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    return chain, result.addresses


def party(tag: str, i: int) -> LocalAccount:
    return Account.from_key(keccak(text=f"bench/write_path:{tag}:{i}"))


# -- the measured workload -----------------------------------------------------------------


@dataclasses.dataclass
class Parties:
    buyers: list[LocalAccount]
    suppliers: list[LocalAccount]
    carriers: list[LocalAccount]
    order_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next order nonce per buyer
    permit_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next EIP-2612 nonce per buyer


def admit_parties(chain: Chain, build: BuildResult, addresses: dict[str, str], plan: Plan, mint: int) -> Parties:
    """Fresh members with ETH for gas and tokens to escrow, all in batches (not timed)."""
    assert chain.accounts is not None
    admin, bank = chain.accounts["admin"], chain.accounts["bank"]
    parties = Parties(
        [party("buyer", i) for i in range(plan.buyers)],
        [party("supplier", i) for i in range(plan.suppliers)],
        [party("carrier", i) for i in range(plan.carriers)],
    )
    sender = BatchSender(chain, chunk=plan.chunk)
    admit = FunctionEncoder(chain.contract(build["Membership"], addresses["Membership"]), "admit")
    members = (
        [(a, ROLE["core"], 0) for a in parties.buyers]
        + [(a, ROLE["supplier"], 0) for a in parties.suppliers]
        + [(a, ROLE["oracle"], ORACLE_KIND["carrier"]) for a in parties.carriers]
    )
    sender.send([admit.call(admin, a.address, roles, kind, keccak(text=a.address)) for a, roles, kind in members])
    sender.send([Call(a.address, b"", admin, value=10**20, label="gas money") for a, _, _ in members])
    token = FunctionEncoder(chain.contract(build["SettlementToken"], addresses["SettlementToken"]), "mint")
    sender.send([token.call(bank, a.address, mint) for a in parties.buyers])
    return parties


def fund_payers(chain: Chain, build: BuildResult, addresses: dict[str, str], plan: Plan) -> list[LocalAccount]:
    """The ceiling's senders: accounts of their own, so its nonces never meet the lifecycles'."""
    assert chain.accounts is not None
    admin, bank = chain.accounts["admin"], chain.accounts["bank"]
    payers = [party("payer", i) for i in range(plan.payers)]
    sender = BatchSender(chain, chunk=plan.chunk)
    sender.send([Call(a.address, b"", admin, value=10**20, label="gas money") for a in payers])
    token = FunctionEncoder(chain.contract(build["SettlementToken"], addresses["SettlementToken"]), "mint")
    sender.send([token.call(bank, a.address, 10**12) for a in payers])
    return payers


def eth_account_cosign(document: dict[str, Any], *accounts: LocalAccount) -> list[bytes]:
    return [typed_data.sign(account, document) for account in accounts]


def run_lifecycles(
    chain: Chain,
    escrow: TradeEscrowClient,
    tokens: TokenClient,
    parties: Parties,
    count: int,
    tag: str,
    sender: BatchSender,
    sign: Callable[[LocalAccount, dict[str, Any]], bytes],
    cosign: Callable[..., list[bytes]],
) -> dict[str, Any]:
    """``count`` lifecycles through five batches, one per step; returns per-step timings."""
    contract = escrow.contract
    create, permit, attest, confirm = (
        FunctionEncoder(contract, name) for name in ("createOrder", "fundWithPermit", "attest", "confirmReceipt")
    )
    buyers, suppliers, carriers = parties.buyers, parties.suppliers, parties.carriers
    now = chain.timestamp()
    order_nonce = parties.order_nonce
    lifecycles = []
    for i in range(count):
        buyer, supplier = buyers[i % len(buyers)], suppliers[(i // len(buyers) + i) % len(suppliers)]
        lifecycles.append((buyer, supplier, carriers[i % len(carriers)]))
    steps: dict[str, Any] = {}
    terms_hash = keccak(text="incoterms FCA; net 60")

    def record(name: str, result: BatchResult) -> BatchResult:
        steps[name] = {
            "seconds": round(result.seconds, 3),
            **{k: round(v, 3) for k, v in result.timings.items()},
            "blocks": result.last_block - result.first_block,
        }
        log(f"  {name}: {len(result)} in {result.seconds:.2f}s")
        return result

    def creates() -> Iterator[Call]:
        for i, (buyer, supplier, _) in enumerate(lifecycles):
            terms = OrderTerms(
                buyer=buyer.address,
                supplier=supplier.address,
                token=tokens.address,
                amount=AMOUNT,
                ship_by=now + 10 * DAY,
                deliver_by=now + 20 * DAY,
                inspection_required=False,
                terms_hash=terms_hash,
                po_ref_hash=po_ref_hash(f"PO-BENCH-{tag}-{i}"),
                nonce=order_nonce.setdefault(buyer.address, 0),
                deadline=now + DAY,
            )
            order_nonce[buyer.address] += 1
            document = escrow.order_document(terms)
            buyer_signature, supplier_signature = cosign(document, buyer, supplier)
            # The document holds the terms in ABI order already: terms.as_tuple() would build
            # the message (and checksum its three addresses) a second time.
            yield create.call(supplier, tuple(document["message"].values()), buyer_signature, supplier_signature)

    # Generators: BatchSender builds chunk k+1 while chunk k is on the wire. The order ids
    # come from the OrderCreated logs, so creation is finished before funding is built.
    created = record("create", sender.send(creates()))
    order_ids = [int(logs[0]["topics"][1], 16) for logs in created.logs]

    def funds() -> Iterator[Call]:
        permit_nonce = parties.permit_nonce
        for order_id, (buyer, _, _) in zip(order_ids, lifecycles, strict=True):
            document = tokens.permit_document(
                buyer.address, escrow.address, AMOUNT, permit_nonce.setdefault(buyer.address, 0), now + DAY
            )
            permit_nonce[buyer.address] += 1
            signature = sign(buyer, document)
            yield permit.call(buyer, order_id, now + DAY, signature[64], signature[:32], signature[32:64])

    def attestations(milestone: Milestone) -> Iterator[Call]:
        occurred = chain.timestamp()
        for order_id, (_, _, carrier) in zip(order_ids, lifecycles, strict=True):
            evidence = keccak(text=f"ni:///sha-256;{order_id}:{milestone.name}")
            attestation = Attestation(order_id, milestone, occurred, evidence)
            signature = sign(carrier, escrow.attestation_document(attestation))
            yield attest.call(carrier, attestation.as_tuple(), [signature])

    # The remaining steps need nothing back from each other: submitted back to back, each
    # is sent once the one before is mined, and built while that one is on the wire.
    submitted = [
        ("fund", sender.submit(funds())),
        ("shipped", sender.submit(attestations(Milestone.SHIPPED))),
        ("delivered", sender.submit(attestations(Milestone.DELIVERED))),
        ("confirm", sender.submit(confirm.call(b, i) for i, (b, _, _) in zip(order_ids, lifecycles, strict=True))),
    ]
    for name, batch in submitted:
        record(name, batch.result())
    steps["order_ids"] = order_ids
    return steps


# -- the receivables workload ----------------------------------------------------------------

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


def event_topics(contract: Any) -> dict[str, str]:
    return {
        item["name"]: "0x" + event_abi_to_log_topic(item).hex()
        for item in contract.abi
        if item["type"] == "event" and not item.get("anonymous")
    }


def one_log(logs: list[dict[str, Any]], topic: str, what: str) -> dict[str, Any]:
    """The item's log of ``topic``; a missing one fails the benchmark."""
    for entry in logs:
        if entry["topics"] and entry["topics"][0] == topic:
            return entry
    raise RuntimeError(f"{what}: the transaction left no such event (logs: {logs})")


def data_word(entry: dict[str, Any], index: int) -> int:
    data: str = entry["data"]
    return int(data[2 + 64 * index : 2 + 64 * (index + 1)], 16)


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
            terms = IssueTerms(
                debtor.address, creditor.address, token, FACE, maturity, keccak(text=number), number, 0, nonce, deadline
            )
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
    # longer be financed), claims after repay.
    issued = record("issue", sender.send(issues()))
    roots = [
        int(one_log(logs, topics["ReceivableIssued"], f"issue #{i}")["topics"][1], 16)
        for i, logs in enumerate(issued.logs)
    ]
    first = children("split1", record("split1", sender.send(splits(0, roots))), roots)
    tier2a, tier2b = first, [c + 1 for c in first]
    pending_split2 = sender.submit(splits(1, tier2a))
    pending_finance = sender.submit(finances(tier2b))
    second = children("split2", record("split2", pending_split2.result()), tier2a)
    tier3a, tier3b = second, [c + 1 for c in second]
    pending_split3 = sender.submit(splits(2, tier3a))
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


# -- ceiling and baseline --------------------------------------------------------------------


def measure_ceiling(
    url: str, token: str, senders: Sequence[LocalAccount], count: int, chunk: int, mine_every: int | None
) -> dict[str, Any]:
    """The node's own pace for the simplest token write, with no project code in the way.

    ERC-20 transfers are signed with eth-account and their JSON-RPC batch bodies written
    before the clock starts; timed are the POSTs (``requests``), ``evm_mine`` every
    ``mine_every`` transactions (None: once, after the last batch), a nonce poll until all
    are mined and one ``eth_getLogs`` that counts their Transfer events.
    """
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"

    def post(body: Any) -> Any:
        return session.post(url, data=body if isinstance(body, str) else json.dumps(body), timeout=120).json()

    mine = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "evm_mine", "params": []})
    counts = post(
        [
            {"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [s.address, "pending"]}
            for i, s in enumerate(senders)
        ]
    )
    counts.sort(key=lambda a: a["id"])
    nonces = {s.address: int(a["result"], 16) for s, a in zip(senders, counts, strict=True)}
    base_fee = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    selector = keccak(text="transfer(address,uint256)")[:4]
    raws = []
    for i in range(count):
        sender, receiver = senders[i % len(senders)], senders[(i + 1) % len(senders)]
        data = selector + bytes(12) + bytes.fromhex(receiver.address[2:]) + (1).to_bytes(32, "big")
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": 31337,
            "nonce": nonces[sender.address],
            "gas": 60_000,
            "maxFeePerGas": 2 * base_fee + 10**9,
            "maxPriorityFeePerGas": 10**9,
            "to": token,
            "value": 0,
            "data": data,
        }
        nonces[sender.address] += 1
        raws.append("0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex())
    bodies = [
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
                for i, raw in enumerate(raws[start : start + chunk], start)
            ]
        )
        for start in range(0, count, chunk)
    ]
    first = int(rpc(url, "eth_blockNumber", []), 16)
    started = time.perf_counter()
    unmined = 0
    for body in bodies:
        errors = [a["error"] for a in post(body) if "error" in a]
        if errors:
            raise RuntimeError(f"ceiling transfer rejected: {errors[0]}")
        unmined += chunk
        if mine_every is not None and unmined >= mine_every:
            post(mine)
            unmined = 0
    if unmined:
        post(mine)
    pending = dict(nonces)
    while pending:
        answers = post(
            [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount", "params": [a, "latest"]}
                for i, a in enumerate(pending)
            ]
        )
        answers.sort(key=lambda a: a["id"])
        for address, answer in zip(list(pending), answers, strict=True):
            if int(answer["result"], 16) >= pending[address]:
                del pending[address]
        if pending:
            post(mine)
    last = int(rpc(url, "eth_blockNumber", []), 16)
    query = {"fromBlock": hex(first + 1), "toBlock": hex(last), "address": token, "topics": [TRANSFER_TOPIC]}
    logs = rpc(url, "eth_getLogs", [query])
    seconds = time.perf_counter() - started
    if len(logs) != count:
        raise RuntimeError(f"ceiling: {len(logs)} Transfer logs for {count} transfers")
    return {"tx_per_s": count / seconds, "seconds": seconds, "n": count, "blocks": last - first}


def measure_baseline(build: BuildResult, run_dir: Path, lifecycles: int) -> dict[str, Any]:
    """What a plain web3.py user gets: ``transact()`` from anvil's unlocked accounts and
    ``wait_for_transaction_receipt`` (default polling), one operation after the other, on
    an automining anvil."""
    with anvil(run_dir, "auto") as devnet:
        chain, addresses = deployed_ledger(devnet.url, build)
        assert chain.accounts is not None
        w3, accounts = chain.w3, chain.accounts
        buyer, supplier, carrier, relayer = (accounts[r] for r in ("core", "tier1", "carrier", "relayer"))
        escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        tokens.mint(buyer.address, AMOUNT * lifecycles, accounts["bank"])
        contract, token = escrow.contract, tokens.contract

        def send(fn: Any, sender: str) -> Any:
            receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
            if receipt["status"] != 1:
                raise RuntimeError(f"baseline transaction failed: {receipt}")
            return receipt

        started = time.perf_counter()
        for i in range(lifecycles):
            now = w3.eth.get_block("latest")["timestamp"]
            terms = OrderTerms(
                buyer.address,
                supplier.address,
                tokens.address,
                AMOUNT,
                now + 10 * DAY,
                now + 20 * DAY,
                False,
                keccak(text="terms"),
                po_ref_hash(f"PO-BASE-{i}"),
                i,
                now + DAY,
            )
            receipt = send(
                contract.functions.createOrder(
                    terms.as_tuple(), escrow.sign_order(buyer, terms), escrow.sign_order(supplier, terms)
                ),
                supplier.address,
            )
            order_id = contract.events.OrderCreated().process_receipt(receipt)[0]["args"]["orderId"]
            deadline, v, r, s = tokens.sign_permit(buyer, escrow.address, AMOUNT, now + DAY)
            send(contract.functions.fundWithPermit(order_id, deadline, v, r, s), buyer.address)
            for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
                now = w3.eth.get_block("latest")["timestamp"]
                att = Attestation(order_id, milestone, now, keccak(text=f"base:{order_id}:{milestone}"))
                signature = escrow.sign_attestation(carrier, att)
                send(contract.functions.attest(att.as_tuple(), [signature]), relayer.address)
            send(contract.functions.confirmReceipt(order_id), buyer.address)
        seconds = time.perf_counter() - started
        ops = lifecycles * OPS_PER_LIFECYCLE
        assert token.functions.balanceOf(escrow.address).call() == 0
        return {"ops_per_s": ops / seconds, "seconds": seconds, "n": ops}


# -- the runs --------------------------------------------------------------------------------


@contextmanager
def ledger_anvil(build: BuildResult, run_dir: Path) -> Iterator[tuple[Devnet, int, Chain, dict[str, str]]]:
    """An anvil with the ledger deployed, automine and logging off: (devnet, pid, chain, addresses)."""
    with anvil(run_dir, "auto") as devnet:
        info = devnet.read_info()
        assert info is not None and info.pid is not None
        log(f"anvil on {devnet.url} (pid {info.pid}); deploying")
        chain, addresses = deployed_ledger(devnet.url, build)
        # No-mining mode: BatchSender mines (evm_mine) every ``mine_every`` transactions.
        # Automine makes a block per transaction, and anvil recomputes the state root over
        # the whole state for every block; interval mining makes every step wait a tick.
        rpc(devnet.url, "evm_setAutomine", [False])
        # anvil writes lines per transaction to its log: a cost of logging, not of writing.
        rpc(devnet.url, "anvil_setLoggingEnabled", [False])
        yield devnet, info.pid, chain, addresses


def print_profile(profiler: cProfile.Profile | None, title: str) -> None:
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        print(f"-- profile: {title}", file=sys.stderr)
        print(out.getvalue(), file=sys.stderr)


def measure_orders(build: BuildResult, run_dir: Path, plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    """The order lifecycles and their ceiling, in alternating rounds: the top-level figures."""
    with ledger_anvil(build, run_dir) as (devnet, pid, chain, addresses):
        setup = time.perf_counter()
        per_buyer = -(-plan.lifecycles // plan.buyers) + 1
        parties = admit_parties(chain, build, addresses, plan, AMOUNT * per_buyer)
        payers = fund_payers(chain, build, addresses, plan)
        accounts = plan.buyers + plan.suppliers + plan.carriers + plan.payers
        log(f"admitted and funded {accounts} accounts; warming up")

        escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        _ = tokens.domain  # one eth_call for the token's name, before the clock starts
        sender = BatchSender(chain, chunk=plan.chunk, mine_every=plan.mine_every, lean_signing=not args.eth_account)
        sign = typed_data.sign if args.eth_account else sign_typed_data
        cosign = eth_account_cosign if args.eth_account else sign_typed_data_by
        # Warm-up, untimed: the sender estimates gas once per kind of call and keeps it, as a
        # long-running service would; a first estimate must wait for the state it runs on.
        run_lifecycles(chain, escrow, tokens, parties, WARM_UP, "warm-up", sender, sign, cosign)
        setup_s = time.perf_counter() - setup
        profiler = cProfile.Profile() if args.profile else None

        seconds = own_cpu = anvil_cpu = 0.0
        ceiling_s = ceiling_cpu = 0.0
        rounds: list[dict[str, Any]] = []
        order_ids: list[int] = []
        per_round = plan.lifecycles // plan.rounds
        transfers = plan.ceiling_txs // plan.rounds
        for r in range(plan.rounds):
            log(f"round {r + 1}/{plan.rounds}: {per_round} lifecycles ({per_round * OPS_PER_LIFECYCLE} operations)")
            anvil_before, own_before, load = cpu_seconds(pid), time.process_time(), os.getloadavg()[0]
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            steps = run_lifecycles(chain, escrow, tokens, parties, per_round, f"r{r}", sender, sign, cosign)
            if profiler:
                profiler.disable()
            took = time.perf_counter() - started
            seconds += took
            own_cpu += time.process_time() - own_before
            anvil_cpu += cpu_seconds(pid) - anvil_before
            order_ids += steps.pop("order_ids")
            log(f"  {per_round * OPS_PER_LIFECYCLE / took:.1f} ops/s; ceiling: {transfers} pre-signed transfers")
            anvil_before = cpu_seconds(pid)
            ceiling = measure_ceiling(devnet.url, tokens.address, payers, transfers, plan.chunk, plan.mine_every)
            ceiling_s += ceiling["seconds"]
            ceiling_cpu += cpu_seconds(pid) - anvil_before
            log(f"  ceiling {ceiling['tx_per_s']:.1f} tx/s")
            rounds.append(
                {
                    "ops_per_s": round(per_round * OPS_PER_LIFECYCLE / took, 1),
                    "ceiling_tx_per_s": round(ceiling["tx_per_s"], 1),
                    "load_1m_before": round(load, 2),
                    "steps": steps,
                }
            )
        client = rpc(devnet.url, "web3_clientVersion", [])

        sample = order_ids[:: max(1, len(order_ids) // 20)]
        released = all(escrow.order(i).status is OrderStatus.RELEASED for i in sample)
        escrow_balance = tokens.balance_of(escrow.address)
        if not released or escrow_balance != 0 or len(set(order_ids)) != per_round * plan.rounds:
            raise SystemExit(f"lifecycles did not complete: released={released} escrow balance={escrow_balance}")

    print_profile(profiler, "order lifecycles")
    ops = per_round * plan.rounds * OPS_PER_LIFECYCLE
    value = ops / seconds
    ceiling_value = transfers * plan.rounds / ceiling_s
    details = {
        "mode": "anvil --no-mining (automine switched off with evm_setAutomine false); BatchSender mines with "
        f"evm_mine every {plan.mine_every or 'batch'} transactions; anvil logging off; block gas limit 1G",
        "workload": "order lifecycles through TradeEscrowClient's typed data and BatchSender: createOrder (buyer "
        "and supplier EIP-712 signatures, sent by the supplier), fundWithPermit (buyer's EIP-2612 permit, sent by "
        "the buyer), attest SHIPPED and DELIVERED (a carrier's signature, sent by the carrier), confirmReceipt "
        "(buyer); one batch per step; outcomes checked from eth_getLogs, order ids read from OrderCreated",
        "lifecycles": per_round * plan.rounds,
        "ops_per_lifecycle": OPS_PER_LIFECYCLE,
        "rounds": plan.rounds,
        "parties": {"buyers": plan.buyers, "suppliers": plan.suppliers, "carriers": plan.carriers},
        "chunk": plan.chunk,
        "signing": signing(args),
        "seconds": round(seconds, 2),
        "python_cpu_ms_per_op": round(own_cpu / ops * 1000, 3),
        "anvil_cpu_ms_per_op": round(anvil_cpu / ops * 1000, 3),
        "anvil_cpu_ms_per_ceiling_tx": round(ceiling_cpu / (transfers * plan.rounds) * 1000, 3),
        # The ratio anvil alone would allow: its CPU per transfer over its CPU per operation.
        "anvil_bound_ratio": round(ceiling_cpu / (transfers * plan.rounds) / (anvil_cpu / ops), 3),
        "per_round": rounds,
        "setup_s": round(setup_s, 2),
        "warm_up_lifecycles": WARM_UP,
        "ceiling": "pre-signed ERC-20 transfers (eth-account and JSON bodies made before the clock), posted with "
        f"requests in batches of {plan.chunk}, evm_mine every {plan.mine_every or 'batch'} transactions, nonce "
        f"poll, one eth_getLogs count; {transfers * plan.rounds} in total on the same anvil, alternating with the "
        "lifecycles",
    }
    log(f"orders: {value:.1f} ops/s, ceiling {ceiling_value:.1f} tx/s")
    return {"value": value, "ceiling": ceiling_value, "n": ops, "client": client, "details": details}


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
        sign = typed_data.sign if args.eth_account else sign_typed_data

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
        "piece ids from the ReceivableIssued and PieceSplit logs, repayments and claims checked from their logs",
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


def signing(args: argparse.Namespace) -> str:
    if args.eth_account:
        return "eth-account (transactions and typed data)"
    return "lean: coincurve + RLP + keccak for transactions and EIP-712, byte-identical to eth-account"


# -- main ---------------------------------------------------------------------------------------


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

    environment = {
        "eth_hash_backend": os.environ.get("ETH_HASH_BACKEND"),
        "cpus": os.cpu_count(),
        "load_1m_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "total_s": round(time.perf_counter() - total, 1),
    }
    if orders is not None:
        value, ceiling_value, ops = orders["value"], orders["ceiling"], orders["n"]
        log(f"value {value:.1f} ops/s, ceiling {ceiling_value:.1f} tx/s, baseline {baseline['ops_per_s']:.1f} ops/s")
        details = {
            **orders["details"],
            "baseline": "web3 contract.functions.f().transact() from anvil's unlocked accounts + "
            "wait_for_transaction_receipt (default polling), the same lifecycles one operation at a time, on a "
            "separate automining anvil",
            "baseline_run": {k: round(v, 2) if isinstance(v, float) else v for k, v in baseline.items()},
            "client": orders["client"],
            **environment,
        }
        if receivables is not None:
            details["receivables"] = receivables
        top = {"value": round(value, 1), "ceiling": round(ceiling_value, 1), "ratio": round(value / ceiling_value, 3)}
    else:
        assert receivables is not None
        top = {k: receivables[k] for k in ("value", "ceiling", "ratio")}
        ops = receivables["n"]
        details = {
            "only": "receivables: the top-level figures are the receivables'",
            "receivables": receivables,
            "baseline_run": baseline,
        }
        details.update(environment)
    if receivables is not None:
        log(
            f"receivables {receivables['value']:.1f} ops/s, ceiling {receivables['ceiling']:.1f} tx/s, "
            f"ratio {receivables['ratio']:.3f}"
        )
    print(
        json.dumps(
            {
                "bench": "write_path",
                "unit": "ops/s",
                **top,
                "baseline": round(baseline["ops_per_s"], 1),
                "target": TARGET,
                "n": ops,
                "details": details,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
