"""An oracle's judgement: which mapped EPCIS events it vouches for, and its signature on each.

The oracle signs what the event *says* (this PO shipped at this time, with this evidence),
not what the order's state allows right now: under a k-of-n quorum a DELIVERED event often
arrives while the SHIPPED attestation still waits for its second signature, and the
aggregator submits them in order. What the oracle refuses is evidence that can never be
used: an unknown PO, an order that is closed, disputed or already has the milestone, an
inspection for an order that asked for none, a milestone of another oracle kind, an event
from the future or older than the attestation window. Each refusal is a stable code and a
sentence, recorded with the capture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from ledger.clients.escrow import TradeEscrowClient
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone, OrderStatus, po_ref_hash
from ledger.errors import ChainUnavailable
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.eth.eip712 import sign_typed_data
from ledger.eth.reads import RawView, ViewBatch
from ledger.model.common import OracleKind
from oracles.hashing import evidence_bytes32
from oracles.mapping import ErrorDeclared, Mapped

#: Which oracle kind attests which milestone (TradeEscrow._oracleKindFor).
MILESTONE_KIND: Final = {
    Milestone.SHIPPED: OracleKind.CARRIER,
    Milestone.DELIVERED: OracleKind.CARRIER,
    Milestone.INSPECTION_PASSED: OracleKind.INSPECTOR,
    Milestone.INSPECTION_FAILED: OracleKind.INSPECTOR,
}
CLOSED: Final = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED, OrderStatus.CANCELLED})
#: Seconds an event may lie ahead of the chain's clock (carriers' clocks drift a little).
DEFAULT_FUTURE_SKEW: Final = 300


class Refusal(StrEnum):
    """Why an oracle will not sign a mapped event; stable codes for APIs, logs and tests."""

    WRONG_KIND = "wrong_kind"
    UNKNOWN_PO = "unknown_po"
    ORDER_CLOSED = "order_closed"
    ORDER_DISPUTED = "order_disputed"
    ALREADY_RECORDED = "already_recorded"
    INSPECTION_NOT_REQUIRED = "inspection_not_required"
    STALE = "stale"
    FROM_FUTURE = "from_future"
    EVIDENCE_SHARED = "evidence_shared"


@dataclass(frozen=True)
class OrderFacts:
    """What the witness needs of ``orderOf``: read straight from the ABI words of the static
    struct (26 words: the 11 of OrderTerms, then status, createdAt, fundedAt, shippedAt,
    deliveredAt, deliveredRecordedAt, inspectedAt, ...), a hundred times cheaper than decoding
    the whole order for every event of a large document."""

    order_id: int
    status: OrderStatus
    inspection_required: bool
    shipped_at: int
    delivered_at: int
    inspected_at: int

    @classmethod
    def of(cls, order_id: int, raw: bytes) -> OrderFacts:
        def word(index: int) -> int:
            return int.from_bytes(raw[32 * index : 32 * index + 32], "big")

        return cls(order_id, OrderStatus(word(11)), bool(word(6)), word(14), word(15), word(17))


@dataclass(frozen=True)
class SignedAttestation:
    """``oracle`` (of ``kind``) vouches for ``attestation``, the event ``evidence`` on ``po_ref``."""

    attestation: Attestation
    kind: OracleKind
    oracle: str
    signature: bytes
    evidence: str
    po_ref: str


@dataclass(frozen=True)
class SignedDeclaration:
    """``oracle`` (of ``kind``) declares the event behind ``declaration.evidence_hash`` erroneous."""

    declaration: ErrorDeclaration
    kind: OracleKind
    oracle: str
    signature: bytes


@dataclass(frozen=True)
class Refused:
    """The oracle will not sign ``milestone`` of ``po_ref``: ``reason`` and why in ``detail``."""

    po_ref: str
    milestone: Milestone
    reason: Refusal
    detail: str
    order_id: int = 0


Judgement = SignedAttestation | Refused


def reason_hash(reason: str | None) -> bytes:
    """The on-chain ``reasonHash`` of an EPCIS error declaration: keccak256 of its reason word."""
    return keccak(text=reason or "")


class Witness:
    """One oracle: its key, its kind, and the chain it reads orders from."""

    def __init__(
        self,
        chain: Chain,
        build: BuildResult,
        *,
        escrow: str,
        membership: str,
        key: LocalAccount,
        kind: OracleKind,
        max_age: int | None = None,
        future_skew: int = DEFAULT_FUTURE_SKEW,
    ) -> None:
        self.chain = chain
        self.escrow = TradeEscrowClient(chain, build, escrow)
        self.key = key
        self.kind = OracleKind(kind)
        self.future_skew = future_skew
        self._reads = ViewBatch(chain)
        escrow_abi = build["TradeEscrow"].abi
        self._order_of_po = RawView.of(self.escrow.address, escrow_abi, "orderIdOfPoRef")
        self._order_of = RawView.of(self.escrow.address, escrow_abi, "orderOf")
        self._is_oracle = RawView.of(membership, build["Membership"].abi, "isOracle")
        # The contract refuses attestations older than its window; a narrower one may be set.
        chain_max_age = self.escrow.windows().max_attestation_age
        self.max_age = chain_max_age if max_age is None else min(max_age, chain_max_age)

    @property
    def address(self) -> str:
        return str(self.key.address)

    def is_active(self) -> bool:
        """Whether the chain counts this key as an active oracle of this kind now."""
        return bool(self._reads.read([(self._is_oracle, (self.address, int(self.kind)))])[0][0])

    def active_at(self) -> tuple[bool, int]:
        """``is_active()`` and the chain's clock (the head block's timestamp), in one round trip.

        A capture needs both first. The head block is read raw (``eth_getBlockByNumber`` without
        transactions): web3's block formatters would convert every transaction hash of a block
        that holds a batch of attestations, for one number."""
        provider = self.chain.w3.provider
        if not isinstance(provider, HTTPProvider):  # an in-process chain answers one call at a time
            return self.is_active(), self.chain.timestamp()
        is_oracle = self._is_oracle.request(self.address, int(self.kind))
        batch = [
            (RPCEndpoint("eth_call"), [is_oracle, "latest"]),
            (RPCEndpoint("eth_getBlockByNumber"), ["latest", False]),
        ]
        try:
            answers = provider.make_batch_request(batch)
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(self.chain.endpoint, str(exc)) from exc
        if not isinstance(answers, list) or len(answers) != 2 or any("error" in a for a in answers):
            # A refused batch or call: ask again one at a time, for the usual errors.
            return self.is_active(), self.chain.timestamp()
        block = answers[1].get("result")
        if not isinstance(block, dict):
            raise ChainUnavailable(self.chain.endpoint, f"no head block: {answers[1]}")
        active = self._is_oracle.decode(bytes(HexBytes(answers[0]["result"])))[0]
        return bool(active), int(block["timestamp"], 16)

    def judge(self, mapped: Sequence[Mapped], now: int) -> list[list[Judgement]]:
        """For each mapped event, one judgement per PO it names (in ``po_refs`` order).

        Reads every order with two batched calls, whatever the number of events.
        """
        refs = sorted({ref for m in mapped for ref in m.po_refs})
        ids = dict(
            zip(
                refs,
                (int(r[0]) for r in self._reads.read([(self._order_of_po, (po_ref_hash(ref),)) for ref in refs])),
                strict=True,
            )
        )
        known = sorted({i for i in ids.values() if i})
        raw_orders = self._reads.read_raw([(self._order_of, (i,)) for i in known])
        orders = {i: OrderFacts.of(i, raw) for i, raw in zip(known, raw_orders, strict=True)}
        return [
            self._one_order(m, [self._judge(m, ref, ids[ref], orders.get(ids[ref]), now) for ref in m.po_refs])
            for m in mapped
        ]

    def declare(self, declared: ErrorDeclared) -> SignedDeclaration | None:
        """This oracle's signature on an EPCIS error declaration (None when the declared event
        has no hash to name it by). Every oracle reading the same declaration signs the same
        values: the reason's keccak and the declaration time."""
        if declared.declared_event_hash is None:
            return None
        declaration = ErrorDeclaration(
            evidence_bytes32(declared.declared_event_hash), reason_hash(declared.reason), declared.declared_at
        )
        signature = sign_typed_data(self.key, self.escrow.error_declaration_document(declaration))
        return SignedDeclaration(declaration, self.kind, self.address, signature)

    @staticmethod
    def _one_order(m: Mapped, judged: list[Judgement]) -> list[Judgement]:
        """The chain takes an event hash as evidence once: an event naming several orders
        (a consolidated shipment) is signed for the first of them that can use it."""
        first = next((j for j in judged if isinstance(j, SignedAttestation)), None)
        if first is None:
            return judged
        detail = f"the chain accepts this event as evidence once; it is signed for order {first.attestation.order_id}"
        return [
            j
            if j is first or isinstance(j, Refused)
            else Refused(j.po_ref, m.milestone, Refusal.EVIDENCE_SHARED, detail, j.attestation.order_id)
            for j in judged
        ]

    def _judge(self, m: Mapped, ref: str, order_id: int, order: OrderFacts | None, now: int) -> Judgement:
        milestone = m.milestone
        needed = MILESTONE_KIND[milestone]
        if needed != self.kind:
            return Refused(
                ref, milestone, Refusal.WRONG_KIND, f"{milestone.name} is attested by {needed.name.lower()} oracles"
            )
        if order is None:
            return Refused(ref, milestone, Refusal.UNKNOWN_PO, f"no order on chain has PO reference {ref!r}")
        refusal = self._order_refusal(order, milestone)
        if refusal is not None:
            return Refused(ref, milestone, refusal[0], refusal[1], order_id)
        if m.occurred_at > now + self.future_skew:
            return Refused(
                ref,
                milestone,
                Refusal.FROM_FUTURE,
                f"eventTime is {m.occurred_at - now} s ahead of the chain",
                order_id,
            )
        if now - m.occurred_at > self.max_age:
            days = (now - m.occurred_at) / 86_400
            return Refused(
                ref,
                milestone,
                Refusal.STALE,
                f"eventTime is {days:.1f} days old; the window is {self.max_age // 86_400} days",
                order_id,
            )
        attestation = Attestation(order_id, milestone, m.occurred_at, m.evidence_bytes32)
        signature = sign_typed_data(self.key, self.escrow.attestation_document(attestation))
        return SignedAttestation(attestation, self.kind, self.address, signature, m.evidence_hash, ref)

    @staticmethod
    def _order_refusal(order: OrderFacts, milestone: Milestone) -> tuple[Refusal, str] | None:
        status = order.status
        if status in CLOSED:
            return Refusal.ORDER_CLOSED, f"order {order.order_id} is {status.name}"
        if status == OrderStatus.DISPUTED:
            return Refusal.ORDER_DISPUTED, f"order {order.order_id} is under dispute"
        recorded_at = {
            Milestone.SHIPPED: order.shipped_at,
            Milestone.DELIVERED: order.delivered_at,
        }.get(milestone, order.inspected_at)
        if recorded_at:
            return Refusal.ALREADY_RECORDED, f"order {order.order_id} already has {milestone.name} (at {recorded_at})"
        inspection = milestone in (Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED)
        if inspection and not order.inspection_required:
            return Refusal.INSPECTION_NOT_REQUIRED, f"order {order.order_id} was agreed without inspection"
        return None
