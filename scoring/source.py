"""Reading the verified history from the indexer's SQL (``ledger/index/sql``): the ``events`` table, as of a point.

The projections hold the current state, so nothing here reads them: a decision as of block B
takes the raw ``events`` rows at or before B (chain order) and the ``refused_calls`` rows at
or before B when that table exists (a database indexed by an older indexer has none: the
history then says it cannot see refused calls).

The as-of point must be final: at most the cursor's block less ``confirmations`` (a block
beyond it raises ``AsOfInFuture``). Without an as-of block the decision is as of that last
final block. The as-of time is the block's timestamp, read from its events or the indexer's
recent-block table (the newest event time at or before it when neither has the block).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, inspect, text

from ledger.index.sql.db import make_engine
from scoring.errors import AsOfInFuture, NoHistory
from scoring.history import ChainEvent, History, RefusedCall

DEFAULT_CONFIRMATIONS = 12


class SqlSource:
    """The indexer's database as the scorer's input (read only)."""

    def __init__(self, engine: Engine, chain_id: int | None = None) -> None:
        self.engine = engine
        self.chain_id, self.cursor_block = self._cursor(chain_id)

    @classmethod
    def open(cls, url: str | None = None, chain_id: int | None = None) -> SqlSource:
        """The database at ``url`` (else ``SCF_DB_URL``, else the devnet's SQLite file)."""
        return cls(make_engine(url), chain_id)

    def _cursor(self, chain_id: int | None) -> tuple[int, int]:
        if not inspect(self.engine).has_table("cursor"):
            raise NoHistory(f"{self.where}: not an indexed database (no cursor table); run `scf index` first")
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT chain_id, block_number FROM cursor ORDER BY chain_id")).all()
        if chain_id is not None:
            rows = [r for r in rows if r[0] == chain_id]
        if not rows:
            raise NoHistory(f"{self.where}: no indexed chain" + (f" {chain_id}" if chain_id is not None else ""))
        if len(rows) > 1:
            raise NoHistory(f"{self.where}: several chains indexed ({[r[0] for r in rows]}); say which")
        return int(rows[0][0]), int(rows[0][1])

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def has_refused_calls(self) -> bool:
        return inspect(self.engine).has_table("refused_calls")

    def last_final_block(self, confirmations: int = DEFAULT_CONFIRMATIONS) -> int:
        return self.cursor_block - confirmations

    def resolve(self, as_of_block: int | None = None, confirmations: int = DEFAULT_CONFIRMATIONS) -> tuple[int, int]:
        """(block, time) of the decision point: ``as_of_block`` or the last final block."""
        final = self.last_final_block(confirmations)
        block = final if as_of_block is None else as_of_block
        if block > final:
            raise AsOfInFuture(block, final, confirmations)
        if block < 0:
            raise NoHistory(
                f"{self.where}: no block is final yet (cursor {self.cursor_block}, {confirmations} confirmations)"
            )
        return block, self.block_time(block)

    def block_time(self, block: int) -> int:
        query = """
            SELECT block_timestamp FROM events WHERE chain_id = :c AND block_number = :b LIMIT 1
        """
        with self.engine.connect() as conn:
            found = conn.execute(text(query), {"c": self.chain_id, "b": block}).scalar()
            if found is None and inspect(self.engine).has_table("blocks"):
                found = conn.execute(
                    text("SELECT timestamp FROM blocks WHERE chain_id = :c AND number = :b"),
                    {"c": self.chain_id, "b": block},
                ).scalar()
            if found is None:
                found = conn.execute(
                    text("SELECT MAX(block_timestamp) FROM events WHERE chain_id = :c AND block_number <= :b"),
                    {"c": self.chain_id, "b": block},
                ).scalar()
        if found is None:
            raise NoHistory(f"{self.where}: no event at or before block {block} on chain {self.chain_id}")
        return int(found)

    def block_at(self, timestamp: int) -> int:
        """The last block with an event at or before ``timestamp`` (blocks without events change nothing)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT MAX(block_number) FROM events WHERE chain_id = :c AND block_timestamp <= :t"),
                {"c": self.chain_id, "t": timestamp},
            ).scalar()
        if found is None:
            raise NoHistory(f"{self.where}: no event at or before time {timestamp}")
        return int(found)

    def history(self, as_of_block: int | None = None, confirmations: int = DEFAULT_CONFIRMATIONS) -> History:
        """Every event (and refused call) at or before the as-of block."""
        block, when = self.resolve(as_of_block, confirmations)
        query = text(
            "SELECT block_number, log_index, block_timestamp, contract, event, args FROM events "
            "WHERE chain_id = :c AND block_number <= :b ORDER BY block_number, log_index"
        )
        with self.engine.connect() as conn:
            events = self._events(conn, query, block)
            refused = self._refused(conn, block) if self.has_refused_calls else None
        return History(self.chain_id, block, when, events, refused, "sql")

    def _events(self, conn: Any, query: Any, block: int) -> list[ChainEvent]:
        loads, new = json.loads, ChainEvent
        if self.engine.dialect.name == "sqlite":
            # The driver's own cursor: SQLAlchemy's row objects cost more than reading the rows does.
            raw = conn.connection.driver_connection
            rows = raw.execute(
                "SELECT block_number, log_index, block_timestamp, contract, event, args FROM events "
                "WHERE chain_id = ? AND block_number <= ? ORDER BY block_number, log_index",
                (self.chain_id, block),
            ).fetchall()
            # One parse of all the arguments at once: a call of json.loads per row costs twice as much.
            parsed = loads("[" + ",".join([r[5] for r in rows]) + "]") if rows else []
            return [new(r[0], r[1], r[2], r[3], r[4], a) for r, a in zip(rows, parsed, strict=True)]
        result = conn.execution_options(stream_results=True, yield_per=50_000).execute(
            query, {"c": self.chain_id, "b": block}
        )
        return [new(n, i, t, c, e, loads(a) if isinstance(a, str) else a) for n, i, t, c, e, a in result]

    def _refused(self, conn: Any, block: int) -> list[RefusedCall]:
        rows = conn.execute(
            text(
                "SELECT block_number, tx_index, sender, contract, function, error FROM refused_calls "
                "WHERE chain_id = :c AND block_number <= :b ORDER BY block_number, tx_index"
            ),
            {"c": self.chain_id, "b": block},
        )
        return [RefusedCall(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5] or "")) for r in rows]
