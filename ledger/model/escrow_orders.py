"""TradeEscrow's order lifecycle: from co-signed terms to the money's release or refund.

An order is created from terms both parties signed (``create_order``, or
``create_open_account_order`` for goods paid later by a receivable and never escrowed), funded
by the buyer, then moves through the milestones an oracle quorum attests (shipped, delivered,
inspected). The buyer confirms receipt, or anyone releases once the claim window has closed;
an unshipped order is refunded after ship-by and a failed inspection refunds it at once.
Unfunded orders may be cancelled by either party.

``OrderLifecycle`` is one of the mixins ``EscrowModel`` is composed of (see
``ledger.model.escrow_books``); it also holds the order views (``order``, ``terms_of``,
``evidence_of``, ...). Checks run in the contract's order: the first failing one decides the
error the contract reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ledger.domain.escrow import Milestone, Order, OrderStatus, OrderTerms, RefundReason
from ledger.model.common import (
    ROLE_CORE,
    ROLE_SUPPLIER,
    ZERO_ADDRESS,
    ZERO_HASH,
    Effect,
    ModelInputError,
    address,
    uint,
)
from ledger.model.escrow_books import (
    CONFIRMABLE,
    EscrowBooks,
    OrderEntry,
    oracle_kind_for,
    reject,
    require_signer,
    then,
)

__all__ = ["ZERO_TERMS", "OrderLifecycle", "normalize_terms"]


def normalize_terms(terms: OrderTerms) -> OrderTerms:
    """``terms`` with checksum addresses and validated integer widths."""
    return OrderTerms(
        buyer=address(terms.buyer),
        supplier=address(terms.supplier),
        token=address(terms.token),
        amount=uint(terms.amount, 256, "amount"),
        ship_by=uint(terms.ship_by, 64, "shipBy"),
        deliver_by=uint(terms.deliver_by, 64, "deliverBy"),
        inspection_required=bool(terms.inspection_required),
        terms_hash=bytes(terms.terms_hash),
        po_ref_hash=bytes(terms.po_ref_hash),
        nonce=uint(terms.nonce, 256, "nonce"),
        deadline=uint(terms.deadline, 64, "deadline"),
    )


# What ``termsOf`` reads for an unknown order.
ZERO_TERMS: Final = OrderTerms(ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0, False, ZERO_HASH, ZERO_HASH, 0, 0)


class OrderLifecycle(EscrowBooks):
    """Create, fund, cancel, attest, confirm, release and refund an order; its views."""

    def create_order(
        self,
        terms: OrderTerms,
        *,
        buyer_signer: str | None,
        supplier_signer: str | None,
        caller: str,
        now: int,
    ) -> Effect:
        t = normalize_terms(terms)
        caller = address(caller)
        if caller not in (t.buyer, t.supplier):
            raise reject("TradeEscrowNotParty", orderId=0, caller=caller)
        if t.deadline < now:
            raise reject("TradeEscrowSignatureExpired", deadline=t.deadline, nowTimestamp=now)
        self._check_terms(t, now)
        if (t.buyer, t.nonce) in self._nonces_used:
            raise reject("TradeEscrowNonceUsed", buyer=t.buyer, nonce=t.nonce)
        existing = self._order_of_po_ref.get(t.po_ref_hash, 0)
        if existing:
            raise reject("TradeEscrowPoRefTaken", poRefHash=t.po_ref_hash, orderId=existing)
        require_signer(buyer_signer, t.buyer)
        require_signer(supplier_signer, t.supplier)

        order_id = len(self._orders) + 1
        self._nonces_used.add((t.buyer, t.nonce))
        self._order_of_po_ref[t.po_ref_hash] = order_id
        self._orders[order_id] = OrderEntry(terms=t, status=OrderStatus.CREATED, created_at=now)
        return Effect(events=("OrderCreated",), order_id=order_id)

    def create_open_account_order(
        self,
        terms: OrderTerms,
        *,
        buyer_signer: str | None,
        supplier_signer: str | None,
        caller: str,
        now: int,
    ) -> Effect:
        """``createOpenAccountOrder``: the same checks (over the OpenAccountOrder type hash)."""
        created = self.create_order(
            terms, buyer_signer=buyer_signer, supplier_signer=supplier_signer, caller=caller, now=now
        )
        assert created.order_id is not None
        self._open_account.add(created.order_id)
        return then(created, Effect(events=("OpenAccountOrderCreated",)))

    def fund(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.CREATED)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
        return self._fund(order, now)

    def fund_with_permit(self, order_id: int, *, caller: str, now: int) -> Effect:
        """Anyone may submit the buyer's permit; the permit's own checks are the token's."""
        order = self._expect(order_id, OrderStatus.CREATED)
        self._refuse_open_account(order_id)
        return self._fund(order, now)

    def cancel_unfunded(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.CREATED)
        caller = address(caller)
        if caller not in (order.terms.buyer, order.terms.supplier):
            raise reject("TradeEscrowNotParty", orderId=order_id, caller=caller)
        order.status = OrderStatus.CANCELLED
        order.closed_at = now
        return Effect(events=("OrderCancelled",))

    def attest(
        self,
        order_id: int,
        milestone: int,
        occurred_at: int,
        evidence_hash: bytes,
        signers: Sequence[str | None],
        *,
        caller: str,
        now: int,
    ) -> Effect:
        """``attest``; ``signers`` are what the signatures recover to, in the order sent."""
        if milestone not in range(5):
            raise ModelInputError(f"milestone {milestone} is not an ITradeEscrow.Milestone")
        uint(occurred_at, 64, "occurredAt")
        order = self._existing(order_id)
        kind = oracle_kind_for(milestone)
        self._require_recent(occurred_at, now)
        if bytes(evidence_hash) in self._evidence:
            raise reject("TradeEscrowEvidenceReused", evidenceHash=evidence_hash)
        self._check_milestone(order_id, order, Milestone(milestone), occurred_at)
        self._check_quorum(signers, kind)

        self._evidence[bytes(evidence_hash)] = (order_id, Milestone(milestone))
        if milestone == Milestone.SHIPPED:
            order.shipped_at = occurred_at
            order.status = OrderStatus.SHIPPED
        elif milestone == Milestone.DELIVERED:
            order.delivered_at = occurred_at
            order.delivered_recorded_at = now
            order.status = OrderStatus.DELIVERED
        else:
            order.inspected_at = occurred_at
            passed = milestone == Milestone.INSPECTION_PASSED
            open_account = order_id in self._open_account
            # Rejected goods on open account: nothing was escrowed and nothing is owed.
            order.status = (
                OrderStatus.INSPECTED if passed else OrderStatus.CANCELLED if open_account else OrderStatus.REFUNDED
            )
            if not passed and open_account:
                order.closed_at = now
        effect = Effect(events=("MilestoneAttested",))
        if order.status == OrderStatus.REFUNDED:
            return then(effect, self._refund(order, now, RefundReason.INSPECTION_FAILED))
        return effect

    def confirm_receipt(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
        if order.status not in CONFIRMABLE:
            raise reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        return then(Effect(events=("ReceiptConfirmed",)), self._release(order, now))

    def release(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        status = order.status
        ready = status == OrderStatus.INSPECTED or (
            status == OrderStatus.DELIVERED and not order.terms.inspection_required
        )
        if not ready:
            raise reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(status))
        ends_at = self.claim_window_end(order_id)
        # The window's last second (now == ends_at) still belongs to the buyer's dispute.
        if now <= ends_at:
            raise reject("TradeEscrowClaimWindowOpen", orderId=order_id, endsAt=ends_at)
        return self._release(order, now)

    def refund_unshipped(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.FUNDED)
        if now <= order.terms.ship_by:
            raise reject("TradeEscrowShipByNotPassed", orderId=order_id, shipBy=order.terms.ship_by)
        order.status = OrderStatus.REFUNDED
        return self._refund(order, now, RefundReason.UNSHIPPED)

    # -- views -----------------------------------------------------------------------

    @property
    def order_count(self) -> int:
        return len(self._orders)

    def order_ids(self) -> list[int]:
        return list(self._orders)

    def status_of(self, order_id: int) -> OrderStatus:
        order = self._orders.get(order_id)
        return order.status if order else OrderStatus.NONE

    def is_open_account(self, order_id: int) -> bool:
        return order_id in self._open_account

    def terms_of(self, order_id: int) -> OrderTerms:
        order = self._orders.get(order_id)
        return order.terms if order else ZERO_TERMS

    def order(self, order_id: int) -> Order:
        """``orderOf(orderId)`` in the client's type (all zero for an unknown id, like the contract)."""
        o = self._orders.get(order_id)
        if o is None:
            return Order(order_id, ZERO_TERMS, OrderStatus.NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, ZERO_ADDRESS, 0, 0, 0, 0)
        return Order(
            order_id,
            o.terms,
            o.status,
            o.created_at,
            o.funded_at,
            o.shipped_at,
            o.delivered_at,
            o.delivered_recorded_at,
            o.inspected_at,
            o.closed_at,
            o.escrowed,
            o.prepaid,
            o.guarantor,
            o.prepayment_fee,
            o.paid_to_supplier,
            o.refunded_to_buyer,
            o.guarantee_claimed,
        )

    def order_id_of_po_ref(self, po_ref_hash: bytes) -> int:
        return self._order_of_po_ref.get(bytes(po_ref_hash), 0)

    def nonce_used(self, buyer: str, nonce: int) -> bool:
        return (address(buyer), nonce) in self._nonces_used

    def evidence_used(self, evidence_hash: bytes) -> bool:
        return bytes(evidence_hash) in self._evidence

    def evidence_of(self, evidence_hash: bytes) -> tuple[int, Milestone] | None:
        """``evidenceOf``: (order id, milestone) the evidence was attested for; None when unused."""
        return self._evidence.get(bytes(evidence_hash))

    # -- internals -------------------------------------------------------------------

    def _check_terms(self, t: OrderTerms, now: int) -> None:
        if t.buyer == t.supplier:
            raise reject("TradeEscrowSelfTrade", party=t.buyer)
        if not self.roster.has_role(t.buyer, ROLE_CORE) and not self.roster.has_role(t.buyer, ROLE_SUPPLIER):
            raise reject("TradeEscrowBuyerNotEligible", buyer=t.buyer)
        if not self.roster.has_role(t.supplier, ROLE_SUPPLIER):
            raise reject("TradeEscrowSupplierNotEligible", supplier=t.supplier)
        if not self.token_allowed.get(t.token, False):
            raise reject("TradeEscrowTokenNotAllowed", token=t.token)
        if t.amount == 0:
            raise reject("TradeEscrowInvalidAmount", amount=0)
        if t.ship_by <= now or t.deliver_by < t.ship_by:
            raise reject("TradeEscrowInvalidDates", shipBy=t.ship_by, deliverBy=t.deliver_by, nowTimestamp=now)
        if t.po_ref_hash == ZERO_HASH:
            raise reject("TradeEscrowMissingPoRef")

    def _check_milestone(self, order_id: int, order: OrderEntry, milestone: Milestone, occurred_at: int) -> None:
        status = order.status
        # Event times run in sequence; SHIPPED may predate the order (a PO signed after dispatch).
        if milestone == Milestone.SHIPPED:
            ready = OrderStatus.CREATED if order_id in self._open_account else OrderStatus.FUNDED
            recorded, expected, previous_at = order.shipped_at != 0, ready, 0
        elif milestone == Milestone.DELIVERED:
            recorded, expected, previous_at = order.delivered_at != 0, OrderStatus.SHIPPED, order.shipped_at
        else:
            if not order.terms.inspection_required:
                raise reject("TradeEscrowInspectionNotRequired", orderId=order_id)
            recorded, expected, previous_at = order.inspected_at != 0, OrderStatus.DELIVERED, order.delivered_at
        if recorded:
            raise reject("TradeEscrowMilestoneAlreadyRecorded", orderId=order_id, milestone=int(milestone))
        if status != expected:
            raise reject(
                "TradeEscrowMilestoneOutOfOrder", orderId=order_id, milestone=int(milestone), status=int(status)
            )
        if occurred_at < previous_at:
            raise reject(
                "TradeEscrowMilestoneOutOfSequence", orderId=order_id, occurredAt=occurred_at, previousAt=previous_at
            )

    def _fund(self, order: OrderEntry, now: int) -> Effect:
        order.status = OrderStatus.FUNDED
        order.funded_at = now
        order.escrowed = order.terms.amount
        transfer = self._transfer(order.terms.token, order.terms.buyer, self.escrow, order.terms.amount)
        return Effect(events=("OrderFunded",), transfers=(transfer,))

    def _release(self, order: OrderEntry, now: int) -> Effect:
        order.status = OrderStatus.RELEASED
        payout = self._payout(order, 0, now)
        return self._pay(order, payout, "OrderReleased", to_buyer=0, to_supplier=payout.to_supplier)

    def _refund(self, order: OrderEntry, now: int, reason: RefundReason) -> Effect:
        amount = order.terms.amount
        payout = self._payout(order, amount, now)
        return self._pay(order, payout, "OrderRefunded", to_buyer=amount, to_supplier=0)
