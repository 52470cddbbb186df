"""TradeEscrow's assured pre-payment: a bank's guarantee pool advancing a supplier's money.

A bank funds a pool in the escrow's currency. While an order is funded, its supplier may draw
part of the amount early (``request_prepayment``), guaranteed by a bank that has published a
credit limit for it (``CreditLimits``) and has that much in its pool: the amount moves from
the pool's available to its reserved balance and counts against the supplier's limit as
exposure. When the order settles, the reservation is released, except for what the buyer was
owed beyond what was still escrowed: that part the pool pays (``EscrowBooks._payout``) and the
supplier owes the bank as shortfall, keeping that much of its limit in use until repaid
(``repay_shortfall``). A bank withdraws what is available in its pool at any time.

``AssuredPrepayment`` is one of the mixins ``EscrowModel`` is composed of (see
``ledger.model.escrow_books``); it also holds the views of pools, exposure and shortfall.
"""

from __future__ import annotations

from ledger.domain.escrow import OrderStatus
from ledger.model.common import ROLE_BANK, ROLE_SUPPLIER, Effect, add, address, uint
from ledger.model.escrow_books import EscrowBooks, reject

__all__ = ["AssuredPrepayment"]


class AssuredPrepayment(EscrowBooks):
    """Guarantee pools and the pre-payments drawn on them; exposure and shortfall."""

    def request_prepayment(self, order_id: int, guarantor: str, amount: int, *, caller: str, now: int) -> Effect:
        uint(amount, 256, "amount")
        order = self._expect(order_id, OrderStatus.FUNDED)
        supplier = order.terms.supplier
        caller, guarantor = address(caller), address(guarantor)
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
        if not self.roster.has_role(guarantor, ROLE_BANK):
            raise reject("TradeEscrowNotGuarantor", account=guarantor)
        available = self.available_limit(guarantor, supplier, now)
        if amount > available:
            raise reject("TradeEscrowLimitExceeded", supplier=supplier, requested=amount, available=available)
        pool_available = self._pool_available.get(guarantor, 0)
        if amount > pool_available:
            raise reject("TradeEscrowPoolInsufficient", guarantor=guarantor, requested=amount, available=pool_available)

        order.prepaid = amount
        order.guarantor = guarantor
        order.escrowed -= amount
        order.paid_to_supplier = amount
        add(self._exposure, (guarantor, supplier), amount)
        self._pool_available[guarantor] = pool_available - amount
        add(self._pool_reserved, guarantor, amount)
        transfer = self._transfer(self.currency, self.escrow, supplier, amount)
        return Effect(events=("PrepaymentReleased",), transfers=(transfer,))

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

    def pool(self, guarantor: str) -> tuple[int, int]:
        """``pool(guarantor)``: (available, reserved)."""
        guarantor = address(guarantor)
        return self._pool_available.get(guarantor, 0), self._pool_reserved.get(guarantor, 0)
