"""Keystores: keys live encrypted, and a wrong password says so without leaking anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from ledger.eth.keys import KeystoreError, load_keystore, write_keystore


def test_keystore_round_trip_gives_back_the_same_account(tmp_path: Path) -> None:
    account = Account.create()
    path = write_keystore(account, tmp_path / "k.json", "correct horse")

    assert load_keystore(path, "correct horse").address == account.address
    assert account.key.hex() not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


def test_wrong_password_is_a_keystore_error_without_key_material(tmp_path: Path) -> None:
    account = Account.create()
    path = write_keystore(account, tmp_path / "k.json", "right")

    with pytest.raises(KeystoreError, match="wrong password") as caught:
        load_keystore(path, "wrong")

    assert account.key.hex() not in str(caught.value)


def test_missing_file_and_missing_password_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCF_KEYSTORE_PASSWORD", raising=False)

    with pytest.raises(KeystoreError, match="not found"):
        load_keystore(tmp_path / "none.json", "x")
    with pytest.raises(KeystoreError, match="SCF_KEYSTORE_PASSWORD"):
        load_keystore(tmp_path / "none.json")
