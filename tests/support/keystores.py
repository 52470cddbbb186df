"""Keystores for keys that guard nothing: eth-account's pbkdf2 at a few rounds, not scrypt's default cost.

A keystore at the default cost takes about a second to write and another each time it is opened (the desk opens
its bank's at every round, ``scf deploy`` at every run); a suite writes and opens dozens. What a keystore is
(Web3 Secret Storage, decrypted by whatever opens it with the KDF it names) is the same at any cost, and
``tests/ledger/eth/test_keys.py`` keeps the default cost's round trip.
"""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.eth.keys import write_keystore

#: Rounds of pbkdf2 for a test keystore: a few milliseconds to write and to open.
ROUNDS = 1_024


def cheap_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """``write_keystore`` with pbkdf2 at ``ROUNDS``."""
    return write_keystore(account, path, password, kdf="pbkdf2", iterations=ROUNDS)
