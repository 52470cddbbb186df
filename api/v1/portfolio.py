"""A bank's portfolio: the pieces it financed and still holds, the state of each, and what they add up to.

``GET /v1/banks/me/portfolio`` (``api.v1.routes.banks``) answers it from the index: one query joins
the bank's ``financings`` to the pieces they bought (``receivable_pieces``: holder, face amount,
what was claimed) and to their receivables (``receivable_roots``: debtor, face value, maturity, what
was repaid, the default). A piece the bank bought and has since sold on or split is no longer its
own to collect: it is left out of the rows and counted in ``not_held`` (split, the children carry the
financed flag but not the financing).

**A piece's state** (``state_of``), the first that holds:

1. ``claimed``: the bank collected the piece's whole face amount (``claimed == amount``): closed;
2. ``repaid``: the receivable is repaid in full and the bank has not yet claimed all of its share;
3. ``defaulted``: the receivable was marked defaulted (``defaultedAt``) and is not repaid in full;
4. ``overdue``: its maturity has passed (``maturity < now``), not repaid, not (yet) marked defaulted;
5. ``outstanding``.

**Amounts per piece**, exact integers of token units, as the contract computes them: ``collectible``
is the piece's share of what was repaid on its receivable (``amount * repaid // faceValue``, the
contract's ``_claimable`` before subtracting what was claimed), ``claimable`` what of it the bank may
claim now, ``due`` what the obligor still owes on the piece (``amount - collectible``).

**Aggregates** over the open pieces (outstanding, overdue, defaulted: the ones whose ``due`` is still
at risk): the exposure by obligor (the root debtor: pieces, ``due``, price paid), and the maturity ladder
of ``due`` by days to maturity, ``(maturity - now) // 1 day``, in ``BUCKETS``: ``overdue`` is every open
piece whose maturity has passed, defaulted or not. The **return so far** is ``collected - paid`` over the
closed pieces only: an open piece's return is not known until it closes.

``now`` is the bank routes' (``FinancingBook.now``: the later of the API's clock and the indexed head's
block time). The seller's supply tier (``seller_tiers``) comes from the credit scorer's feature table.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, select

from ledger.index.sql.models import Cursor, Financing, Piece, Root
from scoring.features import FeatureTable

DAY = 86_400

State = Literal["outstanding", "repaid", "claimed", "overdue", "defaulted"]
STATES: tuple[State, ...] = ("outstanding", "overdue", "defaulted", "repaid", "claimed")
#: The states whose ``due`` is still owed to the bank: what the exposure and the ladder count.
OPEN: frozenset[State] = frozenset({"outstanding", "overdue", "defaulted"})

#: The maturity ladder: (name, the last day to maturity it holds); ``overdue`` holds every passed maturity.
BUCKETS: tuple[tuple[str, float], ...] = (
    ("overdue", -1),
    ("0-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("91-180", 180),
    (">180", math.inf),
)


def state_of(
    amount: int, claimed: int, repaid: int, face_value: int, defaulted_at: int, maturity: int, now: int
) -> State:
    """A held piece's state (the module's docstring): claimed > repaid > defaulted > overdue > outstanding."""
    if claimed >= amount:
        return "claimed"
    if repaid >= face_value:
        return "repaid"
    if defaulted_at != 0:
        return "defaulted"
    if maturity < now:
        return "overdue"
    return "outstanding"


def bucket_of(maturity: int, now: int) -> str:
    """The ladder's bucket for a maturity: ``overdue`` once passed, else by whole days to go."""
    days = -1 if maturity < now else (maturity - now) // DAY
    return next(name for name, last in BUCKETS if days <= last)


@dataclass(frozen=True)
class Holding:
    """One financed piece the bank holds, with its receivable's terms, as the index has them."""

    piece_id: int
    root_id: int
    obligor: str
    seller: str
    price: int
    amount: int
    claimed: int
    nonce: int
    financed_at: int
    discount_bps: int
    face_value: int
    repaid: int
    maturity: int
    defaulted_at: int
    state: State

    @property
    def collectible(self) -> int:
        """The piece's share of what was repaid on its receivable (claimed or not), rounded down as on chain."""
        return self.amount * self.repaid // self.face_value if self.face_value else 0

    @property
    def claimable(self) -> int:
        return max(self.collectible - self.claimed, 0)

    @property
    def due(self) -> int:
        """What the obligor still owes on this piece."""
        return self.amount - self.collectible

    @property
    def open(self) -> bool:
        return self.state in OPEN


@dataclass
class Tally:
    """Pieces counted and their amounts summed (exact integers)."""

    pieces: int = 0
    due: int = 0
    paid: int = 0

    def add(self, holding: Holding) -> None:
        self.pieces += 1
        self.due += holding.due
        self.paid += holding.price


@dataclass(frozen=True)
class Portfolio:
    """What ``read_portfolio`` found, with the sums the route answers."""

    bank: str
    now: int
    indexed_block: int | None
    holdings: list[Holding]
    #: pieces this bank financed that it no longer holds as one piece (sold on, or split)
    not_held: int
    counts: dict[State, int] = field(init=False)
    by_obligor: dict[str, Tally] = field(init=False)
    ladder: dict[str, Tally] = field(init=False)

    def __post_init__(self) -> None:
        counts: dict[State, int] = dict.fromkeys(STATES, 0)
        by_obligor: dict[str, Tally] = defaultdict(Tally)
        ladder = {name: Tally() for name, _ in BUCKETS}
        for holding in self.holdings:
            counts[holding.state] += 1
            if holding.open:
                by_obligor[holding.obligor].add(holding)
                ladder[bucket_of(holding.maturity, self.now)].add(holding)
        # Largest exposure first (then by address, for a stable order).
        ranked = dict(sorted(by_obligor.items(), key=lambda kv: (-kv[1].due, kv[0])))
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "by_obligor", ranked)
        object.__setattr__(self, "ladder", ladder)

    def bucket(self, holding: Holding) -> str | None:
        """The holding's rung of the maturity ladder while it is open; None once repaid or claimed."""
        return bucket_of(holding.maturity, self.now) if holding.open else None

    @property
    def closed(self) -> list[Holding]:
        return [h for h in self.holdings if h.state == "claimed"]

    def total(self, amount: str, holdings: Iterable[Holding] | None = None) -> int:
        """The sum of one amount (``price``, ``amount``, ``claimed``, ``claimable``, ``due``) over ``holdings``."""
        return sum(int(getattr(h, amount)) for h in (self.holdings if holdings is None else holdings))

    @property
    def returned(self) -> int:
        """Collected less paid on the closed pieces (negative: a loss)."""
        return self.total("claimed", self.closed) - self.total("price", self.closed)


def read_portfolio(engine: Engine, chain_id: int, bank: str, now: int) -> Portfolio:
    """Every piece ``bank`` financed, from the index, as a ``Portfolio`` at ``now``."""
    bought = (
        select(
            Financing.piece_id,
            Financing.root_id,
            Financing.seller,
            Financing.price,
            Financing.nonce,
            Financing.financed_at,
            Financing.discount_bps,
            Piece.holder,
            Piece.child_count,
            Piece.amount,
            Piece.claimed,
            Root.debtor,
            Root.face_value,
            Root.repaid,
            Root.maturity,
            Root.defaulted_at,
        )
        .join(Piece, (Piece.chain_id == Financing.chain_id) & (Piece.piece_id == Financing.piece_id))
        .join(Root, (Root.chain_id == Financing.chain_id) & (Root.root_id == Financing.root_id))
        .where(Financing.chain_id == chain_id, Financing.bank == bank)
        .order_by(Financing.piece_id)
    )
    with engine.connect() as connection:
        indexed = connection.execute(
            select(Cursor.block_number).where(Cursor.chain_id == chain_id)
        ).scalar_one_or_none()
        rows = connection.execute(bought).all()
    held = [row for row in rows if row.holder == bank and row.child_count == 0]
    return Portfolio(
        bank=bank,
        now=now,
        indexed_block=None if indexed is None else int(indexed),
        holdings=[_holding(row, now) for row in held],
        not_held=len(rows) - len(held),
    )


def _holding(row: Any, now: int) -> Holding:
    amount, claimed, repaid, face = int(row.amount), int(row.claimed), int(row.repaid), int(row.face_value)
    maturity, defaulted_at = int(row.maturity), int(row.defaulted_at)
    return Holding(
        piece_id=int(row.piece_id),
        root_id=int(row.root_id),
        obligor=row.debtor,
        seller=row.seller,
        price=int(row.price),
        amount=amount,
        claimed=claimed,
        nonce=int(row.nonce),
        financed_at=int(row.financed_at),
        discount_bps=int(row.discount_bps),
        face_value=face,
        repaid=repaid,
        maturity=maturity,
        defaulted_at=defaulted_at,
        state=state_of(amount, claimed, repaid, face, defaulted_at, maturity, now),
    )


def seller_tiers(table: FeatureTable, sellers: Iterable[str]) -> dict[str, int | None]:
    """Each seller's supply tier from the scorer's feature table (``scoring.graph.supply_tier``: the links in its
    longest chain of verified sales to a core); None where the table has no row or no chain for it."""
    values = table.values.get("supply_tier")
    tiers: dict[str, int | None] = {}
    for seller in sellers:
        i = table.index.get(seller)
        value = None if values is None or i is None else float(values[i])
        tiers[seller] = None if value is None or math.isnan(value) else int(value)
    return tiers
