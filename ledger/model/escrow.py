"""A pure-Python model of TradeEscrow (and the CreditRegistry limits it reads).

The model re-states the contract's rules so that two very different readers can use them:

* the property-based tests drive the contract and the model in lock-step and demand that
  every call either succeeds on both or reverts with the custom error the model predicted;
* the auditor's replay re-derives state from the event history and compares it with the
  contract's views.

So it is deterministic, does no I/O and never talks to a chain: every operation takes the
block timestamp (``now``) and the caller, then either applies its change and returns an
``Effect`` (the escrow's events, in order, and the token transfers it causes) or raises
``ModelRejected`` naming the contract's custom error with its arguments. A rejected
operation changes nothing, as a reverted transaction changes nothing.

Checks run in the contract's order, because the first failing check decides which error the
contract reports. Money is always ``int`` in token units. Addresses are normalised to EIP-55
checksum form, the form web3 decodes them in, so views compare equal to the client's.

Not modelled: ERC-20 failures (balances, allowances, permits), malleable (high-s)
signatures and uint overflows. Callers pass the address a signature recovers to (``None``
when it recovers to nothing) instead of the signature itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ledger.escrow import (
    Dispute,
    Milestone,
    Order,
    OrderStatus,
    OrderTerms,
    RefundReason,
    Resolution,
    Windows,
)
from ledger.model.common import (
    DAY,
    ROLE_ADMIN,
    ROLE_ARBITER,
    ROLE_AUDITOR,
    ROLE_BANK,
    ROLE_CORE,
    ROLE_ORACLE,
    ROLE_SUPPLIER,
    ZERO_ADDRESS,
    ZERO_HASH,
    Effect,
    Member,
    ModelError,
    ModelInconsistent,
    ModelInputError,
    ModelRejected,
    OracleKind,
    Roster,
    Transfer,
    add,
    address,
    transfers_by_holder,
    uint,
)

__all__ = [
    "CREDIT_REGISTRY",
    "DAY",
    "DEFAULT_WINDOWS",
    "MAX_WINDOW",
    "ROLE_ADMIN",
    "ROLE_ARBITER",
    "ROLE_AUDITOR",
    "ROLE_BANK",
    "ROLE_CORE",
    "ROLE_ORACLE",
    "ROLE_SUPPLIER",
    "TRADE_ESCROW",
    "ZERO_ADDRESS",
    "ZERO_HASH",
    "CreditLimits",
    "Effect",
    "EscrowModel",
    "EscrowState",
    "LimitRecord",
    "Member",
    "ModelError",
    "ModelInconsistent",
    "ModelInputError",
    "ModelRejected",
    "OracleKind",
    "Roster",
    "Transfer",
    "address",
    "normalize_terms",
    "transfers_by_holder",
]

# What the constructor sets: claim 30 days, answer 3, resolve 15, attestations at most 30 days old.
DEFAULT_WINDOWS: Final = Windows(30 * DAY, 3 * DAY, 15 * DAY, 30 * DAY)
# setWindows refuses any window longer than this (so no deadline can overflow uint64).
MAX_WINDOW: Final = 365 * DAY

TRADE_ESCROW: Final = "TradeEscrow"
CREDIT_REGISTRY: Final = "CreditRegistry"


def _reject(error: str, **error_args: object) -> ModelRejected:
    return ModelRejected(error, TRADE_ESCROW, **error_args)


@dataclass(frozen=True)
class EscrowState:
    """Everything the contract's views expose, in the client's types.

    Pools, exposures and shortfalls list only non-zero entries, so two states compare equal
    exactly when every view would read the same.
    """

    order_count: int
    orders: Mapping[int, Order]
    disputes: Mapping[int, Dispute]
    pools: Mapping[str, tuple[int, int]]
    exposure: Mapping[tuple[str, str], int]
    shortfall: Mapping[tuple[str, str], int]
    held: Mapping[str, int]
    evidence: Mapping[bytes, tuple[int, Milestone]]  # evidenceOf, for every evidence hash attested


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


ZERO_TERMS: Final = OrderTerms(ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0, False, ZERO_HASH, ZERO_HASH, 0, 0)
ZERO_DISPUTE: Final = Dispute(0, 0, 0, False, ZERO_HASH, ZERO_HASH)


# -- credit registry -------------------------------------------------------------------


@dataclass(frozen=True)
class LimitRecord:
    limit: int
    valid_until: int
    published_at: int


class CreditLimits:
    """CreditRegistry as TradeEscrow sees it: bank-signed limits that lapse at ``valid_until``."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.records: dict[tuple[str, str], LimitRecord] = {}
        self.nonces: dict[str, int] = {}

    def nonce(self, bank: str) -> int:
        return self.nonces.get(address(bank), 0)

    def publish(
        self,
        *,
        bank: str,
        party: str,
        limit: int,
        valid_until: int,
        nonce: int,
        signer: str | None,
        now: int,
    ) -> Effect:
        """``publish(grant, signature)``; ``signer`` is what the signature recovers to."""
        bank, party = address(bank), address(party)
        uint(limit, 256, "limit")
        uint(valid_until, 64, "validUntil")
        if not self.roster.has_role(bank, ROLE_BANK):
            raise ModelRejected("CreditRegistryNotBank", CREDIT_REGISTRY, bank=bank)
        if not self.roster.is_active(party):
            raise ModelRejected("CreditRegistryNotMember", CREDIT_REGISTRY, party=party)
        if valid_until <= now:
            raise ModelRejected("CreditRegistryExpired", CREDIT_REGISTRY, validUntil=valid_until, nowTimestamp=now)
        expected = self.nonce(bank)
        if nonce != expected:
            raise ModelRejected(
                "CreditRegistryInvalidNonce", CREDIT_REGISTRY, bank=bank, nonce=nonce, expected=expected
            )
        if signer is None:
            raise ModelRejected("CreditRegistryInvalidSignature", CREDIT_REGISTRY)
        if address(signer) != bank:
            raise ModelRejected("CreditRegistryInvalidSigner", CREDIT_REGISTRY, bank=bank, signer=address(signer))
        self.nonces[bank] = expected + 1
        self.records[(bank, party)] = LimitRecord(limit, valid_until, now)
        return Effect(events=("LimitPublished",))

    def revoke(self, party: str, *, caller: str) -> Effect:
        caller = address(caller)
        if not self.roster.has_role(caller, ROLE_BANK):
            raise ModelRejected("CreditRegistryNotBank", CREDIT_REGISTRY, bank=caller)
        self.records.pop((caller, address(party)), None)
        return Effect(events=("LimitRevoked",))

    def limit_of(self, bank: str, party: str, now: int) -> int:
        """Zero once lapsed (``valid_until <= now``) or when ``bank`` is no longer an active bank."""
        record = self.records.get((address(bank), address(party)))
        if record is None or record.valid_until <= now or not self.roster.has_role(bank, ROLE_BANK):
            return 0
        return record.limit


# -- the escrow ------------------------------------------------------------------------


@dataclass
class _Order:
    terms: OrderTerms
    status: OrderStatus = OrderStatus.CREATED
    created_at: int = 0
    funded_at: int = 0
    shipped_at: int = 0
    delivered_at: int = 0
    delivered_recorded_at: int = 0
    inspected_at: int = 0
    closed_at: int = 0
    escrowed: int = 0
    prepaid: int = 0
    guarantor: str = ZERO_ADDRESS
    paid_to_supplier: int = 0
    refunded_to_buyer: int = 0
    guarantee_claimed: int = 0


@dataclass
class _Dispute:
    opened_at: int
    answer_by: int
    resolve_by: int
    answered: bool = False
    reason_hash: bytes = ZERO_HASH
    response_hash: bytes = ZERO_HASH


@dataclass
class _Payout:
    """How ``_payout`` split what was left of an order."""

    from_escrow_to_buyer: int
    to_supplier: int
    from_pool: int
    events: list[str] = field(default_factory=list)


_CONFIRMABLE = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED})
_FUNDED_TERMINAL = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED})


class EscrowModel:
    """TradeEscrow at ``escrow``, settling in ``currency``, reading ``roster`` and ``credit``."""

    def __init__(
        self,
        *,
        escrow: str,
        currency: str,
        roster: Roster,
        credit: CreditLimits | None = None,
        windows: Windows = DEFAULT_WINDOWS,
    ) -> None:
        self.escrow = address(escrow)
        self.currency = address(currency)
        self.roster = roster
        self.credit = credit if credit is not None else CreditLimits(roster)
        self.windows = windows
        self.thresholds: dict[int, int] = {OracleKind.CARRIER: 1, OracleKind.INSPECTOR: 1, OracleKind.CUSTOMS: 1}
        self.token_allowed: dict[str, bool] = {self.currency: True}
        self._orders: dict[int, _Order] = {}
        self._disputes: dict[int, _Dispute] = {}
        self._order_of_po_ref: dict[bytes, int] = {}
        # Open-account orders: co-signed and attested, but paid later (by a receivable), never escrowed.
        self._open_account: set[int] = set()
        self._nonces_used: set[tuple[str, int]] = set()
        # Every evidence hash attested, with the order and milestone it was attested for.
        self._evidence: dict[bytes, tuple[int, Milestone]] = {}
        self._pool_available: dict[str, int] = {}
        self._pool_reserved: dict[str, int] = {}
        self._exposure: dict[tuple[str, str], int] = {}
        self._shortfall: dict[tuple[str, str], int] = {}
        # What the escrow's token balance must be, per token: every transfer in and out.
        self._held: dict[str, int] = {}

    def clone(self) -> EscrowModel:
        """An independent copy (roster and credit included), e.g. for a what-if."""
        return copy.deepcopy(self)

    # -- orders ----------------------------------------------------------------------

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
            raise _reject("TradeEscrowNotParty", orderId=0, caller=caller)
        if t.deadline < now:
            raise _reject("TradeEscrowSignatureExpired", deadline=t.deadline, nowTimestamp=now)
        self._check_terms(t, now)
        if (t.buyer, t.nonce) in self._nonces_used:
            raise _reject("TradeEscrowNonceUsed", buyer=t.buyer, nonce=t.nonce)
        existing = self._order_of_po_ref.get(t.po_ref_hash, 0)
        if existing:
            raise _reject("TradeEscrowPoRefTaken", poRefHash=t.po_ref_hash, orderId=existing)
        _require_signer(buyer_signer, t.buyer)
        _require_signer(supplier_signer, t.supplier)

        order_id = len(self._orders) + 1
        self._nonces_used.add((t.buyer, t.nonce))
        self._order_of_po_ref[t.po_ref_hash] = order_id
        self._orders[order_id] = _Order(terms=t, status=OrderStatus.CREATED, created_at=now)
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
        return _then(created, Effect(events=("OpenAccountOrderCreated",)))

    def fund(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.CREATED)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise _reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
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
            raise _reject("TradeEscrowNotParty", orderId=order_id, caller=caller)
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
        kind = _oracle_kind_for(milestone)
        self._require_recent(occurred_at, now)
        if bytes(evidence_hash) in self._evidence:
            raise _reject("TradeEscrowEvidenceReused", evidenceHash=evidence_hash)
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
            return _then(effect, self._refund(order, now, RefundReason.INSPECTION_FAILED))
        return effect

    def confirm_receipt(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise _reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
        if order.status not in _CONFIRMABLE:
            raise _reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        return _then(Effect(events=("ReceiptConfirmed",)), self._release(order, now))

    def release(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        status = order.status
        ready = status == OrderStatus.INSPECTED or (
            status == OrderStatus.DELIVERED and not order.terms.inspection_required
        )
        if not ready:
            raise _reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(status))
        ends_at = self.claim_window_end(order_id)
        # The window's last second (now == ends_at) still belongs to the buyer's dispute.
        if now <= ends_at:
            raise _reject("TradeEscrowClaimWindowOpen", orderId=order_id, endsAt=ends_at)
        return self._release(order, now)

    def refund_unshipped(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.FUNDED)
        if now <= order.terms.ship_by:
            raise _reject("TradeEscrowShipByNotPassed", orderId=order_id, shipBy=order.terms.ship_by)
        order.status = OrderStatus.REFUNDED
        return self._refund(order, now, RefundReason.UNSHIPPED)

    # -- disputes --------------------------------------------------------------------

    def open_dispute(self, order_id: int, reason_hash: bytes, *, caller: str, now: int) -> Effect:
        order = self._existing(order_id)
        self._refuse_open_account(order_id)
        caller = address(caller)
        if caller != order.terms.buyer:
            raise _reject("TradeEscrowNotBuyer", orderId=order_id, caller=caller)
        status = order.status
        if status in (OrderStatus.DELIVERED, OrderStatus.INSPECTED):
            ends_at = self.claim_window_end(order_id)
            if now > ends_at:
                raise _reject("TradeEscrowClaimWindowClosed", orderId=order_id, endedAt=ends_at)
        elif status == OrderStatus.SHIPPED:
            # Goods that never arrive: the buyer may claim once deliver-by has passed.
            if now <= order.terms.deliver_by:
                raise _reject("TradeEscrowDisputeWindowNotReached", orderId=order_id, deliverBy=order.terms.deliver_by)
        else:
            raise _reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(status))
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
            raise _reject("TradeEscrowEvidenceUnknown", evidenceHash=bytes(evidence_hash))
        self._require_recent(declared_at, now)
        order_id, milestone = use
        self._refuse_open_account(order_id)
        order = self._orders[order_id]
        if order.status not in _CONFIRMABLE:
            raise _reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        self._check_quorum(signers, _oracle_kind_for(milestone))
        return _then(Effect(events=("MilestoneContested",)), self._open_dispute(order_id, order, reason_hash, now))

    def answer_dispute(self, order_id: int, response_hash: bytes, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.DISPUTED)
        caller = address(caller)
        if caller != order.terms.supplier:
            raise _reject("TradeEscrowNotSupplier", orderId=order_id, caller=caller)
        dispute = self._disputes[order_id]
        if dispute.answered:
            raise _reject("TradeEscrowAlreadyAnswered", orderId=order_id)
        if now > dispute.answer_by:
            raise _reject("TradeEscrowAnswerWindowClosed", orderId=order_id, answerBy=dispute.answer_by)
        dispute.answered = True
        dispute.response_hash = bytes(response_hash)
        return Effect(events=("DisputeAnswered",))

    def arbitrate(self, order_id: int, buyer_amount: int, *, caller: str, now: int) -> Effect:
        caller = address(caller)
        uint(buyer_amount, 256, "buyerAmount")
        if not self.roster.has_role(caller, ROLE_ARBITER):
            raise _reject("TradeEscrowNotArbiter", caller=caller)
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
            raise _reject("TradeEscrowSignatureExpired", deadline=deadline, nowTimestamp=now)
        _require_signer(buyer_signer, order.terms.buyer)
        _require_signer(supplier_signer, order.terms.supplier)
        return self._resolve(order_id, order, buyer_amount, OrderStatus.SETTLED, now)

    def close_expired_dispute(self, order_id: int, *, caller: str, now: int) -> Effect:
        order = self._expect(order_id, OrderStatus.DISPUTED)
        dispute = self._disputes[order_id]
        if self.resolution_of_expiry(order_id, now) is None:
            raise _reject(
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

    # -- assured pre-payment ---------------------------------------------------------

    def request_prepayment(self, order_id: int, guarantor: str, amount: int, *, caller: str, now: int) -> Effect:
        uint(amount, 256, "amount")
        order = self._expect(order_id, OrderStatus.FUNDED)
        supplier = order.terms.supplier
        caller, guarantor = address(caller), address(guarantor)
        if caller != supplier:
            raise _reject("TradeEscrowNotSupplier", orderId=order_id, caller=caller)
        if not self.roster.has_role(supplier, ROLE_SUPPLIER):
            # Suspended (or stripped of the role) since the order was signed.
            raise _reject("TradeEscrowSupplierNotEligible", supplier=supplier)
        if order.prepaid != 0:
            raise _reject("TradeEscrowAlreadyPrepaid", orderId=order_id)
        if order.terms.token != self.currency:
            raise _reject("TradeEscrowPrepaymentCurrency", token=order.terms.token, currency=self.currency)
        if amount == 0 or amount > order.terms.amount:
            raise _reject("TradeEscrowInvalidAmount", amount=amount)
        if not self.roster.has_role(guarantor, ROLE_BANK):
            raise _reject("TradeEscrowNotGuarantor", account=guarantor)
        available = self.available_limit(guarantor, supplier, now)
        if amount > available:
            raise _reject("TradeEscrowLimitExceeded", supplier=supplier, requested=amount, available=available)
        pool_available = self._pool_available.get(guarantor, 0)
        if amount > pool_available:
            raise _reject(
                "TradeEscrowPoolInsufficient", guarantor=guarantor, requested=amount, available=pool_available
            )

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
            raise _reject("TradeEscrowNotGuarantor", account=caller)
        if amount == 0:
            raise _reject("TradeEscrowInvalidAmount", amount=amount)
        add(self._pool_available, caller, amount)
        transfer = self._transfer(self.currency, caller, self.escrow, amount)
        return Effect(events=("PoolFunded",), transfers=(transfer,))

    def withdraw_pool(self, amount: int, *, caller: str, now: int) -> Effect:
        """No role check: only a bank can have funded a pool, and a suspended bank keeps its money."""
        uint(amount, 256, "amount")
        caller = address(caller)
        available = self._pool_available.get(caller, 0)
        if amount == 0:
            raise _reject("TradeEscrowInvalidAmount", amount=amount)
        if amount > available:
            raise _reject("TradeEscrowPoolInsufficient", guarantor=caller, requested=amount, available=available)
        self._pool_available[caller] = available - amount
        transfer = self._transfer(self.currency, self.escrow, caller, amount)
        return Effect(events=("PoolWithdrawn",), transfers=(transfer,))

    def repay_shortfall(self, supplier: str, guarantor: str, amount: int, *, caller: str, now: int) -> Effect:
        uint(amount, 256, "amount")
        supplier, guarantor, caller = address(supplier), address(guarantor), address(caller)
        owed = self._shortfall.get((guarantor, supplier), 0)
        if amount == 0 or amount > owed:
            raise _reject("TradeEscrowShortfallExceeded", supplier=supplier, amount=amount, shortfall=owed)
        add(self._shortfall, (guarantor, supplier), -amount)
        add(self._exposure, (guarantor, supplier), -amount)
        add(self._pool_available, guarantor, amount)
        transfer = self._transfer(self.currency, caller, self.escrow, amount)
        return Effect(events=("ShortfallRepaid", "ExposureReleased"), transfers=(transfer,))

    # -- administration --------------------------------------------------------------

    def set_threshold(self, kind: int, threshold: int, *, caller: str) -> Effect:
        self._only_admin(caller)
        if kind == 0 or kind > OracleKind.CUSTOMS or threshold == 0:
            raise _reject("TradeEscrowInvalidThreshold", kind=kind, threshold=threshold)
        self.thresholds[kind] = threshold
        return Effect(events=("ThresholdSet",))

    def set_windows(self, windows: Windows, *, caller: str) -> Effect:
        self._only_admin(caller)
        w = windows
        if (
            w.claim_window == 0
            or w.answer_window == 0
            or w.max_attestation_age == 0
            or w.resolve_window < w.answer_window
            or max(w.claim_window, w.answer_window, w.resolve_window, w.max_attestation_age) > MAX_WINDOW
        ):
            raise _reject("TradeEscrowInvalidWindows")
        self.windows = w
        return Effect(events=("WindowsSet",))

    def set_token_allowed(self, token: str, allowed: bool, *, caller: str) -> Effect:
        self._only_admin(caller)
        self.token_allowed[address(token)] = allowed
        return Effect(events=("TokenAllowed",))

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
            return Order(order_id, ZERO_TERMS, OrderStatus.NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, ZERO_ADDRESS, 0, 0, 0)
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
            o.paid_to_supplier,
            o.refunded_to_buyer,
            o.guarantee_claimed,
        )

    def dispute(self, order_id: int) -> Dispute:
        d = self._disputes.get(order_id)
        if d is None:
            return ZERO_DISPUTE
        return Dispute(d.opened_at, d.answer_by, d.resolve_by, d.answered, d.reason_hash, d.response_hash)

    def has_dispute(self, order_id: int) -> bool:
        return order_id in self._disputes

    def claim_window_end(self, order_id: int) -> int:
        """The last second of the buyer's claim window after delivery: a dispute may still be
        opened at it, release only strictly after it."""
        return self._orders[order_id].delivered_recorded_at + self.windows.claim_window

    def order_id_of_po_ref(self, po_ref_hash: bytes) -> int:
        return self._order_of_po_ref.get(bytes(po_ref_hash), 0)

    def nonce_used(self, buyer: str, nonce: int) -> bool:
        return (address(buyer), nonce) in self._nonces_used

    def evidence_used(self, evidence_hash: bytes) -> bool:
        return bytes(evidence_hash) in self._evidence

    def evidence_of(self, evidence_hash: bytes) -> tuple[int, Milestone] | None:
        """``evidenceOf``: (order id, milestone) the evidence was attested for; None when unused."""
        return self._evidence.get(bytes(evidence_hash))

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

    def held(self, token: str | None = None) -> int:
        """What the escrow's balance of ``token`` (default: the currency) must be."""
        return self._held.get(address(token) if token else self.currency, 0)

    def state(self) -> EscrowState:
        guarantors = sorted(set(self._pool_available) | set(self._pool_reserved))
        pools = {g: self.pool(g) for g in guarantors if self.pool(g) != (0, 0)}
        return EscrowState(
            order_count=self.order_count,
            orders={i: self.order(i) for i in self._orders},
            disputes={i: self.dispute(i) for i in self._disputes},
            pools=pools,
            exposure={k: v for k, v in self._exposure.items() if v},
            shortfall={k: v for k, v in self._shortfall.items() if v},
            held={k: v for k, v in self._held.items() if v},
            evidence=dict(self._evidence),
        )

    def invariant_violations(self) -> list[str]:
        """The accounting rules every reachable state obeys; an empty list when they hold."""
        problems: list[str] = []
        owed: dict[str, int] = {}
        reserved: dict[str, int] = {}
        exposure: dict[tuple[str, str], int] = dict(self._shortfall)
        for order_id, o in self._orders.items():
            amount = o.terms.amount
            if order_id in self._open_account:
                if (o.escrowed, o.prepaid, o.paid_to_supplier, o.refunded_to_buyer) != (0, 0, 0, 0):
                    problems.append(f"open-account order {order_id} moved money")
            elif o.status in _FUNDED_TERMINAL:
                if o.escrowed != 0:
                    problems.append(f"order {order_id} is {o.status.name} but still escrows {o.escrowed}")
                if o.paid_to_supplier + o.refunded_to_buyer != amount + o.guarantee_claimed:
                    problems.append(
                        f"order {order_id} paid {o.paid_to_supplier} + refunded {o.refunded_to_buyer}"
                        f" != amount {amount} + guarantee {o.guarantee_claimed}"
                    )
            elif o.status in (OrderStatus.CREATED, OrderStatus.CANCELLED):
                if (o.escrowed, o.prepaid, o.paid_to_supplier, o.refunded_to_buyer) != (0, 0, 0, 0):
                    problems.append(f"order {order_id} is {o.status.name} but moved money")
            else:
                add(owed, o.terms.token, o.escrowed)
                if o.escrowed + o.prepaid != amount or o.paid_to_supplier != o.prepaid:
                    problems.append(f"open order {order_id}: escrowed {o.escrowed} + prepaid {o.prepaid} != {amount}")
                if o.prepaid:
                    add(reserved, o.guarantor, o.prepaid)
                    add(exposure, (o.guarantor, o.terms.supplier), o.prepaid)
        # Each evidence hash names a milestone its order recorded, and no milestone has two
        # (an inspection, passed or failed, is one milestone).
        per_milestone: dict[tuple[int, int], int] = {}
        for evidence_hash, (order_id, milestone) in self._evidence.items():
            add(per_milestone, (order_id, min(milestone, Milestone.INSPECTION_PASSED)), 1)
            recorded = order_id in self._orders and _recorded_at(self._orders[order_id], milestone) != 0
            if not recorded:
                problems.append(
                    f"evidence {evidence_hash.hex()} names {milestone.name} of order {order_id}: unrecorded"
                )
        problems += [
            f"order {i} has {n} evidence hashes for milestone {m}" for (i, m), n in per_milestone.items() if n > 1
        ]
        for guarantor in set(self._pool_available) | set(self._pool_reserved):
            add(owed, self.currency, sum(self.pool(guarantor)))
        for token in set(owed) | set(self._held):
            if owed.get(token, 0) != self._held.get(token, 0):
                problems.append(f"escrow holds {self._held.get(token, 0)} of {token}, owes {owed.get(token, 0)}")
        if {k: v for k, v in reserved.items() if v} != {k: v for k, v in self._pool_reserved.items() if v}:
            problems.append(f"pool reserves {self._pool_reserved} != open prepayments {reserved}")
        if {k: v for k, v in exposure.items() if v} != {k: v for k, v in self._exposure.items() if v}:
            problems.append(f"exposure {self._exposure} != open prepayments + shortfall {exposure}")
        return problems

    # -- internals -------------------------------------------------------------------

    def _only_admin(self, caller: str) -> None:
        if not self.roster.has_role(caller, ROLE_ADMIN):
            raise _reject("TradeEscrowUnauthorized", caller=address(caller))

    def _check_terms(self, t: OrderTerms, now: int) -> None:
        if t.buyer == t.supplier:
            raise _reject("TradeEscrowSelfTrade", party=t.buyer)
        if not self.roster.has_role(t.buyer, ROLE_CORE) and not self.roster.has_role(t.buyer, ROLE_SUPPLIER):
            raise _reject("TradeEscrowBuyerNotEligible", buyer=t.buyer)
        if not self.roster.has_role(t.supplier, ROLE_SUPPLIER):
            raise _reject("TradeEscrowSupplierNotEligible", supplier=t.supplier)
        if not self.token_allowed.get(t.token, False):
            raise _reject("TradeEscrowTokenNotAllowed", token=t.token)
        if t.amount == 0:
            raise _reject("TradeEscrowInvalidAmount", amount=0)
        if t.ship_by <= now or t.deliver_by < t.ship_by:
            raise _reject("TradeEscrowInvalidDates", shipBy=t.ship_by, deliverBy=t.deliver_by, nowTimestamp=now)
        if t.po_ref_hash == ZERO_HASH:
            raise _reject("TradeEscrowMissingPoRef")

    def _check_milestone(self, order_id: int, order: _Order, milestone: Milestone, occurred_at: int) -> None:
        status = order.status
        # Event times run in sequence; SHIPPED may predate the order (a PO signed after dispatch).
        if milestone == Milestone.SHIPPED:
            ready = OrderStatus.CREATED if order_id in self._open_account else OrderStatus.FUNDED
            recorded, expected, previous_at = order.shipped_at != 0, ready, 0
        elif milestone == Milestone.DELIVERED:
            recorded, expected, previous_at = order.delivered_at != 0, OrderStatus.SHIPPED, order.shipped_at
        else:
            if not order.terms.inspection_required:
                raise _reject("TradeEscrowInspectionNotRequired", orderId=order_id)
            recorded, expected, previous_at = order.inspected_at != 0, OrderStatus.DELIVERED, order.delivered_at
        if recorded:
            raise _reject("TradeEscrowMilestoneAlreadyRecorded", orderId=order_id, milestone=int(milestone))
        if status != expected:
            raise _reject(
                "TradeEscrowMilestoneOutOfOrder", orderId=order_id, milestone=int(milestone), status=int(status)
            )
        if occurred_at < previous_at:
            raise _reject(
                "TradeEscrowMilestoneOutOfSequence", orderId=order_id, occurredAt=occurred_at, previousAt=previous_at
            )

    def _require_recent(self, at: int, now: int) -> None:
        """A time an oracle reports (an event or a declaration): not in the future, not stale."""
        if at > now:
            raise _reject("TradeEscrowAttestationFromFuture", occurredAt=at, nowTimestamp=now)
        max_age = self.windows.max_attestation_age
        if now - at > max_age:
            raise _reject("TradeEscrowStaleAttestation", occurredAt=at, maxAge=max_age, nowTimestamp=now)

    def _open_dispute(self, order_id: int, order: _Order, reason_hash: bytes, now: int) -> Effect:
        order.status = OrderStatus.DISPUTED
        self._disputes[order_id] = _Dispute(
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
            raise _reject("TradeEscrowDisputeExpired", orderId=order_id, deadline=dispute.answer_by)
        if now > dispute.resolve_by:
            raise _reject("TradeEscrowDisputeExpired", orderId=order_id, deadline=dispute.resolve_by)

    def _check_quorum(self, signers: Sequence[str | None], kind: int) -> None:
        seen: list[str] = []
        for recovered in signers:
            signer = address(recovered) if recovered is not None else ZERO_ADDRESS
            if recovered is None or not self.roster.is_oracle(signer, kind):
                raise _reject("TradeEscrowUnauthorizedOracle", signer=signer, kind=kind)
            if signer in seen:
                raise _reject("TradeEscrowDuplicateSigner", signer=signer)
            seen.append(signer)
        needed = self.thresholds.get(kind, 0)
        if len(signers) < needed:
            raise _reject("TradeEscrowQuorumNotMet", signers=len(signers), threshold=needed)

    def _refuse_open_account(self, order_id: int) -> None:
        if order_id in self._open_account:
            raise _reject("TradeEscrowOpenAccountOrder", orderId=order_id)

    def _existing(self, order_id: int) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            raise _reject("TradeEscrowUnknownOrder", orderId=order_id)
        return order

    def _expect(self, order_id: int, expected: OrderStatus) -> _Order:
        order = self._existing(order_id)
        if order.status != expected:
            raise _reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        return order

    def _fund(self, order: _Order, now: int) -> Effect:
        order.status = OrderStatus.FUNDED
        order.funded_at = now
        order.escrowed = order.terms.amount
        transfer = self._transfer(order.terms.token, order.terms.buyer, self.escrow, order.terms.amount)
        return Effect(events=("OrderFunded",), transfers=(transfer,))

    def _release(self, order: _Order, now: int) -> Effect:
        order.status = OrderStatus.RELEASED
        payout = self._payout(order, 0, now)
        return self._pay(order, payout, "OrderReleased", to_buyer=0, to_supplier=payout.to_supplier)

    def _refund(self, order: _Order, now: int, reason: RefundReason) -> Effect:
        amount = order.terms.amount
        payout = self._payout(order, amount, now)
        return self._pay(order, payout, "OrderRefunded", to_buyer=amount, to_supplier=0)

    def _resolve(self, order_id: int, order: _Order, buyer_amount: int, status: OrderStatus, now: int) -> Effect:
        if buyer_amount > order.terms.amount:
            raise _reject(
                "TradeEscrowInvalidSplit", orderId=order_id, buyerAmount=buyer_amount, amount=order.terms.amount
            )
        order.status = status
        payout = self._payout(order, buyer_amount, now)
        return self._pay(order, payout, "DisputeResolved", to_buyer=buyer_amount, to_supplier=payout.to_supplier)

    def _payout(self, order: _Order, buyer_share: int, now: int) -> _Payout:
        """Split what is left: the buyer's share comes from the escrow first and from the
        guarantee pool for any part already prepaid; what the pool pays becomes the
        supplier's shortfall and keeps that much of its limit in use."""
        escrowed = order.escrowed
        from_escrow = min(buyer_share, escrowed)
        payout = _Payout(from_escrow, escrowed - from_escrow, buyer_share - from_escrow)
        order.escrowed = 0
        order.closed_at = now
        order.paid_to_supplier += payout.to_supplier
        order.refunded_to_buyer = buyer_share
        order.guarantee_claimed = payout.from_pool
        prepaid = order.prepaid
        if prepaid:
            guarantor, supplier = order.guarantor, order.terms.supplier
            released = prepaid - payout.from_pool
            add(self._pool_reserved, guarantor, -prepaid)
            add(self._pool_available, guarantor, released)
            add(self._exposure, (guarantor, supplier), -released)
            if payout.from_pool:
                add(self._shortfall, (guarantor, supplier), payout.from_pool)
                payout.events.append("GuaranteeClaimed")
            if released:
                payout.events.append("ExposureReleased")
        return payout

    def _pay(self, order: _Order, payout: _Payout, event: str, *, to_buyer: int, to_supplier: int) -> Effect:
        token = order.terms.token
        transfers: list[Transfer] = []
        if to_buyer:
            transfers.append(self._transfer(token, self.escrow, order.terms.buyer, to_buyer))
        if to_supplier:
            transfers.append(self._transfer(token, self.escrow, order.terms.supplier, to_supplier))
        return Effect(events=(*payout.events, event), transfers=tuple(transfers))

    def _transfer(self, token: str, source: str, destination: str, amount: int) -> Transfer:
        if destination == self.escrow:
            add(self._held, token, amount)
        if source == self.escrow:
            add(self._held, token, -amount)
        return Transfer(token, source, destination, amount)


def _oracle_kind_for(milestone: int) -> int:
    if milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        return OracleKind.CARRIER
    if milestone in (Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED):
        return OracleKind.INSPECTOR
    raise _reject("TradeEscrowUnknownMilestone", milestone=milestone)


def _recorded_at(order: _Order, milestone: Milestone) -> int:
    """The event time ``order`` recorded for ``milestone`` (0: none; stale checks keep real ones above 0)."""
    if milestone == Milestone.SHIPPED:
        return order.shipped_at
    if milestone == Milestone.DELIVERED:
        return order.delivered_at
    return order.inspected_at


def _require_signer(recovered: str | None, expected: str) -> None:
    signer = address(recovered) if recovered is not None else ZERO_ADDRESS
    if recovered is None or signer != expected:
        raise _reject("TradeEscrowInvalidSigner", expected=expected, recovered=signer)


def _then(first: Effect, second: Effect) -> Effect:
    return Effect(first.events + second.events, first.transfers + second.transfers, first.order_id)
