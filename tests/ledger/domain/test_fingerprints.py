"""The published fingerprint rule (FINGERPRINTS.md): its vectors, the normalisation of each field,
the key file, the commitment, and the two properties that make it work: every cosmetic variant of an
invoice has its fingerprint, and invoices that differ once normalised never share one."""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import unicodedata
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.fingerprints import (
    FINGERPRINT_DOMAIN,
    INVISIBLE_IN_INVOICE_NUMBERS,
    ConsortiumKey,
    ConsortiumKeyInvalid,
    ConsortiumKeyMissing,
    InvalidInvoiceField,
    InvalidInvoiceNumber,
    InvoiceFields,
    InvoiceNumberCharacterRefused,
    InvoiceNumberNotAscii,
    InvoiceSecret,
    ascii_invoice_number,
    canonical_invoice_number,
    fingerprint,
    invoice_commitment,
    load_consortium_key,
    normalise_invoice_number,
)
from ledger.errors import LedgerError

SPEC = Path(__file__).resolve().parents[3] / "ledger" / "domain" / "FINGERPRINTS.md"
SPEC_KEY = ConsortiumKey(bytes(range(32)))
DEBTOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CREDITOR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
NUMBER, AMOUNT, DATE = "INV-S7-30x6-000124", 1_250_000_000, "2026-03-02"


def tag(key: ConsortiumKey = SPEC_KEY, **changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "debtor": DEBTOR,
        "creditor": CREDITOR,
        "invoice_number": NUMBER,
        "amount": AMOUNT,
        "invoice_date": DATE,
    }
    fields.update(changes)
    return fingerprint(key, **fields)


def spec_rows() -> list[tuple[str, str, str, str]]:
    """The vector table of FINGERPRINTS.md: (invoice number, amount, date, fingerprint)."""
    rows = re.findall(
        r"^\| (`[^|]*`|debtor and creditor swapped) \| (\d+) \| ([\d-]+) \| `([0-9a-f]{64})` \|$",
        SPEC.read_text(),
        re.M,
    )
    assert len(rows) == 6, rows
    return [(number.strip("`"), amount, day, tagged) for number, amount, day, tagged in rows]


# -- the published vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("row", range(6))
def test_the_spec_vectors_hold(row: int) -> None:
    number, amount, day, expected = spec_rows()[row]
    debtor, creditor = (CREDITOR, DEBTOR) if number.startswith("debtor and") else (DEBTOR, CREDITOR)
    number = NUMBER if number.startswith("debtor and") else number
    got = tag(debtor=debtor, creditor=creditor, invoice_number=number, amount=int(amount), invoice_date=day)
    assert got.hex() == expected


def test_a_bank_computes_the_first_vector_from_the_spec_alone() -> None:
    """The spec's encoding, written out with hmac and struct only: nothing of the module but the key."""
    parts = [b"scf-ledger/invoice-fingerprint/v1", DEBTOR.lower().encode(), CREDITOR.lower().encode()]
    parts += [b"invs730x6124", str(AMOUNT).encode(), DATE.encode()]
    encoding = b"".join(struct.pack(">I", len(p)) + p for p in parts)
    written = "".join(SPEC.read_text().split("The encoding of the first row")[1].split("```")[1].split())
    assert encoding.hex() == written
    assert hmac.new(bytes(range(32)), encoding, hashlib.sha256).digest() == tag()
    assert parts[0] == FINGERPRINT_DOMAIN


def test_the_spec_vectors_for_another_key_and_the_commitment_hold() -> None:
    text = SPEC.read_text()
    assert tag(ConsortiumKey(b"\x42" * 32)).hex() in text
    assert invoice_commitment(b"\x11" * 32, NUMBER).hex() in text


# -- cosmetic variants collide, the rest does not ----------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        " inv s7 30x6 124 ",
        "inv-s7-30x6-124",
        "INV_S7_30X6_000124",
        "INV-S007-30x06-124",
        "\uff29\uff2e\uff36\uff0d\uff33\uff17\uff0d\uff13\uff10\uff58\uff16\uff0d\uff10\uff10\uff10\uff11\uff12\uff14",
        "INV\u200b-S7-30x6-000124",
        "INV\u00a0S7\u300030x6 000124",
        "inv#s7/30x6.000124",
    ],
)
def test_cosmetic_variants_share_the_fingerprint(variant: str) -> None:
    assert tag(invoice_number=variant) == tag()


def test_addresses_dates_and_amounts_are_read_in_any_spelling() -> None:
    same = tag(
        debtor=DEBTOR.lower(),
        creditor="0x" + CREDITOR[2:].upper(),
        amount=str(AMOUNT),
        invoice_date=datetime(2026, 3, 2, 23, 30, tzinfo=timezone(timedelta(hours=-0))),
    )
    assert same == tag() == tag(invoice_date=date(2026, 3, 2))
    # 01:00 in UTC+2 is still the 1st in UTC: the date is the UTC one.
    assert tag(invoice_date=datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == tag()


@pytest.mark.parametrize(
    "change",
    [
        {"invoice_number": "INV-S7-30x6-000125"},
        {"invoice_number": "INV-S7-3x6-000124"},
        {"amount": AMOUNT + 1},
        {"invoice_date": "2026-03-03"},
        {"debtor": CREDITOR, "creditor": DEBTOR},
        {"creditor": "0x" + "00" * 20},
    ],
)
def test_another_field_gives_another_fingerprint(change: dict[str, Any]) -> None:
    assert tag(**change) != tag()


def test_another_key_gives_another_fingerprint() -> None:
    assert tag(ConsortiumKey.derived("one")) != tag(ConsortiumKey.derived("two")) != tag()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"debtor": "0x1234"}, "debtor"),
        ({"creditor": "core"}, "creditor"),
        ({"invoice_number": "\u0406NV-1"}, "invoiceNumber"),
        ({"invoice_number": " - "}, "invoiceNumber"),
        ({"invoice_number": "X" * 65}, "invoiceNumber"),
        ({"amount": -1}, "invoiceAmount"),
        ({"amount": "1e6"}, "invoiceAmount"),
        ({"amount": 2**256}, "invoiceAmount"),
        ({"invoice_date": "2026-02-30"}, "invoiceDate"),
        ({"invoice_date": "02/03/2026"}, "invoiceDate"),
        ({"invoice_date": "\u0662\u0660\u0662\u0666-03-02"}, "invoiceDate"),  # Arabic-Indic digits
        ({"invoice_date": datetime(2026, 3, 2, 12)}, "invoiceDate"),  # no time zone
    ],
)
def test_a_field_that_cannot_be_normalised_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInvoiceField) as refused:
        tag(**change)
    assert refused.value.field == field and isinstance(refused.value, LedgerError)


#: Text as people type invoice numbers: mostly the alphabet (so most examples normalise), some
#: invisible characters and full-width forms that fold.
VARIANT_TEXT = st.text(st.sampled_from(list("INVinv-_ ./#0123456789xyz")), min_size=1, max_size=24)


def respell(number: str, how: int) -> str:
    """``number`` spelled differently, the same once normalised: case, separators, zeros, full width."""
    out = []
    for index, char in enumerate(number):
        if char.isdigit() and (index == 0 or not number[index - 1].isdigit()) and how & 1:
            out.append("0")
        if how & 2:
            char = char.swapcase()
        if how & 8 and (char.isalnum() or char in "-./#"):
            char = chr(ord(char) + 0xFEE0)  # the full-width form, which NFKC folds back
        out.append(char)
        if how & 4 and not (char.isdigit() and number[index + 1 : index + 2].isdigit()):
            out.append("\u200b" if how & 16 else " ")
    return "".join(out)


@given(number=VARIANT_TEXT, how=st.integers(0, 31), amount=st.integers(0, 2**256 - 1))
@settings(max_examples=200, deadline=None)
def test_cosmetic_variants_always_collide(number: str, how: int, amount: int) -> None:
    try:
        expected = tag(invoice_number=number, amount=amount)
    except InvalidInvoiceNumber:
        return  # nothing to collide with: no letter or digit
    assert tag(invoice_number=respell(number, how), amount=amount) == expected


FIELDS = st.tuples(
    st.sampled_from([DEBTOR, CREDITOR, "0x" + "ab" * 20]),
    st.sampled_from([DEBTOR, CREDITOR, "0x" + "cd" * 20]),
    st.text(st.sampled_from(list("inv0123456789")), min_size=1, max_size=12),
    st.integers(0, 2**256 - 1),
    st.dates(date(1990, 1, 1), date(2100, 1, 1)),
)


@given(first=FIELDS, second=FIELDS)
@settings(max_examples=200, deadline=None)
def test_distinct_normalised_invoices_never_share_a_fingerprint(
    first: tuple[str, str, str, int, date], second: tuple[str, str, str, int, date]
) -> None:
    one, two = (
        InvoiceFields.of(debtor=d, creditor=c, invoice_number=n, amount=a, invoice_date=t)
        for d, c, n, a, t in (first, second)
    )
    assert (one.encoding() == two.encoding()) == (one == two)
    assert (one.fingerprint(SPEC_KEY) == two.fingerprint(SPEC_KEY)) == (one == two)


# -- the key file ----------------------------------------------------------------------------


def test_a_key_file_holds_hex_or_raw_bytes(tmp_path: Path) -> None:
    key = ConsortiumKey.generate()
    (tmp_path / "hex").write_text(key.file_text())
    (tmp_path / "prefixed").write_text("  0x" + key.secret.hex().upper() + "\n")
    (tmp_path / "raw").write_bytes(key.secret)
    for name in ("hex", "prefixed", "raw"):
        assert load_consortium_key(tmp_path / name) == key
    assert key.secret.hex() not in repr(key) and key.key_id in repr(key)


def test_a_missing_key_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(ConsortiumKeyMissing) as missing:
        load_consortium_key(tmp_path / "nowhere.key")
    assert missing.value.path == tmp_path / "nowhere.key" and isinstance(missing.value, LedgerError)


@pytest.mark.parametrize("content", [b"", b"00" * 16, b"\x01" * 31, b"zz" * 32, b"\x01" * 33])
def test_a_short_or_malformed_key_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "key").write_bytes(content)
    with pytest.raises(ConsortiumKeyInvalid, match="32-byte"):
        load_consortium_key(tmp_path / "key")


def test_a_short_key_cannot_be_built() -> None:
    with pytest.raises(ConsortiumKeyInvalid):
        ConsortiumKey(b"\x01" * 16)


def test_a_derived_key_is_deterministic() -> None:
    assert ConsortiumKey.derived("seed 7") == ConsortiumKey.derived(b"seed 7") != ConsortiumKey.derived("seed 8")


# -- the commitment ------------------------------------------------------------------------------


def test_a_party_proves_the_number_with_its_salt() -> None:
    secret = InvoiceSecret.commit(NUMBER)
    assert secret.opens(secret.commitment)
    assert InvoiceSecret(" inv s7 30x6 124 ", secret.salt, secret.commitment).opens(secret.commitment)
    assert not InvoiceSecret("INV-S7-30x6-000125", secret.salt, secret.commitment).opens(secret.commitment)
    assert not InvoiceSecret(NUMBER, bytes(32), secret.commitment).opens(secret.commitment)
    assert InvoiceSecret.commit(NUMBER).commitment != secret.commitment  # a fresh salt each time


def test_a_salt_is_32_bytes() -> None:
    with pytest.raises(InvalidInvoiceField):
        invoice_commitment(b"short", NUMBER)


# -- invoice numbers: folding for people, the canonical number ------------------------------------


#: Accepted numbers and what they normalise to (one row per rule at least).
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
#: Refused numbers: (number, error type, byte position or None).
REFUSED = [
    ("", InvalidInvoiceNumber, None),
    (" \t\r\n-_", InvalidInvoiceNumber, None),
    ("x" * 65, InvalidInvoiceNumber, None),
    ("\u00e9" * 33, InvalidInvoiceNumber, None),  # 66 bytes: length is checked first
    ("\u00c4-01", InvoiceNumberCharacterRefused, 0),
    ("INV@1", InvoiceNumberCharacterRefused, 3),
    ("INV-1,2", InvoiceNumberCharacterRefused, 5),
    ("\x00\x01 1", InvoiceNumberCharacterRefused, 0),
    ("INV-1\x7f", InvoiceNumberCharacterRefused, 5),
    ("\u65e5\u672c-000123", InvoiceNumberCharacterRefused, 0),
    ("INV \U0001f600", InvoiceNumberCharacterRefused, 4),
]


@pytest.mark.parametrize(("number", "canonical"), NORMALISED)
def test_normalisation_table(number: str, canonical: str) -> None:
    assert normalise_invoice_number(number) == canonical == canonical_invoice_number(number)


@pytest.mark.parametrize(("number", "error", "position"), REFUSED)
def test_refusal_table(number: str, error: type[InvalidInvoiceNumber], position: int | None) -> None:
    with pytest.raises(InvalidInvoiceNumber) as refused:
        normalise_invoice_number(number)
    assert type(refused.value) is error
    assert getattr(refused.value, "position", None) == position
    assert refused.value.field == "invoiceNumber"


def test_unfolded_non_ascii_is_refused_by_the_byte_rule() -> None:
    with pytest.raises(InvoiceNumberCharacterRefused) as refused:
        normalise_invoice_number("INV\u200b-1")
    assert (refused.value.position, refused.value.character) == (3, 0xE2)
    assert "ascii_invoice_number" in str(refused.value)


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
