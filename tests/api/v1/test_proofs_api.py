"""The API serves a receivable with its storage proof; ``scf verify receivable`` checks it on a node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.cli import verify as verify_cli
from tests.support.api_world import World


def _proof(world: World, role: str, piece_id: int) -> dict[str, object]:
    answer = world.client.get(f"/v1/receivables/pieces/{piece_id}/proof", headers=world.sign_in(role))
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_the_api_proof_verifies_on_the_banks_own_node(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert world.scenario is not None
    piece_id = world.scenario.pieces["financed"]
    bundle = _proof(world, "bank", piece_id)
    assert bundle["claim"]["holder"] == world.account("bank").address  # type: ignore[index]
    assert bundle["claim"]["financed"] is True  # type: ignore[index]
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    contract = world.deployed.addresses["Receivables"]
    argv = [
        "verify",
        "receivable",
        str(piece_id),
        "--rpc",
        world.devnet.url,
        "--proof",
        str(path),
        "--contract",
        contract,
        "--json",
    ]
    assert verify_cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["verified"] is True and result["state"]["piece_id"] == str(piece_id)


def test_a_doctored_claim_from_the_api_is_refused_by_scf_verify(world: World, tmp_path: Path) -> None:
    assert world.scenario is not None
    piece_id = world.scenario.pieces["financed"]
    bundle = _proof(world, "bank", piece_id)
    bundle["claim"]["amount"] = str(10**12)  # type: ignore[index]
    path = tmp_path / "doctored.json"
    path.write_text(json.dumps(bundle))
    contract = world.deployed.addresses["Receivables"]
    argv = [
        "verify",
        "receivable",
        str(piece_id),
        "--rpc",
        world.devnet.url,
        "--proof",
        str(path),
        "--contract",
        contract,
    ]
    assert verify_cli.main(argv) == verify_cli.EXIT_REFUSED
    # A bundle about another contract is refused too, whatever it proves.
    argv[-1] = world.deployed.addresses["TradeEscrow"]
    bundle = _proof(world, "bank", piece_id)
    path.write_text(json.dumps(bundle))
    assert verify_cli.main(argv) == verify_cli.EXIT_REFUSED


def test_scf_verify_reads_and_proves_from_the_node_alone(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert world.scenario is not None
    root_id = world.scenario.roots["tree"]
    contract = world.deployed.addresses["Receivables"]
    assert (
        verify_cli.main(["verify", "receivable", str(root_id), "--rpc", world.devnet.url, "--contract", contract]) == 0
    )
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "face_value" in out


def test_another_partys_piece_has_no_proof_for_you(world: World) -> None:
    assert world.scenario is not None
    piece_id = world.scenario.pieces["financed"]
    answer = world.client.get(f"/v1/receivables/pieces/{piece_id}/proof", headers=world.sign_in("tier2"))
    assert answer.status_code == 404
