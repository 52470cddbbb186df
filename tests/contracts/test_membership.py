"""Membership: admission, roles, KYC, suspension, the admin floor, and the views other contracts trust."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_typing import HexStr
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.errors import ContractReverted
from ledger.toolchain.deploy import DEV_MEMBERS, ORACLE_KIND, ROLE
from tests.support.deployments import Deployed

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = b"\x00" * 32
NONE, ACTIVE, SUSPENDED = 0, 1, 2  # IMembership.Status
ALL_ROLES = 0x7F  # Roles.ALL
ADMIN, CORE, SUPPLIER, BANK = ROLE["admin"], ROLE["core"], ROLE["supplier"], ROLE["bank"]
ORACLE, AUDITOR = ROLE["oracle"], ROLE["auditor"]
CARRIER, INSPECTOR, CUSTOMS = ORACLE_KIND["carrier"], ORACLE_KIND["inspector"], ORACLE_KIND["customs"]
OTHER_NEWCOMER = to_checksum_address("0x" + "ab" * 20)


def kyc(label: str) -> bytes:
    return keccak(text=f"kyc:{label}")


def addr(deployed: Deployed, label: str) -> str:
    return deployed.accounts[label].address


def send(deployed: Deployed, fn: ContractFunction, sender: str = "admin") -> TxReceipt:
    return deployed.chain.transact(fn, deployed.accounts[sender])


def revert_of(deployed: Deployed, fn: ContractFunction, sender: str = "admin") -> tuple[str | None, dict[str, Any]]:
    """The decoded custom error (name, args) of a transaction that must revert."""
    with pytest.raises(ContractReverted) as raised:
        send(deployed, fn, sender)
    return raised.value.error, raised.value.error_args


def view(deployed: Deployed, fn: ContractFunction) -> Any:
    return deployed.chain.call(fn)


def member(deployed: Deployed, party: str) -> tuple[Any, ...]:
    """memberOf(party) as (roles, oracleKind, status, kycHash, admittedAt)."""
    return tuple(view(deployed, deployed.membership.functions.memberOf(party)))


def events(deployed: Deployed, receipt: TxReceipt, name: str, contract: Contract | None = None) -> list[dict[str, Any]]:
    return deployed.chain.receipt_events(contract or deployed.membership, receipt, name)


def block_time(deployed: Deployed, receipt: TxReceipt) -> int:
    return int(deployed.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def admin_count(deployed: Deployed) -> int:
    return int(view(deployed, deployed.membership.functions.activeAdminCount()))


def member_count(deployed: Deployed) -> int:
    return int(view(deployed, deployed.membership.functions.memberCount()))


def has_role(deployed: Deployed, label: str, role: int) -> bool:
    return bool(view(deployed, deployed.membership.functions.hasRole(addr(deployed, label), role)))


def is_active(deployed: Deployed, label: str) -> bool:
    return bool(view(deployed, deployed.membership.functions.isActive(addr(deployed, label))))


def is_oracle(deployed: Deployed, label: str, kind: int) -> bool:
    return bool(view(deployed, deployed.membership.functions.isOracle(addr(deployed, label), kind)))


def registry_state(deployed: Deployed) -> dict[str, Any]:
    """Everything the registry answers about every dev account, plus its counters."""
    state: dict[str, Any] = {label: member(deployed, account.address) for label, account in deployed.accounts}
    state[OTHER_NEWCOMER] = member(deployed, OTHER_NEWCOMER)
    state["memberCount"] = member_count(deployed)
    state["activeAdminCount"] = admin_count(deployed)
    return state


def make_second_admin(deployed: Deployed, label: str = "core") -> None:
    send(deployed, deployed.membership.functions.setRoles(addr(deployed, label), CORE | ADMIN, 0))


# -- deployment and dev enrolment -------------------------------------------------------


def test_constructor_admits_the_deployer_as_the_only_admin(deployed: Deployed) -> None:
    admin = deployed.accounts["admin"]
    receipt = deployed.chain.deploy(deployed.build["Membership"], [admin.address, kyc("genesis")], admin)
    fresh = deployed.chain.contract(deployed.build["Membership"], str(receipt["contractAddress"]))

    assert events(deployed, receipt, "MemberAdmitted", fresh) == [
        {"party": admin.address, "roles": ADMIN, "oracleKind": 0, "kycHash": kyc("genesis"), "admin": admin.address}
    ]
    assert tuple(deployed.chain.call(fresh.functions.memberOf(admin.address))) == (
        ADMIN,
        0,
        ACTIVE,
        kyc("genesis"),
        block_time(deployed, receipt),
    )
    assert deployed.chain.call(fresh.functions.memberCount()) == 1
    assert deployed.chain.call(fresh.functions.activeAdminCount()) == 1


@pytest.mark.parity
def test_constructor_with_zero_admin_reverts_with_zero_address(deployed: Deployed) -> None:
    admin = deployed.accounts["admin"]
    with pytest.raises(ContractReverted) as raised:
        deployed.chain.deploy(deployed.build["Membership"], [ZERO_ADDRESS, ZERO_HASH], admin)

    assert (raised.value.error, raised.value.error_args) == ("MembershipZeroAddress", {})


def test_dev_members_are_enrolled_with_their_roles_kinds_and_kyc(deployed: Deployed) -> None:
    for label, (roles, kind) in DEV_MEMBERS.items():
        roles_, kind_, status, kyc_hash, admitted_at = member(deployed, addr(deployed, label))
        assert (roles_, kind_, status, kyc_hash) == (roles, kind, ACTIVE, keccak(text=f"devnet-kyc:{label}")), label
        assert admitted_at > 0, label
    assert member(deployed, addr(deployed, "admin"))[:4] == (ADMIN, 0, ACTIVE, ZERO_HASH)
    assert member_count(deployed) == len(DEV_MEMBERS) + 1
    assert admin_count(deployed) == 1


def test_member_of_a_stranger_is_all_zero(deployed: Deployed) -> None:
    assert member(deployed, addr(deployed, "relayer")) == (0, 0, NONE, ZERO_HASH, 0)
    assert member(deployed, ZERO_ADDRESS) == (0, 0, NONE, ZERO_HASH, 0)
    assert is_active(deployed, "relayer") is False
    assert has_role(deployed, "relayer", CORE) is False


# -- admit ------------------------------------------------------------------------------


@pytest.mark.parity
def test_admit_records_the_member_and_emits_member_admitted(deployed: Deployed) -> None:
    newcomer = addr(deployed, "relayer")

    receipt = send(deployed, deployed.membership.functions.admit(newcomer, CORE | SUPPLIER, 0, kyc("newcomer")))

    assert events(deployed, receipt, "MemberAdmitted") == [
        {
            "party": newcomer,
            "roles": CORE | SUPPLIER,
            "oracleKind": 0,
            "kycHash": kyc("newcomer"),
            "admin": addr(deployed, "admin"),
        }
    ]
    assert member(deployed, newcomer) == (CORE | SUPPLIER, 0, ACTIVE, kyc("newcomer"), block_time(deployed, receipt))
    assert member_count(deployed) == len(DEV_MEMBERS) + 2
    assert admin_count(deployed) == 1
    assert has_role(deployed, "relayer", CORE) is True
    assert has_role(deployed, "relayer", SUPPLIER) is True
    assert is_active(deployed, "relayer") is True


@pytest.mark.parity
def test_admit_stamps_admitted_at_with_the_admission_block_timestamp(deployed: Deployed) -> None:
    enrolled_at = member(deployed, addr(deployed, "bank"))[4]
    deployed.chain.advance_time(30 * 86_400)

    receipt = send(deployed, deployed.membership.functions.admit(OTHER_NEWCOMER, SUPPLIER, 0, kyc("late")))

    admitted_at = member(deployed, OTHER_NEWCOMER)[4]
    assert admitted_at == block_time(deployed, receipt)
    assert admitted_at >= enrolled_at + 30 * 86_400


def test_admit_oracle_with_its_kind_makes_it_an_oracle_of_that_kind_only(deployed: Deployed) -> None:
    newcomer = addr(deployed, "relayer")

    receipt = send(deployed, deployed.membership.functions.admit(newcomer, ORACLE, CUSTOMS, kyc("customs")))

    assert events(deployed, receipt, "MemberAdmitted")[0]["oracleKind"] == CUSTOMS
    assert member(deployed, newcomer)[:3] == (ORACLE, CUSTOMS, ACTIVE)
    assert [is_oracle(deployed, "relayer", kind) for kind in (0, CARRIER, INSPECTOR, CUSTOMS)] == [
        False,
        False,
        False,
        True,
    ]


def test_admit_with_admin_role_increments_active_admin_count(deployed: Deployed) -> None:
    send(deployed, deployed.membership.functions.admit(addr(deployed, "relayer"), ADMIN | AUDITOR, 0, kyc("admin2")))

    assert admin_count(deployed) == 2
    # The new admin can use its power at once.
    send(deployed, deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x")), sender="relayer")
    assert member(deployed, OTHER_NEWCOMER)[:3] == (CORE, 0, ACTIVE)


def test_admit_zero_address_reverts_with_zero_address(deployed: Deployed) -> None:
    fn = deployed.membership.functions.admit(ZERO_ADDRESS, CORE, 0, kyc("zero"))

    assert revert_of(deployed, fn) == ("MembershipZeroAddress", {})


@pytest.mark.parity
def test_admit_existing_member_reverts_with_already_member(deployed: Deployed) -> None:
    bank = addr(deployed, "bank")
    fn = deployed.membership.functions.admit(bank, CORE, 0, kyc("again"))

    assert revert_of(deployed, fn) == ("MembershipAlreadyMember", {"party": bank})


def test_admit_suspended_member_reverts_with_already_member(deployed: Deployed) -> None:
    bank = addr(deployed, "bank")
    send(deployed, deployed.membership.functions.suspend(bank, kyc("reason")))

    fn = deployed.membership.functions.admit(bank, BANK, 0, kyc("fresh start"))

    assert revert_of(deployed, fn) == ("MembershipAlreadyMember", {"party": bank})


@pytest.mark.parametrize("roles", [0, 1 << 7, ALL_ROLES | 1 << 7, 1 << 31, 0xFFFFFFFF], ids=hex)
def test_admit_with_empty_or_unknown_role_bits_reverts_with_invalid_roles(deployed: Deployed, roles: int) -> None:
    fn = deployed.membership.functions.admit(addr(deployed, "relayer"), roles, 0, kyc("bad roles"))

    assert revert_of(deployed, fn) == ("MembershipInvalidRoles", {"roles": roles})


def test_admit_checks_roles_before_oracle_kind(deployed: Deployed) -> None:
    fn = deployed.membership.functions.admit(addr(deployed, "relayer"), 0, CARRIER, kyc("both wrong"))

    assert revert_of(deployed, fn) == ("MembershipInvalidRoles", {"roles": 0})


@pytest.mark.parity
def test_admit_oracle_role_without_kind_reverts_with_oracle_kind_mismatch(deployed: Deployed) -> None:
    newcomer = addr(deployed, "relayer")
    fn = deployed.membership.functions.admit(newcomer, ORACLE | AUDITOR, 0, kyc("kindless"))

    assert revert_of(deployed, fn) == (
        "MembershipOracleKindMismatch",
        {"party": newcomer, "roles": ORACLE | AUDITOR, "kind": 0},
    )


def test_admit_oracle_kind_without_oracle_role_reverts_with_oracle_kind_mismatch(deployed: Deployed) -> None:
    newcomer = addr(deployed, "relayer")
    fn = deployed.membership.functions.admit(newcomer, BANK, INSPECTOR, kyc("roleless"))

    assert revert_of(deployed, fn) == (
        "MembershipOracleKindMismatch",
        {"party": newcomer, "roles": BANK, "kind": INSPECTOR},
    )


@pytest.mark.parity
def test_admit_with_an_oracle_kind_outside_the_enum_reverts_without_error_data(deployed: Deployed) -> None:
    fn = deployed.membership.functions.admit(addr(deployed, "relayer"), ORACLE, 4, kyc("kind 4"))

    with pytest.raises(ContractReverted) as raised:
        send(deployed, fn)

    assert (raised.value.error, raised.value.error_args, raised.value.data) == (None, {}, "0x")


# -- every admin-only function refuses non-admins ------------------------------------------

ADMIN_ONLY_CALLS: dict[str, Callable[[Deployed], ContractFunction]] = {
    "admit": lambda d: d.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x")),
    "setRoles": lambda d: d.membership.functions.setRoles(addr(d, "tier1"), CORE, 0),
    "updateKyc": lambda d: d.membership.functions.updateKyc(addr(d, "tier1"), kyc("x")),
    "suspend": lambda d: d.membership.functions.suspend(addr(d, "tier1"), kyc("x")),
    "reinstate": lambda d: d.membership.functions.reinstate(addr(d, "tier1")),
}


@pytest.mark.parametrize("caller", ["bank", "auditor", "relayer"])
@pytest.mark.parametrize("function", list(ADMIN_ONLY_CALLS))
def test_admin_function_by_non_admin_reverts_with_role_needed(deployed: Deployed, function: str, caller: str) -> None:
    fn = ADMIN_ONLY_CALLS[function](deployed)

    assert revert_of(deployed, fn, sender=caller) == (
        "MembershipUnauthorizedAccount",
        {"account": addr(deployed, caller), "role": ADMIN},
    )


# -- setRoles ---------------------------------------------------------------------------


def test_set_roles_replaces_roles_and_emits_previous_and_new_roles(deployed: Deployed) -> None:
    tier1 = addr(deployed, "tier1")
    before = member(deployed, tier1)

    receipt = send(deployed, deployed.membership.functions.setRoles(tier1, SUPPLIER | CORE, 0))

    assert events(deployed, receipt, "MemberRolesChanged") == [
        {
            "party": tier1,
            "previousRoles": SUPPLIER,
            "roles": SUPPLIER | CORE,
            "oracleKind": 0,
            "admin": addr(deployed, "admin"),
        }
    ]
    assert member(deployed, tier1) == (SUPPLIER | CORE, 0, ACTIVE, before[3], before[4])
    assert has_role(deployed, "tier1", CORE) is True
    assert member_count(deployed) == len(DEV_MEMBERS) + 1


def test_set_roles_can_make_a_member_an_oracle_and_back(deployed: Deployed) -> None:
    auditor = addr(deployed, "auditor")

    receipt = send(deployed, deployed.membership.functions.setRoles(auditor, AUDITOR | ORACLE, INSPECTOR))

    assert events(deployed, receipt, "MemberRolesChanged")[0]["oracleKind"] == INSPECTOR
    assert is_oracle(deployed, "auditor", INSPECTOR) is True

    send(deployed, deployed.membership.functions.setRoles(auditor, AUDITOR, 0))

    assert member(deployed, auditor)[:2] == (AUDITOR, 0)
    assert is_oracle(deployed, "auditor", INSPECTOR) is False


def test_set_roles_granting_admin_increments_active_admin_count(deployed: Deployed) -> None:
    make_second_admin(deployed)

    assert admin_count(deployed) == 2
    send(deployed, deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x")), sender="core")
    assert member_count(deployed) == len(DEV_MEMBERS) + 2


def test_set_roles_removing_admin_decrements_active_admin_count(deployed: Deployed) -> None:
    make_second_admin(deployed)

    send(deployed, deployed.membership.functions.setRoles(addr(deployed, "core"), CORE, 0))

    assert admin_count(deployed) == 1
    assert has_role(deployed, "core", ADMIN) is False
    fn = deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x"))
    assert revert_of(deployed, fn, sender="core") == (
        "MembershipUnauthorizedAccount",
        {"account": addr(deployed, "core"), "role": ADMIN},
    )


def test_set_roles_keeping_admin_leaves_active_admin_count(deployed: Deployed) -> None:
    make_second_admin(deployed)

    send(deployed, deployed.membership.functions.setRoles(addr(deployed, "core"), ADMIN | AUDITOR, 0))

    assert admin_count(deployed) == 2


@pytest.mark.parity
def test_set_roles_removing_the_last_admins_admin_role_reverts_with_last_admin(deployed: Deployed) -> None:
    admin = addr(deployed, "admin")
    fn = deployed.membership.functions.setRoles(admin, CORE, 0)

    assert revert_of(deployed, fn) == ("MembershipLastAdmin", {"admin": admin})
    assert admin_count(deployed) == 1
    assert has_role(deployed, "admin", ADMIN) is True


def test_admin_may_drop_its_own_admin_role_while_another_admin_remains(deployed: Deployed) -> None:
    make_second_admin(deployed)

    send(deployed, deployed.membership.functions.setRoles(addr(deployed, "admin"), AUDITOR, 0))

    assert admin_count(deployed) == 1
    assert has_role(deployed, "admin", ADMIN) is False
    assert has_role(deployed, "core", ADMIN) is True


def test_set_roles_on_a_suspended_member_counts_admin_only_after_reinstatement(deployed: Deployed) -> None:
    core = addr(deployed, "core")
    send(deployed, deployed.membership.functions.suspend(core, kyc("audit")))

    send(deployed, deployed.membership.functions.setRoles(core, CORE | ADMIN, 0))

    assert admin_count(deployed) == 1
    assert has_role(deployed, "core", ADMIN) is False
    send(deployed, deployed.membership.functions.reinstate(core))
    assert admin_count(deployed) == 2
    assert has_role(deployed, "core", ADMIN) is True


def test_set_roles_of_a_stranger_reverts_with_not_member(deployed: Deployed) -> None:
    stranger = addr(deployed, "relayer")
    fn = deployed.membership.functions.setRoles(stranger, CORE, 0)

    assert revert_of(deployed, fn) == ("MembershipNotMember", {"party": stranger})


@pytest.mark.parametrize("roles", [0, 1 << 7], ids=hex)
def test_set_roles_with_invalid_roles_reverts_with_invalid_roles(deployed: Deployed, roles: int) -> None:
    fn = deployed.membership.functions.setRoles(addr(deployed, "tier1"), roles, 0)

    assert revert_of(deployed, fn) == ("MembershipInvalidRoles", {"roles": roles})


@pytest.mark.parametrize(
    ("roles", "kind"), [(ORACLE, 0), (SUPPLIER, CARRIER)], ids=["oracle-no-kind", "kind-no-oracle"]
)
def test_set_roles_with_mismatched_oracle_kind_reverts(deployed: Deployed, roles: int, kind: int) -> None:
    tier1 = addr(deployed, "tier1")
    fn = deployed.membership.functions.setRoles(tier1, roles, kind)

    assert revert_of(deployed, fn) == (
        "MembershipOracleKindMismatch",
        {"party": tier1, "roles": roles, "kind": kind},
    )


# -- updateKyc --------------------------------------------------------------------------


def test_update_kyc_replaces_the_hash_and_emits_the_previous_one(deployed: Deployed) -> None:
    tier2 = addr(deployed, "tier2")
    roles, kind, status, _, admitted_at = member(deployed, tier2)

    receipt = send(deployed, deployed.membership.functions.updateKyc(tier2, kyc("renewed")))

    assert events(deployed, receipt, "MemberKycUpdated") == [
        {
            "party": tier2,
            "previousKycHash": keccak(text="devnet-kyc:tier2"),
            "kycHash": kyc("renewed"),
            "admin": addr(deployed, "admin"),
        }
    ]
    assert member(deployed, tier2) == (roles, kind, status, kyc("renewed"), admitted_at)


def test_update_kyc_of_a_stranger_reverts_with_not_member(deployed: Deployed) -> None:
    stranger = addr(deployed, "relayer")
    fn = deployed.membership.functions.updateKyc(stranger, kyc("x"))

    assert revert_of(deployed, fn) == ("MembershipNotMember", {"party": stranger})


# -- suspend / reinstate ----------------------------------------------------------------


def test_suspend_makes_the_member_inactive_but_keeps_its_roles(deployed: Deployed) -> None:
    bank = addr(deployed, "bank")
    before = member(deployed, bank)

    receipt = send(deployed, deployed.membership.functions.suspend(bank, kyc("reason")))

    assert events(deployed, receipt, "MemberSuspended") == [
        {"party": bank, "reasonHash": kyc("reason"), "admin": addr(deployed, "admin")}
    ]
    assert member(deployed, bank) == (before[0], before[1], SUSPENDED, before[3], before[4])
    assert has_role(deployed, "bank", BANK) is False
    assert is_active(deployed, "bank") is False
    assert member_count(deployed) == len(DEV_MEMBERS) + 1


def test_reinstate_restores_the_members_roles(deployed: Deployed) -> None:
    bank = addr(deployed, "bank")
    before = member(deployed, bank)
    send(deployed, deployed.membership.functions.suspend(bank, kyc("reason")))

    receipt = send(deployed, deployed.membership.functions.reinstate(bank))

    assert events(deployed, receipt, "MemberReinstated") == [{"party": bank, "admin": addr(deployed, "admin")}]
    assert member(deployed, bank) == before
    assert has_role(deployed, "bank", BANK) is True
    assert is_active(deployed, "bank") is True


def test_suspended_oracle_is_no_oracle_until_reinstated(deployed: Deployed) -> None:
    carrier = addr(deployed, "carrier")
    send(deployed, deployed.membership.functions.suspend(carrier, kyc("tampering")))

    assert is_oracle(deployed, "carrier", CARRIER) is False

    send(deployed, deployed.membership.functions.reinstate(carrier))

    assert is_oracle(deployed, "carrier", CARRIER) is True


def test_suspending_a_suspended_member_reverts_with_already_suspended(deployed: Deployed) -> None:
    tier3 = addr(deployed, "tier3")
    send(deployed, deployed.membership.functions.suspend(tier3, kyc("first")))

    fn = deployed.membership.functions.suspend(tier3, kyc("second"))

    assert revert_of(deployed, fn) == ("MembershipAlreadySuspended", {"party": tier3})


def test_reinstating_an_active_member_reverts_with_not_suspended(deployed: Deployed) -> None:
    tier3 = addr(deployed, "tier3")
    fn = deployed.membership.functions.reinstate(tier3)

    assert revert_of(deployed, fn) == ("MembershipNotSuspended", {"party": tier3})


@pytest.mark.parametrize("function", ["suspend", "reinstate"])
def test_suspend_or_reinstate_of_a_stranger_reverts_with_not_member(deployed: Deployed, function: str) -> None:
    stranger = addr(deployed, "relayer")
    membership = deployed.membership.functions
    fn = membership.suspend(stranger, kyc("x")) if function == "suspend" else membership.reinstate(stranger)

    assert revert_of(deployed, fn) == ("MembershipNotMember", {"party": stranger})


def test_suspending_the_only_admin_reverts_with_last_admin(deployed: Deployed) -> None:
    admin = addr(deployed, "admin")
    fn = deployed.membership.functions.suspend(admin, kyc("self"))

    assert revert_of(deployed, fn) == ("MembershipLastAdmin", {"admin": admin})
    assert is_active(deployed, "admin") is True
    assert admin_count(deployed) == 1


@pytest.mark.parity
def test_suspended_admin_can_no_longer_admit(deployed: Deployed) -> None:
    make_second_admin(deployed)
    send(deployed, deployed.membership.functions.suspend(addr(deployed, "admin"), kyc("rotation")), sender="core")

    assert admin_count(deployed) == 1
    fn = deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x"))
    assert revert_of(deployed, fn, sender="admin") == (
        "MembershipUnauthorizedAccount",
        {"account": addr(deployed, "admin"), "role": ADMIN},
    )


def test_reinstated_admin_counts_and_admits_again(deployed: Deployed) -> None:
    make_second_admin(deployed)
    admin = addr(deployed, "admin")
    send(deployed, deployed.membership.functions.suspend(admin, kyc("rotation")), sender="core")

    send(deployed, deployed.membership.functions.reinstate(admin), sender="core")

    assert admin_count(deployed) == 2
    send(deployed, deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x")), sender="admin")
    assert member(deployed, OTHER_NEWCOMER)[2] == ACTIVE


def test_the_remaining_admin_cannot_be_suspended_after_the_other_was(deployed: Deployed) -> None:
    make_second_admin(deployed)
    send(deployed, deployed.membership.functions.suspend(addr(deployed, "admin"), kyc("rotation")), sender="core")
    core = addr(deployed, "core")

    fn = deployed.membership.functions.suspend(core, kyc("self"))

    assert revert_of(deployed, fn, sender="core") == ("MembershipLastAdmin", {"admin": core})


# -- views ------------------------------------------------------------------------------


def test_has_role_needs_every_bit_of_the_asked_role_and_refuses_zero(deployed: Deployed) -> None:
    send(deployed, deployed.membership.functions.setRoles(addr(deployed, "tier1"), SUPPLIER | CORE, 0))

    assert has_role(deployed, "tier1", SUPPLIER | CORE) is True
    assert has_role(deployed, "tier1", SUPPLIER | BANK) is False
    assert has_role(deployed, "tier1", 0) is False


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("carrier", [False, True, False, False]),
        ("inspector", [False, False, True, False]),
        ("bank", [False, False, False, False]),
        ("relayer", [False, False, False, False]),
    ],
)
def test_is_oracle_answers_true_only_for_the_members_own_kind(
    deployed: Deployed, label: str, expected: list[bool]
) -> None:
    assert [is_oracle(deployed, label, kind) for kind in (0, CARRIER, INSPECTOR, CUSTOMS)] == expected


def test_member_count_counts_admissions_and_ignores_suspensions(deployed: Deployed) -> None:
    send(deployed, deployed.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("a")))
    send(deployed, deployed.membership.functions.admit(addr(deployed, "relayer"), SUPPLIER, 0, kyc("b")))
    assert member_count(deployed) == len(DEV_MEMBERS) + 3

    send(deployed, deployed.membership.functions.suspend(OTHER_NEWCOMER, kyc("reason")))

    assert member_count(deployed) == len(DEV_MEMBERS) + 3


# -- failures change nothing ------------------------------------------------------------

FAILING_CALLS: dict[str, tuple[str, Callable[[Deployed], ContractFunction]]] = {
    "admit-existing": ("admin", lambda d: d.membership.functions.admit(addr(d, "bank"), CORE, 0, kyc("x"))),
    "admit-by-stranger": ("relayer", lambda d: d.membership.functions.admit(OTHER_NEWCOMER, CORE, 0, kyc("x"))),
    "set-roles-last-admin": ("admin", lambda d: d.membership.functions.setRoles(addr(d, "admin"), CORE, 0)),
    "set-roles-mismatch": ("admin", lambda d: d.membership.functions.setRoles(addr(d, "tier1"), ORACLE, 0)),
    "update-kyc-stranger": ("admin", lambda d: d.membership.functions.updateKyc(OTHER_NEWCOMER, kyc("x"))),
    "suspend-last-admin": ("admin", lambda d: d.membership.functions.suspend(addr(d, "admin"), kyc("x"))),
    "reinstate-active": ("admin", lambda d: d.membership.functions.reinstate(addr(d, "bank"))),
}


@pytest.mark.parametrize("case", list(FAILING_CALLS))
def test_a_refused_call_changes_nothing(deployed: Deployed, case: str) -> None:
    sender, build = FAILING_CALLS[case]
    before = registry_state(deployed)

    with pytest.raises(ContractReverted):
        send(deployed, build(deployed), sender)

    assert registry_state(deployed) == before


@pytest.mark.parity
def test_a_reverted_transaction_mined_on_chain_changes_nothing(deployed: Deployed) -> None:
    before = registry_state(deployed)
    fn = deployed.membership.functions.setRoles(addr(deployed, "admin"), CORE, 0)

    # An explicit gas limit skips estimation, so the transaction is mined and reverts on chain.
    with pytest.raises(ContractReverted) as raised:
        deployed.chain.transact(fn, deployed.accounts["admin"], gas=200_000)

    assert raised.value.tx_hash is not None
    assert raised.value.error == "MembershipLastAdmin"  # recovered by replaying the mined transaction
    assert deployed.chain.w3.eth.get_transaction_receipt(HexStr(raised.value.tx_hash))["status"] == 0
    assert registry_state(deployed) == before
