"""The projection machinery: events, the handler registry, one page of changes, the projector.

Each event of interest has a handler and a list of the rows it touches (``touches``); the
handler modules of this package (one per contract, or part of one) register both with ``on``
when they are imported, which the package's ``__init__`` does, so that the registry is complete
whenever anything of the package is used.

A page of events is projected in memory (``Page``): the rows it touches are read in a few
``IN`` queries, the handlers change them in chain order, and the changed rows are written back
in bulk (``bulk``), together with the rows that record one event each (milestones, financings,
repayments, claims). Everything happens on the caller's connection, inside its transaction.
``Projector.rebuild`` (after a reorg) replays only the events that touch the affected rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table

from ledger.eth.history import LedgerLog
from ledger.index.projections.bulk import Key, Projection, Row, bulk_upsert, delete_keys, select_keys
from ledger.index.sql import models

#: (table name, key after chain_id)
Touch = tuple[str, Key]


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


Handler = Callable[["Page", "Event"], None]
Touches = Callable[["Event"], Iterable[Touch]]
HANDLERS: dict[tuple[str, str], tuple[Touches, Handler]] = {}


def on(contract: str, event: str, touches: Touches) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[(contract, event)] = (touches, handler)
        return handler

    return register


def touches(log: Event) -> list[Touch]:
    """The stateful rows ``log`` changes (table name, key)."""
    entry = HANDLERS.get((log.contract, log.event))
    return list(entry[0](log)) if entry else []


def handled(contract: str, event: str) -> bool:
    return (contract, event) in HANDLERS


# -- one page of changes, in memory ----------------------------------------------------------


class Page:
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
                for row in select_keys(conn, STATEFUL[name], self.chain_id, missing):
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
        page = Page(self.chain_id, self.json_args)
        needed: dict[str, set[Key]] = {name: set() for name in STATEFUL}
        handlers: list[tuple[Handler, Event]] = []
        for log in events:
            entry = HANDLERS.get((log.contract, log.event))
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
        page = Page(self.chain_id, self.json_args)
        page.only = {name: set(affected.get(name, ())) for name in STATEFUL}
        for name, keys in page.only.items():
            delete_keys(conn, STATEFUL[name], self.chain_id, sorted(keys))
            page.rows[name] = dict.fromkeys(keys)
        for log in events:
            entry = HANDLERS.get((log.contract, log.event))
            if entry is None or not any(key in page.only[table] for table, key in entry[0](log)):
                continue
            page.block, page.log = log.block_number, log
            entry[1](page, log)
        return page.write(conn, None)
