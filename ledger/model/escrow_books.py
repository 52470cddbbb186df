"""The escrow model's books: what TradeEscrow stores, and the steps its rule sets share.

``EscrowModel`` (``ledger.model.escrow``) is composed of one mixin per part of the contract:

* ``OrderLifecycle`` (``escrow_orders``): create, fund, cancel, attest, confirm, release, refund;
* ``Disputes`` (``escrow_disputes``): a buyer's dispute or an oracle quorum's contest, and how
  either is answered, arbitrated, settled or closed on expiry;
* ``AssuredPrepayment`` (``escrow_prepayment``): guarantee pools, pre-payments drawn on a bank's
  signed, priced offer against its credit limit, exposure and shortfall.

Each mixin derives from ``EscrowBooks`` so that it (and mypy) sees the one set of storage they
all read and write; no mixin calls another's methods. What two of them need lives here: the
storage itself, the order lookups, the oracle checks (an attestation and a contest both need a
quorum of recent signatures), the claim window (release waits for it to close, a dispute must
be opened before it does) and settlement: how what is left of an order is split between
buyer, supplier and the guarantee pool, and how every token transfer moves the escrow's balance.

Private attributes and methods keep their leading underscore: they are the contract's storage
and internal functions, shared by the mixins but not by callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ledger.domain.escrow import Milestone, OrderStatus, OrderTerms, Windows
from ledger.model.common import (
    DAY,
    ZERO_ADDRESS,
    ZERO_HASH,
    Effect,
    ModelRejected,
    OracleKind,
    Roster,
    Transfer,
    add,
    address,
)
from ledger.model.credit import CreditLimits

__all__ = [
    "CONFIRMABLE",
    "DEFAULT_WINDOWS",
    "FUNDED_TERMINAL",
    "MAX_WINDOW",
    "TRADE_ESCROW",
    "DisputeEntry",
    "EscrowBooks",
    "OrderEntry",
    "Payout",
    "oracle_kind_for",
    "recorded_at",
    "reject",
    "require_signer",
    "then",
]

# What the constructor sets: claim 30 days, answer 3, resolve 15, attestations at most 30 days old.
DEFAULT_WINDOWS: Final = Windows(30 * DAY, 3 * DAY, 15 * DAY, 30 * DAY)
# setWindows refuses any window longer than this (so no deadline can overflow uint64).
MAX_WINDOW: Final = 365 * DAY

TRADE_ESCROW: Final = "TradeEscrow"

# A buyer may confirm receipt, or a quorum contest a milestone, only while goods are on their way or in.
CONFIRMABLE: Final = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.INSPECTED})
# A funded order ends in one of these, with every unit of its amount paid out.
FUNDED_TERMINAL: Final = frozenset({OrderStatus.RELEASED, OrderStatus.REFUNDED, OrderStatus.SETTLED})


def reject(error: str, **error_args: object) -> ModelRejected:
    """TradeEscrow's custom ``error`` with its arguments (ABI parameter names)."""
    return ModelRejected(error, TRADE_ESCROW, **error_args)


@dataclass
class OrderEntry:
    """The contract's ``Order`` storage (the view ``EscrowModel.order`` adds the id)."""

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
    prepayment_fee: int = 0
    paid_to_supplier: int = 0
    refunded_to_buyer: int = 0
    guarantee_claimed: int = 0


@dataclass
class DisputeEntry:
    """The contract's ``Dispute`` storage."""

    opened_at: int
    answer_by: int
    resolve_by: int
    answered: bool = False
    reason_hash: bytes = ZERO_HASH
    response_hash: bytes = ZERO_HASH


@dataclass
class Payout:
    """How ``_payout`` split what was left of an order."""

    from_escrow_to_buyer: int
    to_supplier: int
    from_pool: int
    events: list[str] = field(default_factory=list)


class EscrowBooks:
    """TradeEscrow's storage and the internal steps more than one of its rule sets take."""

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
        self._orders: dict[int, OrderEntry] = {}
        self._disputes: dict[int, DisputeEntry] = {}
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
        # (guarantor, nonce) of every pre-payment offer accepted: each is good once.
        self._prepayment_nonces_used: set[tuple[str, int]] = set()
        # What the escrow's token balance must be, per token: every transfer in and out.
        self._held: dict[str, int] = {}

    # -- views the rules read --------------------------------------------------------

    def claim_window_end(self, order_id: int) -> int:
        """The last second of the buyer's claim window after delivery: a dispute may still be
        opened at it, release only strictly after it."""
        return self._orders[order_id].delivered_recorded_at + self.windows.claim_window

    def held(self, token: str | None = None) -> int:
        """What the escrow's balance of ``token`` (default: the currency) must be."""
        return self._held.get(address(token) if token else self.currency, 0)

    # -- lookups ---------------------------------------------------------------------

    def _existing(self, order_id: int) -> OrderEntry:
        order = self._orders.get(order_id)
        if order is None:
            raise reject("TradeEscrowUnknownOrder", orderId=order_id)
        return order

    def _expect(self, order_id: int, expected: OrderStatus) -> OrderEntry:
        order = self._existing(order_id)
        if order.status != expected:
            raise reject("TradeEscrowInvalidStatus", orderId=order_id, status=int(order.status))
        return order

    def _refuse_open_account(self, order_id: int) -> None:
        if order_id in self._open_account:
            raise reject("TradeEscrowOpenAccountOrder", orderId=order_id)

    # -- oracle checks ---------------------------------------------------------------

    def _require_recent(self, at: int, now: int) -> None:
        """A time an oracle reports (an event or a declaration): not in the future, not stale."""
        if at > now:
            raise reject("TradeEscrowAttestationFromFuture", occurredAt=at, nowTimestamp=now)
        max_age = self.windows.max_attestation_age
        if now - at > max_age:
            raise reject("TradeEscrowStaleAttestation", occurredAt=at, maxAge=max_age, nowTimestamp=now)

    def _check_quorum(self, signers: Sequence[str | None], kind: int) -> None:
        seen: list[str] = []
        for recovered in signers:
            signer = address(recovered) if recovered is not None else ZERO_ADDRESS
            if recovered is None or not self.roster.is_oracle(signer, kind):
                raise reject("TradeEscrowUnauthorizedOracle", signer=signer, kind=kind)
            if signer in seen:
                raise reject("TradeEscrowDuplicateSigner", signer=signer)
            seen.append(signer)
        needed = self.thresholds.get(kind, 0)
        if len(signers) < needed:
            raise reject("TradeEscrowQuorumNotMet", signers=len(signers), threshold=needed)

    # -- settlement ------------------------------------------------------------------

    def _payout(self, order: OrderEntry, buyer_share: int, now: int) -> Payout:
        """Split what is left: the buyer's share comes from the escrow first and from the
        guarantee pool for any part already drawn as a pre-payment (the supplier's net and the
        guarantor's fee alike); what the pool pays becomes the supplier's shortfall and keeps
        that much of its limit in use."""
        escrowed = order.escrowed
        from_escrow = min(buyer_share, escrowed)
        payout = Payout(from_escrow, escrowed - from_escrow, buyer_share - from_escrow)
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

    def _pay(self, order: OrderEntry, payout: Payout, event: str, *, to_buyer: int, to_supplier: int) -> Effect:
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


def oracle_kind_for(milestone: int) -> int:
    """The kind of oracle whose quorum attests (or contests) ``milestone``."""
    if milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
        return OracleKind.CARRIER
    if milestone in (Milestone.INSPECTION_PASSED, Milestone.INSPECTION_FAILED):
        return OracleKind.INSPECTOR
    raise reject("TradeEscrowUnknownMilestone", milestone=milestone)


def recorded_at(order: OrderEntry, milestone: Milestone) -> int:
    """The event time ``order`` recorded for ``milestone`` (0: none; stale checks keep real ones above 0)."""
    if milestone == Milestone.SHIPPED:
        return order.shipped_at
    if milestone == Milestone.DELIVERED:
        return order.delivered_at
    return order.inspected_at


def require_signer(recovered: str | None, expected: str) -> None:
    """A signature (co-signed terms, a dispute's split, a guarantor's pre-payment offer)
    recovered to ``expected``."""
    signer = address(recovered) if recovered is not None else ZERO_ADDRESS
    if recovered is None or signer != expected:
        raise reject("TradeEscrowInvalidSigner", expected=expected, recovered=signer)


def then(first: Effect, second: Effect) -> Effect:
    """``first`` followed by ``second`` in one call (the id is the first's)."""
    return Effect(first.events + second.events, first.transfers + second.transfers, first.order_id)
