"""Receivables pieces: split (tree from events), ERC-721 transfers to members only, financing by a bank."""

from __future__ import annotations

from dataclasses import replace

import pytest
from web3.contract.contract import ContractFunction

from ledger.domain.receivables import Child, discount_bps
from ledger.errors import ContractReverted
from tests.support.deployments import Deployed
from tests.support.escrow import acct, addr, advance_to, balance, high_s, revert_of, send, suspend
from tests.support.receivables import (
    FACE,
    RWorld,
    assert_conserved,
    children,
    claim,
    events,
    finance,
    finance_fn,
    holder,
    named,
    offer_of,
    open_rworld,
    piece,
    receivables_of,
    repay,
    root,
    split,
    split_fn,
    state,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_rworld)


def rejected(
    deployed: Deployed, call: ContractFunction, sender: object, error: str, pieces: list[int] | None = None
) -> ContractReverted:
    """``call`` from ``sender`` (label or account) reverts with ``error`` and changes nothing."""
    ids = pieces or [1]
    account = acct(deployed, sender) if isinstance(sender, str) else sender
    before = state(deployed, pieces=ids, roots=[1])
    reverted = revert_of(lambda: send(deployed, call, account))  # type: ignore[arg-type]
    assert reverted.error == error, (reverted.error, reverted.error_args)
    assert state(deployed, pieces=ids, roots=[1]) == before
    return reverted


def halves(deployed: Deployed) -> list[Child]:
    return children(deployed, (FACE // 2, "tier2", "SUB-A"), (FACE - FACE // 2, "tier3", "SUB-B"))


# -- split ----------------------------------------------------------------------------------


@pytest.mark.parity
def test_holder_splits_into_children_held_by_members(deployed: Deployed, world: RWorld) -> None:
    kids = children(deployed, (60 * 10**9, "tier2", "SUB-A"), (40 * 10**9, world.tier2b, "SUB-B"))
    receipt = send(deployed, split_fn(deployed, world.root, kids), acct(deployed, "tier1"))
    a, b = world.root + 1, world.root + 2
    assert [holder(deployed, a), holder(deployed, b)] == [addr(deployed, "tier2"), world.tier2b.address]
    for child_id, kid in zip((a, b), kids, strict=True):
        p = piece(deployed, child_id)
        assert (p.root_id, p.parent_id, p.amount, p.ref, p.financed) == (
            world.root,
            world.root,
            kid.amount,
            kid.ref,
            False,
        )
    parent = piece(deployed, world.root)
    assert (parent.first_child_id, parent.child_count, list(parent.children)) == (a, 2, [a, b])
    assert holder(deployed, world.root) == addr(deployed, "tier1")  # kept, but locked
    assert named(deployed, receipt, "PieceSplit") == [
        {"pieceId": 1, "rootId": 1, "holder": addr(deployed, "tier1"), "firstChildId": a, "childCount": 2}
    ]
    created = named(deployed, receipt, "PieceCreated")
    assert [(e["pieceId"], e["parentId"], e["rootId"], e["holder"], e["amount"], e["ref"]) for e in created] == [
        (a, 1, 1, kids[0].holder, kids[0].amount, kids[0].ref),
        (b, 1, 1, kids[1].holder, kids[1].amount, kids[1].ref),
    ]


def test_split_to_any_depth_and_the_tree_is_recoverable_from_events(deployed: Deployed, world: RWorld) -> None:
    a, b = split(deployed, world.root, halves(deployed), "tier1")
    c, d = split(deployed, a, children(deployed, (1, "tier3", "S-1"), (FACE // 2 - 1, "tier1", "S-2")), "tier2")
    e, f, g = split(
        deployed, d, children(deployed, (1, "tier2", "x"), (2, "tier3", "y"), (FACE // 2 - 4, "tier2", "z")), "tier1"
    )
    client = receivables_of(deployed)
    pieces = client.tree(world.root)
    assert [p.piece_id for p in pieces] == [1, a, b, c, d, e, f, g]
    leaves = [p for p in pieces if p.is_leaf]
    assert sum(p.amount for p in leaves) == FACE
    assert all(p.root_id == world.root for p in pieces)
    # the same tree from PieceCreated events alone
    logs = client.contract.events.PieceCreated().get_logs(from_block=0)
    parent_of = {int(log["args"]["pieceId"]): int(log["args"]["parentId"]) for log in logs}
    assert parent_of == {p.piece_id: p.parent_id for p in pieces if not p.is_root}


def test_split_of_a_piece_of_the_exact_count_bounds(deployed: Deployed, world: RWorld) -> None:
    parts = [(FACE // 32, "tier2", f"S-{i}") for i in range(31)]
    parts.append((FACE - 31 * (FACE // 32), "tier3", "S-31"))
    ids = split(deployed, world.root, children(deployed, *parts), "tier1")
    assert len(ids) == 32 and piece(deployed, world.root).child_count == 32


@pytest.mark.parity
def test_split_amounts_that_do_not_sum_revert(deployed: Deployed, world: RWorld) -> None:
    kids = children(deployed, (FACE // 2, "tier2", "A"), (FACE // 2 - 1, "tier3", "B"))
    reverted = rejected(deployed, split_fn(deployed, world.root, kids), "tier1", "ReceivablesSplitSumMismatch")
    assert reverted.error_args == {"pieceId": 1, "sum": FACE - 1, "amount": FACE}
    kids = children(deployed, (FACE, "tier2", "A"), (1, "tier3", "B"))
    rejected(deployed, split_fn(deployed, world.root, kids), "tier1", "ReceivablesSplitSumMismatch")


def test_split_with_a_zero_amount_reverts(deployed: Deployed, world: RWorld) -> None:
    kids = children(deployed, (FACE, "tier2", "A"), (0, "tier3", "B"))
    reverted = rejected(deployed, split_fn(deployed, world.root, kids), "tier1", "ReceivablesZeroSplitAmount")
    assert reverted.error_args["index"] == 1


@pytest.mark.parametrize("count", [0, 1, 33])
def test_split_into_too_few_or_too_many_children_reverts(deployed: Deployed, world: RWorld, count: int) -> None:
    kids = children(deployed, *[(1, "tier2", "x") for _ in range(count)])
    rejected(deployed, split_fn(deployed, world.root, kids), "tier1", "ReceivablesInvalidSplitCount")


def test_split_to_a_non_member_reverts(deployed: Deployed, world: RWorld) -> None:
    kids = children(deployed, (FACE // 2, "tier2", "A"), (FACE // 2, world.stranger, "B"))
    reverted = rejected(deployed, split_fn(deployed, world.root, kids), "tier1", "ReceivablesRecipientNotMember")
    assert reverted.error_args == {"recipient": world.stranger.address}


def test_split_to_a_suspended_member_reverts(deployed: Deployed, world: RWorld) -> None:
    suspend(deployed, addr(deployed, "tier3"))
    rejected(deployed, split_fn(deployed, world.root, halves(deployed)), "tier1", "ReceivablesRecipientNotMember")


def test_split_by_a_non_holder_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(deployed, split_fn(deployed, world.root, halves(deployed)), "core", "ReceivablesNotHolder")


def test_split_of_an_unknown_piece_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(deployed, split_fn(deployed, 77, halves(deployed)), "tier1", "ReceivablesUnknownPiece")


def test_split_of_a_split_parent_reverts(deployed: Deployed, world: RWorld) -> None:
    split(deployed, world.root, halves(deployed), "tier1")
    rejected(deployed, split_fn(deployed, world.root, halves(deployed)), "tier1", "ReceivablesPieceSplit")


def test_split_of_a_piece_that_claimed_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE // 10)
    claim(deployed, world.root, "tier1")
    reverted = rejected(
        deployed, split_fn(deployed, world.root, halves(deployed)), "tier1", "ReceivablesPieceHasClaims"
    )
    assert reverted.error_args["claimed"] == FACE // 10


# -- transfers ------------------------------------------------------------------------------


def transfer_fn(deployed: Deployed, sender: str, to: str, piece_id: int) -> ContractFunction:
    return receivables_of(deployed).contract.functions.transferFrom(sender, to, piece_id)


@pytest.mark.parity
def test_holder_transfers_a_piece_to_a_member(deployed: Deployed, world: RWorld) -> None:
    receipt = send(
        deployed, transfer_fn(deployed, addr(deployed, "tier1"), addr(deployed, "tier2"), 1), acct(deployed, "tier1")
    )
    assert holder(deployed, world.root) == addr(deployed, "tier2")
    assert [name for name, _ in events(deployed, receipt)] == ["Transfer"]


def test_transfer_to_a_non_member_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = transfer_fn(deployed, addr(deployed, "tier1"), world.stranger.address, world.root)
    rejected(deployed, fn, "tier1", "ReceivablesRecipientNotMember")


def test_transfer_of_a_split_parent_reverts(deployed: Deployed, world: RWorld) -> None:
    split(deployed, world.root, halves(deployed), "tier1")
    fn = transfer_fn(deployed, addr(deployed, "tier1"), addr(deployed, "tier2"), world.root)
    reverted = rejected(deployed, fn, "tier1", "ReceivablesPieceSplit")
    assert reverted.error_args == {"pieceId": world.root, "childCount": 2}


@pytest.mark.parity
def test_transfer_by_a_stranger_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = transfer_fn(deployed, addr(deployed, "tier1"), addr(deployed, "tier2"), world.root)
    rejected(deployed, fn, "tier2", "ERC721InsufficientApproval")


# -- finance --------------------------------------------------------------------------------


@pytest.mark.parity
def test_holder_sells_a_piece_to_a_bank_atomically(deployed: Deployed, world: RWorld) -> None:
    price = FACE * 98 // 100
    offer = offer_of(deployed, world.root, price=price, nonce=5)
    seller_before, bank_before = balance(deployed, addr(deployed, "tier1")), balance(deployed, addr(deployed, "bank"))
    receipt = finance(deployed, offer, "tier1")
    assert holder(deployed, world.root) == addr(deployed, "bank")
    assert balance(deployed, addr(deployed, "tier1")) == seller_before + price
    assert balance(deployed, addr(deployed, "bank")) == bank_before - price
    assert piece(deployed, world.root).financed
    assert receivables_of(deployed).offer_nonce_used(addr(deployed, "bank"), 5)
    (financed,) = named(deployed, receipt, "PieceFinanced")
    ttm = root(deployed, world.root).maturity - financed["timeToMaturity"]
    assert ttm > 0
    assert financed == {
        "pieceId": 1,
        "rootId": 1,
        "bank": addr(deployed, "bank"),
        "seller": addr(deployed, "tier1"),
        "price": price,
        "amount": FACE,
        "discountBps": discount_bps(FACE, price, financed["timeToMaturity"]),
        "timeToMaturity": financed["timeToMaturity"],
        "nonce": 5,
    }
    assert 800 <= financed["discountBps"] <= 820  # 2% for ~90 days: ~8.1% a year
    assert_conserved(deployed)


def test_price_equal_to_face_value_is_a_zero_discount(deployed: Deployed, world: RWorld) -> None:
    receipt = finance(deployed, offer_of(deployed, world.root, price=FACE), "tier1")
    assert named(deployed, receipt, "PieceFinanced")[0]["discountBps"] == 0


@pytest.mark.parity
def test_piece_financed_twice_reverts_by_any_bank(deployed: Deployed, world: RWorld) -> None:
    finance(deployed, offer_of(deployed, world.root, price=FACE - 1, nonce=1), "tier1")
    again = finance_fn(deployed, offer_of(deployed, world.root, bank=world.bank2, price=FACE - 2, nonce=1))
    rejected(deployed, again, "bank", "ReceivablesAlreadyFinanced")
    # sold on to a supplier, it is still financed: by the same bank or another
    fn = transfer_fn(deployed, addr(deployed, "bank"), addr(deployed, "tier2"), world.root)
    send(deployed, fn, acct(deployed, "bank"))
    rejected(deployed, again, "tier2", "ReceivablesAlreadyFinanced")
    same_bank = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 2, nonce=2))
    rejected(deployed, same_bank, "tier2", "ReceivablesAlreadyFinanced")


def test_holder_cannot_finance_with_its_own_offer(deployed: Deployed, world: RWorld) -> None:
    fn = transfer_fn(deployed, addr(deployed, "tier1"), addr(deployed, "bank"), world.root)
    send(deployed, fn, acct(deployed, "tier1"))
    rejected(deployed, finance_fn(deployed, offer_of(deployed, world.root, price=1)), "bank", "ReceivablesSelfFinance")


def test_children_of_a_financed_piece_count_as_financed(deployed: Deployed, world: RWorld) -> None:
    finance(deployed, offer_of(deployed, world.root, price=FACE - 1), "tier1")
    a, b = split(deployed, world.root, children(deployed, (FACE // 2, "tier2", "A"), (FACE // 2, "bank", "B")), "bank")
    assert piece(deployed, a).financed and piece(deployed, b).financed
    fn = finance_fn(deployed, offer_of(deployed, a, bank=world.bank2, price=1))
    reverted = rejected(deployed, fn, "tier2", "ReceivablesAlreadyFinanced", pieces=[a])
    assert reverted.error_args == {"pieceId": a}


@pytest.mark.parity
def test_expired_offer_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1, deadline_in=-1))
    rejected(deployed, fn, "tier1", "ReceivablesOfferExpired")


def test_replayed_offer_reverts(deployed: Deployed, world: RWorld) -> None:
    a, b = split(
        deployed, world.root, children(deployed, (FACE // 2, "tier1", "A"), (FACE // 2, "tier1", "B")), "tier1"
    )
    offer = offer_of(deployed, a, price=FACE // 4, nonce=9)
    finance(deployed, offer, "tier1")
    send(deployed, transfer_fn(deployed, addr(deployed, "bank"), addr(deployed, "tier1"), a), acct(deployed, "bank"))
    rejected(deployed, finance_fn(deployed, offer), "tier1", "ReceivablesOfferReplayed", pieces=[a])
    # the same nonce on another piece is a replay too
    rejected(
        deployed, finance_fn(deployed, replace(offer, piece_id=b)), "tier1", "ReceivablesOfferReplayed", pieces=[b]
    )


@pytest.mark.parametrize("price", [0, FACE + 1])
def test_price_of_zero_or_above_face_value_reverts(deployed: Deployed, world: RWorld, price: int) -> None:
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=price))
    reverted = rejected(deployed, fn, "tier1", "ReceivablesInvalidPrice")
    assert reverted.error_args == {"pieceId": 1, "price": price, "amount": FACE}


def test_offer_signed_by_another_key_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1), signer=acct(deployed, "core"))
    rejected(deployed, fn, "tier1", "ReceivablesInvalidSigner")


def test_offer_with_a_high_s_signature_reverts(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    offer = offer_of(deployed, world.root, price=FACE - 1)
    signature = high_s(client.sign_offer(acct(deployed, "bank"), offer))
    rejected(
        deployed,
        client.contract.functions.finance(offer.as_tuple(), signature),
        "tier1",
        "ReceivablesMalleableSignature",
    )


def test_offer_from_a_non_bank_reverts(deployed: Deployed, world: RWorld) -> None:
    fn = finance_fn(deployed, offer_of(deployed, world.root, bank="core", price=FACE - 1))
    rejected(deployed, fn, "tier1", "ReceivablesNotBank")


def test_offer_accepted_by_a_non_holder_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(
        deployed, finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1)), "tier2", "ReceivablesNotHolder"
    )


def test_financing_a_split_parent_reverts(deployed: Deployed, world: RWorld) -> None:
    split(deployed, world.root, halves(deployed), "tier1")
    rejected(deployed, finance_fn(deployed, offer_of(deployed, world.root, price=1)), "tier1", "ReceivablesPieceSplit")


@pytest.mark.parity
def test_financing_at_or_after_maturity_reverts(deployed: Deployed, world: RWorld) -> None:
    advance_to(deployed, root(deployed, world.root).maturity)
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1))
    rejected(deployed, fn, "tier1", "ReceivablesMatured")


def test_financing_a_fully_repaid_receivable_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, FACE)
    rejected(
        deployed, finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1)), "tier1", "ReceivablesRootRepaid"
    )


def test_financing_a_piece_that_claimed_reverts(deployed: Deployed, world: RWorld) -> None:
    repay(deployed, world.root, 10)
    claim(deployed, world.root, "tier1")
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1))
    rejected(deployed, fn, "tier1", "ReceivablesPieceHasClaims")


def test_financing_a_defaulted_receivable_reverts(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    advance_to(deployed, root(deployed, world.root).maturity + client.grace_period() + 1)
    send(deployed, client.contract.functions.markDefaulted(world.root), acct(deployed, "relayer"))
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1))
    rejected(deployed, fn, "tier1", "ReceivablesRootDefaulted")


def test_bank_without_allowance_cannot_be_made_to_pay(deployed: Deployed, world: RWorld) -> None:
    tokens = deployed.tokens
    send(deployed, tokens.contract.functions.approve(receivables_of(deployed).address, 0), acct(deployed, "bank"))
    fn = finance_fn(deployed, offer_of(deployed, world.root, price=FACE - 1))
    rejected(deployed, fn, "tier1", "ERC20InsufficientAllowance")
