"""``scf fingerprint``: a bank computes an invoice's fingerprint from a key file and the fields, in process."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

import api.cli
from api.cli import serve
from ledger.domain.fingerprints import load_consortium_key

SPEC_KEY = bytes(range(32)).hex()
FIELDS = [
    "--debtor",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "--creditor",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "--amount",
    "1250000000",
    "--date",
    "2026-03-02",
]


def compute(key_file: Path, number: str, *extra: str) -> list[str]:
    return ["fingerprint", "compute", "--key-file", str(key_file), "--invoice-number", number, *FIELDS, *extra]


def test_compute_gives_the_spec_vector_for_any_spelling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "consortium.key"
    key.write_text(SPEC_KEY + "\n")
    for number in ("INV-S7-30x6-000124", " inv s7 30x6 124 "):
        assert api.cli.main([*compute(key, number), "--salt", "0x" + "11" * 32, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["fingerprint"] == "0x283bad041ecaa81480d3dff02995dec8d3bd27939e8c90424916c8faa69ce7b1"
        assert out["invoiceCommitment"] == "0x85504675235acbe665d8704d0f9d4f76b4da1790f0adc8bcbb2a7acb39114262"
        assert out["invoiceNumber"] == "invs730x6124"


def test_a_missing_key_file_or_a_bad_field_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert api.cli.main(compute(tmp_path / "nowhere.key", "INV-1")) == 2
    assert "nowhere.key: no such file" in capsys.readouterr().err
    (tmp_path / "short.key").write_text("ab" * 16)
    assert api.cli.main(compute(tmp_path / "short.key", "INV-1")) == 2
    assert "32 hex digits" in capsys.readouterr().err
    (tmp_path / "good.key").write_text(SPEC_KEY)
    assert api.cli.main(compute(tmp_path / "good.key", "\u0406NV-1")) == 2
    assert "invoiceNumber" in capsys.readouterr().err


def test_new_key_writes_a_private_file_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "consortium.key"
    assert api.cli.main(["fingerprint", "new-key", "--out", str(out)]) == 0
    key = load_consortium_key(out)
    assert key.key_id in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert api.cli.main(["fingerprint", "new-key", "--out", str(out)]) == 2
    assert load_consortium_key(out) == key


def test_serve_takes_a_fingerprint_key_file() -> None:
    args = api.cli.parser().parse_args(["serve", "--fingerprint-key", "consortium.key"])
    assert serve.ServeOptions.of(args).fingerprint_key == "consortium.key"
