"""Deploy the contracts in dependency order, record them, and verify them against the compile.

A deployment record (``deployments/<chainId>.json``) names every address with its deploy
block, the compiler and the runtime-bytecode hash. Deploying again with unchanged code is a
no-op; a changed contract is redeployed together with everything that depends on it.
Runtime code is compared with immutables masked, the way block explorers verify.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from ledger import paths
from ledger.errors import (
    BytecodeMismatch,
    ChainUnavailable,
    DeploymentError,
    DeploymentMissing,
    DeploymentOfAnotherChain,
    VerificationFailed,
)
from ledger.eth.accounts import DevAccounts
from ledger.eth.artifacts import Artifact, BuildResult
from ledger.eth.chain import Chain

RECORD_FORMAT = 1
ZERO_HASH = b"\x00" * 32
TOKEN_NAME = "SCF Deposit USD"
TOKEN_SYMBOL = "dUSD"

# Role flags of contracts/Roles.sol and oracle kinds of IMembership.OracleKind.
ROLE = {"admin": 1, "core": 2, "supplier": 4, "bank": 8, "oracle": 16, "arbiter": 32, "auditor": 64}
ORACLE_KIND = {"none": 0, "carrier": 1, "inspector": 2, "customs": 3}

# Dev account label → (roles, oracle kind) enrolled on devnets; "relayer" only pays gas.
DEV_MEMBERS: dict[str, tuple[int, int]] = {
    "core": (ROLE["core"], 0),
    "tier1": (ROLE["supplier"], 0),
    "tier2": (ROLE["supplier"], 0),
    "tier3": (ROLE["supplier"], 0),
    "bank": (ROLE["bank"], 0),
    "carrier": (ROLE["oracle"], ORACLE_KIND["carrier"]),
    "inspector": (ROLE["oracle"], ORACLE_KIND["inspector"]),
    "auditor": (ROLE["auditor"], 0),
    "arbiter": (ROLE["arbiter"], 0),
}


@dataclass(frozen=True)
class Step:
    name: str
    depends_on: tuple[str, ...]
    args: Callable[[Mapping[str, str], LocalAccount], list[Any]]


PLAN: tuple[Step, ...] = (
    Step("Membership", (), lambda _deployed, deployer: [deployer.address, ZERO_HASH]),
    Step("SettlementToken", ("Membership",), lambda d, _deployer: [d["Membership"], TOKEN_NAME, TOKEN_SYMBOL]),
    Step("CreditRegistry", ("Membership", "SettlementToken"), lambda d, _: [d["Membership"], d["SettlementToken"]]),
    Step("TradeEscrow", ("Membership", "CreditRegistry"), lambda d, _: [d["Membership"], d["CreditRegistry"]]),
    Step(
        "Receivables",
        ("Membership", "SettlementToken", "TradeEscrow"),
        lambda d, _: [d["Membership"], d["SettlementToken"], d["TradeEscrow"]],
    ),
)


@dataclass
class DeployResult:
    chain_id: int
    addresses: dict[str, str]
    deployed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    record_path: Path | None = None
    enrolled: list[str] = field(default_factory=list)


def masked_runtime(code: bytes, artifact: Artifact) -> bytes:
    """Runtime code with immutable slots zeroed: what the compiler emits before deploy."""
    out = bytearray(code)
    for refs in artifact.immutable_references.values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            out[start : start + length] = b"\x00" * length
    return bytes(out)


def runtime_hash(artifact: Artifact) -> str:
    return "0x" + keccak(bytes.fromhex(artifact.deployed_bytecode)).hex()


def compare_runtime(chain: Chain, artifact: Artifact, address: str) -> str | None:
    """Why the code at ``address`` is not ``artifact``'s runtime, or None when it is."""
    code = bytes(chain.w3.eth.get_code(to_checksum_address(address)))
    expected = bytes.fromhex(artifact.deployed_bytecode)
    if not code:
        return "no code at this address"
    if len(code) != len(expected):
        return f"runtime is {len(code)} bytes, the local compile {len(expected)}"
    masked = masked_runtime(code, artifact)
    if masked != expected:
        offset = next(i for i, (a, b) in enumerate(zip(masked, expected, strict=True)) if a != b)
        return f"runtime differs from the local compile at byte {offset}"
    return None


def record_path_for(directory: Path, chain_id: int) -> Path:
    return directory / f"{chain_id}.json"


def load_record(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def recorded_deployment(chain_id: int, path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The deployment record at ``path`` (default: deployments/<chainId>.json) and where it was read;
    ``DeploymentMissing`` when there is none, ``DeploymentOfAnotherChain`` when it names another chain."""
    path = path or record_path_for(paths.deployments_dir(), chain_id)
    record = load_record(path)
    if record is None:
        raise DeploymentMissing(chain_id, str(path))
    if record.get("chainId") != chain_id:
        raise DeploymentOfAnotherChain(str(path), record.get("chainId"), chain_id)
    return path, record


def record_addresses(record: dict[str, Any]) -> dict[str, str]:
    """Contract name → address of a deployment record."""
    return {name: str(entry["address"]) for name, entry in record["contracts"].items()}


def deploy(
    chain: Chain,
    build: BuildResult,
    deployer: LocalAccount,
    record_path: Path | None,
    *,
    plan: tuple[Step, ...] = PLAN,
) -> DeployResult:
    """Deploy what is missing or changed; write the record only when something changed."""
    previous = (load_record(record_path) if record_path else None) or {}
    if previous and previous.get("chainId") != chain.chain_id:
        raise DeploymentError(f"{record_path} is for chain {previous.get('chainId')}, not {chain.chain_id}")
    old_contracts: dict[str, Any] = previous.get("contracts", {})
    result = DeployResult(chain.chain_id, {}, record_path=record_path)
    entries: dict[str, Any] = {}
    for step in plan:
        artifact = build[step.name]
        old = old_contracts.get(step.name)
        deps_kept = all(dep in result.reused for dep in step.depends_on)
        if (
            old
            and deps_kept
            and old.get("runtimeHash") == runtime_hash(artifact)
            and compare_runtime(chain, artifact, old["address"]) is None
        ):
            result.addresses[step.name] = old["address"]
            result.reused.append(step.name)
            entries[step.name] = old
            continue
        args = step.args(result.addresses, deployer)
        receipt = chain.deploy(artifact, args, deployer)
        created = receipt["contractAddress"]
        assert created is not None, "a deploy receipt always names the new contract"
        address = to_checksum_address(created)
        result.addresses[step.name] = address
        result.deployed.append(step.name)
        entries[step.name] = {
            "address": address,
            "blockNumber": int(receipt["blockNumber"]),
            "blockHash": HexBytes(receipt["blockHash"]).to_0x_hex(),
            "txHash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
            "runtimeHash": runtime_hash(artifact),
            "sourceHash": artifact.source_hash,
            "constructorArgs": [_jsonable(a) for a in args],
        }
    if record_path is not None and (result.deployed or not previous):
        record = {
            "format": RECORD_FORMAT,
            "chainId": chain.chain_id,
            "deployer": deployer.address,
            "deployedAt": int(time.time()),
            "compiler": {"version": build.compiler_version, "backend": build.backend, "inputHash": build.input_hash},
            "contracts": entries,
        }
        record_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(record_path)
    return result


def verify(chain: Chain, build: BuildResult, record_path: Path) -> dict[str, str]:
    """Check every recorded contract's runtime code against the local compile."""
    record = load_record(record_path)
    if record is None:
        raise DeploymentMissing(chain.chain_id, str(record_path))
    mismatches = []
    for name, entry in record["contracts"].items():
        if name not in build.artifacts:
            mismatches.append(BytecodeMismatch(name, entry["address"], "no such contract in the local compile"))
            continue
        reason = compare_runtime(chain, build[name], entry["address"])
        if reason:
            mismatches.append(BytecodeMismatch(name, entry["address"], reason))
    if mismatches:
        raise VerificationFailed(mismatches)
    return {name: entry["address"] for name, entry in record["contracts"].items()}


def adopt(
    chain: Chain, build: BuildResult, addresses: Mapping[str, str], record_path: Path, *, source: str
) -> dict[str, Any]:
    """Record a deployment someone else made (a network file's ``contracts``) as this machine's record.

    Nothing is deployed. Every contract's runtime must be the local compile's (``VerificationFailed``
    otherwise: a member must not index or sign against code it did not review), and each one's deploy
    block is found by bisecting ``eth_getCode`` over the chain's history, so that the indexer starts
    there and not at block 0. A node that keeps no state that old (a pruned, non-archive node) answers
    the bisection with an error; the contract's block is then recorded as 0, and the indexer reads the
    whole chain once. The record says where the addresses came from (``adoptedFrom``); it is rewritten
    only when the addresses or the compile changed.
    """
    mismatches = []
    for name, address in addresses.items():
        reason = compare_runtime(chain, build[name], address)
        if reason is not None:
            mismatches.append(BytecodeMismatch(name, address, reason))
    if mismatches:
        raise VerificationFailed(mismatches)
    previous = load_record(record_path) or {}
    old = previous.get("contracts", {})
    head = chain.block_number
    entries: dict[str, Any] = {}
    for name, address in addresses.items():
        kept = old.get(name)
        if kept and kept.get("address") == address and kept.get("runtimeHash") == runtime_hash(build[name]):
            entries[name] = kept
            continue
        entries[name] = {
            "address": address,
            "blockNumber": _first_block_with_code(chain, address, head),
            "runtimeHash": runtime_hash(build[name]),
            "sourceHash": build[name].source_hash,
        }
    record = {
        "format": RECORD_FORMAT,
        "chainId": chain.chain_id,
        "adoptedFrom": source,
        "deployedAt": previous.get("deployedAt", int(time.time())),
        "compiler": {"version": build.compiler_version, "backend": build.backend, "inputHash": build.input_hash},
        "contracts": entries,
    }
    if record != previous:
        record_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(record_path)
    return record


def _first_block_with_code(chain: Chain, address: str, head: int) -> int:
    """The block that created the code at ``address`` (it has code at ``head``), or 0 without history."""
    target = to_checksum_address(address)
    low, high = 0, head
    try:
        while low < high:
            middle = (low + high) // 2
            if chain.w3.eth.get_code(target, middle):
                high = middle
            else:
                low = middle + 1
    except ChainUnavailable:
        raise
    except Exception:  # a pruned node refuses state it no longer keeps, each client in its own words
        return 0
    return low


def enrol_dev_members(chain: Chain, build: BuildResult, membership: str, accounts: DevAccounts) -> list[str]:
    """Admit the devnet's labelled accounts with their roles; members already in are skipped."""
    contract = chain.contract(build["Membership"], membership)
    admin = accounts["admin"]
    calls = []
    for label, (roles, kind) in DEV_MEMBERS.items():
        if label not in accounts.by_role:
            continue
        party = accounts[label].address
        if chain.call(contract.functions.memberOf(party))[2] != 0:  # Status.NONE
            continue
        kyc = keccak(text=f"devnet-kyc:{label}")
        calls.append((label, contract.functions.admit(party, roles, kind, kyc)))
    chain.transact_batch([(fn, admin) for _, fn in calls])
    return [label for label, _ in calls]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
