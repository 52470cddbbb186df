"""Receivables' value types: issue terms, finance offers, the pieces of a receivable tree, their
statuses, the typed-data field lists the parties sign, and the invoice-number rules.

Invoice numbers go through two steps. ``ascii_invoice_number`` is for people: it folds what
a keyboard or a PDF may produce (full-width forms, ligatures, no-break spaces: Unicode NFKC;
zero-width characters and soft hyphens removed) into ASCII and refuses whatever is still not
ASCII, so a look-alike letter (Cyrillic I, U+0406, for a Latin I) cannot pass for another number. The
API applies it before it builds the typed data the debtor signs. ``normalise_invoice_number``
is the contract's canonical number, byte for byte (``Receivables.normaliseInvoiceNumber``):
the one rule that decides whether two spellings are one invoice, on chain, in the model and
in the audit replay. The contract works on bytes, never on Unicode, so it refuses every
non-ASCII byte instead of trying to fold it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from ledger.errors import LedgerError

MAX_INVOICE_NUMBER_LENGTH = 64  # bytes of the invoice number as submitted (UTF-8)
MIN_CHILDREN, MAX_CHILDREN = 2, 32
DEFAULT_GRACE_PERIOD = 7 * 86_400
YEAR = 365 * 86_400
BPS = 10_000

ISSUE_FIELDS = [
    {"name": "debtor", "type": "address"},
    {"name": "creditor", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "faceValue", "type": "uint256"},
    {"name": "maturity", "type": "uint64"},
    {"name": "invoiceHash", "type": "bytes32"},
    {"name": "invoiceNumber", "type": "string"},
    {"name": "orderId", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
OFFER_FIELDS = [
    {"name": "pieceId", "type": "uint256"},
    {"name": "bank", "type": "address"},
    {"name": "price", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]

#: Bytes that end a digit run and are then dropped (the contract's ``_SEPARATORS``).
INVOICE_NUMBER_SEPARATORS = b"\t\n\v\f\r #-./:\\_"
_SEPARATORS = frozenset(INVOICE_NUMBER_SEPARATORS)
_DIGITS = frozenset(b"0123456789")
_UPPER = frozenset(range(ord("A"), ord("Z") + 1))
_LOWER = frozenset(range(ord("a"), ord("z") + 1))
#: Invisible characters NFKC keeps that only split a number: zero-width space, non-joiner and
#: joiner, word joiner, the byte-order mark (zero-width no-break space) and the soft hyphen.
INVISIBLE_IN_INVOICE_NUMBERS = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")
_ALPHABET = "ASCII letters, digits, spaces and - _ . / \\ : #"


class InvalidInvoiceNumber(LedgerError):
    """The invoice number is empty once normalised, longer than the contract accepts, or holds
    a character it refuses (the subclasses say which and where)."""

    def __init__(self, invoice_number: str, reason: str) -> None:
        self.invoice_number = invoice_number
        self.reason = reason
        super().__init__(f"invalid invoice number {invoice_number!r}: {reason}")


class InvoiceNumberCharacterRefused(InvalidInvoiceNumber):
    """Byte ``character`` at byte offset ``position`` of the UTF-8 invoice number is outside the
    contract's alphabet: ``Receivables`` reverts ``ReceivablesInvoiceNumberCharacterRefused``."""

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
    that is not ``-``. Refused rather than guessed at, so no spelling makes a second key."""

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


class ReceivableStatus(IntEnum):
    """IReceivables.Status."""

    NONE = 0
    OUTSTANDING = 1
    REPAID = 2
    DEFAULTED = 3


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
    """The canonical invoice number, as ``Receivables.normaliseInvoiceNumber`` computes it.

    On the UTF-8 bytes, at most 64 of them: ``A``-``Z`` lower-cased, ``a``-``z`` kept; in each
    run of digits the leading zeros dropped (a run of zeros keeps one ``0``), any other byte
    ending the run; separators (``INVOICE_NUMBER_SEPARATORS``) dropped once they have ended a
    run. Raises ``InvalidInvoiceNumber`` when longer or when nothing is left, and its subclass
    ``InvoiceNumberCharacterRefused`` at the first other byte (every non-ASCII byte among
    them), in the contract's order: length, then bytes in order, then emptiness.
    """
    # surrogatepass: a lone surrogate gets the bytes the contract would be sent, and is refused.
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


def invoice_key(debtor: str, creditor: str, invoice_number: str) -> bytes:
    """keccak256(abi.encode(debtor, creditor, bytes(normalised))): unique for ever on chain."""
    normalised = normalise_invoice_number(invoice_number).encode("utf-8")
    return keccak(
        encode(
            ["address", "address", "bytes"], [to_checksum_address(debtor), to_checksum_address(creditor), normalised]
        )
    )


def discount_bps(amount: int, price: int, time_to_maturity: int) -> int:
    """The implied discount rate the contract records: (amount - price)/amount per year, in bp."""
    return (amount - price) * BPS * YEAR // (amount * time_to_maturity)


@dataclass(frozen=True)
class IssueTerms:
    debtor: str
    creditor: str
    token: str
    face_value: int
    maturity: int
    invoice_hash: bytes
    invoice_number: str
    order_id: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "debtor": to_checksum_address(self.debtor),
            "creditor": to_checksum_address(self.creditor),
            "token": to_checksum_address(self.token),
            "faceValue": self.face_value,
            "maturity": self.maturity,
            "invoiceHash": self.invoice_hash,
            "invoiceNumber": self.invoice_number,
            "orderId": self.order_id,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())

    @property
    def invoice_key(self) -> bytes:
        return invoice_key(self.debtor, self.creditor, self.invoice_number)


@dataclass(frozen=True)
class FinanceOffer:
    piece_id: int
    bank: str
    price: int
    deadline: int
    nonce: int

    def message(self) -> dict[str, Any]:
        return {
            "pieceId": self.piece_id,
            "bank": to_checksum_address(self.bank),
            "price": self.price,
            "deadline": self.deadline,
            "nonce": self.nonce,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


@dataclass(frozen=True)
class Child:
    """One child of a split: ``amount`` to ``holder``, paying for sub-order ``ref``."""

    amount: int
    holder: str
    ref: bytes

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.amount, to_checksum_address(self.holder), self.ref)


@dataclass(frozen=True)
class Root:
    root_id: int
    debtor: str
    creditor: str
    token: str
    face_value: int
    maturity: int
    issued_at: int
    defaulted_at: int
    invoice_hash: bytes
    invoice_key: bytes
    order_id: int
    repaid: int
    claimed: int

    @property
    def outstanding(self) -> int:
        return self.face_value - self.repaid

    @classmethod
    def from_tuple(cls, root_id: int, raw: Any) -> Root:
        debtor, creditor, token, face, maturity, issued, defaulted, inv_hash, key, order_id, repaid, claimed = raw
        return cls(
            root_id,
            to_checksum_address(debtor),
            to_checksum_address(creditor),
            to_checksum_address(token),
            int(face),
            int(maturity),
            int(issued),
            int(defaulted),
            bytes(inv_hash),
            bytes(key),
            int(order_id),
            int(repaid),
            int(claimed),
        )


@dataclass(frozen=True)
class Piece:
    piece_id: int
    root_id: int
    parent_id: int
    amount: int
    claimed: int
    ref: bytes
    first_child_id: int
    child_count: int
    financed: bool
    created_at: int

    @property
    def is_root(self) -> bool:
        return self.piece_id == self.root_id

    @property
    def is_leaf(self) -> bool:
        return self.child_count == 0

    @property
    def children(self) -> range:
        return range(self.first_child_id, self.first_child_id + self.child_count)

    @classmethod
    def from_tuple(cls, piece_id: int, raw: Any) -> Piece:
        root_id, parent_id, amount, claimed, ref, first_child, child_count, financed, created_at = raw
        return cls(
            piece_id,
            int(root_id),
            int(parent_id),
            int(amount),
            int(claimed),
            bytes(ref),
            int(first_child),
            int(child_count),
            bool(financed),
            int(created_at),
        )
