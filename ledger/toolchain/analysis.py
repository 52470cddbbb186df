"""Static analysis of ``contracts/`` with Slither, gated by a triage file.

Slither (and crytic-compile under it) wants a native ``solc``; this project has solc-js.
So the run goes like this:

1. The standard-JSON input is built exactly as ``ledger.toolchain.compiler`` builds it (every source
   inlined, imports resolved in Python, same settings), except that the output selection
   asks for what crytic-compile reads: the AST, ABI, bytecode and source maps.
2. A ``solc`` shim is written into a temporary folder: a shell script that runs a small
   node program on the project's solc-js. It answers ``--version`` like native solc and
   compiles ``--standard-json`` from stdin, which is all crytic-compile asks of a compiler
   on its ``solc-json`` platform. When a native solc of the pinned version exists (and the
   backend choice of ``ledger.toolchain.compiler`` picks it), that binary is used instead.
3. Slither runs from its own virtualenv (it pins ``web3<8``; the project needs web3 8), as
   ``slither <input.json> --compile-force-framework solc-json --solc <shim>``, in the project
   root so that unit names resolve to ``contracts/...`` and ``node_modules/@openzeppelin/...``.
4. Findings whose every element lies outside ``contracts/`` (OpenZeppelin in node_modules)
   are dropped here, by path. In-source ``slither-disable`` comments and slither's own triage
   database are ignored (``--show-ignored-findings``): ``contracts/SLITHER-TRIAGE.md`` is the
   one place that explains a finding.
5. Every High or Medium finding must match an entry of the triage file (check id, contract,
   function); otherwise ``check`` raises ``UntriagedFindings``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger import paths
from ledger.errors import LedgerError, ToolchainMissing
from ledger.toolchain import compiler

SLITHER_REQUIREMENT = "slither-analyzer==0.11.6"
GATED_IMPACTS = ("High", "Medium")
CONFIG_NAME = "slither.config.json"
TRIAGE_NAME = "SLITHER-TRIAGE.md"
# false-positive: the detector is wrong here; accepted: true as stated, but intended and safe;
# open: a real issue, acknowledged, to be fixed in the contract (the entry goes when it is).
VERDICTS = ("false-positive", "accepted", "open")
IMPACT_ORDER = {"High": 0, "Medium": 1, "Low": 2, "Informational": 3, "Optimization": 4}
DEFAULT_TIMEOUT = 600.0

# What crytic-compile reads from the compiler output (it indexes the source maps directly).
ANALYSIS_OUTPUT_SELECTION: dict[str, Any] = {
    "*": {
        "*": [
            "abi",
            "evm.bytecode.object",
            "evm.bytecode.sourceMap",
            "evm.deployedBytecode.object",
            "evm.deployedBytecode.sourceMap",
        ],
        "": ["ast"],
    }
}

_SHIM_JS = r"""// solc command-line stand-in on solc-js, written by ledger.toolchain.analysis for crytic-compile.
"use strict";
const path = require("path");
const [nodeModules, wanted, ...args] = process.argv.slice(2);
let solc;
try {
  solc = require(path.join(nodeModules, "solc"));
} catch (err) {
  process.stderr.write(`cannot load solc-js from ${nodeModules}: ${err.message}\n`);
  process.exit(3);
}
const version = solc.version();
if (!version.startsWith(wanted + "+")) {
  process.stderr.write(`solc-js is ${version}, the project pins ${wanted}\n`);
  process.exit(4);
}
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write(`this solc stand-in only answers --version and --standard-json, not: ${args.join(" ")}\n`);
  process.exit(2);
}
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(Buffer.concat(chunks).toString("utf8")));
});
"""

_JSON_BLOCK = re.compile(r"^```json[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


class SlitherFailed(LedgerError):
    """Slither could not analyse the contracts (compile error, crash, timeout)."""

    def __init__(self, reason: str, output: str = "", *, show_output: bool = True) -> None:
        self.reason = reason.strip()
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-30:]) if show_output else ""
        super().__init__(f"slither failed: {self.reason}" + (f"\n{tail}" if tail else ""))


class TriageFileError(LedgerError):
    """The triage file is missing or does not hold a valid machine-readable section."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Finding:
    """One slither result, located at its first element inside ``contracts/``."""

    check: str
    impact: str
    confidence: str
    description: str
    contract: str | None
    function: str | None
    signature: str | None
    file: str | None
    lines: tuple[int, ...]
    id: str

    @property
    def gated(self) -> bool:
        return self.impact in GATED_IMPACTS

    @property
    def location(self) -> str:
        if self.file is None:
            return "?"
        if not self.lines:
            return self.file
        first, last = min(self.lines), max(self.lines)
        return f"{self.file}#L{first}" + (f"-L{last}" if last != first else "")

    @property
    def where(self) -> str:
        """``Contract.function`` (or the contract alone) the finding is about."""
        return ".".join(part for part in (self.contract, self.function) if part) or "?"

    def __str__(self) -> str:
        summary = self.description.strip().splitlines()[0] if self.description.strip() else ""
        return f"[{self.impact}] {self.check} in {self.where} ({self.location}): {summary}"


@dataclass(frozen=True)
class TriageEntry:
    """Why a finding is excluded: matched by check id, contract and function.

    ``function`` is the function's name (every overload), its full signature such as
    ``isOracle(address,uint8)``, ``"*"`` for every function of the contract, or ``None`` for
    a finding about the contract itself (e.g. a state variable).
    """

    check: str
    contract: str
    function: str | None
    verdict: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        if finding.check != self.check or finding.contract != self.contract:
            return False
        if self.function == "*":
            return True
        if self.function is None:
            return finding.function is None
        return self.function in (finding.function, finding.signature)

    def __str__(self) -> str:
        return f"{self.check} in {self.contract}.{self.function or '(contract)'} [{self.verdict}]"


class UntriagedFindings(LedgerError):
    """Slither reported High/Medium findings that the triage file does not explain."""

    def __init__(self, findings: list[Finding], triage_file: Path) -> None:
        self.findings = list(findings)
        self.triage_file = triage_file
        lines = [f"  - {f}" for f in self.findings]
        super().__init__(
            f"slither found {len(self.findings)} High/Medium finding(s) not explained in {triage_file}:\n"
            + "\n".join(lines)
            + "\nFix the contract, or add an entry (check, contract, function, verdict, reason) to the triage file."
        )


@dataclass
class SlitherReport:
    findings: list[Finding]
    triaged: list[tuple[Finding, TriageEntry]]
    untriaged: list[Finding]
    stale: list[TriageEntry]
    dependency_findings: int
    compiler: str
    seconds: float
    triage_file: Path
    entries: list[TriageEntry] = field(default_factory=list)

    @property
    def open_issues(self) -> list[tuple[Finding, TriageEntry]]:
        return [(f, e) for f, e in self.triaged if e.verdict == "open"]

    def render(self) -> str:
        out = [
            f"slither: {len(self.findings)} finding(s) in contracts/ "
            f"({self.dependency_findings} in dependencies filtered out), {self.seconds:.1f} s, solc {self.compiler}"
        ]
        for finding in self.findings:
            entry = next((e for f, e in self.triaged if f is finding), None)
            mark = "UNTRIAGED " if finding in self.untriaged else (f"{entry.verdict}: " if entry else "")
            out.append(f"  {mark}{finding}")
        out.extend(f"  stale triage entry (matches nothing): {entry}" for entry in self.stale)
        return "\n".join(out)


@dataclass
class _Run:
    findings: list[Finding]
    dependency_findings: int
    compiler: str
    seconds: float


# -- tools ---------------------------------------------------------------------------------


def find_slither() -> Path:
    """The slither executable: ``SCF_SLITHER``, the tool venv next to this Python's venv, or PATH."""
    override = os.environ.get("SCF_SLITHER")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ToolchainMissing("slither", f"SCF_SLITHER points to {path}, which does not exist")
        return path
    tool_venv = Path(sys.prefix) / "slither" / "bin" / "slither"
    if tool_venv.is_file():
        return tool_venv
    on_path = shutil.which("slither")
    if on_path:
        return Path(on_path)
    venv = Path(sys.prefix) / "slither"
    raise ToolchainMissing(
        "slither",
        f"install it in its own virtualenv (it pins web3<8): "
        f"python -m venv {venv} && {venv}/bin/pip install '{SLITHER_REQUIREMENT}'",
    )


def write_solc_shim(folder: Path, root: Path | None = None) -> Path:
    """Write a ``solc`` executable into ``folder`` that runs the project's solc-js."""
    root = root or paths.project_root()
    modules = root / "node_modules"
    node = shutil.which("node")
    if node is None:
        raise ToolchainMissing("node", "install Node.js 20+ to compile with solc-js")
    if not (modules / "solc").is_dir():
        raise ToolchainMissing("node_modules/solc", f"{modules / 'solc'} does not exist; run `make setup` (npm ci)")
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "solc-shim.cjs"
    script.write_text(_SHIM_JS)
    shim = folder / "solc"
    command = " ".join(shlex.quote(str(part)) for part in (node, script, modules, compiler.SOLC_VERSION))
    shim.write_text(f'#!/bin/sh\n# solc stand-in for crytic-compile, on solc-js\nexec {command} "$@"\n')
    shim.chmod(0o755)
    return shim


def _solc_for_slither(folder: Path, root: Path, backend: str | None) -> tuple[Path, str]:
    """The compiler slither is told to use, and its full version."""
    if compiler.choose_backend(backend) == "native":
        binary = compiler.native_solc()
        assert binary is not None
    else:
        binary = write_solc_shim(folder, root)
    proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=120)
    found = re.search(r"Version: (\S+)", proc.stdout)
    if proc.returncode != 0 or found is None:
        raise ToolchainMissing("solc", proc.stderr.strip() or f"{binary} --version answered {proc.stdout!r}")
    return binary, found.group(1)


def analysis_input(sources: dict[str, str]) -> dict[str, Any]:
    """The project's standard-JSON input, asking for what crytic-compile needs."""
    std_input = compiler.standard_input(sources)
    std_input["settings"] = {**compiler.SETTINGS, "outputSelection": ANALYSIS_OUTPUT_SELECTION}
    return std_input


# -- running slither -----------------------------------------------------------------------


def _in_project(element: dict[str, Any]) -> bool:
    filename = element.get("source_mapping", {}).get("filename_relative") or ""
    return str(filename).startswith(compiler.PROJECT_PREFIX)


def _owners(element: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(contract, function name, function signature) enclosing a slither result element."""
    contract = function = signature = None
    current: dict[str, Any] | None = element
    while current is not None:
        kind = current.get("type")
        fields = current.get("type_specific_fields") or {}
        if kind == "function" and function is None:
            function = current.get("name")
            signature = fields.get("signature")
        elif kind == "contract":
            contract = current.get("name")
            break
        current = fields.get("parent")
    return contract, function, signature


def _finding(result: dict[str, Any]) -> Finding:
    elements = result.get("elements") or []
    primary = next((e for e in elements if _in_project(e)), elements[0] if elements else {})
    contract, function, signature = _owners(primary)
    mapping = primary.get("source_mapping") or {}
    return Finding(
        check=result["check"],
        impact=result["impact"],
        confidence=result.get("confidence", ""),
        description=result.get("description", ""),
        contract=contract,
        function=function,
        signature=signature,
        file=mapping.get("filename_relative"),
        lines=tuple(mapping.get("lines") or ()),
        id=result.get("id", ""),
    )


def _sort_key(finding: Finding) -> tuple[int, str, int, str]:
    return (IMPACT_ORDER.get(finding.impact, 9), finding.file or "", min(finding.lines, default=0), finding.check)


def _run(root: Path | None, slither: Path | None, backend: str | None, timeout: float) -> _Run:
    root = (root or paths.project_root()).resolve()
    executable = slither or find_slither()
    config = root / "contracts" / CONFIG_NAME
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scf-slither-") as tmp:
        work = Path(tmp)
        solc, version = _solc_for_slither(work / "bin", root, backend)
        target = work / "input.json"
        target.write_text(json.dumps(analysis_input(compiler.collect_sources(root))))
        report = work / "slither.json"
        command = [
            str(executable),
            str(target),
            "--compile-force-framework",
            "solc-json",
            "--solc",
            str(solc),
            "--json",
            str(report),
            "--json-types",
            "detectors",
            "--show-ignored-findings",
            "--triage-database",
            str(work / "slither.db.json"),
            "--fail-none",
            "--disable-color",
        ]
        if config.is_file():
            command += ["--config-file", str(config)]
        try:
            proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise SlitherFailed(f"no answer within {timeout:.0f} s") from err
        output = proc.stdout + proc.stderr
        if not report.is_file():
            raise SlitherFailed(f"exit status {proc.returncode} and no JSON report", output)
        data = json.loads(report.read_text())
    if not data.get("success"):
        raise SlitherFailed(str(data.get("error") or "unknown error"), output, show_output=False)
    results = data.get("results", {}).get("detectors", [])
    ours = [r for r in results if any(_in_project(e) for e in r.get("elements") or [])]
    findings = sorted((_finding(r) for r in ours), key=_sort_key)
    return _Run(findings, len(results) - len(ours), version, time.monotonic() - started)


def run_slither(
    root: Path | None = None,
    *,
    slither: Path | None = None,
    backend: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[Finding]:
    """Run slither on ``contracts/``; every finding in the project's own sources, worst first."""
    return _run(root, slither, backend, timeout).findings


# -- triage --------------------------------------------------------------------------------


def triage_file(root: Path | None = None) -> Path:
    return (root or paths.project_root()) / "contracts" / TRIAGE_NAME


def parse_triage(text: str, path: Path) -> list[TriageEntry]:
    """The entries of the one ```json block of the triage markdown: ``{"findings": [...]}``."""
    blocks = _JSON_BLOCK.findall(text)
    if len(blocks) != 1:
        raise TriageFileError(path, f"expected exactly one ```json block, found {len(blocks)}")
    try:
        data = json.loads(blocks[0])
    except json.JSONDecodeError as err:
        raise TriageFileError(path, f"the ```json block is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise TriageFileError(path, 'the ```json block must be an object with a "findings" list')
    entries = []
    for index, item in enumerate(data["findings"]):
        where = f"findings[{index}]"
        if not isinstance(item, dict):
            raise TriageFileError(path, f"{where} is not an object")
        unknown = set(item) - {"check", "contract", "function", "verdict", "reason"}
        if unknown:
            raise TriageFileError(path, f"{where} has unknown keys {sorted(unknown)}")
        for key in ("check", "contract", "verdict", "reason"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise TriageFileError(path, f"{where}.{key} must be a non-empty string")
        function = item.get("function")
        if function is not None and (not isinstance(function, str) or not function.strip()):
            raise TriageFileError(path, f"{where}.function must be a non-empty string or null")
        if item["verdict"] not in VERDICTS:
            raise TriageFileError(path, f"{where}.verdict must be one of {', '.join(VERDICTS)}")
        entries.append(TriageEntry(item["check"], item["contract"], function, item["verdict"], item["reason"].strip()))
    return entries


def load_triage(path: Path | None = None) -> list[TriageEntry]:
    path = path or triage_file()
    if not path.is_file():
        raise TriageFileError(path, "the triage file does not exist")
    return parse_triage(path.read_text(encoding="utf-8"), path)


def apply_triage(
    findings: list[Finding], entries: list[TriageEntry]
) -> tuple[list[tuple[Finding, TriageEntry]], list[Finding], list[TriageEntry]]:
    """(triaged, untriaged, stale): High/Medium findings with and without an entry, and the
    entries that match no finding at all."""
    triaged: list[tuple[Finding, TriageEntry]] = []
    untriaged: list[Finding] = []
    used: set[int] = set()
    for finding in findings:
        for index, entry in enumerate(entries):
            if entry.matches(finding):
                used.add(index)
                if finding.gated:
                    triaged.append((finding, entry))
                break
        else:
            if finding.gated:
                untriaged.append(finding)
    stale = [entry for index, entry in enumerate(entries) if index not in used]
    return triaged, untriaged, stale


def analyse(
    root: Path | None = None,
    *,
    slither: Path | None = None,
    backend: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SlitherReport:
    """Run slither and match its findings against the triage file; raises nothing for findings."""
    path = triage_file(root)
    entries = load_triage(path)
    run = _run(root, slither, backend, timeout)
    triaged, untriaged, stale = apply_triage(run.findings, entries)
    return SlitherReport(
        run.findings, triaged, untriaged, stale, run.dependency_findings, run.compiler, run.seconds, path, entries
    )


def check(
    root: Path | None = None,
    *,
    slither: Path | None = None,
    backend: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> SlitherReport:
    """``analyse``, raising ``UntriagedFindings`` when a High/Medium finding has no triage entry."""
    report = analyse(root, slither=slither, backend=backend, timeout=timeout)
    if report.untriaged:
        raise UntriagedFindings(report.untriaged, report.triage_file)
    return report


def main() -> int:
    """``python -m ledger.toolchain.analysis``: print the report; exit 1 on untriaged findings or stale entries."""
    try:
        report = analyse()
    except LedgerError as err:
        print(err, file=sys.stderr)
        return 2
    print(report.render())
    return 1 if report.untriaged or report.stale else 0


if __name__ == "__main__":
    sys.exit(main())
