"""Receivables.issue: the debtor's signature, parties, order linkage, the unique invoice key, normalisation."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from web3.contract.contract import ContractFunction

from ledger import typed_data
from ledger.errors import ContractReverted
from ledger.receivables import (
    MAX_INVOICE_NUMBER_LENGTH,
    InvalidInvoiceNumber,
    ReceivableStatus,
    invoice_key,
    normalise_invoice_number,
)
from tests.conftest import Deployed
from tests.contracts.escrow_helpers import DAY, acct, addr, escrow_of, high_s, revert_of, send, suspend
from tests.contracts.receivable_helpers import (
    FACE,
    ORDER_AMOUNT,
    RWorld,
    events,
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
    state,
)


@pytest.fixture(scope="module")
def module_world(deployed_session: Deployed) -> Iterator[RWorld]:
    yield from open_rworld(deployed_session)


@pytest.fixture
def world(module_world: RWorld, deployed: Deployed) -> RWorld:
    return module_world


def rejected(deployed: Deployed, call: ContractFunction, sender: str, error: str) -> ContractReverted:
    """``call`` (a ContractFunction) from ``sender`` reverts with ``error`` and changes nothing."""
    before = state(deployed, pieces=[1], roots=[1])
    reverted = revert_of(lambda: send(deployed, call, acct(deployed, sender)))
    assert reverted.error == error, (reverted.error, reverted.error_args)
    assert state(deployed, pieces=[1], roots=[1]) == before
    return reverted


# -- issuing --------------------------------------------------------------------------------


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
    assert (r.repaid, r.claimed, r.defaulted_at, r.invoice_key) == (0, 0, 0, terms.invoice_key)
    p = piece(deployed, root_id)
    assert (p.root_id, p.parent_id, p.amount, p.child_count, p.financed) == (root_id, 0, FACE, 0, False)
    assert holder(deployed, root_id) == terms.creditor
    assert receivables_of(deployed).status(root_id) is ReceivableStatus.OUTSTANDING
    assert receivables_of(deployed).nonce_used(terms.debtor, 7)
    names = [name for name, _ in events(deployed, receipt)]
    assert names == ["ReceivableIssued", "Transfer"]
    issued = events(deployed, receipt)[0][1]
    assert issued["rootId"] == root_id and issued["invoiceNumber"] == "INV-7"
    assert issued["invoiceKey"] == terms.invoice_key and issued["submitter"] == addr(deployed, "core")


def test_creditor_may_submit_the_debtors_acknowledgement(deployed: Deployed, world: RWorld) -> None:
    root_id, _ = issue(deployed, issue_terms(deployed, invoice="INV-8", nonce=8), submitter="tier1")
    assert holder(deployed, root_id) == addr(deployed, "tier1")


def test_a_supplier_may_be_the_debtor(deployed: Deployed, world: RWorld) -> None:
    root_id, _ = issue(deployed, issue_terms(deployed, debtor="tier1", creditor="tier2", invoice="T1-1"), "tier2")
    assert root(deployed, root_id).debtor == addr(deployed, "tier1")


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


def test_second_issuance_of_the_same_invoice_reverts_whoever_submits(deployed: Deployed, world: RWorld) -> None:
    again = issue_terms(deployed, invoice="INV-0001", nonce=99)
    for submitter in ("core", "tier1"):
        reverted = rejected(deployed, issue_fn(deployed, again), submitter, "ReceivablesInvoiceAlreadyIssued")
        assert reverted.error_args["rootId"] == world.root


@pytest.mark.parametrize("variant", [" inv-1 ", "INV-00001", "inv\t- 0001", "Inv-1\n", "I N V - 0 0 0 1"])
def test_cosmetic_variant_of_an_issued_invoice_reverts(deployed: Deployed, world: RWorld, variant: str) -> None:
    terms = issue_terms(deployed, invoice=variant, nonce=50)
    reverted = rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesInvoiceAlreadyIssued")
    assert reverted.error_args["invoiceKey"] == invoice_key(terms.debtor, terms.creditor, "INV-0001")


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


def test_issue_with_a_high_s_signature_reverts(deployed: Deployed, world: RWorld) -> None:
    terms = issue_terms(deployed, invoice="X", nonce=2)
    client = receivables_of(deployed)
    signature = high_s(client.sign_issue(acct(deployed, "core"), terms))
    fn = client.contract.functions.issue(terms.as_tuple(), signature)
    rejected(deployed, fn, "core", "ReceivablesMalleableSignature")


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


@pytest.mark.parametrize("number", ["", "   \t", "X" * 65])
def test_empty_or_overlong_invoice_number_reverts(deployed: Deployed, world: RWorld, number: str) -> None:
    terms = issue_terms(deployed, invoice=number, nonce=2)
    fn = receivables_of(deployed).contract.functions.issue(terms.as_tuple(), b"\x00" * 65)
    rejected(deployed, fn, "core", "ReceivablesInvalidInvoiceNumber")


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


# -- digests and normalisation --------------------------------------------------------------


def test_issue_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    terms = issue_terms(deployed, invoice="Ünïcode-№ 0042")
    on_chain = bytes(deployed.chain.call(client.contract.functions.issueDigest(terms.as_tuple())))
    assert on_chain == typed_data.digest(client.issue_document(terms))


def test_offer_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    offer = offer_of(deployed, world.root, price=FACE - 1)
    on_chain = bytes(deployed.chain.call(client.contract.functions.financeOfferDigest(offer.as_tuple())))
    assert on_chain == typed_data.digest(client.offer_document(offer))


NUMBERS = [
    "INV-0042",
    " inv-42 ",
    "0",
    "000",
    "0-0",
    "A0B00C000",
    "007",
    "INV-0001-0000-0100",
    "x\t\n\v\f\r y",
    "12 0034",
    "00 42",
    "abc",
    "ABCXYZ@[`{",
    "Ünïcode-№ 0042",
    "日本-000123",
    "0a0",
    "9" * 64,
    "0" * 64,
    "INV/2026/000.10",
    "inv_0x00ff",
    "\x00\x01 1",
    " 0 ",
]


def test_python_and_contract_normalise_invoice_numbers_alike(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    core, tier1 = addr(deployed, "core"), addr(deployed, "tier1")
    for number in NUMBERS:
        assert client.normalise_on_chain(number) == normalise_invoice_number(number), number
        on_chain_key = bytes(deployed.chain.call(client.contract.functions.invoiceKey(core, tier1, number)))
        assert on_chain_key == invoice_key(core, tier1, number), number
    for bad in ("", " \t\r\n", "x" * 65, "é" * 33):
        with pytest.raises(InvalidInvoiceNumber):
            normalise_invoice_number(bad)
        reverted = revert_of(lambda: client.normalise_on_chain(bad))  # noqa: B023 - called at once
        assert reverted.error == "ReceivablesInvalidInvoiceNumber"


def random_invoice_numbers(count: int, seed: int = 20260042) -> list[str]:
    """Invoice-like strings rich in what normalisation touches: zeros, digit runs, whitespace, case."""
    rng = random.Random(seed)
    alphabet = [
        "0",
        "0",
        "0",
        "1",
        "7",
        "9",
        " ",
        "\t",
        "\n",
        "\r",
        "\v",
        "\f",
        "A",
        "z",
        "Z",
        "-",
        "/",
        ".",
        "é",
        "№",
        "_",
    ]
    out: list[str] = []
    while len(out) < count:
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
        if len(text.encode()) <= MAX_INVOICE_NUMBER_LENGTH and text.strip(" \t\n\r\v\f"):
            out.append(text)
    return out


def test_python_and_contract_agree_on_random_invoice_numbers(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    fn = client.contract.functions.normaliseInvoiceNumber
    for number in random_invoice_numbers(150):
        assert deployed.chain.call(fn(number)) == normalise_invoice_number(number), repr(number)


def test_normalisation_rules() -> None:
    assert normalise_invoice_number("INV-0042") == normalise_invoice_number(" inv-42 ") == "inv-42"
    assert normalise_invoice_number("000") == "0"
    assert normalise_invoice_number("A0B00C010") == "a0b0c10"
    assert normalise_invoice_number("00 42") == "42"
    assert normalise_invoice_number("Ä-01") == "Ä-1"  # only ASCII letters fold


def test_invoice_lookup_uses_the_canonical_key(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    assert client.root_id_of_invoice(addr(deployed, "core"), addr(deployed, "tier1"), " inv-1") == world.root
    assert client.root_id_of_invoice(addr(deployed, "core"), addr(deployed, "tier1"), "INV-2") == 0
    assert escrow_of(deployed).is_open_account(world.delivered_order)
    assert client.piece_count() == world.root
