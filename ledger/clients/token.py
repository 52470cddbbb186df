"""Typed client of the settlement token (ERC-20 with EIP-2612 permit)."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.domain import typed_data
from ledger.domain.addresses import address
from ledger.domain.typed_data import Domain
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls
from ledger.eth.chain import Chain

PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


class TokenCalls(ContractCalls):
    """The unsigned calls of the settlement token; a party approves the ledger's contracts through the API."""

    CONTRACT = "SettlementToken"
    PARTY_CALLS = frozenset({"approve"})

    def mint(self, to: str, amount: int) -> Call:
        return self.build("mint", to_checksum_address(to), amount)

    def approve(self, spender: str, amount: int) -> Call:
        return self.build("approve", to_checksum_address(spender), amount)

    def transfer(self, to: str, amount: int) -> Call:
        return self.build("transfer", to_checksum_address(to), amount)


class TokenClient:
    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["SettlementToken"], address)
        self.address = self.contract.address
        self.calls = TokenCalls(build["SettlementToken"].abi, self.address)
        self._domain: Domain | None = None

    @property
    def domain(self) -> Domain:
        if self._domain is None:
            name = str(self.chain.call(self.contract.functions.name()))
            self._domain = Domain(name, "1", self.chain.chain_id, self.address)
        return self._domain

    def mint(self, to: str, amount: int, bank: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.mint(to, amount), bank)

    def approve(self, spender: str, amount: int, owner: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.approve(spender, amount), owner)

    def transfer(self, to: str, amount: int, sender: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.transfer(to, amount), sender)

    def balance_of(self, holder: str) -> int:
        return int(self.chain.call(self.contract.functions.balanceOf(to_checksum_address(holder))))

    def symbol(self) -> str:
        return str(self.chain.call(self.contract.functions.symbol()))

    def decimals(self) -> int:
        return int(self.chain.call(self.contract.functions.decimals()))

    def allowance(self, owner: str, spender: str) -> int:
        fn = self.contract.functions.allowance(to_checksum_address(owner), to_checksum_address(spender))
        return int(self.chain.call(fn))

    def nonce(self, owner: str) -> int:
        return int(self.chain.call(self.contract.functions.nonces(to_checksum_address(owner))))

    def permit_document(self, owner: str, spender: str, value: int, nonce: int, deadline: int) -> dict[str, Any]:
        message = {
            # address(): to_checksum_address, cached (a batch of permits comes from a few hundred owners).
            "owner": address(owner),
            "spender": address(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        }
        return typed_data.full_message(self.domain, "Permit", PERMIT_FIELDS, message)

    def sign_permit(
        self, owner: LocalAccount, spender: str, value: int, deadline: int
    ) -> tuple[int, int, bytes, bytes]:
        """(deadline, v, r, s) of a permit for ``spender`` signed with the owner's key."""
        document = self.permit_document(owner.address, spender, value, self.nonce(owner.address), deadline)
        signature = eip712.sign(owner, document)
        return deadline, signature[64], signature[:32], signature[32:64]
