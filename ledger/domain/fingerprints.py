"""Invoice fingerprints: what goes on chain instead of an invoice number (FINGERPRINTS.md).

Double financing is refused on chain by a value written once per invoice. That value cannot be
the invoice number (anyone with RPC access would read who sells to whom, and on which invoice),
nor a plain hash of the invoice's fields: debtor and creditor are public, numbers run in
sequence, amounts and dates are few, so a plain hash is brute-forced in seconds. The
fingerprint is a keyed, deterministic tag instead (MonetaGo's approach):

    fingerprint = HMAC-SHA256(consortium key, encode(domain, debtor, creditor, number, amount, date))

over fields normalised so that cosmetic variants of one invoice (``INV-000124``, ``inv 124``,
full-width ``INV-124``) give one tag. Every member of the consortium holds the 32-byte key
(a key file, never the chain), so any bank computes the tag of an invoice it is asked to
finance on its own and finds the receivable already issued for it.

The invoice number itself stays with the parties, with a salted commitment
``keccak256(salt || normalised number)`` on chain: a party reveals number and salt to a bank,
which checks them against the root.

Invoice numbers go through two steps. ``ascii_invoice_number`` is for people: it folds what a
keyboard or a PDF may produce (full-width forms, ligatures, no-break spaces: Unicode NFKC;
zero-width characters and soft hyphens removed) into ASCII and refuses whatever is still not
ASCII, so a look-alike letter (Cyrillic I, U+0406, for a Latin I) cannot pass for another
number. ``normalise_invoice_number`` is the canonical number: the one rule that decides whether
two spellings are one invoice. Pure: no I/O but ``load_consortium_key``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from eth_utils import keccak

from ledger.errors import LedgerError

#: The domain-separation tag, the first field of every encoding: a tag under another rule (or
#: another version of this one) can never equal a fingerprint under this one.
FINGERPRINT_DOMAIN: Final = b"scf-ledger/invoice-fingerprint/v1"
#: Prefixed to the encoding for ``InvoiceFields.derived_salt``: a salt is never a fingerprint.
SALT_DOMAIN: Final = b"scf-ledger/invoice-salt/v1"
KEY_LENGTH: Final = 32
SALT_LENGTH: Final = 32
MAX_INVOICE_NUMBER_LENGTH: Final = 64  # bytes of the ASCII-folded invoice number

#: Bytes that end a digit run and are then dropped.
INVOICE_NUMBER_SEPARATORS: Final = b"\t\n\v\f\r #-./:\\_"
_SEPARATORS = frozenset(INVOICE_NUMBER_SEPARATORS)
_DIGITS = frozenset(b"0123456789")
_UPPER = frozenset(range(ord("A"), ord("Z") + 1))
_LOWER = frozenset(range(ord("a"), ord("z") + 1))
#: Invisible characters NFKC keeps that only split a number: zero-width space, non-joiner and
#: joiner, word joiner, the byte-order mark (zero-width no-break space) and the soft hyphen.
INVISIBLE_IN_INVOICE_NUMBERS: Final = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_ALPHABET = "ASCII letters, digits, spaces and - _ . / \\ : #"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (``\d`` takes any script's)
_HEX_TEXT = re.compile(r"(?:0x)?([0-9a-fA-F]*)")


# -- errors ----------------------------------------------------------------------------------


class InvalidInvoiceField(LedgerError):
    """One field of an invoice cannot be fingerprinted; ``field`` names it as the API does
    (``debtor``, ``creditor``, ``invoiceNumber``, ``invoiceAmount``, ``invoiceDate``)."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class InvalidInvoiceNumber(InvalidInvoiceField):
    """The invoice number is empty once normalised, longer than 64 bytes, or holds a character
    the rule refuses (the subclasses say which and where)."""

    def __init__(self, invoice_number: str, reason: str) -> None:
        self.invoice_number = invoice_number
        super().__init__("invoiceNumber", invoice_number, reason)


class InvoiceNumberCharacterRefused(InvalidInvoiceNumber):
    """Byte ``character`` at byte offset ``position`` of the UTF-8 invoice number is outside the
    alphabet (ASCII letters, digits and the separators)."""

    def __init__(self, invoice_number: str, position: int, character: int) -> None:
        self.position = position
        self.character = character
        super().__init__(
            invoice_number,
            f"byte 0x{character:02x} at byte {position} is not one of {_ALPHABET}; "
            "fold the number to ASCII first (ascii_invoice_number)",
        )


class InvoiceNumberNotAscii(InvalidInvoiceNumber):
    """Character ``character`` (at index ``position`` of the text as given) is still outside
    ASCII once folded (NFKC, invisible characters removed): a look-alike, an accent, a dash
    that is not ``-``. Refused rather than guessed at, so no spelling makes a second tag."""

    def __init__(self, invoice_number: str, position: int, character: str) -> None:
        self.position = position
        self.character = character
        self.codepoint = f"U+{ord(character):04X}"
        self.character_name = unicodedata.name(character, "unnamed")
        super().__init__(
            invoice_number,
            f"character {self.codepoint} ({self.character_name}) at position {position} is not ASCII, "
            f"even after Unicode NFKC folding; write the number with {_ALPHABET}",
        )


class ConsortiumKeyError(LedgerError):
    """The consortium's fingerprint key cannot be used; the subclasses say why."""

    def __init__(self, path: Path | None, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"consortium key {str(path) + ': ' if path else ''}{reason}")


class ConsortiumKeyMissing(ConsortiumKeyError):
    """No key file at ``path``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "no such file; a member's key file holds the consortium's 32-byte secret")


class ConsortiumKeyInvalid(ConsortiumKeyError):
    """The key is not 32 bytes (raw, or 64 hex digits in a key file)."""


# -- the key ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsortiumKey:
    """The consortium's 32-byte fingerprint secret. Its ``repr`` never shows the bytes."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_LENGTH:
            raise ConsortiumKeyInvalid(None, f"{len(self.secret)} bytes, not {KEY_LENGTH}")

    def __repr__(self) -> str:
        return f"ConsortiumKey(id={self.key_id})"

    @property
    def key_id(self) -> str:
        """A public name for the key (first 8 hex digits of its SHA-256): which key, never the key."""
        return hashlib.sha256(self.secret).hexdigest()[:8]

    @classmethod
    def derived(cls, seed: bytes | str) -> ConsortiumKey:
        """A key derived from a demo world's seed: deterministic, so a world replays alike. For
        demos and tests only; a real consortium generates its key at random (``generate``)."""
        raw = seed.encode("utf-8") if isinstance(seed, str) else seed
        return cls(hmac.new(b"scf-ledger/demo-consortium-key/v1", raw, hashlib.sha256).digest())

    @classmethod
    def generate(cls) -> ConsortiumKey:
        return cls(os.urandom(KEY_LENGTH))

    def file_text(self) -> str:
        """What a key file holds: the 64 hex digits and a newline."""
        return self.secret.hex() + "\n"


def load_consortium_key(path: Path) -> ConsortiumKey:
    """The key in file ``path``: 64 hex digits (``0x`` and surrounding whitespace allowed) or
    exactly 32 raw bytes. Raises ``ConsortiumKeyMissing`` or ``ConsortiumKeyInvalid``."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConsortiumKeyMissing(Path(path)) from None
    except OSError as exc:
        raise ConsortiumKeyInvalid(Path(path), f"cannot be read: {exc.strerror or exc}") from None
    try:
        text: str | None = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        text = None
    # Hex text is read as hex whatever its length (32 hex digits are a 16-byte key, not 32 raw bytes).
    if text is not None and (match := _HEX_TEXT.fullmatch(text)):
        digits = match.group(1)
        if len(digits) == 2 * KEY_LENGTH:
            return ConsortiumKey(bytes.fromhex(digits))
        raise ConsortiumKeyInvalid(Path(path), f"holds {len(digits)} hex digits: a 32-byte secret needs 64")
    if len(raw) == KEY_LENGTH:
        return ConsortiumKey(raw)
    raise ConsortiumKeyInvalid(
        Path(path), f"holds {len(raw)} bytes: it needs 64 hex digits (or 32 raw bytes), a 32-byte secret"
    )


# -- normalisation ---------------------------------------------------------------------------


def ascii_invoice_number(text: str) -> str:
    """``text`` folded to the ASCII a person meant: Unicode NFKC, then the invisible characters
    (``INVISIBLE_IN_INVOICE_NUMBERS``) removed; full-width ``INV-1`` (U+FF29 ...) and ``INV\\u200b-1``
    become ``INV-1``.

    Raises ``InvoiceNumberNotAscii`` naming the first character of ``text`` that still folds to
    something outside ASCII (``\\u0406NV-1``: a Cyrillic I). ASCII it does not judge: that is
    ``normalise_invoice_number``'s job, which refuses control characters and other punctuation.
    """
    folded = "".join(c for c in unicodedata.normalize("NFKC", text) if c not in INVISIBLE_IN_INVOICE_NUMBERS)
    if folded.isascii():
        return folded
    # Name the culprit as the person typed it: a character whose own folding is not ASCII. If
    # each character folds to ASCII alone, the whole text does too (ASCII has nothing to
    # compose with), so one is always found; the last line is only a guard.
    for position, character in enumerate(text):
        alone = unicodedata.normalize("NFKC", character)
        if not all(c.isascii() or c in INVISIBLE_IN_INVOICE_NUMBERS for c in alone):
            raise InvoiceNumberNotAscii(text, position, character)
    first = next(i for i, c in enumerate(folded) if not c.isascii())
    raise InvoiceNumberNotAscii(text, first, folded[first])


def normalise_invoice_number(invoice_number: str) -> str:
    """The canonical invoice number of an ASCII number (see ``canonical_invoice_number`` for text
    as people type it).

    On the UTF-8 bytes, at most 64 of them: ``A``-``Z`` lower-cased, ``a``-``z`` kept; in each
    run of digits the leading zeros dropped (a run of zeros keeps one ``0``), any other byte
    ending the run; separators (``INVOICE_NUMBER_SEPARATORS``) dropped once they have ended a
    run. Raises ``InvalidInvoiceNumber`` when longer or when nothing is left, and its subclass
    ``InvoiceNumberCharacterRefused`` at the first other byte (every non-ASCII byte among
    them), in this order: length, then bytes in order, then emptiness.

    Folding separators can make two numbers that really differ collide (``INV-1-2`` and
    ``INV-12`` are both ``inv12``): the second is refused as already issued. That is the safe
    direction: a debtor asked to re-number, never one invoice financed twice.
    """
    # surrogatepass: a lone surrogate gets its bytes, and is refused.
    raw = invoice_number.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_INVOICE_NUMBER_LENGTH:
        raise InvalidInvoiceNumber(invoice_number, f"longer than {MAX_INVOICE_NUMBER_LENGTH} bytes")
    out = bytearray()
    in_run = significant = False
    for position, byte in enumerate(raw):
        if byte in _DIGITS:
            if not in_run:
                in_run, significant = True, False
            if byte == ord("0") and not significant:
                continue
            significant = True
            out.append(byte)
            continue
        if in_run and not significant:
            out.append(ord("0"))
        in_run = False
        if byte in _LOWER:
            out.append(byte)
        elif byte in _UPPER:
            out.append(byte + 32)
        elif byte not in _SEPARATORS:
            raise InvoiceNumberCharacterRefused(invoice_number, position, byte)
    if in_run and not significant:
        out.append(ord("0"))
    if not out:
        raise InvalidInvoiceNumber(invoice_number, "empty once normalised: it needs a letter or a digit")
    return out.decode("ascii")


def canonical_invoice_number(text: str) -> str:
    """The invoice number a fingerprint covers: ``normalise_invoice_number(ascii_invoice_number(text))``."""
    return normalise_invoice_number(ascii_invoice_number(text))


def canonical_address(value: str, field: str) -> str:
    """``0x`` and 40 lowercase hex digits (any case accepted; the checksum is not the point)."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value.strip()):
        raise InvalidInvoiceField(field, value, "not an address: 0x and 40 hex digits")
    return value.strip().lower()


def canonical_amount(value: int | str) -> str:
    """The amount in token units as a decimal integer without sign or leading zeros (a uint256)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInvoiceField("invoiceAmount", value, "not an integer amount in token units")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise InvalidInvoiceField("invoiceAmount", value, "not a decimal integer in token units")
        value = int(value)
    if not 0 <= value < 2**256:
        raise InvalidInvoiceField("invoiceAmount", value, "must be a uint256: at least 0, below 2**256")
    return str(value)


def canonical_date(value: date | datetime | str) -> str:
    """The invoice date as ``YYYY-MM-DD`` in UTC; a datetime without a time zone is refused (its
    UTC date would be a guess)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInvoiceField("invoiceDate", value.isoformat(), "a time needs its time zone")
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise InvalidInvoiceField("invoiceDate", value, "not a date: YYYY-MM-DD (UTC)")


# -- the rule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFields:
    """An invoice's fingerprinted fields, normalised (``of`` builds it from what people write)."""

    debtor: str  # 0x + 40 lowercase hex digits
    creditor: str
    invoice_number: str  # canonical
    amount: str  # decimal, token units
    invoice_date: str  # YYYY-MM-DD, UTC

    @classmethod
    def of(
        cls,
        *,
        debtor: str,
        creditor: str,
        invoice_number: str,
        amount: int | str,
        invoice_date: date | datetime | str,
    ) -> InvoiceFields:
        return cls(
            canonical_address(debtor, "debtor"),
            canonical_address(creditor, "creditor"),
            canonical_invoice_number(invoice_number),
            canonical_amount(amount),
            canonical_date(invoice_date),
        )

    def encoding(self) -> bytes:
        """The domain tag then each field, as UTF-8, each preceded by its length in bytes as a
        4-byte big-endian unsigned integer: no two field tuples share an encoding."""
        parts = (FINGERPRINT_DOMAIN, self.debtor, self.creditor, self.invoice_number, self.amount, self.invoice_date)
        return b"".join(_length_prefixed(p if isinstance(p, bytes) else p.encode("ascii")) for p in parts)

    def fingerprint(self, key: ConsortiumKey) -> bytes:
        return hmac.new(key.secret, self.encoding(), hashlib.sha256).digest()

    def derived_salt(self, key: ConsortiumKey) -> bytes:
        """A commitment salt for a server that computes terms twice (to draft, then to submit) without
        keeping state: HMAC-SHA256 under the key over ``SALT_DOMAIN`` and the encoding. Only a key holder
        can derive it, and a key holder learns nothing from it that the fingerprint does not tell it."""
        return hmac.new(key.secret, SALT_DOMAIN + self.encoding(), hashlib.sha256).digest()


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def fingerprint(
    key: ConsortiumKey,
    *,
    debtor: str,
    creditor: str,
    invoice_number: str,
    amount: int | str,
    invoice_date: date | datetime | str,
) -> bytes:
    """The invoice's 32-byte fingerprint under ``key`` (raises ``InvalidInvoiceField`` naming a
    field that cannot be normalised)."""
    fields = InvoiceFields.of(
        debtor=debtor, creditor=creditor, invoice_number=invoice_number, amount=amount, invoice_date=invoice_date
    )
    return fields.fingerprint(key)


def invoice_commitment(salt: bytes, invoice_number: str) -> bytes:
    """keccak256(salt || canonical invoice number): binds the number without showing it."""
    if len(salt) != SALT_LENGTH:
        raise InvalidInvoiceField("salt", salt.hex(), f"{len(salt)} bytes, not {SALT_LENGTH}")
    return bytes(keccak(salt + canonical_invoice_number(invoice_number).encode("ascii")))


def new_salt() -> bytes:
    return os.urandom(SALT_LENGTH)


@dataclass(frozen=True)
class InvoiceSecret:
    """What the parties keep off chain to prove an invoice number to a bank later."""

    invoice_number: str
    salt: bytes
    commitment: bytes

    @classmethod
    def commit(cls, invoice_number: str, salt: bytes | None = None) -> InvoiceSecret:
        chosen = new_salt() if salt is None else salt
        return cls(invoice_number, chosen, invoice_commitment(chosen, invoice_number))

    def opens(self, commitment: bytes) -> bool:
        """True when number and salt open ``commitment`` (a bank's check of a party's claim)."""
        return hmac.compare_digest(invoice_commitment(self.salt, self.invoice_number), bytes(commitment))
