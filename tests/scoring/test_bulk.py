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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from scoring import bulk, bulk_receivables, features, source
from scoring.collect import Collector
from scoring.features import FeatureTable
from scoring.history import SCORED_EVENTS, ChainEvent, History, RawEvents
from scoring.source import SqlSource
from tests.support import synthetic
from tests.support.databases import Databases, databases
from tests.support.fitted import Fitted

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

CODES = {key: code for code, key in enumerate(SCORED_EVENTS)}


def raw_of(events: list[ChainEvent]) -> RawEvents:
    """What the SQL source reads in bulk: the scored events' codes and times in chain order, and each
    event type's arguments as a JSON array of its own."""
    scored = [e for e in events if (e.contract, e.event) in CODES]
    by_type: list[list[str]] = [[] for _ in SCORED_EVENTS]
    for e in scored:
        by_type[CODES[(e.contract, e.event)]].append(json.dumps(e.args, separators=(",", ":")))
    return RawEvents(
        np.asarray([CODES[(e.contract, e.event)] for e in scored], dtype=np.int64),
        np.asarray([e.timestamp for e in scored], dtype=np.int64),
        tuple(("[" + ",".join(texts) + "]",) if texts else () for texts in by_type),
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
    return interleaved(events, extra, rng)


def interleaved(events: list[ChainEvent], extra: list[ChainEvent], rng: random.Random) -> list[ChainEvent]:
    """``events`` and ``extra`` in time order, renumbered; same-block events keep the order they were put in,
    so the extras land at random places among them."""
    mixed = events + extra
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
            assert [[e for part in a for e in json.loads(part)] for a in history.raw.args] == [
                [e for part in a for e in json.loads(part)] for a in expected.args
            ]
        assert_same(features.build(history), features.build(dataclasses.replace(history, raw=None)))


COLLECTED = (
    "parties",
    "roles",
    "admitted",
    "member",
    "suspended",
    "root_of",
    "r_debtor",
    "r_creditor",
    "r_face",
    "r_maturity",
    "r_issued",
    "r_repaid",
    "r_repaid_at",
    "r_defaulted",
    "piece_of",
    "p_root",
    "p_amount",
    "p_holder",
    "p_split",
    "p_financed",
    "rc_party",
    "rc_from",
    "rc_piece",
    "rc_time",
    "g_supplier",
    "g_time",
)


def collected(c: Collector) -> dict[str, object]:
    """The collector's lists (arrays as lists), for comparing the two paths before any feature."""
    return {name: (lambda v: v.tolist() if isinstance(v, np.ndarray) else v)(getattr(c, name)) for name in COLLECTED}


def _at_once(history: History) -> bool:
    made = []
    original = bulk_receivables.collect

    def spy(*args: object) -> object:
        result = original(*args)  # type: ignore[arg-type]
        made.append(result is not None)
        return result

    bulk_receivables.collect = spy  # type: ignore[assignment]
    try:
        bulk.BulkCollector().collect(raw_of(list(history.events)))
    finally:
        bulk_receivables.collect = original
    return made == [True]


def tangled_receivables(events: list[ChainEvent], seed: int, *, repeat_an_id: bool) -> list[ChainEvent]:
    """``events`` with receivable events the contract never emits in that order: children of unknown
    or later roots and parents, grandchildren, transfers of unknown pieces and to the holder itself,
    splits, financings, repayments and defaults of unknown or later pieces and roots."""
    rng = random.Random(seed)
    roots = [e for e in events if e.event == "ReceivableIssued"]
    pieces = [e for e in events if e.event in ("PieceCreated", "ReceivableIssued")]
    parties = sorted({e.args["creditor"] for e in roots} | {e.args["debtor"] for e in roots})
    stranger = synthetic.address("stranger", seed)
    extra: list[ChainEvent] = []
    fresh = 10**9
    for _ in range(600):
        at = rng.choice(events)
        root = rng.choice(roots).args["rootId"]
        piece = rng.choice(pieces).args.get("pieceId", rng.choice(pieces).args.get("rootId"))
        some = rng.choice((piece, str(fresh - 1), "424242"))
        pick = rng.randrange(8)
        at = at._replace(contract="Receivables")
        if pick == 0:
            fresh += 1
            args = {
                "pieceId": str(fresh),
                "parentId": rng.choice((piece, str(fresh - 1), "424242")),
                "rootId": rng.choice((root, "424242")),
                "holder": rng.choice((stranger, *rng.sample(parties, 2))),
                "amount": str(rng.randrange(10**12)),
                "financed": rng.choice((True, False)),
            }
            extra.append(at._replace(event="PieceCreated", args=args))
        elif pick == 1:
            to = rng.choice((stranger, rng.choice(parties)))
            extra.append(at._replace(event="Transfer", args={"from": stranger, "to": to, "tokenId": some}))
        elif pick == 2:
            extra.append(at._replace(event="PieceSplit", args={"pieceId": some}))
        elif pick == 3:
            extra.append(at._replace(event="PieceFinanced", args={"pieceId": some}))
        elif pick == 4:
            repaid = rng.randrange(10**12)
            outstanding = rng.choice((0, 0, rng.randrange(10**12)))
            args = {"rootId": rng.choice((root, "424242")), "repaid": str(repaid), "outstanding": str(outstanding)}
            extra.append(at._replace(event="ReceivableRepaid", args=args))
        elif pick == 5:
            extra.append(at._replace(event="ReceivableDefaulted", args={"rootId": rng.choice((root, "424242"))}))
        elif pick == 6:
            fresh += 1
            args = {
                "rootId": str(fresh),
                "debtor": rng.choice(parties),
                "creditor": rng.choice((stranger, rng.choice(parties))),
                "faceValue": str(rng.randrange(10**12)),
                "maturity": at.timestamp + rng.randrange(-(10**7), 10**7),
            }
            extra.append(at._replace(event="ReceivableIssued", args=args))
        else:
            extra.append(at._replace(contract="TradeEscrow", event="GuaranteeClaimed", args={"supplier": stranger}))
    if repeat_an_id:
        first = roots[0]
        extra.append(roots[-1]._replace(args={**first.args, "creditor": stranger}))
    return interleaved(events, extra, rng)


@pytest.mark.parametrize("seed", [4, 5, 6])
@pytest.mark.parametrize("repeat_an_id", [False, True])
def test_receivables_at_once_follow_the_per_event_rules_where_events_are_irregular(
    fitted: Fitted, seed: int, repeat_an_id: bool
) -> None:
    events = tangled_receivables(list(fitted.world.history().events), seed, repeat_an_id=repeat_an_id)
    history = History(synthetic.CHAIN_ID, 10**12, events[-1].timestamp, events, None, "test")
    assert collects_in_bulk(history)
    # A root issued twice is overwritten by the per-event rules: the bulk path then goes event by event.
    assert _at_once(history) == (not repeat_an_id)
    per_event = Collector()
    for e in events:
        handler = per_event.handlers.get((e.contract, e.event))
        if handler is not None:
            handler(e.timestamp, e.args)
    at_once = bulk.BulkCollector()
    at_once.collect(raw_of(events))
    assert collected(at_once) == collected(per_event)
    bulk_table, per_event_table = both_paths(history)
    assert_same(bulk_table, per_event_table)


def test_the_worlds_receivables_are_made_at_once(fitted: Fitted) -> None:
    assert _at_once(fitted.world.history())


@pytest.mark.parametrize(("parallel_rows", "part_rows"), [(10**9, 10**9), (0, 10**9), (0, 500)])
def test_a_read_in_one_part_or_several_gives_the_same_raw_events(
    tmp_path: Path, fitted: Fitted, monkeypatch: pytest.MonkeyPatch, parallel_rows: int, part_rows: int
) -> None:
    url = synthetic.write_sqlite(fitted.world, tmp_path / "ledger.db")
    monkeypatch.setattr(source, "PARALLEL_ROWS", parallel_rows)
    monkeypatch.setattr(source, "PART_ROWS", part_rows)
    history = SqlSource.open(url).history(None, confirmations=0)
    assert history.raw is not None
    # One statement, two halves read at once, or two halves of several statements each: each event
    # type gets an array from each statement that met one of its events.
    most = max(len(arrays) for arrays in history.raw.args)
    assert most == 1 if parallel_rows else (most == 2 if part_rows > 1000 else most > 2)
    expected = raw_of(list(history.events))
    assert history.raw.codes.tolist() == expected.codes.tolist()
    assert history.raw.times.tolist() == expected.times.tolist()
    assert [[e for part in a for e in json.loads(part)] for a in history.raw.args] == [
        [e for part in a for e in json.loads(part)] for a in expected.args
    ]
    assert_same(features.build(history), features.build(dataclasses.replace(history, raw=None)))


def renumbered_orders(
    events: list[ChainEvent], new_id: Callable[[int], int], *, amount: int | None = None
) -> list[ChainEvent]:
    """``events`` with every order id (known or not) mapped by ``new_id``, and, if given, one order's
    amount set to ``amount``."""
    out = []
    for e in events:
        if e.contract == "TradeEscrow" and "orderId" in e.args:
            e = e._replace(args={**e.args, "orderId": str(new_id(int(e.args["orderId"])))})
        out.append(e)
    if amount is not None:
        k = next(i for i, e in enumerate(out) if e.event == "OrderCreated")
        out[k] = out[k]._replace(args={**out[k].args, "amount": str(amount)})
    return out


@pytest.mark.parametrize(
    ("new_id", "amount"),
    [
        (lambda i: i * 1_000_003 + 7, None),  # sparse ids: found by a binary search
        (lambda i: i + 2**70, None),  # beyond int64: found through the dict
        (lambda i: i, 2**80),  # an amount beyond int64: the amounts as a list
    ],
    ids=["sparse", "uint256-ids", "uint256-amount"],
)
def test_orders_found_by_table_search_or_dict_give_the_per_event_tables(
    fitted: Fitted, new_id: Callable[[int], int], amount: int | None
) -> None:
    events = disturbed(list(fitted.world.history().events), 7, repeat_an_order=False)
    events = renumbered_orders(events, new_id, amount=amount)
    history = History(synthetic.CHAIN_ID, 10**12, events[-1].timestamp, events, None, "test")
    assert collects_in_bulk(history)
    bulk_table, per_event_table = both_paths(history)
    assert_same(bulk_table, per_event_table)


def test_the_order_finder_finds_what_the_dict_finds() -> None:
    created = [bulk._Order(orderId=i) for i in (5, 3, 10**6, 0)]
    order_of = {a.orderId: k for k, a in enumerate(created)}
    events = [bulk._Order(orderId=i) for i in (3, 4, 0, 10**6, 10**6 + 1, -1, 5, 2**63 - 1)]
    expected = [order_of.get(a.orderId, -1) for a in events]
    dense = bulk._OrderFinder(created, order_of)
    assert dense.table is not None and dense(events).tolist() == expected
    sparse = bulk._OrderFinder([*created, bulk._Order(orderId=2**40)], {**order_of, 2**40: 4})
    assert sparse.table is None and sparse.sorted_ids is not None
    assert sparse(events).tolist() == expected
    huge = [*events, bulk._Order(orderId=2**70)]
    assert dense(huge).tolist() == [*expected, -1]  # an id beyond int64: the dict
