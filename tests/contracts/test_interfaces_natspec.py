"""Every error, event and function an interface declares carries NatSpec, read back from the compiler.

The compiler parses NatSpec into each artifact's metadata: ``output.userdoc`` holds the ``@notice``
texts and ``output.devdoc`` the ``@param`` texts, keyed by canonical signature. Checking that output
rather than the source text means a tag the compiler did not attach to the declaration counts as
missing. The ABI lists what an interface has; only what the interface's own source declares is
checked, because ISettlementToken also inherits OpenZeppelin's ERC-20 events and functions, which
document themselves with ``@dev`` only.

Reason codes are enums, which the ABI still encodes as ``uint8`` (so selectors and topics are those
of ``uint8``); the enums' Python mirrors must keep their names and values.
"""

from __future__ import annotations

import copy
import json
import re
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.escrow import Milestone, OrderStatus, RefundReason, Resolution
from ledger.domain.receivables import ReceivableStatus
from ledger.eth.artifacts import Artifact, BuildResult
from ledger.model.common import OracleKind
from ledger.model.membership import MemberStatus

ROOT = Path(__file__).resolve().parents[2]
INTERFACES = sorted(p.stem for p in (ROOT / "contracts" / "interfaces").glob("*.sol"))

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_DECLARATION = re.compile(r"\b(error|event|function)\s+([A-Za-z_]\w*)\s*\(")
_ENUM = re.compile(r"\benum\s+([A-Za-z_]\w*)\s*\{([^}]*)\}")

# Every bare uint8 left in the interfaces' ABIs, and why it is not an enum.
BARE_UINT8 = {
    # An ECDSA recovery id, not a code.
    ("ITradeEscrow", "function fundWithPermit", "v"),
    # As an enum, the ABI decoder would refuse an unknown kind with empty revert data instead of
    # TradeEscrowInvalidThreshold, and `threshold` would revert instead of answering 0.
    ("ITradeEscrow", "function setThreshold", "kind"),
    ("ITradeEscrow", "function threshold", "kind"),
    # Reports exactly the out-of-range kinds an enum cannot hold (the conversion would panic).
    ("ITradeEscrow", "error TradeEscrowInvalidThreshold", "kind"),
    # A grade code the bank's model defines (scoring/models), not the contract: a new grade table
    # must not need a redeploy.
    ("ICreditRegistry", "function publish", "grant.grade"),
    ("ICreditRegistry", "function recordOf", "grade"),
    ("ICreditRegistry", "event LimitPublished", "grade"),
}


def _canonical(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + kind.removeprefix("tuple")
    return kind


def signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_canonical(p) for p in entry['inputs'])})"


def declared(source: str) -> set[tuple[str, str]]:
    """(kind, name) of every error, event and function written in ``source`` itself."""
    return set(_DECLARATION.findall(_COMMENT.sub("", source)))


def undocumented(abi: list[dict[str, Any]], metadata: dict[str, Any], own: set[tuple[str, str]]) -> list[str]:
    """What the interface declares without a ``@notice`` (errors, events, functions) or without a
    ``@param`` for one of its arguments (errors, events)."""
    userdoc, devdoc = metadata["output"]["userdoc"], metadata["output"]["devdoc"]
    problems = []
    for entry in abi:
        kind = entry["type"]
        if (kind, entry.get("name")) not in own:
            continue
        sig = signature(entry)
        section = "methods" if kind == "function" else f"{kind}s"
        # Errors may be declared more than once, so the compiler lists their docs per declaration.
        notes = userdoc.get(section, {}).get(sig, {})
        notes = notes if isinstance(notes, list) else [notes]
        if not any(n.get("notice", "").strip() for n in notes):
            problems.append(f"{kind} {sig}: no @notice")
        if kind == "function":
            continue
        docs = devdoc.get(section, {}).get(sig, {})
        params: dict[str, str] = {}
        for doc in docs if isinstance(docs, list) else [docs]:
            params.update(doc.get("params", {}))
        for position, param in enumerate(entry["inputs"]):
            name = param["name"]
            if not name:
                problems.append(f"{kind} {sig}: argument {position} has no name to document")
            elif not params.get(name, "").strip():
                problems.append(f"{kind} {sig}: no @param for `{name}`")
    return problems


def _artifact(build: BuildResult, name: str) -> Artifact:
    artifact = build[name]
    assert artifact.source == f"contracts/interfaces/{name}.sol"
    return artifact


def _own(artifact: Artifact) -> set[tuple[str, str]]:
    return declared((ROOT / artifact.source).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", INTERFACES)
def test_every_error_event_and_function_an_interface_declares_is_documented(build: BuildResult, name: str) -> None:
    artifact = _artifact(build, name)
    own = _own(artifact)
    in_abi = {(e["type"], e["name"]) for e in artifact.abi if e["type"] in ("error", "event", "function")}
    # Nothing the source declares is missed by the ABI side of the check (so none escapes it).
    assert own <= in_abi, own - in_abi
    assert {kind for kind, _ in own} == {"error", "event", "function"}

    problems = undocumented(artifact.abi, json.loads(artifact.metadata), own)

    assert not problems, f"{artifact.source}:\n  " + "\n  ".join(problems)


def test_a_missing_notice_or_param_is_reported(build: BuildResult) -> None:
    artifact = _artifact(build, "ITradeEscrow")
    metadata = json.loads(artifact.metadata)
    damaged = copy.deepcopy(metadata)
    del damaged["output"]["userdoc"]["errors"]["TradeEscrowQuorumNotMet(uint256,uint256)"]
    del damaged["output"]["devdoc"]["events"]["ThresholdSet(uint8,uint256,address)"]["params"]["threshold"]
    damaged["output"]["userdoc"]["methods"]["fund(uint256)"]["notice"] = " "
    unnamed = copy.deepcopy(artifact.abi)
    next(e for e in unnamed if e.get("name") == "TradeEscrowSelfTrade")["inputs"][0]["name"] = ""

    problems = undocumented(unnamed, damaged, _own(artifact))

    assert sorted(problems) == [
        "error TradeEscrowQuorumNotMet(uint256,uint256): no @notice",
        "error TradeEscrowSelfTrade(address): argument 0 has no name to document",
        "event ThresholdSet(uint8,uint256,address): no @param for `threshold`",
        "function fund(uint256): no @notice",
    ]
    assert undocumented(artifact.abi, metadata, _own(artifact)) == []


def test_inherited_openzeppelin_declarations_are_not_checked_but_the_interfaces_own_are(build: BuildResult) -> None:
    artifact = _artifact(build, "ISettlementToken")
    own = _own(artifact)
    in_abi = {(e["type"], e["name"]) for e in artifact.abi if e["type"] in ("error", "event", "function")}

    assert {("event", "Transfer"), ("event", "Approval"), ("function", "permit")} <= in_abi - own
    assert {("event", "DepositsMinted"), ("error", "SettlementTokenInvalidMint"), ("function", "mint")} <= own


def _bare_uint8(name: str, entry: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()

    def walk(params: list[dict[str, Any]], prefix: str) -> None:
        for p in params:
            if p["type"].startswith("tuple"):
                walk(p["components"], f"{prefix}{p['name']}." if p["name"] else prefix)
            elif p["type"] == "uint8" and p.get("internalType") == "uint8":
                found.add((name, f"{entry['type']} {entry['name']}", prefix + p["name"]))

    walk(entry.get("inputs", []), "")
    walk(entry.get("outputs", []), "")
    return found


def test_reason_codes_are_enums_that_the_abi_still_encodes_as_uint8(build: BuildResult) -> None:
    bare: set[tuple[str, str, str]] = set()
    for name in INTERFACES:
        artifact = _artifact(build, name)
        own = _own(artifact)
        for entry in artifact.abi:
            if (entry["type"], entry.get("name")) in own:
                bare |= _bare_uint8(name, entry)
    assert bare == BARE_UINT8

    abi = {e["name"]: e for e in _artifact(build, "ITradeEscrow").abi if e["type"] in ("event", "error")}
    receivables = {e["name"]: e for e in _artifact(build, "IReceivables").abi if e["type"] == "error"}
    typed = {
        (p["name"], p["type"], p["internalType"])
        for entry in (
            abi["OrderRefunded"],
            abi["DisputeResolved"],
            abi["ThresholdSet"],
            abi["TradeEscrowUnauthorizedOracle"],
            abi["TradeEscrowUnknownMilestone"],
            receivables["ReceivablesOrderNotDelivered"],
        )
        for p in entry["inputs"]
        if p["internalType"].startswith("enum ")
    }
    assert typed == {
        ("reason", "uint8", "enum ITradeEscrow.RefundReason"),
        ("how", "uint8", "enum ITradeEscrow.Resolution"),
        ("kind", "uint8", "enum IMembership.OracleKind"),
        ("milestone", "uint8", "enum ITradeEscrow.Milestone"),
        ("status", "uint8", "enum ITradeEscrow.Status"),
    }


def _enums(interface: str) -> dict[str, list[str]]:
    source = _COMMENT.sub("", (ROOT / "contracts" / "interfaces" / f"{interface}.sol").read_text(encoding="utf-8"))
    return {name: [v.strip() for v in body.split(",") if v.strip()] for name, body in _ENUM.findall(source)}


@pytest.mark.parametrize(
    ("interface", "enum", "mirror"),
    [
        ("ITradeEscrow", "Status", OrderStatus),
        ("ITradeEscrow", "Milestone", Milestone),
        ("ITradeEscrow", "RefundReason", RefundReason),
        ("ITradeEscrow", "Resolution", Resolution),
        ("IMembership", "OracleKind", OracleKind),
        ("IMembership", "Status", MemberStatus),
        ("IReceivables", "Status", ReceivableStatus),
    ],
)
def test_python_enums_mirror_the_interface_enums(interface: str, enum: str, mirror: type[IntEnum]) -> None:
    values = _enums(interface)[enum]
    assert values[0] == "NONE"
    expected = {member: code for code, member in enumerate(values)}
    actual = {m.name: m.value for m in mirror}
    # A mirror may leave out NONE (0), the value the contract never emits.
    assert actual in (expected, {k: v for k, v in expected.items() if k != "NONE"})
