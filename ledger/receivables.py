"""Typed client of Receivables: issue on the debtor's signature, split, finance, repay, claim.

Every party signs with its own key; any allowed account submits. Reverts surface as
``ContractReverted`` carrying the contract's custom error and its arguments.
``normalise_invoice_number`` is the contract's canonical invoice number, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger import typed_data
from ledger.chain import Chain
from ledger.compiler import BuildResult
from ledger.errors import LedgerError
from ledger.events import EventDecoder, LedgerEvent
from ledger.typed_data import Domain

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

_WHITESPACE = frozenset(b" \t\n\v\f\r")
_DIGITS = frozenset(b"0123456789")


class InvalidInvoiceNumber(LedgerError):
    """The invoice number is empty once normalised, or longer than the contract accepts."""

    def __init__(self, invoice_number: str, reason: str) -> None:
        self.invoice_number = invoice_number
        self.reason = reason
        super().__init__(f"invalid invoice number {invoice_number!r}: {reason}")


class ReceivableStatus(IntEnum):
    NONE = 0
    OUTSTANDING = 1
    REPAID = 2
    DEFAULTED = 3


def normalise_invoice_number(invoice_number: str) -> str:
    """The canonical invoice number, as ``Receivables.normaliseInvoiceNumber`` computes it.

    On the UTF-8 bytes: ASCII letters lower-cased, ASCII whitespace (space, \\t \\n \\v \\f \\r)
    removed, leading zeros of each run of digits removed (a run of zeros keeps one "0").
    Other bytes are kept. At most 64 bytes in; raises ``InvalidInvoiceNumber`` when longer or
    when nothing is left.
    """
    raw = invoice_number.encode("utf-8")
    if len(raw) > MAX_INVOICE_NUMBER_LENGTH:
        raise InvalidInvoiceNumber(invoice_number, f"longer than {MAX_INVOICE_NUMBER_LENGTH} bytes")
    out = bytearray()
    in_run = significant = False
    for byte in raw:
        if byte in _WHITESPACE:
            continue
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
        out.append(byte + 32 if ord("A") <= byte <= ord("Z") else byte)
    if in_run and not significant:
        out.append(ord("0"))
    if not out:
        raise InvalidInvoiceNumber(invoice_number, "empty once normalised")
    return out.decode("utf-8")


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


class ReceivablesClient:
    """Receivables at ``address`` on ``chain``."""

    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["Receivables"], address)
        self.address = self.contract.address
        self.domain = Domain("Receivables", "1", chain.chain_id, self.address)
        self._events = EventDecoder(self.contract)

    # -- typed data -------------------------------------------------------------------

    def issue_document(self, terms: IssueTerms) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "ReceivableIssue", ISSUE_FIELDS, terms.message())

    def offer_document(self, offer: FinanceOffer) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "FinanceOffer", OFFER_FIELDS, offer.message())

    def sign_issue(self, debtor: LocalAccount, terms: IssueTerms) -> bytes:
        return typed_data.sign(debtor, self.issue_document(terms))

    def sign_offer(self, bank: LocalAccount, offer: FinanceOffer) -> bytes:
        return typed_data.sign(bank, self.offer_document(offer))

    # -- operations -------------------------------------------------------------------

    def issue(self, terms: IssueTerms, debtor_signature: bytes, sender: LocalAccount) -> tuple[int, TxReceipt]:
        receipt = self.chain.transact(self.contract.functions.issue(terms.as_tuple(), debtor_signature), sender)
        issued = self.chain.receipt_events(self.contract, receipt, "ReceivableIssued")
        return int(issued[0]["rootId"]), receipt

    def split(self, piece_id: int, children: list[Child], holder: LocalAccount) -> tuple[list[int], TxReceipt]:
        """Split ``piece_id``; the new piece ids in the order of ``children``."""
        fn = self.contract.functions.split(piece_id, [child.as_tuple() for child in children])
        receipt = self.chain.transact(fn, holder)
        created = self.chain.receipt_events(self.contract, receipt, "PieceCreated")
        return [int(event["pieceId"]) for event in created], receipt

    def finance(self, offer: FinanceOffer, bank_signature: bytes, holder: LocalAccount) -> TxReceipt:
        return self.chain.transact(self.contract.functions.finance(offer.as_tuple(), bank_signature), holder)

    def repay(self, root_id: int, amount: int, payer: LocalAccount) -> TxReceipt:
        return self.chain.transact(self.contract.functions.repay(root_id, amount), payer)

    def claim(self, piece_id: int, holder: LocalAccount) -> tuple[int, TxReceipt]:
        receipt = self.chain.transact(self.contract.functions.claim(piece_id), holder)
        claimed = self.chain.receipt_events(self.contract, receipt, "PieceClaimed")
        return int(claimed[0]["amount"]), receipt

    def mark_defaulted(self, root_id: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.transact(self.contract.functions.markDefaulted(root_id), sender)

    def transfer(self, piece_id: int, to: str, holder: LocalAccount) -> TxReceipt:
        fn = self.contract.functions.transferFrom(holder.address, to_checksum_address(to), piece_id)
        return self.chain.transact(fn, holder)

    def set_grace_period(self, seconds: int, admin: LocalAccount) -> TxReceipt:
        return self.chain.transact(self.contract.functions.setGracePeriod(seconds), admin)

    # -- reading ----------------------------------------------------------------------

    def root(self, root_id: int) -> Root:
        return Root.from_tuple(root_id, self.chain.call(self.contract.functions.rootOf(root_id)))

    def piece(self, piece_id: int) -> Piece:
        return Piece.from_tuple(piece_id, self.chain.call(self.contract.functions.pieceOf(piece_id)))

    def status(self, root_id: int) -> ReceivableStatus:
        return ReceivableStatus(self.chain.call(self.contract.functions.statusOf(root_id)))

    def claimable(self, piece_id: int) -> int:
        return int(self.chain.call(self.contract.functions.claimable(piece_id)))

    def outstanding(self, root_id: int) -> int:
        return int(self.chain.call(self.contract.functions.outstanding(root_id)))

    def holder_of(self, piece_id: int) -> str:
        return to_checksum_address(self.chain.call(self.contract.functions.ownerOf(piece_id)))

    def piece_count(self) -> int:
        return int(self.chain.call(self.contract.functions.pieceCount()))

    def root_id_of_invoice(self, debtor: str, creditor: str, invoice_number: str) -> int:
        key = invoice_key(debtor, creditor, invoice_number)
        return int(self.chain.call(self.contract.functions.rootIdOfInvoice(key)))

    def normalise_on_chain(self, invoice_number: str) -> str:
        """The contract's own normalisation (reverts as ``ReceivablesInvalidInvoiceNumber``)."""
        return str(self.chain.call(self.contract.functions.normaliseInvoiceNumber(invoice_number)))

    def issued_against_order(self, order_id: int) -> int:
        return int(self.chain.call(self.contract.functions.issuedAgainstOrder(order_id)))

    def nonce_used(self, debtor: str, nonce: int) -> bool:
        return bool(self.chain.call(self.contract.functions.nonceUsed(to_checksum_address(debtor), nonce)))

    def offer_nonce_used(self, bank: str, nonce: int) -> bool:
        return bool(self.chain.call(self.contract.functions.offerNonceUsed(to_checksum_address(bank), nonce)))

    def grace_period(self) -> int:
        return int(self.chain.call(self.contract.functions.gracePeriod()))

    def tree(self, root_id: int) -> list[Piece]:
        """Every piece of ``root_id``'s tree, parents before children (reads views)."""
        pieces, queue = [], [root_id]
        while queue:
            piece = self.piece(queue.pop(0))
            pieces.append(piece)
            queue.extend(piece.children)
        return pieces

    def events(self, receipt: TxReceipt) -> list[LedgerEvent]:
        """Every Receivables event in ``receipt`` (ERC-721 ones included), decoded, in log order."""
        return self._events.decode(receipt)
