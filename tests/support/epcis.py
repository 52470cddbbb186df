"""Where the GS1 EPCIS reference data lives, and the suite's own reference hashes.

The GS1 repository is cloned next to ``shared/`` (``../shared/epcis`` from the repo root);
``SCF_EPCIS_DIR`` points elsewhere if needed. It is not part of this repository, so a test that
needs it skips with the reason when ``EPCIS_DIR / "examples"`` is absent (the oracle suite's
``epcis_dir`` fixture does that). ``DATA_DIR`` is the oracle suite's own data, kept in the
repository (``tests/oracles/data``: the event-hash reference implementation's documents and the
hashes it expects for them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EPCIS_DIR = Path(os.environ.get("SCF_EPCIS_DIR", REPO_ROOT / ".." / "shared" / "epcis")).resolve()
DATA_DIR = REPO_ROOT / "tests" / "oracles" / "data"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
