"""TradeEscrow's disputes: a buyer's claim or an oracle quorum's contest, and how each ends.

The buyer opens a dispute within the claim window after delivery, or once deliver-by has
passed for goods shipped but never delivered; an oracle quorum may instead declare the event
behind an attested milestone erroneous (``contest_milestone``), which disputes the order the
same way but without the claim-window rules. The supplier answers within the answer window;
an arbiter or a split both parties signed settles it before the resolve window ends. A dispute
left unanswered, or unresolved, can only be closed in the buyer's favour
(``close_expired_dispute``).

``Disputes`` is one of the mixins ``EscrowModel`` is composed of (see
``ledger.model.escrow_books``); it also holds the dispute views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ledger.domain.escrow import Dispute, OrderStatus, Resolution
from ledger.model.common import ROLE_ARBITER, ZERO_HASH, Effect, address, uint
from ledger.model.escrow_books import (
    CONFIRMABLE,
    DisputeEntry,
    EscrowBooks,
    OrderEntry,
    oracle_kind_for,
    reject,
    require_signer,
    then,
)

__all__ = ["ZERO_DISPUTE", "Disputes"]

# What ``disputeOf`` reads for an order never disputed.
ZERO_DISPUTE: Final = Dispute(0, 0, 0, False, ZERO_HASH, ZERO_HASH)


class Disputes(EscrowBooks):
    """Open, contest, answer, arbitrate, settle and close disputes; their views."""

    def open_dispute(self, order_id: int, reason_hash: bytes, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
        status = order.status
        if status in (OrderStatus.DELIVERED, OrderStatus.INSPECTED):
            ends_at = self.claim_window_end(order_id)
            if now > ends_at:
                raise reject("TradeEscrowClaimWindowClosed", orderId=order_id, endedAt=ends_at)
        elif status == OrderStatus.SHIPPED:
            # Goods that never arrive: the buyer may claim once deliver-by has passed.
            if now <= order.terms.deliver_by:
                raise reject("TradeEscrowDisputeWindowNotReached", orderId=order_id, deliverBy=order.terms.deliver_by)
        else:
            raise reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(status))
        return self._open_dispute(order_id, order, reason_hash, now)

    def contest_milestone(
        self,
        evidence_hash: bytes,
        reason_hash: bytes,
        declared_at: int,
        signers: Sequence[str | None],
        *,
        caller: str,
        now: int,
    ) -> Effect:
        """``contestMilestone``: a quorum declared the event behind an attested milestone erroneous.

        Anyone may submit it; ``signers`` are what the signatures over the ErrorDeclaration
        recover to. The order is disputed as by its buyer, but without the claim-window rules.
        """
        uint(declared_at, 64, "declaredAt")
        use = self._evidence.get(bytes(evidence_hash))
        if use is None:
            raise reject("TradeEscrowEvidenceUnknown", evidenceHash=bytes(evidence_hash))
        self._require_recent(declared_at, now)
        order_id, milestone = use
        self._refuse_open_account(order_id)
        order = self._orders[order_id]
        if order.status not in CONFIRMABLE:
            raise reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        self._check_quorum(signers, oracle_kind_for(milestone))
        return then(Effect(events=("MilestoneContested",)), self._open_dispute(order_id, order, reason_hash, now))

    def answer_dispute(self, order_id: int, response_hash: bytes, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.DISPUTED)
        caller = address(caller)
        if caller != order.terms.supplier:
            raise reject("TradeEscrowNotSupplier", orderId=order_id, caller=caller)
        dispute = self._disputes[order_id]
        if dispute.answered:
            raise reject("TradeEscrowAlreadyAnswered", orderId=order_id)
        if now > dispute.answer_by:
            raise reject("TradeEscrowAnswerWindowClosed", orderId=order_id, answerBy=dispute.answer_by)
        dispute.answered = True
        dispute.response_hash = bytes(response_hash)
        return Effect(events=("DisputeAnswered",))

    def arbitrate(self, order_id: int, buyer_amount: int, *, caller: str, now: int) -> Effect:
        caller = address(caller)
        uint(buyer_amount, 256, "buyerAmount")
        if not self.roster.has_role(caller, ROLE_ARBITER):
            raise reject("TradeEscrowNotArbiter", caller=caller)
        order = self._expect(order_id, OrderStatus.DISPUTED)
        self._require_unexpired(order_id, now)
        return self._resolve(order_id, order, buyer_amount, OrderStatus.SETTLED, now)

    def settle_dispute(
        self,
        order_id: int,
        buyer_amount: int,
        deadline: int,
        *,
        buyer_signer: str | None,
        supplier_signer: str | None,
        caller: str,
        now: int,
    ) -> Effect:
        """A split both parties signed; ``*_signer`` are what their signatures recover to."""
        uint(buyer_amount, 256, "buyerAmount")
        uint(deadline, 64, "deadline")
        order = self._expect(order_id, OrderStatus.DISPUTED)
        self._require_unexpired(order_id, now)
        if deadline < now:
            raise reject("TradeEscrowSignatureExpired", deadline=deadline, nowTimestamp=now)
        require_signer(buyer_signer, order.terms.buyer)
        require_signer(supplier_signer, order.terms.supplier)
        return self._resolve(order_id, order, buyer_amount, OrderStatus.SETTLED, now)

    def close_expired_dispute(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.DISPUTED)
        dispute = self._disputes[order_id]
        if self.resolution_of_expiry(order_id, now) is None:
            raise reject(
                "TradeEscrowDisputeStillOpen",
                orderId=order_id,
                answerBy=dispute.answer_by,
                resolveBy=dispute.resolve_by,
            )
        return self._resolve(order_id, order, order.terms.amount, OrderStatus.REFUNDED, now)

    def resolution_of_expiry(self, order_id: int, now: int) -> Resolution | None:
        """How ``close_expired_dispute`` would close the dispute now (None: it is still open)."""
        dispute = self._disputes.get(order_id)
        if dispute is None:
            return None
        if not dispute.answered and now > dispute.answer_by:
            return Resolution.UNANSWERED
        if now > dispute.resolve_by:
            return Resolution.EXPIRED
        return None

    # -- views -----------------------------------------------------------------------

    def dispute(self, order_id: int) -> Dispute:
        d = self._disputes.get(order_id)
        if d is None:
            return ZERO_DISPUTE
        return Dispute(d.opened_at, d.answer_by, d.resolve_by, d.answered, d.reason_hash, d.response_hash)

    def has_dispute(self, order_id: int) -> bool:
        return order_id in self._disputes

    # -- internals -------------------------------------------------------------------

    def _open_dispute(self, order_id: int, order: OrderEntry, reason_hash: bytes, now: int) -> Effect:
        order.status = OrderStatus.DISPUTED
        self._disputes[order_id] = DisputeEntry(
            opened_at=now,
            answer_by=now + self.windows.answer_window,
            resolve_by=now + self.windows.resolve_window,
            reason_hash=bytes(reason_hash),
        )
        return Effect(events=("DisputeOpened",))

    def _require_unexpired(self, order_id: int, now: int) -> None:
        """An expired dispute can only be closed in the buyer's favour, by ``close_expired_dispute``."""
        dispute = self._disputes[order_id]
        if not dispute.answered and now > dispute.answer_by:
            raise reject("TradeEscrowDisputeExpired", orderId=order_id, deadline=dispute.answer_by)
        if now > dispute.resolve_by:
            raise reject("TradeEscrowDisputeExpired", orderId=order_id, deadline=dispute.resolve_by)

    def _resolve(self, order_id: int, order: OrderEntry, buyer_amount: int, status: OrderStatus, now: int) -> Effect:
        if buyer_amount > order.terms.amount:
            raise reject(
                "TradeEscrowInvalidSplit", orderId=order_id, buyerAmount=buyer_amount, amount=order.terms.amount
            )
        order.status = status
        payout = self._payout(order, buyer_amount, now)
        return self._pay(order, payout, "DisputeResolved", to_buyer=buyer_amount, to_supplier=payout.to_supplier)
