"""The bulk path (``History.raw``: the scored events' JSON as columns, ``scoring.bulk.BulkCollector``)
gives the per-event path's feature table, bit for bit, and falls back to it when it cannot promise that.

Both paths run on the same histories: the synthetic world's (as of several points), the same with
events the contracts never emit in that order (contests, re-attestations, cancellations, events
about unknown or later orders, repeated order ids, token transfers), and the indexer's SQL on
SQLite (bulk) and PostgreSQL (per event).
"""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest

from scoring import bulk, features
from scoring.features import FeatureTable
from scoring.history import SCORED_EVENTS, ChainEvent, History, RawEvents
from scoring.source import SqlSource
from tests.support import synthetic
from tests.support.databases import Databases, databases
from tests.support.fitted import Fitted

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

CODES = {key: code for code, key in enumerate(SCORED_EVENTS)}


def raw_of(events: list[ChainEvent]) -> RawEvents:
    """What the SQL source reads in bulk: the scored events, their times and JSON, in chain order."""
    scored = [e for e in events if (e.contract, e.event) in CODES]
    return RawEvents(
        np.asarray([CODES[(e.contract, e.event)] for e in scored], dtype=np.int64),
        np.asarray([e.timestamp for e in scored], dtype=np.int64),
        "["
        + ",".join(
            json.dumps({"@": bulk.STRUCT_TAGS[CODES[(e.contract, e.event)]], **e.args}, separators=(",", ":"))
            for e in scored
        )
        + "]",
    )


def assert_same(a: FeatureTable, b: FeatureTable) -> None:
    assert a.history == b.history
    assert a.parties == b.parties and a.index == b.index
    for x, y in ((a.roles, b.roles), (a.member, b.member)):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert sorted(a.values) == sorted(b.values)
    for name in a.values:
        assert a.values[name].dtype == b.values[name].dtype, name
        assert a.values[name].tobytes() == b.values[name].tobytes(), name
    assert a.circular == b.circular and a.refused_visible == b.refused_visible


def both_paths(history: History) -> tuple[FeatureTable, FeatureTable]:
    per_event = features.build(dataclasses.replace(history, raw=None))
    bulk = features.build(dataclasses.replace(history, raw=raw_of(list(history.events))))
    return bulk, per_event


def collects_in_bulk(history: History) -> bool:
    c = bulk.BulkCollector()
    try:
        c.collect(raw_of(list(history.events)))
    except bulk.Undecodable:
        return False
    return True


@pytest.mark.parametrize("view", ["ledger", "direct"])
def test_the_bulk_path_gives_the_per_event_tables_of_a_world(fitted: Fitted, view: str) -> None:
    world = fitted.world
    for when in (world.observation_end[1], world.events[len(world.events) // 3].timestamp, None):
        history = world.history(when)
        assert collects_in_bulk(history)
        bulk, per_event = both_paths(history)
        assert_same(bulk, per_event)
        if view == "direct":
            raw = raw_of(list(history.events))
            assert_same(
                features.build(dataclasses.replace(history, raw=raw), view="direct"),
                features.build(dataclasses.replace(history, raw=None), view="direct"),
            )


def disturbed(events: list[ChainEvent], seed: int, *, repeat_an_order: bool) -> list[ChainEvent]:
    """``events`` with out-of-order, repeated and unknown events mixed in at random places."""
    rng = random.Random(seed)
    orders = [e for e in events if e.event == "OrderCreated"]
    milestones = [e for e in events if e.event == "MilestoneAttested"]
    pieces = [e for e in events if e.event in ("PieceCreated", "ReceivableIssued")]
    stranger = synthetic.address("stranger", seed)
    extra: list[ChainEvent] = []
    for _ in range(400):
        at = rng.choice(events)
        order = rng.choice(orders).args["orderId"]
        kind = rng.choice((0, 1, 2, 3, 4, 5))
        pick = rng.randrange(9)
        if pick == 0:
            args = {"orderId": order, "milestone": kind, "occurredAt": at.timestamp - rng.randrange(10**6)}
            extra.append(at._replace(event="MilestoneAttested", args=args))
        elif pick == 1:
            extra.append(at._replace(event="MilestoneContested", args={"orderId": order, "milestone": kind}))
        elif pick == 2:
            extra.append(at._replace(contract="TradeEscrow", event="OrderCancelled", args={"orderId": order}))
        elif pick == 3:
            extra.append(at._replace(contract="TradeEscrow", event="OrderRefunded", args={"orderId": order}))
        elif pick == 4:
            extra.append(at._replace(contract="TradeEscrow", event="DisputeOpened", args={"orderId": order}))
        elif pick == 5:
            extra.append(
                at._replace(
                    contract="TradeEscrow",
                    event="MilestoneAttested",
                    args={**rng.choice(milestones).args, "orderId": "999999"},
                )
            )
        elif pick == 6:
            piece = rng.choice(pieces).args.get("pieceId", rng.choice(pieces).args.get("rootId"))
            to = rng.choice((stranger, at.args.get("supplier", stranger)))
            extra.append(
                at._replace(
                    contract="Receivables", event="Transfer", args={"from": stranger, "to": to, "tokenId": piece}
                )
            )
        elif pick == 7:
            extra.append(
                at._replace(
                    contract="SettlementToken", event="Transfer", args={"from": stranger, "to": stranger, "value": "1"}
                )
            )
        else:
            extra.append(
                at._replace(
                    contract="Membership",
                    event=rng.choice(("MemberSuspended", "MemberReinstated")),
                    args={"party": stranger},
                )
            )
    if repeat_an_order:
        first = orders[0]
        extra.append(orders[-1]._replace(args={**first.args, "supplier": stranger}))
    mixed = events + extra
    # Same-block events keep the order they were put in: the extras land at random places among them.
    rng.shuffle(mixed)
    mixed.sort(key=lambda e: e.timestamp)
    return [e._replace(block_number=synthetic.block_of(e.timestamp), log_index=k) for k, e in enumerate(mixed)]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("repeat_an_order", [False, True])
def test_the_bulk_path_follows_the_per_event_rules_where_events_are_irregular(
    fitted: Fitted, seed: int, repeat_an_order: bool
) -> None:
    world = fitted.world
    events = disturbed(list(world.history().events), seed, repeat_an_order=repeat_an_order)
    history = History(synthetic.CHAIN_ID, 10**12, events[-1].timestamp, events, None, "test")
    assert collects_in_bulk(history)
    bulk, per_event = both_paths(history)
    assert_same(bulk, per_event)


def test_json_that_does_not_fit_falls_back_to_the_per_event_path(fitted: Fitted) -> None:
    history = fitted.world.history()
    events = list(history.events)
    k = next(i for i, e in enumerate(events) if e.event == "MilestoneAttested" and int(e.args["milestone"]) > 2)
    # Inspections need no occurredAt in the per-event rules; the bulk structs require it.
    events[k] = events[k]._replace(args={a: v for a, v in events[k].args.items() if a != "occurredAt"})
    history = dataclasses.replace(history, events=events)
    assert not collects_in_bulk(history)
    bulk, per_event = both_paths(history)
    assert_same(bulk, per_event)


def test_the_sql_source_reads_in_bulk_on_sqlite_and_per_event_elsewhere(databases: Databases, fitted: Fitted) -> None:
    url = synthetic.write_index(fitted.world, databases.url())
    source = SqlSource.open(url)
    for block in (fitted.world.observation_end[0], None):
        history = source.history(block, confirmations=0)
        assert (history.raw is not None) == (source.engine.dialect.name == "sqlite")
        direct = fitted.world.history(history.as_of_time, refused=history.refused is not None)
        assert len(history.events) == len(direct.events)
        assert [e[:5] for e in history.events] == [e[:5] for e in direct.events]
        if history.raw is not None:
            expected = raw_of(list(direct.events))
            assert history.raw.codes.tolist() == expected.codes.tolist()
            assert history.raw.times.tolist() == expected.times.tolist()
            assert json.loads(history.raw.args) == json.loads(expected.args)
        assert_same(features.build(history), features.build(dataclasses.replace(history, raw=None)))
