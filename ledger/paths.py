"""Where the project's files live. One place, so tests can point everything elsewhere.

A local devnet keeps its runtime files (anvil's state, log, what is running, the index) in
``hardhat-free-devnet/run/``; a devnet on any other port than the configured one keeps them,
and its deployment records, in ``run/port-P/``: two devnets are two chains even though they
share a chain id, so a new port starts from genesis instead of loading another chain's state.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PORT_ENV = "SCF_DEVNET_PORT"


def project_root() -> Path:
    """The checkout holding ``contracts/`` and ``node_modules/`` (``SCF_ROOT`` overrides)."""
    override = os.environ.get("SCF_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parent.parent


def contracts_dir() -> Path:
    return project_root() / "contracts"


def node_modules() -> Path:
    return project_root() / "node_modules"


def build_dir() -> Path:
    return Path(os.environ.get("SCF_BUILD_DIR") or project_root() / "build")


def deployments_dir() -> Path:
    """Deployment records, one per chain id (``SCF_DEPLOYMENTS_DIR`` overrides); those of a devnet
    on another port than the configured one live in its own run folder."""
    override = os.environ.get("SCF_DEPLOYMENTS_DIR")
    if override:
        return Path(override)
    if _other_port(None) is not None:
        return devnet_run_dir() / "deployments"
    return project_root() / "deployments"


def devnet_config_file() -> Path:
    return project_root() / "hardhat-free-devnet" / "devnet.json"


def devnet_run_dir(port: int | None = None) -> Path:
    """Runtime files of the local devnet on ``port`` (default: ``SCF_DEVNET_PORT``, else the
    configured port): anvil's state, its log, and what is running.

    ``SCF_DEVNET_RUN_DIR`` names the folder of one devnet and is taken as it is; otherwise the
    configured port uses ``run/`` and any other port ``run/port-P/``.
    """
    override = os.environ.get("SCF_DEVNET_RUN_DIR")
    if override:
        return Path(override)
    base = project_root() / "hardhat-free-devnet" / "run"
    other = _other_port(port)
    return base if other is None else base / f"port-{other}"


def _other_port(port: int | None) -> int | None:
    """``port`` (default: ``SCF_DEVNET_PORT``) when it is not the configured devnet port, else None."""
    chosen = port or int(os.environ.get(PORT_ENV) or 0)
    if not chosen:
        return None
    try:
        configured = int(json.loads(devnet_config_file().read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        configured = None
    return None if chosen == configured else chosen
