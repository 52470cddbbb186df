"""What several commands share: a connected chain, the deployment record, option texts.

Nothing heavy at module level (see ``api.cli``): the ledger is imported when a function runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain
    from ledger.toolchain.network import NetworkProfile

CHAIN_HELP = "devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)"
DB_HELP = "the indexer's database URL (default: SCF_DB_URL, else the devnet's SQLite file)"
KEYSTORE_PASSWORD_HELP = "(password in SCF_KEYSTORE_PASSWORD)"


def connect(setting: str | None, build: BuildResult, *, timeout: float | None = None) -> Chain:
    """The chain ``setting`` names (devnet, embedded, a URL, or a network file: ``ledger.toolchain.network``;
    None: ``SCF_CHAIN``), decoding the project's custom errors; ``timeout`` bounds each JSON-RPC request (None:
    the ledger's default). A network file's RPC URLs are used in order (the next when one cannot be reached),
    its chain id must be the node's, and its gas policy prices every transaction sent."""
    from ledger.eth.chain import RPC_TIMEOUT, Chain, ErrorDecoder
    from ledger.toolchain.network import NetworkMismatch

    errors = ErrorDecoder(build.artifacts.values())
    deadline = RPC_TIMEOUT if timeout is None else timeout
    profile = network_profile(setting)
    if profile is None:
        return Chain.connect(setting, errors=errors, timeout=deadline)
    chain = Chain.http(
        profile.rpc_urls[0], backend="rpc", errors=errors, timeout=deadline, fallbacks=profile.rpc_urls[1:]
    )
    if chain.chain_id != profile.chain_id:
        raise NetworkMismatch(str(profile.path), chain.endpoint, chain.chain_id, profile.chain_id)
    chain.fees = profile.fee_policy()
    return chain


def network_profile(setting: str | None) -> NetworkProfile | None:
    """The network file a chain setting names (``--chain``, else ``SCF_CHAIN``), or None for devnet, embedded, a URL."""
    from ledger.toolchain.network import is_network_file, load_network

    setting = setting or os.environ.get("SCF_CHAIN")
    return load_network(Path(setting)) if setting is not None and is_network_file(setting) else None


def finality(setting: str | None, given: int | None) -> int | None:
    """Confirmations to wait: ``given`` when given, else the network file's ``finalityDepth``, else None (the
    command's own default, which assumes nothing about finality)."""
    if given is not None:
        return given
    profile = network_profile(setting)
    return None if profile is None else profile.finality_depth


def deployed_addresses(chain: Chain, record: Path | None = None) -> tuple[Path, dict[str, str]]:
    """Where the deployment on ``chain`` is recorded (``record``, else deployments/<chainId>.json) and its
    contract name → address; ``DeploymentMissing`` when ``scf deploy`` has not run on this chain."""
    from ledger.toolchain.deploy import record_addresses, recorded_deployment

    path, data = recorded_deployment(chain.chain_id, record)
    return path, record_addresses(data)


def deployed_record_path(chain_id: int) -> Path:
    """deployments/<chainId>.json: where ``scf deploy`` records a deployment (the directory is SCF_DEPLOYMENTS_DIR)."""
    from ledger import paths
    from ledger.toolchain.deploy import record_path_for

    return record_path_for(paths.deployments_dir(), chain_id)
