"""Invoice numbers for people: ``ascii_invoice_number`` folds what keyboards and PDFs produce into
ASCII, refuses look-alikes, and hands the contract's normalisation one key per invoice."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.receivables import (
    INVISIBLE_IN_INVOICE_NUMBERS,
    InvalidInvoiceNumber,
    InvoiceNumberCharacterRefused,
    InvoiceNumberNotAscii,
    ascii_invoice_number,
    invoice_key,
    normalise_invoice_number,
)
from ledger.errors import LedgerError

CORE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TIER1 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.mark.parametrize(
    ("typed", "ascii"),
    [
        ("\uff29\uff2e\uff36\uff0d\uff11", "INV-1"),  # full-width forms
        ("INV\u200b-1", "INV-1"),  # zero-width space
        ("INV\u200c-\u200d1", "INV-1"),  # zero-width non-joiner and joiner
        ("\ufeffINV-1\u2060", "INV-1"),  # byte-order mark, word joiner
        ("INV-\u00ad1", "INV-1"),  # soft hyphen
        ("INV\u00a01", "INV 1"),  # no-break space
        ("INV\u30001", "INV 1"),  # ideographic space
        ("\ufb01le-7", "file-7"),  # ligature
        ("INV-\u2474", "INV-(1)"),  # parenthesized digit: ASCII, and "(" is then the contract's to refuse
        ("INV-1", "INV-1"),
        ("INV\x00-1", "INV\x00-1"),  # ASCII is left to the contract's rule, which refuses it
    ],
)
def test_folds_compatibility_forms_and_drops_invisible_characters(typed: str, ascii: str) -> None:
    assert ascii_invoice_number(typed) == ascii


@pytest.mark.parametrize(
    ("typed", "position", "codepoint"),
    [
        ("\u0406NV-1", 0, "U+0406"),  # Cyrillic capital I
        ("INV\u20101", 3, "U+2010"),  # typographic hyphen: NFKC keeps it
        ("INV\u20131", 3, "U+2013"),  # en dash
        ("INVe\u0301-1", 4, "U+0301"),  # a combining accent: the composed letter is not ASCII
        ("INV-\u00e91", 4, "U+00E9"),
        ("\u65e5\u672c-1", 0, "U+65E5"),
        ("INV-1\U0001f600", 5, "U+1F600"),
        ("INV-\ud8001", 4, "U+D800"),  # a lone surrogate, as a JSON body may carry
    ],
)
def test_what_still_is_not_ascii_is_refused_naming_the_character(typed: str, position: int, codepoint: str) -> None:
    with pytest.raises(InvoiceNumberNotAscii) as refused:
        ascii_invoice_number(typed)
    error = refused.value
    assert (error.position, error.character, error.codepoint) == (position, typed[position], codepoint)
    assert isinstance(error, InvalidInvoiceNumber) and isinstance(error, LedgerError)
    assert codepoint in error.reason and "write the number with" in error.reason
    error.reason.encode("utf-8")  # the reason goes into an HTTP answer: it must always encode


def test_the_cyrillic_i_is_named_in_words() -> None:
    with pytest.raises(InvoiceNumberNotAscii) as refused:
        ascii_invoice_number("\u0406NV-1")
    assert "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I" in refused.value.reason


def test_every_variant_of_the_issue_is_one_key_or_refused() -> None:
    key = invoice_key(CORE, TIER1, "INV-1")
    for variant in ("INV-1", "INV_1", "INV.1", "INV\u200b-1", "\uff29\uff2e\uff36\uff0d\uff11", " inv 0001 ", "INV#1"):
        assert invoice_key(CORE, TIER1, ascii_invoice_number(variant)) == key, variant
    with pytest.raises(InvoiceNumberNotAscii):
        ascii_invoice_number("\u0406NV-1")


def test_unfolded_non_ascii_never_reaches_a_key() -> None:
    # Without the folding step the contract's rule refuses the bytes: no second key either way.
    with pytest.raises(InvoiceNumberCharacterRefused) as refused:
        normalise_invoice_number("INV\u200b-1")
    assert (refused.value.position, refused.value.character) == (3, 0xE2)


PEOPLE_TEXT = st.text(
    st.one_of(
        st.sampled_from(list("INV-_./ 0123456789abcxyz#")),
        st.sampled_from(sorted(INVISIBLE_IN_INVOICE_NUMBERS)),
        st.characters(codec="utf-8"),  # anything: wide forms, look-alikes, combining marks, emoji
    ),
    max_size=30,
)


@given(PEOPLE_TEXT)
@settings(max_examples=300, deadline=None)
def test_folding_gives_ascii_or_names_a_character_of_the_text(text: str) -> None:
    try:
        folded = ascii_invoice_number(text)
    except InvoiceNumberNotAscii as refused:
        assert text[refused.position] == refused.character
        assert not unicodedata.normalize("NFKC", refused.character).isascii()
        return
    assert folded.isascii()
    assert folded == "".join(c for c in unicodedata.normalize("NFKC", text) if c not in INVISIBLE_IN_INVOICE_NUMBERS)
    assert ascii_invoice_number(folded) == folded  # folding twice changes nothing
