"""Projections: what the ledger's events mean, as rows of the tables the scorer and the API query.

Each event of interest has a handler and a list of the rows it touches (``touches``). A page of
events is projected in memory: the rows it touches are read in a few ``IN`` queries, the
handlers change them in chain order, and the changed rows are written back in bulk (delete
by key, insert), together with the rows that record one event each (milestones, financings,
repayments, claims). Everything happens on the caller's connection, inside its transaction.

Handlers follow the contracts' own rules (see contracts/*.sol), so that a row equals what the
contract's view answers: an order row equals ``orderOf`` (less the signature deadline, which
no event carries), a piece row ``pieceOf`` and ``ownerOf``, a pool row ``pool``, and so on.
Each row depends only on the events that touch it, which is what makes ``rebuild`` (after a
reorg: replay only the events that touch the affected rows) exact.

Projections are complete when indexing starts at the contracts' deployment; an update for a
row that was never created (indexing from a later block) is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import JSON, Boolean, ColumnElement, Connection, Table, and_, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from ledger.history import LedgerLog
from ledger.sql import models
from ledger.sql.types import ZERO_ADDRESS, ZERO_HASH, UInt

Row = dict[str, Any]
Key = tuple[Any, ...]
#: (table name, key after chain_id)
Touch = tuple[str, Key]

ORDER_STATUS = (
    "NONE",
    "CREATED",
    "FUNDED",
    "SHIPPED",
    "DELIVERED",
    "INSPECTED",
    "DISPUTED",
    "RELEASED",
    "REFUNDED",
    "SETTLED",
    "CANCELLED",
)
MILESTONE = ("NONE", "SHIPPED", "DELIVERED", "INSPECTION_PASSED", "INSPECTION_FAILED")
MEMBER_STATUS = ("NONE", "ACTIVE", "SUSPENDED")
RESOLVED_BY_ARBITER, RESOLVED_BY_SETTLEMENT = 1, 2
_CHUNK = 400  # keys per IN (...) query


@dataclass(frozen=True)
class Projection:
    """A table whose rows fold many events: its key columns after ``chain_id``."""

    table: Table
    key: tuple[str, ...]


def _projection(model: type[models.Base], *key: str) -> Projection:
    return Projection(models.table_of(model), key)


STATEFUL: dict[str, Projection] = {
    "parties": _projection(models.Party, "address"),
    "orders": _projection(models.Order, "order_id"),
    "disputes": _projection(models.Dispute, "order_id"),
    "guarantees": _projection(models.Guarantee, "guarantor", "supplier"),
    "pools": _projection(models.Pool, "guarantor"),
    "roots": _projection(models.Root, "root_id"),
    "pieces": _projection(models.Piece, "piece_id"),
    "limits": _projection(models.CreditLimit, "bank", "party"),
    "balances": _projection(models.Balance, "token", "holder"),
    "settings": _projection(models.Setting, "contract", "name"),
}
#: Tables with one row per event (deleted by block number when a reorg drops the block).
FACTS: dict[str, Table] = {
    "milestones": models.table_of(models.Milestone),
    "financings": models.table_of(models.Financing),
    "repayments": models.table_of(models.Repayment),
    "claims": models.table_of(models.Claim),
}


class Event(NamedTuple):
    """What a projection needs of one decoded log (``of`` makes one from a ``LedgerLog``)."""

    contract: str
    event: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    tx_hash: str
    address: str
    timestamp: int

    @classmethod
    def of(cls, log: LedgerLog, timestamp: int) -> Event:
        raw = log.raw
        return cls(
            log.contract, log.event, log.args, raw.block_number, raw.log_index, raw.tx_hash, raw.address, timestamp
        )


Handler = Callable[["_Page", "Event"], None]
Touches = Callable[["Event"], Iterable[Touch]]
_HANDLERS: dict[tuple[str, str], tuple[Touches, Handler]] = {}


def _on(contract: str, event: str, touches: Touches) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[(contract, event)] = (touches, handler)
        return handler

    return register


def touches(log: Event) -> list[Touch]:
    """The stateful rows ``log`` changes (table name, key)."""
    entry = _HANDLERS.get((log.contract, log.event))
    return list(entry[0](log)) if entry else []


def handled(contract: str, event: str) -> bool:
    return (contract, event) in _HANDLERS


# -- one page of changes, in memory ----------------------------------------------------------


class _Page:
    """The rows a page of events reads and writes; ``only`` restricts it to some rows (rebuilds)."""

    def __init__(self, chain_id: int, json_args: Callable[[Event], dict[str, Any]]) -> None:
        self.chain_id = chain_id
        self.json_args = json_args
        self.rows: dict[str, dict[Key, Row | None]] = {name: {} for name in STATEFUL}
        self.facts: dict[str, list[Row]] = {name: [] for name in FACTS}
        self.only: dict[str, set[Key]] | None = None
        self.block = 0
        self.log: Event | None = None

    # reading and changing rows (handlers)

    def get(self, table: str, key: Key) -> Row | None:
        """The row, marked as changed by the current event; None when it does not exist."""
        if self.only is not None and key not in self.only[table]:
            return None
        rows = self.rows[table]
        if key not in rows:
            raise LookupError(f"{table} {key} is not among the rows the event touches (see touches)")
        row = rows[key]
        if row is not None:
            row["updated_block"] = self.block
        return row

    def create(self, table: str, key: Key, values: Row) -> Row:
        """A new row (replacing any); outside ``only`` (rebuilds) a scratch row that is not kept."""
        row = {"chain_id": self.chain_id, **dict(zip(STATEFUL[table].key, key, strict=True)), **values}
        row["updated_block"] = self.block
        if self.only is None or key in self.only[table]:
            if key not in self.rows[table]:
                raise LookupError(f"{table} {key} is not among the rows the event touches (see touches)")
            self.rows[table][key] = row
        return row

    def get_or_create(self, table: str, key: Key, values: Callable[[], Row]) -> Row:
        row = self.get(table, key)
        return row if row is not None else self.create(table, key, values())

    def fact(self, table: str, values: Row) -> None:
        if self.only is not None:
            return  # rebuilds leave the one-event rows alone: a reorg deletes them by block
        log = self.log
        assert log is not None
        self.facts[table].append(
            {
                "chain_id": self.chain_id,
                "block_number": log.block_number,
                "log_index": log.log_index,
                "tx_hash": log.tx_hash,
                **values,
            }
        )

    # the database side

    def load(self, conn: Connection, needed: dict[str, set[Key]], cache: dict[str, dict[Key, Row]]) -> None:
        """The rows ``needed``, from ``cache`` (rows known as stored) or else from the database."""
        for name, keys in needed.items():
            known, cached = self.rows[name], cache[name]
            missing = []
            for key in keys:
                row = cached.get(key)
                if row is not None:
                    known[key] = row
                else:
                    missing.append(key)
            if missing:
                for row in _select_keys(conn, STATEFUL[name], self.chain_id, missing):
                    known[tuple(row[c] for c in STATEFUL[name].key)] = row
                for key in missing:
                    known.setdefault(key, None)

    def write(self, conn: Connection, cache: dict[str, dict[Key, Row]] | None) -> int:
        """Write (upsert) every changed row and insert every one-event row; the rows written.
        ``cache`` learns the rows written."""
        written = 0
        for name, rows in self.rows.items():
            changed = [row for row in rows.values() if row is not None]
            if changed:
                bulk_upsert(conn, STATEFUL[name].table, changed)
                written += len(changed)
                if cache is not None:
                    cached = cache[name]
                    for key, row in rows.items():
                        if row is not None:
                            cached.pop(key, None)
                            cached[key] = row  # the newest last: trimmed from the oldest
        for name, facts in self.facts.items():
            if facts:
                bulk_upsert(conn, FACTS[name], facts, insert_only=True)
                written += len(facts)
        return written


# -- bulk SQL: straight to the driver on SQLite ---------------------------------------------------

_INT64 = 1 << 63
_compact_json = json.JSONEncoder(separators=(",", ":")).encode
Convert = Callable[[Any], Any]


def _to_sqlite_exact(value: Any) -> Any:
    return value if value is None or -_INT64 <= value < _INT64 else str(value)


def _to_sqlite_json(value: Any) -> Any:
    return None if value is None else _compact_json(value)


def _from_sqlite_exact(value: Any) -> Any:
    return int(value) if isinstance(value, str) else value


def _from_sqlite_json(value: Any) -> Any:
    # A JSON column has NUMERIC affinity on SQLite: a number's text comes back as the number.
    return json.loads(value) if isinstance(value, str | bytes) else value


def _from_sqlite_bool(value: Any) -> Any:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class _SqliteTable:
    """A table's SQL for SQLite, and how its values go in and come out."""

    columns: tuple[str, ...]
    upsert: str
    insert: str
    select: str  # ... WHERE chain_id = ? AND
    to_db: tuple[tuple[int, Convert], ...]  # (position, convert) of the columns needing it
    from_db: tuple[tuple[int, Convert], ...]


@lru_cache(maxsize=64)
def _sqlite(table: Table) -> _SqliteTable:
    columns = [c for c in table.c if not (c.primary_key and c.autoincrement is True)]
    names = tuple(c.name for c in columns)
    quoted = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" * len(names))
    to_db, from_db = [], []
    for position, column in enumerate(columns):
        if isinstance(column.type, UInt):
            to_db.append((position, _to_sqlite_exact))
            from_db.append((position, _from_sqlite_exact))
        elif isinstance(column.type, JSON):
            to_db.append((position, _to_sqlite_json))
            from_db.append((position, _from_sqlite_json))
        elif isinstance(column.type, Boolean):
            from_db.append((position, _from_sqlite_bool))
    return _SqliteTable(
        names,
        f"INSERT OR REPLACE INTO {table.name} ({quoted}) VALUES ({marks})",
        f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})",
        f"SELECT {quoted} FROM {table.name} WHERE chain_id = ? AND ",
        tuple(to_db),
        tuple(from_db),
    )


def bulk_upsert(conn: Connection, table: Table, rows: Sequence[Row], *, insert_only: bool = False) -> None:
    """Insert ``rows`` (dicts by column name), replacing rows with the same primary key (unless
    ``insert_only``). On SQLite straight to the driver, values converted as the column types
    would (exact integers, JSON), without SQLAlchemy's per-row processing; elsewhere through
    SQLAlchemy (``ON CONFLICT DO UPDATE`` on PostgreSQL)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        spec = _sqlite(table)
        get = itemgetter(*spec.columns)
        if spec.to_db:
            values: list[tuple[Any, ...]] = []
            for row in rows:
                value = list(get(row))
                for position, convert in spec.to_db:
                    value[position] = convert(value[position])
                values.append(tuple(value))
        else:
            values = [get(row) for row in rows]
        conn.exec_driver_sql(spec.insert if insert_only else spec.upsert, values)
        return
    if insert_only:
        conn.execute(insert(table), list(rows))
    elif dialect == "postgresql":
        statement = postgresql_insert(table)
        primary = [c.name for c in table.primary_key.columns]
        updates = {c.name: statement.excluded[c.name] for c in table.c if c.name not in primary}
        conn.execute(statement.on_conflict_do_update(index_elements=primary, set_=updates), list(rows))
    else:
        projection = Projection(table, tuple(k for k in (c.name for c in table.primary_key.columns) if k != "chain_id"))
        by_chain: dict[int, list[Key]] = {}
        for row in rows:
            by_chain.setdefault(row["chain_id"], []).append(tuple(row[c] for c in projection.key))
        for chain_id, keys in by_chain.items():
            _delete_keys(conn, projection, chain_id, keys)
        conn.execute(insert(table), list(rows))


def _select_keys(conn: Connection, projection: Projection, chain_id: int, keys: Sequence[Key]) -> Iterator[Row]:
    """The stored rows of ``keys``."""
    table = projection.table
    if conn.dialect.name == "sqlite":
        spec = _sqlite(table)
        for first, values in _key_groups(projection, keys):
            for start in range(0, len(values), _CHUNK):
                chunk = values[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                if first is None:
                    sql = f'{spec.select}"{projection.key[0]}" IN ({marks})'
                    params: tuple[Any, ...] = (chain_id, *chunk)
                else:
                    sql = f'{spec.select}"{projection.key[0]}" = ? AND "{projection.key[1]}" IN ({marks})'
                    params = (chain_id, first, *chunk)
                for found in conn.exec_driver_sql(sql, params):
                    value = list(found)
                    for position, convert in spec.from_db:
                        value[position] = convert(value[position])
                    yield dict(zip(spec.columns, value, strict=True))
        return
    for condition in _key_conditions(projection, keys):
        result = conn.execute(select(table).where(table.c.chain_id == chain_id, condition))
        names = tuple(result.keys())
        for found in result:
            yield dict(zip(names, found, strict=True))


def _key_groups(projection: Projection, keys: Sequence[Key]) -> list[tuple[Any, list[Any]]]:
    """Keys grouped by their first column when there are two (``None``: one key column)."""
    if len(projection.key) == 1:
        return [(None, [k[0] for k in keys])]
    groups: dict[Any, list[Any]] = {}
    for first, second in keys:
        groups.setdefault(first, []).append(second)
    return list(groups.items())


def _key_conditions(projection: Projection, keys: Sequence[Key]) -> Iterator[ColumnElement[bool]]:
    """WHERE conditions selecting ``keys`` in chunks: ``k IN (...)`` for one key column, and for
    two, ``k1 = ? AND k2 IN (...)`` per first value (SQLite searches a row-value IN list by
    ``chain_id`` alone, a scan of the table)."""
    columns = [projection.table.c[c] for c in projection.key]
    for first, values in _key_groups(projection, keys):
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            yield columns[0].in_(chunk) if first is None else and_(columns[0] == first, columns[1].in_(chunk))


def _delete_keys(conn: Connection, projection: Projection, chain_id: int, keys: Sequence[Key]) -> None:
    table = projection.table
    for condition in _key_conditions(projection, keys):
        conn.execute(delete(table).where(table.c.chain_id == chain_id, condition))


# -- the projector -----------------------------------------------------------------------------


class Projector:
    """Applies pages of decoded events to the projection tables of one chain.

    ``json_args`` gives an event's arguments as stored in JSON (wide integers as decimal
    strings): settings keep their values that way. The rows written are remembered (up to
    ``cache_rows`` per table), so that the next pages need not read them back: the indexer is
    the only writer. ``forget`` drops them (after a rollback, or a failed transaction).
    """

    def __init__(
        self, chain_id: int, json_args: Callable[[Event], dict[str, Any]], *, cache_rows: int = 100_000
    ) -> None:
        self.chain_id = chain_id
        self.json_args = json_args
        self.cache_rows = cache_rows
        self._cache: dict[str, dict[Key, Row]] = {name: {} for name in STATEFUL}

    def forget(self) -> None:
        for rows in self._cache.values():
            rows.clear()

    def apply(self, conn: Connection, events: Iterable[Event]) -> int:
        """Project ``events``, in chain order; rows written."""
        page = _Page(self.chain_id, self.json_args)
        needed: dict[str, set[Key]] = {name: set() for name in STATEFUL}
        handlers: list[tuple[Handler, Event]] = []
        for log in events:
            entry = _HANDLERS.get((log.contract, log.event))
            if entry is None:
                continue
            for table, key in entry[0](log):
                needed[table].add(key)
            handlers.append((entry[1], log))
        try:
            page.load(conn, needed, self._cache)
            for handler, log in handlers:
                page.block, page.log = log.block_number, log
                handler(page, log)
            written = page.write(conn, self._cache)
        except BaseException:
            self.forget()  # rows were changed in place: what the database holds is unknown now
            raise
        for rows in self._cache.values():
            if len(rows) > self.cache_rows:
                for key in list(islice(rows, len(rows) - self.cache_rows)):
                    del rows[key]
        return written

    def rebuild(self, conn: Connection, affected: dict[str, set[Key]], events: Iterable[Event]) -> int:
        """Recompute the ``affected`` rows from ``events`` (every remaining event, chain order).

        The affected rows are deleted, then only the events that touch them are replayed,
        and only these rows change. Rows written.
        """
        self.forget()
        page = _Page(self.chain_id, self.json_args)
        page.only = {name: set(affected.get(name, ())) for name in STATEFUL}
        for name, keys in page.only.items():
            _delete_keys(conn, STATEFUL[name], self.chain_id, sorted(keys))
            page.rows[name] = dict.fromkeys(keys)
        for log in events:
            entry = _HANDLERS.get((log.contract, log.event))
            if entry is None or not any(key in page.only[table] for table, key in entry[0](log)):
                continue
            page.block, page.log = log.block_number, log
            entry[1](page, log)
        return page.write(conn, None)


# -- Membership --------------------------------------------------------------------------------


def _party(log: Event) -> list[Touch]:
    return [("parties", (log.args["party"],))]


@_on("Membership", "MemberAdmitted", _party)
def _member_admitted(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    page.create(
        "parties",
        (a["party"],),
        {
            "roles": a["roles"],
            "oracle_kind": a["oracleKind"],
            "status": "ACTIVE",
            "kyc_hash": a["kycHash"],
            "admitted_at": timestamp,
            "admitted_block": log.block_number,
            "suspension_reason_hash": None,
        },
    )


@_on("Membership", "MemberRolesChanged", _party)
def _member_roles(page: _Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["roles"], row["oracle_kind"] = log.args["roles"], log.args["oracleKind"]


@_on("Membership", "MemberKycUpdated", _party)
def _member_kyc(page: _Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["kyc_hash"] = log.args["kycHash"]


@_on("Membership", "MemberSuspended", _party)
def _member_suspended(page: _Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["status"], row["suspension_reason_hash"] = "SUSPENDED", log.args["reasonHash"]


@_on("Membership", "MemberReinstated", _party)
def _member_reinstated(page: _Page, log: Event) -> None:
    row = page.get("parties", (log.args["party"],))
    if row is not None:
        row["status"], row["suspension_reason_hash"] = "ACTIVE", None


# -- SettlementToken ---------------------------------------------------------------------------


def _transfer_holders(log: Event) -> list[Touch]:
    token = log.address
    return [("balances", (token, h)) for h in (log.args["from"], log.args["to"]) if h != ZERO_ADDRESS]


@_on("SettlementToken", "Transfer", _transfer_holders)
def _token_transfer(page: _Page, log: Event) -> None:
    token, value = log.address, log.args["value"]
    for holder, sign in ((log.args["from"], -1), (log.args["to"], 1)):
        if holder == ZERO_ADDRESS:
            continue
        row = page.get_or_create("balances", (token, holder), lambda: {"balance": 0})
        row["balance"] += sign * value


# -- CreditRegistry ----------------------------------------------------------------------------


def _limit(log: Event) -> list[Touch]:
    return [("limits", (log.args["bank"], log.args["party"]))]


@_on("CreditRegistry", "LimitPublished", _limit)
def _limit_published(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    values = {
        "limit": a["limit"],
        "score": a["score"],
        "grade": a["grade"],
        "model_hash": a["modelHash"],
        "valid_until": a["validUntil"],
        "nonce": a["nonce"],
        "published_at": timestamp,
        "submitter": a["submitter"],
        "revoked": False,
        "revoked_at": None,
    }
    page.get_or_create("limits", (a["bank"], a["party"]), dict).update(values)


@_on("CreditRegistry", "LimitRevoked", _limit)
def _limit_revoked(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    # The contract deletes the record: every field reads zero.
    values = {
        "limit": 0,
        "score": 0,
        "grade": 0,
        "model_hash": ZERO_HASH,
        "valid_until": 0,
        "published_at": 0,
        "revoked": True,
        "revoked_at": timestamp,
    }
    row = page.get_or_create(
        "limits", (log.args["bank"], log.args["party"]), lambda: {"nonce": None, "submitter": None}
    )
    row.update(values)


# -- settings of every contract ------------------------------------------------------------------


def _setting_name(log: Event) -> str:
    a = log.args
    if log.event == "ThresholdSet":
        return f"threshold:{a['kind']}"
    if log.event == "TokenAllowed":
        return f"tokenAllowed:{a['token']}"
    return {"WindowsSet": "windows", "GracePeriodSet": "gracePeriod"}[log.event]


def _setting(log: Event) -> list[Touch]:
    return [("settings", (log.contract, _setting_name(log)))]


def _set(page: _Page, log: Event) -> None:
    value = {k: v for k, v in page.json_args(log).items() if k not in ("admin", "kind", "token")}
    if log.event in ("ThresholdSet", "TokenAllowed", "GracePeriodSet"):
        (value,) = value.values()
    page.get_or_create("settings", (log.contract, _setting_name(log)), dict)["value"] = value


for _contract, _event in (
    ("TradeEscrow", "ThresholdSet"),
    ("TradeEscrow", "WindowsSet"),
    ("TradeEscrow", "TokenAllowed"),
    ("Receivables", "GracePeriodSet"),
):
    _on(_contract, _event, _setting)(_set)


# -- TradeEscrow: orders -------------------------------------------------------------------------


def _order(log: Event) -> list[Touch]:
    return [("orders", (log.args["orderId"],))]


@_on("TradeEscrow", "OrderCreated", _order)
def _order_created(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    page.create(
        "orders",
        (a["orderId"],),
        {
            "buyer": a["buyer"],
            "supplier": a["supplier"],
            "token": a["token"],
            "amount": a["amount"],
            "ship_by": a["shipBy"],
            "deliver_by": a["deliverBy"],
            "inspection_required": a["inspectionRequired"],
            "terms_hash": a["termsHash"],
            "po_ref_hash": a["poRefHash"],
            "nonce": a["nonce"],
            "submitter": a["submitter"],
            "open_account": False,
            "status": "CREATED",
            "created_at": timestamp,
            "funded_at": 0,
            "funded_via_permit": None,
            "shipped_at": 0,
            "delivered_at": 0,
            "delivered_recorded_at": 0,
            "inspected_at": 0,
            "closed_at": 0,
            "receipt_confirmed": False,
            "refund_reason": None,
            "escrowed": 0,
            "prepaid": 0,
            "guarantor": ZERO_ADDRESS,
            "paid_to_supplier": 0,
            "refunded_to_buyer": 0,
            "guarantee_claimed": 0,
            "created_block": log.block_number,
        },
    )


@_on("TradeEscrow", "OpenAccountOrderCreated", _order)
def _open_account(page: _Page, log: Event) -> None:
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row["open_account"] = True


@_on("TradeEscrow", "OrderFunded", _order)
def _order_funded(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row.update(status="FUNDED", funded_at=timestamp, escrowed=log.args["amount"])
        row["funded_via_permit"] = log.args["viaPermit"]


@_on("TradeEscrow", "OrderCancelled", _order)
def _order_cancelled(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row.update(status="CANCELLED", closed_at=timestamp)


@_on("TradeEscrow", "MilestoneAttested", _order)
def _milestone_attested(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    milestone, status = a["milestone"], ORDER_STATUS[a["status"]]
    row = page.get("orders", (a["orderId"],))
    if row is not None:
        row["status"] = status
        if milestone == 1:
            row["shipped_at"] = a["occurredAt"]
        elif milestone == 2:
            row["delivered_at"], row["delivered_recorded_at"] = a["occurredAt"], timestamp
        else:
            row["inspected_at"] = a["occurredAt"]
            if status == "CANCELLED":  # rejected goods on open account: closed, nothing owed
                row["closed_at"] = timestamp
    page.fact(
        "milestones",
        {
            "order_id": a["orderId"],
            "milestone": milestone,
            "name": MILESTONE[milestone] if milestone < len(MILESTONE) else str(milestone),
            "occurred_at": a["occurredAt"],
            "recorded_at": timestamp,
            "evidence_hash": a["evidenceHash"],
            "signers": list(a["signers"]),
            "status_after": status,
        },
    )


@_on("TradeEscrow", "ReceiptConfirmed", _order)
def _receipt_confirmed(page: _Page, log: Event) -> None:
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        row["receipt_confirmed"] = True


def _pay_out(row: Row, status: str, to_buyer: int, from_escrow: int, from_pool: int, timestamp: int) -> None:
    """TradeEscrow._payout: the escrow left goes to the buyer first (``from_escrow``), the rest to
    the supplier; what the buyer gets beyond the escrow comes from the guarantee pool."""
    row["paid_to_supplier"] += row["escrowed"] - from_escrow
    row.update(
        status=status,
        escrowed=0,
        closed_at=timestamp,
        refunded_to_buyer=to_buyer,
        guarantee_claimed=from_pool,
    )


@_on("TradeEscrow", "OrderReleased", _order)
def _order_released(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("orders", (log.args["orderId"],))
    if row is not None:
        _pay_out(row, "RELEASED", 0, 0, 0, timestamp)


@_on("TradeEscrow", "OrderRefunded", _order)
def _order_refunded(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("orders", (a["orderId"],))
    if row is not None:
        _pay_out(row, "REFUNDED", a["fromEscrow"] + a["fromPool"], a["fromEscrow"], a["fromPool"], timestamp)
        row["refund_reason"] = a["reason"]


def _order_and_dispute(log: Event) -> list[Touch]:
    return [("orders", (log.args["orderId"],)), ("disputes", (log.args["orderId"],))]


def _new_dispute() -> Row:
    return {
        "buyer": None,
        "opened_at": 0,
        "answer_by": 0,
        "resolve_by": 0,
        "answered": False,
        "reason_hash": ZERO_HASH,
        "response_hash": ZERO_HASH,
        "contested_milestone": None,
        "contested_evidence_hash": None,
        "contest_reason_hash": None,
        "contest_declared_at": None,
        "contest_signers": None,
        "resolved_at": None,
        "resolution": None,
        "to_buyer": None,
        "to_supplier": None,
        "from_pool": None,
        "resolved_by": None,
        "opened_block": 0,
    }


@_on("TradeEscrow", "MilestoneContested", lambda log: [("disputes", (log.args["orderId"],))])
def _milestone_contested(page: _Page, log: Event) -> None:
    a = log.args
    row = page.get_or_create("disputes", (a["orderId"],), _new_dispute)
    row.update(
        contested_milestone=a["milestone"],
        contested_evidence_hash=a["evidenceHash"],
        contest_reason_hash=a["reasonHash"],
        contest_declared_at=a["declaredAt"],
        contest_signers=list(a["signers"]),
    )


@_on("TradeEscrow", "DisputeOpened", _order_and_dispute)
def _dispute_opened(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        order["status"] = "DISPUTED"
    row = page.get_or_create("disputes", (a["orderId"],), _new_dispute)
    row.update(
        buyer=a["buyer"],
        opened_at=timestamp,
        answer_by=a["answerBy"],
        resolve_by=a["resolveBy"],
        answered=False,
        reason_hash=a["reasonHash"],
        response_hash=ZERO_HASH,
        opened_block=log.block_number,
    )


@_on("TradeEscrow", "DisputeAnswered", lambda log: [("disputes", (log.args["orderId"],))])
def _dispute_answered(page: _Page, log: Event) -> None:
    row = page.get("disputes", (log.args["orderId"],))
    if row is not None:
        row.update(answered=True, response_hash=log.args["responseHash"])


@_on("TradeEscrow", "DisputeResolved", _order_and_dispute)
def _dispute_resolved(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    to_buyer, from_pool, how = a["toBuyer"], a["fromPool"], a["how"]
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        status = "SETTLED" if how in (RESOLVED_BY_ARBITER, RESOLVED_BY_SETTLEMENT) else "REFUNDED"
        _pay_out(order, status, to_buyer, to_buyer - from_pool, from_pool, timestamp)
    row = page.get("disputes", (a["orderId"],))
    if row is not None:
        row.update(
            resolved_at=timestamp,
            resolution=how,
            to_buyer=to_buyer,
            to_supplier=a["toSupplier"],
            from_pool=from_pool,
            resolved_by=a["by"],
        )


# -- TradeEscrow: assured pre-payment, guarantees and pools ---------------------------------------


def _new_guarantee() -> Row:
    return {"exposure": 0, "shortfall": 0, "prepaid_total": 0, "claimed_total": 0}


def _new_pool() -> Row:
    return {"available": 0, "reserved": 0}


@_on(
    "TradeEscrow",
    "PrepaymentReleased",
    lambda log: [
        ("orders", (log.args["orderId"],)),
        ("guarantees", (log.args["guarantor"], log.args["supplier"])),
        ("pools", (log.args["guarantor"],)),
    ],
)
def _prepayment(page: _Page, log: Event) -> None:
    a = log.args
    amount = a["amount"]
    order = page.get("orders", (a["orderId"],))
    if order is not None:
        order.update(prepaid=amount, guarantor=a["guarantor"], paid_to_supplier=amount)
        order["escrowed"] -= amount
    guarantee = page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)
    guarantee["exposure"] += amount
    guarantee["prepaid_total"] += amount
    pool = page.get_or_create("pools", (a["guarantor"],), _new_pool)
    pool["available"] -= amount
    pool["reserved"] += amount


def _guarantee_and_pool(log: Event) -> list[Touch]:
    return [("guarantees", (log.args["guarantor"], log.args["supplier"])), ("pools", (log.args["guarantor"],))]


# The pool's reserve: a payout frees the whole pre-payment (GuaranteeClaimed: what the pool paid
# the buyer; ExposureReleased: the rest, back to available). A shortfall repayment adds to the
# available currency only: ShortfallRepaid puts its amount in reserve, so that the
# ExposureReleased that follows it moves it on to available.


@_on("TradeEscrow", "GuaranteeClaimed", _guarantee_and_pool)
def _guarantee_claimed(page: _Page, log: Event) -> None:
    a = log.args
    guarantee = page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)
    guarantee["shortfall"] += a["amount"]
    guarantee["claimed_total"] += a["amount"]
    page.get_or_create("pools", (a["guarantor"],), _new_pool)["reserved"] -= a["amount"]


@_on("TradeEscrow", "ExposureReleased", _guarantee_and_pool)
def _exposure_released(page: _Page, log: Event) -> None:
    a = log.args
    page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)["exposure"] -= a["amount"]
    pool = page.get_or_create("pools", (a["guarantor"],), _new_pool)
    pool["reserved"] -= a["amount"]
    pool["available"] += a["amount"]


@_on("TradeEscrow", "ShortfallRepaid", _guarantee_and_pool)
def _shortfall_repaid(page: _Page, log: Event) -> None:
    a = log.args
    page.get_or_create("guarantees", (a["guarantor"], a["supplier"]), _new_guarantee)["shortfall"] = a["remaining"]
    page.get_or_create("pools", (a["guarantor"],), _new_pool)["reserved"] += a["amount"]


def _pool(log: Event) -> list[Touch]:
    return [("pools", (log.args["guarantor"],))]


@_on("TradeEscrow", "PoolFunded", _pool)
@_on("TradeEscrow", "PoolWithdrawn", _pool)
def _pool_changed(page: _Page, log: Event) -> None:
    page.get_or_create("pools", (log.args["guarantor"],), _new_pool)["available"] = log.args["available"]


# -- Receivables ---------------------------------------------------------------------------------


def _root_status(row: Row) -> str:
    if row["repaid"] == row["face_value"]:
        return "REPAID"
    return "DEFAULTED" if row["defaulted_at"] else "OUTSTANDING"


@_on(
    "Receivables",
    "ReceivableIssued",
    lambda log: [("roots", (log.args["rootId"],)), ("pieces", (log.args["rootId"],))],
)
def _issued(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    root_id, block = a["rootId"], log.block_number
    page.create(
        "roots",
        (root_id,),
        {
            "debtor": a["debtor"],
            "creditor": a["creditor"],
            "token": a["token"],
            "face_value": a["faceValue"],
            "maturity": a["maturity"],
            "issued_at": timestamp,
            "defaulted_at": 0,
            "invoice_hash": a["invoiceHash"],
            "invoice_key": a["invoiceKey"],
            "invoice_number": a["invoiceNumber"],
            "order_id": a["orderId"],
            "nonce": a["nonce"],
            "submitter": a["submitter"],
            "repaid": 0,
            "claimed": 0,
            "status": "OUTSTANDING",
            "issued_block": block,
        },
    )
    page.create(
        "pieces", (root_id,), _new_piece(root_id, 0, a["faceValue"], ZERO_HASH, False, timestamp, a["creditor"], block)
    )


def _new_piece(
    root_id: int, parent_id: int, amount: int, ref: str, financed: bool, timestamp: int, holder: str, block: int
) -> Row:
    return {
        "root_id": root_id,
        "parent_id": parent_id,
        "amount": amount,
        "claimed": 0,
        "ref": ref,
        "first_child_id": 0,
        "child_count": 0,
        "financed": financed,
        "created_at": timestamp,
        "holder": holder,
        "created_block": block,
    }


def _piece(log: Event) -> list[Touch]:
    return [("pieces", (log.args["pieceId"],))]


@_on("Receivables", "PieceSplit", _piece)
def _split(page: _Page, log: Event) -> None:
    row = page.get("pieces", (log.args["pieceId"],))
    if row is not None:
        row.update(first_child_id=log.args["firstChildId"], child_count=log.args["childCount"])


@_on("Receivables", "PieceCreated", _piece)
def _piece_created(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    values = _new_piece(
        a["rootId"], a["parentId"], a["amount"], a["ref"], a["financed"], timestamp, a["holder"], log.block_number
    )
    page.create("pieces", (a["pieceId"],), values)


@_on("Receivables", "Transfer", lambda log: [("pieces", (log.args["tokenId"],))])
def _piece_transfer(page: _Page, log: Event) -> None:
    row = page.get("pieces", (log.args["tokenId"],))
    if row is not None:
        row["holder"] = log.args["to"]


@_on("Receivables", "PieceFinanced", _piece)
def _financed(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("pieces", (a["pieceId"],))
    if row is not None:
        row["financed"] = True
    page.fact(
        "financings",
        {
            "piece_id": a["pieceId"],
            "root_id": a["rootId"],
            "bank": a["bank"],
            "seller": a["seller"],
            "price": a["price"],
            "amount": a["amount"],
            "discount_bps": a["discountBps"],
            "time_to_maturity": a["timeToMaturity"],
            "nonce": a["nonce"],
            "financed_at": timestamp,
        },
    )


def _root(log: Event) -> list[Touch]:
    return [("roots", (log.args["rootId"],))]


@_on("Receivables", "ReceivableRepaid", _root)
def _repaid(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    row = page.get("roots", (a["rootId"],))
    if row is not None:
        row["repaid"] = a["repaid"]
        row["status"] = _root_status(row)
    page.fact(
        "repayments",
        {
            "root_id": a["rootId"],
            "payer": a["payer"],
            "amount": a["amount"],
            "repaid": a["repaid"],
            "outstanding": a["outstanding"],
            "after_default": a["afterDefault"],
            "paid_at": timestamp,
        },
    )


@_on("Receivables", "PieceClaimed", lambda log: [*_piece(log), *_root(log)])
def _claimed(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    a = log.args
    piece = page.get("pieces", (a["pieceId"],))
    if piece is not None:
        piece["claimed"] = a["claimed"]
    root = page.get("roots", (a["rootId"],))
    if root is not None:
        root["claimed"] += a["amount"]
    page.fact(
        "claims",
        {
            "piece_id": a["pieceId"],
            "root_id": a["rootId"],
            "holder": a["holder"],
            "amount": a["amount"],
            "claimed": a["claimed"],
            "claimed_at": timestamp,
        },
    )


@_on("Receivables", "ReceivableDefaulted", _root)
def _defaulted(page: _Page, log: Event) -> None:
    timestamp = log.timestamp
    row = page.get("roots", (log.args["rootId"],))
    if row is not None:
        row["defaulted_at"] = timestamp
        row["status"] = _root_status(row)
