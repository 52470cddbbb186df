"""``compare_sql``: every table of the indexer's database against one replay, in a fixed order.

The chain's own record first (cursor, blocks, events), then the stateful tables against the
models' state, then the one-event tables and the refused calls. The stateful tables are skipped
when the database indexes from a block after the ledger's first events: its projections are
partial by design.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.audit.replay import Deployment, ReplayResult
from ledger.audit.sql import chain, escrow, parties, receivables, settings
from ledger.audit.sql.rows import SqlCompareError, SqlComparison, SqlCursor, connected, read_cursor
from ledger.audit.sql.tables import Tables
from ledger.gc_pause import collector_paused
from ledger.index.sql import models


def _run(tables: Tables) -> SqlComparison:
    started = time.perf_counter()
    tables.derive()
    kept = tables.rows(models.Block, order=("number",))
    after, whole = chain.digests(tables, [int(row["number"]) for row in kept])
    chain.compare_cursor(tables, whole)
    chain.compare_blocks(tables, kept, after)
    chain.compare_events(tables)
    first_log = tables.logs[0].block_number if tables.logs else tables.to_block + 1
    if tables.cursor.from_block > min(first_log, tables.result.report.replayed_from):
        tables.out.skipped.append(
            f"stateful tables: the database indexes from block {tables.cursor.from_block}, after the ledger's "
            "first events, so its projections are partial by design"
        )
    else:
        parties.compare_parties(tables)
        escrow.compare_orders(tables)
        escrow.compare_disputes(tables)
        escrow.compare_guarantees_and_pools(tables)
        receivables.compare_receivables(tables)
        parties.compare_limits(tables)
        parties.compare_balances(tables)
        settings.compare_settings(tables)
    escrow.compare_milestones(tables)
    receivables.compare_facts(tables)
    chain.compare_refused_calls(tables)
    tables.out.seconds = time.perf_counter() - started
    return tables.out


def compare_sql(
    result: ReplayResult, deployment: Deployment, bind: Engine | Connection, *, cursor: SqlCursor | None = None
) -> SqlComparison:
    """Every row the indexer wrote for ``deployment``'s chain against the replay's ``result`` (run with
    ``keep_logs=True``, to the cursor's block to compare the same state)."""
    try:
        with collector_paused(), connected(bind) as conn:
            found = cursor or read_cursor(conn, deployment.chain_id)
            if found is None:
                raise SqlCompareError(f"the database has no cursor for chain {deployment.chain_id}: nothing indexed")
            return _run(Tables(result, deployment, conn, found))
    except SQLAlchemyError as exc:  # a table missing or of another shape: not the indexer's schema
        raise SqlCompareError(f"the database cannot be compared: {type(exc).__name__}: {exc}") from exc
