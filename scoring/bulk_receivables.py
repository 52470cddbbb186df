"""The receivables' events of a bulk read (``scoring.bulk``) as ``Collector``'s lists at once, no loop per event.

``Collector`` follows each receivable tree event by event: an issue makes a root and its first
piece (held by the creditor, received from the debtor), a ``PieceCreated`` a child piece of a
known parent (received from whoever held the parent then), a ``Transfer`` of a known piece moves
it (a receipt when the holder changes), and splits, financings, repayments and defaults mark
what they name, where it is known by then. Every rule reads the state as of its event, but that
state is simple: a piece is known from the row that made it on, and its holder after any event
that sets one is the holder that event names (a transfer to the current holder sets the same
holder). So the holders of each piece form one sorted sequence (its making, then its transfers),
the giver of each receipt is the entry before it, and a child's giver is its parent's entry just
before the child's row. Only whether a ``PieceCreated`` takes (its root and parent known) goes
one event at a time, as a parent may be a child made a moment earlier.

That holds while every id is made once: roots and pieces each have their own (the contract makes
them so). Otherwise (an id issued or created twice, where the per-event rules overwrite) this
answers None and the builder takes the events one by one. Parties are kept as numbers of this
module's own (``Receivables.addresses`` names them), each with the key of its first appearance
(``row * 4 + place among the event's parties``), for the collector to index them as the per-event
path does and map the numbers to its indices in one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.collect import MAX_AMOUNT, NONE


@dataclass
class Receivables:
    """``Collector``'s receivable lists, parties as numbers into ``addresses`` (``first_keys``: each
    number's first appearance)."""

    root_of: dict[int, int]
    r_debtor: np.ndarray
    r_creditor: np.ndarray
    r_face: list[int]
    r_maturity: list[int]
    r_issued: np.ndarray
    r_repaid: np.ndarray
    r_repaid_at: np.ndarray
    r_defaulted: np.ndarray
    piece_of: dict[int, int]
    p_root: np.ndarray
    p_amount: np.ndarray
    p_holder: np.ndarray
    p_split: np.ndarray
    p_financed: np.ndarray
    rc_party: np.ndarray
    rc_from: np.ndarray
    rc_piece: np.ndarray
    rc_time: np.ndarray
    addresses: list[str]
    first_keys: np.ndarray


_EMPTY = np.zeros(0, dtype=np.int64)


def _first_index(group: np.ndarray) -> np.ndarray:
    """Positions in ``group`` (chain order) of each group's first entry, by group (no sort: one pass)."""
    first = np.full(int(group.max(initial=-1)) + 1, len(group), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(group), dtype=np.int64))
    return first[first < len(group)]


def collect(times: np.ndarray, events: dict[str, tuple[np.ndarray, list[Any]]]) -> Receivables | None:
    """The receivable lists from each event type's (rows in chain order, structs), by event name;
    None when an id is made twice."""

    def of(name: str) -> tuple[np.ndarray, list[Any]]:
        return events.get(name, (_EMPTY, []))

    i_row, issued = of("ReceivableIssued")
    c_row, created = of("PieceCreated")
    root_ids = [a.rootId for a in issued]
    created_ids = [a.pieceId for a in created]
    if len({*root_ids, *created_ids}) != len(root_ids) + len(created_ids):
        return None
    i_rows, c_rows = i_row.tolist(), c_row.tolist()
    root_row = dict(zip(root_ids, i_rows, strict=True))
    root_of = {r: k for k, r in enumerate(root_ids)}

    # Which children take: root and parent known before the child's row (a parent may be a child).
    piece_row = dict(root_row)
    took: list[bool] = []
    for a, row in zip(created, c_rows, strict=True):
        ok = root_row.get(a.rootId, row) < row and piece_row.get(a.parentId, row) < row
        if ok:
            piece_row[a.pieceId] = row
        took.append(ok)
    kept = np.flatnonzero(np.asarray(took, dtype=bool)) if created else _EMPTY
    kids = [created[k] for k in kept.tolist()]
    kid_row = c_row[kept]

    # Pieces, indexed in the order they were made: issues' first pieces and the children that took.
    made_row = np.concatenate([i_row, kid_row])
    by_row = np.argsort(made_row, kind="stable")
    place = np.empty(len(by_row), dtype=np.int64)
    place[by_row] = np.arange(len(by_row))
    n_roots = len(issued)
    piece_ids = root_ids + [a.pieceId for a in kids]
    piece_of = {piece_ids[k]: p for k, p in enumerate(place.tolist())}
    p_made = made_row[by_row]
    root_of_made = np.concatenate(
        [np.arange(n_roots, dtype=np.int64), np.fromiter((root_of[a.rootId] for a in kids), np.int64, len(kids))]
    )
    face = [min(a.faceValue, MAX_AMOUNT) for a in issued]
    amount_made = np.asarray(face + [min(a.amount, MAX_AMOUNT) for a in kids], dtype=np.int64)

    # Transfers of a piece known by then.
    t_row, transfers = of("Transfer")
    t_piece = np.fromiter((piece_of.get(a.tokenId, -1) for a in transfers), np.int64, len(transfers))
    known = t_piece >= 0
    known[known] = p_made[t_piece[known]] < t_row[known]
    moved = np.flatnonzero(known)
    t_piece, t_row = t_piece[moved], t_row[moved]
    moves = [transfers[k] for k in moved.tolist()]

    # Parties as small numbers for the comparisons (addresses back at the end).
    number: dict[str, int] = {}
    debtors = [number.setdefault(a.debtor, len(number)) for a in issued]
    creditors = [number.setdefault(a.creditor, len(number)) for a in issued]
    kid_holders = [number.setdefault(a.holder, len(number)) for a in kids]
    to = [number.setdefault(a.to, len(number)) for a in moves]
    addresses = list(number)

    # Every holder each piece had: its making, then its transfers, in chain order.
    span = int(max(made_row.max(initial=0), t_row.max(initial=0))) + 1
    e_piece = np.concatenate([place, t_piece])
    e_row = np.concatenate([made_row, t_row])
    e_holder = np.asarray(creditors + kid_holders + to, dtype=np.int64)
    e_key = e_piece * span + e_row
    sequence = np.argsort(e_key, kind="stable")
    s_key, s_holder = e_key[sequence], e_holder[sequence]
    giver = np.empty(len(e_key), dtype=np.int64)
    # A transfer's giver: the holder before it (its piece's making always comes first).
    after = np.empty(len(e_key), dtype=np.int64)
    after[sequence] = np.arange(len(e_key))
    n_made = len(made_row)
    giver[n_made:] = s_holder[after[n_made:] - 1]
    giver[:n_roots] = debtors
    # A child's giver: whoever held its parent just before the child's row.
    parent = np.fromiter((piece_of[a.parentId] for a in kids), np.int64, len(kids))
    giver[n_roots:n_made] = s_holder[np.searchsorted(s_key, parent * span + kid_row) - 1]
    last = np.flatnonzero(np.append(s_key[1:] // span != s_key[:-1] // span, True)) if len(s_key) else _EMPTY
    holder_now = s_holder[last]  # pieces in index order: each piece's entries are one run of s_key

    received = np.flatnonzero(e_holder != giver)
    received = received[np.argsort(e_row[received], kind="stable")]
    rc_row = e_row[received]

    # Splits, financings (a child may be made financed), repayments and defaults of what is known.
    def known_pieces(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows, structs = of(name)
        p = np.fromiter((piece_of.get(a.pieceId, -1) for a in structs), np.int64, len(structs))
        ok = p >= 0
        ok[ok] = p_made[p[ok]] < rows[ok]
        return p[ok], rows[ok]

    n_pieces = len(place)
    p_split = np.zeros(n_pieces, dtype=bool)
    p_split[known_pieces("PieceSplit")[0]] = True
    p_financed = np.zeros(n_pieces, dtype=bool)
    p_financed[known_pieces("PieceFinanced")[0]] = True
    p_financed[place[n_roots:][[bool(a.financed) for a in kids]]] = True

    def known_roots(name: str) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        rows, structs = of(name)
        r = np.fromiter((root_of.get(a.rootId, -1) for a in structs), np.int64, len(structs))
        ok = r >= 0
        ok[ok] = i_row[r[ok]] < rows[ok]
        keep = np.flatnonzero(ok)
        return r[keep], rows[keep], [structs[k] for k in keep.tolist()]

    r_repaid = np.zeros(n_roots, dtype=np.int64)
    r_repaid_at = np.full(n_roots, NONE, dtype=np.int64)
    r_defaulted = np.full(n_roots, NONE, dtype=np.int64)
    r, rows, repayments = known_roots("ReceivableRepaid")
    if len(r):
        last_repaid = len(r) - 1 - _first_index(r[::-1])
        r_repaid[r[last_repaid]] = [min(repayments[k].repaid, MAX_AMOUNT) for k in last_repaid.tolist()]
        settled = np.flatnonzero(np.asarray([a.outstanding == 0 for a in repayments], dtype=bool))
        first = settled[_first_index(r[settled])]
        r_repaid_at[r[first]] = times[rows[first]]
    r, rows, _ = known_roots("ReceivableDefaulted")
    first = _first_index(r)
    r_defaulted[r[first]] = times[rows[first]]

    # First appearances: an issue's debtor then creditor, a child's holder, a transfer's receiver.
    # Each party's smallest key (every number appears at least once: they were made from these lists).
    parties = np.asarray(debtors + creditors + kid_holders + to, dtype=np.int64)
    keys = np.concatenate([i_row * 4, i_row * 4 + 1, kid_row * 4, t_row * 4])
    first_keys = np.full(len(addresses), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_keys, parties, keys)

    return Receivables(
        root_of=root_of,
        r_debtor=np.asarray(debtors, dtype=np.int64),
        r_creditor=np.asarray(creditors, dtype=np.int64),
        r_face=face,
        r_maturity=[a.maturity for a in issued],
        r_issued=times[i_row],
        r_repaid=r_repaid,
        r_repaid_at=r_repaid_at,
        r_defaulted=r_defaulted,
        piece_of=piece_of,
        p_root=root_of_made[by_row],
        p_amount=amount_made[by_row],
        p_holder=holder_now,
        p_split=p_split,
        p_financed=p_financed,
        rc_party=e_holder[received],
        rc_from=giver[received],
        rc_piece=e_piece[received],
        rc_time=times[rc_row],
        addresses=addresses,
        first_keys=first_keys,
    )
