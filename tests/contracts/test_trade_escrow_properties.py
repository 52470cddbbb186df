"""TradeEscrow against its Python model, in lock-step, under random operation sequences.

A hypothesis state machine creates co-signed orders (a few on open account), funds them,
attests milestones with oracle signatures, contests attested milestones with oracle error
declarations, lets time pass, confirms, releases, refunds, runs disputes to every end,
publishes bank limits, funds and drains guarantee pools, draws pre-payments and repays
shortfalls. Every operation goes to the real contracts through the typed clients and to
``ledger.model.EscrowModel``; it must succeed on both or revert on the chain with exactly the
custom error (and arguments) the model predicted. After every step the contract's views, the
token balances and the accounting invariants are compared with the model.

Time is exact: on anvil each transaction is pinned to the latest block's timestamp (the time
the preflight ``eth_call`` runs at, so a revert found by the preflight and the mined
transaction agree), and time moves only when a rule jumps it, sometimes to the very second a
window opens or closes. ``SCF_FUZZ=long`` runs ten times as many examples.

The suite's parts are plain modules beside this one: ``escrow_properties_world`` (the world and
the views), ``escrow_properties_lockstep`` (the operations, each run on both and compared) and
``escrow_properties_machine`` (the rules and the invariant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_utils import keccak
from hypothesis.stateful import run_state_machine_as_test
from web3.types import TxReceipt

from ledger.domain.escrow import Attestation, Milestone, OrderTerms
from tests.contracts.escrow_properties_machine import TradeEscrowMachine
from tests.contracts.escrow_properties_world import DAY, UNIT, ZERO_HASH, World, open_fuzz_world
from tests.contracts.lockstep import (
    AnvilClock,
    Clock,
    EmbeddedClock,
    fuzz_settings,
    register_fuzz_profiles,
    succeeds,
    wall_clock_back,
)
from tests.support.chains import synchronous_sends
from tests.support.deployments import Deployed

# CI runs 100 examples of 30 steps (the floor for this suite); `make fuzz` ten times as many.
register_fuzz_profiles("escrow", examples=100, steps=30)


@pytest.fixture(scope="module")
def fuzz_world(deployed_session: Deployed) -> Iterator[World]:
    """Balances and allowances once per backend (not per example), then examples on top.

    On anvil the machine's clients send synchronously (``tests.support.chains.synchronous_sends``): one round
    trip per transaction, no receipt polls; the same transactions, receipts and checks."""
    if deployed_session.backend != "anvil":
        yield from open_fuzz_world(deployed_session)
        return
    with synchronous_sends(deployed_session):
        yield from open_fuzz_world(deployed_session)


@pytest.mark.parity
def test_trade_escrow_matches_its_model(fuzz_world: World) -> None:
    TradeEscrowMachine.world = fuzz_world
    try:
        run_state_machine_as_test(TradeEscrowMachine, settings=fuzz_settings("escrow", fuzz_world.backend))
    finally:
        TradeEscrowMachine.world = None
        wall_clock_back(fuzz_world.deployed.chain)


# -- what the fuzzing turned up -----------------------------------------------------------


@pytest.mark.parity
def test_the_last_second_of_the_claim_window_belongs_to_release_or_to_a_dispute_not_both(deployed: Deployed) -> None:
    chain, escrow, accounts = deployed.chain, deployed.escrow, deployed.accounts
    buyer, supplier, carrier, relayer = accounts["core"], accounts["tier1"], accounts["carrier"], accounts["relayer"]
    deployed.tokens.mint(buyer.address, UNIT, accounts["bank"])
    deployed.tokens.approve(escrow.address, UNIT, buyer)
    clock: Clock = AnvilClock(chain) if deployed.backend == "anvil" else EmbeddedClock(chain)
    try:

        def at_clock(call: Callable[[], TxReceipt]) -> TxReceipt:
            clock.before_tx()
            receipt = call()
            clock.after_tx()
            return receipt

        def attest(order_id: int, milestone: Milestone) -> TxReceipt:
            attestation = Attestation(order_id, milestone, clock.now, keccak(text=f"edge:{milestone.name}"))
            return escrow.attest(attestation, [escrow.sign_attestation(carrier, attestation)], relayer)

        now = clock.now
        terms = OrderTerms(
            buyer.address, supplier.address, deployed.addresses["SettlementToken"], UNIT, now + DAY, now + 2 * DAY,
            False, ZERO_HASH, keccak(text="PO-claim-window-edge"), 0, now + DAY,
        )  # fmt: skip
        signatures = escrow.sign_order(buyer, terms), escrow.sign_order(supplier, terms)
        clock.before_tx()
        order_id, _ = escrow.create_order(terms, *signatures, buyer)
        clock.after_tx()
        at_clock(lambda: escrow.fund(order_id, buyer))
        at_clock(lambda: attest(order_id, Milestone.SHIPPED))
        at_clock(lambda: attest(order_id, Milestone.DELIVERED))
        ends = escrow.order(order_id).delivered_recorded_at + escrow.windows().claim_window
        clock.jump(ends - clock.now)

        # Try each at the same second, from the same state.
        edge = chain.snapshot()
        clock.before_tx()
        released = succeeds(lambda: escrow.release(order_id, relayer))
        chain.revert(edge)
        clock.now = ends
        clock.before_tx()
        disputed = succeeds(lambda: escrow.open_dispute(order_id, keccak(text="damaged"), buyer))
        assert not (released and disputed), f"at t={ends} both release() and openDispute() were accepted"
        assert (released, disputed) == (False, True), "the claim window's last second belongs to the buyer"
    finally:
        clock.close()
