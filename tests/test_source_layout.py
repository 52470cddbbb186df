"""The shape of the source tree that review depends on and no linter checks.

A module past 800 lines has stopped being one thing (the indexer, the batch sender and the
model each grew there before they were split); the limit keeps the next split from being a
session of its own. The layering itself is checked by import-linter (`make check`).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = ("ledger", "api", "oracles", "scoring", "scenarios", "tests", "bench")
MAX_LINES = 800


def test_no_python_source_file_is_longer_than_800_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): count
        for folder in SOURCE_FOLDERS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these into modules named for what they hold (max {MAX_LINES} lines): {too_long}"
