"""Receivables settlement: repay the root, leaves claim pro rata, default after grace, recoveries, admin."""

from __future__ import annotations

import pytest
from web3.contract.contract import ContractFunction

from ledger.domain.receivables import DEFAULT_GRACE_PERIOD, ReceivableStatus
from ledger.errors import ContractReverted
from tests.support.deployments import Deployed
from tests.support.escrow import acct, addr, advance_to, balance, revert_of, send
from tests.support.receivables import (
    FACE,
    RWorld,
    assert_conserved,
    children,
    claim,
    finance,
    named,
    offer_of,
    open_rworld,
    piece,
    receivables_of,
    repay,
    root,
    split,
    state,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_rworld)


def rejected(
    deployed: Deployed, call: ContractFunction, sender: str, error: str, pieces: tuple[int, ...] = (1,)
) -> ContractReverted:
    """``call`` from ``sender`` reverts with ``error`` and changes nothing."""
    before = state(deployed, pieces=pieces, roots=[1], grace=receivables_of(deployed).grace_period())
    reverted = revert_of(lambda: send(deployed, call, acct(deployed, sender)))
    assert reverted.error == error, (reverted.error, reverted.error_args)
    assert state(deployed, pieces=pieces, roots=[1], grace=receivables_of(deployed).grace_period()) == before
    return reverted


def three_leaves(deployed: Deployed, world: RWorld) -> tuple[int, int, int]:
    """Root split 50/30/20 % to tier2, tier3 and tier1."""
    a, b, c = split(
        deployed,
        world.root,
        children(deployed, (FACE // 2, "tier2", "A"), (FACE * 3 // 10, "tier3", "B"), (FACE // 5, "tier1", "C")),
        "tier1",
    )
    return a, b, c


def default_root(deployed: Deployed, world: RWorld) -> None:
    advance_to(deployed, root(deployed, world.root).maturity + DEFAULT_GRACE_PERIOD + 1)
    send(deployed, receivables_of(deployed).contract.functions.markDefaulted(world.root), acct(deployed, "relayer"))


# -- repay ----------------------------------------------------------------------------------


@pytest.mark.parity
def test_debtor_repays_in_part_and_in_full(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    core_before = balance(deployed, addr(deployed, "core"))
    receipt = repay(deployed, world.root, FACE // 4)
    assert named(deployed, receipt, "ReceivableRepaid") == [
        {
            "rootId": 1,
            "payer": addr(deployed, "core"),
            "amount": FACE // 4,
            "repaid": FACE // 4,
            "outstanding": FACE - FACE // 4,
            "afterDefault": False,
        }
    ]
    assert client.outstanding(world.root) == FACE - FACE // 4
    assert client.status(world.root) is ReceivableStatus.OUTSTANDING
    repay(deployed, world.root, FACE - FACE // 4)
    assert client.status(world.root) is ReceivableStatus.REPAID
    assert balance(deployed, addr(deployed, "core")) == core_before - FACE
    assert balance(deployed, client.address) == FACE
    assert_conserved(deployed)


def test_anyone_may_repay_for_the_debtor(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, 1, payer="relayer")
    assert root(deployed, world.root).repaid == 1


@pytest.mark.parity
def test_repayment_beyond_what_is_still_owed_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE - 10)
    fn = receivables_of(deployed).contract.functions.repay(world.root, 11)
    reverted = rejected(deployed, fn, "core", "ReceivablesRepaymentExceedsOutstanding")
    assert reverted.error_args == {"rootId": 1, "amount": 11, "outstanding": 10}


def test_zero_repayment_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(
        deployed, receivables_of(deployed).contract.functions.repay(world.root, 0), "core", "ReceivablesInvalidAmount"
    )


def test_repaying_a_child_instead_of_its_root_reverts(deployed: Deployed, world: RWorld) -> None:
    a, _, _ = three_leaves(deployed, world)
    reverted = rejected(deployed, receivables_of(deployed).contract.functions.repay(a, 1), "core", "ReceivablesNotRoot")
    assert reverted.error_args == {"pieceId": a, "rootId": world.root}


def test_repaying_an_unknown_receivable_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(deployed, receivables_of(deployed).contract.functions.repay(42, 1), "core", "ReceivablesUnknownPiece")


# -- claim ----------------------------------------------------------------------------------


@pytest.mark.parity
def test_every_leaf_claims_its_pro_rata_share(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    a, b, c = three_leaves(deployed, world)
    repay(deployed, world.root, FACE // 10)
    assert [client.claimable(i) for i in (world.root, a, b, c)] == [0, FACE // 20, FACE * 3 // 100, FACE // 50]
    before = balance(deployed, addr(deployed, "tier2"))
    receipt = claim(deployed, a, "tier2")
    assert named(deployed, receipt, "PieceClaimed") == [
        {"pieceId": a, "rootId": 1, "holder": addr(deployed, "tier2"), "amount": FACE // 20, "claimed": FACE // 20}
    ]
    assert balance(deployed, addr(deployed, "tier2")) == before + FACE // 20
    assert client.claimable(a) == 0
    repay(deployed, world.root, FACE - FACE // 10)
    for leaf, who in ((a, "tier2"), (b, "tier3"), (c, "tier1")):
        claim(deployed, leaf, who)
        assert piece(deployed, leaf).claimed == piece(deployed, leaf).amount
        assert_conserved(deployed)
    assert root(deployed, world.root).claimed == FACE
    assert balance(deployed, client.address) == 0


def test_rounding_never_pays_out_more_than_was_repaid(deployed: Deployed, world: RWorld) -> None:
    a, b, c = split(
        deployed,
        world.root,
        children(
            deployed, (FACE // 3, "tier2", "A"), (FACE // 3, "tier3", "B"), (FACE - 2 * (FACE // 3), "tier1", "C")
        ),
        "tier1",
    )
    for amount in (7, 13, 1):
        repay(deployed, world.root, amount)
        for leaf, who in ((a, "tier2"), (b, "tier3"), (c, "tier1")):
            if receivables_of(deployed).claimable(leaf):
                claim(deployed, leaf, who)
        assert_conserved(deployed)
    assert root(deployed, world.root).claimed <= 21


def test_claim_by_a_non_holder_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE)
    reverted = rejected(
        deployed, receivables_of(deployed).contract.functions.claim(world.root), "core", "ReceivablesNotHolder"
    )
    assert reverted.error_args == {"pieceId": 1, "caller": addr(deployed, "core")}


def test_claim_with_nothing_repaid_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(
        deployed, receivables_of(deployed).contract.functions.claim(world.root), "tier1", "ReceivablesNothingToClaim"
    )


@pytest.mark.parity
def test_second_claim_without_new_repayment_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE // 2)
    claim(deployed, world.root, "tier1")
    rejected(
        deployed, receivables_of(deployed).contract.functions.claim(world.root), "tier1", "ReceivablesNothingToClaim"
    )


def test_claim_on_a_split_parent_reverts(deployed: Deployed, world: RWorld) -> None:
    three_leaves(deployed, world)
    repay(deployed, world.root, FACE)
    rejected(deployed, receivables_of(deployed).contract.functions.claim(world.root), "tier1", "ReceivablesPieceSplit")


def test_the_bank_that_financed_a_piece_claims_it(deployed: Deployed, world: RWorld) -> None:
    finance(deployed, offer_of(deployed, world.root, price=FACE - FACE // 50), "tier1")
    repay(deployed, world.root, FACE)
    before = balance(deployed, addr(deployed, "bank"))
    claim(deployed, world.root, "bank")
    assert balance(deployed, addr(deployed, "bank")) == before + FACE


def test_claims_follow_the_piece_to_its_new_holder(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE // 2)
    claim(deployed, world.root, "tier1")
    fn = receivables_of(deployed).contract.functions.transferFrom(addr(deployed, "tier1"), addr(deployed, "tier2"), 1)
    send(deployed, fn, acct(deployed, "tier1"))
    repay(deployed, world.root, FACE // 2)
    assert receivables_of(deployed).claimable(world.root) == FACE // 2
    claim(deployed, world.root, "tier2")


# -- default --------------------------------------------------------------------------------


@pytest.mark.parity
def test_unpaid_root_defaults_after_maturity_and_grace(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    repay(deployed, world.root, FACE // 4)
    maturity = root(deployed, world.root).maturity
    advance_to(deployed, maturity + DEFAULT_GRACE_PERIOD + 1)
    receipt = send(deployed, client.contract.functions.markDefaulted(world.root), acct(deployed, "relayer"))
    assert named(deployed, receipt, "ReceivableDefaulted") == [
        {"rootId": 1, "debtor": addr(deployed, "core"), "outstanding": FACE * 3 // 4, "by": addr(deployed, "relayer")}
    ]
    assert client.status(world.root) is ReceivableStatus.DEFAULTED
    assert root(deployed, world.root).defaulted_at > 0


@pytest.mark.parity
def test_marking_a_default_within_the_grace_period_reverts(deployed: Deployed, world: RWorld) -> None:
    maturity = root(deployed, world.root).maturity
    advance_to(deployed, maturity + DEFAULT_GRACE_PERIOD - 60)
    fn = receivables_of(deployed).contract.functions.markDefaulted(world.root)
    reverted = rejected(deployed, fn, "relayer", "ReceivablesGraceNotOver")
    assert reverted.error_args["defaultableAfter"] == maturity + DEFAULT_GRACE_PERIOD


def test_marking_a_repaid_root_defaulted_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE)
    advance_to(deployed, root(deployed, world.root).maturity + DEFAULT_GRACE_PERIOD + 1)
    fn = receivables_of(deployed).contract.functions.markDefaulted(world.root)
    rejected(deployed, fn, "relayer", "ReceivablesRootRepaid")


def test_marking_a_default_twice_reverts(deployed: Deployed, world: RWorld) -> None:
    default_root(deployed, world)
    fn = receivables_of(deployed).contract.functions.markDefaulted(world.root)
    rejected(deployed, fn, "relayer", "ReceivablesRootDefaulted")


def test_recoveries_after_default_are_claimable_pro_rata(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    a, b, c = three_leaves(deployed, world)
    default_root(deployed, world)
    receipt = repay(deployed, world.root, FACE // 2)
    assert named(deployed, receipt, "ReceivableRepaid")[0]["afterDefault"] is True
    assert client.status(world.root) is ReceivableStatus.DEFAULTED
    claim(deployed, b, "tier3")
    assert piece(deployed, b).claimed == FACE * 3 // 20
    repay(deployed, world.root, FACE // 2)
    assert client.status(world.root) is ReceivableStatus.REPAID
    for leaf, who in ((a, "tier2"), (b, "tier3"), (c, "tier1")):
        claim(deployed, leaf, who)
    assert balance(deployed, client.address) == 0
    assert_conserved(deployed)


# -- administration -------------------------------------------------------------------------


def test_admin_sets_the_grace_period(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    assert client.grace_period() == DEFAULT_GRACE_PERIOD
    receipt = send(deployed, client.contract.functions.setGracePeriod(3600), acct(deployed, "admin"))
    assert named(deployed, receipt, "GracePeriodSet") == [{"gracePeriod": 3600, "admin": addr(deployed, "admin")}]
    advance_to(deployed, root(deployed, world.root).maturity + 3601)
    send(deployed, client.contract.functions.markDefaulted(world.root), acct(deployed, "relayer"))


@pytest.mark.parity
def test_grace_period_set_by_a_non_admin_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = receivables_of(deployed).contract.functions.setGracePeriod(0)
    rejected(deployed, fn, "core", "ReceivablesUnauthorized")


def test_grace_period_above_a_year_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = receivables_of(deployed).contract.functions.setGracePeriod(365 * 86_400 + 1)
    rejected(deployed, fn, "admin", "ReceivablesInvalidGracePeriod")


def test_views_name_the_linked_contracts(deployed: Deployed, world: RWorld) -> None:
    f = receivables_of(deployed).contract.functions
    chain = deployed.chain
    assert chain.call(f.membership()) == deployed.addresses["Membership"]
    assert chain.call(f.settlementToken()) == deployed.addresses["SettlementToken"]
    assert chain.call(f.tradeEscrow()) == deployed.addresses["TradeEscrow"]
    assert receivables_of(deployed).status(99) is ReceivableStatus.NONE
    assert receivables_of(deployed).claimable(99) == 0
