"""The baseline: what a plain web3.py user gets for the same order lifecycles.

``transact()`` from anvil's unlocked accounts and ``wait_for_transaction_receipt`` (default
polling), one operation after the other, on a separate automining anvil. It is reported next
to the figures (``baseline``), not compared with them: the ceiling is the comparison.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from eth_utils import keccak

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import Attestation, Milestone, OrderTerms, po_ref_hash
from ledger.eth.artifacts import BuildResult
from writes.nodes import anvil, deployed_ledger
from writes.orders import AMOUNT, OPS_PER_LIFECYCLE
from writes.plan import DAY


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
