"""Receivables.issue: the debtor's signature, parties, order linkage, the unique invoice key, normalisation."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from web3.contract.contract import ContractFunction

from ledger.domain.receivables import (
    MAX_INVOICE_NUMBER_LENGTH,
    InvalidInvoiceNumber,
    InvoiceNumberCharacterRefused,
    InvoiceNumberNotAscii,
    ReceivableStatus,
    ascii_invoice_number,
    invoice_key,
    normalise_invoice_number,
)
from ledger.errors import ContractReverted
from ledger.eth import eip712
from tests.support.deployments import Deployed
from tests.support.escrow import DAY, acct, addr, escrow_of, high_s, revert_of, send, suspend
from tests.support.receivables import (
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
from tests.support.worlds import world_fixtures

FUZZ_FACTOR = 10 if os.environ.get("SCF_FUZZ") == "long" else 1


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


#: The issue's list and more: every ASCII spelling of invoice INV-0001 (the world's root).
ASCII_VARIANTS = [
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
    "I-N-V_0_0_0_1",  # a separator ends a run, so this one is inv0001: not a spelling of it
]
#: Non-ASCII spellings: each is refused on chain at its first non-ASCII byte.
UNICODE_VARIANTS = ["INV\u200b-1", "\u0406NV-1", "\uff29\uff2e\uff36\uff0d\uff11", "INV\u20101", "INV-1\u00ad"]


@pytest.mark.parametrize("variant", ASCII_VARIANTS[:-1])
def test_cosmetic_variant_of_an_issued_invoice_reverts(deployed: Deployed, world: RWorld, variant: str) -> None:
    terms = issue_terms(deployed, invoice=variant, nonce=50)
    reverted = rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesInvoiceAlreadyIssued")
    assert reverted.error_args == {
        "invoiceKey": invoice_key(terms.debtor, terms.creditor, "INV-0001"),
        "rootId": world.root,
    }


def test_separators_delimit_digit_runs_so_zeros_between_them_count(deployed: Deployed, world: RWorld) -> None:
    number = ASCII_VARIANTS[-1]
    assert normalise_invoice_number(number) == "inv0001"
    root_id, _ = issue(deployed, issue_terms(deployed, invoice=number, nonce=50))
    core, tier1 = addr(deployed, "core"), addr(deployed, "tier1")
    assert root(deployed, root_id).invoice_key == invoice_key(core, tier1, number) != invoice_key(core, tier1, "INV-1")


@pytest.mark.parametrize("variant", UNICODE_VARIANTS)
def test_non_ascii_variant_is_refused_at_its_first_foreign_byte(
    deployed: Deployed, world: RWorld, variant: str
) -> None:
    terms = issue_terms(deployed, invoice=variant, nonce=50)
    reverted = rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesInvoiceNumberCharacterRefused")
    with pytest.raises(InvoiceNumberCharacterRefused) as python:
        normalise_invoice_number(variant)
    position = python.value.position
    assert reverted.error_args == {
        "invoiceNumber": variant,
        "position": position,
        "character": bytes([variant.encode()[position]]),
    }
    assert variant.encode()[position] >= 0x80


@pytest.mark.parametrize("variant", UNICODE_VARIANTS)
def test_non_ascii_variant_folded_for_people_collides_or_is_refused(
    deployed: Deployed, world: RWorld, variant: str
) -> None:
    try:
        folded = ascii_invoice_number(variant)
    except InvoiceNumberNotAscii as refused:
        # A look-alike (Cyrillic I, a typographic hyphen) never becomes a number of its own.
        assert variant in ("\u0406NV-1", "INV\u20101")
        assert refused.character == variant[refused.position]
        return
    assert variant not in ("\u0406NV-1", "INV\u20101")
    terms = issue_terms(deployed, invoice=folded, nonce=50)
    reverted = rejected(deployed, issue_fn(deployed, terms), "tier1", "ReceivablesInvoiceAlreadyIssued")
    assert reverted.error_args["rootId"] == world.root


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


@pytest.mark.parity
def test_issue_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    terms = issue_terms(deployed, invoice="Ünïcode-№ 0042")
    on_chain = bytes(deployed.chain.call(client.contract.functions.issueDigest(terms.as_tuple())))
    assert on_chain == eip712.digest(client.issue_document(terms))


@pytest.mark.parity
def test_offer_digest_matches_the_typed_data_document(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    offer = offer_of(deployed, world.root, price=FACE - 1)
    on_chain = bytes(deployed.chain.call(client.contract.functions.financeOfferDigest(offer.as_tuple())))
    assert on_chain == eip712.digest(client.offer_document(offer))


#: Accepted numbers and what they normalise to (the contract's table, one row each at least).
NORMALISED = [
    ("INV-0042", "inv42"),
    (" inv-42 ", "inv42"),
    ("INV-2024-0001", "inv20241"),
    ("inv 2024 1", "inv20241"),
    ("INV-1-2", "inv12"),  # collides with INV-12: the safe direction, a refusal
    ("INV-12", "inv12"),
    ("0", "0"),
    ("000", "0"),
    ("0-0", "00"),
    ("00 42", "042"),
    ("12 0034", "1234"),
    ("A0B00C000", "a0b0c0"),
    ("007", "7"),
    ("x\t\n\v\f\r y", "xy"),
    ("ABCXYZ abcxyz", "abcxyzabcxyz"),
    ("#-./:\\_9", "9"),
    ("INV/2026/000.10", "inv2026010"),
    ("inv_0x00ff", "inv0x0ff"),
    ("9" * 64, "9" * 64),
    ("0" * 64, "0"),
]
#: Refused numbers: (number, error, byte position or None).
REFUSED = [
    ("", "ReceivablesInvalidInvoiceNumber", None),
    (" \t\r\n-_", "ReceivablesInvalidInvoiceNumber", None),
    ("x" * 65, "ReceivablesInvalidInvoiceNumber", None),
    ("\u00e9" * 33, "ReceivablesInvalidInvoiceNumber", None),  # 66 bytes: length is checked first
    ("\u00c4-01", "ReceivablesInvoiceNumberCharacterRefused", 0),
    ("INV@1", "ReceivablesInvoiceNumberCharacterRefused", 3),
    ("INV-1,2", "ReceivablesInvoiceNumberCharacterRefused", 5),
    ("\x00\x01 1", "ReceivablesInvoiceNumberCharacterRefused", 0),
    ("INV-1\x7f", "ReceivablesInvoiceNumberCharacterRefused", 5),
    ("\u65e5\u672c-000123", "ReceivablesInvoiceNumberCharacterRefused", 0),
    ("INV \U0001f600", "ReceivablesInvoiceNumberCharacterRefused", 4),
]


@pytest.mark.parity
def test_python_and_contract_normalise_invoice_numbers_alike(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    core, tier1 = addr(deployed, "core"), addr(deployed, "tier1")
    for number, canonical in NORMALISED:
        assert client.normalise_on_chain(number) == normalise_invoice_number(number) == canonical, number
        on_chain_key = bytes(deployed.chain.call(client.contract.functions.invoiceKey(core, tier1, number)))
        assert on_chain_key == invoice_key(core, tier1, number), number


@pytest.mark.parity
def test_python_and_contract_refuse_the_same_invoice_numbers(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    for number, error, position in REFUSED:
        with pytest.raises(InvalidInvoiceNumber) as python:
            normalise_invoice_number(number)
        reverted = revert_of(lambda: client.normalise_on_chain(number))  # noqa: B023 - called at once
        assert reverted.error == error, (number, reverted.error)
        assert reverted.error_args == model_error_args(python.value), number
        assert getattr(python.value, "position", None) == position, number


def model_error_args(error: InvalidInvoiceNumber) -> dict[str, object]:
    """The contract's error arguments for ``error``, as Python decodes them."""
    if isinstance(error, InvoiceNumberCharacterRefused):
        return {
            "invoiceNumber": error.invoice_number,
            "position": error.position,
            "character": bytes([error.character]),
        }
    return {"invoiceNumber": error.invoice_number, "maxLength": MAX_INVOICE_NUMBER_LENGTH}


#: What the contract accepts (letters, digits heavy on zeros, separators), then the same mixed
#: with other ASCII punctuation, control characters and non-ASCII (look-alikes, invisible, wide,
#: astral). Accepted-only strings make sure most examples are normalised, not just refused, and
#: long ones probe the 64-byte limit.
ACCEPTED = list("0000123456789AZaz") + list("\t\n\v\f\r #-./:\\_")
MIXED = [
    *ACCEPTED,
    *"@,+~!\x00\x1f\x7f",
    *["\u00e9", "\u0406", "\u200b", "\u00ad", "\uff29", "\u2010", "\u65e5", "\U0001f600"],
]
INVOICE_NUMBERS = st.one_of(
    st.text(st.sampled_from(ACCEPTED), max_size=40),
    st.text(st.sampled_from(ACCEPTED), min_size=60, max_size=70),
    st.text(st.sampled_from(MIXED), max_size=40),
)


@given(number=INVOICE_NUMBERS)
@settings(max_examples=100 * FUZZ_FACTOR, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_contract_and_python_agree_on_any_invoice_number(deployed_session: Deployed, number: str) -> None:
    """Views only (pure), so no snapshot is needed. Not a parity test: anvil answers a call in a
    millisecond, and the fixed tables above run on both backends."""
    client = receivables_of(deployed_session)
    core, tier1 = addr(deployed_session, "core"), addr(deployed_session, "tier1")
    key_fn = client.contract.functions.invoiceKey(core, tier1, number)
    try:
        expected = normalise_invoice_number(number)
    except InvalidInvoiceNumber as python:
        event(f"refused: {type(python).__name__}")
        for view in (lambda: client.normalise_on_chain(number), lambda: deployed_session.chain.call(key_fn)):
            reverted = revert_of(view)
            assert (reverted.error, reverted.error_args) == (
                "ReceivablesInvalidInvoiceNumber"
                if type(python) is InvalidInvoiceNumber
                else "ReceivablesInvoiceNumberCharacterRefused",
                model_error_args(python),
            )
        return
    event("normalised")
    assert client.normalise_on_chain(number) == expected
    assert bytes(deployed_session.chain.call(key_fn)) == invoice_key(core, tier1, number)


def test_normalisation_rules() -> None:
    assert normalise_invoice_number("INV-0042") == normalise_invoice_number(" inv-42 ") == "inv42"
    assert normalise_invoice_number("INV-2024-0001") == normalise_invoice_number("inv_2024.1") == "inv20241"
    assert normalise_invoice_number("000") == "0"
    assert normalise_invoice_number("A0B00C010") == "a0b0c10"
    assert normalise_invoice_number("00 42") == "042"  # whitespace ends a digit run like any separator
    with pytest.raises(InvoiceNumberCharacterRefused) as refused:
        normalise_invoice_number("INV-\u00c4")  # only ASCII letters are letters
    assert (refused.value.position, refused.value.character) == (4, 0xC3)
    assert "ascii_invoice_number" in str(refused.value)


def test_invoice_lookup_uses_the_canonical_key(deployed: Deployed, world: RWorld) -> None:
    client = receivables_of(deployed)
    assert client.root_id_of_invoice(addr(deployed, "core"), addr(deployed, "tier1"), " inv-1") == world.root
    assert client.root_id_of_invoice(addr(deployed, "core"), addr(deployed, "tier1"), "INV-2") == 0
    assert escrow_of(deployed).is_open_account(world.delivered_order)
    assert client.piece_count() == world.root
