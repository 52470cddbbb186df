"""``scf deploy [--verify] [--chain NETWORK.json]``: deploy what is missing or changed (a no-op when nothing
is), or check the deployed runtime bytecode against the local compile.

With a network file (``ledger.toolchain.network``): the deployer is its ``deployer`` keystore unless
``--keystore`` names one; and when the file names the contracts (the consortium deployed them already),
nothing is deployed: they are checked against the local compile and recorded with their deploy blocks.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import CHAIN_HELP, KEYSTORE_PASSWORD_HELP, connect, deployed_record_path, network_profile
from api.cli.contracts import build_contracts

if TYPE_CHECKING:
    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from ledger.toolchain.deploy import DeployResult
    from ledger.toolchain.network import NetworkProfile


@dataclass(frozen=True)
class Deployed:
    """What ``deploy_contracts`` did on which chain, and where it recorded it."""

    chain_id: int
    endpoint: str
    record: Path
    result: DeployResult

    @property
    def addresses(self) -> dict[str, str]:
        return self.result.addresses


@dataclass(frozen=True)
class Verified:
    """Every contract of the record at ``record`` runs the local compile's bytecode."""

    chain_id: int
    record: Path
    compiler_version: str
    addresses: dict[str, str]


def deploy_contracts(chain: Chain, build: BuildResult, *, keystore: Path | None = None) -> Deployed:
    """Deploy what is missing or changed as the keystore's account (default: the devnet's admin) and
    enrol the devnet's labelled accounts when the admin deployed; the record is written only on change."""
    from ledger.errors import LedgerError
    from ledger.eth.keys import load_keystore
    from ledger.toolchain.deploy import deploy, enrol_dev_members

    record = deployed_record_path(chain.chain_id)
    if keystore is not None:
        deployer = load_keystore(keystore)
    elif chain.accounts is not None:
        deployer = chain.accounts["admin"]
    else:
        raise LedgerError("deploying to a non-development network needs --keystore FILE (and SCF_KEYSTORE_PASSWORD)")
    result = deploy(chain, build, deployer, record)
    if chain.accounts is not None and deployer.address == chain.accounts["admin"].address:
        result.enrolled = enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    return Deployed(chain.chain_id, chain.endpoint, record, result)


def verify_deployment(chain: Chain, build: BuildResult) -> Verified:
    """Compare every recorded contract's runtime code with ``build`` (``VerificationFailed`` on a difference)."""
    from ledger.toolchain.deploy import verify

    record = deployed_record_path(chain.chain_id)
    return Verified(chain.chain_id, record, build.compiler_version, verify(chain, build, record))


def print_deployed(deployed: Deployed) -> None:
    result = deployed.result
    state = "nothing changed, no-op" if not result.deployed else f"deployed {', '.join(result.deployed)}"
    print(f"chain {deployed.chain_id} ({deployed.endpoint}): {state}; record {deployed.record}")
    for name, address in result.addresses.items():
        print(f"  {name:<20} {address}")
    if result.enrolled:
        print(f"  enrolled dev members: {', '.join(result.enrolled)}")


def print_verified(verified: Verified) -> None:
    print(f"verified on chain {verified.chain_id} against solc {verified.compiler_version} ({verified.record}):")
    for name, address in verified.addresses.items():
        print(f"  {name:<20} {address}  runtime matches")


def adopt_deployment(chain: Chain, build: BuildResult, profile: NetworkProfile) -> Adopted:
    """Record the deployment a network file names (nothing is deployed; ``ledger.toolchain.deploy.adopt``)."""
    from ledger.toolchain.deploy import adopt

    record = deployed_record_path(chain.chain_id)
    data = adopt(chain, build, profile.contracts, record, source=str(profile.path))
    blocks = {name: int(entry["blockNumber"]) for name, entry in data["contracts"].items()}
    return Adopted(chain.chain_id, record, dict(profile.contracts), blocks)


@dataclass(frozen=True)
class Adopted:
    """The network file's deployment, checked against the local compile and recorded with its deploy blocks."""

    chain_id: int
    record: Path
    addresses: dict[str, str]
    blocks: dict[str, int]


def print_adopted(adopted: Adopted) -> None:
    print(f"chain {adopted.chain_id}: adopted the network file's deployment; record {adopted.record}")
    for name, address in adopted.addresses.items():
        print(f"  {name:<20} {address}  runtime matches, deployed in block {adopted.blocks[name]}")


def cmd_deploy(args: argparse.Namespace) -> int:
    build = build_contracts()
    chain = connect(args.chain, build)
    if args.verify:
        print_verified(verify_deployment(chain, build))
        return 0
    profile = network_profile(args.chain)
    if profile is not None and profile.contracts:
        print_adopted(adopt_deployment(chain, build, profile))
        return 0
    keystore = Path(args.keystore) if args.keystore else None
    if keystore is None and profile is not None:
        keystore = profile.keystores.get("deployer")
    print_deployed(deploy_contracts(chain, build, keystore=keystore))
    return 0


def register(subparsers: Any) -> None:
    dep = subparsers.add_parser("deploy", help="deploy the contracts (a no-op when unchanged)")
    dep.add_argument("--verify", action="store_true", help="compare deployed runtime bytecode with the local compile")
    dep.add_argument(
        "--keystore",
        help=f"deployer's encrypted keystore (default: a network file's 'deployer') {KEYSTORE_PASSWORD_HELP}",
    )
    dep.add_argument("--chain", help=CHAIN_HELP)
    dep.set_defaults(func=cmd_deploy)
