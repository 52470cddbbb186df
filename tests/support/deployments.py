"""The ledger as tests see it once deployed: ``Deployed`` and the one way to deploy it on a chain.

``tests/conftest.py`` declares the fixtures (``deployed_session``, ``deployed``, one ledger per
backend) and nothing else; this module holds what they hand out, so that test modules and
helpers name the type from the support kit, never from a conftest (a conftest is pytest's to
load, and one imported as a library grows into a second helper module nobody can find).
``tests/support/chains.py`` builds the same ``Deployed`` for a suite that needs an anvil of its own.

``BACKENDS`` lists the chain backends a ledger is deployed on, anvil first: a test runs on the
first unless it is marked parity (see ``tests/conftest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract

from ledger.clients.credit import CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.eth.accounts import DevAccounts
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.toolchain.deploy import deploy, enrol_dev_members

BACKENDS = ("anvil", "embedded")


@dataclass
class Deployed:
    """The ledger's contracts on one chain: their addresses, the build they came from, the dev accounts.

    Each contract property builds a new client (or web3 contract) on every access."""

    backend: str
    chain: Chain
    build: BuildResult
    accounts: DevAccounts
    addresses: dict[str, str]

    @property
    def membership(self) -> Contract:
        return self.chain.contract(self.build["Membership"], self.addresses["Membership"])

    @property
    def token(self) -> Contract:
        return self.chain.contract(self.build["SettlementToken"], self.addresses["SettlementToken"])

    @property
    def escrow(self) -> TradeEscrowClient:
        return TradeEscrowClient(self.chain, self.build, self.addresses["TradeEscrow"])

    @property
    def receivables(self) -> ReceivablesClient:
        return ReceivablesClient(self.chain, self.build, self.addresses["Receivables"])

    @property
    def registry(self) -> CreditRegistryClient:
        return CreditRegistryClient(self.chain, self.build, self.addresses["CreditRegistry"])

    @property
    def tokens(self) -> TokenClient:
        return TokenClient(self.chain, self.build, self.addresses["SettlementToken"])


def deploy_ledger(backend: str, chain: Chain, build: BuildResult) -> Deployed:
    """Deploy every contract on ``chain`` from its dev admin and enrol the dev members (no record on disk)."""
    assert chain.accounts is not None
    result = deploy(chain, build, chain.accounts["admin"], None)
    enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    return Deployed(backend, chain, build, chain.accounts, result.addresses)
