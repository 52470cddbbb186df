"""Keys that are not dev keys: encrypted JSON keystores (Web3 Secret Storage), never plain text."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import LedgerError

PASSWORD_ENV = "SCF_KEYSTORE_PASSWORD"


class KeystoreError(LedgerError):
    """A keystore could not be read or opened; the message never contains key material."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"keystore {path}: {reason}")


def load_keystore(path: Path, password: str | None = None) -> LocalAccount:
    """Decrypt ``path`` with ``password`` (default: the SCF_KEYSTORE_PASSWORD variable)."""
    password = password if password is not None else os.environ.get(PASSWORD_ENV)
    if password is None:
        raise KeystoreError(path, f"no password given; set {PASSWORD_ENV}")
    try:
        encrypted = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError(path, "file not found") from None
    except ValueError:
        raise KeystoreError(path, "not a JSON keystore") from None
    try:
        key = Account.decrypt(encrypted, password)
    except ValueError:
        raise KeystoreError(path, "wrong password or corrupted keystore") from None
    return Account.from_key(key)


def write_keystore(
    account: LocalAccount,
    path: Path,
    password: str,
    *,
    kdf: Literal["pbkdf2", "scrypt"] | None = None,
    iterations: int | None = None,
) -> Path:
    """Encrypt ``account`` into ``path`` (readable by its owner only).

    ``kdf`` and ``iterations`` are eth-account's (default: scrypt at its default cost, about a second to write
    and to open); test suites pass a cheap ``pbkdf2`` for keys that guard nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(account.key, password, kdf=kdf, iterations=iterations)))
    path.chmod(0o600)
    return path
