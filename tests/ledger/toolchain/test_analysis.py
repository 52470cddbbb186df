"""Slither on the contracts: no High/Medium finding without an entry in contracts/SLITHER-TRIAGE.md."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ledger.errors import LedgerError, ToolchainMissing
from ledger.toolchain import analysis
from ledger.toolchain.analysis import (
    Finding,
    SlitherFailed,
    SlitherReport,
    TriageEntry,
    TriageFileError,
    UntriagedFindings,
)

DRAIN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// The textbook reentrancy: pays out before it zeroes the balance.
contract Drain {
    mapping(address => uint256) public balances;

    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "transfer failed");
        balances[msg.sender] = 0;
    }
}
"""


@pytest.fixture(scope="module")
def report() -> SlitherReport:
    return analysis.analyse()


def test_contracts_have_no_untriaged_high_or_medium_findings(report: SlitherReport) -> None:
    if report.untriaged:
        pytest.fail(str(UntriagedFindings(report.untriaged, report.triage_file)), pytrace=False)
    assert not report.stale, "triage entries that match no finding any more:\n" + "\n".join(map(str, report.stale))
    for finding, entry in report.open_issues:
        warnings.warn(f"open slither issue, triaged but not fixed: {finding} -- {entry.reason}", stacklevel=1)
    assert report.seconds < 120


def test_findings_are_located_in_the_project_sources_only(report: SlitherReport) -> None:
    assert report.findings, "slither reported nothing at all: is the analysis really running?"
    assert all(f.file is not None and f.file.startswith("contracts/") for f in report.findings)
    assert all(f.contract for f in report.findings)
    assert report.compiler.startswith("0.8.28+")


def test_a_vulnerable_contract_is_reported(project_copy: Path) -> None:
    (project_copy / "contracts" / "Drain.sol").write_text(DRAIN)

    with pytest.raises(UntriagedFindings) as caught:
        analysis.check(project_copy)

    found = {(f.check, f.impact, f.contract, f.function) for f in caught.value.findings}
    assert ("reentrancy-eth", "High", "Drain", "withdraw") in found
    assert "Drain.withdraw" in str(caught.value)
    assert "contracts/Drain.sol#L" in str(caught.value)
    # The project's own findings stay explained by the triage file copied along.
    assert {f.contract for f in caught.value.findings} == {"Drain"}
    assert isinstance(caught.value, LedgerError)


def test_a_contract_that_does_not_compile_fails_the_analysis(project_copy: Path) -> None:
    (project_copy / "contracts" / "Broken.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract Broken { function f( }\n"
    )

    with pytest.raises(SlitherFailed) as caught:
        analysis.run_slither(project_copy)

    assert "Broken.sol" in str(caught.value)


def test_a_missing_slither_is_a_toolchain_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCF_SLITHER", str(tmp_path / "nowhere" / "slither"))

    with pytest.raises(ToolchainMissing):
        analysis.find_slither()


# -- triage, without running slither -------------------------------------------------------


def finding(check: str, impact: str, contract: str, function: str | None, signature: str | None = None) -> Finding:
    return Finding(
        check=check,
        impact=impact,
        confidence="High",
        description=f"{contract}.{function} is suspicious",
        contract=contract,
        function=function,
        signature=signature,
        file=f"contracts/{contract}.sol",
        lines=(10, 12),
        id="x",
    )


def entry(check: str, contract: str, function: str | None, verdict: str = "false-positive") -> TriageEntry:
    return TriageEntry(check, contract, function, verdict, "because")


def test_triage_matches_check_contract_and_function() -> None:
    isactive = finding("incorrect-equality", "Medium", "Membership", "isActive", "isActive(address)")
    admit = finding("incorrect-equality", "Medium", "Membership", "admit", "admit(address)")
    other_check = finding("reentrancy-eth", "High", "Membership", "isActive")

    triaged, untriaged, stale = analysis.apply_triage(
        [isactive, admit, other_check], [entry("incorrect-equality", "Membership", "isActive")]
    )

    assert [f for f, _ in triaged] == [isactive]
    assert untriaged == [admit, other_check]
    assert stale == []


def test_triage_by_signature_wildcard_and_contract_level() -> None:
    by_signature = finding("unused-return", "Medium", "TradeEscrow", "f", "f(uint256)")
    any_function = finding("timestamp", "Medium", "TradeEscrow", "g")
    contract_level = finding("uninitialized-state", "High", "TradeEscrow", None)
    entries = [
        entry("unused-return", "TradeEscrow", "f(uint256)"),
        entry("timestamp", "TradeEscrow", "*"),
        entry("uninitialized-state", "TradeEscrow", None),
    ]

    triaged, untriaged, stale = analysis.apply_triage([by_signature, any_function, contract_level], entries)

    assert len(triaged) == 3 and untriaged == [] and stale == []
    assert not entry("unused-return", "TradeEscrow", None).matches(by_signature)


def test_low_findings_are_not_gated_and_unmatched_entries_are_stale() -> None:
    low = finding("timestamp", "Low", "TradeEscrow", "release")
    unused = entry("arbitrary-send-erc20", "TradeEscrow", "_fund", "open")

    triaged, untriaged, stale = analysis.apply_triage([low], [entry("timestamp", "TradeEscrow", "release"), unused])

    assert triaged == [] and untriaged == []
    assert stale == [unused]


def test_the_project_triage_file_is_valid() -> None:
    entries = analysis.load_triage()

    assert entries
    assert all(e.verdict in analysis.VERDICTS and e.reason for e in entries)


def block(data: object) -> str:
    return f"# Triage\n\n```json\n{json.dumps(data)}\n```\n"


GOOD = {"check": "x", "contract": "C", "function": "f", "verdict": "open", "reason": "r"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# no block\n", "exactly one"),
        (block({"findings": []}) * 2, "exactly one"),
        ("```json\n{not json\n```\n", "not valid JSON"),
        (block({"findings": {}}), '"findings" list'),
        (block({"findings": [{**GOOD, "verdict": "fine"}]}), "verdict"),
        (block({"findings": [{**GOOD, "reason": " "}]}), "reason"),
        (block({"findings": [{**GOOD, "function": 3}]}), "function"),
        (block({"findings": [{**GOOD, "line": 3}]}), "unknown"),
    ],
)
def test_a_malformed_triage_file_is_refused(text: str, problem: str) -> None:
    with pytest.raises(TriageFileError) as caught:
        analysis.parse_triage(text, Path("TRIAGE.md"))

    assert problem in str(caught.value)


def test_a_valid_triage_block_parses() -> None:
    entries = analysis.parse_triage(block({"findings": [GOOD, {**GOOD, "function": None}]}), Path("TRIAGE.md"))

    assert entries == [TriageEntry("x", "C", "f", "open", "r"), TriageEntry("x", "C", None, "open", "r")]
