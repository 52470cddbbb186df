"""Network profiles: what a deployment on a real EVM network needs to know, in one file the operator keeps.

A devnet is assumed nowhere a network file is given. The file (JSON) names the chain and how to use it::

    {
      "name": "consortium-qbft",
      "chainId": 1337,
      "rpcUrls": ["https://rpc-1.example:8545", "https://rpc-2.example:8545"],
      "finalityDepth": 0,
      "gasPrice": {"policy": "zero"},
      "keystores": {"deployer": "keys/deployer.json", "relayer": "keys/relayer.json"},
      "contracts": {"Membership": "0x…", "SettlementToken": "0x…", "CreditRegistry": "0x…",
                    "TradeEscrow": "0x…", "Receivables": "0x…"}
    }

* ``rpcUrls``: one or more http(s) JSON-RPC endpoints of the same chain, tried in order.
* ``finalityDepth``: blocks below the head that count as final. 0 for an immediate-finality network (Besu
  QBFT, IBFT 2.0); a probabilistic chain needs more. The indexer and the scorer read no deeper than this.
* ``gasPrice.policy``: ``zero`` (a permissioned network with free gas: ``min-gas-price=0``; every
  transaction is priced 0), ``eip1559`` (the node's base fee, with ``maxFeePerGasGwei`` as a cap), or
  ``legacy`` (``gasPriceGwei``, fixed).
* ``keystores``: role → an encrypted keystore file (relative paths are relative to the network file);
  never a raw key.
* ``contracts``: the deployment's addresses, when the network already has one: ``scf deploy`` then
  deploys nothing, checks each runtime against the local compile and records them with their deploy
  blocks (``ledger.toolchain.deploy.adopt``). Without them ``scf deploy`` deploys as the ``deployer``
  keystore and records the addresses in ``deployments/<chainId>.json`` as on a devnet.

What the services do with the rest: the RPC URLs fail over in order (``ledger.eth.chain``), the gas
policy prices every transaction (``ledger.eth.fees``), and the finality depth is the indexer's and the
scorer's confirmations, with a reorg of a final block refused (``ledger.index.errors.FinalityViolated``).

``load_network`` parses and checks the file at the boundary (``NetworkFileInvalid`` names the field and
what to write instead); nothing here talks to the node: ``scf network check`` does (``api.cli.network``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from eth_utils import is_hex_address, to_checksum_address

from ledger.errors import LedgerError
from ledger.eth.fees import FeePolicy

GasPolicy = Literal["zero", "eip1559", "legacy"]
GAS_POLICIES: tuple[GasPolicy, ...] = ("zero", "eip1559", "legacy")
CONTRACT_NAMES = ("Membership", "SettlementToken", "CreditRegistry", "TradeEscrow", "Receivables")
#: The largest file read: a profile is a few hundred bytes; anything this big is not one.
MAX_BYTES = 64 * 1024
#: A chain id fits in 64 bits here (EIP-2294 bounds it far lower in practice).
MAX_CHAIN_ID = 2**63 - 1
MAX_FINALITY = 10_000
MAX_GWEI = 1_000_000
FIELDS = {"name", "chainId", "rpcUrls", "finalityDepth", "gasPrice", "keystores", "contracts"}


class NetworkFileError(LedgerError):
    """Root of the errors of reading a network file."""


class NetworkFileInvalid(NetworkFileError):
    """The file is not a network profile: ``where`` names the field, ``reason`` what is wrong and what to write."""

    def __init__(self, path: str, where: str, reason: str) -> None:
        self.path = path
        self.where = where
        self.reason = reason
        super().__init__(f"{path}: {where}: {reason}")


class NetworkMismatch(NetworkFileError):
    """The node at a profile's URL serves another chain than the profile names."""

    def __init__(self, path: str, url: str, found: int, expected: int) -> None:
        self.path = path
        self.url = url
        self.found = found
        self.expected = expected
        super().__init__(f"{url} serves chain {found}, but the network file {path} names chain {expected}")


@dataclass(frozen=True)
class GasPrice:
    policy: GasPolicy
    max_fee_gwei: int | None = None  # eip1559: the cap on maxFeePerGas
    gas_price_gwei: int | None = None  # legacy: the fixed price

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": self.policy}
        if self.max_fee_gwei is not None:
            out["maxFeePerGasGwei"] = self.max_fee_gwei
        if self.gas_price_gwei is not None:
            out["gasPriceGwei"] = self.gas_price_gwei
        return out


@dataclass(frozen=True)
class NetworkProfile:
    path: Path
    name: str
    chain_id: int
    rpc_urls: tuple[str, ...]
    finality_depth: int
    gas_price: GasPrice
    keystores: dict[str, Path] = field(default_factory=dict)
    contracts: dict[str, str] = field(default_factory=dict)

    def fee_policy(self) -> FeePolicy:
        """The gas policy as the signers apply it (``ledger.eth.fees``)."""
        gas = self.gas_price
        return FeePolicy.of_gwei(gas.policy, cap_gwei=gas.max_fee_gwei, price_gwei=gas.gas_price_gwei)

    def to_json(self) -> dict[str, Any]:
        """The profile as a file would state it (keystores as given paths, addresses checksummed)."""
        return {
            "name": self.name,
            "chainId": self.chain_id,
            "rpcUrls": list(self.rpc_urls),
            "finalityDepth": self.finality_depth,
            "gasPrice": self.gas_price.to_json(),
            "keystores": {role: str(p) for role, p in self.keystores.items()},
            "contracts": dict(self.contracts),
        }


def is_network_file(setting: str | None) -> bool:
    """Whether a ``--chain`` setting names a network file rather than devnet, embedded or a URL."""
    return bool(setting) and str(setting).endswith(".json") and not str(setting).startswith(("http://", "https://"))


def load_network(path: Path) -> NetworkProfile:
    """The profile in ``path``, checked field by field (``NetworkFileInvalid`` otherwise)."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NetworkFileInvalid(where, "file", f"cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > MAX_BYTES:
        raise NetworkFileInvalid(where, "file", f"{len(raw)} bytes: a network profile is a small JSON object")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NetworkFileInvalid(where, "file", f"not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise NetworkFileInvalid(where, "file", "must be a JSON object with chainId, rpcUrls, finalityDepth, gasPrice")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise NetworkFileInvalid(where, unknown[0], f"unknown field; the fields are {', '.join(sorted(FIELDS))}")
    return NetworkProfile(
        path=path,
        name=_name(where, body.get("name", path.stem)),
        chain_id=_int(where, "chainId", body.get("chainId"), 1, MAX_CHAIN_ID),
        rpc_urls=_urls(where, body.get("rpcUrls")),
        finality_depth=_int(where, "finalityDepth", body.get("finalityDepth"), 0, MAX_FINALITY),
        gas_price=_gas(where, body.get("gasPrice")),
        keystores=_keystores(where, path.parent, body.get("keystores", {})),
        contracts=_contracts(where, body.get("contracts", {})),
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a network file may hold")


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not value.isprintable():
        raise NetworkFileInvalid(where, "name", "a printable name of 1 to 64 characters")
    return value


def _int(where: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and not math.isfinite(value):
            raise NetworkFileInvalid(where, name, "must be a whole number, not NaN or infinity")
        raise NetworkFileInvalid(where, name, f"a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise NetworkFileInvalid(where, name, f"from {low} to {high}, got {value}")
    return value


def _urls(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= 16:
        raise NetworkFileInvalid(where, "rpcUrls", "a list of 1 to 16 http(s):// JSON-RPC URLs of this chain")
    urls = []
    for i, url in enumerate(value):
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > 2048:
            raise NetworkFileInvalid(where, f"rpcUrls[{i}]", f"an http(s):// URL with a host, got {url!r}")
        urls.append(url)
    return tuple(urls)


def _gas(where: str, value: Any) -> GasPrice:
    if not isinstance(value, dict) or value.get("policy") not in GAS_POLICIES:
        raise NetworkFileInvalid(where, "gasPrice.policy", f"one of {', '.join(GAS_POLICIES)}")
    policy: GasPolicy = value["policy"]
    allowed = {"zero": {"policy"}, "eip1559": {"policy", "maxFeePerGasGwei"}, "legacy": {"policy", "gasPriceGwei"}}
    extra = sorted(set(value) - allowed[policy])
    if extra:
        raise NetworkFileInvalid(where, f"gasPrice.{extra[0]}", f"not a setting of the {policy} policy")
    if policy == "legacy":
        return GasPrice(
            policy, gas_price_gwei=_int(where, "gasPrice.gasPriceGwei", value.get("gasPriceGwei"), 0, MAX_GWEI)
        )
    if policy == "eip1559" and "maxFeePerGasGwei" in value:
        cap = _int(where, "gasPrice.maxFeePerGasGwei", value["maxFeePerGasGwei"], 1, MAX_GWEI)
        return GasPrice(policy, max_fee_gwei=cap)
    return GasPrice(policy)


def _keystores(where: str, base: Path, value: Any) -> dict[str, Path]:
    if not isinstance(value, dict) or len(value) > 32:
        raise NetworkFileInvalid(where, "keystores", "an object of role → keystore file path")
    found = {}
    for role, file in value.items():
        if not isinstance(file, str) or not file or "\x00" in file:
            raise NetworkFileInvalid(where, f"keystores.{role}", "the path of an encrypted keystore file")
        if file.lstrip().startswith("0x") and len(file.strip()) == 66:
            raise NetworkFileInvalid(where, f"keystores.{role}", "a raw private key: name an encrypted keystore file")
        found[str(role)] = (base / file) if not Path(file).is_absolute() else Path(file)
    return found


def _contracts(where: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise NetworkFileInvalid(where, "contracts", "an object of contract name → address")
    unknown = sorted(set(value) - set(CONTRACT_NAMES))
    if unknown:
        raise NetworkFileInvalid(
            where, f"contracts.{unknown[0]}", f"not a ledger contract ({', '.join(CONTRACT_NAMES)})"
        )
    if value and set(value) != set(CONTRACT_NAMES):
        missing = sorted(set(CONTRACT_NAMES) - set(value))
        raise NetworkFileInvalid(where, f"contracts.{missing[0]}", "a deployment names all five contracts, or none")
    found: dict[str, str] = {}
    for name, address in value.items():
        if not isinstance(address, str) or not is_hex_address(address):
            raise NetworkFileInvalid(where, f"contracts.{name}", f"a 0x address of 40 hex digits, got {address!r}")
        found[name] = to_checksum_address(address)
    return found
