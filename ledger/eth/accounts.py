"""Deterministic development accounts, labelled by role.

The mnemonic is anvil's public test mnemonic: these keys fund nothing outside a devnet and
must never hold value. Anvil and the embedded eth-tester chain both fund the same
derivation, so a role has the same address on every local backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import paths

Account.enable_unaudited_hdwallet_features()

HD_PATH = "m/44'/60'/0'/0/{index}"


@dataclass(frozen=True)
class DevnetConfig:
    host: str
    port: int
    chain_id: int
    mnemonic: str
    balance_eth: int
    gas_limit: int
    block_time: float
    hardfork: str
    state_interval: int
    roles: tuple[str, ...]

    @classmethod
    def load(cls, path: Path | None = None) -> DevnetConfig:
        raw: dict[str, Any] = json.loads((path or paths.devnet_config_file()).read_text())
        return cls(
            host=raw["host"],
            port=int(raw["port"]),
            chain_id=int(raw["chainId"]),
            mnemonic=raw["mnemonic"],
            balance_eth=int(raw["balanceEth"]),
            gas_limit=int(raw["gasLimit"]),
            block_time=float(raw["blockTime"]),
            hardfork=raw["hardfork"],
            state_interval=int(raw["stateInterval"]),
            roles=tuple(raw["roles"]),
        )


@dataclass(frozen=True)
class DevAccounts:
    """Role label → funded local account, in the order the devnet derives them."""

    by_role: dict[str, LocalAccount]

    def __getitem__(self, role: str) -> LocalAccount:
        try:
            return self.by_role[role]
        except KeyError:
            raise KeyError(f"no dev account for role {role!r}; known: {', '.join(self.by_role)}") from None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.by_role.items())

    def __len__(self) -> int:
        return len(self.by_role)

    def addresses(self) -> dict[str, str]:
        return {role: acct.address for role, acct in self.by_role.items()}


@lru_cache(maxsize=1024)
def derive(mnemonic: str, index: int) -> LocalAccount:
    return Account.from_mnemonic(mnemonic, account_path=HD_PATH.format(index=index))


def dev_accounts(config: DevnetConfig | None = None) -> DevAccounts:
    config = config or DevnetConfig.load()
    return DevAccounts({role: derive(config.mnemonic, i) for i, role in enumerate(config.roles)})
