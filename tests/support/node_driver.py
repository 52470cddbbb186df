"""Run a TypeScript driver of the portal's modules on Node: bundled by the project's esbuild, fed one JSON file.

The portal's crypto and proof code (``api/portal/web/src``) is tested against the Python side by small drivers
that import it, read their cases from the file named by ``argv[2]`` and print one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_driver(tmp_path: Path, driver: str, cases: Any, *, timeout: float = 180) -> dict[str, Any]:
    """The JSON object ``driver`` (TypeScript source) printed when run on ``cases``; skips without Node."""
    node, esbuild = shutil.which("node"), ROOT / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.is_file() or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node or node_modules (esbuild, ethers) is missing: run `npm ci`")
    source = tmp_path / "driver.ts"
    source.write_text(driver)
    bundled = tmp_path / "driver.mjs"
    subprocess.run(
        [str(esbuild), str(source), "--bundle", "--platform=node", "--format=esm", f"--outfile={bundled}"],
        check=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},  # the driver, outside the tree, imports ethers
    )
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    ran = subprocess.run(
        [node, str(bundled), str(tmp_path / "cases.json")], capture_output=True, text=True, check=True, timeout=timeout
    )
    answer: dict[str, Any] = json.loads(ran.stdout)
    return answer
