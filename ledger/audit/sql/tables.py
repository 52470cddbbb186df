"""The comparison's shared state and its one way of comparing rows, for every table's module.

``Tables`` holds what every table's comparison reads (the replay's result and the models' state
at its last block, the decoded logs, what the events say beyond the state in ``derived``, the
connection) and what it writes (``out``), and compares rows: ``compare_row`` column by column,
``stateful`` a whole table keyed by its key columns against the rows the chain explains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from ledger.audit.replay import Deployment, ReplayResult
from ledger.audit.report import Kind, Location, Mismatch
from ledger.audit.sql.derived import Derived
from ledger.audit.sql.rows import Key, Row, SqlCompareError, SqlComparison, SqlCursor, plain_row, row_key, sort_key
from ledger.eth.history import LogDecoder, RawLog, json_args_writers
from ledger.index.sql import models


class Tables:
    """One comparison of the indexer's database with one replay."""

    def __init__(self, result: ReplayResult, deployment: Deployment, conn: Connection, cursor: SqlCursor) -> None:
        if result.logs is None:
            raise SqlCompareError("the replay kept no logs: run it with keep_logs=True to compare a database")
        self.result = result
        self.deployment = deployment
        self.conn = conn
        self.cursor = cursor
        self.chain_id = deployment.chain_id
        self.to_block = result.report.to_block
        self.out = SqlComparison()
        self.logs: list[RawLog] = result.logs
        self.decoder = LogDecoder(deployment.addresses, deployment.abis)
        self.writers = json_args_writers(deployment.abis)
        self.timestamps = {n: h.timestamp for n, h in result.headers.items()}
        self.decoded = self.decoder.decode_many(self.logs)
        self.state = result.models.state()
        self.derived = Derived(self.timestamps, cursor.from_block)

    def derive(self) -> None:
        """Walk the decoded logs once into ``derived``."""
        for log in self.decoded:
            self.derived.add(log)

    # reporting

    def found(
        self, table: str, key: str, column: str | None, block: int | None, expected: Any, actual: Any, detail: str
    ) -> None:
        location = Location(block=block, table=table, key=key, column=column)
        self.out.mismatches.append(Mismatch(Kind.SQL, location, expected, actual, detail))

    def compare_row(
        self, table: str, key: str, block: int | None, expected: Row | None, actual: Row | None, columns: Iterable[str]
    ) -> None:
        if actual is None and expected is not None:
            self.found(table, key, None, block, expected, None, "a row the chain explains is missing")
        elif expected is None and actual is not None:
            self.found(table, key, None, block, None, plain_row(actual), "a row the chain does not explain")
        elif expected is not None and actual is not None:
            for column in columns:
                want, have = expected[column], actual[column]
                if want != have:
                    self.found(table, key, column, block, want, have, f"{table}.{column} differs from the chain")

    def rows(self, model: type[models.Base], *, order: Sequence[str] = ()) -> list[Row]:
        table = models.table_of(model)
        query = select(table).where(table.c.chain_id == self.chain_id)
        if order:
            query = query.order_by(*(table.c[c] for c in order))
        found = [dict(row) for row in self.conn.execute(query).mappings()]
        self.out.rows[table.name] += len(found)
        return found

    def stateful(
        self,
        model: type[models.Base],
        key_columns: Sequence[str],
        expected: Mapping[Key, Row],
        *,
        zero_is_absent: Callable[[Row], bool] | None = None,
    ) -> None:
        """Rows keyed by ``key_columns`` against ``expected`` (every non-key column it names)."""
        table = models.table_of(model)
        actual = {tuple(row[c] for c in key_columns): row for row in self.rows(model)}
        for key in sorted(set(expected) | set(actual), key=sort_key):
            want, have = expected.get(key), actual.get(key)
            if zero_is_absent is not None:
                if want is not None and have is None and zero_is_absent(want):
                    continue
                if have is not None and want is None and zero_is_absent(have):
                    continue
            columns = [c for c in (want or {}) if c not in key_columns]
            block = self.derived.block_of(table.name, key, self.to_block)
            self.compare_row(table.name, row_key(table.name, key_columns, key), block, want, have, columns)

    # the tables
