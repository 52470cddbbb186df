"""The compiler: one pinned solc, one standard-JSON input, a cache keyed by the sources.

A compile of the contracts takes solc-js seconds of CPU, so the module compiles the project once (``first_build``: a
build of a copy of the project into an empty folder) and the tests that need a first build start from a copy of
its output; only what a test is about compiles again (a changed source; a second run of the compiler, compared
with an earlier one for determinism).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.errors import CompileError, ToolchainMissing
from ledger.eth.artifacts import BuildResult
from ledger.toolchain import compiler


@dataclass(frozen=True)
class FirstBuild:
    """The module's one compile: a project copy and the build of its sources into an empty ``out``."""

    root: Path
    out: Path
    result: BuildResult

    def output_into(self, out: Path) -> Path:
        """A copy of the build's output at ``out`` (a folder the caller may change)."""
        shutil.copytree(self.out, out)
        return out


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> FirstBuild:
    from ledger import paths

    real = paths.project_root()
    root = tmp_path_factory.mktemp("compiled") / "project"
    root.mkdir()
    (root / "node_modules").symlink_to(real / "node_modules")
    shutil.copytree(real / "contracts", root / "contracts")
    out = root.parent / "out"
    return FirstBuild(root, out, compiler.build(root, out_dir=out))


def test_build_writes_abi_bytecode_metadata_and_source_hash(first_build: FirstBuild) -> None:
    project_copy, out, result = first_build.root, first_build.out, first_build.result

    assert not result.from_cache
    assert result.compiler_version.startswith(compiler.SOLC_VERSION + "+")
    data = json.loads((out / "Membership.json").read_text())
    assert data["sourceName"] == "contracts/Membership.sol"
    assert data["bytecode"] and data["deployedBytecode"]
    assert any(item.get("name") == "admit" for item in data["abi"])
    assert result.compiler_version.startswith(json.loads(data["metadata"])["compiler"]["version"])
    source = (project_copy / "contracts" / "Membership.sol").read_bytes()
    assert data["sourceHash"] == hashlib.sha256(source).hexdigest()
    info = json.loads((out / "build-info.json").read_text())
    assert info["inputHash"] == result.input_hash
    assert info["settings"]["optimizer"] == {"enabled": True, "runs": 200}


def test_second_build_uses_the_cache_and_runs_no_compiler(
    first_build: FirstBuild, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = first_build.output_into(tmp_path / "out")

    def no_compiler(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the compiler ran although no source changed")

    monkeypatch.setattr(compiler, "run_compiler", no_compiler)
    second = compiler.build(first_build.root, out_dir=out)

    assert second.from_cache
    assert second.input_hash == first_build.result.input_hash
    assert second["SettlementToken"] == first_build.result["SettlementToken"]


def test_changing_a_source_triggers_a_rebuild(first_build: FirstBuild, project_copy: Path, tmp_path: Path) -> None:
    out = first_build.output_into(tmp_path / "out")
    first = compiler.build(project_copy, out_dir=out)  # the same sources: the first build's output, from the cache
    assert first.from_cache and first.input_hash == first_build.result.input_hash
    path = project_copy / "contracts" / "Membership.sol"
    path.write_text(path.read_text() + "\n// a comment changes the metadata hash\n")

    second = compiler.build(project_copy, out_dir=out)

    assert not second.from_cache
    assert second.input_hash != first.input_hash
    assert second["Membership"].deployed_bytecode != first["Membership"].deployed_bytecode
    assert second["Membership"].source_hash != first["Membership"].source_hash


def test_imports_resolve_from_node_modules_and_relative_paths() -> None:
    sources = compiler.collect_sources()

    assert "contracts/interfaces/IMembership.sol" in sources
    assert "@openzeppelin/contracts/token/ERC20/ERC20.sol" in sources
    assert "@openzeppelin/contracts/utils/cryptography/EIP712.sol" in sources  # reached only through imports
    assert list(sources) == sorted(sources)


def test_solcjs_output_is_deterministic(first_build: FirstBuild) -> None:
    """A second run of solc-js gives what the module's first run gave (when that run was solc-js; otherwise two
    runs here)."""
    sources = compiler.collect_sources()
    if first_build.result.backend == "solcjs":
        assert compiler.input_hash(compiler.standard_input(sources)) == first_build.result.input_hash
        first = first_build.result.artifacts
    else:
        _, first, _ = compiler.compile_sources(sources, "solcjs")
    _, second, _ = compiler.compile_sources(sources, "solcjs")

    assert first.keys() == second.keys()
    for name in first:
        assert first[name].bytecode == second[name].bytecode, name
        assert first[name].deployed_bytecode == second[name].deployed_bytecode, name
        assert first[name].metadata == second[name].metadata, name


def test_native_solc_is_byte_identical_to_solcjs() -> None:
    if compiler.native_solc() is None:
        pytest.skip(f"no native solc {compiler.SOLC_VERSION} here (py-solc-x folder or PATH); solc-js is used")
    sources = compiler.collect_sources()
    _, native, _ = compiler.compile_sources(sources, "native")
    _, solcjs, _ = compiler.compile_sources(sources, "solcjs")
    for name in solcjs:
        assert native[name].bytecode == solcjs[name].bytecode, name
        assert native[name].deployed_bytecode == solcjs[name].deployed_bytecode, name


def test_auto_backend_falls_back_to_solcjs_without_native_solc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "native_solc", lambda: None)

    assert compiler.choose_backend("auto") == "solcjs"
    with pytest.raises(ToolchainMissing, match="native solc"):
        compiler.choose_backend("native")


def test_compile_error_names_file_line_and_message(project_copy: Path, tmp_path: Path) -> None:
    (project_copy / "contracts" / "Broken.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\n\ncontract Broken {\n    uint256 x = ;\n}\n"
    )

    with pytest.raises(CompileError) as caught:
        compiler.build(project_copy, out_dir=tmp_path / "out")

    first = caught.value.diagnostics[0]
    assert (first.file, first.line) == ("contracts/Broken.sol", 5)
    assert "contracts/Broken.sol:5" in str(caught.value)
    assert not (tmp_path / "out" / "build-info.json").exists()


def test_missing_node_modules_is_reported_as_missing_toolchain(project_copy: Path, tmp_path: Path) -> None:
    (project_copy / "node_modules").unlink()

    with pytest.raises(ToolchainMissing, match="npm ci"):
        compiler.build(project_copy, out_dir=tmp_path / "out")
