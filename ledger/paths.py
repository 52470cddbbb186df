"""Where the project's files live. One place, so tests can point everything elsewhere."""

from __future__ import annotations

import os
from pathlib import Path


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
    return Path(os.environ.get("SCF_DEPLOYMENTS_DIR") or project_root() / "deployments")


def devnet_config_file() -> Path:
    return project_root() / "hardhat-free-devnet" / "devnet.json"


def devnet_run_dir() -> Path:
    """Runtime files of the local devnet: anvil's state, its log, and what is running."""
    return Path(os.environ.get("SCF_DEVNET_RUN_DIR") or project_root() / "hardhat-free-devnet" / "run")
