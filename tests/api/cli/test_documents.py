"""``scf documents upload|download|share|list``: the round trip through argv, keystores and the API (in process).

Each party runs the command with its own keystore: the core enterprise seals a file to its supplier, the
supplier downloads and gets the exact bytes (checked against the hash), the core shares it with a bank, which
then opens it too; a party that was never given the document gets a one-line error, as does a download whose
hash is not the one expected. The API is the app behind FastAPI's TestClient (``open_http`` is the seam).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.cli import documents as documents_cli
from api.cli import main
from ledger.eth.artifacts import BuildResult
from ledger.eth.keys import PASSWORD_ENV
from tests.support.api_world import World, open_api_world

PASSWORD = "correct horse battery staple"
#: ``scf documents ARGV --key <the role's keystore>``: (exit status, stdout, stderr).
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def served(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from open_api_world(build, tmp_path_factory.mktemp("documents-cli"), None)


@pytest.fixture
def scf(
    served: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Run]:
    monkeypatch.setattr(documents_cli, "open_http", lambda _url: served.client)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    def keystore(account: LocalAccount) -> str:
        path = tmp_path / f"{account.address}.json"
        if not path.exists():  # a cheap KDF: scrypt's default costs a second or more per file on a loaded machine
            path.write_text(json.dumps(Account.encrypt(account.key, PASSWORD, kdf="pbkdf2", iterations=1024)))
        return str(path)

    def run(role: str, *argv: str) -> tuple[int, str, str]:
        code = main(["documents", *argv, "--key", keystore(served.account(role))])
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def test_a_file_sealed_by_the_cli_is_opened_by_each_party_it_is_wrapped_or_shared_to(
    served: World, scf: Run, tmp_path: Path
) -> None:
    run = scf
    content = b"%PDF-1.7 purchase order 77 terms: net 60"
    source = tmp_path / "terms.pdf"
    source.write_bytes(content)
    supplier, bank = served.account("tier1").address, served.account("bank").address
    for role in ("tier1", "bank"):  # each signs in once with the command, which registers its key
        assert run(role, "list")[0] == 0
    code, out, _ = run("core", "upload", str(source), "--kind", "terms", "--party", supplier)
    assert code == 0, out
    document_id, keccak256 = out.split()[:2]

    code, out, _ = run("tier1", "download", document_id, "--out", str(tmp_path / "tier1"), "--expect-hash", keccak256)
    assert code == 0 and "(checked)" in out
    assert (tmp_path / "tier1" / "terms.pdf").read_bytes() == content

    code, _, err = run("bank", "download", document_id, "--out", str(tmp_path / "bank"))
    assert code == 2 and "404" in err and not (tmp_path / "bank").exists()
    code, out, _ = run("core", "share", document_id, bank)
    assert code == 0 and bank in out
    code, out, _ = run("bank", "download", document_id, "--out", str(tmp_path / "bank"))
    assert code == 0 and (tmp_path / "bank" / "terms.pdf").read_bytes() == content

    code, _, err = run("bank", "download", document_id, "--out", str(tmp_path / "x"), "--expect-hash", "0x" + "00" * 32)
    assert code == 2 and "not the 0x" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run("tier1", "list")
    assert code == 0 and document_id in out and "terms.pdf" in out
