"""``scf`` starts cheap: building the whole parser imports none of the heavy packages, a command module runs
on its own with ``python -m``, and the command-line modules import one another without a cycle.

The start-up time itself is measured by ``bench/cli_startup.py``, not asserted here (no timed tests).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "api" / "cli"
HEAVY = (
    "web3",
    "eth_account",
    "eth_utils",
    "numpy",
    "scipy",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "httpx",
    "rich",
    "ledger",
    "scoring",
    "scenarios",
    "oracles",
    "api.errors",
)


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_building_the_whole_parser_imports_no_heavy_package() -> None:
    loaded = _python(
        "import json, sys; import api.cli; api.cli.parser(); "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})))"
    )
    assert json.loads(loaded) == []


def test_scf_help_lists_every_command_without_loading_a_handler() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "api", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for command in ("contracts", "devnet", "deploy", "keys", "oracle", "index", "audit", "simulate", "score"):
        assert command in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}, "a heavy module was imported for --help"


def test_a_command_module_runs_on_its_own_with_python_m() -> None:
    # What the tests' API servers (tests/support/serve.py) and the index process tests start.
    for module in ("api.cli.serve", "api.cli.index"):
        done = subprocess.run(
            [sys.executable, "-W", "error", "-m", module, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "usage: scf" in done.stdout and "RuntimeWarning" not in done.stderr


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module of ``modules`` that ``path`` imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules


def test_the_command_line_modules_import_one_another_without_a_cycle() -> None:
    files = {_module_of(path): path for path in CLI.rglob("*.py")}
    graph = {module: _imports(path, set(files)) - {module} for module, path in files.items()}
    assert "api.cli.demo.stage" in graph["api.cli.demo.teller"]  # the walk sees imports inside functions too
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            assert state.get(imported) != "open", f"import cycle: {' -> '.join([*trail, module, imported])}"
            if imported not in state:
                visit(imported, [*trail, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
