"""Where the GS1 EPCIS reference data lives, and fixtures that skip cleanly without it.

The repository is cloned next to ``shared/`` (``../shared/epcis`` from the repo root);
``SCF_EPCIS_DIR`` points elsewhere if needed. Tests that need the data take the
``epcis_dir`` fixture, which skips with the reason when the directory is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EPCIS_DIR = Path(os.environ.get("SCF_EPCIS_DIR", REPO_ROOT / ".." / "shared" / "epcis")).resolve()
DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def epcis_dir() -> Path:
    if not (EPCIS_DIR / "examples").is_dir():
        reason = f"GS1 EPCIS reference data not found at {EPCIS_DIR} (clone the repo next to shared/)"
        print(reason)
        pytest.skip(reason)
    return EPCIS_DIR


@pytest.fixture(scope="session")
def examples_dir(epcis_dir: Path) -> Path:
    return epcis_dir / "examples"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
