"""SettlementToken: bank-only minting, redemption, ERC-20 basics and EIP-2612 permit with real signatures."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.errors import ContractReverted
from ledger.toolchain.deploy import ROLE, TOKEN_NAME, TOKEN_SYMBOL
from tests.support.deployments import Deployed

ZERO_ADDRESS = "0x" + "00" * 20
MAX_UINT256 = 2**256 - 1
UNIT = 10**6  # one dUSD in token units (6 decimals)
PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def addr(deployed: Deployed, label: str) -> str:
    return deployed.accounts[label].address


def send(deployed: Deployed, fn: ContractFunction, sender: str) -> TxReceipt:
    return deployed.chain.transact(fn, deployed.accounts[sender])


def revert_of(deployed: Deployed, fn: ContractFunction, sender: str) -> tuple[str | None, dict[str, Any]]:
    """The decoded custom error (name, args) of a transaction that must revert."""
    with pytest.raises(ContractReverted) as raised:
        send(deployed, fn, sender)
    return raised.value.error, raised.value.error_args


def view(deployed: Deployed, fn: ContractFunction) -> Any:
    return deployed.chain.call(fn)


def balance(deployed: Deployed, label: str) -> int:
    return int(view(deployed, deployed.token.functions.balanceOf(addr(deployed, label))))


def total_supply(deployed: Deployed) -> int:
    return int(view(deployed, deployed.token.functions.totalSupply()))


def allowance(deployed: Deployed, owner: str, spender: str) -> int:
    return int(view(deployed, deployed.token.functions.allowance(addr(deployed, owner), addr(deployed, spender))))


def nonce(deployed: Deployed, label: str) -> int:
    return int(view(deployed, deployed.token.functions.nonces(addr(deployed, label))))


def events(deployed: Deployed, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    return deployed.chain.receipt_events(deployed.token, receipt, name)


def mint(deployed: Deployed, to: str, amount: int, bank: str = "bank") -> TxReceipt:
    return send(deployed, deployed.token.functions.mint(addr(deployed, to), amount), bank)


def suspend(deployed: Deployed, label: str) -> None:
    send(deployed, deployed.membership.functions.suspend(addr(deployed, label), keccak(text="suspended")), "admin")


def permit_typed_data(
    deployed: Deployed, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The EIP-712 Permit message the token expects, as eth_account's full_message."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **PERMIT_TYPES,
        },
        "primaryType": "Permit",
        "domain": {
            "name": TOKEN_NAME,
            "version": "1",
            "chainId": deployed.chain.chain_id,
            "verifyingContract": deployed.token.address,
        },
        "message": {"owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline},
    }


def sign_permit(
    deployed: Deployed, signer: LocalAccount, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> SignedMessage:
    """Sign a Permit with eth_account's typed-data signer (domain + types + message, no full_message)."""
    typed = permit_typed_data(deployed, owner, spender, value, nonce, deadline)
    return Account.sign_typed_data(signer.key, typed["domain"], PERMIT_TYPES, typed["message"])


def permit_call(
    deployed: Deployed, owner: str, spender: str, value: int, deadline: int, signed: SignedMessage
) -> ContractFunction:
    r, s = signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
    return deployed.token.functions.permit(owner, spender, value, deadline, signed.v, r, s)


def recovered_signer(
    deployed: Deployed, signed: SignedMessage, owner: str, spender: str, value: int, *, nonce: int, deadline: int
) -> str:
    """The address the contract recovers from `signed` when it hashes these permit fields."""
    typed = permit_typed_data(deployed, owner, spender, value, nonce, deadline)
    return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signed.signature))


# -- metadata ---------------------------------------------------------------------------


def test_token_metadata_comes_from_the_deployment(deployed: Deployed) -> None:
    token = deployed.token.functions

    assert view(deployed, token.name()) == TOKEN_NAME == "SCF Deposit USD"
    assert view(deployed, token.symbol()) == TOKEN_SYMBOL == "dUSD"
    assert view(deployed, token.decimals()) == 6
    assert view(deployed, token.membership()) == deployed.addresses["Membership"]
    assert total_supply(deployed) == 0


# -- mint -------------------------------------------------------------------------------


@pytest.mark.parity
def test_bank_mint_credits_the_recipient_and_emits_transfer_and_deposits_minted(deployed: Deployed) -> None:
    receipt = mint(deployed, "tier1", 1_500 * UNIT)

    assert events(deployed, receipt, "Transfer") == [
        {"from": ZERO_ADDRESS, "to": addr(deployed, "tier1"), "value": 1_500 * UNIT}
    ]
    assert events(deployed, receipt, "DepositsMinted") == [
        {"bank": addr(deployed, "bank"), "to": addr(deployed, "tier1"), "amount": 1_500 * UNIT}
    ]
    assert balance(deployed, "tier1") == 1_500 * UNIT
    assert balance(deployed, "bank") == 0
    assert total_supply(deployed) == 1_500 * UNIT


def test_successive_mints_add_up(deployed: Deployed) -> None:
    mint(deployed, "tier1", 7)
    mint(deployed, "tier2", 11)
    mint(deployed, "tier1", 5)

    assert (balance(deployed, "tier1"), balance(deployed, "tier2"), total_supply(deployed)) == (12, 11, 23)


@pytest.mark.parametrize("caller", ["admin", "core", "tier1", "carrier", "auditor", "relayer"])
def test_mint_by_anyone_but_a_bank_reverts_with_unauthorized_minter(deployed: Deployed, caller: str) -> None:
    fn = deployed.token.functions.mint(addr(deployed, caller), UNIT)

    assert revert_of(deployed, fn, caller) == ("SettlementTokenUnauthorizedMinter", {"caller": addr(deployed, caller)})
    assert total_supply(deployed) == 0


@pytest.mark.parity
def test_mint_by_a_suspended_bank_is_refused_until_reinstated(deployed: Deployed) -> None:
    suspend(deployed, "bank")
    fn = deployed.token.functions.mint(addr(deployed, "tier1"), UNIT)

    assert revert_of(deployed, fn, "bank") == ("SettlementTokenUnauthorizedMinter", {"caller": addr(deployed, "bank")})

    send(deployed, deployed.membership.functions.reinstate(addr(deployed, "bank")), "admin")
    mint(deployed, "tier1", UNIT)
    assert balance(deployed, "tier1") == UNIT


def test_a_member_holding_bank_among_other_roles_can_mint(deployed: Deployed) -> None:
    both = ROLE["core"] | ROLE["bank"]
    send(deployed, deployed.membership.functions.setRoles(addr(deployed, "core"), both, 0), "admin")

    receipt = mint(deployed, "tier2", 3 * UNIT, bank="core")

    assert events(deployed, receipt, "DepositsMinted")[0]["bank"] == addr(deployed, "core")
    assert balance(deployed, "tier2") == 3 * UNIT


def test_mint_to_the_zero_address_reverts_with_invalid_mint(deployed: Deployed) -> None:
    fn = deployed.token.functions.mint(ZERO_ADDRESS, UNIT)

    assert revert_of(deployed, fn, "bank") == ("SettlementTokenInvalidMint", {"to": ZERO_ADDRESS, "amount": UNIT})


@pytest.mark.parity
def test_mint_of_nothing_reverts_with_invalid_mint(deployed: Deployed) -> None:
    fn = deployed.token.functions.mint(addr(deployed, "tier1"), 0)

    assert revert_of(deployed, fn, "bank") == (
        "SettlementTokenInvalidMint",
        {"to": addr(deployed, "tier1"), "amount": 0},
    )


def test_mint_checks_the_minter_before_the_arguments(deployed: Deployed) -> None:
    fn = deployed.token.functions.mint(ZERO_ADDRESS, 0)

    assert revert_of(deployed, fn, "relayer") == (
        "SettlementTokenUnauthorizedMinter",
        {"caller": addr(deployed, "relayer")},
    )


# -- redeem -----------------------------------------------------------------------------


def test_redeem_burns_the_callers_tokens_and_emits_deposits_redeemed(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)

    receipt = send(deployed, deployed.token.functions.redeem(4 * UNIT), "tier1")

    assert events(deployed, receipt, "Transfer") == [
        {"from": addr(deployed, "tier1"), "to": ZERO_ADDRESS, "value": 4 * UNIT}
    ]
    assert events(deployed, receipt, "DepositsRedeemed") == [{"holder": addr(deployed, "tier1"), "amount": 4 * UNIT}]
    assert balance(deployed, "tier1") == 6 * UNIT
    assert total_supply(deployed) == 6 * UNIT


def test_redeem_of_the_whole_balance_leaves_nothing(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)

    send(deployed, deployed.token.functions.redeem(10 * UNIT), "tier1")

    assert (balance(deployed, "tier1"), total_supply(deployed)) == (0, 0)


def test_redeem_more_than_the_balance_reverts_with_insufficient_balance(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)
    fn = deployed.token.functions.redeem(10 * UNIT + 1)

    assert revert_of(deployed, fn, "tier1") == (
        "ERC20InsufficientBalance",
        {"sender": addr(deployed, "tier1"), "balance": 10 * UNIT, "needed": 10 * UNIT + 1},
    )
    assert balance(deployed, "tier1") == 10 * UNIT


# -- ERC-20 basics ----------------------------------------------------------------------


def test_transfer_moves_tokens_and_emits_transfer(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)

    receipt = send(deployed, deployed.token.functions.transfer(addr(deployed, "tier2"), 3 * UNIT), "tier1")

    assert events(deployed, receipt, "Transfer") == [
        {"from": addr(deployed, "tier1"), "to": addr(deployed, "tier2"), "value": 3 * UNIT}
    ]
    assert (balance(deployed, "tier1"), balance(deployed, "tier2")) == (7 * UNIT, 3 * UNIT)
    assert total_supply(deployed) == 10 * UNIT


@pytest.mark.parity
def test_transfer_more_than_the_balance_reverts_with_insufficient_balance(deployed: Deployed) -> None:
    mint(deployed, "tier1", UNIT)
    fn = deployed.token.functions.transfer(addr(deployed, "tier2"), UNIT + 1)

    assert revert_of(deployed, fn, "tier1") == (
        "ERC20InsufficientBalance",
        {"sender": addr(deployed, "tier1"), "balance": UNIT, "needed": UNIT + 1},
    )


def test_transfer_to_the_zero_address_reverts_with_invalid_receiver(deployed: Deployed) -> None:
    mint(deployed, "tier1", UNIT)
    fn = deployed.token.functions.transfer(ZERO_ADDRESS, 1)

    assert revert_of(deployed, fn, "tier1") == ("ERC20InvalidReceiver", {"receiver": ZERO_ADDRESS})


def test_approve_sets_the_allowance_and_emits_approval(deployed: Deployed) -> None:
    receipt = send(deployed, deployed.token.functions.approve(addr(deployed, "core"), 5 * UNIT), "tier1")

    assert events(deployed, receipt, "Approval") == [
        {"owner": addr(deployed, "tier1"), "spender": addr(deployed, "core"), "value": 5 * UNIT}
    ]
    assert allowance(deployed, "tier1", "core") == 5 * UNIT


def test_transfer_from_moves_tokens_and_spends_the_allowance(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)
    send(deployed, deployed.token.functions.approve(addr(deployed, "core"), 5 * UNIT), "tier1")

    fn = deployed.token.functions.transferFrom(addr(deployed, "tier1"), addr(deployed, "tier2"), 2 * UNIT)
    receipt = send(deployed, fn, "core")

    assert events(deployed, receipt, "Transfer") == [
        {"from": addr(deployed, "tier1"), "to": addr(deployed, "tier2"), "value": 2 * UNIT}
    ]
    assert (balance(deployed, "tier1"), balance(deployed, "tier2")) == (8 * UNIT, 2 * UNIT)
    assert allowance(deployed, "tier1", "core") == 3 * UNIT


@pytest.mark.parity
def test_transfer_from_beyond_the_allowance_reverts_with_insufficient_allowance(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)
    send(deployed, deployed.token.functions.approve(addr(deployed, "core"), 2 * UNIT), "tier1")
    fn = deployed.token.functions.transferFrom(addr(deployed, "tier1"), addr(deployed, "tier2"), 2 * UNIT + 1)

    assert revert_of(deployed, fn, "core") == (
        "ERC20InsufficientAllowance",
        {"spender": addr(deployed, "core"), "allowance": 2 * UNIT, "needed": 2 * UNIT + 1},
    )
    assert (balance(deployed, "tier1"), allowance(deployed, "tier1", "core")) == (10 * UNIT, 2 * UNIT)


def test_an_unlimited_allowance_is_not_spent(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)
    send(deployed, deployed.token.functions.approve(addr(deployed, "core"), MAX_UINT256), "tier1")

    fn = deployed.token.functions.transferFrom(addr(deployed, "tier1"), addr(deployed, "tier2"), 4 * UNIT)
    send(deployed, fn, "core")

    assert allowance(deployed, "tier1", "core") == MAX_UINT256
    assert balance(deployed, "tier2") == 4 * UNIT


# -- EIP-2612 permit --------------------------------------------------------------------


@pytest.mark.parity
def test_domain_separator_matches_the_eip712_domain_computed_off_chain(deployed: Deployed) -> None:
    domain_type = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    by_hand = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_type, keccak(text=TOKEN_NAME), keccak(text="1"), deployed.chain.chain_id, deployed.token.address],
        )
    )
    typed = permit_typed_data(deployed, ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0)
    by_eth_account = encode_typed_data(full_message=typed).header

    on_chain = view(deployed, deployed.token.functions.DOMAIN_SEPARATOR())

    assert on_chain == by_hand == by_eth_account


@pytest.mark.parity
def test_eip712_domain_reports_name_version_chain_and_contract(deployed: Deployed) -> None:
    fields, name, version, chain_id, contract, salt, extensions = view(
        deployed, deployed.token.functions.eip712Domain()
    )

    assert (fields, name, version, chain_id, contract) == (
        b"\x0f",
        TOKEN_NAME,
        "1",
        deployed.chain.chain_id,
        deployed.token.address,
    )
    assert (salt, extensions) == (b"\x00" * 32, [])


@pytest.mark.parity
def test_permit_signed_by_the_owner_and_relayed_by_another_account_sets_the_allowance(deployed: Deployed) -> None:
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 3_600
    signed = sign_permit(deployed, deployed.accounts["tier1"], owner, spender, 5 * UNIT, 0, deadline)
    assert nonce(deployed, "tier1") == 0

    receipt = send(deployed, permit_call(deployed, owner, spender, 5 * UNIT, deadline, signed), "relayer")

    assert events(deployed, receipt, "Approval") == [{"owner": owner, "spender": spender, "value": 5 * UNIT}]
    assert allowance(deployed, "tier1", "core") == 5 * UNIT
    assert nonce(deployed, "tier1") == 1
    assert nonce(deployed, "relayer") == 0


def test_a_permitted_spender_can_transfer_from_the_owner(deployed: Deployed) -> None:
    mint(deployed, "tier1", 10 * UNIT)
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 3_600
    signed = sign_permit(deployed, deployed.accounts["tier1"], owner, spender, 5 * UNIT, 0, deadline)
    send(deployed, permit_call(deployed, owner, spender, 5 * UNIT, deadline, signed), "relayer")

    send(deployed, deployed.token.functions.transferFrom(owner, addr(deployed, "tier2"), 5 * UNIT), "core")

    assert (balance(deployed, "tier1"), balance(deployed, "tier2")) == (5 * UNIT, 5 * UNIT)
    assert allowance(deployed, "tier1", "core") == 0


@pytest.mark.parity
def test_a_replayed_permit_reverts_with_invalid_signer(deployed: Deployed) -> None:
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 3_600
    signed = sign_permit(deployed, deployed.accounts["tier1"], owner, spender, 5 * UNIT, 0, deadline)
    call = permit_call(deployed, owner, spender, 5 * UNIT, deadline, signed)
    send(deployed, call, "relayer")
    send(deployed, deployed.token.functions.approve(spender, 0), "tier1")

    # The contract now hashes nonce 1, so the old signature recovers to some unrelated address.
    stale_signer = recovered_signer(deployed, signed, owner, spender, 5 * UNIT, nonce=1, deadline=deadline)
    assert revert_of(deployed, call, "relayer") == ("ERC2612InvalidSigner", {"signer": stale_signer, "owner": owner})
    assert stale_signer != owner
    assert (allowance(deployed, "tier1", "core"), nonce(deployed, "tier1")) == (0, 1)


@pytest.mark.parity
def test_a_permit_past_its_deadline_reverts_with_expired_signature(deployed: Deployed) -> None:
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 60
    signed = sign_permit(deployed, deployed.accounts["tier1"], owner, spender, 5 * UNIT, 0, deadline)
    deployed.chain.advance_time(3_600)

    fn = permit_call(deployed, owner, spender, 5 * UNIT, deadline, signed)

    assert revert_of(deployed, fn, "relayer") == ("ERC2612ExpiredSignature", {"deadline": deadline})
    assert (allowance(deployed, "tier1", "core"), nonce(deployed, "tier1")) == (0, 0)


def test_a_permit_signed_by_the_wrong_key_reverts_with_invalid_signer(deployed: Deployed) -> None:
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 3_600
    signed = sign_permit(deployed, deployed.accounts["tier2"], owner, spender, 5 * UNIT, 0, deadline)

    fn = permit_call(deployed, owner, spender, 5 * UNIT, deadline, signed)

    assert revert_of(deployed, fn, "relayer") == (
        "ERC2612InvalidSigner",
        {"signer": addr(deployed, "tier2"), "owner": owner},
    )
    assert (allowance(deployed, "tier1", "core"), nonce(deployed, "tier1")) == (0, 0)


def test_a_permit_submitted_with_a_different_value_reverts_with_invalid_signer(deployed: Deployed) -> None:
    owner, spender = addr(deployed, "tier1"), addr(deployed, "core")
    deadline = deployed.chain.timestamp() + 3_600
    signed = sign_permit(deployed, deployed.accounts["tier1"], owner, spender, 5 * UNIT, 0, deadline)

    fn = permit_call(deployed, owner, spender, 500 * UNIT, deadline, signed)

    forged_signer = recovered_signer(deployed, signed, owner, spender, 500 * UNIT, nonce=0, deadline=deadline)
    assert revert_of(deployed, fn, "relayer") == ("ERC2612InvalidSigner", {"signer": forged_signer, "owner": owner})
    assert forged_signer != owner
