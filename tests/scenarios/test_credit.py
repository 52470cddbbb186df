"""A scoring bank's view of credit during a play (scenarios/credit.py) and its desk (scenarios/market.PolicyBank).

Read from the shared played world's chain: the shipped model's decisions as of a block, the refused
attempts the play recorded turned into the refused calls the scorer flags, and the desk policy's price.
"""

from __future__ import annotations

from ledger.eth.artifacts import BuildResult
from scenarios.credit import CreditView
from scenarios.market import BankBook, PolicyBank, SaleRequest
from scenarios.world import CORE, SUPPLIER
from scoring.decision import NOT_SCORED, SCORED
from scoring.policy import Policy
from tests.support.played_world import PlayedWorld

DAY = 86_400


def view(world: PlayedWorld, build: BuildResult, *, with_refusals: bool = True) -> CreditView:
    credit = CreditView(world.chain, build, world.result.addresses)
    end = world.result.end
    credit.refresh(end.block, end.timestamp, world.result.refusals if with_refusals else [])
    return credit


def test_decisions_are_the_shipped_models_as_of_the_block_read(world: PlayedWorld, build: BuildResult) -> None:
    credit = view(world, build)
    assert credit.as_of_block == world.result.end.block and credit.refreshes == 1
    parties = world.result.world.parties
    suppliers = [credit.decision(p.address) for p in parties if p.kind == SUPPLIER]
    assert all(d is not None for d in suppliers)
    assert any(d is not None and d.status == SCORED for d in suppliers)
    assert {d.model for d in suppliers if d is not None} == {credit.version}
    core = next(p for p in parties if p.kind == CORE)
    decision = credit.decision(core.address)
    assert decision is not None and decision.status == NOT_SCORED
    record = credit.debtor_record(core.address)
    assert record is not None and record.receivables_outstanding >= 0


def test_an_earlier_block_sees_less_and_nothing_is_decided_before_the_first_refresh(
    world: PlayedWorld, build: BuildResult
) -> None:
    credit = CreditView(world.chain, build, world.result.addresses)
    supplier = next(p for p in world.result.world.parties if p.kind == SUPPLIER)
    assert credit.decision(supplier.address) is None and credit.debtor_record(supplier.address) is None
    start = world.result.start
    credit.refresh(start.block + 2, start.timestamp, [])
    early = credit.decision(supplier.address)
    end = world.result.end
    credit.refresh(end.block, end.timestamp, [])  # reads only the blocks after the first read
    late = credit.decision(supplier.address)
    assert early is not None and late is not None and early.as_of_block < late.as_of_block
    assert (early.features["deliveries_12m"] or 0) < (late.features["deliveries_12m"] or 0)


def test_the_plays_refused_attempts_flag_the_double_financer(world: PlayedWorld, build: BuildResult) -> None:
    actor = world.result.world.parties[world.result.world.double_financer].address
    flagged = view(world, build).decision(actor)
    unseen = view(world, build, with_refusals=False).decision(actor)
    assert flagged is not None and unseen is not None
    assert "DOUBLE_FINANCING" in flagged.flags and flagged.limit == 0
    assert "DOUBLE_FINANCING" not in unseen.flags


def test_the_policy_bank_prices_a_cores_paper_for_a_tier_three_holder_and_declines_a_barred_seller(
    world: PlayedWorld, build: BuildResult
) -> None:
    credit = view(world, build)
    parties = world.result.world.parties
    core = next(p for p in parties if p.kind == CORE and not p.weak_payer)
    tier3 = next(p for p in parties if p.tier == 3)
    bank = PolicyBank(BankBook("Harbour", "0x" + "33" * 20, "policy"), Policy.load(), credit)
    now = world.result.end.timestamp

    def sale(seller: str, tier: int) -> SaleRequest:
        return SaleRequest(1, 1, 5, seller, tier, core.address, True, False, 50_000 * 10**6, now, now + 60 * DAY)

    price = bank.quote(sale(tier3.address, 3))
    assert isinstance(price, int) and 0 < price < 50_000 * 10**6
    actor = parties[world.result.world.double_financer]
    assert bank.quote(sale(actor.address, 1)) == "SELLER_LIMIT_ZERO"  # flagged: this bank published 0 for it
