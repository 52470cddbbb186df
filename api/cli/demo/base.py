"""What every part of ``scf demo`` shares, importing nothing heavy: its settings, files and error."""

from __future__ import annotations

import sys
from pathlib import Path

from api.cli.errors import CommandError

SEED, FIRMS, MONTHS = 7, 30, 6
DEFAULT_OUT = "out/demo"  # under the project's root, wherever the command is run from
PARTIES_FILE = "demo-parties.json"
DEFAULT_API = "http://127.0.0.1:8000"
EXIT_REFUSED = 1
EXIT_ERROR = 2


class DemoError(CommandError):
    """The demo cannot go on: a step it depends on failed, or the world offers no story."""


def out_dir(given: str | None) -> Path:
    """The demo world's directory: ``given``, else ``out/demo`` under the project's root."""
    from ledger import paths

    return Path(given) if given else paths.project_root() / DEFAULT_OUT


def scf_command() -> str:
    """The ``scf`` command of this environment (a shell may not have the venv on its PATH)."""
    return str(Path(sys.executable).with_name("scf"))
