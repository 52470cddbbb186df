"""Typed client of Membership: who is admitted, with which roles, and the administrator's calls.

Sign-in (``api.v1.auth``), the scenarios and the command line ask ``member_of``; admissions
go through ``MembershipCalls`` like every other contract call (``ledger.eth.calls``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.eth.artifacts import BuildResult
from ledger.eth.calls import Call, ContractCalls
from ledger.eth.chain import Chain


class MemberStatus(IntEnum):
    """IMembership.Status."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class Member(NamedTuple):
    """IMembership.Member; unpacks like the view's tuple."""

    roles: int
    oracle_kind: int
    status: int
    kyc_hash: bytes
    admitted_at: int

    @property
    def admitted(self) -> bool:
        """Ever admitted (active or suspended); ``NONE`` is an address Membership never heard of."""
        return self.status != MemberStatus.NONE


class MembershipCalls(ContractCalls):
    """The unsigned calls of Membership: administration only, so no party call."""

    CONTRACT = "Membership"

    def admit(self, party: str, roles: int, kind: int, kyc_hash: bytes) -> Call:
        return self.build("admit", to_checksum_address(party), roles, kind, kyc_hash)

    def suspend(self, party: str, reason_hash: bytes) -> Call:
        return self.build("suspend", to_checksum_address(party), reason_hash)

    def reinstate(self, party: str) -> Call:
        return self.build("reinstate", to_checksum_address(party))


class MembershipClient:
    """Membership at ``address`` on ``chain``."""

    def __init__(self, chain: Chain, build: BuildResult, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(build["Membership"], address)
        self.address = self.contract.address
        self.calls = MembershipCalls(build["Membership"].abi, self.address)

    @classmethod
    def of(cls, chain: Chain, contract: Contract) -> MembershipClient:
        """The client of an already bound Membership ``contract`` (callers holding a web3 contract)."""
        client = cls.__new__(cls)
        client.chain = chain
        client.contract = contract
        client.address = contract.address
        client.calls = MembershipCalls(contract.abi, contract.address)
        return client

    def member_of(self, party: str) -> Member:
        roles, kind, status, kyc, admitted = self.chain.call(
            self.contract.functions.memberOf(to_checksum_address(party))
        )
        return Member(int(roles), int(kind), int(status), bytes(kyc), int(admitted))

    def admit(self, party: str, roles: int, kind: int, kyc_hash: bytes, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.admit(party, roles, kind, kyc_hash), admin)

    def suspend(self, party: str, reason_hash: bytes, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.suspend(party, reason_hash), admin)

    def reinstate(self, party: str, admin: LocalAccount) -> TxReceipt:
        return self.chain.send(self.calls.reinstate(party), admin)
