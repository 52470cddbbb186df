"""Per-party features from a verified history, for every party at once (numpy arrays indexed by party).

One pass over the events (``History.events``, chain order) collects orders, milestones, refunds,
disputes, receivable trees, repayments, financings and memberships into flat arrays; every feature
is then a vectorised expression over those arrays (``np.bincount`` by party), never a loop per
party.

When the source read the history in bulk (``History.raw``: the scored events' JSON as one text,
``scoring.source``), msgspec decodes it into a typed struct per event type in one call, the
orders' events (most of them) become the same arrays at once (each order's last attestation or
contest of each kind, its first dispute, ...), and only membership, guarantee and receivable events
go one by one; parties keep the index of their first appearance. Where that cannot promise the
per-event result (a field missing or of another type, an order id made twice), the per-event pass
runs instead; ``tests/scoring/test_bulk.py`` pins the two to the same tables bit for bit.

Everything is point in time: the history holds nothing after the as-of point and the windows end
at it.

Values are exact integers carried in float64 arrays (amounts are capped at 2**53 - 1 token units
so that sums stay exact), NaN where the party has nothing to measure (no order due, no debt due,
no inspection): the scorecard gives "no data" its own bin. Rates are basis points, amounts token
units, times UTC seconds, durations whole days.

Windows are trailing 3, 6 and 12 months of 91, 182 and 365 days, and a recent window of 61 days
that shows a supplier going downhill: its trouble rate there, the troubles beyond what its own
earlier record predicts (``trouble_excess_2m``), and its order intake against its usual rate.

The order book's size and trend (``scoring.business``): ``supply_tier``, the links of a party's
longest chain of verified sales down to a core (``scoring.graph.supply_tier``; in the direct view,
1 for a core's direct suppliers); ``sales_vs_tier_12m``, its verified sales over 12 months as
basis points of the median at its tier; ``order_growth``, the monthly trend of the orders it
received over 12 months (or since admission), shrunk towards flat where they are few.

``scf-features/3`` (from ``/2``): the trouble rates are shrunk towards 30 % as if with 10 more
orders (was 20 %, 4 orders), near a beta-binomial fit of the suppliers' rates (about 6 orders at
34 %) and among the best priors in a leave-one-world-out cross-validation on the shipped model's
training worlds (the stronger ones differ by less than the noise); ``supply_tier``,
``sales_vs_tier_12m`` and ``order_growth`` are new.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from eth_utils import to_checksum_address

from scoring.business import order_growth, versus_peers
from scoring.graph import CircularTrading, TradeGraph, core_distance, find_cycles, propagate_trust, supply_tier
from scoring.history import SCORED_EVENTS, History, RawEvents

#: Bumped whenever a feature's definition changes: part of every model's version hash.
FEATURES_VERSION = "scf-features/3"

DAY = 86_400
WINDOWS = {3: 91 * DAY, 6: 182 * DAY, 12: 365 * DAY}
#: The recent window that shows a supplier going downhill (deterioration), against its 12 months.
RECENT = 61 * DAY
#: Shrinkage of a trouble rate towards a typical supplier's: as if it had this many more orders
#: at this rate. A supplier with two orders, one late, is not worse than one with 3 of 10 late.
TROUBLE_PRIOR_ORDERS = 10
TROUBLE_PRIOR_BPS = 3_000
MONTH = 30 * DAY
MAX_AMOUNT = 2**53 - 1  # float64 holds every integer up to here exactly
ROLE_CORE = 1 << 1
ROLE_SUPPLIER = 1 << 2
ROLE_BANK = 1 << 3
#: Refused calls that are attempts to get paid twice for one claim.
DOUBLE_FINANCING_ERRORS = ("ReceivablesAlreadyFinanced", "ReceivablesInvoiceAlreadyIssued")
#: PAYDEX-like map of days beyond terms (negative: early) to 1..100, as D&B describes it.
PAYDEX_DAYS = (-20.0, -10.0, 0.0, 15.0, 22.0, 30.0, 60.0, 90.0, 120.0, 180.0)
PAYDEX_SCORE = (100.0, 90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 1.0)

NONE = -1
SHIPPED, DELIVERED, INSPECTION_PASSED, INSPECTION_FAILED = 1, 2, 3, 4


def _int(value: Any) -> int:
    return int(value)


def _amount(value: Any) -> int:
    return min(int(value), MAX_AMOUNT)


class _Collector:
    """The one pass over the events: flat lists of what each event says, by party index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.parties: list[str] = []
        self.roles: list[int] = []
        self.admitted: list[int] = []
        self.member: list[bool] = []
        self.suspended: list[bool] = []
        # orders
        self.order_of: dict[int, int] = {}
        self.o_buyer: list[int] = []
        self.o_supplier: list[int] = []
        self.o_amount: list[int] = []
        self.o_ship_by: list[int] = []
        self.o_deliver_by: list[int] = []
        self.o_created: list[int] = []
        self.o_shipped: list[int] = []
        self.o_delivered: list[int] = []
        self.o_delivered_recorded: list[int] = []
        self.o_inspection: list[int] = []  # 0 none, 3 passed, 4 failed
        self.o_inspected_recorded: list[int] = []
        self.o_refunded: list[int] = []
        self.o_disputed: list[int] = []
        self.o_cancelled: list[bool] = []
        self.o_cancelled_at: list[int] = []
        self.o_contested: list[int] = []
        # receivables
        self.root_of: dict[int, int] = {}
        self.r_debtor: list[int] = []
        self.r_creditor: list[int] = []
        self.r_face: list[int] = []
        self.r_maturity: list[int] = []
        self.r_issued: list[int] = []
        self.r_repaid: list[int] = []
        self.r_repaid_at: list[int] = []
        self.r_defaulted: list[int] = []
        self.piece_of: dict[int, int] = {}
        self.p_root: list[int] = []
        self.p_amount: list[int] = []
        self.p_holder: list[int] = []
        self.p_split: list[bool] = []
        self.p_financed: list[bool] = []
        # who received a piece (issue, split, transfer), from whom, when
        self.rc_party: list[int] = []
        self.rc_from: list[int] = []
        self.rc_piece: list[int] = []
        self.rc_time: list[int] = []
        # guarantees paid out because a pre-paid supplier failed
        self.g_supplier: list[int] = []
        self.g_time: list[int] = []
        self.handlers = {
            ("Membership", "MemberAdmitted"): self.admitted_event,
            ("Membership", "MemberRolesChanged"): self.roles_changed,
            ("Membership", "MemberSuspended"): self.suspended_event,
            ("Membership", "MemberReinstated"): self.reinstated,
            ("TradeEscrow", "OrderCreated"): self.order_created,
            ("TradeEscrow", "OrderCancelled"): self.order_cancelled,
            ("TradeEscrow", "MilestoneAttested"): self.milestone,
            ("TradeEscrow", "MilestoneContested"): self.contested,
            ("TradeEscrow", "OrderRefunded"): self.refunded,
            ("TradeEscrow", "DisputeOpened"): self.disputed,
            ("TradeEscrow", "GuaranteeClaimed"): self.guarantee_claimed,
            ("Receivables", "ReceivableIssued"): self.issued,
            ("Receivables", "PieceSplit"): self.split,
            ("Receivables", "PieceCreated"): self.piece_created,
            ("Receivables", "Transfer"): self.piece_transfer,
            ("Receivables", "PieceFinanced"): self.financed,
            ("Receivables", "ReceivableRepaid"): self.repaid,
            ("Receivables", "ReceivableDefaulted"): self.defaulted,
        }

    def party(self, address: str) -> int:
        i = self.index.get(address)
        if i is None:
            i = self.index[address] = len(self.parties)
            self.parties.append(address)
            self.roles.append(0)
            self.admitted.append(NONE)
            self.member.append(False)
            self.suspended.append(False)
        return i

    # -- Membership
    def admitted_event(self, t: int, a: Mapping[str, Any]) -> None:
        i = self.party(a["party"])
        self.roles[i] = _int(a["roles"])
        self.member[i] = True
        if self.admitted[i] == NONE:
            self.admitted[i] = t

    def roles_changed(self, t: int, a: Mapping[str, Any]) -> None:
        self.roles[self.party(a["party"])] = _int(a["roles"])

    def suspended_event(self, t: int, a: Mapping[str, Any]) -> None:
        self.suspended[self.party(a["party"])] = True

    def reinstated(self, t: int, a: Mapping[str, Any]) -> None:
        self.suspended[self.party(a["party"])] = False

    # -- TradeEscrow
    def order_created(self, t: int, a: Mapping[str, Any]) -> None:
        self.order_of[_int(a["orderId"])] = len(self.o_buyer)
        self.o_buyer.append(self.party(a["buyer"]))
        self.o_supplier.append(self.party(a["supplier"]))
        self.o_amount.append(_amount(a["amount"]))
        self.o_ship_by.append(_int(a["shipBy"]))
        self.o_deliver_by.append(_int(a["deliverBy"]))
        self.o_created.append(t)
        self.o_shipped.append(NONE)
        self.o_delivered.append(NONE)
        self.o_delivered_recorded.append(NONE)
        self.o_inspection.append(0)
        self.o_inspected_recorded.append(NONE)
        self.o_refunded.append(NONE)
        self.o_disputed.append(NONE)
        self.o_cancelled.append(False)
        self.o_cancelled_at.append(NONE)
        self.o_contested.append(0)

    def order_cancelled(self, t: int, a: Mapping[str, Any]) -> None:
        o = self.order_of.get(_int(a["orderId"]))
        if o is not None:
            self.o_cancelled[o] = True
            self.o_cancelled_at[o] = t

    def milestone(self, t: int, a: Mapping[str, Any]) -> None:
        o = self.order_of.get(_int(a["orderId"]))
        if o is None:
            return
        m = _int(a["milestone"])
        if m == SHIPPED:
            self.o_shipped[o] = _int(a["occurredAt"])
        elif m == DELIVERED:
            self.o_delivered[o] = _int(a["occurredAt"])
            self.o_delivered_recorded[o] = t
        elif m in (INSPECTION_PASSED, INSPECTION_FAILED):
            self.o_inspection[o] = m
            self.o_inspected_recorded[o] = t

    def contested(self, t: int, a: Mapping[str, Any]) -> None:
        """A quorum declared the milestone's logistics event erroneous: it no longer counts."""
        o = self.order_of.get(_int(a["orderId"]))
        if o is None:
            return
        self.o_contested[o] += 1
        m = _int(a["milestone"])
        if m == SHIPPED:
            self.o_shipped[o] = NONE
        elif m == DELIVERED:
            self.o_delivered[o] = self.o_delivered_recorded[o] = NONE
        elif m in (INSPECTION_PASSED, INSPECTION_FAILED):
            self.o_inspection[o] = 0

    def refunded(self, t: int, a: Mapping[str, Any]) -> None:
        o = self.order_of.get(_int(a["orderId"]))
        if o is not None:
            self.o_refunded[o] = t

    def disputed(self, t: int, a: Mapping[str, Any]) -> None:
        o = self.order_of.get(_int(a["orderId"]))
        if o is not None and self.o_disputed[o] == NONE:
            self.o_disputed[o] = t

    def guarantee_claimed(self, t: int, a: Mapping[str, Any]) -> None:
        self.g_supplier.append(self.party(a["supplier"]))
        self.g_time.append(t)

    # -- Receivables
    def issued(self, t: int, a: Mapping[str, Any]) -> None:
        root_id = _int(a["rootId"])
        r = self.root_of[root_id] = len(self.r_debtor)
        debtor, creditor = self.party(a["debtor"]), self.party(a["creditor"])
        face = _amount(a["faceValue"])
        self.r_debtor.append(debtor)
        self.r_creditor.append(creditor)
        self.r_face.append(face)
        self.r_maturity.append(_int(a["maturity"]))
        self.r_issued.append(t)
        self.r_repaid.append(0)
        self.r_repaid_at.append(NONE)
        self.r_defaulted.append(NONE)
        self._new_piece(root_id, r, face, creditor, debtor, t)

    def _new_piece(self, piece_id: int, root: int, amount: int, holder: int, giver: int, t: int) -> None:
        p = self.piece_of[piece_id] = len(self.p_root)
        self.p_root.append(root)
        self.p_amount.append(amount)
        self.p_holder.append(holder)
        self.p_split.append(False)
        self.p_financed.append(False)
        self._received(holder, giver, p, t)

    def _received(self, party: int, giver: int, piece: int, t: int) -> None:
        if party == giver:
            return  # a holder keeping a child of its own split received nothing new
        self.rc_party.append(party)
        self.rc_from.append(giver)
        self.rc_piece.append(piece)
        self.rc_time.append(t)

    def split(self, t: int, a: Mapping[str, Any]) -> None:
        p = self.piece_of.get(_int(a["pieceId"]))
        if p is not None:
            self.p_split[p] = True

    def piece_created(self, t: int, a: Mapping[str, Any]) -> None:
        root = self.root_of.get(_int(a["rootId"]))
        parent = self.piece_of.get(_int(a["parentId"]))
        if root is None or parent is None:
            return
        self._new_piece(
            _int(a["pieceId"]), root, _amount(a["amount"]), self.party(a["holder"]), self.p_holder[parent], t
        )
        if a.get("financed"):
            self.p_financed[self.piece_of[_int(a["pieceId"])]] = True

    def piece_transfer(self, t: int, a: Mapping[str, Any]) -> None:
        p = self.piece_of.get(_int(a["tokenId"]))
        if p is None:
            return  # the mint, before ReceivableIssued / PieceCreated names the piece
        giver, holder = self.p_holder[p], self.party(a["to"])
        if holder != giver:
            self.p_holder[p] = holder
            self._received(holder, giver, p, t)

    def financed(self, t: int, a: Mapping[str, Any]) -> None:
        p = self.piece_of.get(_int(a["pieceId"]))
        if p is not None:
            self.p_financed[p] = True

    def repaid(self, t: int, a: Mapping[str, Any]) -> None:
        r = self.root_of.get(_int(a["rootId"]))
        if r is None:
            return
        self.r_repaid[r] = _amount(a["repaid"])
        if _int(a["outstanding"]) == 0 and self.r_repaid_at[r] == NONE:
            self.r_repaid_at[r] = t

    def defaulted(self, t: int, a: Mapping[str, Any]) -> None:
        r = self.root_of.get(_int(a["rootId"]))
        if r is not None and self.r_defaulted[r] == NONE:
            self.r_defaulted[r] = t


# -- The bulk path: ``RawEvents`` (the scored events' JSON, read as columns) decoded by event type
# into typed structs (msgspec, no dict per event), then the same rules as ``_Collector`` above,
# one method each. ``tests/scoring/test_bulk.py`` pins both paths to the same tables.


class _Party(msgspec.Struct, tag_field="@", tag=0, gc=False):
    party: str


class _Roles(msgspec.Struct, tag_field="@", tag=1, gc=False):
    party: str
    roles: int


class _Order(msgspec.Struct, tag_field="@", tag=2, gc=False):
    orderId: int


class _OrderCreated(msgspec.Struct, tag_field="@", tag=3, gc=False):
    orderId: int
    buyer: str
    supplier: str
    amount: int
    shipBy: int
    deliverBy: int


class _Milestone(msgspec.Struct, tag_field="@", tag=4, gc=False):
    orderId: int
    milestone: int
    occurredAt: int


class _Contested(msgspec.Struct, tag_field="@", tag=5, gc=False):
    orderId: int
    milestone: int


class _Guarantee(msgspec.Struct, tag_field="@", tag=6, gc=False):
    supplier: str


class _Issued(msgspec.Struct, tag_field="@", tag=7, gc=False):
    rootId: int
    debtor: str
    creditor: str
    faceValue: int
    maturity: int


class _Piece(msgspec.Struct, tag_field="@", tag=8, gc=False):
    pieceId: int


class _PieceCreated(msgspec.Struct, tag_field="@", tag=9, gc=False):
    pieceId: int
    parentId: int
    rootId: int
    holder: str
    amount: int
    financed: Any = None


class _Transfer(msgspec.Struct, tag_field="@", tag=10, gc=False):
    tokenId: int
    to: str


class _Root(msgspec.Struct, tag_field="@", tag=11, gc=False):
    rootId: int


class _Repaid(msgspec.Struct, tag_field="@", tag=12, gc=False):
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
#: Each event type's struct by code (``SCORED_EVENTS``), and its tag: the source puts ``"@": tag`` first
#: in each event's JSON (``RawEvents``), so that one decoder reads every event with its own struct,
#: and a field missing or of another type fails the decoding.
STRUCT_TAGS = [_STRUCTS[key].__struct_config__.tag for key in SCORED_EVENTS]
#: Not strict: uint256 fields arrive as decimal strings (msgspec reads them as Python ints, of any size).
_EVENT_ARGS = functools.reduce(operator.or_, dict.fromkeys(_STRUCTS.values()))
_DECODER = msgspec.json.Decoder(list[_EVENT_ARGS], strict=False)  # type: ignore[valid-type]


class _Undecodable(Exception):
    """An event's JSON does not fit its struct (a field missing or of another type): the bulk path
    cannot promise the per-event path's result, so the builder takes that path."""


_ORDER_ID, _MILESTONE = attrgetter("orderId"), attrgetter("milestone")
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


def _last_index(order: np.ndarray) -> np.ndarray:
    """Positions in ``order`` (chain order) of each order's last entry."""
    _, first_from_end = np.unique(order[::-1], return_index=True)
    return len(order) - 1 - first_from_end


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


def _column(values: np.ndarray) -> list[int]:
    """An order column computed as an array where ``_Collector`` keeps a list: ``_features`` reads
    both through ``np.asarray``, so the array goes in as it is rather than copied into a list."""
    return values  # type: ignore[return-value]


class _BulkCollector(_Collector):
    """``_Collector``'s rules over decoded structs. Each method is its namesake's above, field by field."""

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
        try:
            decoded = _DECODER.decode(raw.args)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise _Undecodable(str(exc)) from exc
        if len(decoded) != len(codes):
            raise _Undecodable(f"{len(decoded)} arguments for {len(codes)} events")
        for code in np.unique(codes).tolist():
            rows[code] = np.flatnonzero(codes == code)
            structs[code] = [decoded[i] for i in rows[code].tolist()]
        created = structs.get(_CODE_OF[("TradeEscrow", "OrderCreated")], [])
        order_of = {a.orderId: k for k, a in enumerate(created)}
        if len(order_of) == len(created):
            # Each order id made once (as the contract makes them): the orders' events as arrays.
            self._loop(raw, rows, structs, [code for code in rows if code not in _ORDER_CODES])
            self._orders(raw, rows, structs, order_of)
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
    ) -> None:
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

        def target(name: str) -> tuple[np.ndarray, np.ndarray, list[Any]]:
            """(order, row) of each event of ``name`` about an order created before it, and the events."""
            events = code_structs(name)
            where = code_rows(name)
            ids = map(_ORDER_ID, events)
            o = np.fromiter(map(order_of.get, ids, repeat(-1)), dtype=np.int64, count=len(events))
            known = o >= 0
            known[known] = created_row[o[known]] < where[known]
            keep = np.flatnonzero(known)
            return o[keep], where[keep], [events[k] for k in keep.tolist()]

        self.order_of = order_of
        self.o_amount = [min(a.amount, MAX_AMOUNT) for a in created]
        self.o_ship_by = [a.shipBy for a in created]
        self.o_deliver_by = [a.deliverBy for a in created]
        self.o_created = _column(times[created_row])
        buyers = [a.buyer for a in created]
        suppliers = [a.supplier for a in created]

        shipped = np.full(n, NONE, dtype=np.int64)
        delivered = np.full(n, NONE, dtype=np.int64)
        delivered_rec = np.full(n, NONE, dtype=np.int64)
        inspection = np.zeros(n, dtype=np.int64)
        inspected_rec = np.full(n, NONE, dtype=np.int64)
        a_order, a_row, attested = target("MilestoneAttested")
        a_kind = np.fromiter(map(_MILESTONE, attested), dtype=np.int64, count=len(attested))
        a_at = np.fromiter(map(attrgetter("occurredAt"), attested), dtype=np.int64, count=len(attested))
        c_order, c_row, contested = target("MilestoneContested")
        c_kind = np.fromiter(map(_MILESTONE, contested), dtype=np.int64, count=len(contested))
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
        _, first = np.unique(o, return_index=True)
        disputed[o[first]] = times[where[first]]
        self.o_disputed = _column(disputed)
        self._merge_parties(created_row, buyers, suppliers)

    def _merge_parties(self, created_row: np.ndarray, buyers: list[str], suppliers: list[str]) -> None:
        """Index the parties as the per-event path does, by first appearance: those met one by one
        (``_first``) and the orders' buyers and suppliers (each order: buyer, then supplier)."""
        first = dict(zip(self.parties, self._first, strict=True))
        names = [a for pair in zip(buyers, suppliers, strict=True) for a in pair]
        first_in_orders = dict(zip(reversed(names), range(len(names) - 1, -1, -1), strict=True))  # smallest k wins
        rows = created_row.tolist()
        for a, k in first_in_orders.items():
            key = rows[k // 2] * 4 + k % 2
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
        self.o_buyer = [index[a] for a in buyers]
        self.o_supplier = [index[a] for a in suppliers]

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
        self.order_of[a.orderId] = len(self.o_buyer)
        self.o_buyer.append(self.party(a.buyer))
        self.o_supplier.append(self.party(a.supplier))
        self.o_amount.append(min(a.amount, MAX_AMOUNT))
        self.o_ship_by.append(a.shipBy)
        self.o_deliver_by.append(a.deliverBy)
        self.o_created.append(t)
        self.o_shipped.append(NONE)
        self.o_delivered.append(NONE)
        self.o_delivered_recorded.append(NONE)
        self.o_inspection.append(0)
        self.o_inspected_recorded.append(NONE)
        self.o_refunded.append(NONE)
        self.o_disputed.append(NONE)
        self.o_cancelled.append(False)
        self.o_cancelled_at.append(NONE)
        self.o_contested.append(0)

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


def _i64(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _count(index: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index[mask], minlength=n).astype(np.float64)


def _sum(index: np.ndarray, mask: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index[mask], weights=weights[mask].astype(np.float64), minlength=n)


def _rate_bps(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator in whole basis points (floor), NaN where nothing was due."""
    out = np.full(numerator.shape, np.nan)
    has = denominator > 0
    out[has] = np.floor(numerator[has] * 10_000 / denominator[has])
    return out


def paydex(days_beyond_terms: np.ndarray) -> np.ndarray:
    """PAYDEX-like 1..100 (100: 20+ days early, 90: 10 early, 80: on time, 50: 30 days late, 1: 180+ late)."""
    return np.interp(days_beyond_terms, PAYDEX_DAYS, PAYDEX_SCORE)


@dataclass
class FeatureTable:
    """Every party's features as of one point: ``values[name][index[address]]``."""

    history: dict[str, Any]
    parties: list[str]
    index: dict[str, int]
    roles: np.ndarray
    member: np.ndarray
    values: dict[str, np.ndarray]
    circular: dict[int, list[str]] = field(default_factory=dict)
    refused_visible: bool = False

    def row(self, address: str) -> dict[str, float | None]:
        i = self.index[address]
        return {name: (None if np.isnan(v[i]) else float(v[i])) for name, v in sorted(self.values.items())}

    def is_core(self, i: int) -> bool:
        return bool(self.roles[i] & ROLE_CORE)


def build(history: History, *, view: str = "ledger") -> FeatureTable:
    """The feature table of every party in ``history``.

    ``view="ledger"`` is the scorer's view: the whole verified multi-tier history. ``view="direct"``
    is what a bank sees that only knows a core enterprise's direct suppliers (the tier-1-only
    baseline): orders placed by a core, nothing else (no receivable trees, no graph).
    """
    if history.raw is not None:
        try:
            bulk = _BulkCollector()
            bulk.collect(history.raw)
            return _features(bulk, history, view)
        except _Undecodable:
            pass  # the per-event path below decides (and raises what it raises) from the same rows
    c = _Collector()
    handlers = c.handlers
    for e in history.events:
        handler = handlers.get((e.contract, e.event))
        if handler is not None:
            handler(e.timestamp, e.args)
    return _features(c, history, view)


def _features(c: _Collector, history: History, view: str) -> FeatureTable:
    n = len(c.parties)
    t = history.as_of_time
    roles = _i64(c.roles)
    is_core = (roles & ROLE_CORE) != 0
    is_bank = (roles & ROLE_BANK) != 0
    values: dict[str, np.ndarray] = {}

    buyer, supplier, amount = _i64(c.o_buyer), _i64(c.o_supplier), _i64(c.o_amount)
    ship_by, deliver_by = _i64(c.o_ship_by), _i64(c.o_deliver_by)
    shipped, delivered, delivered_rec = _i64(c.o_shipped), _i64(c.o_delivered), _i64(c.o_delivered_recorded)
    inspection, inspected_rec = _i64(c.o_inspection), _i64(c.o_inspected_recorded)
    refunded, disputed = _i64(c.o_refunded), _i64(c.o_disputed)
    cancelled = np.asarray(c.o_cancelled, dtype=bool)
    contested = _i64(c.o_contested)
    scope = np.ones(len(buyer), dtype=bool)
    if view == "direct" and len(buyer):
        scope = is_core[buyer]
    seen = ~cancelled & scope
    verified = seen & (delivered_rec != NONE) & (refunded == NONE)

    # Circular trading: short cycles of similar amounts; their orders are not verified business.
    in_year = verified & (delivered_rec > t - WINDOWS[12])
    circular = CircularTrading({}, np.zeros(0, dtype=np.int64))
    if view == "ledger":
        circular = find_cycles(supplier, buyer, amount, delivered_rec, in_year)
    business = verified.copy()
    business[circular.orders] = False
    values["circular_cycles"] = np.zeros(n)
    for i, counterparts in circular.counterparties.items():
        values["circular_cycles"][i] = len(counterparts)

    for months, span in WINDOWS.items():
        start = t - span
        due_ship = seen & (ship_by > start) & (ship_by <= t)
        ok_ship = due_ship & (shipped != NONE) & (shipped <= ship_by)
        due_delivery = seen & (deliver_by > start) & (deliver_by <= t)
        ok_delivery = due_delivery & (delivered != NONE) & (delivered <= deliver_by)
        n_due = _count(supplier, due_delivery, n)
        values[f"orders_due_{months}m"] = n_due
        values[f"on_time_ship_{months}m"] = _rate_bps(_count(supplier, ok_ship, n), _count(supplier, due_ship, n))
        values[f"on_time_delivery_{months}m"] = _rate_bps(_count(supplier, ok_delivery, n), n_due)
        inspected = seen & (inspection != 0) & (inspected_rec > start)
        passed = inspected & (inspection == INSPECTION_PASSED)
        values[f"inspection_pass_{months}m"] = _rate_bps(_count(supplier, passed, n), _count(supplier, inspected, n))
        n_disputes = _count(supplier, seen & (disputed > start), n)
        n_refunds = _count(supplier, seen & (refunded > start), n)
        values[f"dispute_rate_{months}m"] = _rate_bps(n_disputes, np.maximum(n_due, n_disputes))
        values[f"refund_rate_{months}m"] = _rate_bps(n_refunds, np.maximum(n_due, n_refunds))
        in_window = business & (delivered_rec > start)
        values[f"volume_{months}m"] = _sum(supplier, in_window, amount, n)
        values[f"deliveries_{months}m"] = _count(supplier, in_window, n)

    v3 = values["volume_3m"]
    previous = values["volume_6m"] - v3
    trend = np.full(n, np.nan)
    has = (previous > 0) | (v3 > 0)
    trend[has] = np.clip(np.floor((v3[has] - previous[has]) * 10_000 / np.maximum(previous[has], 1.0)), -10_000, 30_000)
    values["volume_trend"] = trend
    _trouble_features(c, values, n, t, seen, scope, supplier, ship_by, deliver_by, shipped, delivered)

    # Months of the last twelve with at least one verified delivery, and tenure.
    year = business & (delivered_rec > t - 12 * MONTH)
    month_keys = np.unique(supplier[year] * 12 + (t - delivered_rec[year]) // MONTH)
    values["active_months_12m"] = np.bincount(month_keys // 12, minlength=n).astype(np.float64)
    first = np.full(n, np.iinfo(np.int64).max)
    if business.any():
        np.minimum.at(first, supplier[business], delivered_rec[business])
        np.minimum.at(first, buyer[business], delivered_rec[business])
    tenure = np.full(n, np.nan)
    known = first != np.iinfo(np.int64).max
    tenure[known] = (t - first[known]) // DAY
    values["tenure_days"] = tenure

    # Counterparties and concentration of sales over twelve months.
    year12 = business & (delivered_rec > t - WINDOWS[12])
    pairs = np.unique(supplier[year12] * n + buyer[year12]) if n else np.zeros(0, dtype=np.int64)
    values["counterparties_12m"] = (np.bincount(pairs // n, minlength=n) + np.bincount(pairs % n, minlength=n)).astype(
        np.float64
    )
    pair_volume = np.bincount(
        np.searchsorted(pairs, supplier[year12] * n + buyer[year12]),
        weights=amount[year12].astype(np.float64),
        minlength=len(pairs),
    )
    seller = pairs // n
    total = np.bincount(seller, weights=pair_volume, minlength=n)
    share = pair_volume / np.maximum(total[seller], 1.0)
    hhi = np.full(n, np.nan)
    sold = total > 0
    hhi[sold] = np.floor(np.bincount(seller, weights=share * share, minlength=n)[sold] * 10_000)
    values["concentration_12m"] = hhi

    values["guarantee_failures_12m"] = _count(_i64(c.g_supplier), _i64(c.g_time) > t - WINDOWS[12], n)
    recent = seen & (contested > 0) & (_i64(c.o_created) > t - WINDOWS[12])
    values["contested_12m"] = _sum(supplier, recent, contested, n)

    _receivable_features(c, values, n, t, is_core, is_bank, view)
    graph = TradeGraph(n)
    if view == "ledger":
        _graph_edges(c, graph, business, buyer, supplier, amount, t)
        distance = core_distance(graph, is_core)
        values["core_distance"] = distance
        values["trust"] = propagate_trust(graph, is_core)
    else:
        values["core_distance"] = np.where(is_core, 0.0, np.nan)
        values["trust"] = np.full(n, np.nan)
        if len(buyer):
            direct = np.zeros(n, dtype=bool)
            direct[supplier[seen]] = True
            values["core_distance"][direct & ~is_core] = 1.0
    # Size against the peers at the same tier, and the growth of the orders received (scoring.business).
    if view == "ledger":
        values["supply_tier"] = supply_tier(supplier[year12], buyer[year12], is_core)
    else:  # a core's direct suppliers are all one tier to a bank that sees nothing else
        values["supply_tier"] = values["core_distance"].copy()
    values["sales_vs_tier_12m"] = versus_peers(values["volume_12m"], values["supply_tier"])
    admitted = _i64(c.admitted)
    since = np.maximum(admitted, t - WINDOWS[12]) if n else admitted
    values["order_growth"] = order_growth(supplier[scope], _i64(c.o_created)[scope], since, t, n)

    refused = history.refused
    attempts = np.full(n, np.nan)
    if refused is not None:
        attempts[:] = 0
        for call in refused:
            if call.error in DOUBLE_FINANCING_ERRORS and call.block_number <= history.as_of_block:
                signer = c.index.get(call.sender)
                if signer is not None:
                    attempts[signer] += 1
    values["double_financing_attempts"] = attempts

    return FeatureTable(
        history=history.describe(),
        parties=c.parties,
        index=c.index,
        roles=roles,
        member=np.asarray(c.member, dtype=bool) & ~np.asarray(c.suspended, dtype=bool),
        values=values,
        circular={i: sorted(c.parties[j] for j in js) for i, js in circular.counterparties.items()},
        refused_visible=refused is not None,
    )


def _shrunk_rate_bps(troubles: np.ndarray, due: np.ndarray) -> np.ndarray:
    """troubles / due shrunk towards ``TROUBLE_PRIOR_BPS`` (whole basis points), NaN where nothing was due."""
    out = np.full(troubles.shape, np.nan)
    has = due > 0
    prior = TROUBLE_PRIOR_BPS * TROUBLE_PRIOR_ORDERS
    out[has] = np.floor((troubles[has] * 10_000 + prior) / (due[has] + TROUBLE_PRIOR_ORDERS))
    return out


def _trouble_features(
    c: _Collector,
    values: dict[str, np.ndarray],
    n: int,
    t: int,
    seen: np.ndarray,
    scope: np.ndarray,
    supplier: np.ndarray,
    ship_by: np.ndarray,
    deliver_by: np.ndarray,
    shipped: np.ndarray,
    delivered: np.ndarray,
) -> None:
    """How often anything went wrong with a supplier's orders, over 12 months and lately, and
    whether its order intake is drying up.

    One pooled rate says more about a small supplier than one rate per kind of failure: a tier-3
    firm has about one order a month, so each separate rate rests on a handful of orders. An
    order went wrong when it was not shipped by its ship-by, not delivered by its deliver-by,
    failed inspection, was refunded or disputed, or was cancelled after its ship-by passed
    unshipped (open-account orders end that way). An order counts once its deliver-by has
    passed, or earlier if something already went wrong; it falls in a window by its ship-by.
    """
    cancelled_at = _i64(c.o_cancelled_at)
    inspection = _i64(c.o_inspection)
    refunded, disputed = _i64(c.o_refunded), _i64(c.o_disputed)
    not_shipped = (ship_by <= t) & ((shipped == NONE) | (shipped > ship_by))
    # An order cancelled before its ship-by was the buyer's choice; after it, the supplier's failure.
    counted = seen | (scope & (cancelled_at != NONE) & (cancelled_at > ship_by) & (shipped == NONE))
    wrong = counted & (
        not_shipped
        | ((deliver_by <= t) & ((delivered == NONE) | (delivered > deliver_by)))
        | (inspection == INSPECTION_FAILED)
        | (refunded != NONE)
        | (disputed != NONE)
    )
    due = counted & ((deliver_by <= t) | wrong)
    for name, span in (("12m", WINDOWS[12]), ("2m", RECENT)):
        window = ship_by > t - span
        n_due = _count(supplier, due & window, n)
        values[f"orders_known_{name}"] = n_due
        values[f"trouble_rate_{name}"] = _shrunk_rate_bps(_count(supplier, wrong & window, n), n_due)
    # Deterioration: troubles in the recent window beyond what the supplier's own earlier rate
    # (the 12 months before it, shrunk) predicts for as many orders, in hundredths of an order.
    recent = ship_by > t - RECENT
    earlier = ~recent & (ship_by > t - RECENT - WINDOWS[12])
    rate_before = _shrunk_rate_bps(_count(supplier, wrong & earlier, n), _count(supplier, due & earlier, n))
    rate_before = np.where(np.isnan(rate_before), TROUBLE_PRIOR_BPS, rate_before)
    known_recent = values["orders_known_2m"]
    excess = _count(supplier, wrong & recent, n) * 100 - np.floor(known_recent * rate_before / 100)
    values["trouble_excess_2m"] = np.where(known_recent > 0, excess, np.nan)

    # Order intake: orders received in the recent window against the rate before it (12 months,
    # or since admission), as a shrunk ratio in basis points (10,000: as many as before).
    created = _i64(c.o_created)
    admitted = _i64(c.admitted)
    recent = _count(supplier, created > t - RECENT, n)
    before = _count(supplier, (created > t - WINDOWS[12]) & (created <= t - RECENT), n)
    since = np.maximum(admitted, t - WINDOWS[12]) if n else admitted
    span_before = (t - RECENT) - since
    intake = np.full(n, np.nan)
    has = (admitted != NONE) & (span_before >= MONTH) & (recent + before > 0)
    expected = before[has] * RECENT / span_before[has]
    intake[has] = np.floor((recent[has] + 1.0) * 10_000 / (expected + 1.0))
    values["intake_trend"] = intake


def stack(tables: Sequence[FeatureTable]) -> FeatureTable:
    """Several feature tables (e.g. of several simulated worlds) as one, rows one table after the
    other, for fitting a model on all of them: row ``i`` of table ``k`` is row ``offset_k + i``
    (offsets: the sizes of the tables before it). Addresses are indexed as ``k:address``."""
    if len(tables) == 1:
        return tables[0]
    names = sorted(set.intersection(*(set(t.values) for t in tables)))
    parties = [f"{k}:{p}" for k, t in enumerate(tables) for p in t.parties]
    return FeatureTable(
        history={"stacked": [t.history for t in tables]},
        parties=parties,
        index={p: i for i, p in enumerate(parties)},
        roles=np.concatenate([t.roles for t in tables]),
        member=np.concatenate([t.member for t in tables]),
        values={name: np.concatenate([t.values[name] for t in tables]) for name in names},
        refused_visible=all(t.refused_visible for t in tables),
    )


def _receivable_features(
    c: _Collector,
    values: dict[str, np.ndarray],
    n: int,
    t: int,
    is_core: np.ndarray,
    is_bank: np.ndarray,
    view: str,
) -> None:
    debtor, face, maturity = _i64(c.r_debtor), _i64(c.r_face), _i64(c.r_maturity)
    repaid_at, defaulted = _i64(c.r_repaid_at), _i64(c.r_defaulted)
    # Repayment timeliness as a debtor, PAYDEX-like, weighted by face value, debts due in the window.
    for months, span in WINDOWS.items():
        due = (maturity > t - span) & (maturity <= t)
        settled = np.where(repaid_at != NONE, repaid_at, t)
        days = (settled - maturity) // DAY
        score = paydex(days.astype(np.float64))
        weight = face.astype(np.float64)
        total = np.bincount(debtor[due], weights=weight[due], minlength=n)
        weighted = np.bincount(debtor[due], weights=(score * weight)[due], minlength=n)
        out = np.full(n, np.nan)
        has = total > 0
        out[has] = np.floor(weighted[has] / total[has] + 0.5)
        values[f"paydex_{months}m"] = out
    values["defaults_12m"] = _count(debtor, (defaulted != NONE) & (defaulted > t - WINDOWS[12]), n)
    repaid = _i64(c.r_repaid)
    open_debt = (repaid_at == NONE) & (defaulted == NONE)
    values["receivables_outstanding"] = _sum(debtor, open_debt, np.maximum(face - repaid, 0), n)

    if view != "ledger":
        values["core_receivables_12m"] = np.full(n, np.nan)
        values["core_receivables_held"] = np.full(n, np.nan)
        return
    p_root, p_amount, p_holder = _i64(c.p_root), _i64(c.p_amount), _i64(c.p_holder)
    p_split = np.asarray(c.p_split, dtype=bool)
    core_root = is_core[debtor] if len(debtor) else np.zeros(0, dtype=bool)
    piece_core = core_root[p_root] if len(p_root) else np.zeros(0, dtype=bool)
    rc_party, rc_piece, rc_time = _i64(c.rc_party), _i64(c.rc_piece), _i64(c.rc_time)
    received = (rc_time > t - WINDOWS[12]) & ~is_bank[rc_party] if len(rc_party) else np.zeros(0, dtype=bool)
    if len(rc_piece):
        received &= piece_core[rc_piece]
    values["core_receivables_12m"] = _sum(rc_party, received, p_amount[rc_piece] if len(rc_piece) else rc_piece, n)
    live = ~p_split
    if len(p_root):
        live &= piece_core & (repaid_at[p_root] == NONE) & (defaulted[p_root] == NONE)
    values["core_receivables_held"] = _sum(p_holder, live, p_amount, n)


def _graph_edges(
    c: _Collector,
    graph: TradeGraph,
    business: np.ndarray,
    buyer: np.ndarray,
    supplier: np.ndarray,
    amount: np.ndarray,
    t: int,
) -> None:
    """Edges along which trust flows: paid, verified trade (buyer → supplier) and receivables
    (giver → receiver) weighted by how good the root debt is: repaid 1, not yet due 1/2,
    overdue or defaulted 0."""
    graph.add(buyer[business], supplier[business], amount[business].astype(np.float64))
    if not c.rc_party:
        return
    rc_party, rc_from, rc_piece = _i64(c.rc_party), _i64(c.rc_from), _i64(c.rc_piece)
    p_root, p_amount = _i64(c.p_root), _i64(c.p_amount)
    repaid_at, defaulted, maturity = _i64(c.r_repaid_at), _i64(c.r_defaulted), _i64(c.r_maturity)
    root = p_root[rc_piece]
    quality = np.where(
        repaid_at[root] != NONE, 1.0, np.where((defaulted[root] == NONE) & (maturity[root] > t), 0.5, 0.0)
    )
    graph.add(rc_from, rc_party, p_amount[rc_piece].astype(np.float64) * quality)


def checksum_party(text: str) -> str:
    """EIP-55 form of an address given in any case (``InvalidParty`` when it is not one)."""
    from scoring.errors import InvalidParty

    stripped = text.strip()
    if len(stripped) != 42 or not stripped.startswith(("0x", "0X")):
        raise InvalidParty(text)
    try:
        int(stripped[2:], 16)
        return to_checksum_address("0x" + stripped[2:])
    except ValueError as exc:
        raise InvalidParty(text) from exc
