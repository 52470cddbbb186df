"""Receivables' tables against the models' state and Receivables' events.

* ``receivable_roots``: each root's terms, repaid and claimed amounts and the status the models
  compute, with the nonce and submitter from ``ReceivableIssued``;
* ``receivable_pieces``: each piece of the split tree with its holder;
* the one-event tables ``financings``, ``repayments`` and ``claims``: each row against the logged
  event at its (block, log index), columns mapped from the event's arguments.
"""

from __future__ import annotations

from ledger.audit.sql.rows import Key, Row, hex_str, row_key
from ledger.audit.sql.tables import Tables
from ledger.domain.receivables import ReceivableStatus
from ledger.index.sql import models


def compare_receivables(tables: Tables) -> None:
    receivables = tables.result.models.receivables
    roots: dict[Key, Row] = {}
    for root_id in receivables.root_ids():
        r, extra = receivables.root(root_id), tables.derived.roots.get(root_id, {})
        roots[(root_id,)] = {
            "debtor": r.debtor,
            "creditor": r.creditor,
            "token": r.token,
            "face_value": r.face_value,
            "maturity": r.maturity,
            "issued_at": r.issued_at,
            "defaulted_at": r.defaulted_at,
            "invoice_hash": hex_str(r.invoice_hash),
            "fingerprint": hex_str(r.fingerprint),
            "invoice_commitment": hex_str(r.invoice_commitment),
            "order_id": r.order_id,
            "nonce": extra.get("nonce"),
            "submitter": extra.get("submitter"),
            "repaid": r.repaid,
            "claimed": r.claimed,
            "status": ReceivableStatus(receivables.status(root_id)).name,
            "issued_block": tables.derived.created.get(("receivable_roots", (root_id,)), 0),
        }
    tables.stateful(models.Root, ("root_id",), roots)
    pieces: dict[Key, Row] = {}
    for piece_id in receivables.piece_ids():
        p = receivables.piece(piece_id)
        pieces[(piece_id,)] = {
            "root_id": p.root_id,
            "parent_id": p.parent_id,
            "amount": p.amount,
            "claimed": p.claimed,
            "ref": hex_str(p.ref),
            "first_child_id": p.first_child_id,
            "child_count": p.child_count,
            "financed": p.financed,
            "created_at": p.created_at,
            "holder": receivables.holder_of(piece_id),
            "created_block": tables.derived.created.get(("receivable_pieces", (piece_id,)), 0),
        }
    tables.stateful(models.Piece, ("piece_id",), pieces)


def compare_facts(tables: Tables) -> None:
    for model in (models.Financing, models.Repayment, models.Claim):
        table = models.table_of(model).name
        actual = {(int(row["block_number"]), int(row["log_index"])): row for row in tables.rows(model)}
        expected = tables.derived.facts[table]
        for position in sorted(set(expected) | set(actual)):
            want = expected.get(position)
            key = row_key(table, ("block_number", "log_index"), position)
            tables.compare_row(table, key, position[0], want, actual.get(position), list(want or ()))
