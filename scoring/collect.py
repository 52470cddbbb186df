"""The one pass over a history's events that every feature is built from: flat lists, by party index.

``Collector`` reads ``History.events`` one event at a time (chain order) and keeps, for each
order, milestone, refund, dispute, receivable tree, repayment, financing and membership, what the
event says: the reference path, and the one that takes any history. ``scoring.bulk`` gives the
same lists from a history read in bulk; ``scoring.features`` turns either into the feature table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_AMOUNT = 2**53 - 1  # float64 holds every integer up to here exactly
NONE = -1
SHIPPED, DELIVERED, INSPECTION_PASSED, INSPECTION_FAILED = 1, 2, 3, 4


def _int(value: Any) -> int:
    return int(value)


def _amount(value: Any) -> int:
    return min(int(value), MAX_AMOUNT)


class Collector:
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
        self.add_order(
            t,
            _int(a["orderId"]),
            a["buyer"],
            a["supplier"],
            _amount(a["amount"]),
            _int(a["shipBy"]),
            _int(a["deliverBy"]),
        )

    def add_order(
        self, t: int, order_id: int, buyer: str, supplier: str, amount: int, ship_by: int, deliver_by: int
    ) -> None:
        """A new order's row (``amount`` capped already), every later column at its "not yet"."""
        self.order_of[order_id] = len(self.o_buyer)
        self.o_buyer.append(self.party(buyer))
        self.o_supplier.append(self.party(supplier))
        self.o_amount.append(amount)
        self.o_ship_by.append(ship_by)
        self.o_deliver_by.append(deliver_by)
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
