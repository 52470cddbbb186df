"""EIP-712 typed data: the domain of a deployed contract and signing by a party's own key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


@dataclass(frozen=True)
class Domain:
    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


def full_message(domain: Domain, primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> dict[str, Any]:
    """The complete typed-data document a wallet or eth-account signs (eth_signTypedData_v4)."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary: fields},
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": message,
    }


def sign(account: LocalAccount, document: dict[str, Any]) -> bytes:
    """A 65-byte r‖s‖v signature of ``document`` by ``account``."""
    return bytes(Account.sign_typed_data(account.key, full_message=document).signature)


def digest(document: dict[str, Any]) -> bytes:
    """The EIP-712 digest (what the contract's ``_hashTypedDataV4`` computes)."""
    signable = encode_typed_data(full_message=document)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def recover(document: dict[str, Any], signature: bytes) -> str:
    return str(Account.recover_message(encode_typed_data(full_message=document), signature=signature))
