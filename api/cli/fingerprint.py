"""``scf fingerprint``: an invoice's fingerprint under the consortium's key, computed here, so that a bank
checks the one on chain (or finds the receivable issued for an invoice it is offered) on its own.

    scf fingerprint compute --key-file KEY --debtor ADDRESS --creditor ADDRESS --invoice-number NUMBER
                            --amount UNITS --date YYYY-MM-DD [--salt 0x...] [--json]
    scf fingerprint new-key --out KEY_FILE

``compute`` prints the normalised fields, the fingerprint and, with ``--salt``, the commitment to the
number (``ledger/domain/FINGERPRINTS.md`` is the rule; ``ledger.domain.fingerprints`` its code). ``new-key``
writes 32 random bytes as hex to a new file readable by its owner only: the consortium's key, which its
members share out of band and the chain never sees.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def cmd_compute(args: argparse.Namespace) -> int:
    from ledger.domain.fingerprints import InvalidInvoiceField, InvoiceFields, invoice_commitment, load_consortium_key

    key = load_consortium_key(Path(args.key_file))
    fields = InvoiceFields.of(
        debtor=args.debtor,
        creditor=args.creditor,
        invoice_number=args.invoice_number,
        amount=args.amount,
        invoice_date=args.date,
    )
    out: dict[str, Any] = {
        "keyId": key.key_id,
        "debtor": fields.debtor,
        "creditor": fields.creditor,
        "invoiceNumber": fields.invoice_number,
        "amount": fields.amount,
        "date": fields.invoice_date,
        "fingerprint": "0x" + fields.fingerprint(key).hex(),
    }
    if args.salt is not None:
        try:
            salt = bytes.fromhex(args.salt.removeprefix("0x"))
        except ValueError:
            raise InvalidInvoiceField("salt", args.salt, "not hex") from None
        out["invoiceCommitment"] = "0x" + invoice_commitment(salt, args.invoice_number).hex()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for name, value in out.items():
            print(f"{name:18} {value}")
    return 0


def cmd_new_key(args: argparse.Namespace) -> int:
    from ledger.domain.fingerprints import ConsortiumKey
    from ledger.errors import LedgerError

    path = Path(args.out)
    key = ConsortiumKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(f"{path} exists: a consortium key is never overwritten") from None
    with os.fdopen(fd, "w") as file:
        file.write(key.file_text())
    print(f"consortium key {key.key_id} -> {path} (share it with the members only)")
    return 0


def register(subparsers: Any) -> None:
    """Add ``fingerprint`` to ``scf``'s subcommands."""
    fingerprint = subparsers.add_parser(
        "fingerprint", help="invoice fingerprints under the consortium key (ledger/domain/FINGERPRINTS.md)"
    ).add_subparsers(dest="action", required=True)
    compute = fingerprint.add_parser("compute", help="an invoice's fingerprint (and commitment, with --salt)")
    compute.add_argument("--key-file", required=True, help="the consortium's key file (64 hex digits)")
    compute.add_argument("--debtor", required=True, help="the debtor's address")
    compute.add_argument("--creditor", required=True, help="the creditor's address")
    compute.add_argument("--invoice-number", required=True, help="the invoice number as printed")
    compute.add_argument("--amount", required=True, help="the invoice's amount in token units (an integer)")
    compute.add_argument("--date", required=True, help="the invoice's date, YYYY-MM-DD (UTC)")
    compute.add_argument("--salt", help="the commitment's 32-byte salt (hex): also print the commitment")
    compute.add_argument("--json", action="store_true", help="print JSON")
    compute.set_defaults(func=cmd_compute)
    new_key = fingerprint.add_parser("new-key", help="write a new random consortium key to a new file")
    new_key.add_argument("--out", required=True, help="the key file to create (never overwritten)")
    new_key.set_defaults(func=cmd_new_key)
