"""TradeEscrow's value types: order terms, attestations, statuses, the typed-data field lists
the parties sign, and the state a read returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import keccak, to_checksum_address

from ledger.domain.addresses import address


class OrderStatus(IntEnum):
    """ITradeEscrow.Status."""

    NONE = 0
    CREATED = 1
    FUNDED = 2
    SHIPPED = 3
    DELIVERED = 4
    INSPECTED = 5
    DISPUTED = 6
    RELEASED = 7
    REFUNDED = 8
    SETTLED = 9
    CANCELLED = 10


class Milestone(IntEnum):
    """ITradeEscrow.Milestone; its NONE (0) is never attested."""

    SHIPPED = 1
    DELIVERED = 2
    INSPECTION_PASSED = 3
    INSPECTION_FAILED = 4


class RefundReason(IntEnum):
    """ITradeEscrow.RefundReason (`OrderRefunded.reason`); its NONE (0) is never emitted."""

    UNSHIPPED = 1
    INSPECTION_FAILED = 2


class Resolution(IntEnum):
    """ITradeEscrow.Resolution (`DisputeResolved.how`); its NONE (0) is never emitted."""

    ARBITER = 1
    SETTLEMENT = 2
    UNANSWERED = 3
    EXPIRED = 4


TERMINAL = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED, OrderStatus.CANCELLED})

ORDER_FIELDS = [
    {"name": "buyer", "type": "address"},
    {"name": "supplier", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "shipBy", "type": "uint64"},
    {"name": "deliverBy", "type": "uint64"},
    {"name": "inspectionRequired", "type": "bool"},
    {"name": "termsHash", "type": "bytes32"},
    {"name": "poRefHash", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
ATTESTATION_FIELDS = [
    {"name": "orderId", "type": "uint256"},
    {"name": "milestone", "type": "uint8"},
    {"name": "occurredAt", "type": "uint64"},
    {"name": "evidenceHash", "type": "bytes32"},
]
ERROR_DECLARATION_FIELDS = [
    {"name": "evidenceHash", "type": "bytes32"},
    {"name": "reasonHash", "type": "bytes32"},
    {"name": "declaredAt", "type": "uint64"},
]
SETTLEMENT_FIELDS = [
    {"name": "orderId", "type": "uint256"},
    {"name": "buyerAmount", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
]
PREPAYMENT_OFFER_FIELDS = [
    {"name": "orderId", "type": "uint256"},
    {"name": "guarantor", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "fee", "type": "uint256"},
    {"name": "deadline", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]


def po_ref_hash(reference: str) -> bytes:
    """The on-chain key of a purchase-order reference, as logistics events quote it."""
    return keccak(text=reference.strip())


@dataclass(frozen=True)
class OrderTerms:
    buyer: str
    supplier: str
    token: str
    amount: int
    ship_by: int
    deliver_by: int
    inspection_required: bool
    terms_hash: bytes
    po_ref_hash: bytes
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            # address(): to_checksum_address, cached; a batch signs thousands of orders by a few hundred parties.
            "buyer": address(self.buyer),
            "supplier": address(self.supplier),
            "token": address(self.token),
            "amount": self.amount,
            "shipBy": self.ship_by,
            "deliverBy": self.deliver_by,
            "inspectionRequired": self.inspection_required,
            "termsHash": self.terms_hash,
            "poRefHash": self.po_ref_hash,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())

    @classmethod
    def from_tuple(cls, raw: Any) -> OrderTerms:
        buyer, supplier, token, amount, ship_by, deliver_by, inspection, terms_hash, po_ref, nonce, deadline = raw
        return cls(
            to_checksum_address(buyer),
            to_checksum_address(supplier),
            to_checksum_address(token),
            int(amount),
            int(ship_by),
            int(deliver_by),
            bool(inspection),
            bytes(terms_hash),
            bytes(po_ref),
            int(nonce),
            int(deadline),
        )


@dataclass(frozen=True)
class Attestation:
    order_id: int
    milestone: Milestone
    occurred_at: int
    evidence_hash: bytes

    def message(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "milestone": int(self.milestone),
            "occurredAt": self.occurred_at,
            "evidenceHash": self.evidence_hash,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.order_id, int(self.milestone), self.occurred_at, self.evidence_hash)


@dataclass(frozen=True)
class ErrorDeclaration:
    """What the oracles sign to declare the event behind an attested milestone erroneous.

    ``evidence_hash`` is the GS1 event hash the milestone was attested with (it names the order
    and the milestone on chain), ``reason_hash`` the keccak256 of the EPCIS declaration's reason
    (or of the declaring event's hash), ``declared_at`` its declaration time in UTC seconds.
    """

    evidence_hash: bytes
    reason_hash: bytes
    declared_at: int

    def message(self) -> dict[str, Any]:
        return {"evidenceHash": self.evidence_hash, "reasonHash": self.reason_hash, "declaredAt": self.declared_at}

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.evidence_hash, self.reason_hash, self.declared_at)


@dataclass(frozen=True)
class PrepaymentOffer:
    """What a bank signs to back, and price, a pre-payment of order ``order_id``.

    The supplier draws ``amount`` of the escrow: ``amount - fee`` reaches the supplier and
    ``fee`` the guarantor, while the guarantor's limit and pool stand behind all of ``amount``.
    ``fee`` is below ``amount`` (0 allowed); ``nonce`` is the guarantor's pre-payment offer
    nonce, good once on any order; ``deadline`` is the last second the offer can be accepted.
    """

    order_id: int
    guarantor: str
    amount: int
    fee: int
    deadline: int
    nonce: int

    def message(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "guarantor": address(self.guarantor),
            "amount": self.amount,
            "fee": self.fee,
            "deadline": self.deadline,
            "nonce": self.nonce,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


@dataclass(frozen=True)
class Order:
    """``orderOf``: ``prepaid`` is the whole pre-payment drawn from the escrow, of which
    ``prepayment_fee`` went to ``guarantor``; ``paid_to_supplier`` counts it net of that fee."""

    order_id: int
    terms: OrderTerms
    status: OrderStatus
    created_at: int
    funded_at: int
    shipped_at: int
    delivered_at: int
    delivered_recorded_at: int
    inspected_at: int
    closed_at: int
    escrowed: int
    prepaid: int
    guarantor: str
    prepayment_fee: int
    paid_to_supplier: int
    refunded_to_buyer: int
    guarantee_claimed: int

    @classmethod
    def from_view(cls, order_id: int, raw: Any) -> Order:
        """``orderOf(order_id)`` as returned by the ABI decoder."""
        (terms, status, created, funded, shipped, delivered, recorded, inspected, closed, escrowed, prepaid,
         guarantor, fee, to_supplier, to_buyer, claimed) = raw  # fmt: skip
        return cls(
            order_id,
            OrderTerms.from_tuple(terms),
            OrderStatus(status),
            created,
            funded,
            shipped,
            delivered,
            recorded,
            inspected,
            closed,
            escrowed,
            prepaid,
            to_checksum_address(guarantor),
            fee,
            to_supplier,
            to_buyer,
            claimed,
        )


@dataclass(frozen=True)
class Dispute:
    opened_at: int
    answer_by: int
    resolve_by: int
    answered: bool
    reason_hash: bytes
    response_hash: bytes


@dataclass(frozen=True)
class Windows:
    claim_window: int
    answer_window: int
    resolve_window: int
    max_attestation_age: int
