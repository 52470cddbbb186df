"""The bulk path of the feature builder: ``RawEvents`` (the scored events' JSON, read as columns by
``scoring.source``) decoded by event type into typed structs (msgspec, no dict per event), then the
same rules as ``scoring.collect.Collector``, one method each; the orders' events (most of them) become
the collector's arrays at once, and so do the receivables' (``scoring.bulk_receivables``) where each
root and piece id is made once (else they go one by one). Where a field is missing or of another type
the decoding fails (``Undecodable``) and the builder takes the per-event path. ``tests/scoring/test_bulk.py`` pins both
paths to the same tables.
"""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from scoring import bulk_receivables
from scoring.bulk_receivables import Receivables
from scoring.collect import DELIVERED, INSPECTION_FAILED, INSPECTION_PASSED, MAX_AMOUNT, NONE, SHIPPED, Collector
from scoring.history import SCORED_EVENTS, RawEvents


class _Party(msgspec.Struct, gc=False):
    party: str


class _Roles(msgspec.Struct, gc=False):
    party: str
    roles: int


class _Order(msgspec.Struct, gc=False):
    orderId: int


class _OrderCreated(msgspec.Struct, gc=False):
    orderId: int
    buyer: str
    supplier: str
    amount: int
    shipBy: int
    deliverBy: int


class _Milestone(msgspec.Struct, gc=False):
    orderId: int
    milestone: int
    occurredAt: int


class _Contested(msgspec.Struct, gc=False):
    orderId: int
    milestone: int


class _Guarantee(msgspec.Struct, gc=False):
    supplier: str


class _Issued(msgspec.Struct, gc=False):
    rootId: int
    debtor: str
    creditor: str
    faceValue: int
    maturity: int


class _Piece(msgspec.Struct, gc=False):
    pieceId: int


class _PieceCreated(msgspec.Struct, gc=False):
    pieceId: int
    parentId: int
    rootId: int
    holder: str
    amount: int
    financed: Any = None


class _Transfer(msgspec.Struct, gc=False):
    tokenId: int
    to: str


class _Root(msgspec.Struct, gc=False):
    rootId: int


class _Repaid(msgspec.Struct, gc=False):
    rootId: int
    repaid: int
    outstanding: int


_STRUCTS: dict[tuple[str, str], type[msgspec.Struct]] = {
    ("Membership", "MemberAdmitted"): _Roles,
    ("Membership", "MemberRolesChanged"): _Roles,
    ("Membership", "MemberSuspended"): _Party,
    ("Membership", "MemberReinstated"): _Party,
    ("TradeEscrow", "OrderCreated"): _OrderCreated,
    ("TradeEscrow", "OrderCancelled"): _Order,
    ("TradeEscrow", "MilestoneAttested"): _Milestone,
    ("TradeEscrow", "MilestoneContested"): _Contested,
    ("TradeEscrow", "OrderRefunded"): _Order,
    ("TradeEscrow", "DisputeOpened"): _Order,
    ("TradeEscrow", "GuaranteeClaimed"): _Guarantee,
    ("Receivables", "ReceivableIssued"): _Issued,
    ("Receivables", "PieceSplit"): _Piece,
    ("Receivables", "PieceCreated"): _PieceCreated,
    ("Receivables", "Transfer"): _Transfer,
    ("Receivables", "PieceFinanced"): _Piece,
    ("Receivables", "ReceivableRepaid"): _Repaid,
    ("Receivables", "ReceivableDefaulted"): _Root,
}


#: (The structs are not tracked by the garbage collector, ``gc=False``: a million of them would make
#: each full collection walk them, and decoded JSON holds no reference cycle.)
#: One decoder per event type, by code (``SCORED_EVENTS``): the source hands over each type's arguments
#: as a JSON array of its own (``RawEvents.args``), so no event needs a tag to pick its struct, and a
#: field missing or of another type fails the decoding.
#: Not strict: uint256 fields arrive as decimal strings (msgspec reads them as Python ints, of any size).
_DECODERS = [msgspec.json.Decoder(list[_STRUCTS[key]], strict=False) for key in SCORED_EVENTS]  # type: ignore[valid-type]


class Undecodable(Exception):
    """An event's JSON does not fit its struct (a field missing or of another type): the bulk path
    cannot promise the per-event path's result, so the builder takes that path."""


_ORDER_ID, _MILESTONE, _OCCURRED_AT = attrgetter("orderId"), attrgetter("milestone"), attrgetter("occurredAt")
#: Order ids up to this many times the number of orders (plus a margin) are found through a table
#: indexed by id (at most 8 bytes per id, tens of MB); sparser ids by a binary search, which costs
#: about as much as the dict it stands for.
_DENSE_IDS = 8
_DENSE_MARGIN = 1 << 20


def _ints(events: list[Any], field: Any) -> np.ndarray | None:
    """``field`` of every event as int64, or None where one does not fit (a uint256 beyond it)."""
    try:
        return np.fromiter(map(field, events), dtype=np.int64, count=len(events))
    except OverflowError:
        return None


def _field(events: list[Any], field: Any, keep: np.ndarray) -> np.ndarray:
    """``field`` of the events at ``keep`` as int64: read off every event at once, else (a value
    beyond int64 somewhere) off the kept ones alone, which fails as it always did if one of them is."""
    values = _ints(events, field)
    if values is not None:
        return values[keep]
    kept = [events[k] for k in keep.tolist()]
    return np.fromiter(map(field, kept), dtype=np.int64, count=len(kept))


class _OrderFinder:
    """Each event's order (its place among the ``OrderCreated`` events, -1 for none), by order id:
    ``order_of`` (every id made once) as an array lookup where the ids fit int64, else the dict."""

    def __init__(self, created: list[Any], order_of: dict[int, int]) -> None:
        self.order_of = order_of
        self.table: np.ndarray | None = None
        self.sorted_ids: np.ndarray | None = None
        ids = _ints(created, _ORDER_ID)
        if ids is None or not len(ids) or int(ids.min()) < 0:
            return
        top = int(ids.max())
        if top < _DENSE_IDS * len(ids) + _DENSE_MARGIN:
            self.table = np.full(top + 1, -1, dtype=np.int64)
            self.table[ids] = np.arange(len(ids), dtype=np.int64)
        else:
            self.by_id = np.argsort(ids, kind="stable")
            self.sorted_ids = ids[self.by_id]

    def __call__(self, events: list[Any]) -> np.ndarray:
        ids = None if self.table is None and self.sorted_ids is None else _ints(events, _ORDER_ID)
        if ids is None:
            return np.fromiter(map(self.order_of.get, map(_ORDER_ID, events), repeat(-1)), np.int64, len(events))
        if self.table is not None:
            inside = (ids >= 0) & (ids < len(self.table))
            found = np.full(len(ids), -1, dtype=np.int64)
            found[inside] = self.table[ids[inside]]
            return found
        assert self.sorted_ids is not None
        at = np.minimum(np.searchsorted(self.sorted_ids, ids), len(self.sorted_ids) - 1)
        return np.where(self.sorted_ids[at] == ids, self.by_id[at], -1)


_CODE_OF = {key: code for code, key in enumerate(SCORED_EVENTS)}
_ORDER_CODES = {
    _CODE_OF[("TradeEscrow", name)]
    for name in (
        "OrderCreated",
        "OrderCancelled",
        "MilestoneAttested",
        "MilestoneContested",
        "OrderRefunded",
        "DisputeOpened",
    )
}


_RECEIVABLE_CODES = {code for code, (contract, _) in enumerate(SCORED_EVENTS) if contract == "Receivables"}


def _last_index(order: np.ndarray) -> np.ndarray:
    """Positions in ``order`` (chain order) of each order's last entry, by order (no sort: one pass)."""
    last = np.full(int(order.max(initial=-1)) + 1, -1, dtype=np.int64)
    np.maximum.at(last, order, np.arange(len(order), dtype=np.int64))
    return last[last >= 0]


def _first_index(order: np.ndarray) -> np.ndarray:
    """Positions in ``order`` (chain order) of each order's first entry, by order (no sort: one pass)."""
    first = np.full(int(order.max(initial=-1)) + 1, len(order), dtype=np.int64)
    np.minimum.at(first, order, np.arange(len(order), dtype=np.int64))
    return first[first < len(order)]


def _last_by_order(
    a_order: np.ndarray,
    a_row: np.ndarray,
    a_value: np.ndarray,
    c_order: np.ndarray,
    c_row: np.ndarray,
    kinds: tuple[np.ndarray, np.ndarray],
    contested_value: int = NONE,
) -> tuple[np.ndarray, np.ndarray]:
    """(orders, values): for each order, the value its last attestation of ``kinds`` set, or
    ``contested_value`` where a contest of those kinds came after it."""
    a_pick, c_pick = kinds
    order = np.concatenate([a_order[a_pick], c_order[c_pick]])
    row = np.concatenate([a_row[a_pick], c_row[c_pick]])
    value = np.concatenate([a_value[a_pick], np.full(int(c_pick.sum()), contested_value, dtype=np.int64)])
    by_row = np.argsort(row, kind="stable")
    order, value = order[by_row], value[by_row]
    last = _last_index(order)
    return order[last], value[last]


def _indices(index: dict[str, int], addresses: list[str]) -> np.ndarray:
    """Each address's party index, as an array to look numbers up in (``addresses[k]`` is number k)."""
    return np.asarray([index[a] for a in addresses], dtype=np.int64)


def _column(values: np.ndarray) -> list[int]:
    """An order column computed as an array where ``Collector`` keeps a list: ``_features`` reads
    both through ``np.asarray``, so the array goes in as it is rather than copied into a list."""
    return values  # type: ignore[return-value]


class BulkCollector(Collector):
    """``Collector``'s rules over decoded structs. Each method is its namesake's above, field by field."""

    def __init__(self) -> None:
        super().__init__()
        # Where each party first appeared: (row in chain order) * 4 + (its place among the event's parties).
        self._first: list[int] = []
        self._row = 0
        self._slot = 0

    def party(self, address: str) -> int:
        i = self.index.get(address)
        if i is None:
            i = super().party(address)
            self._first.append(self._row * 4 + self._slot)
        self._slot += 1
        return i

    def collect(self, raw: RawEvents) -> None:
        codes = raw.codes
        rows: dict[int, np.ndarray] = {}
        structs: dict[int, list[Any]] = {}
        counts = np.bincount(codes, minlength=len(SCORED_EVENTS)).tolist()
        if len(raw.args) != len(SCORED_EVENTS) or len(counts) != len(SCORED_EVENTS):
            raise Undecodable(f"arguments of {len(raw.args)} event types, codes up to {len(counts) - 1}")
        by_code = np.argsort(codes.astype(np.uint8), kind="stable")  # a radix sort: 18 codes fit a byte
        start = 0
        for code, (count, arrays) in enumerate(zip(counts, raw.args, strict=True)):
            decoded: list[Any] = []
            for array in arrays:
                try:
                    decoded += _DECODERS[code].decode(array)
                except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                    raise Undecodable(str(exc)) from exc
            if len(decoded) != count:
                raise Undecodable(f"{len(decoded)} arguments for {count} events of {SCORED_EVENTS[code]}")
            if count:
                rows[code], structs[code] = by_code[start : start + count], decoded
            start += count
        created = structs.get(_CODE_OF[("TradeEscrow", "OrderCreated")], [])
        order_of = {a.orderId: k for k, a in enumerate(created)}
        receivables = None
        if len(order_of) == len(created):
            # Each order id made once (as the contract makes them): the orders' events as arrays, and
            # the receivables' too where each root and piece id is made once.
            receivables = bulk_receivables.collect(
                raw.times,
                {SCORED_EVENTS[code][1]: (rows[code], structs[code]) for code in rows if code in _RECEIVABLE_CODES},
            )
            at_once = _ORDER_CODES | (_RECEIVABLE_CODES if receivables is not None else set())
            self._loop(raw, rows, structs, [code for code in rows if code not in at_once])
            self._merge_parties(*self._orders(raw, rows, structs, order_of), receivables)
        else:
            self._loop(raw, rows, structs, list(rows))

    def _loop(
        self, raw: RawEvents, rows: dict[int, np.ndarray], structs: dict[int, list[Any]], codes: list[int]
    ) -> None:
        """The events of ``codes`` one by one, in chain order, through the methods below."""
        if not codes:
            return
        where = np.concatenate([rows[code] for code in codes])
        order = np.argsort(where, kind="stable")
        decoded = [a for code in codes for a in structs[code]]
        handlers = [self.bulk_handlers[key] for key in SCORED_EVENTS]
        chain = where[order]
        for row, code, t, a in zip(
            chain.tolist(),
            raw.codes[chain].tolist(),
            raw.times[chain].tolist(),
            [decoded[k] for k in order.tolist()],
            strict=True,
        ):
            self._row, self._slot = row, 0
            handlers[code](t, a)

    def _orders(
        self, raw: RawEvents, rows: dict[int, np.ndarray], structs: dict[int, list[Any]], order_of: dict[int, int]
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """The orders' events at once: each order's state is what its last event of each kind says
        (the first, for disputes), counting only events that come after the order was created."""
        empty = np.zeros(0, dtype=np.int64)

        def code_rows(name: str) -> np.ndarray:
            return rows.get(_CODE_OF[("TradeEscrow", name)], empty)

        def code_structs(name: str) -> list[Any]:
            return structs.get(_CODE_OF[("TradeEscrow", name)], [])

        created = code_structs("OrderCreated")
        created_row = code_rows("OrderCreated")
        n = len(created)
        times = raw.times

        find = _OrderFinder(created, order_of)

        def target(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """(order, row) of each event of ``name`` about an order created before it, and which
            events those are (positions in the type's list)."""
            events = code_structs(name)
            where = code_rows(name)
            o = find(events)
            known = o >= 0
            known[known] = created_row[o[known]] < where[known]
            keep = np.flatnonzero(known)
            return o[keep], where[keep], keep

        self.order_of = order_of
        # As arrays where every value fits int64 (``_features`` reads them as such), else as lists.
        amount = _ints(created, attrgetter("amount"))
        self.o_amount = (
            [min(a.amount, MAX_AMOUNT) for a in created] if amount is None else _column(np.minimum(amount, MAX_AMOUNT))
        )
        ship_by, deliver_by = _ints(created, attrgetter("shipBy")), _ints(created, attrgetter("deliverBy"))
        self.o_ship_by = [a.shipBy for a in created] if ship_by is None else _column(ship_by)
        self.o_deliver_by = [a.deliverBy for a in created] if deliver_by is None else _column(deliver_by)
        self.o_created = _column(times[created_row])
        buyers = [a.buyer for a in created]
        suppliers = [a.supplier for a in created]

        shipped = np.full(n, NONE, dtype=np.int64)
        delivered = np.full(n, NONE, dtype=np.int64)
        delivered_rec = np.full(n, NONE, dtype=np.int64)
        inspection = np.zeros(n, dtype=np.int64)
        inspected_rec = np.full(n, NONE, dtype=np.int64)
        a_order, a_row, attested = target("MilestoneAttested")
        a_kind = _field(code_structs("MilestoneAttested"), _MILESTONE, attested)
        a_at = _field(code_structs("MilestoneAttested"), _OCCURRED_AT, attested)
        c_order, c_row, contested = target("MilestoneContested")
        c_kind = _field(code_structs("MilestoneContested"), _MILESTONE, contested)
        self.o_contested = _column(np.bincount(c_order, minlength=n).astype(np.int64))
        shipping = (a_kind == SHIPPED, c_kind == SHIPPED)
        o, v = _last_by_order(a_order, a_row, a_at, c_order, c_row, shipping)
        shipped[o] = v
        delivery = (a_kind == DELIVERED, c_kind == DELIVERED)
        o, v = _last_by_order(a_order, a_row, a_at, c_order, c_row, delivery)
        delivered[o] = v
        o, v = _last_by_order(a_order, a_row, times[a_row], c_order, c_row, delivery)
        delivered_rec[o] = v
        inspecting = (
            np.isin(a_kind, (INSPECTION_PASSED, INSPECTION_FAILED)),
            np.isin(c_kind, (INSPECTION_PASSED, INSPECTION_FAILED)),
        )
        o, v = _last_by_order(a_order, a_row, a_kind, c_order, c_row, inspecting, contested_value=0)
        inspection[o] = v
        o, v = _last_by_order(a_order, a_row, times[a_row], c_order[:0], c_row[:0], (inspecting[0], inspecting[1][:0]))
        inspected_rec[o] = v
        self.o_shipped, self.o_delivered = _column(shipped), _column(delivered)
        self.o_delivered_recorded = _column(delivered_rec)
        self.o_inspection, self.o_inspected_recorded = _column(inspection), _column(inspected_rec)

        cancelled_at = np.full(n, NONE, dtype=np.int64)
        o, where, _ = target("OrderCancelled")
        cancelled = np.zeros(n, dtype=bool)
        cancelled[o] = True
        last = _last_index(o)
        cancelled_at[o[last]] = times[where[last]]
        self.o_cancelled = cancelled.tolist()
        self.o_cancelled_at = _column(cancelled_at)
        refunded = np.full(n, NONE, dtype=np.int64)
        o, where, _ = target("OrderRefunded")
        last = _last_index(o)
        refunded[o[last]] = times[where[last]]
        self.o_refunded = _column(refunded)
        disputed = np.full(n, NONE, dtype=np.int64)
        o, where, _ = target("DisputeOpened")
        first = _first_index(o)
        disputed[o[first]] = times[where[first]]
        self.o_disputed = _column(disputed)
        return created_row, buyers, suppliers

    def _merge_parties(
        self, created_row: np.ndarray, buyers: list[str], suppliers: list[str], receivables: Receivables | None
    ) -> None:
        """Index the parties as the per-event path does, by first appearance: those met one by one
        (``_first``), the orders' buyers and suppliers (each order: buyer, then supplier) and, when
        they came at once, the receivables' parties (``Receivables.first_keys``). The orders' parties
        are numbered once (a dict lookup per name), and each column of parties becomes indices by one
        array lookup from those numbers."""
        first = dict(zip(self.parties, self._first, strict=True))
        number: dict[str, int] = {}
        put = number.setdefault
        buyer = np.asarray([put(a, len(number)) for a in buyers], dtype=np.int64)
        supplier = np.asarray([put(a, len(number)) for a in suppliers], dtype=np.int64)
        order_first = np.full(len(number), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(order_first, buyer, created_row * 4)
        np.minimum.at(order_first, supplier, created_row * 4 + 1)
        met = [zip(number, order_first.tolist(), strict=True)]
        if receivables is not None:
            met.append(zip(receivables.addresses, receivables.first_keys.tolist(), strict=True))
        for pairs in met:
            for a, key in pairs:
                if key < first.get(a, key + 1):
                    first[a] = key
        parties = sorted(first, key=first.__getitem__)
        index = {a: i for i, a in enumerate(parties)}
        n, old = len(parties), self.parties
        move = np.asarray([index[a] for a in old], dtype=np.int64)

        def moved(values: list[Any], fill: Any, dtype: Any) -> np.ndarray:
            out = np.full(n, fill, dtype=dtype)
            out[move] = np.asarray(values, dtype=dtype)
            return out

        self.roles = moved(self.roles, 0, np.int64).tolist()
        self.admitted = moved(self.admitted, NONE, np.int64).tolist()
        self.member = moved(self.member, False, bool).tolist()
        self.suspended = moved(self.suspended, False, bool).tolist()
        for name in ("r_debtor", "r_creditor", "p_holder", "rc_party", "rc_from", "g_supplier"):
            setattr(self, name, move[np.asarray(getattr(self, name), dtype=np.int64)].tolist())
        self.parties, self.index = parties, index
        in_orders = _indices(index, list(number))
        self.o_buyer = _column(in_orders[buyer])
        self.o_supplier = _column(in_orders[supplier])
        if receivables is not None:
            self._receivables(receivables)

    def _receivables(self, r: Receivables) -> None:
        """The receivables' lists made at once, their parties by the index made above."""
        at = _indices(self.index, r.addresses)
        self.root_of, self.piece_of = r.root_of, r.piece_of
        self.r_debtor = at[r.r_debtor].tolist()
        self.r_creditor = at[r.r_creditor].tolist()
        self.r_face, self.r_maturity = r.r_face, r.r_maturity
        self.r_issued, self.r_repaid = _column(r.r_issued), _column(r.r_repaid)
        self.r_repaid_at, self.r_defaulted = _column(r.r_repaid_at), _column(r.r_defaulted)
        self.p_root, self.p_amount = _column(r.p_root), _column(r.p_amount)
        self.p_holder = at[r.p_holder].tolist()
        self.p_split, self.p_financed = r.p_split.tolist(), r.p_financed.tolist()
        self.rc_party = at[r.rc_party].tolist()
        self.rc_from = at[r.rc_from].tolist()
        self.rc_piece, self.rc_time = _column(r.rc_piece), _column(r.rc_time)

    @property
    def bulk_handlers(self) -> dict[tuple[str, str], Any]:
        return {
            ("Membership", "MemberAdmitted"): self.b_admitted,
            ("Membership", "MemberRolesChanged"): self.b_roles_changed,
            ("Membership", "MemberSuspended"): self.b_suspended,
            ("Membership", "MemberReinstated"): self.b_reinstated,
            ("TradeEscrow", "OrderCreated"): self.b_order_created,
            ("TradeEscrow", "OrderCancelled"): self.b_order_cancelled,
            ("TradeEscrow", "MilestoneAttested"): self.b_milestone,
            ("TradeEscrow", "MilestoneContested"): self.b_contested,
            ("TradeEscrow", "OrderRefunded"): self.b_refunded,
            ("TradeEscrow", "DisputeOpened"): self.b_disputed,
            ("TradeEscrow", "GuaranteeClaimed"): self.b_guarantee_claimed,
            ("Receivables", "ReceivableIssued"): self.b_issued,
            ("Receivables", "PieceSplit"): self.b_split,
            ("Receivables", "PieceCreated"): self.b_piece_created,
            ("Receivables", "Transfer"): self.b_piece_transfer,
            ("Receivables", "PieceFinanced"): self.b_financed,
            ("Receivables", "ReceivableRepaid"): self.b_repaid,
            ("Receivables", "ReceivableDefaulted"): self.b_defaulted,
        }

    def b_admitted(self, t: int, a: _Roles) -> None:
        i = self.party(a.party)
        self.roles[i] = a.roles
        self.member[i] = True
        if self.admitted[i] == NONE:
            self.admitted[i] = t

    def b_roles_changed(self, t: int, a: _Roles) -> None:
        self.roles[self.party(a.party)] = a.roles

    def b_suspended(self, t: int, a: _Party) -> None:
        self.suspended[self.party(a.party)] = True

    def b_reinstated(self, t: int, a: _Party) -> None:
        self.suspended[self.party(a.party)] = False

    def b_order_created(self, t: int, a: _OrderCreated) -> None:
        self.add_order(t, a.orderId, a.buyer, a.supplier, min(a.amount, MAX_AMOUNT), a.shipBy, a.deliverBy)

    def b_order_cancelled(self, t: int, a: _Order) -> None:
        o = self.order_of.get(a.orderId)
        if o is not None:
            self.o_cancelled[o] = True
            self.o_cancelled_at[o] = t

    def b_milestone(self, t: int, a: _Milestone) -> None:
        o = self.order_of.get(a.orderId)
        if o is None:
            return
        m = a.milestone
        if m == SHIPPED:
            self.o_shipped[o] = a.occurredAt
        elif m == DELIVERED:
            self.o_delivered[o] = a.occurredAt
            self.o_delivered_recorded[o] = t
        elif m in (INSPECTION_PASSED, INSPECTION_FAILED):
            self.o_inspection[o] = m
            self.o_inspected_recorded[o] = t

    def b_contested(self, t: int, a: _Contested) -> None:
        o = self.order_of.get(a.orderId)
        if o is None:
            return
        self.o_contested[o] += 1
        m = a.milestone
        if m == SHIPPED:
            self.o_shipped[o] = NONE
        elif m == DELIVERED:
            self.o_delivered[o] = self.o_delivered_recorded[o] = NONE
        elif m in (INSPECTION_PASSED, INSPECTION_FAILED):
            self.o_inspection[o] = 0

    def b_refunded(self, t: int, a: _Order) -> None:
        o = self.order_of.get(a.orderId)
        if o is not None:
            self.o_refunded[o] = t

    def b_disputed(self, t: int, a: _Order) -> None:
        o = self.order_of.get(a.orderId)
        if o is not None and self.o_disputed[o] == NONE:
            self.o_disputed[o] = t

    def b_guarantee_claimed(self, t: int, a: _Guarantee) -> None:
        self.g_supplier.append(self.party(a.supplier))
        self.g_time.append(t)

    def b_issued(self, t: int, a: _Issued) -> None:
        root_id = a.rootId
        r = self.root_of[root_id] = len(self.r_debtor)
        debtor, creditor = self.party(a.debtor), self.party(a.creditor)
        face = min(a.faceValue, MAX_AMOUNT)
        self.r_debtor.append(debtor)
        self.r_creditor.append(creditor)
        self.r_face.append(face)
        self.r_maturity.append(a.maturity)
        self.r_issued.append(t)
        self.r_repaid.append(0)
        self.r_repaid_at.append(NONE)
        self.r_defaulted.append(NONE)
        self._new_piece(root_id, r, face, creditor, debtor, t)

    def b_split(self, t: int, a: _Piece) -> None:
        p = self.piece_of.get(a.pieceId)
        if p is not None:
            self.p_split[p] = True

    def b_piece_created(self, t: int, a: _PieceCreated) -> None:
        root = self.root_of.get(a.rootId)
        parent = self.piece_of.get(a.parentId)
        if root is None or parent is None:
            return
        self._new_piece(a.pieceId, root, min(a.amount, MAX_AMOUNT), self.party(a.holder), self.p_holder[parent], t)
        if a.financed:
            self.p_financed[self.piece_of[a.pieceId]] = True

    def b_piece_transfer(self, t: int, a: _Transfer) -> None:
        p = self.piece_of.get(a.tokenId)
        if p is None:
            return  # the mint, before ReceivableIssued / PieceCreated names the piece
        giver, holder = self.p_holder[p], self.party(a.to)
        if holder != giver:
            self.p_holder[p] = holder
            self._received(holder, giver, p, t)

    def b_financed(self, t: int, a: _Piece) -> None:
        p = self.piece_of.get(a.pieceId)
        if p is not None:
            self.p_financed[p] = True

    def b_repaid(self, t: int, a: _Repaid) -> None:
        r = self.root_of.get(a.rootId)
        if r is None:
            return
        self.r_repaid[r] = min(a.repaid, MAX_AMOUNT)
        if a.outstanding == 0 and self.r_repaid_at[r] == NONE:
            self.r_repaid_at[r] = t

    def b_defaulted(self, t: int, a: _Root) -> None:
        r = self.root_of.get(a.rootId)
        if r is not None and self.r_defaulted[r] == NONE:
            self.r_defaulted[r] = t
