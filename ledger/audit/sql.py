"""The replay against the indexer's SQL projection, row by row: every row the chain explains, no other.

``compare_sql`` takes a replay run with ``keep_logs=True`` (every log and header it read, the
models' state at its last block, the calls that left no log) and the indexer's database, and
derives each table on its own, without ``ledger.projections`` (the point is a second,
independent derivation):

* ``cursor``: the chain, the block number and hash (the replay's last block), the history digest
  and event count (folded here from the logs the replay read, from the cursor's first block),
  the deployment's addresses; ``blocks``: each kept block's hash, parent, time and the digest
  after it;
* ``events``: each row against the log at its (block, log index): hashes, position, address,
  contract, event, topics, data and the arguments in the indexer's JSON form
  (``ledger.history.json_args_writers``, the one function that writes them); missing and extra rows;
* the stateful tables against the models' state: ``parties`` (members), ``orders`` (escrow
  orders; the columns only events carry, such as the submitter or the refund reason, from the
  logged events), ``disputes``, ``guarantees``, ``pools``, ``receivable_roots`` (with the status
  the models compute), ``receivable_pieces`` (with the holder), ``credit_limits`` (revoked pairs
  read zero), ``balances`` (the settlement token), ``settings`` (thresholds, windows, allowed
  tokens, the grace period); an all-zero row equals an absent one where the contract's view
  cannot tell them apart (guarantees, pools, balances);
* the one-event tables (``milestones``, ``financings``, ``repayments``, ``claims``): each row
  against the logged event at its position, columns mapped from the event's arguments;
* ``refused_calls``: each reverted call to a ledger contract the replay found (a transaction that
  left no log), with its sender, function, arguments and custom error.

Every difference is a ``Mismatch`` of kind ``sql`` whose location names the table, the row's key
(``orders[order_id=17]``), the column and the block (of the event, or of the last event that
touched the row); ``expected`` is the chain's value, ``actual`` the row's. All are reported.
``updated_block`` columns (the indexer's own bookkeeping of which rows an event touches) and the
rows' internal ids are not compared.
"""

from __future__ import annotations

import gc
import json
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.audit.machine import ESCROW, RECEIVABLES, TOKEN
from ledger.audit.refusals import RefusalDecoder
from ledger.audit.replay import AuditError, Deployment, ReplayResult
from ledger.audit.report import Kind, Location, Mismatch, Report
from ledger.escrow import Milestone, OrderStatus
from ledger.history import HistoryDigest, LedgerLog, LogDecoder, RawLog, json_args_writers
from ledger.model.membership import MemberStatus
from ledger.receivables import ReceivableStatus
from ledger.sql import models

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
Row = dict[str, Any]
Key = tuple[Any, ...]


class SqlCompareError(AuditError):
    """The database cannot be compared (no cursor for the chain, a replay without its logs)."""


@dataclass(frozen=True)
class SqlCursor:
    """The indexer's cursor row for one chain."""

    block_number: int
    block_hash: str
    digest: str
    event_count: int
    from_block: int
    addresses: Mapping[str, str]


@dataclass
class SqlComparison:
    """What ``compare_sql`` found: the mismatches, the rows read per table, and what it skipped."""

    mismatches: list[Mismatch] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add_to(self, report: Report, database: str) -> None:
        """Fold into ``report``: the mismatches, the rows checked per table, the database compared."""
        report.mismatches.extend(self.mismatches)
        report.database = database
        report.sql_rows = {table: self.rows[table] for table in sorted(self.rows)}
        report.timings["sql"] = report.timings.get("sql", 0.0) + self.seconds


def _hex(value: bytes | str) -> str:
    return value.lower() if isinstance(value, str) else "0x" + bytes(value).hex()


def _key(table: str, names: Sequence[str], key: Key) -> str:
    return f"{table}[{','.join(f'{n}={v}' for n, v in zip(names, key, strict=True))}]"


def read_cursor(bind: Engine | Connection, chain_id: int) -> SqlCursor | None:
    """The indexer's cursor for ``chain_id`` (None when the database has not indexed that chain)."""
    table = models.CURSOR
    try:
        with _connection(bind) as conn:
            row = conn.execute(select(table).where(table.c.chain_id == chain_id)).mappings().first()
    except SQLAlchemyError as exc:
        raise SqlCompareError(f"the database cannot be read as the indexer's: {type(exc).__name__}: {exc}") from exc
    if row is None:
        return None
    return SqlCursor(
        int(row["block_number"]),
        str(row["block_hash"]),
        str(row["digest"]),
        int(row["event_count"]),
        int(row["from_block"]),
        dict(row["addresses"]),
    )


class _connection:
    """A connection for the comparison: the caller's, or a new one on an engine (closed after)."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        if isinstance(self.bind, Connection):
            return self.bind
        self.conn = self.bind.connect()
        return self.conn

    def __exit__(self, *_exc: object) -> None:
        if self.conn is not None:
            self.conn.close()


# -- what the logged events say beyond the models' state ------------------------------------------


@dataclass
class _Derived:
    """One walk over the decoded logs: the columns only events carry, and the one-event rows."""

    timestamps: Mapping[int, int]
    from_block: int  # the first block the indexer indexes: rows only for logs from here
    last: dict[tuple[str, Key], int] = field(default_factory=dict)  # (table, key) → last block naming it
    created: dict[tuple[str, Key], int] = field(default_factory=dict)  # (table, key) → block of its creation
    orders: dict[int, Row] = field(default_factory=lambda: defaultdict(dict))
    parties: dict[str, Row] = field(default_factory=lambda: defaultdict(dict))
    disputes: dict[int, Row] = field(default_factory=lambda: defaultdict(dict))
    guarantees: dict[tuple[str, str], Row] = field(default_factory=dict)
    pools: set[str] = field(default_factory=set)
    roots: dict[int, Row] = field(default_factory=dict)
    limits: dict[tuple[str, str], Row] = field(default_factory=dict)
    milestones: dict[Key, tuple[Row, int]] = field(default_factory=dict)  # (order, milestone) → (row, block)
    facts: dict[str, dict[Key, Row]] = field(default_factory=lambda: {"financings": {}, "repayments": {}, "claims": {}})

    def touch(self, table: str, key: Key, block: int) -> None:
        self.last[(table, key)] = block

    def block_of(self, table: str, key: Key, default: int) -> int:
        return self.last.get((table, key), default)

    def add(self, log: LedgerLog) -> None:
        raw, a = log.raw, log.args
        block = raw.block_number
        now = self.timestamps.get(block, raw.block_timestamp or 0)
        if log.contract == "Membership":
            party = a["party"]
            self.touch("parties", (party,), block)
            if log.event == "MemberAdmitted":
                self.created[("parties", (party,))] = block
                self.parties[party]["suspension_reason_hash"] = None
            elif log.event == "MemberSuspended":
                self.parties[party]["suspension_reason_hash"] = a["reasonHash"]
            elif log.event == "MemberReinstated":
                self.parties[party]["suspension_reason_hash"] = None
            return
        if log.contract == TOKEN:
            if log.event == "Transfer":
                for holder in (a["from"], a["to"]):
                    self.touch("balances", (raw.address, holder), block)
            return
        if log.contract == "CreditRegistry":
            pair = (a["bank"], a["party"])
            self.touch("credit_limits", pair, block)
            entry = self.limits.setdefault(pair, {"nonce": None, "submitter": None, "revoked_at": None})
            if log.event == "LimitPublished":
                entry.update(nonce=a["nonce"], submitter=a["submitter"], revoked_at=None)
            elif log.event == "LimitRevoked":
                entry["revoked_at"] = now
            return
        if log.contract == ESCROW:
            self._escrow(log, block, now)
            return
        if log.contract == RECEIVABLES:
            self._receivables(log, block, now)

    def _escrow(self, log: LedgerLog, block: int, now: int) -> None:
        a, event = log.args, log.event
        order_id: int = a.get("orderId", 0)
        if "orderId" in a:
            self.touch("orders", (order_id,), block)
        if event == "OrderCreated":
            self.created[("orders", (order_id,))] = block
            self.orders[order_id].update(submitter=a["submitter"], funded_via_permit=None, refund_reason=None)
        elif event == "OrderFunded":
            self.orders[order_id]["funded_via_permit"] = a["viaPermit"]
        elif event == "OrderRefunded":
            self.orders[order_id]["refund_reason"] = a["reason"]
        elif event == "ReceiptConfirmed":
            self.orders[order_id]["receipt_confirmed"] = True
        elif event == "MilestoneAttested":
            if block >= self.from_block:
                status = a["status"]
                row = {
                    "name": Milestone(a["milestone"]).name if a["milestone"] in Milestone._value2member_map_ else "",
                    "occurred_at": a["occurredAt"],
                    "recorded_at": now,
                    "evidence_hash": a["evidenceHash"],
                    "signers": list(a["signers"]),
                    "status_after": OrderStatus(status).name if status in OrderStatus._value2member_map_ else "",
                    "block_number": block,
                    "log_index": log.raw.log_index,
                    "tx_hash": log.raw.tx_hash,
                }
                self.milestones[(order_id, a["milestone"])] = (row, block)
        elif event == "MilestoneContested":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(
                contested_milestone=a["milestone"],
                contested_evidence_hash=a["evidenceHash"],
                contest_reason_hash=a["reasonHash"],
                contest_declared_at=a["declaredAt"],
                contest_signers=list(a["signers"]),
            )
        elif event == "DisputeOpened":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(buyer=a["buyer"], opened_block=block)
        elif event == "DisputeAnswered":
            self.touch("disputes", (order_id,), block)
        elif event == "DisputeResolved":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(
                resolved_at=now,
                resolution=a["how"],
                to_buyer=a["toBuyer"],
                to_supplier=a["toSupplier"],
                from_pool=a["fromPool"],
                resolved_by=a["by"],
            )
        elif event in ("PrepaymentReleased", "GuaranteeClaimed", "ExposureReleased", "ShortfallRepaid"):
            pair = (a["guarantor"], a["supplier"])
            self.touch("guarantees", pair, block)
            self.touch("pools", (a["guarantor"],), block)
            self.pools.add(a["guarantor"])
            sums = self.guarantees.setdefault(pair, {"prepaid_total": 0, "claimed_total": 0})
            if event == "PrepaymentReleased":
                sums["prepaid_total"] += a["amount"]
            elif event == "GuaranteeClaimed":
                sums["claimed_total"] += a["amount"]
        elif event in ("PoolFunded", "PoolWithdrawn"):
            self.touch("pools", (a["guarantor"],), block)
            self.pools.add(a["guarantor"])

    def _receivables(self, log: LedgerLog, block: int, now: int) -> None:
        a, event, raw = log.args, log.event, log.raw
        if event == "ReceivableIssued":
            root_id = a["rootId"]
            self.roots[root_id] = {
                "invoice_number": a["invoiceNumber"],
                "nonce": a["nonce"],
                "submitter": a["submitter"],
            }
            self.created[("receivable_roots", (root_id,))] = block
            self.created[("receivable_pieces", (root_id,))] = block
        elif event == "PieceCreated":
            self.created[("receivable_pieces", (a["pieceId"],))] = block
        if "rootId" in a:
            self.touch("receivable_roots", (a["rootId"],), block)
        piece = a.get("pieceId", a.get("tokenId", a.get("rootId") if event == "ReceivableIssued" else None))
        if piece is not None:
            self.touch("receivable_pieces", (piece,), block)
        if block < self.from_block:
            return
        position: Key = (block, raw.log_index)
        if event == "PieceFinanced":
            self.facts["financings"][position] = {
                "tx_hash": raw.tx_hash,
                "piece_id": a["pieceId"],
                "root_id": a["rootId"],
                "bank": a["bank"],
                "seller": a["seller"],
                "price": a["price"],
                "amount": a["amount"],
                "discount_bps": a["discountBps"],
                "time_to_maturity": a["timeToMaturity"],
                "nonce": a["nonce"],
                "financed_at": now,
            }
        elif event == "ReceivableRepaid":
            self.facts["repayments"][position] = {
                "tx_hash": raw.tx_hash,
                "root_id": a["rootId"],
                "payer": a["payer"],
                "amount": a["amount"],
                "repaid": a["repaid"],
                "outstanding": a["outstanding"],
                "after_default": a["afterDefault"],
                "paid_at": now,
            }
        elif event == "PieceClaimed":
            self.facts["claims"][position] = {
                "tx_hash": raw.tx_hash,
                "piece_id": a["pieceId"],
                "root_id": a["rootId"],
                "holder": a["holder"],
                "amount": a["amount"],
                "claimed": a["claimed"],
                "claimed_at": now,
            }


# -- the comparison -----------------------------------------------------------------------------


class _Compare:
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
            self.found(table, key, None, block, None, _plain(actual), "a row the chain does not explain")
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
        for key in sorted(set(expected) | set(actual), key=_sort_key):
            want, have = expected.get(key), actual.get(key)
            if zero_is_absent is not None:
                if want is not None and have is None and zero_is_absent(want):
                    continue
                if have is not None and want is None and zero_is_absent(have):
                    continue
            columns = [c for c in (want or {}) if c not in key_columns]
            block = self.derived.block_of(table.name, key, self.to_block)
            self.compare_row(table.name, _key(table.name, key_columns, key), block, want, have, columns)

    # the tables

    def run(self) -> SqlComparison:
        started = time.perf_counter()
        self.derived = _Derived(self.timestamps, self.cursor.from_block)
        for log in self.decoded:
            self.derived.add(log)
        kept = self.rows(models.Block, order=("number",))
        after, whole = self.digests([int(row["number"]) for row in kept])
        self.compare_cursor(whole)
        self.compare_blocks(kept, after)
        self.compare_events()
        first_log = self.logs[0].block_number if self.logs else self.to_block + 1
        if self.cursor.from_block > min(first_log, self.result.report.replayed_from):
            self.out.skipped.append(
                f"stateful tables: the database indexes from block {self.cursor.from_block}, after the ledger's "
                "first events, so its projections are partial by design"
            )
        else:
            self.compare_parties()
            self.compare_orders()
            self.compare_disputes()
            self.compare_guarantees_and_pools()
            self.compare_receivables()
            self.compare_limits()
            self.compare_balances()
            self.compare_settings()
        self.compare_milestones()
        self.compare_facts()
        self.compare_refused_calls()
        self.out.seconds = time.perf_counter() - started
        return self.out

    def compare_cursor(self, digest: tuple[str, int]) -> None:
        report, cursor = self.result.report, self.cursor
        key = _key("cursor", ("chain_id",), (self.chain_id,))
        self.out.rows["cursor"] += 1
        expected = {
            "block_number": report.to_block,
            "block_hash": report.to_block_hash,
            "digest": digest[0],
            "event_count": digest[1],
            "addresses": dict(self.deployment.addresses),
        }
        actual = {
            "block_number": cursor.block_number,
            "block_hash": cursor.block_hash,
            "digest": cursor.digest,
            "event_count": cursor.event_count,
            "addresses": dict(cursor.addresses),
        }
        if cursor.block_number != report.to_block:
            self.found(
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
        self.compare_row("cursor", key, report.to_block, expected, actual, columns)

    def digests(self, numbers: Sequence[int]) -> tuple[dict[int, tuple[str, int]], tuple[str, int]]:
        """The history digest (and event count) after each block of ``numbers``, and after the last
        log, from the cursor's first block on: the replay's own checkpoints when its digest starts
        there, else folded here in one pass."""
        report = self.result.report
        if report.from_block == self.cursor.from_block and (self.result.checkpoints or not self.logs):
            checkpoints = self.result.checkpoints
            ends = [number for number, _, _ in checkpoints]
            found: dict[int, tuple[str, int]] = {}
            for number in numbers:
                at = bisect_right(ends, number)
                found[number] = (checkpoints[at - 1][1], checkpoints[at - 1][2]) if at else (ZERO_HASH, 0)
            return found, (report.digest, report.counts.logs)
        logs = [raw for raw in self.logs if raw.block_number >= self.cursor.from_block]
        blocks = [raw.block_number for raw in logs]
        digest = HistoryDigest(self.chain_id)
        after: dict[int, tuple[str, int]] = {}
        done = 0
        for number in sorted(numbers):
            end = bisect_right(blocks, number)
            digest.add_many(logs[done:end])
            done = max(done, end)
            after[number] = (digest.hex, digest.count)
        digest.add_many(logs[done:])
        return after, (digest.hex, digest.count)

    def compare_blocks(self, kept: list[Row], after: Mapping[int, tuple[str, int]]) -> None:
        headers = self.result.headers
        for row in kept:
            number = int(row["number"])
            header = headers.get(number)
            if number < 0:
                expected: Row | None = {"hash": ZERO_HASH, "parent_hash": ZERO_HASH, "timestamp": 0}
            elif header is None:
                if self.result.report.replayed_from <= number <= self.to_block:
                    continue  # not read by the replay (before its first page's anchor): nothing to say
                expected = None
            else:
                expected = {"hash": header.hash, "parent_hash": header.parent_hash, "timestamp": header.timestamp}
            if expected is not None:
                digest, count = after.get(number, (ZERO_HASH, 0))
                expected.update(digest=digest, event_count=count)
            self.compare_row(
                "blocks", _key("blocks", ("number",), (number,)), number, expected, row, list(expected or ())
            )

    def compare_events(self) -> None:
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
            for raw, log in zip(self.logs, self.decoded, strict=True)
            if raw.block_number >= self.cursor.from_block
        }
        seen: set[Key] = set()
        count = 0
        timestamps, writers, padding = self.timestamps, self.writers, (None, None, None, None)
        result = self.conn.execute(query.execution_options(yield_per=5_000), {"chain": self.chain_id})
        for found in (row for rows in result.partitions() for row in rows):
            count += 1
            position = (int(found[0]), int(found[1]))
            pair = expected.get(position)
            if pair is None or position in seen:
                key = _key("events", ("block_number", "log_index"), position)
                row = dict(zip(columns, found, strict=True))
                self.found("events", key, None, position[0], None, _plain(row), "a row no log of the chain explains")
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
            key = _key("events", ("block_number", "log_index"), position)
            row = dict(zip(columns, found, strict=True))
            self.compare_row(
                "events", key, position[0], dict(zip(columns[2:14], want, strict=True)), row, columns[2:14]
            )
            if written is None:
                continue
            wanted_args, stored_args = json.loads(written), _json(stored)
            if wanted_args != stored_args:
                names = (
                    sorted(k for k in {*wanted_args, *stored_args} if wanted_args.get(k) != stored_args.get(k))
                    if isinstance(stored_args, dict)
                    else ["*"]
                )
                self.found(
                    "events",
                    key,
                    "args",
                    position[0],
                    wanted_args,
                    stored_args,
                    f"events.args of {log.contract}.{log.event} differ from the log's in {', '.join(names)}",
                )
        self.out.rows["events"] += count
        for position in sorted(set(expected) - seen):
            raw, log = expected[position]
            self.found(
                "events",
                _key("events", ("block_number", "log_index"), position),
                None,
                position[0],
                {"tx_hash": raw.tx_hash, "contract": log.contract, "event": log.event},
                None,
                "a log of the chain has no row",
            )

    def compare_parties(self) -> None:
        expected: dict[Key, Row] = {}
        for party, record in self.state.members.items():
            extra = self.derived.parties.get(party, {})
            expected[(party,)] = {
                "roles": record.roles,
                "oracle_kind": int(record.oracle_kind),
                "status": MemberStatus(record.status).name,
                "kyc_hash": _hex(record.kyc_hash),
                "admitted_at": record.admitted_at,
                "admitted_block": self.derived.created.get(("parties", (party,)), 0),
                "suspension_reason_hash": extra.get("suspension_reason_hash")
                if record.status == MemberStatus.SUSPENDED
                else None,
            }
        self.stateful(models.Party, ("address",), expected)

    def compare_orders(self) -> None:
        escrow = self.result.models.escrow
        expected: dict[Key, Row] = {}
        for order_id, o in self.state.escrow.orders.items():
            t, extra = o.terms, self.derived.orders.get(order_id, {})
            expected[(order_id,)] = {
                "buyer": t.buyer,
                "supplier": t.supplier,
                "token": t.token,
                "amount": t.amount,
                "ship_by": t.ship_by,
                "deliver_by": t.deliver_by,
                "inspection_required": t.inspection_required,
                "terms_hash": _hex(t.terms_hash),
                "po_ref_hash": _hex(t.po_ref_hash),
                "nonce": t.nonce,
                "submitter": extra.get("submitter"),
                "open_account": escrow.is_open_account(order_id),
                "status": OrderStatus(o.status).name,
                "created_at": o.created_at,
                "funded_at": o.funded_at,
                "funded_via_permit": extra.get("funded_via_permit"),
                "shipped_at": o.shipped_at,
                "delivered_at": o.delivered_at,
                "delivered_recorded_at": o.delivered_recorded_at,
                "inspected_at": o.inspected_at,
                "closed_at": o.closed_at,
                "receipt_confirmed": bool(extra.get("receipt_confirmed", False)),
                "refund_reason": extra.get("refund_reason"),
                "escrowed": o.escrowed,
                "prepaid": o.prepaid,
                "guarantor": o.guarantor,
                "paid_to_supplier": o.paid_to_supplier,
                "refunded_to_buyer": o.refunded_to_buyer,
                "guarantee_claimed": o.guarantee_claimed,
                "created_block": self.derived.created.get(("orders", (order_id,)), 0),
            }
        self.stateful(models.Order, ("order_id",), expected)

    def compare_disputes(self) -> None:
        state = self.state.escrow.disputes
        expected: dict[Key, Row] = {}
        for order_id in sorted(set(state) | set(self.derived.disputes)):
            d = state.get(order_id)
            extra = self.derived.disputes.get(order_id, {})
            expected[(order_id,)] = {
                "buyer": extra.get("buyer"),
                "opened_at": d.opened_at if d else 0,
                "answer_by": d.answer_by if d else 0,
                "resolve_by": d.resolve_by if d else 0,
                "answered": d.answered if d else False,
                "reason_hash": _hex(d.reason_hash) if d else ZERO_HASH,
                "response_hash": _hex(d.response_hash) if d else ZERO_HASH,
                **{
                    column: extra.get(column)
                    for column in (
                        "contested_milestone",
                        "contested_evidence_hash",
                        "contest_reason_hash",
                        "contest_declared_at",
                        "contest_signers",
                        "resolved_at",
                        "resolution",
                        "to_buyer",
                        "to_supplier",
                        "from_pool",
                        "resolved_by",
                    )
                },
                "opened_block": extra.get("opened_block", 0),
            }
        self.stateful(models.Dispute, ("order_id",), expected)

    def compare_guarantees_and_pools(self) -> None:
        escrow = self.result.models.escrow
        state = self.state.escrow
        pairs = set(state.exposure) | set(state.shortfall) | set(self.derived.guarantees)
        guarantees: dict[Key, Row] = {}
        for pair in pairs:
            sums = self.derived.guarantees.get(pair, {"prepaid_total": 0, "claimed_total": 0})
            guarantees[pair] = {
                "exposure": state.exposure.get(pair, 0),
                "shortfall": state.shortfall.get(pair, 0),
                **sums,
            }
        self.stateful(
            models.Guarantee,
            ("guarantor", "supplier"),
            guarantees,
            zero_is_absent=lambda r: not any(r[c] for c in ("exposure", "shortfall", "prepaid_total", "claimed_total")),
        )
        pools: dict[Key, Row] = {}
        for guarantor in set(state.pools) | self.derived.pools:
            available, reserved = escrow.pool(guarantor)
            pools[(guarantor,)] = {"available": available, "reserved": reserved}
        self.stateful(
            models.Pool, ("guarantor",), pools, zero_is_absent=lambda r: not (r["available"] or r["reserved"])
        )

    def compare_receivables(self) -> None:
        receivables = self.result.models.receivables
        roots: dict[Key, Row] = {}
        for root_id in receivables.root_ids():
            r, extra = receivables.root(root_id), self.derived.roots.get(root_id, {})
            roots[(root_id,)] = {
                "debtor": r.debtor,
                "creditor": r.creditor,
                "token": r.token,
                "face_value": r.face_value,
                "maturity": r.maturity,
                "issued_at": r.issued_at,
                "defaulted_at": r.defaulted_at,
                "invoice_hash": _hex(r.invoice_hash),
                "invoice_key": _hex(r.invoice_key),
                "invoice_number": extra.get("invoice_number"),
                "order_id": r.order_id,
                "nonce": extra.get("nonce"),
                "submitter": extra.get("submitter"),
                "repaid": r.repaid,
                "claimed": r.claimed,
                "status": ReceivableStatus(receivables.status(root_id)).name,
                "issued_block": self.derived.created.get(("receivable_roots", (root_id,)), 0),
            }
        self.stateful(models.Root, ("root_id",), roots)
        pieces: dict[Key, Row] = {}
        for piece_id in receivables.piece_ids():
            p = receivables.piece(piece_id)
            pieces[(piece_id,)] = {
                "root_id": p.root_id,
                "parent_id": p.parent_id,
                "amount": p.amount,
                "claimed": p.claimed,
                "ref": _hex(p.ref),
                "first_child_id": p.first_child_id,
                "child_count": p.child_count,
                "financed": p.financed,
                "created_at": p.created_at,
                "holder": receivables.holder_of(piece_id),
                "created_block": self.derived.created.get(("receivable_pieces", (piece_id,)), 0),
            }
        self.stateful(models.Piece, ("piece_id",), pieces)

    def compare_limits(self) -> None:
        state = self.state.limits
        expected: dict[Key, Row] = {}
        for pair in set(self.result.models.limit_pairs) | set(self.derived.limits) | set(state):
            extra = self.derived.limits.get(pair, {"nonce": None, "submitter": None, "revoked_at": None})
            record = state.get(pair)
            if record is not None:
                limit, score, grade, model_hash, valid_until, published_at = record
                values: Row = {
                    "limit": limit,
                    "score": score,
                    "grade": grade,
                    "model_hash": _hex(model_hash),
                    "valid_until": valid_until,
                    "published_at": published_at,
                    "revoked": False,
                    "revoked_at": None,
                }
            else:  # revoked: the contract deleted the record, every field reads zero
                values = {
                    "limit": 0,
                    "score": 0,
                    "grade": 0,
                    "model_hash": ZERO_HASH,
                    "valid_until": 0,
                    "published_at": 0,
                    "revoked": True,
                    "revoked_at": extra["revoked_at"],
                }
            expected[pair] = {**values, "nonce": extra["nonce"], "submitter": extra["submitter"]}
        self.stateful(models.CreditLimit, ("bank", "party"), expected)

    def compare_balances(self) -> None:
        token = self.deployment.addresses[TOKEN]
        expected = {
            (token, holder): {"balance": balance}
            for holder, balance in self.result.models.token.balances().items()
            if holder != ZERO_ADDRESS
        }
        self.stateful(models.Balance, ("token", "holder"), expected, zero_is_absent=lambda r: not r["balance"])

    def compare_settings(self) -> None:
        escrow, receivables = self.result.models.escrow, self.result.models.receivables

        def value(contract: str, event: str, args: Row, drop: Sequence[str]) -> Any:
            """The value as the indexer keeps it: the event's arguments in their JSON form, less the key's."""
            written = json.loads(self.writers[(contract, event)]({**args, "admin": ZERO_ADDRESS}))
            kept = {k: v for k, v in written.items() if k not in ("admin", *drop)}
            return next(iter(kept.values())) if len(kept) == 1 else kept

        expected: dict[Key, Row] = {}
        for kind, threshold in escrow.thresholds.items():
            expected[(ESCROW, f"threshold:{int(kind)}")] = {
                "value": value(ESCROW, "ThresholdSet", {"kind": int(kind), "threshold": threshold}, ("kind",))
            }
        w = escrow.windows
        windows = {
            "claimWindow": w.claim_window,
            "answerWindow": w.answer_window,
            "resolveWindow": w.resolve_window,
            "maxAttestationAge": w.max_attestation_age,
        }
        expected[(ESCROW, "windows")] = {"value": value(ESCROW, "WindowsSet", windows, ())}
        for token, allowed in escrow.token_allowed.items():
            expected[(ESCROW, f"tokenAllowed:{token}")] = {
                "value": value(ESCROW, "TokenAllowed", {"token": token, "allowed": allowed}, ("token",))
            }
        expected[(RECEIVABLES, "gracePeriod")] = {
            "value": value(RECEIVABLES, "GracePeriodSet", {"gracePeriod": receivables.grace_period}, ())
        }
        self.stateful(models.Setting, ("contract", "name"), expected)

    def compare_milestones(self) -> None:
        actual = {(row["order_id"], row["milestone"]): row for row in self.rows(models.Milestone)}
        expected = self.derived.milestones
        columns = (
            "name",
            "occurred_at",
            "recorded_at",
            "evidence_hash",
            "signers",
            "status_after",
            "block_number",
            "log_index",
            "tx_hash",
        )
        for key in sorted(set(expected) | set(actual)):
            want = expected.get(key)
            block = want[1] if want else int(actual[key]["block_number"])
            self.compare_row(
                "milestones",
                _key("milestones", ("order_id", "milestone"), key),
                block,
                want[0] if want else None,
                actual.get(key),
                columns,
            )

    def compare_facts(self) -> None:
        for model in (models.Financing, models.Repayment, models.Claim):
            table = models.table_of(model).name
            actual = {(int(row["block_number"]), int(row["log_index"])): row for row in self.rows(model)}
            expected = self.derived.facts[table]
            for position in sorted(set(expected) | set(actual)):
                want = expected.get(position)
                key = _key(table, ("block_number", "log_index"), position)
                self.compare_row(table, key, position[0], want, actual.get(position), list(want or ()))

    def compare_refused_calls(self) -> None:
        table = models.REFUSED_CALLS
        if not inspect(self.conn).has_table(table.name):
            self.out.skipped.append("refused_calls: the database has no such table (an older schema)")
            return
        decoder = RefusalDecoder(self.deployment.addresses, self.deployment.abis)
        expected: dict[Key, tuple[Row, int]] = {}
        for tx in self.result.quiet_calls:
            if tx.block_number < self.cursor.from_block or not tx.reverted:
                continue
            refusal = decoder.refusal(tx)
            if refusal is None:
                continue
            row = refusal.row(self.chain_id)
            expected[(tx.hash,)] = ({k: v for k, v in row.items() if k not in ("chain_id", "tx_hash")}, tx.block_number)
        actual = {(row["tx_hash"],): row for row in self.rows(models.RefusedCall)}
        for key in sorted(set(expected) | set(actual)):
            want = expected.get(key)
            have = actual.get(key)
            block = want[1] if want else int(have["block_number"]) if have else None
            columns = list(want[0]) if want else []
            if want is not None and have is not None and want[0]["error"] is None:
                columns.remove("error")  # the replay could not tell the error (no traces): the row may know it
                columns.remove("error_args")
            self.compare_row(
                "refused_calls",
                _key("refused_calls", ("tx_hash",), key),
                block,
                want[0] if want else None,
                have,
                columns,
            )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _plain(row: Mapping[str, Any]) -> Row:
    return {k: _json(v) if k == "args" else v for k, v in row.items()}


def _sort_key(key: Key) -> tuple[str, ...]:
    return tuple(f"{v:080d}" if isinstance(v, int) else str(v) for v in key)


def compare_sql(
    result: ReplayResult, deployment: Deployment, bind: Engine | Connection, *, cursor: SqlCursor | None = None
) -> SqlComparison:
    """Every row the indexer wrote for ``deployment``'s chain against the replay's ``result`` (run with
    ``keep_logs=True``, to the cursor's block to compare the same state)."""
    enabled = gc.isenabled()
    gc.disable()  # tens of thousands of short-lived rows: the collector's passes over the replay's objects cost more
    try:
        with _connection(bind) as conn:
            found = cursor or read_cursor(conn, deployment.chain_id)
            if found is None:
                raise SqlCompareError(f"the database has no cursor for chain {deployment.chain_id}: nothing indexed")
            return _Compare(result, deployment, conn, found).run()
    except SQLAlchemyError as exc:  # a table missing or of another shape: not the indexer's schema
        raise SqlCompareError(f"the database cannot be compared: {type(exc).__name__}: {exc}") from exc
    finally:
        if enabled:
            gc.enable()
