"""``scf keys export-dev ROLE --out FILE``: a dev account's key as an encrypted keystore, so that services
on the devnet start the way they would anywhere (from a keystore, never a raw key)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Exported:
    role: str
    address: str
    path: Path


def export_dev_key(role: str, out: Path, password: str) -> Exported:
    """Write the dev account ``role``'s key to ``out``, encrypted with ``password``."""
    from ledger.eth.accounts import dev_accounts
    from ledger.eth.keys import write_keystore

    account = dev_accounts()[role]
    return Exported(role, account.address, write_keystore(account, out, password))


def cmd_keys_export_dev(args: argparse.Namespace) -> int:
    from ledger.errors import LedgerError
    from ledger.eth.keys import PASSWORD_ENV

    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise LedgerError(f"set {PASSWORD_ENV} to the password the keystore is encrypted with")
    exported = export_dev_key(args.role, Path(args.out), password)
    print(f"{exported.role} {exported.address} -> {exported.path}")
    return 0


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="encrypted keystores").add_subparsers(dest="action", required=True)
    export = keys.add_parser("export-dev", help="write a dev account's key as an encrypted keystore")
    export.add_argument("role", help="dev account role (carrier, inspector, relayer, ...)")
    export.add_argument("--out", required=True, help="keystore file to write")
    export.set_defaults(func=cmd_keys_export_dev)
