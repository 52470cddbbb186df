"""Fixtures that skip cleanly without the GS1 EPCIS reference data (where it lives: ``tests.support.epcis``).

Tests that need the data take the ``epcis_dir`` (or ``examples_dir``) fixture, which skips with
the reason when the directory is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.epcis import EPCIS_DIR


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
