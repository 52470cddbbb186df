"""TradeEscrow orders: createOrder and its signatures, fund, fundWithPermit, cancelUnfunded, PO-ref lookup, views."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils import keccak

from ledger.domain.escrow import Attestation, Milestone, OrderStatus, OrderTerms, po_ref_hash
from ledger.eth import eip712
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    DAY,
    ZERO_ADDRESS,
    World,
    acct,
    addr,
    assert_money_accounted,
    assert_now,
    balance,
    block_time,
    create_fn,
    create_order,
    escrow_of,
    escrow_state,
    events,
    high_s,
    make_terms,
    mined_revert,
    open_world,
    passes_at,
    revert_of,
    send,
    sign_in_domain,
    signatures,
    suspend,
    tokens_of,
    view,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_world)


def order_book(deployed: Deployed, terms: OrderTerms) -> dict[str, Any]:
    """The escrow's answers about ``terms``' nonce and PO ref, its order count and balance."""
    return escrow_state(deployed, nonces=[(terms.buyer, terms.nonce)], po_refs=[terms.po_ref_hash])


def created_event(order_id: int, terms_tuple: tuple[Any, ...], submitter: str) -> dict[str, Any]:
    buyer, supplier, token, amount, ship_by, deliver_by, inspection, terms_hash, po_ref, nonce, _ = terms_tuple
    return {
        "orderId": order_id,
        "buyer": buyer,
        "supplier": supplier,
        "token": token,
        "amount": amount,
        "shipBy": ship_by,
        "deliverBy": deliver_by,
        "inspectionRequired": inspection,
        "termsHash": terms_hash,
        "poRefHash": po_ref,
        "nonce": nonce,
        "submitter": submitter,
    }


# -- createOrder ------------------------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("submitter", ["core", "tier1"])
def test_create_order_by_either_party_records_the_terms_and_emits_order_created(
    deployed: Deployed, world: World, submitter: str
) -> None:
    escrow = escrow_of(deployed)
    terms = make_terms(deployed, inspection=True)

    order_id, receipt = create_order(deployed, terms, acct(deployed, submitter))

    assert order_id == 6  # after the world's five orders
    assert events(deployed, receipt) == [
        ("OrderCreated", created_event(order_id, terms.as_tuple(), addr(deployed, submitter)))
    ]
    order = escrow.order(order_id)
    assert order.terms == terms
    assert order.status is OrderStatus.CREATED
    assert order.created_at == block_time(deployed, receipt)
    assert (order.funded_at, order.shipped_at, order.delivered_at, order.closed_at) == (0, 0, 0, 0)
    assert (order.escrowed, order.prepaid, order.guarantor) == (0, 0, ZERO_ADDRESS)
    state = escrow_state(deployed, nonces=[(terms.buyer, terms.nonce)], po_refs=[terms.po_ref_hash])
    assert (state["orderCount"], state["nonces"], state["poRefs"]) == (6, [True], [order_id])


def test_create_order_between_two_suppliers_is_accepted(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed, buyer="tier1", supplier="tier2")

    order_id, _ = create_order(deployed, terms)

    assert escrow_of(deployed).order(order_id).terms.buyer == addr(deployed, "tier1")


def test_create_order_with_deliver_by_equal_to_ship_by_is_accepted(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed, ship_in=5 * DAY, deliver_in=5 * DAY)

    order_id, _ = create_order(deployed, terms)

    assert escrow_of(deployed).order(order_id).terms.deliver_by == terms.ship_by


def test_the_same_nonce_is_free_for_another_buyer(deployed: Deployed, world: World) -> None:
    create_order(deployed, make_terms(deployed, nonce=7, po="PO-A"))

    order_id, _ = create_order(deployed, make_terms(deployed, buyer="tier2", nonce=7, po="PO-B"))

    assert order_id == 7


def test_create_order_by_a_third_party_reverts_with_not_party(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed)

    caught = revert_of(lambda: create_order(deployed, terms, acct(deployed, "relayer")))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowNotParty",
        {"orderId": 0, "caller": addr(deployed, "relayer")},
    )


@pytest.mark.parametrize("buyer", ["bank", "carrier", "arbiter"])
def test_create_order_with_a_buyer_neither_core_nor_supplier_reverts_with_buyer_not_eligible(
    deployed: Deployed, world: World, buyer: str
) -> None:
    terms = make_terms(deployed, buyer=buyer)

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == ("TradeEscrowBuyerNotEligible", {"buyer": addr(deployed, buyer)})


@pytest.mark.parity
def test_create_order_with_a_suspended_buyer_reverts_with_buyer_not_eligible(deployed: Deployed, world: World) -> None:
    suspend(deployed, addr(deployed, "core"))
    terms = make_terms(deployed)

    caught = revert_of(lambda: create_order(deployed, terms, acct(deployed, "tier1")))

    assert (caught.error, caught.error_args) == ("TradeEscrowBuyerNotEligible", {"buyer": addr(deployed, "core")})


@pytest.mark.parametrize("supplier", ["core", "bank"])
def test_create_order_with_a_supplier_lacking_the_supplier_role_reverts_with_supplier_not_eligible(
    deployed: Deployed, world: World, supplier: str
) -> None:
    terms = make_terms(deployed, buyer="tier1", supplier=supplier)

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowSupplierNotEligible",
        {"supplier": addr(deployed, supplier)},
    )


def test_create_order_with_a_suspended_supplier_reverts_with_supplier_not_eligible(
    deployed: Deployed, world: World
) -> None:
    suspend(deployed, addr(deployed, "tier1"))

    caught = revert_of(lambda: create_order(deployed, make_terms(deployed)))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowSupplierNotEligible",
        {"supplier": addr(deployed, "tier1")},
    )


def test_create_order_with_buyer_as_supplier_reverts_with_self_trade(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed, buyer="tier1", supplier="tier1")

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == ("TradeEscrowSelfTrade", {"party": addr(deployed, "tier1")})


def test_create_order_in_a_token_not_allowed_reverts_with_token_not_allowed(deployed: Deployed, world: World) -> None:
    other = deployed.addresses["CreditRegistry"]  # any address the admin never allowed
    terms = make_terms(deployed, token=other)

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == ("TradeEscrowTokenNotAllowed", {"token": other})


def test_create_order_for_zero_amount_reverts_with_invalid_amount(deployed: Deployed, world: World) -> None:
    caught = revert_of(lambda: create_order(deployed, make_terms(deployed, amount=0)))

    assert (caught.error, caught.error_args) == ("TradeEscrowInvalidAmount", {"amount": 0})


@pytest.mark.parametrize(
    ("ship_in", "deliver_in"),
    [(-1, 10 * DAY), (-30 * DAY, 10 * DAY), (10 * DAY, 10 * DAY - 1)],
    ids=["ship-by-passed", "ship-by-long-passed", "deliver-by-before-ship-by"],
)
def test_create_order_with_impossible_dates_reverts_with_invalid_dates(
    deployed: Deployed, world: World, ship_in: int, deliver_in: int
) -> None:
    terms = make_terms(deployed, ship_in=ship_in, deliver_in=deliver_in)
    before = deployed.chain.timestamp()

    caught = revert_of(lambda: create_order(deployed, terms))

    assert caught.error == "TradeEscrowInvalidDates"
    assert (caught.error_args["shipBy"], caught.error_args["deliverBy"]) == (terms.ship_by, terms.deliver_by)
    assert_now(deployed, caught.error_args["nowTimestamp"], before)


def test_create_order_without_po_ref_reverts_with_missing_po_ref(deployed: Deployed, world: World) -> None:
    terms = replace(make_terms(deployed), po_ref_hash=b"\x00" * 32)

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == ("TradeEscrowMissingPoRef", {})


def test_create_order_quoting_a_taken_po_ref_reverts_with_po_ref_taken(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed, po="WORLD-PO-2")  # the world's funded order quotes it

    caught = revert_of(lambda: create_order(deployed, terms))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowPoRefTaken",
        {"poRefHash": po_ref_hash("WORLD-PO-2"), "orderId": world.funded},
    )


def test_create_order_past_its_deadline_reverts_with_signature_expired_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    terms = make_terms(deployed, deadline_in=-1)
    before_state = order_book(deployed, terms)
    before = deployed.chain.timestamp()

    caught = mined_revert(deployed, create_fn(deployed, terms, *signatures(deployed, terms)), acct(deployed, "core"))

    assert caught.error == "TradeEscrowSignatureExpired"
    assert caught.error_args["deadline"] == terms.deadline
    assert_now(deployed, caught.error_args["nowTimestamp"], before)
    assert order_book(deployed, terms) == before_state


@pytest.mark.parity
def test_an_order_can_be_submitted_up_to_the_second_of_its_deadline(deployed: Deployed, world: World) -> None:
    terms = make_terms(deployed)
    fn = create_fn(deployed, terms, *signatures(deployed, terms))

    in_time = passes_at(deployed, terms.deadline, fn, acct(deployed, "core"))
    late = passes_at(deployed, terms.deadline + 1, fn, acct(deployed, "core"))

    assert (in_time, late) == (True, False)


@pytest.mark.parity
def test_replayed_order_nonce_reverts_with_nonce_used_and_changes_nothing(deployed: Deployed, world: World) -> None:
    create_order(deployed, make_terms(deployed, nonce=100, po="PO-FIRST"))
    replay = make_terms(deployed, nonce=100, po="PO-SECOND", amount=2 * AMOUNT)
    before = order_book(deployed, replay)

    caught = mined_revert(deployed, create_fn(deployed, replay, *signatures(deployed, replay)), acct(deployed, "core"))

    assert (caught.error, caught.error_args) == ("TradeEscrowNonceUsed", {"buyer": replay.buyer, "nonce": 100})
    assert order_book(deployed, replay) == before
    assert before["poRefs"] == [0] and before["nonces"] == [True]


@pytest.mark.parity
@pytest.mark.parametrize("domain", ["chainId", "verifyingContract", "name", "version"])
def test_order_signed_for_another_domain_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, world: World, domain: str
) -> None:
    escrow = escrow_of(deployed)
    terms = make_terms(deployed)
    other = {
        "chainId": deployed.chain.chain_id + 1,
        "verifyingContract": deployed.addresses["CreditRegistry"],
        "name": "TradeEscrow2",
        "version": "2",
    }[domain]
    document = escrow.order_document(terms)
    buyer_sig = sign_in_domain(acct(deployed, "core"), document, **{domain: other})
    supplier_sig = escrow.sign_order(acct(deployed, "tier1"), terms)
    before = order_book(deployed, terms)

    caught = mined_revert(deployed, create_fn(deployed, terms, buyer_sig, supplier_sig), acct(deployed, "core"))

    recovered = eip712.recover(document, buyer_sig)
    assert recovered != terms.buyer
    assert (caught.error, caught.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": terms.buyer, "recovered": recovered},
    )
    assert order_book(deployed, terms) == before


@pytest.mark.parametrize("index", [0, 1], ids=["buyer", "supplier"])
def test_order_with_a_high_s_signature_reverts_with_malleable_signature_and_changes_nothing(
    deployed: Deployed, world: World, index: int
) -> None:
    terms = make_terms(deployed)
    sigs = list(signatures(deployed, terms))
    flipped = high_s(sigs[index])
    # The flipped signature is the same signer's: only the contract's low-s rule refuses it.
    assert eip712.recover(escrow_of(deployed).order_document(terms), flipped) == [terms.buyer, terms.supplier][index]
    sigs[index] = flipped
    before = order_book(deployed, terms)

    caught = mined_revert(deployed, create_fn(deployed, terms, *sigs), acct(deployed, "tier1"))

    assert (caught.error, caught.error_args) == ("TradeEscrowMalleableSignature", {"index": index})
    assert order_book(deployed, terms) == before


@pytest.mark.parametrize(
    ("slot", "signer"),
    [(0, "tier2"), (0, "tier1"), (1, "tier2"), (1, "core")],
    ids=["buyer-sig-by-stranger", "buyer-sig-by-supplier", "supplier-sig-by-stranger", "supplier-sig-by-buyer"],
)
def test_order_signed_by_the_wrong_party_reverts_with_invalid_signer_and_changes_nothing(
    deployed: Deployed, world: World, slot: int, signer: str
) -> None:
    escrow = escrow_of(deployed)
    terms = make_terms(deployed)
    sigs = list(signatures(deployed, terms))
    sigs[slot] = escrow.sign_order(acct(deployed, signer), terms)
    before = order_book(deployed, terms)

    caught = mined_revert(deployed, create_fn(deployed, terms, *sigs), acct(deployed, "core"))

    expected = [terms.buyer, terms.supplier][slot]
    assert (caught.error, caught.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": expected, "recovered": addr(deployed, signer)},
    )
    assert order_book(deployed, terms) == before


def test_order_submitted_with_terms_other_than_signed_reverts_with_invalid_signer(
    deployed: Deployed, world: World
) -> None:
    escrow = escrow_of(deployed)
    signed = make_terms(deployed)
    submitted = replace(signed, amount=signed.amount - 1)
    buyer_sig, supplier_sig = signatures(deployed, signed)

    caught = revert_of(lambda: escrow.create_order(submitted, buyer_sig, supplier_sig, acct(deployed, "tier1")))

    recovered = eip712.recover(escrow.order_document(submitted), buyer_sig)
    assert (caught.error, caught.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": submitted.buyer, "recovered": recovered},
    )


@pytest.mark.parametrize("signature", [b"", b"\x01" * 64, b"\x01" * 64 + b"\x1d"], ids=["empty", "64-bytes", "bad-v"])
def test_order_with_a_malformed_signature_reverts_with_invalid_signer_from_zero(
    deployed: Deployed, world: World, signature: bytes
) -> None:
    terms = make_terms(deployed)
    _, supplier_sig = signatures(deployed, terms)

    caught = revert_of(lambda: escrow_of(deployed).create_order(terms, signature, supplier_sig, acct(deployed, "core")))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowInvalidSigner",
        {"expected": terms.buyer, "recovered": ZERO_ADDRESS},
    )


# -- fund -------------------------------------------------------------------------------------


@pytest.mark.parity
def test_fund_escrows_the_amount_from_the_allowance_and_emits_order_funded(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    buyer = addr(deployed, "core")
    buyer_before, escrow_before = balance(deployed, buyer), balance(deployed, escrow.address)

    receipt = escrow.fund(world.created, acct(deployed, "core"))

    assert events(deployed, receipt) == [
        ("OrderFunded", {"orderId": world.created, "buyer": buyer, "amount": AMOUNT, "viaPermit": False})
    ]
    order = escrow.order(world.created)
    assert (order.status, order.escrowed, order.funded_at) == (
        OrderStatus.FUNDED,
        AMOUNT,
        block_time(deployed, receipt),
    )
    assert balance(deployed, buyer) == buyer_before - AMOUNT
    assert balance(deployed, escrow.address) == escrow_before + AMOUNT
    assert_money_accounted(deployed)


@pytest.mark.parametrize("caller", ["tier1", "relayer", "admin"])
def test_fund_by_anyone_but_the_buyer_reverts_with_not_buyer(deployed: Deployed, world: World, caller: str) -> None:
    caught = revert_of(lambda: escrow_of(deployed).fund(world.created, acct(deployed, caller)))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowNotBuyer",
        {"orderId": world.created, "caller": addr(deployed, caller)},
    )


@pytest.mark.parametrize("order_id", [0, 99])
def test_fund_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World, order_id: int) -> None:
    caught = revert_of(lambda: escrow_of(deployed).fund(order_id, acct(deployed, "core")))

    assert (caught.error, caught.error_args) == ("TradeEscrowUnknownOrder", {"orderId": order_id})


@pytest.mark.parametrize("state", ["funded", "shipped", "cancelled"])
def test_fund_an_order_not_awaiting_funds_reverts_with_invalid_status(
    deployed: Deployed, world: World, state: str
) -> None:
    escrow = escrow_of(deployed)
    order_id = {"funded": world.funded, "shipped": world.shipped, "cancelled": world.created}[state]
    if state == "cancelled":
        escrow.cancel_unfunded(order_id, acct(deployed, "core"))
    status = escrow.order(order_id).status

    caught = revert_of(lambda: escrow.fund(order_id, acct(deployed, "core")))

    assert (caught.error, caught.error_args) == ("TradeEscrowInvalidStatus", {"orderId": order_id, "status": status})


@pytest.mark.parity
def test_fund_without_allowance_reverts_with_insufficient_allowance_and_changes_nothing(
    deployed: Deployed, world: World
) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    tokens.approve(escrow.address, AMOUNT - 1, acct(deployed, "core"))
    before = escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")])

    caught = mined_revert(deployed, escrow.contract.functions.fund(world.created), acct(deployed, "core"))

    assert (caught.error, caught.error_args) == (
        "ERC20InsufficientAllowance",
        {"spender": escrow.address, "allowance": AMOUNT - 1, "needed": AMOUNT},
    )
    assert escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")]) == before


# -- fundWithPermit ---------------------------------------------------------------------------


@pytest.mark.parity
def test_fund_with_permit_relayed_by_a_non_member_escrows_and_emits_via_permit(
    deployed: Deployed, world: World
) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    tokens.approve(escrow.address, 0, acct(deployed, "core"))  # only the permit can allow it now
    buyer = addr(deployed, "core")
    buyer_before = balance(deployed, buyer)
    permit = tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT, deployed.chain.timestamp() + DAY)

    receipt = escrow.fund_with_permit(world.created, permit, acct(deployed, "relayer"))

    assert events(deployed, receipt) == [
        ("OrderFunded", {"orderId": world.created, "buyer": buyer, "amount": AMOUNT, "viaPermit": True})
    ]
    order = escrow.order(world.created)
    assert (order.status, order.escrowed) == (OrderStatus.FUNDED, AMOUNT)
    assert balance(deployed, buyer) == buyer_before - AMOUNT
    assert tokens.nonce(buyer) == 1
    assert_money_accounted(deployed)


def bad_permit(deployed: Deployed, flaw: str) -> tuple[int, int, bytes, bytes]:
    """A permit of the order amount for the escrow that the token refuses, for ``flaw``."""
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    now = deployed.chain.timestamp()
    if flaw == "wrong-owner":  # tier2 signs a permit of core's funds, with core's nonce
        document = tokens.permit_document(addr(deployed, "core"), escrow.address, AMOUNT, 0, now + DAY)
        signature = eip712.sign(acct(deployed, "tier2"), document)
        return now + DAY, signature[64], signature[:32], signature[32:64]
    if flaw == "wrong-value":
        return tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT - 1, now + DAY)
    return tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT, now - 1)  # expired


@pytest.mark.parametrize("flaw", ["wrong-owner", "wrong-value", "expired"])
def test_fund_with_a_refused_permit_relayed_by_a_third_party_reverts_with_not_buyer_and_changes_nothing(
    deployed: Deployed, world: World, flaw: str
) -> None:
    """The buyer's standing allowance (the world approved the escrow) is no consent for a third party."""
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    fn = escrow.contract.functions.fundWithPermit(world.created, *bad_permit(deployed, flaw))
    before = escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")])

    caught = mined_revert(deployed, fn, acct(deployed, "tier1"))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowNotBuyer",
        {"orderId": world.created, "caller": addr(deployed, "tier1")},
    )
    assert escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")]) == before
    assert tokens.nonce(addr(deployed, "core")) == 0


@pytest.mark.parametrize("flaw", ["wrong-owner", "wrong-value", "expired"])
def test_fund_with_a_refused_permit_by_the_buyer_without_allowance_reverts_with_insufficient_allowance(
    deployed: Deployed, world: World, flaw: str
) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    tokens.approve(escrow.address, 0, acct(deployed, "core"))
    fn = escrow.contract.functions.fundWithPermit(world.created, *bad_permit(deployed, flaw))
    before = escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")])

    caught = mined_revert(deployed, fn, acct(deployed, "core"))

    assert (caught.error, caught.error_args) == (
        "ERC20InsufficientAllowance",
        {"spender": escrow.address, "allowance": 0, "needed": AMOUNT},
    )
    assert escrow_state(deployed, orders=[world.created], holders=[addr(deployed, "core")]) == before


@pytest.mark.parametrize("flaw", ["wrong-owner", "wrong-value", "expired"])
def test_the_buyer_with_a_refused_permit_funds_from_its_allowance_and_the_event_says_not_via_permit(
    deployed: Deployed, world: World, flaw: str
) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)  # the world approved the escrow for core
    fn = escrow.contract.functions.fundWithPermit(world.created, *bad_permit(deployed, flaw))

    receipt = send(deployed, fn, acct(deployed, "core"))

    buyer = addr(deployed, "core")
    assert events(deployed, receipt) == [
        ("OrderFunded", {"orderId": world.created, "buyer": buyer, "amount": AMOUNT, "viaPermit": False})
    ]
    assert (escrow.order(world.created).status, tokens.nonce(buyer)) == (OrderStatus.FUNDED, 0)
    assert_money_accounted(deployed)


def front_run_permit(deployed: Deployed) -> tuple[int, int, bytes, bytes]:
    """The buyer's permit for the order, already submitted to the token by someone else."""
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    tokens.approve(escrow.address, 0, acct(deployed, "core"))
    permit = tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT, deployed.chain.timestamp() + DAY)
    fn = tokens.contract.functions.permit(addr(deployed, "core"), escrow.address, AMOUNT, *permit)
    send(deployed, fn, acct(deployed, "tier2"))
    return permit


def test_the_buyer_still_funds_with_a_permit_that_was_front_run_to_the_token(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    permit = front_run_permit(deployed)

    receipt = escrow.fund_with_permit(world.created, permit, acct(deployed, "core"))

    buyer = addr(deployed, "core")
    # The permit call itself failed (already spent): the buyer's allowance paid, so not via permit.
    assert events(deployed, receipt) == [
        ("OrderFunded", {"orderId": world.created, "buyer": buyer, "amount": AMOUNT, "viaPermit": False})
    ]
    assert escrow.order(world.created).status is OrderStatus.FUNDED
    assert_money_accounted(deployed)


def test_a_front_run_permit_relayed_by_a_third_party_reverts_with_not_buyer(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    permit = front_run_permit(deployed)

    caught = revert_of(lambda: escrow.fund_with_permit(world.created, permit, acct(deployed, "relayer")))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowNotBuyer",
        {"orderId": world.created, "caller": addr(deployed, "relayer")},
    )


def test_fund_with_permit_on_a_funded_order_reverts_with_invalid_status(deployed: Deployed, world: World) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    permit = tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT, deployed.chain.timestamp() + DAY)

    caught = revert_of(lambda: escrow.fund_with_permit(world.funded, permit, acct(deployed, "relayer")))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowInvalidStatus",
        {"orderId": world.funded, "status": OrderStatus.FUNDED},
    )


def test_fund_with_permit_for_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    escrow, tokens = escrow_of(deployed), tokens_of(deployed)
    permit = tokens.sign_permit(acct(deployed, "core"), escrow.address, AMOUNT, deployed.chain.timestamp() + DAY)

    caught = revert_of(lambda: escrow.fund_with_permit(42, permit, acct(deployed, "relayer")))

    assert (caught.error, caught.error_args) == ("TradeEscrowUnknownOrder", {"orderId": 42})


# -- cancelUnfunded ---------------------------------------------------------------------------


@pytest.mark.parametrize("party", ["core", "tier1"])
def test_cancel_unfunded_by_either_party_cancels_and_emits_order_cancelled(
    deployed: Deployed, world: World, party: str
) -> None:
    escrow = escrow_of(deployed)

    receipt = escrow.cancel_unfunded(world.created, acct(deployed, party))

    assert events(deployed, receipt) == [("OrderCancelled", {"orderId": world.created, "by": addr(deployed, party)})]
    order = escrow.order(world.created)
    assert (order.status, order.closed_at, order.escrowed) == (OrderStatus.CANCELLED, block_time(deployed, receipt), 0)
    assert_money_accounted(deployed)


def test_a_cancelled_order_keeps_its_nonce_and_po_ref_taken(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    escrow.cancel_unfunded(world.created, acct(deployed, "core"))
    again = make_terms(deployed, po="WORLD-PO-1", nonce=1)

    caught = revert_of(lambda: create_order(deployed, again))

    assert (caught.error, caught.error_args) == ("TradeEscrowNonceUsed", {"buyer": again.buyer, "nonce": 1})
    caught = revert_of(lambda: create_order(deployed, replace(again, nonce=101)))
    assert (caught.error, caught.error_args) == (
        "TradeEscrowPoRefTaken",
        {"poRefHash": po_ref_hash("WORLD-PO-1"), "orderId": world.created},
    )
    assert escrow.order_id_of_po("WORLD-PO-1") == world.created


@pytest.mark.parametrize("caller", ["tier2", "relayer", "admin"])
def test_cancel_unfunded_by_a_third_party_reverts_with_not_party(deployed: Deployed, world: World, caller: str) -> None:
    caught = revert_of(lambda: escrow_of(deployed).cancel_unfunded(world.created, acct(deployed, caller)))

    assert (caught.error, caught.error_args) == (
        "TradeEscrowNotParty",
        {"orderId": world.created, "caller": addr(deployed, caller)},
    )
    assert escrow_of(deployed).order(world.created).status is OrderStatus.CREATED


@pytest.mark.parametrize("state", ["funded", "delivered", "cancelled"])
def test_cancel_an_order_past_created_reverts_with_invalid_status(deployed: Deployed, world: World, state: str) -> None:
    escrow = escrow_of(deployed)
    order_id = {"funded": world.funded, "delivered": world.delivered, "cancelled": world.created}[state]
    if state == "cancelled":
        escrow.cancel_unfunded(order_id, acct(deployed, "tier1"))
    status = escrow.order(order_id).status

    caught = revert_of(lambda: escrow.cancel_unfunded(order_id, acct(deployed, "core")))

    assert (caught.error, caught.error_args) == ("TradeEscrowInvalidStatus", {"orderId": order_id, "status": status})


def test_cancel_an_unknown_order_reverts_with_unknown_order(deployed: Deployed, world: World) -> None:
    caught = revert_of(lambda: escrow_of(deployed).cancel_unfunded(77, acct(deployed, "core")))

    assert (caught.error, caught.error_args) == ("TradeEscrowUnknownOrder", {"orderId": 77})


# -- PO-ref lookup and views ------------------------------------------------------------------


def test_po_ref_lookup_finds_each_order_by_its_reference(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)

    found = [escrow.order_id_of_po(f"WORLD-PO-{n}") for n in range(1, 6)]

    assert found == [world.created, world.funded, world.shipped, world.delivered, world.inspecting]
    assert escrow.order_id_of_po("  WORLD-PO-3\n") == world.shipped  # the client trims what logistics quote
    assert escrow.order_id_of_po("WORLD-PO-6") == 0
    assert escrow.order_id_of_po("world-po-1") == 0  # references are case sensitive


def test_views_of_an_unknown_order_are_empty(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)

    raw = view(deployed, escrow.contract.functions.orderOf(99))

    assert raw[1] == OrderStatus.NONE and raw[0][0] == ZERO_ADDRESS and raw[9] == 0
    assert tuple(view(deployed, escrow.contract.functions.disputeOf(99))) == (
        0,
        0,
        0,
        False,
        b"\0" * 32,
        b"\0" * 32,
    )


@pytest.mark.parity
def test_digests_and_domain_match_the_typed_data_the_parties_sign(deployed: Deployed, world: World) -> None:
    escrow = escrow_of(deployed)
    fns = escrow.contract.functions
    terms = escrow.order(world.funded).terms
    attestation = (world.funded, 1, 1_700_000_000, keccak(text="evidence"))
    attest_doc = escrow.attestation_document(
        Attestation(world.funded, Milestone.SHIPPED, 1_700_000_000, attestation[3])
    )

    assert view(deployed, fns.orderDigest(terms.as_tuple())) == eip712.digest(escrow.order_document(terms))
    assert view(deployed, fns.attestationDigest(attestation)) == eip712.digest(attest_doc)
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    separator = keccak(
        domain_type
        + keccak(text="TradeEscrow")
        + keccak(text="1")
        + deployed.chain.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(escrow.address[2:])
    )
    assert view(deployed, fns.DOMAIN_SEPARATOR()) == separator
    assert view(deployed, fns.membership()) == deployed.addresses["Membership"]
    assert view(deployed, fns.creditRegistry()) == deployed.addresses["CreditRegistry"]
    assert view(deployed, fns.orderCount()) == 5
