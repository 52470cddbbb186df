"""The chain's own record against the database: the cursor, the blocks, every event, the refused calls.

* ``cursor``: the chain, the block number and hash (the replay's last block), the history digest
  and event count (from the replay's checkpoints, or folded here from the logs it read, from the
  cursor's first block), the deployment's addresses;
* ``blocks``: each kept block's hash, parent, time and the digest after it;
* ``events``: each row against the log at its (block, log index): hashes, position, address,
  contract, event, topics, data and the arguments in the indexer's JSON form
  (``ledger.eth.history.json_args_writers``, the one function that writes them); missing and
  extra rows. Read in pages and compared as tuples first: only a row that differs is spelled out;
* ``refused_calls``: each reverted call to a ledger contract the replay found (a transaction
  that left no log), with its sender, function, arguments and custom error.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence

from sqlalchemy import inspect, text

from ledger.audit.sql.rows import ZERO_HASH, Key, Row, json_value, plain_row, row_key
from ledger.audit.sql.tables import Tables
from ledger.eth.history import HistoryDigest, LedgerLog, RawLog
from ledger.eth.refusals import RefusalDecoder
from ledger.index.sql import models


def compare_cursor(tables: Tables, digest: tuple[str, int]) -> None:
    report, cursor = tables.result.report, tables.cursor
    key = row_key("cursor", ("chain_id",), (tables.chain_id,))
    tables.out.rows["cursor"] += 1
    expected = {
        "block_number": report.to_block,
        "block_hash": report.to_block_hash,
        "digest": digest[0],
        "event_count": digest[1],
        "addresses": dict(tables.deployment.addresses),
    }
    actual = {
        "block_number": cursor.block_number,
        "block_hash": cursor.block_hash,
        "digest": cursor.digest,
        "event_count": cursor.event_count,
        "addresses": dict(cursor.addresses),
    }
    if cursor.block_number != report.to_block:
        tables.found(
            "cursor",
            key,
            "block_number",
            report.to_block,
            report.to_block,
            cursor.block_number,
            f"the database is at block {cursor.block_number}, the replay at {report.to_block}: replay to "
            f"the cursor's block (--to-block {cursor.block_number}) to compare the same state",
        )
        columns = ["addresses"]
    else:
        columns = ["block_hash", "digest", "event_count", "addresses"]
    tables.compare_row("cursor", key, report.to_block, expected, actual, columns)


def digests(tables: Tables, numbers: Sequence[int]) -> tuple[dict[int, tuple[str, int]], tuple[str, int]]:
    """The history digest (and event count) after each block of ``numbers``, and after the last
    log, from the cursor's first block on: the replay's own checkpoints when its digest starts
    there, else folded here in one pass."""
    report = tables.result.report
    if report.from_block == tables.cursor.from_block and (tables.result.checkpoints or not tables.logs):
        checkpoints = tables.result.checkpoints
        ends = [number for number, _, _ in checkpoints]
        found: dict[int, tuple[str, int]] = {}
        for number in numbers:
            at = bisect_right(ends, number)
            found[number] = (checkpoints[at - 1][1], checkpoints[at - 1][2]) if at else (ZERO_HASH, 0)
        return found, (report.digest, report.counts.logs)
    logs = [raw for raw in tables.logs if raw.block_number >= tables.cursor.from_block]
    blocks = [raw.block_number for raw in logs]
    digest = HistoryDigest(tables.chain_id)
    after: dict[int, tuple[str, int]] = {}
    done = 0
    for number in sorted(numbers):
        end = bisect_right(blocks, number)
        digest.add_many(logs[done:end])
        done = max(done, end)
        after[number] = (digest.hex, digest.count)
    digest.add_many(logs[done:])
    return after, (digest.hex, digest.count)


def compare_blocks(tables: Tables, kept: list[Row], after: Mapping[int, tuple[str, int]]) -> None:
    headers = tables.result.headers
    for row in kept:
        number = int(row["number"])
        header = headers.get(number)
        if number < 0:
            expected: Row | None = {"hash": ZERO_HASH, "parent_hash": ZERO_HASH, "timestamp": 0}
        elif header is None:
            if tables.result.report.replayed_from <= number <= tables.to_block:
                continue  # not read by the replay (before its first page's anchor): nothing to say
            expected = None
        else:
            expected = {"hash": header.hash, "parent_hash": header.parent_hash, "timestamp": header.timestamp}
        if expected is not None:
            digest, count = after.get(number, (ZERO_HASH, 0))
            expected.update(digest=digest, event_count=count)
        tables.compare_row(
            "blocks", row_key("blocks", ("number",), (number,)), number, expected, row, list(expected or ())
        )


def compare_events(tables: Tables) -> None:
    e = models.EVENTS.c
    columns = (
        "block_number",
        "log_index",
        "block_hash",
        "block_timestamp",
        "tx_hash",
        "tx_index",
        "address",
        "contract",
        "event",
        "topic0",
        "topic1",
        "topic2",
        "topic3",
        "data",
        "args",
    )
    query = text(
        f"SELECT {', '.join(columns)} FROM {models.EVENTS.name} WHERE chain_id = :chain "
        "ORDER BY block_number, log_index"
    ).columns(e.block_number, e.log_index)
    expected: dict[Key, tuple[RawLog, LedgerLog]] = {
        (raw.block_number, raw.log_index): (raw, log)
        for raw, log in zip(tables.logs, tables.decoded, strict=True)
        if raw.block_number >= tables.cursor.from_block
    }
    seen: set[Key] = set()
    count = 0
    timestamps, writers, padding = tables.timestamps, tables.writers, (None, None, None, None)
    result = tables.conn.execute(query.execution_options(yield_per=5_000), {"chain": tables.chain_id})
    for found in (row for rows in result.partitions() for row in rows):
        count += 1
        position = (int(found[0]), int(found[1]))
        pair = expected.get(position)
        if pair is None or position in seen:
            key = row_key("events", ("block_number", "log_index"), position)
            row = dict(zip(columns, found, strict=True))
            tables.found("events", key, None, position[0], None, plain_row(row), "a row no log of the chain explains")
            continue
        seen.add(position)
        raw, log = pair
        topics = (*raw.topics, *padding[len(raw.topics) :])
        want = (raw.block_hash, timestamps.get(raw.block_number, raw.block_timestamp), raw.tx_hash, raw.tx_index,
                raw.address, log.contract, log.event, *topics, raw.data)  # fmt: skip
        write = writers.get((log.contract, log.event))
        written = write(log.args) if write is not None else None
        stored = found[14]
        if tuple(found[2:14]) == want and (write is None or stored == written):
            continue  # the same row (SQLite keeps the indexer's JSON text as written)
        key = row_key("events", ("block_number", "log_index"), position)
        row = dict(zip(columns, found, strict=True))
        tables.compare_row("events", key, position[0], dict(zip(columns[2:14], want, strict=True)), row, columns[2:14])
        if written is None:
            continue
        wanted_args, stored_args = json.loads(written), json_value(stored)
        if wanted_args != stored_args:
            names = (
                sorted(k for k in {*wanted_args, *stored_args} if wanted_args.get(k) != stored_args.get(k))
                if isinstance(stored_args, dict)
                else ["*"]
            )
            tables.found(
                "events",
                key,
                "args",
                position[0],
                wanted_args,
                stored_args,
                f"events.args of {log.contract}.{log.event} differ from the log's in {', '.join(names)}",
            )
    tables.out.rows["events"] += count
    for position in sorted(set(expected) - seen):
        raw, log = expected[position]
        tables.found(
            "events",
            row_key("events", ("block_number", "log_index"), position),
            None,
            position[0],
            {"tx_hash": raw.tx_hash, "contract": log.contract, "event": log.event},
            None,
            "a log of the chain has no row",
        )


def compare_refused_calls(tables: Tables) -> None:
    table = models.REFUSED_CALLS
    if not inspect(tables.conn).has_table(table.name):
        tables.out.skipped.append("refused_calls: the database has no such table (an older schema)")
        return
    decoder = RefusalDecoder(tables.deployment.addresses, tables.deployment.abis)
    expected: dict[Key, tuple[Row, int]] = {}
    for tx in tables.result.quiet_calls:
        if tx.block_number < tables.cursor.from_block or not tx.reverted:
            continue
        refusal = decoder.refusal(tx)
        if refusal is None:
            continue
        row = refusal.row(tables.chain_id)
        expected[(tx.hash,)] = ({k: v for k, v in row.items() if k not in ("chain_id", "tx_hash")}, tx.block_number)
    actual = {(row["tx_hash"],): row for row in tables.rows(models.RefusedCall)}
    for key in sorted(set(expected) | set(actual)):
        want = expected.get(key)
        have = actual.get(key)
        block = want[1] if want else int(have["block_number"]) if have else None
        columns = list(want[0]) if want else []
        if want is not None and have is not None and want[0]["error"] is None:
            columns.remove("error")  # the replay could not tell the error (no traces): the row may know it
            columns.remove("error_args")
        tables.compare_row(
            "refused_calls",
            row_key("refused_calls", ("tx_hash",), key),
            block,
            want[0] if want else None,
            have,
            columns,
        )
