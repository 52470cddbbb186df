"""Shared kit of the request inboxes' HTTP tests (tests/api/v1/test_financing_inbox.py, test_prepayments.py): the
parties of a market on a chain of the module's own, signed in once each, and a second active bank admitted.

Each test module's ``Market`` extends ``Parties`` with its own steps (a piece or an order, asking, offering); what
is here is only what both speak the same way: who a party is, its address, and its sign-in headers.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi.testclient import TestClient

from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World


@dataclasses.dataclass
class Parties:
    """The world's parties as a test speaks for them: a name (``"tier1"``) or an account of its own."""

    world: World
    other_bank: LocalAccount  # a second active bank
    headers_of: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict, kw_only=True)
    numbers: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1), kw_only=True)

    @property
    def client(self) -> TestClient:
        return self.world.client

    def account(self, who: str | LocalAccount) -> LocalAccount:
        return who if isinstance(who, LocalAccount) else self.world.account(who)

    def address(self, who: str | LocalAccount) -> str:
        return self.account(who).address

    def headers(self, who: str | LocalAccount) -> dict[str, str]:
        """Each party signs in once per module (a token lasts the module)."""
        address = self.address(who)
        if address not in self.headers_of:
            self.headers_of[address] = self.world.sign_in(self.account(who))
        return self.headers_of[address]


def admit_bank(world: World, name: str) -> LocalAccount:
    """A second bank, its key derived from ``name``, admitted as an active member by the world's admin."""
    bank = Account.from_key(keccak(text=f"scf {name} tests: a second bank"))
    membership = world.chain.contract(world.deployed.build["Membership"], world.deployed.addresses["Membership"])
    world.chain.transact(
        membership.functions.admit(bank.address, ROLE["bank"], 0, keccak(text=f"kyc {name} bank")),
        world.account("admin"),
    )
    return bank
