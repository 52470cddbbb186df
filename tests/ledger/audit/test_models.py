"""The Membership and SettlementToken models the replay adds: their rules, and the contracts' errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from ledger.errors import ContractReverted
from ledger.eth import eip712
from ledger.model import Effect, ModelRejected, Roster
from ledger.model.common import ROLE_ADMIN, ROLE_BANK, ROLE_CORE, ROLE_ORACLE, ROLE_SUPPLIER, ZERO_ADDRESS, OracleKind
from ledger.model.membership import MembershipModel, MemberStatus
from ledger.model.token import MAX_UINT256, TokenModel
from tests.ledger.audit.helpers import audit
from tests.support.deployments import Deployed

T0 = 1_800_000_000


def party(tag: str) -> str:
    return to_checksum_address("0x" + keccak(text=tag)[:20].hex())


ADMIN, CORE, SUPPLIER, BANK, CARRIER, STRANGER = (
    party(t) for t in ("admin", "core", "supplier", "bank", "carrier", "x")
)
TOKEN = party("token")


def rejected(call: Callable[[], Effect]) -> tuple[str, dict[str, object]]:
    with pytest.raises(ModelRejected) as raised:
        call()
    return raised.value.error, raised.value.error_args


def registry() -> MembershipModel:
    model = MembershipModel()
    model.constructor(ADMIN, bytes(32), now=T0)
    model.admit(CORE, ROLE_CORE, 0, keccak(text="kyc core"), caller=ADMIN, now=T0 + 1)
    model.admit(SUPPLIER, ROLE_SUPPLIER, 0, keccak(text="kyc supplier"), caller=ADMIN, now=T0 + 2)
    model.admit(BANK, ROLE_BANK, 0, bytes(32), caller=ADMIN, now=T0 + 3)
    model.admit(CARRIER, ROLE_ORACLE, OracleKind.CARRIER, bytes(32), caller=ADMIN, now=T0 + 4)
    return model


# -- Membership ---------------------------------------------------------------------------


def test_admission_records_the_member_and_feeds_the_roster() -> None:
    model = registry()
    assert model.member(SUPPLIER).as_tuple() == (
        ROLE_SUPPLIER,
        0,
        MemberStatus.ACTIVE,
        keccak(text="kyc supplier"),
        T0 + 2,
    )
    assert model.member(STRANGER).as_tuple() == (0, 0, 0, bytes(32), 0)
    assert (model.member_count, model.active_admin_count) == (5, 1)
    assert model.roster.has_role(SUPPLIER, ROLE_SUPPLIER) and model.roster.is_oracle(CARRIER, OracleKind.CARRIER)
    assert model.parties() == [ADMIN, CORE, SUPPLIER, BANK, CARRIER]


def test_admission_refuses_what_the_contract_refuses() -> None:
    model = registry()
    assert rejected(lambda: model.admit(STRANGER, ROLE_CORE, 0, bytes(32), caller=CORE, now=T0)) == (
        "MembershipUnauthorizedAccount",
        {"account": CORE, "role": ROLE_ADMIN},
    )
    assert rejected(lambda: model.admit(ZERO_ADDRESS, ROLE_CORE, 0, bytes(32), caller=ADMIN, now=T0)) == (
        "MembershipZeroAddress",
        {},
    )
    assert (
        rejected(lambda: model.admit(CORE, ROLE_CORE, 0, bytes(32), caller=ADMIN, now=T0))[0]
        == "MembershipAlreadyMember"
    )
    for roles in (0, 1 << 7):
        assert rejected(lambda r=roles: model.admit(STRANGER, r, 0, bytes(32), caller=ADMIN, now=T0)) == (
            "MembershipInvalidRoles",
            {"roles": roles},
        )
    assert rejected(lambda: model.admit(STRANGER, ROLE_ORACLE, 0, bytes(32), caller=ADMIN, now=T0))[0] == (
        "MembershipOracleKindMismatch"
    )
    assert rejected(lambda: model.admit(STRANGER, ROLE_CORE, 2, bytes(32), caller=ADMIN, now=T0))[0] == (
        "MembershipOracleKindMismatch"
    )
    assert model.member_count == 5


def test_the_last_active_admin_can_neither_be_suspended_nor_lose_the_role() -> None:
    model = registry()
    assert rejected(lambda: model.suspend(ADMIN, bytes(32), caller=ADMIN, now=T0)) == (
        "MembershipLastAdmin",
        {"admin": ADMIN},
    )
    assert rejected(lambda: model.set_roles(ADMIN, ROLE_CORE, 0, caller=ADMIN, now=T0))[0] == "MembershipLastAdmin"
    model.set_roles(CORE, ROLE_CORE | ROLE_ADMIN, 0, caller=ADMIN, now=T0)
    assert model.active_admin_count == 2
    model.suspend(ADMIN, keccak(text="left"), caller=CORE, now=T0)
    assert model.active_admin_count == 1 and not model.roster.has_role(ADMIN, ROLE_ADMIN)
    assert rejected(lambda: model.suspend(ADMIN, bytes(32), caller=CORE, now=T0))[0] == "MembershipAlreadySuspended"
    model.reinstate(ADMIN, caller=CORE, now=T0)
    assert model.active_admin_count == 2 and model.roster.has_role(ADMIN, ROLE_ADMIN)
    assert rejected(lambda: model.reinstate(ADMIN, caller=CORE, now=T0))[0] == "MembershipNotSuspended"


def test_a_suspended_member_keeps_its_roles_but_the_roster_answers_no() -> None:
    model = registry()
    effect = model.suspend(SUPPLIER, keccak(text="late"), caller=ADMIN, now=T0)
    assert effect.events == ("MemberSuspended",)
    assert model.member(SUPPLIER).roles == ROLE_SUPPLIER and model.member(SUPPLIER).status == MemberStatus.SUSPENDED
    assert not model.roster.has_role(SUPPLIER, ROLE_SUPPLIER) and not model.roster.is_active(SUPPLIER)
    assert model.update_kyc(SUPPLIER, keccak(text="new"), caller=ADMIN, now=T0).events == ("MemberKycUpdated",)
    assert model.member(SUPPLIER).kyc_hash == keccak(text="new")
    assert rejected(lambda: model.update_kyc(STRANGER, bytes(32), caller=ADMIN, now=T0)) == (
        "MembershipNotMember",
        {"party": STRANGER},
    )


# -- SettlementToken ------------------------------------------------------------------------


def bank_roster() -> Roster:
    roster = Roster()
    roster.set_member(BANK, ROLE_BANK)
    roster.set_member(CORE, ROLE_CORE)
    return roster


def test_only_an_active_bank_mints_and_supply_follows_mints_and_redemptions() -> None:
    token = TokenModel(token=TOKEN, roster=bank_roster())
    assert rejected(lambda: token.mint(CORE, 5, caller=CORE)) == ("SettlementTokenUnauthorizedMinter", {"caller": CORE})
    assert rejected(lambda: token.mint(CORE, 0, caller=BANK)) == (
        "SettlementTokenInvalidMint",
        {"to": CORE, "amount": 0},
    )
    assert token.mint(CORE, 100, caller=BANK).events == ("Transfer", "DepositsMinted")
    assert token.redeem(30, caller=CORE).events == ("Transfer", "DepositsRedeemed")
    assert (token.balance_of(CORE), token.total_supply) == (70, 70)
    assert rejected(lambda: token.redeem(71, caller=CORE)) == (
        "ERC20InsufficientBalance",
        {"sender": CORE, "balance": 70, "needed": 71},
    )
    assert token.invariant_violations() == []


def test_allowances_are_spent_unless_unlimited() -> None:
    token = TokenModel(token=TOKEN, roster=bank_roster())
    token.mint(CORE, 100, caller=BANK)
    token.approve(SUPPLIER, 40, caller=CORE)
    token.transfer_from(CORE, BANK, 15, caller=SUPPLIER)
    assert token.allowance(CORE, SUPPLIER) == 25
    assert rejected(lambda: token.transfer_from(CORE, BANK, 26, caller=SUPPLIER)) == (
        "ERC20InsufficientAllowance",
        {"spender": SUPPLIER, "allowance": 25, "needed": 26},
    )
    token.approve(SUPPLIER, MAX_UINT256, caller=CORE)
    token.transfer_from(CORE, BANK, 85, caller=SUPPLIER)
    assert token.allowance(CORE, SUPPLIER) == MAX_UINT256 and token.balance_of(BANK) == 100
    assert rejected(lambda: token.transfer(ZERO_ADDRESS, 0, caller=BANK)) == (
        "ERC20InvalidReceiver",
        {"receiver": ZERO_ADDRESS},
    )


def test_a_permit_approves_once_per_nonce_for_its_owner_only() -> None:
    token = TokenModel(token=TOKEN, roster=bank_roster())
    assert rejected(lambda: token.permit(CORE, SUPPLIER, 5, T0 - 1, signer=CORE, now=T0)) == (
        "ERC2612ExpiredSignature",
        {"deadline": T0 - 1},
    )
    assert rejected(lambda: token.permit(CORE, SUPPLIER, 5, T0, signer=BANK, now=T0)) == (
        "ERC2612InvalidSigner",
        {"signer": BANK, "owner": CORE},
    )
    assert rejected(lambda: token.permit(CORE, SUPPLIER, 5, T0, signer=None, now=T0))[0] == "ECDSAInvalidSignature"
    assert token.nonce(CORE) == 0
    assert token.permit(CORE, SUPPLIER, 5, T0, signer=CORE, now=T0).events == ("Approval",)
    assert (token.nonce(CORE), token.allowance(CORE, SUPPLIER)) == (1, 5)


# -- the models' errors are the contracts' ----------------------------------------------------


@pytest.mark.parity
def test_the_models_predict_the_contracts_own_reverts(deployed: Deployed) -> None:
    """Membership and token calls that revert on chain, predicted from the replayed models."""
    models = audit(deployed, check_views=False).models
    accounts = deployed.accounts
    admin, tier1, tier2, relayer = (accounts[x] for x in ("admin", "tier1", "tier2", "relayer"))
    members, token = deployed.membership.functions, deployed.token.functions
    now = deployed.chain.timestamp()
    stranger = Account.create()
    document = deployed.tokens.permit_document(tier1.address, relayer.address, 5, 0, now + 100)
    signature = eip712.sign(tier2, document)
    v, r, s = signature[64], signature[:32], signature[32:64]
    cases = [
        (members.admit(tier1.address, ROLE_CORE, 0, bytes(32)), admin,
         lambda: models.membership.admit(tier1.address, ROLE_CORE, 0, bytes(32), caller=admin.address, now=now)),
        (members.suspend(admin.address, bytes(32)), admin,
         lambda: models.membership.suspend(admin.address, bytes(32), caller=admin.address, now=now)),
        (members.admit(stranger.address, ROLE_CORE, 0, bytes(32)), tier1,
         lambda: models.membership.admit(stranger.address, ROLE_CORE, 0, bytes(32), caller=tier1.address, now=now)),
        (members.setRoles(tier1.address, ROLE_ORACLE, 0), admin,
         lambda: models.membership.set_roles(tier1.address, ROLE_ORACLE, 0, caller=admin.address, now=now)),
        (members.reinstate(tier1.address), admin,
         lambda: models.membership.reinstate(tier1.address, caller=admin.address, now=now)),
        (token.transfer(relayer.address, 1), tier2,
         lambda: models.token.transfer(relayer.address, 1, caller=tier2.address)),
        (token.transferFrom(tier1.address, relayer.address, 1), tier2,
         lambda: models.token.transfer_from(tier1.address, relayer.address, 1, caller=tier2.address)),
        (token.mint(tier1.address, 1), tier1, lambda: models.token.mint(tier1.address, 1, caller=tier1.address)),
        (token.permit(tier1.address, relayer.address, 5, now + 100, v, r, s), relayer,
         lambda: models.token.permit(tier1.address, relayer.address, 5, now + 100, signer=tier2.address, now=now)),
    ]  # fmt: skip
    for fn, sender, predict in cases:
        error, args = rejected(predict)
        with pytest.raises(ContractReverted) as raised:
            deployed.chain.call(fn, sender=sender.address)
        assert (raised.value.error, raised.value.error_args) == (error, args), fn.fn_name
