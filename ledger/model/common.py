"""What every contract model shares: addresses, roles, the membership roster, errors, effects.

Each model re-states one contract's rules: an operation takes the block timestamp (``now``)
and the caller, then either applies its change and returns an ``Effect`` or raises
``ModelRejected`` naming the contract's custom error with its arguments (ABI parameter
names, so it compares equal to ``ContractReverted.error_args`` of the real revert). A
rejected operation changes nothing, as a reverted transaction changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Final, TypeVar

from ledger.domain.addresses import address as address  # the models' spelling of every address
from ledger.errors import LedgerError

ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"
ZERO_HASH: Final = bytes(32)
DAY: Final = 86_400

# contracts/Roles.sol
ROLE_ADMIN: Final = 1 << 0
ROLE_CORE: Final = 1 << 1
ROLE_SUPPLIER: Final = 1 << 2
ROLE_BANK: Final = 1 << 3
ROLE_ORACLE: Final = 1 << 4
ROLE_ARBITER: Final = 1 << 5
ROLE_AUDITOR: Final = 1 << 6

_K = TypeVar("_K")


class OracleKind(IntEnum):
    """IMembership.OracleKind."""

    NONE = 0
    CARRIER = 1
    INSPECTOR = 2
    CUSTOMS = 3


# -- errors ----------------------------------------------------------------------------


class ModelError(LedgerError):
    """Root of the model's errors."""


class ModelRejected(ModelError):
    """Contract ``contract`` reverts this call with custom error ``error`` and ``error_args``.

    ``error_args`` uses the ABI parameter names, so it compares equal to
    ``ContractReverted.error_args`` of the real revert.
    """

    def __init__(self, error: str, contract: str, **error_args: object) -> None:
        self.error = error
        self.contract = contract
        self.error_args: dict[str, object] = dict(error_args)
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.error_args.items())
        super().__init__(f"{contract}.{error}({rendered})")


class ModelInconsistent(ModelError):
    """The model's own books no longer add up (an underflow the contract would panic on)."""


class ModelInputError(ModelError, ValueError):
    """A call the contract's ABI would not even accept (negative amount, unknown enum value)."""


def _render(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    """``amount`` of ``token`` moving from ``source`` to ``destination``."""

    token: str
    source: str
    destination: str
    amount: int


@dataclass(frozen=True)
class Effect:
    """What a successful call did: the contract's own events in emission order, the token
    transfers in execution order and the ids it created (``order_id`` for ``create_order``,
    ``piece_ids`` for a receivable's issue or split)."""

    events: tuple[str, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    order_id: int | None = None
    piece_ids: tuple[int, ...] = ()


def uint(value: int, bits: int, what: str) -> int:
    """``value`` when it fits a Solidity ``uint<bits>``; ``ModelInputError`` otherwise."""
    if not isinstance(value, int) or value < 0 or value >= 1 << bits:
        raise ModelInputError(f"{what} must be a uint{bits}, got {value!r}")
    return value


def add(table: dict[_K, int], key: _K, delta: int) -> None:
    """``table[key] += delta``, refusing to go below zero (the contract would panic)."""
    value = table.get(key, 0) + delta
    if value < 0:
        # Unreachable while the rules hold; the contract would panic (arithmetic underflow).
        raise ModelInconsistent(f"{key!r} would go below zero ({value})")
    table[key] = value


def transfers_by_holder(transfers: Iterable[Transfer], token: str) -> dict[str, int]:
    """Net change of every holder's ``token`` balance after ``transfers``."""
    net: dict[str, int] = {}
    for t in transfers:
        if t.token != token:
            continue
        net[t.source] = net.get(t.source, 0) - t.amount
        net[t.destination] = net.get(t.destination, 0) + t.amount
    return net


# -- membership ------------------------------------------------------------------------


@dataclass
class Member:
    roles: int
    oracle_kind: int = OracleKind.NONE
    active: bool = True


class Roster:
    """What the contracts ask Membership: roles, oracle kinds, active status."""

    def __init__(self, members: Mapping[str, Member] | None = None) -> None:
        # Copies: suspending a member here must not reach into the caller's objects.
        self._members: dict[str, Member] = {address(k): replace(v) for k, v in (members or {}).items()}

    def set_member(self, party: str, roles: int, oracle_kind: int = OracleKind.NONE, *, active: bool = True) -> None:
        self._members[address(party)] = Member(roles, oracle_kind, active)

    def set_active(self, party: str, active: bool) -> None:
        self._members[address(party)].active = active

    def has_role(self, party: str, role: int) -> bool:
        member = self._members.get(address(party))
        return member is not None and member.active and role != 0 and member.roles & role == role

    def is_active(self, party: str) -> bool:
        member = self._members.get(address(party))
        return member is not None and member.active

    def is_oracle(self, party: str, kind: int) -> bool:
        member = self._members.get(address(party))
        return (
            self.has_role(party, ROLE_ORACLE)
            and kind != OracleKind.NONE
            and member is not None
            and member.oracle_kind == kind
        )
