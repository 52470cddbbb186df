"""A pure-Python model of Membership: admit, change roles, replace KYC, suspend, reinstate.

Like the other models (see ``ledger.model.escrow``) it re-states the contract's rules in the
contract's order, does no I/O and either applies a change and returns an ``Effect`` (the
contract's events in order) or raises ``ModelRejected`` with the custom error the contract
reverts with. Every change is mirrored into a ``Roster``: the roster the escrow, credit,
receivables and token models read, so that a replayed history decides who may do what from
the membership calls themselves, not from a list given up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from ledger.model.common import (
    ROLE_ADMIN,
    ROLE_ORACLE,
    ZERO_ADDRESS,
    Effect,
    ModelInputError,
    ModelRejected,
    OracleKind,
    Roster,
    address,
    uint,
)

MEMBERSHIP: Final = "Membership"
ROLES_ALL: Final = (1 << 7) - 1  # contracts/Roles.sol: Roles.ALL


class MemberStatus(IntEnum):
    """IMembership.Status."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


@dataclass(frozen=True)
class MemberRecord:
    """``memberOf(party)``: (roles, oracleKind, status, kycHash, admittedAt)."""

    roles: int
    oracle_kind: int
    status: MemberStatus
    kyc_hash: bytes
    admitted_at: int

    def as_tuple(self) -> tuple[int, int, int, bytes, int]:
        return (self.roles, self.oracle_kind, int(self.status), self.kyc_hash, self.admitted_at)


STRANGER: Final = MemberRecord(0, OracleKind.NONE, MemberStatus.NONE, bytes(32), 0)


def _reject(error: str, **error_args: object) -> ModelRejected:
    return ModelRejected(error, MEMBERSHIP, **error_args)


class MembershipModel:
    """Membership's registry; ``roster`` (shared with the other models) follows every change."""

    def __init__(self, roster: Roster | None = None) -> None:
        self.roster = roster if roster is not None else Roster()
        self._records: dict[str, MemberRecord] = {}
        self.member_count = 0
        self.active_admin_count = 0

    # -- operations ------------------------------------------------------------------

    def constructor(self, admin: str, kyc_hash: bytes, *, now: int) -> Effect:
        """``constructor(admin, adminKycHash)``: the deployer's chosen admin is the first member."""
        return self._admit(address(admin), ROLE_ADMIN, OracleKind.NONE, bytes(kyc_hash), now)

    def admit(self, party: str, roles: int, kind: int, kyc_hash: bytes, *, caller: str, now: int) -> Effect:
        self._only_admin(caller)
        return self._admit(address(party), roles, kind, bytes(kyc_hash), now)

    def set_roles(self, party: str, roles: int, kind: int, *, caller: str, now: int) -> Effect:
        self._only_admin(caller)
        party = address(party)
        member = self._existing(party)
        self._check_roles(party, roles, kind)
        active = member.status == MemberStatus.ACTIVE
        was_counted = active and member.roles & ROLE_ADMIN != 0
        is_counted = active and roles & ROLE_ADMIN != 0
        if was_counted and not is_counted:
            self._drop_admin(party)
        if is_counted and not was_counted:
            self.active_admin_count += 1
        self._store(party, MemberRecord(roles, kind, member.status, member.kyc_hash, member.admitted_at))
        return Effect(events=("MemberRolesChanged",))

    def update_kyc(self, party: str, kyc_hash: bytes, *, caller: str, now: int) -> Effect:
        self._only_admin(caller)
        party = address(party)
        member = self._existing(party)
        record = MemberRecord(member.roles, member.oracle_kind, member.status, bytes(kyc_hash), member.admitted_at)
        self._store(party, record)
        return Effect(events=("MemberKycUpdated",))

    def suspend(self, party: str, reason_hash: bytes, *, caller: str, now: int) -> Effect:
        self._only_admin(caller)
        party = address(party)
        member = self._existing(party)
        if member.status == MemberStatus.SUSPENDED:
            raise _reject("MembershipAlreadySuspended", party=party)
        if member.roles & ROLE_ADMIN:
            self._drop_admin(party)
        record = MemberRecord(
            member.roles, member.oracle_kind, MemberStatus.SUSPENDED, member.kyc_hash, member.admitted_at
        )
        self._store(party, record)
        return Effect(events=("MemberSuspended",))

    def reinstate(self, party: str, *, caller: str, now: int) -> Effect:
        self._only_admin(caller)
        party = address(party)
        member = self._existing(party)
        if member.status != MemberStatus.SUSPENDED:
            raise _reject("MembershipNotSuspended", party=party)
        if member.roles & ROLE_ADMIN:
            self.active_admin_count += 1
        self._store(
            party,
            MemberRecord(member.roles, member.oracle_kind, MemberStatus.ACTIVE, member.kyc_hash, member.admitted_at),
        )
        return Effect(events=("MemberReinstated",))

    # -- views -----------------------------------------------------------------------

    def member(self, party: str) -> MemberRecord:
        """``memberOf(party)`` (all zero for a stranger, like the contract)."""
        return self._records.get(address(party), STRANGER)

    def parties(self) -> list[str]:
        """Every party ever admitted, in admission order."""
        return list(self._records)

    def state(self) -> dict[str, MemberRecord]:
        return dict(self._records)

    # -- internals -------------------------------------------------------------------

    def _only_admin(self, caller: str) -> None:
        if not self.roster.has_role(caller, ROLE_ADMIN):
            raise _reject("MembershipUnauthorizedAccount", account=address(caller), role=ROLE_ADMIN)

    def _admit(self, party: str, roles: int, kind: int, kyc_hash: bytes, now: int) -> Effect:
        uint(roles, 32, "roles")
        if kind not in range(len(OracleKind)):
            raise ModelInputError(f"oracle kind {kind} is not an IMembership.OracleKind")
        if party == ZERO_ADDRESS:
            raise _reject("MembershipZeroAddress")
        if party in self._records:
            raise _reject("MembershipAlreadyMember", party=party)
        self._check_roles(party, roles, kind)
        self._store(party, MemberRecord(roles, kind, MemberStatus.ACTIVE, kyc_hash, now))
        self.member_count += 1
        if roles & ROLE_ADMIN:
            self.active_admin_count += 1
        return Effect(events=("MemberAdmitted",))

    def _existing(self, party: str) -> MemberRecord:
        member = self._records.get(party)
        if member is None:
            raise _reject("MembershipNotMember", party=party)
        return member

    def _drop_admin(self, party: str) -> None:
        if self.active_admin_count == 1:
            raise _reject("MembershipLastAdmin", admin=party)
        self.active_admin_count -= 1

    @staticmethod
    def _check_roles(party: str, roles: int, kind: int) -> None:
        uint(roles, 32, "roles")
        if kind not in range(len(OracleKind)):
            raise ModelInputError(f"oracle kind {kind} is not an IMembership.OracleKind")
        if roles == 0 or roles & ~ROLES_ALL:
            raise _reject("MembershipInvalidRoles", roles=roles)
        if (roles & ROLE_ORACLE != 0) != (kind != OracleKind.NONE):
            raise _reject("MembershipOracleKindMismatch", party=party, roles=roles, kind=kind)

    def _store(self, party: str, record: MemberRecord) -> None:
        self._records[party] = record
        self.roster.set_member(party, record.roles, record.oracle_kind, active=record.status == MemberStatus.ACTIVE)
