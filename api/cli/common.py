"""What several commands share: a connected chain, the deployment record, option texts.

Nothing heavy at module level (see ``api.cli``): the ledger is imported when a function runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.eth.artifacts import BuildResult
    from ledger.eth.chain import Chain

CHAIN_HELP = "devnet (default), embedded or an http(s):// RPC URL (default: SCF_CHAIN)"
DB_HELP = "the indexer's database URL (default: SCF_DB_URL, else the devnet's SQLite file)"
KEYSTORE_PASSWORD_HELP = "(password in SCF_KEYSTORE_PASSWORD)"


def connect(setting: str | None, build: BuildResult, *, timeout: float | None = None) -> Chain:
    """The chain ``setting`` names (devnet, embedded, a URL; None: ``SCF_CHAIN``), decoding the
    project's custom errors; ``timeout`` bounds each JSON-RPC request (None: the ledger's default)."""
    from ledger.eth.chain import Chain, ErrorDecoder

    errors = ErrorDecoder(build.artifacts.values())
    if timeout is None:
        return Chain.connect(setting, errors=errors)
    return Chain.connect(setting, errors=errors, timeout=timeout)


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
