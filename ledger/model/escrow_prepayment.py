"""TradeEscrow's assured pre-payment: a bank's guarantee pool advancing a supplier's money.

A bank funds a pool in the escrow's currency. While an order is funded, its supplier may draw
part of the amount early (``request_prepayment``) on a ``PrepaymentOffer`` the bank signed for
that order: the bank must have published a credit limit for the supplier (``CreditLimits``) and
hold the offer's amount in its pool. The whole amount leaves the escrow, ``amount - fee`` to
the supplier and ``fee`` to the bank (its price for the guarantee), and the whole amount moves
from the pool's available to its reserved balance and counts against the supplier's limit as
exposure. When the order settles, the reservation is released, except for what the buyer was
owed beyond what was still escrowed: that part the pool pays (``EscrowBooks._payout``), up to
the whole amount drawn, fee included, and the supplier owes the bank as shortfall, keeping that
much of its limit in use until repaid (``repay_shortfall``). A bank withdraws what is available
in its pool at any time.

An offer is good until its deadline and once: its nonce is the bank's, on any order. As with
the rest of the model, the caller passes the address the bank's signature recovers to
(``None`` when it recovers to nothing) and the check comes last, as in the contract.

``AssuredPrepayment`` is one of the mixins ``EscrowModel`` is composed of (see
``ledger.model.escrow_books``); it also holds the views of pools, exposure and shortfall.
"""

from __future__ import annotations

from ledger.domain.escrow import OrderStatus, PrepaymentOffer
from ledger.model.common import ROLE_BANK, ROLE_SUPPLIER, Effect, Transfer, add, address, uint
from ledger.model.escrow_books import EscrowBooks, reject, require_signer

__all__ = ["AssuredPrepayment"]


class AssuredPrepayment(EscrowBooks):
    """Guarantee pools and the pre-payments drawn on them; exposure and shortfall."""

    def request_prepayment(self, offer: PrepaymentOffer, *, signer: str | None, caller: str, now: int) -> Effect:
        """The supplier accepts ``offer``; ``signer`` is who signed it (``None``: nobody recovers)."""
        order_id, guarantor = uint(offer.order_id, 256, "orderId"), address(offer.guarantor)
        amount, fee = uint(offer.amount, 256, "amount"), uint(offer.fee, 256, "fee")
        deadline, nonce = uint(offer.deadline, 64, "deadline"), uint(offer.nonce, 256, "nonce")
        caller = address(caller)
        if deadline < now:
            raise reject("TradeEscrowPrepaymentOfferExpired", deadline=deadline, nowTimestamp=now)
        if (guarantor, nonce) in self._prepayment_nonces_used:
            raise reject("TradeEscrowPrepaymentOfferReplayed", guarantor=guarantor, nonce=nonce)
        order = self._expect(order_id, OrderStatus.FUNDED)
        supplier = order.terms.supplier
        if caller != supplier:
            raise reject("TradeEscrowNotSupplier", orderId=order_id, caller=caller)
        if not self.roster.has_role(supplier, ROLE_SUPPLIER):
            # Suspended (or stripped of the role) since the order was signed.
            raise reject("TradeEscrowSupplierNotEligible", supplier=supplier)
        if order.prepaid != 0:
            raise reject("TradeEscrowAlreadyPrepaid", orderId=order_id)
        if order.terms.token != self.currency:
            raise reject("TradeEscrowPrepaymentCurrency", token=order.terms.token, currency=self.currency)
        if amount == 0 or amount > order.terms.amount:
            raise reject("TradeEscrowInvalidAmount", amount=amount)
        if fee >= amount:
            raise reject("TradeEscrowInvalidFee", fee=fee, amount=amount)
        if not self.roster.has_role(guarantor, ROLE_BANK):
            raise reject("TradeEscrowNotGuarantor", account=guarantor)
        available = self.available_limit(guarantor, supplier, now)
        if amount > available:
            raise reject("TradeEscrowLimitExceeded", supplier=supplier, requested=amount, available=available)
        pool_available = self._pool_available.get(guarantor, 0)
        if amount > pool_available:
            raise reject("TradeEscrowPoolInsufficient", guarantor=guarantor, requested=amount, available=pool_available)
        require_signer(signer, guarantor)

        self._prepayment_nonces_used.add((guarantor, nonce))
        # The whole amount leaves the escrow and is guaranteed; the fee is the bank's share of it.
        order.prepaid = amount
        order.guarantor = guarantor
        order.prepayment_fee = fee
        order.escrowed -= amount
        order.paid_to_supplier = amount - fee
        add(self._exposure, (guarantor, supplier), amount)
        self._pool_available[guarantor] = pool_available - amount
        add(self._pool_reserved, guarantor, amount)
        transfers: list[Transfer] = [self._transfer(self.currency, self.escrow, supplier, amount - fee)]
        if fee:
            transfers.append(self._transfer(self.currency, self.escrow, guarantor, fee))
        return Effect(events=("PrepaymentReleased",), transfers=tuple(transfers))

    def fund_pool(self, amount: int, *, caller: str, now: int) -> Effect:
        uint(amount, 256, "amount")
        caller = address(caller)
        if not self.roster.has_role(caller, ROLE_BANK):
            raise reject("TradeEscrowNotGuarantor", account=caller)
        if amount == 0:
            raise reject("TradeEscrowInvalidAmount", amount=amount)
        add(self._pool_available, caller, amount)
        transfer = self._transfer(self.currency, caller, self.escrow, amount)
        return Effect(events=("PoolFunded",), transfers=(transfer,))

    def withdraw_pool(self, amount: int, *, caller: str, now: int) -> Effect:
        """No role check: only a bank can have funded a pool, and a suspended bank keeps its money."""
        uint(amount, 256, "amount")
        caller = address(caller)
        available = self._pool_available.get(caller, 0)
        if amount == 0:
            raise reject("TradeEscrowInvalidAmount", amount=amount)
        if amount > available:
            raise reject("TradeEscrowPoolInsufficient", guarantor=caller, requested=amount, available=available)
        self._pool_available[caller] = available - amount
        transfer = self._transfer(self.currency, self.escrow, caller, amount)
        return Effect(events=("PoolWithdrawn",), transfers=(transfer,))

    def repay_shortfall(self, supplier: str, guarantor: str, amount: int, *, caller: str, now: int) -> Effect:
        uint(amount, 256, "amount")
        supplier, guarantor, caller = address(supplier), address(guarantor), address(caller)
        owed = self._shortfall.get((guarantor, supplier), 0)
        if amount == 0 or amount > owed:
            raise reject("TradeEscrowShortfallExceeded", supplier=supplier, amount=amount, shortfall=owed)
        add(self._shortfall, (guarantor, supplier), -amount)
        add(self._exposure, (guarantor, supplier), -amount)
        add(self._pool_available, guarantor, amount)
        transfer = self._transfer(self.currency, caller, self.escrow, amount)
        return Effect(events=("ShortfallRepaid", "ExposureReleased"), transfers=(transfer,))

    # -- views -----------------------------------------------------------------------

    def available_limit(self, guarantor: str, supplier: str, now: int) -> int:
        limit = self.credit.limit_of(guarantor, supplier, now)
        used = self.exposure(guarantor, supplier)
        return limit - used if limit > used else 0

    def exposure(self, guarantor: str, supplier: str) -> int:
        return self._exposure.get((address(guarantor), address(supplier)), 0)

    def shortfall(self, guarantor: str, supplier: str) -> int:
        return self._shortfall.get((address(guarantor), address(supplier)), 0)

    def prepayment_nonce_used(self, guarantor: str, nonce: int) -> bool:
        return (address(guarantor), nonce) in self._prepayment_nonces_used

    def pool(self, guarantor: str) -> tuple[int, int]:
        """``pool(guarantor)``: (available, reserved)."""
        guarantor = address(guarantor)
        return self._pool_available.get(guarantor, 0), self._pool_reserved.get(guarantor, 0)
