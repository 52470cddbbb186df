"""What the logged events say beyond the models' state: one walk over the decoded logs.

The models keep what the contracts keep; some columns of the indexer's tables are only in the
events (who submitted an order, whether it was funded with a permit, why it was refunded, a
dispute's resolution, a root's invoice number, a limit's nonce and revocation time), and some
tables hold one event each (``milestones``, ``financings``, ``repayments``, ``claims``).
``Derived`` collects both, with the block of each row's creation and of the last event that
touched it (the block a mismatch names).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.audit.sql.rows import Key, Row
from ledger.audit.state import ESCROW, RECEIVABLES, TOKEN
from ledger.domain.escrow import Milestone, OrderStatus
from ledger.eth.history import LedgerLog


@dataclass
class Derived:
    """One walk over the decoded logs: the columns only events carry, and the one-event rows."""

    timestamps: Mapping[int, int]
    from_block: int  # the first block the indexer indexes: rows only for logs from here
    last: dict[tuple[str, Key], int] = field(default_factory=dict)  # (table, key) → last block naming it
    created: dict[tuple[str, Key], int] = field(default_factory=dict)  # (table, key) → block of its creation
    orders: dict[int, Row] = field(default_factory=lambda: defaultdict(dict))
    parties: dict[str, Row] = field(default_factory=lambda: defaultdict(dict))
    disputes: dict[int, Row] = field(default_factory=lambda: defaultdict(dict))
    guarantees: dict[tuple[str, str], Row] = field(default_factory=dict)
    pools: set[str] = field(default_factory=set)
    roots: dict[int, Row] = field(default_factory=dict)
    limits: dict[tuple[str, str], Row] = field(default_factory=dict)
    milestones: dict[Key, tuple[Row, int]] = field(default_factory=dict)  # (order, milestone) → (row, block)
    facts: dict[str, dict[Key, Row]] = field(default_factory=lambda: {"financings": {}, "repayments": {}, "claims": {}})

    def touch(self, table: str, key: Key, block: int) -> None:
        self.last[(table, key)] = block

    def block_of(self, table: str, key: Key, default: int) -> int:
        return self.last.get((table, key), default)

    def add(self, log: LedgerLog) -> None:
        raw, a = log.raw, log.args
        block = raw.block_number
        now = self.timestamps.get(block, raw.block_timestamp or 0)
        if log.contract == "Membership":
            party = a["party"]
            self.touch("parties", (party,), block)
            if log.event == "MemberAdmitted":
                self.created[("parties", (party,))] = block
                self.parties[party]["suspension_reason_hash"] = None
            elif log.event == "MemberSuspended":
                self.parties[party]["suspension_reason_hash"] = a["reasonHash"]
            elif log.event == "MemberReinstated":
                self.parties[party]["suspension_reason_hash"] = None
            return
        if log.contract == TOKEN:
            if log.event == "Transfer":
                for holder in (a["from"], a["to"]):
                    self.touch("balances", (raw.address, holder), block)
            return
        if log.contract == "CreditRegistry":
            pair = (a["bank"], a["party"])
            self.touch("credit_limits", pair, block)
            entry = self.limits.setdefault(pair, {"nonce": None, "submitter": None, "revoked_at": None})
            if log.event == "LimitPublished":
                entry.update(nonce=a["nonce"], submitter=a["submitter"], revoked_at=None)
            elif log.event == "LimitRevoked":
                entry["revoked_at"] = now
            return
        if log.contract == ESCROW:
            self._escrow(log, block, now)
            return
        if log.contract == RECEIVABLES:
            self._receivables(log, block, now)

    def _escrow(self, log: LedgerLog, block: int, now: int) -> None:
        a, event = log.args, log.event
        order_id: int = a.get("orderId", 0)
        if "orderId" in a:
            self.touch("orders", (order_id,), block)
        if event == "OrderCreated":
            self.created[("orders", (order_id,))] = block
            self.orders[order_id].update(submitter=a["submitter"], funded_via_permit=None, refund_reason=None)
        elif event == "OrderFunded":
            self.orders[order_id]["funded_via_permit"] = a["viaPermit"]
        elif event == "OrderRefunded":
            self.orders[order_id]["refund_reason"] = a["reason"]
        elif event == "ReceiptConfirmed":
            self.orders[order_id]["receipt_confirmed"] = True
        elif event == "MilestoneAttested":
            if block >= self.from_block:
                status = a["status"]
                row = {
                    "name": Milestone(a["milestone"]).name if a["milestone"] in Milestone._value2member_map_ else "",
                    "occurred_at": a["occurredAt"],
                    "recorded_at": now,
                    "evidence_hash": a["evidenceHash"],
                    "signers": list(a["signers"]),
                    "status_after": OrderStatus(status).name if status in OrderStatus._value2member_map_ else "",
                    "block_number": block,
                    "log_index": log.raw.log_index,
                    "tx_hash": log.raw.tx_hash,
                }
                self.milestones[(order_id, a["milestone"])] = (row, block)
        elif event == "MilestoneContested":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(
                contested_milestone=a["milestone"],
                contested_evidence_hash=a["evidenceHash"],
                contest_reason_hash=a["reasonHash"],
                contest_declared_at=a["declaredAt"],
                contest_signers=list(a["signers"]),
            )
        elif event == "DisputeOpened":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(buyer=a["buyer"], opened_block=block)
        elif event == "DisputeAnswered":
            self.touch("disputes", (order_id,), block)
        elif event == "DisputeResolved":
            self.touch("disputes", (order_id,), block)
            self.disputes[order_id].update(
                resolved_at=now,
                resolution=a["how"],
                to_buyer=a["toBuyer"],
                to_supplier=a["toSupplier"],
                from_pool=a["fromPool"],
                resolved_by=a["by"],
            )
        elif event in ("PrepaymentReleased", "GuaranteeClaimed", "ExposureReleased", "ShortfallRepaid"):
            pair = (a["guarantor"], a["supplier"])
            self.touch("guarantees", pair, block)
            self.touch("pools", (a["guarantor"],), block)
            self.pools.add(a["guarantor"])
            sums = self.guarantees.setdefault(pair, {"prepaid_total": 0, "fees_total": 0, "claimed_total": 0})
            if event == "PrepaymentReleased":
                # The whole draw counts as prepaid (the guarantee covers it); the fee is the bank's share.
                sums["prepaid_total"] += a["amount"]
                sums["fees_total"] += a["fee"]
            elif event == "GuaranteeClaimed":
                sums["claimed_total"] += a["amount"]
        elif event in ("PoolFunded", "PoolWithdrawn"):
            self.touch("pools", (a["guarantor"],), block)
            self.pools.add(a["guarantor"])

    def _receivables(self, log: LedgerLog, block: int, now: int) -> None:
        a, event, raw = log.args, log.event, log.raw
        if event == "ReceivableIssued":
            root_id = a["rootId"]
            self.roots[root_id] = {
                "nonce": a["nonce"],
                "submitter": a["submitter"],
            }
            self.created[("receivable_roots", (root_id,))] = block
            self.created[("receivable_pieces", (root_id,))] = block
        elif event == "PieceCreated":
            self.created[("receivable_pieces", (a["pieceId"],))] = block
        if "rootId" in a:
            self.touch("receivable_roots", (a["rootId"],), block)
        piece = a.get("pieceId", a.get("tokenId", a.get("rootId") if event == "ReceivableIssued" else None))
        if piece is not None:
            self.touch("receivable_pieces", (piece,), block)
        if block < self.from_block:
            return
        position: Key = (block, raw.log_index)
        if event == "PieceFinanced":
            self.facts["financings"][position] = {
                "tx_hash": raw.tx_hash,
                "piece_id": a["pieceId"],
                "root_id": a["rootId"],
                "bank": a["bank"],
                "seller": a["seller"],
                "price": a["price"],
                "amount": a["amount"],
                "discount_bps": a["discountBps"],
                "time_to_maturity": a["timeToMaturity"],
                "nonce": a["nonce"],
                "financed_at": now,
            }
        elif event == "ReceivableRepaid":
            self.facts["repayments"][position] = {
                "tx_hash": raw.tx_hash,
                "root_id": a["rootId"],
                "payer": a["payer"],
                "amount": a["amount"],
                "repaid": a["repaid"],
                "outstanding": a["outstanding"],
                "after_default": a["afterDefault"],
                "paid_at": now,
            }
        elif event == "PieceClaimed":
            self.facts["claims"][position] = {
                "tx_hash": raw.tx_hash,
                "piece_id": a["pieceId"],
                "root_id": a["rootId"],
                "holder": a["holder"],
                "amount": a["amount"],
                "claimed": a["claimed"],
                "claimed_at": now,
            }
