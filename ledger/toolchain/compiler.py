"""Compile ``contracts/`` with one pinned solc through one standard-JSON input.

Imports are resolved here, in Python, and every source goes into the input by content:
the compile then depends on nothing but that input, so native solc (py-solc-x) and solc-js
produce byte-identical output, and the input's hash is a sound cache key.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ledger import paths
from ledger.errors import CompileError, Diagnostic, LedgerError, ToolchainMissing
from ledger.eth.artifacts import ARTIFACT_FORMAT, Artifact, Backend, BuildResult

SOLC_VERSION = "0.8.28"
# cancun: the newest fork every backend here runs (py-evm in eth-tester, anvil, Besu).
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "metadata",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "evm.methodIdentifiers",
                "storageLayout",  # where each private variable lives: storage proofs (eth_getProof) need it
            ]
        }
    },
}
PROJECT_PREFIX = "contracts/"

_IMPORT = re.compile(r"^\s*import\s+[^;]*?[\"']([^\"']+)[\"']\s*;", re.MULTILINE)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"//[^\n]*")


def _strip_comments(text: str) -> str:
    return _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", text))


def _unit_path(unit: str, root: Path, modules: Path) -> Path:
    if unit.startswith(PROJECT_PREFIX):
        return root / unit
    return modules / unit


def _resolve(importer: str, target: str) -> str:
    if target.startswith("./") or target.startswith("../"):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))
    return target


def collect_sources(root: Path | None = None) -> dict[str, str]:
    """Every source unit reachable from ``contracts/``, keyed by unit name, in a fixed order."""
    root = root or paths.project_root()
    modules = root / "node_modules"
    cdir = root / "contracts"
    if not cdir.is_dir():
        raise LedgerError(f"no contracts folder at {cdir}")
    pending = sorted(PROJECT_PREFIX + p.relative_to(cdir).as_posix() for p in cdir.rglob("*.sol"))
    sources: dict[str, str] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = _unit_path(unit, root, modules)
        if not path.is_file():
            if not unit.startswith(PROJECT_PREFIX) and not modules.is_dir():
                raise ToolchainMissing("node_modules", f"{modules} does not exist; run `make setup` (npm ci)")
            raise LedgerError(f"import {unit!r} not found at {path}")
        text = path.read_text(encoding="utf-8")
        sources[unit] = text
        for target in _IMPORT.findall(_strip_comments(text)):
            pending.append(_resolve(unit, target))
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str]) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": SETTINGS,
    }


def input_hash(std_input: dict[str, Any]) -> str:
    canonical = json.dumps(std_input, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{SOLC_VERSION}\n{canonical}".encode()).hexdigest()


def native_solc() -> Path | None:
    """A native solc of the pinned version, from py-solc-x's folder or PATH, if any."""
    from solcx.exceptions import SolcNotInstalled
    from solcx.install import get_executable

    try:
        return Path(get_executable(version=SOLC_VERSION))
    except SolcNotInstalled:
        pass
    on_path = shutil.which("solc")
    if on_path:
        try:
            if (
                f"Version: {SOLC_VERSION}+"
                in subprocess.run([on_path, "--version"], capture_output=True, text=True, timeout=30).stdout
            ):
                return Path(on_path)
        except (OSError, subprocess.SubprocessError):
            return None
    return None


def choose_backend(requested: str | None = None) -> Backend:
    """``native`` when a native solc of the pinned version exists, else ``solcjs``."""
    requested = requested or os.environ.get("SCF_SOLC") or "auto"
    if requested == "solcjs":
        return "solcjs"
    if requested == "native":
        if native_solc() is None:
            raise ToolchainMissing(f"native solc {SOLC_VERSION}", "install it with py-solc-x or put it on PATH")
        return "native"
    if requested != "auto":
        raise LedgerError(f"unknown compiler backend {requested!r}: use auto, native or solcjs")
    return "native" if native_solc() is not None else "solcjs"


def run_compiler(std_input: dict[str, Any], backend: Backend, root: Path | None = None) -> tuple[str, dict[str, Any]]:
    """Run the compiler on a standard-JSON input; returns (full version, output)."""
    payload = json.dumps(std_input, sort_keys=True)
    if backend == "native":
        from solcx.wrapper import solc_wrapper

        binary = native_solc()
        assert binary is not None
        stdout, _stderr, _cmd, _proc = solc_wrapper(solc_binary=binary, stdin=payload, standard_json=True)
        version_line = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
        version = version_line.strip().splitlines()[-1].removeprefix("Version: ")
        return version, json.loads(stdout)
    root = root or paths.project_root()
    modules = root / "node_modules"
    if shutil.which("node") is None:
        raise ToolchainMissing("node", "install Node.js 20+ to compile with solc-js")
    if not (modules / "solc").is_dir():
        raise ToolchainMissing("node_modules/solc", f"{modules / 'solc'} does not exist; run `make setup` (npm ci)")
    script = Path(__file__).with_name("solcjs_compile.cjs")
    proc = subprocess.run(
        ["node", str(script), str(modules), SOLC_VERSION],
        input=payload,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise ToolchainMissing("solc-js", proc.stderr.strip() or f"node exited with {proc.returncode}")
    answer = json.loads(proc.stdout)
    return str(answer["version"]), answer["output"]


def _diagnostics(output: dict[str, Any], sources: dict[str, str]) -> list[Diagnostic]:
    found = []
    for err in output.get("errors", []):
        loc = err.get("sourceLocation") or {}
        file = loc.get("file")
        line = column = None
        if file in sources and isinstance(loc.get("start"), int) and loc["start"] >= 0:
            before = sources[file].encode()[: loc["start"]].decode(errors="replace")
            line = before.count("\n") + 1
            column = len(before) - (before.rfind("\n") + 1) + 1
        found.append(
            Diagnostic(
                severity=err.get("severity", "error"),
                message=err.get("message", ""),
                file=file,
                line=line,
                column=column,
                formatted=err.get("formattedMessage", "").strip(),
            )
        )
    return found


def _artifacts(output: dict[str, Any], sources: dict[str, str]) -> dict[str, Artifact]:
    found: dict[str, Artifact] = {}
    for unit, contracts in output.get("contracts", {}).items():
        if not unit.startswith(PROJECT_PREFIX):
            continue
        source_hash = hashlib.sha256(sources[unit].encode()).hexdigest()
        for name, data in contracts.items():
            if name in found:
                raise LedgerError(f"two contracts named {name}: {found[name].source} and {unit}")
            evm = data.get("evm", {})
            found[name] = Artifact(
                name=name,
                source=unit,
                abi=data.get("abi", []),
                bytecode=evm.get("bytecode", {}).get("object", ""),
                deployed_bytecode=evm.get("deployedBytecode", {}).get("object", ""),
                immutable_references=evm.get("deployedBytecode", {}).get("immutableReferences", {}),
                metadata=data.get("metadata", ""),
                source_hash=source_hash,
                storage_layout=data.get("storageLayout", {}),
            )
    return found


def compile_sources(
    sources: dict[str, str], backend: Backend, root: Path | None = None
) -> tuple[str, dict[str, Artifact], list[Diagnostic]]:
    """Compile without touching the cache; raises CompileError on any error diagnostic."""
    std_input = standard_input(sources)
    version, output = run_compiler(std_input, backend, root)
    diagnostics = _diagnostics(output, sources)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise CompileError(errors)
    return version, _artifacts(output, sources), [d for d in diagnostics if d.severity != "error"]


def build(
    root: Path | None = None, *, out_dir: Path | None = None, backend: str | None = None, force: bool = False
) -> BuildResult:
    """Compile ``contracts/`` into ``build/contracts``, reusing the cache when no source changed."""
    root = root or paths.project_root()
    out_dir = out_dir or paths.build_dir() / "contracts"
    sources = collect_sources(root)
    digest = input_hash(standard_input(sources))
    info_path = out_dir / "build-info.json"
    if not force and info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("inputHash") == digest and info.get("format") == ARTIFACT_FORMAT:
            cached = {n: Artifact.from_json(json.loads((out_dir / f"{n}.json").read_text())) for n in info["contracts"]}
            return BuildResult(cached, info["backend"], info["compilerVersion"], digest, True, out_dir)
    chosen = choose_backend(backend)
    version, artifacts, warnings = compile_sources(sources, chosen, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    compiler = {"version": version, "backend": chosen}
    for stale in out_dir.glob("*.json"):
        stale.unlink(missing_ok=True)
    for name, artifact in artifacts.items():
        _write_json(out_dir / f"{name}.json", artifact.to_json(compiler, digest))
    # build-info goes last: it is what marks the cache complete.
    _write_json(
        info_path,
        {
            "format": ARTIFACT_FORMAT,
            "inputHash": digest,
            "compilerVersion": version,
            "backend": chosen,
            "settings": SETTINGS,
            "contracts": sorted(artifacts),
        },
    )
    return BuildResult(artifacts, chosen, version, digest, False, out_dir, warnings)


def _write_json(path: Path, data: Any) -> None:
    # A name of its own per process: parallel test workers may build the same artifacts at once.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
