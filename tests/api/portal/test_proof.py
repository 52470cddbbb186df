"""The browser's proof verifier (``api/portal/web/src/proof.ts``), held to the Python verifier's answers.

The portal's bank page checks a piece's storage proof in the browser against the bank's own node. Here the
same module runs on Node (bundled by the esbuild the portal is built with) beside the Python verifier
(``ledger.eth.proofs.verify_bundle``) over a played world's node (``tests.support.desk_world``): both accept
the API's bundle and prove the same state, and both refuse each doctored bundle for the same reason (a
flipped byte in an account or storage proof node, a stated value, a claimed field, another state root, a
slot left out, another contract); a node that does not answer is named. Its storage layout is the compiler's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.eth.artifacts import BuildResult
from ledger.eth.proofs import ClaimMismatch, ProofError, ProofInvalid, ReceivableLayout, verify_bundle
from tests.support.desk_world import DeskWorld, Party, rpc, served_desk_world
from tests.support.node_driver import run_driver

ROOT = Path(__file__).resolve().parents[3]
PROOF_TS = ROOT / "api" / "portal" / "web" / "src" / "proof.ts"


@pytest.fixture(scope="module")
def desk(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    with served_desk_world(build, tmp_path_factory.mktemp("proof-verifier"), slices=1) as world:
        yield world


# -- the browser's verifier (api/portal/web/src/proof.ts), on Node -----------------------------------

#: Runs each case through verifyOnNode as the page does, and prints the outcomes and the verifier's layout.
DRIVER = """
import { readFileSync } from "node:fs";
import { ProofError, RECEIVABLES_LAYOUT, verifyOnNode } from "PROOF_TS";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const c of cases) {
  try {
    const { state } = await verifyOnNode(c.bundle, c.node, c.contract);
    const shown = Object.entries(state).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]);
    results.push({ verified: true, state: Object.fromEntries(shown) });
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    const { name, what, field, message } = err;
    results.push({ verified: false, error: name, what: what ?? null, field: field ?? null, message });
  }
}
console.log(JSON.stringify({ layout: RECEIVABLES_LAYOUT, results }));
"""


def _browser_verifier(tmp_path: Path, cases: list[dict[str, Any]]) -> dict[str, Any]:
    return run_driver(tmp_path, DRIVER.replace("PROOF_TS", PROOF_TS.as_posix()), cases)


def _flip(data: str, at: int) -> str:
    """``data`` (0x hex) with the hex digit at ``at`` changed."""
    digits = data[2:]
    return "0x" + digits[:at] + ("1" if digits[at] == "0" else "0") + digits[at + 1 :]


def _doctored(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ways a bundle can lie, each made on a copy of ``bundle``."""

    def account_node(b: dict[str, Any]) -> None:
        nodes = b["proof"]["accountProof"]
        nodes[len(nodes) // 2] = _flip(nodes[len(nodes) // 2], 200)

    def storage_node(b: dict[str, Any]) -> None:
        nodes = b["proof"]["storageProof"][0]["proof"]
        nodes[-1] = _flip(nodes[-1], len(nodes[-1]) - 6)

    def stated_value(b: dict[str, Any]) -> None:
        entry = b["proof"]["storageProof"][1]
        entry["value"] = hex(int(entry["value"], 16) + 1)

    def claimed(name: str, value: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
        return lambda b: b["claim"].__setitem__(name, value(b["claim"]))

    def state_root(b: dict[str, Any]) -> None:
        b["block"]["stateRoot"] = _flip(b["block"]["stateRoot"], 10)

    def slot_left_out(b: dict[str, Any]) -> None:
        del b["proof"]["storageProof"][2]

    def contract(b: dict[str, Any]) -> None:
        b["contract"] = b["claim"]["token"]

    lies: dict[str, Callable[[dict[str, Any]], None]] = {
        "account node": account_node,
        "storage node": storage_node,
        "stated value": stated_value,
        "claimed amount": claimed("amount", lambda c: str(int(c["amount"]) + 1)),
        "claimed holder": claimed("holder", lambda c: c["debtor"]),
        "claimed financed": claimed("financed", lambda c: not c["financed"]),
        "state root": state_root,
        "slot left out": slot_left_out,
        "contract": contract,
    }
    doctored = {}
    for name, lie in lies.items():
        doctored[name] = copy.deepcopy(bundle)
        lie(doctored[name])
    return doctored


def _python_verdict(
    bundle: dict[str, Any], header: dict[str, Any], layout: ReceivableLayout, contract: str
) -> dict[str, Any]:
    try:
        state = verify_bundle(bundle, header, layout, contract=contract)
    except ProofError as exc:
        what = exc.what if isinstance(exc, ProofInvalid) else None
        field = exc.field if isinstance(exc, ClaimMismatch) else None
        return {"verified": False, "error": type(exc).__name__, "what": what, "field": field}
    return {"verified": True, "state": state.to_json()}


def test_the_browsers_verifier_agrees_with_the_python_verifier_on_honest_and_doctored_bundles(
    desk: DeskWorld, tmp_path: Path
) -> None:
    assert desk.build is not None
    contract = desk.world.result.addresses["Receivables"]
    layout = ReceivableLayout.from_storage_layout(desk.build["Receivables"].storage_layout)
    harbour = next(p for p in desk.parties.parties if p.kind == "bank")
    banker = Party(desk, desk.keys[harbour.address])
    financed = banker.get("/v1/banks/me/portfolio")["pieces"][0]["pieceId"]
    bundles = {
        "financed": banker.get(f"/v1/receivables/pieces/{financed}/proof"),
        "unfinanced": Party(desk, desk.keys[desk.tier3]).get(f"/v1/receivables/pieces/{desk.piece_id}/proof"),
    }
    cases: list[tuple[str, dict[str, Any]]] = [(name, bundle) for name, bundle in bundles.items()]
    cases += list(_doctored(bundles["financed"]).items())
    run = [{"bundle": b, "node": desk.rpc, "contract": contract} for _, b in cases]
    run.append({"bundle": bundles["financed"], "node": "http://127.0.0.1:9", "contract": contract})
    doomed = copy.deepcopy(bundles["financed"])
    doomed["block"]["number"] = 10**12
    run.append({"bundle": doomed, "node": desk.rpc, "contract": contract})

    answer = _browser_verifier(tmp_path, run)
    results = answer["results"]
    for (name, bundle), browser in zip(cases, results, strict=False):
        header = rpc(desk.rpc, "eth_getBlockByNumber", [hex(bundle["block"]["number"]), False])
        python = _python_verdict(bundle, header, layout, contract)
        if python["verified"]:
            assert browser == python, name
        else:
            assert {k: browser[k] for k in python} == python, (name, browser["message"])
    assert [r["verified"] for r in results[:2]] == [True, True]
    assert results[0]["state"]["financed"] is True and results[0]["state"]["holder"] == harbour.address
    assert all(not r["verified"] for r in results[2:])
    unreachable, unknown_block = results[-2:]
    assert unreachable["error"] == "ProofUnavailable" and "http://127.0.0.1:9" in unreachable["message"]
    assert unknown_block["error"] == "ProofUnavailable" and "no block" in unknown_block["message"]


def test_the_browsers_verifier_reads_the_storage_layout_the_compiler_gives(desk: DeskWorld, tmp_path: Path) -> None:
    assert desk.build is not None
    layout = ReceivableLayout.from_storage_layout(desk.build["Receivables"].storage_layout)
    browser = _browser_verifier(tmp_path, [])["layout"]

    def members(found: dict[str, Any]) -> dict[str, list[int]]:
        return {label: [m.slot, m.offset, m.size] for label, m in found.items()}

    assert browser == {
        "roots": layout.roots,
        "pieces": layout.pieces,
        "owners": layout.owners,
        "rootMembers": members(layout.root_members),
        "pieceMembers": members(layout.piece_members),
    }
