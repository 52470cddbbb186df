"""Receivables.issue: the debtor's signature, parties, order linkage, the fingerprint written once."""

from __future__ import annotations

import pytest
from web3.contract.contract import ContractFunction

from ledger.domain.fingerprints import (
    ConsortiumKey,
    InvoiceNumberNotAscii,
    canonical_invoice_number,
    invoice_commitment,
)
from ledger.domain.receivables import ReceivableStatus
from ledger.errors import ContractReverted
from ledger.eth import eip712
from tests.support.deployments import Deployed
from tests.support.escrow import DAY, acct, addr, escrow_of, high_s, revert_of, send, suspend
from tests.support.receivables import (
    FACE,
    ORDER_AMOUNT,
    RWorld,
    events,
    fingerprint_of,
    holder,
    inspect_passed,
    issue,
    issue_fn,
    issue_terms,
    offer_of,
    open_rworld,
    piece,
    receivables_of,
    root,
    salt_of,
    state,
)
from tests.support.worlds import world_fixtures

module_world, world = world_fixtures(open_rworld)


def rejected(deployed: Deployed, call: ContractFunction, sender: str, error: str) -> ContractReverted:
    """``call`` (a ContractFunction) from ``sender`` reverts with ``error`` and changes nothing."""
    before = state(deployed, pieces=[1], roots=[1])
    reverted = revert_of(lambda: send(deployed, call, acct(deployed, sender)))
    assert reverted.error == error, (reverted.error, reverted.error_args)
    assert state(deployed, pieces=[1], roots=[1]) == before
    return reverted


# -- issuing --------------------------------------------------------------------------------


@pytest.mark.parity
def test_debtor_issues_a_standalone_receivable_to_its_supplier(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="INV-7", nonce=7)
    root_id, receipt = issue(deployed, terms, submitter="core")
    assert root_id == world.root + 1
    r = root(deployed, root_id)
    assert (r.debtor, r.creditor, r.face_value, r.maturity, r.order_id) == (
        terms.debtor,
        terms.creditor,
        FACE,
        terms.maturity,
        0,
    )
    assert (r.repaid, r.claimed, r.defaulted_at) == (0, 0, 0)
    assert (r.fingerprint, r.invoice_commitment) == (terms.fingerprint, terms.invoice_commitment)
    assert r.invoice_commitment == invoice_commitment(salt_of("INV-7"), "inv 7")  # a party proves its number
    p = piece(deployed, root_id)
    assert (p.root_id, p.parent_id, p.amount, p.child_count, p.financed) == (root_id, 0, FACE, 0, False)
    assert holder(deployed, root_id) == terms.creditor
    assert receivables_of(deployed).status(root_id) is ReceivableStatus.OUTSTANDING
    assert receivables_of(deployed).nonce_used(terms.debtor, 7)
    names = [name for name, _ in events(deployed, receipt)]
    assert names == ["ReceivableIssued", "Transfer"]
    issued = events(deployed, receipt)[0][1]
    assert issued["rootId"] == root_id and issued["submitter"] == addr(deployed, "core")
    assert (issued["fingerprint"], issued["invoiceCommitment"]) == (terms.fingerprint, terms.invoice_commitment)
    assert receivables_of(deployed).root_id_of_fingerprint(terms.fingerprint) == root_id


def test_creditor_may_submit_the_debtors_acknowledgement(deployed: Deployed, world: RWorld) -> None:
    root_id, _ = issue(deployed, issue_terms(deployed, invoice="INV-8", nonce=8), submitter="tier1")
    assert holder(deployed, root_id) == addr(deployed, "tier1")


def test_a_supplier_may_be_the_debtor(deployed: Deployed, world: RWorld) -> None:
    root_id, _ = issue(deployed, issue_terms(deployed, debtor="tier1", creditor="tier2", invoice="T1-1"), "tier2")
    assert root(deployed, root_id).debtor == addr(deployed, "tier1")


@pytest.mark.parity
def test_issue_against_a_delivered_open_account_order(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    first = issue_terms(deployed, invoice="PO-1/a", order_id=world.delivered_order, face=ORDER_AMOUNT - 1, nonce=11)
    issue(deployed, first)
    second = issue_terms(deployed, invoice="PO-1/b", order_id=world.delivered_order, face=1, nonce=12)
    root_id, _ = issue(deployed, second)
    assert root(deployed, root_id).order_id == world.delivered_order
    assert client.issued_against_order(world.delivered_order) == ORDER_AMOUNT


def test_issue_against_an_inspected_order_once_inspection_passed(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="PO-2", order_id=world.inspecting_order, nonce=13)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderNotDelivered")
    inspect_passed(deployed, world.inspecting_order)
    root_id, _ = issue(deployed, terms)
    assert root(deployed, root_id).order_id == world.inspecting_order


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parity
def test_second_issuance_of_the_same_invoice_reverts_whoever_submits(deployed: Deployed, world: RWorld) -> None:
    again = issue_terms(deployed, invoice="INV-0001", nonce=99)
    for submitter in ("core", "tier1"):
        reverted = rejected(deployed, issue_fn(deployed, again), submitter, "ReceivablesInvoiceAlreadyIssued")
        assert reverted.error_args["rootId"] == world.root


#: Spellings of invoice INV-0001 (the world's root) a bank or a flow may be handed: each one's
#: fingerprint, computed independently from the same fields, is the root's.
COSMETIC_VARIANTS = [
    "INV-1",
    "INV_1",
    "INV.1",
    "INV/1",
    "INV\\1",
    "INV:1",
    "INV#1",
    "INV1",
    "inv 1",
    " inv-1 ",
    "INV-00001",
    "inv\t- 0001",
    "Inv-1\n",
    "I N V - 0001",
    "INV\u200b-1",  # zero-width space
    "\uff29\uff2e\uff36\uff0d\uff11",  # full-width
    "INV-1\u00ad",  # soft hyphen
    "INV\u00a00001",  # no-break space
]


@pytest.mark.parametrize("variant", COSMETIC_VARIANTS)
def test_cosmetic_variant_of_an_issued_invoice_reverts_whoever_fingerprints_it(
    deployed: Deployed, world: RWorld, variant: str
) -> None:
    terms = issue_terms(deployed, invoice=variant, nonce=50)
    assert terms.fingerprint == fingerprint_of(deployed, "INV-0001")
    reverted = rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesInvoiceAlreadyIssued")
    assert reverted.error_args == {"fingerprint": terms.fingerprint, "rootId": world.root}


@pytest.mark.parametrize("variant", ["\u0406NV-1", "INV\u20101"])
def test_a_look_alike_never_gets_a_fingerprint_of_its_own(variant: str) -> None:
    with pytest.raises(InvoiceNumberNotAscii) as refused:
        canonical_invoice_number(variant)
    assert refused.value.character == variant[refused.value.position]


def test_separators_delimit_digit_runs_so_zeros_between_them_count(deployed: Deployed, world: RWorld) -> None:
    number = "I-N-V_0_0_0_1"  # a separator ends a run: inv0001, not a spelling of INV-0001
    assert canonical_invoice_number(number) == "inv0001"
    root_id, _ = issue(deployed, issue_terms(deployed, invoice=number, nonce=50))
    assert root(deployed, root_id).fingerprint == fingerprint_of(deployed, number) != fingerprint_of(deployed, "INV-1")


def test_same_number_with_another_amount_or_date_is_another_invoice(deployed: Deployed, world: RWorld) -> None:
    first, _ = issue(deployed, issue_terms(deployed, invoice="INV-0001", invoice_amount=FACE + 1, nonce=52))
    second, _ = issue(deployed, issue_terms(deployed, invoice="INV-0001", invoice_date="2026-01-16", nonce=53))
    assert (first, second) == (world.root + 1, world.root + 2)


def test_another_consortium_key_gives_another_fingerprint(deployed: Deployed, world: RWorld) -> None:
    other = ConsortiumKey.derived("another consortium")
    root_id, _ = issue(deployed, issue_terms(deployed, invoice="INV-0001", key=other, nonce=54))
    assert root(deployed, root_id).fingerprint != root(deployed, world.root).fingerprint


def test_a_zero_fingerprint_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, tag=bytes(32))
    fn = receivables_of(deployed).contract.functions.issue(terms.as_tuple(), b"\x00" * 65)
    reverted = rejected(deployed, fn, "core", "ReceivablesFingerprintMissing")
    assert reverted.error_args == {"debtor": terms.debtor, "creditor": terms.creditor}


def test_same_invoice_number_between_other_parties_is_another_invoice(deployed: Deployed, world: RWorld) -> None:
    root_id, _ = issue(deployed, issue_terms(deployed, creditor="tier2", invoice="INV-0001", nonce=51))
    assert root_id == world.root + 1


def test_issue_by_a_third_party_reverts(deployed: Deployed, world: RWorld) -> None:
    rejected(deployed, issue_fn(deployed, issue_terms(deployed, invoice="X", nonce=2)), "tier2", "ReceivablesNotParty")


def test_issue_signed_by_someone_else_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2)
    fn = issue_fn(deployed, terms, signer=acct(deployed, "tier1"))
    reverted = rejected(deployed, fn, "tier1", "ReceivablesInvalidSigner")
    assert reverted.error_args["recovered"] == addr(deployed, "tier1")


@pytest.mark.parity
def test_issue_with_a_high_s_signature_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2)
    client = receivables_of(deployed)
    signature = high_s(client.sign_issue(acct(deployed, "core"), terms))
    fn = client.contract.functions.issue(terms.as_tuple(), signature)
    rejected(deployed, fn, "core", "ReceivablesMalleableSignature")


@pytest.mark.parity
def test_issue_after_the_signature_deadline_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, deadline_in=-1)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesSignatureExpired")


def test_reused_debtor_nonce_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="ANOTHER", nonce=1)
    reverted = rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesNonceUsed")
    assert reverted.error_args == {"debtor": addr(deployed, "core"), "nonce": 1}


def test_issue_to_oneself_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, debtor="tier1", creditor="tier1", invoice="X", nonce=2)
    rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesSelfIssue")


def test_debtor_without_a_buyer_role_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, debtor="bank", invoice="X", nonce=2)
    rejected(deployed, issue_fn(deployed, terms), "bank", "ReceivablesDebtorNotEligible")


def test_creditor_that_is_no_supplier_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, creditor="auditor", invoice="X", nonce=2)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesCreditorNotEligible")


@pytest.mark.parity
def test_suspended_creditor_reverts(deployed: Deployed, world: RWorld) -> None:
    suspend(deployed, addr(deployed, "tier2"))
    terms = issue_terms(deployed, creditor="tier2", invoice="X", nonce=2)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesCreditorNotEligible")


def test_other_token_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, token=addr(deployed, "relayer"))
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesTokenNotAllowed")


def test_zero_face_value_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, face=0)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesInvalidAmount")


def test_maturity_in_the_past_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, maturity_in=-DAY)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesInvalidMaturity")


def test_order_that_is_not_open_account_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, order_id=world.escrow_order)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderNotOpenAccount")


def test_order_not_yet_delivered_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, order_id=world.created_order)
    reverted = rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderNotDelivered")
    assert reverted.error_args["status"] == 1


def test_order_of_other_parties_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, creditor="tier2", invoice="X", nonce=2, order_id=world.delivered_order)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderMismatch")


def test_face_values_beyond_the_order_amount_revert(deployed: Deployed, world: RWorld) -> None:
    issue(deployed, issue_terms(deployed, invoice="A", nonce=2, order_id=world.delivered_order, face=ORDER_AMOUNT // 2))
    terms = issue_terms(deployed, invoice="B", nonce=3, order_id=world.delivered_order, face=ORDER_AMOUNT // 2 + 1)
    reverted = rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderAmountExceeded")
    assert reverted.error_args["available"] == ORDER_AMOUNT - ORDER_AMOUNT // 2


def test_unknown_order_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2, order_id=999)
    rejected(deployed, issue_fn(deployed, terms), "core", "ReceivablesOrderNotOpenAccount")


# -- digests --------------------------------------------------------------------------------


@pytest.mark.parity
def test_issue_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    terms = issue_terms(deployed, invoice="INV-2026-0042")
    on_chain = bytes(deployed.chain.call(client.contract.functions.issueDigest(terms.as_tuple())))
    assert on_chain == eip712.digest(client.issue_document(terms))


@pytest.mark.parity
def test_offer_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    offer = offer_of(deployed, world.root, price=FACE - 1)
    on_chain = bytes(deployed.chain.call(client.contract.functions.financeOfferDigest(offer.as_tuple())))
    assert on_chain == eip712.digest(client.offer_document(offer))


def test_invoice_lookup_is_by_fingerprint(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    assert client.root_id_of_fingerprint(fingerprint_of(deployed, " inv-1")) == world.root
    assert client.root_id_of_fingerprint(fingerprint_of(deployed, "INV-2")) == 0
    assert escrow_of(deployed).is_open_account(world.delivered_order)
    assert client.piece_count() == world.root
