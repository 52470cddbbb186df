"""The TradeEscrow client end to end: sign, send, read back, decode events (both backends)."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger.domain.escrow import Attestation, Milestone, OrderStatus, OrderTerms, po_ref_hash
from ledger.errors import ContractReverted
from tests.support.deployments import Deployed

# Both backends: the client signs, sends and decodes alike on each.
pytestmark = pytest.mark.parity

AMOUNT = 250_000 * 10**6
DAY = 86_400


def terms_for(deployed: Deployed, reference: str, *, inspection: bool = False, nonce: int = 0) -> OrderTerms:
    now = deployed.chain.timestamp()
    return OrderTerms(
        buyer=deployed.accounts["core"].address,
        supplier=deployed.accounts["tier1"].address,
        token=deployed.addresses["SettlementToken"],
        amount=AMOUNT,
        ship_by=now + 10 * DAY,
        deliver_by=now + 20 * DAY,
        inspection_required=inspection,
        terms_hash=keccak(text="incoterms FCA; net 60"),
        po_ref_hash=po_ref_hash(reference),
        nonce=nonce,
        deadline=now + DAY,
    )


def test_order_lifecycle_through_the_client(deployed: Deployed) -> None:
    escrow, tokens, accounts = deployed.escrow, deployed.tokens, deployed.accounts
    buyer, supplier, carrier = accounts["core"], accounts["tier1"], accounts["carrier"]
    tokens.mint(buyer.address, AMOUNT, accounts["bank"])
    terms = terms_for(deployed, "PO-2026-0001")

    order_id, receipt = escrow.create_order(
        terms, escrow.sign_order(buyer, terms), escrow.sign_order(supplier, terms), supplier
    )
    assert escrow.order_id_of_po(" PO-2026-0001 ") == order_id
    assert [e.name for e in escrow.events(receipt)] == ["OrderCreated"]

    escrow.fund_with_permit(
        order_id, tokens.sign_permit(buyer, escrow.address, AMOUNT, terms.deadline), accounts["relayer"]
    )
    assert escrow.order(order_id).escrowed == AMOUNT

    now = deployed.chain.timestamp()
    shipped = Attestation(order_id, Milestone.SHIPPED, now, keccak(text="ni:///sha-256;shipping"))
    escrow.attest(shipped, [escrow.sign_attestation(carrier, shipped)], accounts["relayer"])
    delivered = Attestation(order_id, Milestone.DELIVERED, now, keccak(text="ni:///sha-256;receiving"))
    receipt = escrow.attest(delivered, [escrow.sign_attestation(carrier, delivered)], accounts["relayer"])
    event = escrow.events(receipt)[0]
    assert event.name == "MilestoneAttested" and event.args["signers"] == [carrier.address]

    with pytest.raises(ContractReverted) as caught:
        escrow.release(order_id, accounts["relayer"])
    assert caught.value.error == "TradeEscrowClaimWindowOpen"

    # Release waits until the claim window's last second (recorded + claim window) has passed.
    deployed.chain.advance_time(escrow.windows().claim_window + 1)
    escrow.release(order_id, accounts["relayer"])

    order = escrow.order(order_id)
    assert order.status is OrderStatus.RELEASED
    assert (order.escrowed, order.paid_to_supplier, order.refunded_to_buyer) == (0, AMOUNT, 0)
    assert order.terms == terms
    assert tokens.balance_of(supplier.address) == AMOUNT
    assert tokens.balance_of(escrow.address) == 0


def _created(deployed: Deployed, reference: str) -> tuple[int, OrderTerms]:
    escrow, accounts = deployed.escrow, deployed.accounts
    terms = terms_for(deployed, reference)
    order_id, _ = escrow.create_order(
        terms, escrow.sign_order(accounts["core"], terms), escrow.sign_order(accounts["tier1"], terms), accounts["core"]
    )
    return order_id, terms


def test_a_junk_permit_cannot_pull_the_buyers_allowance_for_someone_else(deployed: Deployed) -> None:
    escrow, tokens, accounts = deployed.escrow, deployed.tokens, deployed.accounts
    buyer = accounts["core"]
    tokens.mint(buyer.address, AMOUNT, accounts["bank"])
    tokens.approve(escrow.address, AMOUNT, buyer)  # a standing allowance, e.g. for another order
    order_id, _ = _created(deployed, "PO-JUNK-PERMIT")

    with pytest.raises(ContractReverted) as caught:
        escrow.fund_with_permit(order_id, (0, 27, b"\x00" * 32, b"\x00" * 32), accounts["tier1"])

    assert caught.value.error == "TradeEscrowNotBuyer"
    assert escrow.order(order_id).status is OrderStatus.CREATED
    assert tokens.balance_of(buyer.address) == AMOUNT


def test_a_front_run_permit_still_lets_the_buyer_fund(deployed: Deployed) -> None:
    escrow, tokens, accounts = deployed.escrow, deployed.tokens, deployed.accounts
    buyer = accounts["core"]
    tokens.mint(buyer.address, AMOUNT, accounts["bank"])
    order_id, terms = _created(deployed, "PO-FRONT-RUN")
    permit = tokens.sign_permit(buyer, escrow.address, AMOUNT, terms.deadline)
    deadline, v, r, s = permit
    permit_call = tokens.contract.functions.permit(buyer.address, escrow.address, AMOUNT, deadline, v, r, s)
    deployed.chain.transact(permit_call, accounts["relayer"])  # someone spends the permit first

    escrow.fund_with_permit(order_id, permit, buyer)

    assert escrow.order(order_id).status is OrderStatus.FUNDED
    assert tokens.balance_of(escrow.address) == AMOUNT


def test_open_account_order_moves_by_attestations_and_escrows_nothing(deployed: Deployed) -> None:
    escrow, accounts = deployed.escrow, deployed.accounts
    buyer, supplier, carrier = accounts["core"], accounts["tier1"], accounts["carrier"]
    terms = terms_for(deployed, "PO-OPEN-ACCOUNT")
    escrow_signature = escrow.sign_order(buyer, terms)

    with pytest.raises(ContractReverted) as caught:  # an escrow order's signature is not an open-account one
        escrow.create_open_account_order(
            terms, escrow_signature, escrow.sign_open_account_order(supplier, terms), buyer
        )
    assert caught.value.error == "TradeEscrowInvalidSigner"

    order_id, receipt = escrow.create_open_account_order(
        terms, escrow.sign_open_account_order(buyer, terms), escrow.sign_open_account_order(supplier, terms), buyer
    )
    assert [e.name for e in escrow.events(receipt)] == ["OrderCreated", "OpenAccountOrderCreated"]
    assert escrow.is_open_account(order_id)
    with pytest.raises(ContractReverted) as caught:
        escrow.fund(order_id, buyer)
    assert caught.value.error == "TradeEscrowOpenAccountOrder"

    now = deployed.chain.timestamp()
    for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        attestation = Attestation(order_id, milestone, now, keccak(text=f"open-account {milestone.name}"))
        escrow.attest(attestation, [escrow.sign_attestation(carrier, attestation)], accounts["relayer"])
    deployed.chain.advance_time(escrow.windows().claim_window + 1)

    for refused in (lambda: escrow.release(order_id, buyer), lambda: escrow.confirm_receipt(order_id, buyer)):
        with pytest.raises(ContractReverted) as caught:
            refused()
        assert caught.value.error == "TradeEscrowOpenAccountOrder"
    order = escrow.order(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert (order.escrowed, order.paid_to_supplier, order.refunded_to_buyer) == (0, 0, 0)
    assert deployed.tokens.balance_of(escrow.address) == 0
