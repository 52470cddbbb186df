"""Who the demo's story is about: a tier-3 supplier that never sold to a core enterprise, and how it
comes to hold a live piece of a core's receivable (its buyers pay it down the tiers, each splitting a
piece it holds and signing with its own key).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Engine, select

from api.cli.demo.base import DemoError
from ledger.clients.receivables import ReceivablesClient
from ledger.domain.receivables import Child
from ledger.eth.chain import Chain
from ledger.index.sql.models import CreditLimit, Order, Piece, Root
from scenarios.world import CORE, DAY, UNIT, World

#: A piece is worth a story only if it matures far enough ahead for an offer to be made and accepted.
MATURITY_MARGIN = 14 * DAY
#: How far up the supply chain (tier 3 → 2 → 1) a payment with a piece may come from.
MAX_HOPS = 3
RETAINED = keccak(text="retained")


@dataclass(frozen=True)
class Hop:
    """``payer`` pays ``payee`` (its supplier) ``amount`` with a piece split off a piece it holds."""

    payer: str
    payee: str
    amount: int


@dataclass(frozen=True)
class Story:
    """The tier-3 supplier, the core-rooted piece the story starts from, and the payments down to it.

    ``hops`` is empty when the supplier already holds ``piece_id``; otherwise ``piece_id`` is
    held by ``hops[0].payer`` and each hop passes part of it one tier down.
    """

    tier3: str
    piece_id: int
    root_id: int
    core: str
    limit: int
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class _Usable:
    piece_id: int
    root_id: int
    holder: str
    amount: int
    debtor: str
    maturity: int


def _usable_core_pieces(engine: Engine, chain_id: int, cores: set[str], now: int) -> list[_Usable]:
    """Pieces that can still be passed on or sold: unsplit, unfinanced, unclaimed, of a live core receivable."""
    query = (
        select(Piece.piece_id, Piece.root_id, Piece.holder, Piece.amount, Root.debtor, Root.maturity)
        .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
        .where(
            Piece.chain_id == chain_id,
            Piece.child_count == 0,
            Piece.financed.is_(False),
            Root.status == "OUTSTANDING",
            Root.maturity >= now + MATURITY_MARGIN,
        )
        .order_by(Piece.piece_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        _Usable(r.piece_id, r.root_id, r.holder, int(r.amount), r.debtor, int(r.maturity))
        for r in rows
        if r.debtor in cores
    ]


def plan_story(engine: Engine, chain_id: int, world: World, limits_bank: str, now: int) -> Story:
    """The tier-3 supplier to follow and how it comes to hold a live piece of a core's receivable.

    Candidates are the world's tier-3 suppliers that never sold to a core (no order on the
    ledger with a core as buyer), best published limit first (``limits_bank``'s). A candidate
    that holds a usable core piece is taken as is; otherwise the shortest chain of its buyers
    (at most ``MAX_HOPS`` tiers up) that ends at a holder of one, biggest piece first.
    """
    cores = {p.address for p in world.of_kind(CORE)}
    with engine.connect() as connection:
        orders = connection.execute(select(Order.buyer, Order.supplier).where(Order.chain_id == chain_id)).all()
        limits = {
            row.party: int(row.limit)
            for row in connection.execute(
                select(CreditLimit.party, CreditLimit.limit).where(
                    CreditLimit.chain_id == chain_id,
                    CreditLimit.bank == limits_bank,
                    CreditLimit.revoked.is_(False),
                )
            )
        }
    buyers: dict[str, set[str]] = {}
    for buyer, supplier in orders:
        buyers.setdefault(supplier, set()).add(buyer)
    candidates = [
        p.address for p in world.suppliers if p.tier == 3 and p.address in buyers and not buyers[p.address] & cores
    ]
    if not candidates:
        raise DemoError("the world has no tier-3 supplier with orders that never sold to a core")
    candidates.sort(key=lambda a: (-limits.get(a, 0), a))
    usable = _usable_core_pieces(engine, chain_id, cores, now)
    by_holder: dict[str, list[_Usable]] = {}
    for piece in usable:
        by_holder.setdefault(piece.holder, []).append(piece)
    for tier3 in candidates:
        held = by_holder.get(tier3)
        if held:
            best = max(held, key=lambda p: (p.amount, -p.piece_id))
            return Story(tier3, best.piece_id, best.root_id, best.debtor, limits.get(tier3, 0), ())
        route = _route_to(tier3, buyers, by_holder, cores)
        if route is not None:
            return _story_along(tier3, route, limits.get(tier3, 0))
    raise DemoError(
        "no live piece of a core's receivable can reach a tier-3 supplier that never sold to a core "
        f"(checked {len(candidates)} suppliers, {len(usable)} usable pieces): play a fresh world"
    )


def _route_to(
    tier3: str, buyers: dict[str, set[str]], by_holder: dict[str, list[_Usable]], cores: set[str]
) -> tuple[_Usable, list[str]] | None:
    """Breadth first up the buyers of ``tier3``: the nearest holder of a usable piece and the path down."""
    frontier: list[list[str]] = [[tier3]]
    seen = {tier3}
    for _ in range(MAX_HOPS):
        found: list[tuple[_Usable, list[str]]] = []
        following: list[list[str]] = []
        for path in frontier:
            for buyer in sorted(buyers.get(path[0], set()) - seen - cores):
                chain_down = [buyer, *path]
                found.extend((piece, chain_down) for piece in by_holder.get(buyer, []))
                following.append(chain_down)
                seen.add(buyer)
        if found:
            return max(found, key=lambda f: (f[0].amount, -f[0].piece_id))
        frontier = following
    return None


def _story_along(tier3: str, route: tuple[_Usable, list[str]], limit: int) -> Story:
    piece, path = route
    hops: list[Hop] = []
    amount = piece.amount
    for payer, payee in itertools.pairwise(path):
        # Each tier passes a quarter of what it holds down, in whole tokens: a payment, not a giveaway.
        amount = max(UNIT, amount // 4 // UNIT * UNIT)
        hops.append(Hop(payer, payee, amount))
    return Story(tier3, piece.piece_id, piece.root_id, piece.debtor, limit, tuple(hops))


def payment_ref(payer: str, payee: str, piece_id: int) -> bytes:
    """The ``ref`` a demo payment records on its child piece: which payment this was, for ever."""
    return keccak(text=f"scf-demo payment {payer} -> {payee} from piece {piece_id}")


def pay_down(chain: Chain, client: ReceivablesClient, story: Story, keys: dict[str, LocalAccount]) -> int:
    """Carry out the story's hops (each holder splits and signs); the piece the tier-3 supplier now holds."""
    piece_id = story.piece_id
    for hop in story.hops:
        held = client.piece(piece_id).amount
        children = [Child(hop.amount, hop.payee, payment_ref(hop.payer, hop.payee, piece_id))]
        if held > hop.amount:
            children.append(Child(held - hop.amount, hop.payer, RETAINED))
        created, _receipt = client.split(piece_id, children, keys[hop.payer])
        piece_id = created[0]
    return piece_id
