"""The world of the TradeEscrow lock-step suite: its parties and order states, the views it reads, and
the ledger state every example starts from.

``open_fuzz_world`` funds and approves the paying accounts once per backend, and records what the
model must start from (members, windows, thresholds, the bank's nonce and limits, balances), so
that each example only snapshots and reverts. ``ViewReader`` reads all of the contract's views
and the token balances in one batch for the invariant.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledger.domain.escrow import Order, OrderStatus, Windows
from ledger.eth.reads import RawView, ViewBatch
from ledger.model import LimitRecord, Member
from ledger.toolchain.deploy import DEV_MEMBERS, ROLE
from tests.contracts.lockstep import event_topics, summary
from tests.support.deployments import Deployed

UNIT = 10**6
DAY = 86_400
MAX_UINT = 2**256 - 1
FUNDS = 10**9 * UNIT  # per paying account: never the limiting factor within one example
ZERO_HASH = bytes(32)

PAYERS = ("core", "tier1", "tier2", "tier3", "bank")
SUPPLIERS = ("tier1", "tier2", "tier3")
BUYERS = ("core", "tier1", "tier2", "tier3")
GUARANTEE_EVENTS = frozenset({"PrepaymentReleased", "GuaranteeClaimed", "ExposureReleased", "ShortfallRepaid"})
CLOSING_EVENTS = frozenset({"OrderReleased", "OrderRefunded", "DisputeResolved"})
PAID_OUT = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED})
CREATED = frozenset({OrderStatus.CREATED})
FUNDED = frozenset({OrderStatus.FUNDED})
UNSHIPPED = CREATED | FUNDED
ATTESTABLE = frozenset({OrderStatus.FUNDED, OrderStatus.SHIPPED, OrderStatus.DELIVERED})
RECEIVABLE = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED})  # confirm / dispute
RELEASABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.INSPECTED})
DISPUTED = frozenset({OrderStatus.DISPUTED})
LIVE = UNSHIPPED | RECEIVABLE | DISPUTED
TIMED = FUNDED | RECEIVABLE | DISPUTED  # orders with a window that time opens or closes


class ViewReader(ViewBatch):
    """TradeEscrow's views and the token's balances."""

    def __init__(self, deployed: Deployed) -> None:
        super().__init__(deployed.chain)
        escrow_abi = deployed.build["TradeEscrow"].abi
        escrow = deployed.addresses["TradeEscrow"]
        self.order_of = RawView.of(escrow, escrow_abi, "orderOf")
        self.dispute_of = RawView.of(escrow, escrow_abi, "disputeOf")
        self.order_count = RawView.of(escrow, escrow_abi, "orderCount")
        self.pool = RawView.of(escrow, escrow_abi, "pool")
        self.exposure = RawView.of(escrow, escrow_abi, "exposure")
        self.shortfall = RawView.of(escrow, escrow_abi, "shortfall")
        self.available_limit = RawView.of(escrow, escrow_abi, "availableLimit")
        self.evidence_of = RawView.of(escrow, escrow_abi, "evidenceOf")
        self.is_open_account = RawView.of(escrow, escrow_abi, "isOpenAccount")
        self.prepayment_nonce_used = RawView.of(escrow, escrow_abi, "prepaymentNonceUsed")
        token_abi = deployed.build["SettlementToken"].abi
        self.balance_of = RawView.of(deployed.addresses["SettlementToken"], token_abi, "balanceOf")


def order_from_raw(order_id: int, raw: tuple[Any, ...]) -> Order:
    """``orderOf`` decoded exactly as ``TradeEscrowClient.order`` decodes it."""
    return Order.from_view(order_id, raw)


# -- the world: one per backend, under its own snapshot ----------------------------------


@dataclass
class World:
    deployed: Deployed
    views: ViewReader
    topics: dict[bytes, str]
    members: dict[str, Member]
    windows: Windows
    thresholds: dict[int, int]
    bank_nonce: int
    limits: dict[tuple[str, str], LimitRecord]
    balances: dict[str, int]
    stats: Counter[str] = field(default_factory=Counter)
    client_cross_checked: bool = False

    @property
    def backend(self) -> str:
        return self.deployed.backend


def open_fuzz_world(deployed_session: Deployed) -> Iterator[World]:
    """Balances and allowances once per backend (not per example), then examples on top.

    The body of the test module's module-scoped ``fuzz_world`` fixture: it yields the world the
    machine starts every example from, then prints the run's summary and reverts to the snapshot
    taken before it, so the session's ledger is as it was for the next module.
    """
    d = deployed_session
    chain, escrow, tokens, registry = d.chain, d.escrow, d.tokens, d.registry
    base = chain.snapshot()
    try:
        orders = int(chain.call(escrow.contract.functions.orderCount()))
        if orders or escrow.pool(d.accounts["bank"].address) != (0, 0):
            pytest.fail("the session's TradeEscrow is not pristine: a test before this one kept its orders or pools")
        bank = d.accounts["bank"]
        calls = [(tokens.contract.functions.mint(d.accounts[label].address, FUNDS), bank) for label in PAYERS]
        calls += [(tokens.contract.functions.approve(escrow.address, MAX_UINT), d.accounts[label]) for label in PAYERS]
        chain.transact_batch(calls)
        members: dict[str, Member] = {
            d.accounts[label].address: Member(roles, kind) for label, (roles, kind) in DEV_MEMBERS.items()
        }
        members[d.accounts["admin"].address] = Member(ROLE["admin"])
        limits: dict[tuple[str, str], LimitRecord] = {}
        for supplier in (*SUPPLIERS, "core", "relayer"):
            party = d.accounts[supplier].address
            raw = chain.call(registry.contract.functions.recordOf(bank.address, party))
            if raw[0] or raw[4]:
                limits[(bank.address, party)] = LimitRecord(int(raw[0]), int(raw[4]), int(raw[5]))
        holders = [acct.address for _, acct in d.accounts] + [escrow.address]
        world = World(
            deployed=d,
            views=ViewReader(d),
            topics=event_topics(d.build["TradeEscrow"].abi, d.build["CreditRegistry"].abi),
            members=members,
            windows=escrow.windows(),
            thresholds={kind: escrow.threshold(kind) for kind in (1, 2, 3)},
            bank_nonce=registry.nonce(bank.address),
            limits=limits,
            balances={holder: tokens.balance_of(holder) for holder in holders},
        )
        started = time.perf_counter()
        yield world
        elapsed = time.perf_counter() - started
        print(f"\n[{d.backend}] TradeEscrow fuzz: {summary(world.stats, elapsed)}")
    finally:
        chain.revert(base)
