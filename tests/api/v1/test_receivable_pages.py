"""A party's page of receivables read by arms (``Reads.receivables``) answers what the ``OR`` did.

A party sees a root as its debtor, as its creditor, or because it holds, bought, sold or was offered a piece of its
tree. That used to be one ``OR`` over the roots, walked from the cursor in root id order; it is now a ``UNION`` of
one limited arm per way of seeing a root (``api.v1.reads``). These tests fill a ledger of their own (roots, trees
of pieces, financings, and the offered pieces as the store would list them) on SQLite and on PostgreSQL and compare
the pages with the old statement, kept here as the reference, over random parties, statuses, cursors and limits.
A holder's page of pieces, whose index changed under it, is checked against the rows sorted in Python.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, Engine, String, insert, or_, select, union

from api.v1.auth import Party
from api.v1.reads import Reads, piece_out, root_out
from api.v1.schemas import ReceivableOut
from ledger.index.sql.models import Base, Financing, Piece, Root, table_of
from ledger.toolchain.deploy import ROLE
from tests.support.databases import Databases, databases

__all__ = ["databases"]  # the fixture, imported to be declared in this module (SQLite and PostgreSQL runs)

CHAIN_ID, OTHER_CHAIN = 31_337, 1
ROOTS = 300
PARTIES = [f"0x{i:040X}" for i in range(1, 11)]
STRANGER = "0x" + "ee" * 20
BANK = "0x" + "ba" * 20
STATUSES = ("ACTIVE", "REPAID", "DEFAULTED")


def _row(model: type[Base], **chosen: Any) -> dict[str, Any]:
    """A row of ``model``: the ``chosen`` values, None where nullable, else plain ones."""
    row: dict[str, Any] = {}
    for column in table_of(model).columns:
        if column.name in chosen:
            row[column.name] = chosen[column.name]
        elif column.nullable:
            row[column.name] = None
        elif isinstance(column.type, Boolean):
            row[column.name] = False
        elif isinstance(column.type, String):
            row[column.name] = "0x" + "0a" * 20
        else:
            row[column.name] = 7
    return row


def _trees(chain_id: int, rng: random.Random) -> tuple[list[dict[str, Any]], ...]:
    """Roots (ids with gaps), each with a root piece and a few children, and financings of some pieces."""
    roots, pieces, financings = [], [], []
    piece_id = 0
    for root_id in sorted(rng.sample(range(1, ROOTS * 2), ROOTS)):
        debtor = rng.choice(PARTIES)
        creditor = debtor if rng.random() < 0.05 else rng.choice(PARTIES)
        status = rng.choice(STATUSES)
        roots.append(_row(Root, chain_id=chain_id, root_id=root_id, debtor=debtor, creditor=creditor, status=status))
        piece_id += rng.randrange(1, 4)
        top = piece_id
        pieces.append(_row(Piece, chain_id=chain_id, piece_id=top, root_id=root_id, parent_id=0, holder=creditor))
        for _ in range(rng.randrange(3)):
            piece_id += 1
            seller = holder = rng.choice(PARTIES)
            if rng.random() < 0.3:  # sold: the bank holds it now, the seller sees the tree through the sale only
                holder = rng.choice(PARTIES)
                sale = {"block_number": piece_id, "log_index": 0, "bank": holder, "seller": seller}
                financings.append(_row(Financing, chain_id=chain_id, piece_id=piece_id, root_id=root_id, **sale))
            child = {"piece_id": piece_id, "root_id": root_id, "parent_id": top, "holder": holder}
            pieces.append(_row(Piece, chain_id=chain_id, **child))
    return roots, pieces, financings


def _bank(chain_id: int, trees: tuple[list[dict[str, Any]], ...], rng: random.Random) -> None:
    """A bank in most trees: the debtor of a few roots, holding pieces of half the trees (several in some), bought
    from their holders or not, and the seller of pieces of a few others; added to ``trees`` (from piece id 10,000
    on, financings from block 100,000 on, so the rows drawn before are the same)."""
    roots, pieces, financings = trees
    piece_id = 10_000
    for root in roots:
        root_id = root["root_id"]
        if rng.random() < 0.05:
            root["debtor"] = BANK
        for _ in range(rng.choice((0, 0, 1, 2, 4))):
            piece_id += 1
            seller, holder = rng.choice(PARTIES), BANK
            if rng.random() < 0.15:  # the bank sold it on
                seller, holder = BANK, rng.choice(PARTIES)
            child = {"piece_id": piece_id, "root_id": root_id, "parent_id": 0, "holder": holder}
            pieces.append(_row(Piece, chain_id=chain_id, **child))
            if seller == BANK or rng.random() < 0.7:
                sale = {"block_number": 100_000 + piece_id, "log_index": 0, "bank": holder, "seller": seller}
                financings.append(
                    _row(Financing, chain_id=chain_id, piece_id=piece_id, root_id=root["root_id"], **sale)
                )


@pytest.fixture(scope="module")
def ledger(databases: Databases) -> Iterator[Engine]:
    rng, bank_rng = random.Random(3), random.Random(4)
    engine = databases.new()
    with engine.begin() as connection:
        for chain_id in (CHAIN_ID, OTHER_CHAIN):
            trees = _trees(chain_id, rng)
            _bank(chain_id, trees, bank_rng)
            for model, rows in zip((Root, Piece, Financing), trees, strict=True):
                connection.execute(insert(table_of(model)), rows)
    yield engine


def _offered(engine: Engine) -> dict[str, list[int]]:
    """Pieces asked of each party (what the store would list), a few each, some on roots it sees anyway."""
    rng = random.Random(9)
    with engine.connect() as connection:
        ids = list(connection.execute(select(Piece.piece_id).where(Piece.chain_id == CHAIN_ID)).scalars())
    return {party: rng.sample(ids, rng.randrange(4)) for party in (*PARTIES, STRANGER)}


def _reference(engine: Engine, party: str, offered: list[int], after: int, limit: int, status: str | None) -> list[Any]:
    """The page as the single ``OR`` statement answered it (the code before the arms)."""
    parts = [
        select(Piece.root_id).where(Piece.chain_id == CHAIN_ID, Piece.holder == party),
        select(Financing.root_id).where(
            Financing.chain_id == CHAIN_ID, or_(Financing.bank == party, Financing.seller == party)
        ),
    ]
    if offered:
        parts.append(select(Piece.root_id).where(Piece.chain_id == CHAIN_ID, Piece.piece_id.in_(offered)))
    visible = or_(Root.debtor == party, Root.creditor == party, Root.root_id.in_(union(*parts)))
    query = select(Root).where(Root.chain_id == CHAIN_ID, Root.root_id > after, visible)
    if status:
        query = query.where(Root.status == status)
    with engine.connect() as connection:
        return list(connection.execute(query.order_by(Root.root_id).limit(limit)).all())


def test_the_page_by_arms_is_the_or_statements_page_for_random_parties_cursors_limits_statuses(
    ledger: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered = _offered(ledger)
    reads = Reads(ledger, ledger, CHAIN_ID)
    monkeypatch.setattr(reads.financing, "offered_pieces", lambda party: offered[party.address])
    rng = random.Random(13)
    pages = 0
    for _ in range(200):
        address = rng.choice((*PARTIES, STRANGER))
        auditor = rng.random() < 0.1
        status = rng.choice((None, *STATUSES))
        after = rng.choice((0, rng.randrange(ROOTS * 2 + 10)))
        limit = rng.choice((1, 2, rng.randrange(1, 60)))
        expected = _reference(ledger, address, offered[address], after, limit + 1, status)
        if auditor:
            with ledger.connect() as connection:
                query = select(Root).where(Root.chain_id == CHAIN_ID, Root.root_id > after)
                query = query.where(Root.status == status) if status else query
                expected = list(connection.execute(query.order_by(Root.root_id).limit(limit + 1)).all())
        party = Party(address, ROLE["auditor"] if auditor else 0, 2**40)
        items, next_after = reads.receivables(party, after, limit, status)
        assert items == [ReceivableOut(**root_out(row)) for row in expected[:limit]], (address, status, after, limit)
        assert next_after == (expected[limit - 1].root_id if len(expected) > limit else None)
        pages += bool(expected)
    assert pages > 120


@pytest.mark.parametrize("limit", [1, 3, 17])
def test_a_bank_in_most_trees_walks_its_pages_to_the_end_as_the_or_statement_pages_them(
    ledger: Engine, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """Every page of a bank that holds, bought and sold pieces of most trees (and of a party in several roles), from
    each page's cursor to the next: each the reference's page, the walk the reference's whole answer."""
    offered = {BANK: [10_003, 10_040], PARTIES[0]: [], PARTIES[1]: [5]}
    reads = Reads(ledger, ledger, CHAIN_ID)
    monkeypatch.setattr(reads.financing, "offered_pieces", lambda party: offered[party.address])
    for address in offered:
        for status in (None, "ACTIVE"):
            walked: list[Any] = []
            after: int | None = 0
            while after is not None:
                expected = _reference(ledger, address, offered[address], after, limit + 1, status)
                items, next_after = reads.receivables(Party(address, 0, 2**40), after, limit, status)
                assert items == [ReceivableOut(**root_out(row)) for row in expected[:limit]], (address, after)
                assert next_after == (expected[limit - 1].root_id if len(expected) > limit else None)
                walked, after = walked + items, next_after
            whole = _reference(ledger, address, offered[address], 0, ROOTS * 2, status)
            assert walked == [ReceivableOut(**root_out(row)) for row in whole]
    # The bank's walk crossed every arm: roots it sees as debtor only, by a piece it holds only, by one it sold only.
    with ledger.connect() as connection:
        held = set(connection.scalars(select(Piece.root_id).where(Piece.chain_id == CHAIN_ID, Piece.holder == BANK)))
        sold = select(Financing.root_id).where(Financing.chain_id == CHAIN_ID, Financing.seller == BANK)
        sold_only = set(connection.scalars(sold)) - held
        debtor = set(connection.scalars(select(Root.root_id).where(Root.chain_id == CHAIN_ID, Root.debtor == BANK)))
    assert len(held) > ROOTS // 3 and sold_only and debtor - held


def test_a_holders_pages_of_pieces_are_its_pieces_in_piece_id_order(ledger: Engine) -> None:
    reads = Reads(ledger, ledger, CHAIN_ID)
    with ledger.connect() as connection:
        pieces = list(connection.execute(select(Piece).where(Piece.chain_id == CHAIN_ID)).all())
    for address in PARTIES:
        held = sorted((row for row in pieces if row.holder == address), key=lambda row: row.piece_id)
        walked, after = [], 0
        while after is not None:
            items, after = reads.pieces_held(Party(address, 0, 2**40), after, 5)
            walked += items
        assert walked == [piece_out(row) for row in held]
