"""A party's page of orders read by role indexes (``api.v1.read_answers.orders_page``) answers what the ``OR`` did.

The page used to be one statement, "buyer, supplier or guarantor (or, for an arbiter, disputed)", which both
databases answered by walking the primary key from the cursor. It is now a ``UNION`` of one arm per role, each
limited, then limited again. These tests fill a ledger of their own (rows written straight into the index's
tables: parties that are buyer and supplier of one order, guarantors that are also buyers, disputes, another
chain's orders) on SQLite and on PostgreSQL, and compare the new pages with the old statement, kept here as the
reference, over random parties, kinds, statuses, cursors and limits: the rows, their order, the next cursor,
and the JSON bytes of both API paths (``Reads.orders`` and the prepared ``Reads.orders_json``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert, or_, select

from api.v1 import read_answers as answers
from api.v1.auth import Party
from api.v1.reads import Reads, order_out
from api.v1.schemas import OrderOut
from ledger.index.sql.models import Dispute, Order, table_of
from ledger.toolchain.deploy import ROLE
from tests.support.databases import Databases, databases

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

CHAIN_ID, OTHER_CHAIN = 31_337, 1
ORDERS = 700
ZERO = "0x" + "00" * 20
PARTIES = [f"0x{i:040X}" for i in range(1, 13)]
#: In no order at all.
STRANGER = "0x" + "ee" * 20
STATUSES = ("FUNDED", "SHIPPED", "CLOSED", "DISPUTED")
ROLES_OF = {"auditor": ROLE["auditor"], "arbiter": ROLE["arbiter"], "party": 0}


def _order(chain_id: int, order_id: int, rng: random.Random) -> dict[str, Any]:
    """An order row: mostly distinct buyer and supplier, some self-dealing, a guarantor on a third of them."""
    buyer = rng.choice(PARTIES)
    supplier = buyer if rng.random() < 0.05 else rng.choice(PARTIES)
    guarantor = rng.choice((buyer, supplier, *PARTIES)) if rng.random() < 0.3 else ZERO
    row: dict[str, Any] = {column.name: 0 for column in table_of(Order).columns}
    row |= {"chain_id": chain_id, "order_id": order_id, "buyer": buyer, "supplier": supplier, "guarantor": guarantor}
    row |= {"token": ZERO, "submitter": buyer, "terms_hash": "0x" + "11" * 32, "po_ref_hash": "0x" + "22" * 32}
    row |= {"inspection_required": order_id % 3 == 0, "open_account": order_id % 4 == 0, "receipt_confirmed": False}
    row |= {"funded_via_permit": None, "refund_reason": None, "status": rng.choice(STATUSES)}
    row |= {"amount": 10**24 + order_id, "escrowed": order_id * 7, "created_at": 1_800_000_000 + order_id}
    row |= {"updated_block": order_id // 3}
    return row


def _dispute(chain_id: int, order_id: int) -> dict[str, Any]:
    row: dict[str, Any] = {column.name: None for column in table_of(Dispute).columns}
    row |= {"chain_id": chain_id, "order_id": order_id, "opened_at": 1, "answer_by": 2, "resolve_by": 3}
    row |= {"answered": False, "reason_hash": "0x" + "33" * 32, "response_hash": "0x" + "00" * 32}
    return row | {"opened_block": 1, "updated_block": 1}


@pytest.fixture(scope="module")
def ledger(databases: Databases) -> Iterator[Engine]:
    """A migrated index with ``ORDERS`` orders on ``CHAIN_ID`` (ids with gaps), a few on another chain, disputes
    on a tenth of them and on an order id no order has."""
    rng = random.Random(5)
    engine = databases.new()
    ids = sorted(rng.sample(range(1, ORDERS * 2), ORDERS))
    with engine.begin() as connection:
        connection.execute(insert(table_of(Order)), [_order(CHAIN_ID, i, rng) for i in ids])
        connection.execute(insert(table_of(Order)), [_order(OTHER_CHAIN, i, rng) for i in range(1, 60)])
        disputed = [*rng.sample(ids, ORDERS // 10), ORDERS * 2 + 5]
        connection.execute(insert(table_of(Dispute)), [_dispute(CHAIN_ID, i) for i in disputed])
        connection.execute(insert(table_of(Dispute)), [_dispute(OTHER_CHAIN, i) for i in range(1, 60, 2)])
    yield engine


def _reference(engine: Engine, kind: str, party: str, after: int, limit: int, status: str | None) -> list[Any]:
    """The page as the single ``OR`` statement answered it (the code before the role indexes)."""
    query = select(*answers.ORDER_COLUMNS).where(Order.chain_id == CHAIN_ID, Order.order_id > after)
    if kind != "auditor":
        clauses = [Order.buyer == party, Order.supplier == party, Order.guarantor == party]
        if kind == "arbiter":
            clauses.append(Order.order_id.in_(select(Dispute.order_id).where(Dispute.chain_id == CHAIN_ID)))
        query = query.where(or_(*clauses))
    if status is not None:
        query = query.where(Order.status == status)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(Order.order_id).limit(limit)).all())


def _page_bytes(rows: list[Any], limit: int) -> bytes:
    items = [answers.dump(OrderOut(**order_out(row))) for row in rows[:limit]]
    return answers.page(items, rows[limit - 1].order_id if len(rows) > limit else None)


def test_the_page_by_role_indexes_is_the_or_statements_page_for_random_parties_cursors_limits_statuses(
    ledger: Engine,
) -> None:
    rng = random.Random(11)
    reads = Reads(ledger, ledger, CHAIN_ID)
    pages = 0
    for _ in range(250):
        kind = rng.choice(tuple(ROLES_OF))
        party = rng.choice((*PARTIES, STRANGER))
        status = rng.choice((None, *STATUSES))
        after = rng.choice((0, rng.randrange(ORDERS * 2 + 10)))
        limit = rng.choice((1, 2, rng.randrange(1, 80)))
        expected = _reference(ledger, kind, party, after, limit + 1, status)
        found = answers.orders_page(kind, CHAIN_ID, after, limit + 1, party, status)
        with ledger.connect() as connection:
            assert list(connection.execute(found).all()) == expected, (kind, party, status, after, limit)
        who = Party(party, ROLES_OF[kind], 2**40)
        items, next_after = reads.orders(who, after, limit, status)
        assert [item.model_dump() for item in items] == [
            OrderOut(**order_out(r)).model_dump() for r in expected[:limit]
        ]
        assert next_after == (expected[limit - 1].order_id if len(expected) > limit else None)
        assert reads.orders_json(who, after, limit, status) == _page_bytes(expected, limit)
        pages += bool(expected)
    assert pages > 150  # most draws found orders: the comparison is not of empty pages


@pytest.mark.parametrize("kind", ["arbiter", "party"])
def test_every_party_walks_its_pages_to_the_end_across_roles_without_a_duplicate(ledger: Engine, kind: str) -> None:
    reads = Reads(ledger, ledger, CHAIN_ID)
    for party in PARTIES:
        for status in (None, "CLOSED"):
            who = Party(party, ROLES_OF[kind], 2**40)
            seen: list[int] = []
            after: int | None = 0
            while after is not None:
                items, after = reads.orders(who, after, 7, status)
                seen += [item.orderId for item in items]
            expected = [row.order_id for row in _reference(ledger, kind, party, 0, ORDERS * 2, status)]
            assert seen == expected, (party, status)
            roles = {
                role
                for row in _reference(ledger, "party", party, 0, ORDERS * 2, status)
                for role, address in (("buyer", row.buyer), ("supplier", row.supplier))
                if address == party
            }
            assert roles == {"buyer", "supplier"}  # each walk crosses roles


def test_sqlite_reads_each_role_from_its_index_not_the_orders_table(ledger: Engine) -> None:
    if ledger.dialect.name != "sqlite":
        pytest.skip("SQLite's plan only: PostgreSQL's follows statistics, and on a table this small a scan wins")
    compiled = answers.ORDERS["arbiter", True].statement.compile(dialect=ledger.dialect)
    values = {**compiled.params, "chain_id": CHAIN_ID, "after": 5, "limit": 11, "party": PARTIES[0], "status": "X"}
    with ledger.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        plan = [
            row[3]
            for row in cursor.execute(
                "EXPLAIN QUERY PLAN " + compiled.string, [values[n] for n in compiled.positiontup or ()]
            )
        ]
    for role in ("buyer", "supplier", "guarantor"):
        assert any(f"ix_orders_chain_id_{role}_order_id (chain_id=? AND {role}=? AND order_id>?)" in p for p in plan)
    assert any("disputes USING COVERING INDEX" in p for p in plan), plan
    # Neither scanned nor walked from the cursor: the primary key only finds the page's ids.
    assert not any(p.startswith("SCAN orders") for p in plan), plan
    assert not any("sqlite_autoindex_orders_1 (chain_id=? AND order_id>?)" in p for p in plan), plan
