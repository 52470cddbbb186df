"""EIP-712 typed data: the domain of a deployed contract and the document a party signs.

Signing, digests and recovery are wire code: ``ledger.eth.eip712``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
