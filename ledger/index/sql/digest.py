"""What a database holds, in one line: the history digest of its events, and its tables' rows.

``database_digest`` folds the stored events in chain order into the same ``HistoryDigest``
the chain gives (``ledger.eth.history``), so a database compares with the chain, or with another
database, in one line. ``table_snapshot`` lists every projection's rows in key order, for
comparing two databases table by table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select

from ledger.eth.history import HistoryDigest, RawLog
from ledger.index.sql import models

#: The projection tables, in the order a snapshot lists them.
PROJECTIONS = (
    models.Party,
    models.Order,
    models.Milestone,
    models.Dispute,
    models.Guarantee,
    models.Pool,
    models.Root,
    models.Piece,
    models.Financing,
    models.Repayment,
    models.Claim,
    models.CreditLimit,
    models.Balance,
    models.Setting,
)


def _connected(bind: Engine | Connection) -> Connection:
    return bind.connect() if isinstance(bind, Engine) else bind


def database_digest(bind: Engine | Connection, chain_id: int) -> tuple[str, int]:
    """(digest hex, event count) of the events stored for ``chain_id``, folded in chain order."""
    e = models.EVENTS.c
    query = (
        select(e.block_number, e.block_hash, e.tx_hash, e.tx_index, e.log_index, e.address)
        .add_columns(e.topic0, e.topic1, e.topic2, e.topic3, e.data)
        .where(e.chain_id == chain_id)
        .order_by(e.block_number, e.log_index)
    )
    digest = HistoryDigest(chain_id)
    conn = _connected(bind)
    try:
        result = conn.execute(query.execution_options(yield_per=10_000))
        for rows in result.partitions():
            digest.add_many(
                RawLog(r[0], r[1], r[2], r[3], r[4], r[5], tuple(t for t in r[6:10] if t is not None), r[10])
                for r in rows
            )
    finally:
        if isinstance(bind, Engine):
            conn.close()
    return digest.hex, digest.count


def table_snapshot(bind: Engine | Connection, chain_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection row of ``chain_id`` and every stored event (less its row id), in key order."""
    conn = _connected(bind)
    try:
        snapshot: dict[str, list[tuple[Any, ...]]] = {}
        for model in PROJECTIONS:
            table = models.table_of(model)
            keys = list(table.primary_key.columns)
            rows = conn.execute(select(table).where(table.c.chain_id == chain_id).order_by(*keys)).all()
            snapshot[table.name] = [tuple(row) for row in rows]
        events = models.EVENTS
        columns = [c for c in events.c if c.name != "id"]
        rows = conn.execute(
            select(*columns).where(events.c.chain_id == chain_id).order_by(events.c.block_number, events.c.log_index)
        ).all()
        snapshot["events"] = [tuple(row) for row in rows]
        return snapshot
    finally:
        if isinstance(bind, Engine):
            conn.close()
