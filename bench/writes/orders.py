"""The order lifecycles the write-path benchmark measures: its top-level figures.

A lifecycle is five operations through ``TradeEscrowClient``'s typed data and ``BatchSender``:
createOrder (co-signed by buyer and supplier, sent by the supplier), fundWithPermit (the
buyer's EIP-2612 permit), SHIPPED and DELIVERED attestations (a carrier's signature), and
confirmReceipt. Each step of every lifecycle of a round goes in one batch; the order ids come
from the OrderCreated logs. The node, not Python, sets the pace (its CPU per operation is
about 1.4x its CPU per ERC-20 transfer), so Python's work goes where the node would otherwise
wait: permits and attestations (the carrier follows from the order id, which the contract
assigns in sequence) are signed while the orders are mined, and the two attestation steps,
which one carrier sends in nonce order, share a block (a block costs anvil a pass over the
whole state). ``measure_orders`` admits and funds fresh parties (untimed),
warms up, then alternates timed rounds with the ceiling on the same anvil and checks at the
end that the orders were released and the escrow emptied.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import Attestation, Milestone, OrderStatus, OrderTerms, po_ref_hash
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchResult, BatchSender, Call, FunctionEncoder
from ledger.eth.chain import Chain
from ledger.eth.eip712 import sign_typed_data, sign_typed_data_by
from ledger.toolchain.deploy import ORACLE_KIND, ROLE
from writes.ceiling import fund_payers, measure_ceiling
from writes.nodes import cpu_seconds, ledger_anvil, rpc
from writes.plan import DAY, Plan, log, party, print_profile

OPS_PER_LIFECYCLE = 5
WARM_UP = 8  # lifecycles before the clock starts
AMOUNT = 1_000 * 10**6


@dataclasses.dataclass
class Parties:
    buyers: list[LocalAccount]
    suppliers: list[LocalAccount]
    carriers: list[LocalAccount]
    order_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next order nonce per buyer
    permit_nonce: dict[str, int] = dataclasses.field(default_factory=dict)  # next EIP-2612 nonce per buyer
    last_order_id: int | None = None  # the highest order id seen in OrderCreated logs so far


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


def eth_account_cosign(document: dict[str, Any], *accounts: LocalAccount) -> list[bytes]:
    return [eip712.sign(account, document) for account in accounts]


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
        lifecycles.append((buyer, supplier))
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
        for i, (buyer, supplier) in enumerate(lifecycles):
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

    def permits() -> list[bytes]:
        permit_nonce = parties.permit_nonce
        signatures = []
        for buyer, _ in lifecycles:
            document = tokens.permit_document(
                buyer.address, escrow.address, AMOUNT, permit_nonce.setdefault(buyer.address, 0), now + DAY
            )
            permit_nonce[buyer.address] += 1
            signatures.append(sign(buyer, document))
        return signatures

    def attestation(order_id: int, milestone: Milestone) -> Call:
        """A carrier's attestation of ``milestone`` (the order's carrier follows from its id), sent by it."""
        carrier = carriers[order_id % len(carriers)]
        evidence = keccak(text=f"ni:///sha-256;{order_id}:{milestone.name}")
        # The round's start time: not in the future, within maxAttestationAge, and DELIVERED
        # not before SHIPPED, whichever block the two go in.
        signed = Attestation(order_id, milestone, now, evidence)
        signature = sign(carrier, escrow.attestation_document(signed))
        return attest.call(carrier, signed.as_tuple(), [signature])

    # Generators: BatchSender builds chunk k+1 while chunk k is on the wire. The order ids
    # come from the OrderCreated logs, so creation is finished before funding is built; while
    # the node mines the orders, what does not need their ids is signed: the buyers' permits
    # (they name no order) and the carriers' attestations for the ids the orders will get
    # (the contract numbers orders in sequence; which lifecycle has which id, the logs say).
    # An id the logs do not confirm is signed when it is known.
    pending_create = sender.submit(creates())
    permit_signatures = permits()
    presigned: dict[tuple[int, Milestone], Call] = {}
    if parties.last_order_id is not None:
        for order_id in range(parties.last_order_id + 1, parties.last_order_id + count + 1):
            for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
                presigned[order_id, milestone] = attestation(order_id, milestone)
    created = record("create", pending_create.result())
    order_ids = [int(logs[0]["topics"][1], 16) for logs in created.logs]
    parties.last_order_id = max([*order_ids, parties.last_order_id or 0])

    def funds() -> Iterator[Call]:
        for order_id, (buyer, _), signature in zip(order_ids, lifecycles, permit_signatures, strict=True):
            yield permit.call(buyer, order_id, now + DAY, signature[64], signature[:32], signature[32:64])

    def attestations(milestone: Milestone) -> Iterator[Call]:
        for order_id in order_ids:
            call = presigned.pop((order_id, milestone), None)
            yield call if call is not None else attestation(order_id, milestone)

    # The remaining steps need nothing back from each other: submitted back to back, each
    # is sent once the one before is mined, and built while that one is on the wire. The
    # attestations of an order come from one carrier, SHIPPED before DELIVERED in its
    # nonces: both steps go in one block (a block costs anvil a pass over the whole state).
    submitted = [
        ("fund", sender.submit(funds())),
        ("shipped", sender.submit(attestations(Milestone.SHIPPED), share_block=True)),
        ("delivered", sender.submit(attestations(Milestone.DELIVERED))),
        ("confirm", sender.submit(confirm.call(b, i) for i, (b, _) in zip(order_ids, lifecycles, strict=True))),
    ]
    for name, batch in submitted:
        record(name, batch.result())
    steps["order_ids"] = order_ids
    return steps


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
        sign = eip712.sign if args.eth_account else sign_typed_data
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
        "(buyer); one batch per step, the two attestation steps in one block (one carrier sends both, in nonce "
        "order); outcomes checked from eth_getLogs, order ids read from OrderCreated; while the orders are "
        "mined, the permits and the attestations for the ids the orders will get are signed (an id the logs do "
        "not confirm is signed when known)",
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


def signing(args: argparse.Namespace) -> str:
    if args.eth_account:
        return "eth-account (transactions and typed data)"
    return "lean: coincurve + RLP + keccak for transactions and EIP-712, byte-identical to eth-account"
