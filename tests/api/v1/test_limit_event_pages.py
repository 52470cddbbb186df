"""A party's page of credit limit events (``Reads.limit_events``) read from the registry's partial index.

``GET /v1/credit/history/{party}`` is the credit registry's ``LimitPublished`` / ``LimitRevoked`` events with the party
as topic 2 (and the asking bank as topic 1, for a bank), after ``after``, in id order. It used to walk ``events`` from
``after``; it is now a range of ``(chain_id, topic2, id) WHERE contract = 'CreditRegistry'`` (migration 0005), which
a query can read only if it states that predicate itself. These tests fill an events table of their own on SQLite and
on PostgreSQL (the registry's events of several parties and banks, other contracts' events with the same names and
topics, another chain's) and compare the pages with the old statement, kept here as the reference, over random
targets, askers, cursors and limits, walk every party's pages to the end, and read the plans.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from api.v1.auth import Party
from api.v1.reads import LIMIT_EVENTS, Reads, limit_events_page
from ledger.index.sql.models import CREDIT_EVENTS_INDEX, Event, table_of
from ledger.toolchain.deploy import ROLE
from tests.support.databases import Databases, databases

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

CHAIN_ID, OTHER_CHAIN = 31_337, 1
EVENTS = 4_000
PARTIES = [f"0x{i:040X}" for i in range(1, 9)]
BANKS = [f"0x{i:040X}" for i in range(0xB1, 0xB5)]
OTHERS = ("TradeEscrow", "ReceivableToken", "Membership")


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _event(chain_id: int, n: int, rng: random.Random) -> dict[str, Any]:
    """One log: a registry's limit event one time in eight, else another contract's, often with the same name and
    topics (which the page must not return)."""
    bank, party = rng.choice(BANKS), rng.choice(PARTIES)
    contract = "CreditRegistry" if rng.random() < 0.125 else rng.choice(OTHERS)
    event = rng.choice(LIMIT_EVENTS) if contract == "CreditRegistry" or rng.random() < 0.3 else "Transfer"
    return {
        "chain_id": chain_id,
        "block_number": n // 4,
        "block_hash": f"0x{n // 4:064x}",
        "block_timestamp": n,
        "tx_hash": f"0x{n:064x}",
        "tx_index": 0,
        "log_index": n % 4,
        "address": "0x" + "11" * 20,
        "contract": contract,
        "event": event,
        "topic0": "0x" + "ab" * 32,
        "topic1": _topic(bank),
        "topic2": _topic(party),
        "topic3": None,
        "data": "0x",
        "args": {"bank": bank, "party": party, "n": n},
    }


@pytest.fixture(scope="module")
def ledger(databases: Databases) -> Iterator[Engine]:
    rng = random.Random(5)
    engine = databases.new()
    rows = [_event(rng.choice((CHAIN_ID, CHAIN_ID, OTHER_CHAIN)), n, rng) for n in range(EVENTS)]
    with engine.begin() as connection:
        connection.execute(insert(table_of(Event)), rows)
        connection.exec_driver_sql("ANALYZE")
    yield engine


def _reference(engine: Engine, target: str, bank: str | None, after: int, limit: int) -> list[Any]:
    """The page as the statement before the index answered it (the contract a bound value, walked by id)."""
    query = select(Event).where(
        Event.chain_id == CHAIN_ID,
        Event.contract == "CreditRegistry",
        Event.event.in_(LIMIT_EVENTS),
        Event.topic2 == _topic(target),
        Event.id > after,
    )
    if bank is not None:
        query = query.where(Event.topic1 == _topic(bank))
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(Event.id).limit(limit)).all())


def _asker(rng: random.Random, target: str) -> tuple[Party, str | None]:
    """An auditor, the party itself (both see every bank's events) or a bank (its own only)."""
    kind = rng.choice(("auditor", "self", "bank", "bank"))
    if kind == "auditor":
        return Party("0x" + "ad" * 20, ROLE["auditor"], 2**40), None
    if kind == "self":
        return Party(target, 0, 2**40), None
    bank = rng.choice(BANKS)
    return Party(bank, ROLE["bank"], 2**40), bank


def test_the_page_by_the_partial_index_is_the_walks_page_for_random_targets_askers_cursors_limits(
    ledger: Engine,
) -> None:
    reads = Reads(ledger, ledger, CHAIN_ID)
    rng = random.Random(11)
    pages = 0
    for _ in range(200):
        target = rng.choice((*PARTIES, BANKS[0], "0x" + "ee" * 20))
        party, bank = _asker(rng, target)
        after = rng.choice((0, rng.randrange(EVENTS + 10)))
        limit = rng.choice((1, 2, rng.randrange(1, 80)))
        expected = _reference(ledger, target, bank, after, limit)
        assert reads.limit_events(party, target, after, limit) == expected, (target, party, after, limit)
        pages += bool(expected)
    assert pages > 120


def test_every_askers_pages_walk_to_the_end_in_id_order(ledger: Engine) -> None:
    reads = Reads(ledger, ledger, CHAIN_ID)
    for target in PARTIES:
        for party, bank in ((Party(target, 0, 2**40), None), (Party(BANKS[1], ROLE["bank"], 2**40), BANKS[1])):
            walked: list[Any] = []
            after: int | None = 0
            while after is not None:  # the route's cursor: the page's last id when one more row came back
                rows = reads.limit_events(party, target, after, 7 + 1)
                walked += rows[:7]
                after = rows[6].id if len(rows) > 7 else None
            assert walked == _reference(ledger, target, bank, 0, EVENTS)
            assert walked and len({row.id for row in walked}) == len(walked)


def test_the_page_states_the_index_predicate_and_reads_the_partial_index(ledger: Engine) -> None:
    statement = limit_events_page(CHAIN_ID, PARTIES[0], BANKS[0], 5, 11)
    compiled = statement.compile(dialect=ledger.dialect)
    # A literal, as the index's WHERE is: a bound value would leave a generic PostgreSQL plan the whole table.
    assert "contract = 'CreditRegistry'" in compiled.string
    with ledger.connect() as connection:
        literal = str(statement.compile(dialect=ledger.dialect, compile_kwargs={"literal_binds": True}))
        if ledger.dialect.name == "sqlite":
            plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + literal)]
            assert plan == [f"SEARCH events USING INDEX {CREDIT_EVENTS_INDEX} (chain_id=? AND topic2=? AND id>?)"]
        else:
            # On a table this small a scan (or a bitmap of the index, then a sort) may win on cost: forbid them, the
            # question is whether the index serves the page in id order.
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
            plan = [row[0].strip() for row in connection.exec_driver_sql("EXPLAIN (COSTS OFF) " + literal)]
            assert plan[:3] == ["Limit", f"->  Index Scan using {CREDIT_EVENTS_INDEX} on events", plan[2]], plan
            assert (
                plan[2].startswith("Index Cond: ((chain_id = 31337) AND ((topic2)::text = ") and "(id > 5)" in plan[2]
            )
