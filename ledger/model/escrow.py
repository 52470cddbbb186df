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

The contract is large, so the model is split by its parts, one mixin each over the shared
storage of ``EscrowBooks`` (``ledger.model.escrow_books`` says how they fit together): the
order lifecycle (``escrow_orders``), disputes and contests (``escrow_disputes``) and assured
pre-payment from guarantee pools (``escrow_prepayment``); the CreditRegistry limits are in
``ledger.model.credit``. This module composes them into ``EscrowModel`` and adds what spans
them all: administration, the whole-state snapshot (``EscrowState``) and the accounting
invariants. It also re-exports the names callers have always imported from here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.domain.escrow import Dispute, Milestone, Order, OrderStatus, Windows
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
)
from ledger.model.credit import CREDIT_REGISTRY, CreditLimits, LimitRecord
from ledger.model.escrow_books import (
    DEFAULT_WINDOWS,
    FUNDED_TERMINAL,
    MAX_WINDOW,
    TRADE_ESCROW,
    recorded_at,
    reject,
)
from ledger.model.escrow_disputes import ZERO_DISPUTE, Disputes
from ledger.model.escrow_orders import ZERO_TERMS, OrderLifecycle, normalize_terms
from ledger.model.escrow_prepayment import AssuredPrepayment

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
    "ZERO_DISPUTE",
    "ZERO_HASH",
    "ZERO_TERMS",
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


class EscrowModel(OrderLifecycle, Disputes, AssuredPrepayment):
    """TradeEscrow at ``escrow``, settling in ``currency``, reading ``roster`` and ``credit``.

    Constructed as ``EscrowBooks`` is: ``EscrowModel(escrow=..., currency=..., roster=...,
    credit=None, windows=DEFAULT_WINDOWS)``.
    """

    def clone(self) -> EscrowModel:
        """An independent copy (roster and credit included), e.g. for a what-if."""
        return copy.deepcopy(self)

    # -- administration --------------------------------------------------------------

    def set_threshold(self, kind: int, threshold: int, *, caller: str) -> Effect:
        self._only_admin(caller)
        if kind == 0 or kind > OracleKind.CUSTOMS or threshold == 0:
            raise reject("TradeEscrowInvalidThreshold", kind=kind, threshold=threshold)
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
            raise reject("TradeEscrowInvalidWindows")
        self.windows = w
        return Effect(events=("WindowsSet",))

    def set_token_allowed(self, token: str, allowed: bool, *, caller: str) -> Effect:
        self._only_admin(caller)
        self.token_allowed[address(token)] = allowed
        return Effect(events=("TokenAllowed",))

    def _only_admin(self, caller: str) -> None:
        if not self.roster.has_role(caller, ROLE_ADMIN):
            raise reject("TradeEscrowUnauthorized", caller=address(caller))

    # -- the whole state -------------------------------------------------------------

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
            if o.prepayment_fee and o.prepayment_fee >= o.prepaid:
                problems.append(f"order {order_id}: fee {o.prepayment_fee} not below the pre-payment {o.prepaid}")
            if order_id in self._open_account:
                if (o.escrowed, o.prepaid, o.paid_to_supplier, o.refunded_to_buyer) != (0, 0, 0, 0):
                    problems.append(f"open-account order {order_id} moved money")
            elif o.status in FUNDED_TERMINAL:
                if o.escrowed != 0:
                    problems.append(f"order {order_id} is {o.status.name} but still escrows {o.escrowed}")
                # Out of the escrow and the pool: the supplier, the buyer and the guarantor's fee.
                paid_out = o.paid_to_supplier + o.prepayment_fee + o.refunded_to_buyer
                if paid_out != amount + o.guarantee_claimed:
                    problems.append(
                        f"order {order_id} paid {o.paid_to_supplier} + fee {o.prepayment_fee}"
                        f" + refunded {o.refunded_to_buyer} != amount {amount} + guarantee {o.guarantee_claimed}"
                    )
            elif o.status in (OrderStatus.CREATED, OrderStatus.CANCELLED):
                if (o.escrowed, o.prepaid, o.paid_to_supplier, o.refunded_to_buyer) != (0, 0, 0, 0):
                    problems.append(f"order {order_id} is {o.status.name} but moved money")
            else:
                add(owed, o.terms.token, o.escrowed)
                if o.escrowed + o.prepaid != amount or o.paid_to_supplier != o.prepaid - o.prepayment_fee:
                    problems.append(
                        f"open order {order_id}: escrowed {o.escrowed} + prepaid {o.prepaid} != {amount}"
                        f" or paid {o.paid_to_supplier} != prepaid less fee {o.prepayment_fee}"
                    )
                if o.prepaid:
                    add(reserved, o.guarantor, o.prepaid)
                    add(exposure, (o.guarantor, o.terms.supplier), o.prepaid)
        # Each evidence hash names a milestone its order recorded, and no milestone has two
        # (an inspection, passed or failed, is one milestone).
        per_milestone: dict[tuple[int, int], int] = {}
        for evidence_hash, (order_id, milestone) in self._evidence.items():
            add(per_milestone, (order_id, min(milestone, Milestone.INSPECTION_PASSED)), 1)
            recorded = order_id in self._orders and recorded_at(self._orders[order_id], milestone) != 0
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
