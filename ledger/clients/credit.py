"""Typed client of CreditRegistry: a bank signs a limit, anyone publishes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.domain import typed_data
from ledger.domain.typed_data import Domain
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls
from ledger.eth.chain import Chain

LIMIT_FIELDS = [
    {"name": "bank", "type": "address"},
    {"name": "party", "type": "address"},
    {"name": "limit", "type": "uint256"},
    {"name": "score", "type": "uint16"},
    {"name": "grade", "type": "uint8"},
    {"name": "modelHash", "type": "bytes32"},
    {"name": "validUntil", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class CreditLimit:
    bank: str
    party: str
    limit: int
    score: int
    grade: int
    model_hash: bytes
    valid_until: int
    nonce: int

    def message(self) -> dict[str, Any]:
        return {
            "bank": to_checksum_address(self.bank),
            "party": to_checksum_address(self.party),
            "limit": self.limit,
            "score": self.score,
            "grade": self.grade,
            "modelHash": self.model_hash,
            "validUntil": self.valid_until,
            "nonce": self.nonce,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(self.message().values())


class CreditRegistryCalls(ContractCalls):
    """The unsigned calls of CreditRegistry; a bank publishes limits from the command line, not the API."""

    CONTRACT = "CreditRegistry"

    def publish(self, grant: CreditLimit, signature: bytes) -> Call:
        return self.build("publish", grant.as_tuple(), signature)

    def revoke(self, party: str) -> Call:
        return self.build("revoke", to_checksum_address(party))


class CreditRegistryClient:
    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["CreditRegistry"], address)
        self.calls = CreditRegistryCalls(build["CreditRegistry"].abi, self.contract.address)
        self.domain = Domain("CreditRegistry", "1", chain.chain_id, self.contract.address)

    def document(self, grant: CreditLimit) -> dict[str, Any]:
        return typed_data.full_message(self.domain, "CreditLimit", LIMIT_FIELDS, grant.message())

    def sign(self, bank: LocalAccount, grant: CreditLimit) -> bytes:
        return eip712.sign(bank, self.document(grant))

    def publish(self, grant: CreditLimit, signature: bytes, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.publish(grant, signature), sender)

    def grant(self, bank: LocalAccount, party: str, limit: int, valid_until: int, **extra: Any) -> TxReceipt:
        """Sign with the bank's next nonce and publish in one step (the bank pays the gas)."""
        grant = CreditLimit(
            bank=bank.address,
            party=party,
            limit=limit,
            score=int(extra.get("score", 0)),
            grade=int(extra.get("grade", 0)),
            model_hash=bytes(extra.get("model_hash", b"\x00" * 32)),
            valid_until=valid_until,
            nonce=self.nonce(bank.address),
        )
        return self.publish(grant, self.sign(bank, grant), bank)

    def revoke(self, party: str, bank: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.revoke(party), bank)

    def limit_of(self, bank: str, party: str) -> int:
        fn = self.contract.functions.limitOf(to_checksum_address(bank), to_checksum_address(party))
        return int(self.chain.call(fn))

    def nonce(self, bank: str) -> int:
        return int(self.chain.call(self.contract.functions.nonces(to_checksum_address(bank))))
