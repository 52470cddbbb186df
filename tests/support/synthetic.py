"""Synthetic verified histories for the scorer's tests and benchmark (not a chain: decoded events).

``generate`` makes a seeded multi-tier world as the *decoded events* the indexer would store (the
same contract, event and argument names as the ABIs, wide integers as decimal strings): core
enterprises buying from tier-1 suppliers, tier-1 from tier-2, tier-2 from tier-3; orders with
shipping, delivery and inspection milestones, refunds and disputes driven by each supplier's
reliability; receivables issued by the cores, split down the tiers, some financed by banks,
repaid at maturity; one double financer (refused ``finance`` calls) and one ring of circular
traders; and the ground truth (which suppliers fail after the observation period).

It exists because the scorer must be measured at sizes (10,000 parties, 1,000,000 events) that
playing real contracts would take hours to reach; ``write_sqlite`` writes the rows straight into
an indexer database, which the benchmark states in its output. The end-to-end path over real
contracts is the scenarios world (``scenarios/``) and the tests on a real chain.

It lives in the test kit, not in ``scoring/``: no product code path generates worlds, and the
shipped package should not carry a generator whose ground truth is made up. ``bench/scoring.py``
and ``bench/api.py`` import it from here as they import ``tests.support.node_faults``.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from scoring.features import DAY, ROLE_BANK, ROLE_CORE, ROLE_SUPPLIER
from scoring.history import ChainEvent, History, RefusedCall

START = 1_893_456_000  # 2030-01-01
BLOCK_TIME = 12
UNIT = 10**6
CHAIN_ID = 31337
CONTRACTS = {
    "Membership": "0x" + "11" * 20,
    "TradeEscrow": "0x" + "22" * 20,
    "Receivables": "0x" + "33" * 20,
    "CreditRegistry": "0x" + "44" * 20,
    "SettlementToken": "0x" + "55" * 20,
}
TOKEN = to_checksum_address(CONTRACTS["SettlementToken"])
ZERO = "0x" + "00" * 20
HASH = "0x" + "ab" * 32


def address(kind: str, n: int) -> str:
    return to_checksum_address(keccak(text=f"scf-synthetic/{kind}/{n}")[12:])


@dataclass
class Party:
    address: str
    tier: int  # 0 core, 1..3 suppliers, -1 bank
    reliability: float = 1.0
    scale: int = 0
    failed: bool = False
    bad_actor: str | None = None
    buyers: list[int] = field(default_factory=list)
    suppliers: list[int] = field(default_factory=list)


@dataclass
class World:
    parties: list[Party]
    events: list[ChainEvent]
    refused: list[RefusedCall]
    observation_end: tuple[int, int]  # (block, timestamp)
    end: tuple[int, int]

    def history(self, as_of_time: int | None = None, *, refused: bool = True) -> History:
        t = self.observation_end[1] if as_of_time is None else as_of_time
        events = [e for e in self.events if e.timestamp <= t]
        block = events[-1].block_number if events else 0
        calls = [c for c in self.refused if c.block_number <= block] if refused else None
        return History(CHAIN_ID, block, t, events, calls, "synthetic")


class _Writer:
    """Collects (time, sequence, contract, event, args); blocks and log positions are given at the end."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int, str, str, dict[str, Any]]] = []

    def emit(self, t: int, contract: str, event: str, args: dict[str, Any]) -> None:
        self.items.append((t, len(self.items), contract, event, args))

    def finish(self) -> list[ChainEvent]:
        self.items.sort(key=lambda item: (item[0], item[1]))
        out: list[ChainEvent] = []
        last_block, log_index = -1, 0
        for t, _, contract, event, args in self.items:
            block = block_of(t)
            log_index = log_index + 1 if block == last_block else 0
            last_block = block
            out.append(ChainEvent(block, log_index, block_time(block), contract, event, args))
        return out


def block_of(t: int) -> int:
    return 1 + (t - START) // BLOCK_TIME


def block_time(block: int) -> int:
    return START + (block - 1) * BLOCK_TIME


def generate(
    firms: int = 300, *, months: int = 12, holdout_months: int = 3, orders_per_month: float = 2.0, seed: int = 7
) -> World:
    """A seeded world of ``firms`` firms over ``months`` months (the last ``holdout_months`` after the
    observation period; failures happen there and are the labels)."""
    rng = random.Random(seed)
    w = _Writer()
    n_core = max(2, firms // 60)
    tiers = [0] * n_core
    rest = firms - n_core
    tiers += [1] * (rest * 25 // 100) + [2] * (rest * 35 // 100)
    tiers += [3] * (firms - len(tiers))
    parties = [Party(address(f"tier{t}", i), t) for i, t in enumerate(tiers)]
    banks = [Party(address("bank", i), -1) for i in range(3)]
    all_parties = parties + banks
    admin = address("admin", 0)
    for i, p in enumerate(all_parties):
        roles = ROLE_CORE if p.tier == 0 else ROLE_BANK if p.tier < 0 else ROLE_SUPPLIER
        w.emit(
            START + i,
            "Membership",
            "MemberAdmitted",
            {"party": p.address, "roles": roles, "oracleKind": 0, "kycHash": HASH, "admin": admin},
        )
    by_tier: dict[int, list[int]] = {}
    for i, p in enumerate(parties):
        by_tier.setdefault(p.tier, []).append(i)
    observation_end = START + (months - holdout_months) * 30 * DAY
    end = START + months * 30 * DAY
    for i, p in enumerate(parties):
        if p.tier == 0:
            continue
        p.reliability = min(0.995, max(0.3, rng.betavariate(9, 1.4)))
        p.scale = int(math.exp(rng.gauss(math.log(50_000), 0.8))) * UNIT
        upstream = by_tier[p.tier - 1]
        p.buyers = rng.sample(upstream, min(len(upstream), rng.randint(1, 3)))
        for b in p.buyers:
            parties[b].suppliers.append(i)
        risk = -2.6 + 9.0 * (0.88 - p.reliability) - 0.35 * (math.log(p.scale / UNIT) - math.log(50_000))
        p.failed = rng.random() < 1 / (1 + math.exp(-risk))
    suppliers = [i for i, p in enumerate(parties) if p.tier > 0]
    ring = rng.sample([i for i in suppliers if parties[i].tier == 2], 3)
    for i in ring:
        parties[i].bad_actor = "circular_trader"
    double = rng.choice([i for i in suppliers if parties[i].tier == 1 and i not in ring])
    parties[double].bad_actor = "double_financer"

    order_id = root_id = 0
    pieces: dict[int, tuple[int, int]] = {}  # piece → (root, amount)
    refused: list[RefusedCall] = []
    fail_at = {i: observation_end + rng.randint(5, 80) * DAY for i, p in enumerate(parties) if p.failed}
    for i in suppliers:
        p = parties[i]
        t = START + rng.randint(1, 60) * DAY
        while t < end:
            failing = i in fail_at and t >= fail_at[i] - 60 * DAY
            reliability = p.reliability - (0.35 if failing else 0.0)
            if i in fail_at and t >= fail_at[i]:
                reliability = 0.0
            b = rng.choice(p.buyers)
            buyer = parties[b]
            amount = max(UNIT, int(p.scale * rng.uniform(0.5, 1.5)) // UNIT * UNIT)
            order_id += 1
            ship_by, deliver_by = t + 7 * DAY, t + 14 * DAY
            inspect = rng.random() < 0.3
            w.emit(
                t,
                "TradeEscrow",
                "OrderCreated",
                {
                    "orderId": str(order_id),
                    "buyer": buyer.address,
                    "supplier": p.address,
                    "token": TOKEN,
                    "amount": str(amount),
                    "shipBy": ship_by,
                    "deliverBy": deliver_by,
                    "inspectionRequired": inspect,
                    "termsHash": HASH,
                    "poRefHash": HASH,
                    "nonce": str(order_id),
                    "submitter": p.address,
                },
            )
            w.emit(
                t + 60,
                "TradeEscrow",
                "OrderFunded",
                {"orderId": str(order_id), "buyer": buyer.address, "amount": str(amount), "viaPermit": False},
            )
            if rng.random() > reliability and rng.random() < 0.5:
                w.emit(
                    ship_by + DAY,
                    "TradeEscrow",
                    "OrderRefunded",
                    {
                        "orderId": str(order_id),
                        "buyer": buyer.address,
                        "fromEscrow": str(amount),
                        "fromPool": "0",
                        "reason": 1,
                    },
                )
            else:
                late = rng.random() > reliability
                shipped = ship_by + (rng.randint(1, 5) * DAY if late else -rng.randint(1, 5) * DAY)
                delivered = deliver_by + (rng.randint(1, 6) * DAY if late else -rng.randint(0, 5) * DAY)
                delivered = max(delivered, shipped + DAY)
                signers = [address("carrier", 0), address("carrier", 1)]
                w.emit(
                    shipped + 600,
                    "TradeEscrow",
                    "MilestoneAttested",
                    {
                        "orderId": str(order_id),
                        "milestone": 1,
                        "occurredAt": shipped,
                        "evidenceHash": HASH,
                        "signers": signers,
                        "status": 3,
                    },
                )
                w.emit(
                    delivered + 600,
                    "TradeEscrow",
                    "MilestoneAttested",
                    {
                        "orderId": str(order_id),
                        "milestone": 2,
                        "occurredAt": delivered,
                        "evidenceHash": HASH,
                        "signers": signers,
                        "status": 4,
                    },
                )
                closed = delivered + 2 * DAY
                if inspect:
                    passed = rng.random() < reliability + (1 - reliability) * 0.5
                    w.emit(
                        delivered + DAY,
                        "TradeEscrow",
                        "MilestoneAttested",
                        {
                            "orderId": str(order_id),
                            "milestone": 3 if passed else 4,
                            "occurredAt": delivered + DAY - 600,
                            "evidenceHash": HASH,
                            "signers": signers,
                            "status": 5 if passed else 8,
                        },
                    )
                    if not passed:
                        w.emit(
                            delivered + DAY + 60,
                            "TradeEscrow",
                            "OrderRefunded",
                            {
                                "orderId": str(order_id),
                                "buyer": buyer.address,
                                "fromEscrow": str(amount),
                                "fromPool": "0",
                                "reason": 2,
                            },
                        )
                        closed = 0
                if closed and rng.random() > reliability and rng.random() < 0.3:
                    w.emit(
                        delivered + DAY + 120,
                        "TradeEscrow",
                        "DisputeOpened",
                        {
                            "orderId": str(order_id),
                            "buyer": buyer.address,
                            "reasonHash": HASH,
                            "answerBy": closed,
                            "resolveBy": closed,
                        },
                    )
                if closed:
                    w.emit(
                        closed,
                        "TradeEscrow",
                        "OrderReleased",
                        {"orderId": str(order_id), "supplier": p.address, "amount": str(amount), "by": buyer.address},
                    )
                    if buyer.tier == 0 and rng.random() < 0.6:
                        root_id = _receivable(
                            w, rng, parties, banks, pieces, root_id, b, i, amount, closed, order_id, double, refused
                        )
            t += int(30 * DAY / max(0.2, orders_per_month * rng.uniform(0.6, 1.4)))
    _circle(w, parties, ring, START + 100 * DAY, order_id)
    world = World(
        all_parties,
        w.finish(),
        refused,
        (block_of(observation_end), block_time(block_of(observation_end))),
        (block_of(end), block_time(block_of(end))),
    )
    return world


def _receivable(
    w: _Writer,
    rng: random.Random,
    parties: list[Party],
    banks: list[Party],
    pieces: dict[int, tuple[int, int]],
    last_id: int,
    core: int,
    creditor: int,
    amount: int,
    t: int,
    order_id: int,
    double: int,
    refused: list[RefusedCall],
) -> int:
    """A core's receivable to its tier-1 supplier, split down to tier 2 and 3, partly financed, repaid."""
    root = last_id + 1
    debtor, holder = parties[core], parties[creditor]
    maturity = t + 60 * DAY
    w.emit(
        t + 300,
        "Receivables",
        "ReceivableIssued",
        {
            "rootId": str(root),
            "debtor": debtor.address,
            "creditor": holder.address,
            "token": TOKEN,
            "faceValue": str(amount),
            "maturity": maturity,
            "invoiceHash": HASH,
            "fingerprint": "0x" + keccak(text=f"fingerprint {root}").hex(),
            "invoiceCommitment": HASH,
            "orderId": str(order_id),
            "nonce": str(root),
            "submitter": debtor.address,
        },
    )
    w.emit(t + 300, "Receivables", "Transfer", {"from": ZERO, "to": holder.address, "tokenId": str(root)})
    pieces[root] = (root, amount)
    next_id = root
    current, current_holder, when = root, creditor, t + 600
    for _ in range(2):
        subs = parties[current_holder].suppliers
        if not subs or rng.random() < 0.3:
            break
        sub = rng.choice(subs)
        keep = pieces[current][1] // 2
        give = pieces[current][1] - keep
        first = next_id + 1
        next_id += 2
        w.emit(
            when,
            "Receivables",
            "PieceSplit",
            {
                "pieceId": str(current),
                "rootId": str(root),
                "holder": parties[current_holder].address,
                "firstChildId": str(first),
                "childCount": 2,
            },
        )
        for k, (amt, who) in enumerate(((keep, current_holder), (give, sub))):
            w.emit(
                when,
                "Receivables",
                "PieceCreated",
                {
                    "pieceId": str(first + k),
                    "parentId": str(current),
                    "rootId": str(root),
                    "holder": parties[who].address,
                    "amount": str(amt),
                    "ref": HASH,
                    "financed": False,
                },
            )
            w.emit(
                when, "Receivables", "Transfer", {"from": ZERO, "to": parties[who].address, "tokenId": str(first + k)}
            )
            pieces[first + k] = (root, amt)
        current, current_holder, when = first + 1, sub, when + 3 * DAY
    if rng.random() < 0.4:
        bank = rng.choice(banks)
        seller = parties[current_holder]
        w.emit(
            when + 60,
            "Receivables",
            "PieceFinanced",
            {
                "pieceId": str(current),
                "rootId": str(root),
                "bank": bank.address,
                "seller": seller.address,
                "price": str(pieces[current][1] * 98 // 100),
                "amount": str(pieces[current][1]),
                "discountBps": "1200",
                "timeToMaturity": maturity - when,
                "nonce": str(current),
            },
        )
        w.emit(
            when + 60, "Receivables", "Transfer", {"from": seller.address, "to": bank.address, "tokenId": str(current)}
        )
        if current_holder == double:
            refused.append(
                RefusedCall(
                    block_of(when + 3600), 0, seller.address, "Receivables", "finance", "ReceivablesAlreadyFinanced"
                )
            )
    w.emit(
        maturity - DAY,
        "Receivables",
        "ReceivableRepaid",
        {
            "rootId": str(root),
            "payer": debtor.address,
            "amount": str(amount),
            "repaid": str(amount),
            "outstanding": "0",
            "afterDefault": False,
        },
    )
    return next_id


def _circle(w: _Writer, parties: list[Party], ring: list[int], t: int, last_order: int) -> None:
    """Three firms selling each other the same amount round a circle, twice."""
    order_id = last_order + 1_000_000
    for lap in range(2):
        for k in range(3):
            seller, buyer = parties[ring[k]], parties[ring[(k + 1) % 3]]
            order_id += 1
            at = t + lap * 40 * DAY + k * 5 * DAY
            amount = 80_000 * UNIT + k * 1_000 * UNIT
            w.emit(
                at,
                "TradeEscrow",
                "OrderCreated",
                {
                    "orderId": str(order_id),
                    "buyer": buyer.address,
                    "supplier": seller.address,
                    "token": TOKEN,
                    "amount": str(amount),
                    "shipBy": at + 7 * DAY,
                    "deliverBy": at + 14 * DAY,
                    "inspectionRequired": False,
                    "termsHash": HASH,
                    "poRefHash": HASH,
                    "nonce": str(order_id),
                    "submitter": seller.address,
                },
            )
            w.emit(
                at + DAY,
                "TradeEscrow",
                "MilestoneAttested",
                {
                    "orderId": str(order_id),
                    "milestone": 1,
                    "occurredAt": at + DAY - 600,
                    "evidenceHash": HASH,
                    "signers": [],
                    "status": 3,
                },
            )
            w.emit(
                at + 2 * DAY,
                "TradeEscrow",
                "MilestoneAttested",
                {
                    "orderId": str(order_id),
                    "milestone": 2,
                    "occurredAt": at + 2 * DAY - 600,
                    "evidenceHash": HASH,
                    "signers": [],
                    "status": 4,
                },
            )
            w.emit(
                at + 4 * DAY,
                "TradeEscrow",
                "OrderReleased",
                {"orderId": str(order_id), "supplier": seller.address, "amount": str(amount), "by": buyer.address},
            )


def write_sqlite(world: World, path: Path) -> str:
    """The world's events (and refused calls) as an indexer database at ``path``; returns its URL."""
    return write_index(world, f"sqlite:///{path}")


def write_index(world: World, url: str) -> str:
    """The world's events (and refused calls) as an indexer database at ``url`` (empty: SQLite or PostgreSQL);
    returns the URL.

    Rows are written straight into the indexer's tables (schema by the project's migrations),
    not indexed from a chain; block and transaction hashes are derived from the block number.
    """
    from sqlalchemy import inspect as sql_inspect
    from sqlalchemy import text

    from ledger.index.sql.db import open_engine

    engine = open_engine(url)
    topic = "0x" + "00" * 32
    rows = [
        (
            CHAIN_ID,
            e.block_number,
            _hash("block", e.block_number),
            e.timestamp,
            _hash("tx", e.block_number, e.log_index),
            0,
            e.log_index,
            CONTRACTS[e.contract],
            e.contract,
            e.event,
            topic,
            "0x",
            json.dumps(e.args, separators=(",", ":")),
        )
        for e in world.events
    ]
    last = world.events[-1]
    columns = "chain_id, block_number, block_hash, block_timestamp, tx_hash, tx_index, log_index, address, contract, "
    columns += "event, topic0, data, args"
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        if engine.dialect.name == "sqlite":
            raw.executemany(f"INSERT INTO events ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        else:  # psycopg: the same rows by COPY (args, JSONB there, from its text)
            with raw.cursor() as cursor, cursor.copy(f"COPY events ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.execute(
            text(
                "INSERT INTO cursor (chain_id, block_number, block_hash, digest, event_count, from_block, addresses, "
                "updated_at) VALUES (:c, :b, :h, :d, :n, 0, :a, :u)"
            ),
            {
                "c": CHAIN_ID,
                "b": last.block_number,
                "h": _hash("block", last.block_number),
                "d": topic,
                "n": len(rows),
                "a": json.dumps(CONTRACTS),
                "u": last.timestamp,
            },
        )
        if sql_inspect(conn).has_table("refused_calls"):
            columns = {c["name"] for c in sql_inspect(conn).get_columns("refused_calls")}
            values = {
                "chain_id": CHAIN_ID,
                "block_hash": _hash("block", 0),
                "tx_hash": _hash("refused", 0),
                "tx_index": 0,
                "contract": "Receivables",
                "function": "finance",
                "error": "",
                "error_args": "{}",
                "args": "{}",
                "sender": ZERO,
                "block_number": 0,
            }
            for k, call in enumerate(world.refused):
                row = dict(
                    values,
                    block_number=call.block_number,
                    block_hash=_hash("block", call.block_number),
                    tx_hash=_hash("refused", k),
                    sender=call.sender,
                    error=call.error,
                )
                keys = [c for c in row if c in columns]
                conn.execute(
                    text(f"INSERT INTO refused_calls ({', '.join(keys)}) VALUES ({', '.join(':' + c for c in keys)})"),
                    {c: row[c] for c in keys},
                )
    engine.dispose()
    return url


def _hash(*parts: object) -> str:
    return "0x" + keccak(text="/".join(str(p) for p in parts)).hex()
