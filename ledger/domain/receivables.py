"""Receivables' value types: issue terms, finance offers, the pieces of a receivable tree, their
statuses and the typed-data field lists the parties sign.

No invoice number comes on chain: the debtor signs the invoice's keyed fingerprint and a salted
commitment to its number, both computed off chain by ``ledger.domain.fingerprints`` (the rule
any member bank can compute on its own, in ``FINGERPRINTS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import to_checksum_address

from ledger.domain.addresses import address

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
    {"name": "fingerprint", "type": "bytes32"},
    {"name": "invoiceCommitment", "type": "bytes32"},
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


class ReceivableStatus(IntEnum):
    """IReceivables.Status."""

    NONE = 0
    OUTSTANDING = 1
    REPAID = 2
    DEFAULTED = 3


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
    fingerprint: bytes
    invoice_commitment: bytes
    order_id: int
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            # address(): to_checksum_address, cached; a batch signs thousands of documents by a few hundred parties.
            "debtor": address(self.debtor),
            "creditor": address(self.creditor),
            "token": address(self.token),
            "faceValue": self.face_value,
            "maturity": self.maturity,
            "invoiceHash": self.invoice_hash,
            "fingerprint": self.fingerprint,
            "invoiceCommitment": self.invoice_commitment,
            "orderId": self.order_id,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


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
            "bank": address(self.bank),
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
        return (self.amount, address(self.holder), self.ref)


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
    fingerprint: bytes
    invoice_commitment: bytes
    order_id: int
    repaid: int
    claimed: int

    @property
    def outstanding(self) -> int:
        return self.face_value - self.repaid

    @classmethod
    def from_tuple(cls, root_id: int, raw: Any) -> Root:
        (
            debtor,
            creditor,
            token,
            face,
            maturity,
            issued,
            defaulted,
            inv_hash,
            tag,
            commitment,
            order_id,
            repaid,
            claimed,
        ) = raw
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
            bytes(tag),
            bytes(commitment),
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
