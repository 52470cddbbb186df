"""Hand-made verified histories: a few parties, orders, milestones and receivables, event by event."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak, to_checksum_address

from scoring.features import DAY, ROLE_BANK, ROLE_CORE, ROLE_SUPPLIER
from scoring.history import ChainEvent, History, RefusedCall

T0 = 1_900_000_000
HASH = "0x" + "cd" * 32
UNIT = 10**6


def party(name: str) -> str:
    return to_checksum_address(keccak(text=name)[12:])


CORE, T1, T2, T3, BANK, STRANGER = (party(n) for n in ("core", "tier1", "tier2", "tier3", "bank", "stranger"))


class Story:
    """Events at the times given, in any order; the history puts them in time order, one block each."""

    def __init__(self) -> None:
        self.events: list[ChainEvent] = []
        self.refused: list[RefusedCall] = []
        self.order_id = 0
        self.piece_id = 0

    def emit(self, t: int, contract: str, event: str, **args: Any) -> None:
        self.events.append(ChainEvent(0, 0, t, contract, event, args))

    def admit(self, t: int, who: str, roles: int) -> None:
        self.emit(t, "Membership", "MemberAdmitted", party=who, roles=roles, oracleKind=0, kycHash=HASH, admin=who)

    def members(self, t: int = T0) -> None:
        self.admit(t, CORE, ROLE_CORE)
        for i, who in enumerate((T1, T2, T3)):
            self.admit(t + 1 + i, who, ROLE_SUPPLIER)
        self.admit(t + 4, BANK, ROLE_BANK)

    def order(
        self,
        t: int,
        buyer: str,
        supplier: str,
        amount: int,
        *,
        ship_late: bool = False,
        deliver_late: bool = False,
        shipped: bool = True,
        inspection: bool | None = None,
    ) -> int:
        """An order created at ``t``, ship-by t+7d, deliver-by t+14d, played to its end."""
        self.order_id += 1
        oid = self.order_id
        ship_by, deliver_by = t + 7 * DAY, t + 14 * DAY
        self.emit(
            t,
            "TradeEscrow",
            "OrderCreated",
            orderId=str(oid),
            buyer=buyer,
            supplier=supplier,
            token=HASH[:42],
            amount=str(amount),
            shipBy=ship_by,
            deliverBy=deliver_by,
            inspectionRequired=inspection is not None,
            termsHash=HASH,
            poRefHash=HASH,
            nonce=str(oid),
            submitter=buyer,
        )
        if not shipped:
            self.emit(
                ship_by + DAY,
                "TradeEscrow",
                "OrderRefunded",
                orderId=str(oid),
                buyer=buyer,
                fromEscrow=str(amount),
                fromPool="0",
                reason=1,
            )
            return oid
        ship_at = ship_by + (2 * DAY if ship_late else -DAY)
        self.emit(
            ship_at + 60,
            "TradeEscrow",
            "MilestoneAttested",
            orderId=str(oid),
            milestone=1,
            occurredAt=ship_at,
            evidenceHash=HASH,
            signers=[],
            status=3,
        )
        deliver_at = deliver_by + (3 * DAY if deliver_late else -DAY)
        self.emit(
            deliver_at + 60,
            "TradeEscrow",
            "MilestoneAttested",
            orderId=str(oid),
            milestone=2,
            occurredAt=deliver_at,
            evidenceHash=HASH,
            signers=[],
            status=4,
        )
        if inspection is not None:
            self.emit(
                deliver_at + 120,
                "TradeEscrow",
                "MilestoneAttested",
                orderId=str(oid),
                milestone=3 if inspection else 4,
                occurredAt=deliver_at + 100,
                evidenceHash=HASH,
                signers=[],
                status=5 if inspection else 8,
            )
            if not inspection:
                self.emit(
                    deliver_at + 180,
                    "TradeEscrow",
                    "OrderRefunded",
                    orderId=str(oid),
                    buyer=buyer,
                    fromEscrow=str(amount),
                    fromPool="0",
                    reason=2,
                )
                return oid
        self.emit(
            deliver_at + 2 * DAY,
            "TradeEscrow",
            "OrderReleased",
            orderId=str(oid),
            supplier=supplier,
            amount=str(amount),
            by=buyer,
        )
        return oid

    def receivable(self, t: int, debtor: str, creditor: str, face: int, maturity: int) -> int:
        self.piece_id += 1
        root = self.piece_id
        self.emit(
            t,
            "Receivables",
            "ReceivableIssued",
            rootId=str(root),
            debtor=debtor,
            creditor=creditor,
            token=HASH[:42],
            faceValue=str(face),
            maturity=maturity,
            invoiceHash=HASH,
            fingerprint="0x" + keccak(text=f"fingerprint {root}").hex(),
            invoiceCommitment=HASH,
            orderId="0",
            nonce=str(root),
            submitter=debtor,
        )
        return root

    def split(self, t: int, piece: int, root: int, holder: str, children: list[tuple[str, int]]) -> list[int]:
        first = self.piece_id + 1
        self.emit(
            t,
            "Receivables",
            "PieceSplit",
            pieceId=str(piece),
            rootId=str(root),
            holder=holder,
            firstChildId=str(first),
            childCount=len(children),
        )
        ids = []
        for who, amount in children:
            self.piece_id += 1
            ids.append(self.piece_id)
            self.emit(
                t,
                "Receivables",
                "PieceCreated",
                pieceId=str(self.piece_id),
                parentId=str(piece),
                rootId=str(root),
                holder=who,
                amount=str(amount),
                ref=HASH,
                financed=False,
            )
        return ids

    def repay(self, t: int, root: int, payer: str, face: int) -> None:
        self.emit(
            t,
            "Receivables",
            "ReceivableRepaid",
            rootId=str(root),
            payer=payer,
            amount=str(face),
            repaid=str(face),
            outstanding="0",
            afterDefault=False,
        )

    def history(self, as_of_time: int, *, refused: bool = True) -> History:
        ordered = sorted(self.events, key=lambda e: e.timestamp)
        events = [e._replace(block_number=k + 1) for k, e in enumerate(ordered) if e.timestamp <= as_of_time]
        block = events[-1].block_number if events else 0
        calls = [c for c in self.refused if c.block_number <= block] if refused else None
        return History(31337, block, as_of_time, events, calls, "test")
