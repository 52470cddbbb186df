"""The aggregator: gathers oracle signatures until the quorum and submits each attestation once.

Oracles send it what they signed. It checks every signature itself (the signer recovered
from the EIP-712 attestation must be the oracle that claims it, and the chain must count
that oracle as active for the milestone's kind) before it keeps it; forged, mismatched or
suspended signatures are refused with a reason and never reach the chain. Once an
attestation has signatures from ``threshold(kind)`` distinct oracles it is *ready*, and
``flush`` submits every ready attestation in one batch (``BatchSender``), ordered by order
and milestone, so that a DELIVERED that waited for its SHIPPED lands right behind it.

Outcomes per attestation: ``collecting`` (below the quorum), ``ready``, ``submitted`` (with
its transaction), ``already_attested`` (the chain had this evidence already: idempotent),
``waiting`` (the contract wants an earlier milestone first; retried at the next flush),
``failed`` (the contract refused it for good; the error is kept), ``withdrawn`` (its
signers retracted it, by an EPCIS error declaration, before it reached the quorum).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Connection, Engine, Update, func, insert, select, update

from ledger.batch import BatchSender, FunctionEncoder, recover_typed_data
from ledger.chain import Chain
from ledger.compiler import BuildResult
from ledger.escrow import Attestation, Milestone, TradeEscrowClient
from ledger.model.common import OracleKind
from ledger.reads import RawView, ViewBatch
from oracles.store import attestation_signatures, attestations
from oracles.witness import MILESTONE_KIND

#: Contract errors after which the same attestation may succeed later.
RETRYABLE: Final = frozenset({"TradeEscrowMilestoneOutOfOrder"})
#: Contract errors meaning the evidence is on chain already.
ALREADY: Final = frozenset({"TradeEscrowEvidenceReused"})


class Status(StrEnum):
    COLLECTING = "collecting"
    READY = "ready"
    WAITING = "waiting"
    SUBMITTED = "submitted"
    ALREADY_ATTESTED = "already_attested"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


OPEN: Final = frozenset({Status.COLLECTING, Status.READY, Status.WAITING})


class Rejection(StrEnum):
    """Why a signature was not taken."""

    BAD_SIGNATURE = "bad_signature"
    SIGNER_MISMATCH = "signer_mismatch"
    NOT_AN_ORACLE = "not_an_oracle"
    WRONG_KIND = "wrong_kind"
    CLOSED = "closed"


@dataclass(frozen=True)
class Submission:
    """One oracle's signature on ``attestation``, as the aggregator receives it."""

    attestation: Attestation
    oracle: str
    signature: bytes


@dataclass(frozen=True)
class Receipt:
    """What became of a submission: the attestation's key and status, or a rejection."""

    key: str
    status: Status | None
    signers: int
    threshold: int
    rejection: Rejection | None = None
    detail: str = ""
    tx_hash: str | None = None
    error: str | None = None


def attestation_key(attestation: Attestation) -> str:
    a = attestation
    raw = (
        a.order_id.to_bytes(32, "big") + bytes((int(a.milestone),)) + a.occurred_at.to_bytes(8, "big") + a.evidence_hash
    )
    return "0x" + keccak(raw).hex()


class Aggregator:
    """Collects and submits attestations for TradeEscrow at ``escrow``; ``relayer`` pays the gas."""

    def __init__(
        self,
        chain: Chain,
        build: BuildResult,
        *,
        escrow: str,
        membership: str,
        relayer: LocalAccount,
        engine: Engine,
    ) -> None:
        self.chain = chain
        self.escrow = TradeEscrowClient(chain, build, escrow)
        self.relayer = relayer
        self.engine = engine
        self._reads = ViewBatch(chain)
        self._is_oracle = RawView.of(membership, build["Membership"].abi, "isOracle")
        self._threshold = RawView.of(self.escrow.address, build["TradeEscrow"].abi, "threshold")
        self._attest = FunctionEncoder(self.escrow.contract, "attest")
        self._sender = BatchSender(chain, raise_on_failure=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._sender.close()

    # -- collecting -----------------------------------------------------------------------

    def add(self, submissions: Sequence[Submission]) -> list[Receipt]:
        """Check and keep each signature; then submit whatever reached its quorum."""
        with self._lock:
            receipts = self._collect(submissions)
            submitted = self._flush()
        return [self._refresh(r, submitted) for r in receipts]

    def flush(self) -> dict[str, Receipt]:
        """Submit every ready (or waiting) attestation now; key -> its new state."""
        with self._lock:
            return self._flush()

    def withdraw(self, evidence_hash: bytes, oracle: str) -> list[str]:
        """``oracle`` retracts its signatures on ``evidence_hash`` (an EPCIS error declaration).

        Attestations it leaves below their quorum, not yet submitted, become ``withdrawn``.
        Returns the keys of the attestations that changed.
        """
        changed: list[str] = []
        with self._lock, self.engine.begin() as db:
            rows = db.execute(
                select(attestations).where(attestations.c.evidence_hash == "0x" + evidence_hash.hex())
            ).all()
            for row in rows:
                if Status(row.status) not in OPEN:
                    continue
                result = db.execute(
                    update(attestation_signatures)
                    .where(attestation_signatures.c.key == row.key, attestation_signatures.c.oracle == oracle)
                    .values(withdrawn=True)
                )
                if result.rowcount:
                    changed.append(row.key)
                    remaining = self._signature_count(db, row.key)
                    if remaining < self._thresholds([row.kind])[row.kind]:
                        db.execute(self._set(row.key, Status.WITHDRAWN, error=f"withdrawn by {oracle}"))
        return changed

    def status(self, key: str) -> Receipt | None:
        with self.engine.connect() as db:
            row = db.execute(select(attestations).where(attestations.c.key == key)).first()
            if row is None:
                return None
            signers = self._signature_count(db, key)
        return Receipt(
            key,
            Status(row.status),
            signers,
            self._thresholds([row.kind])[row.kind],
            tx_hash=row.tx_hash,
            error=row.error,
        )

    # -- internals ------------------------------------------------------------------------

    def _collect(self, submissions: Sequence[Submission]) -> list[Receipt]:
        kinds = {int(MILESTONE_KIND.get(Milestone(s.attestation.milestone), OracleKind.NONE)) for s in submissions}
        thresholds = self._thresholds(sorted(kinds - {int(OracleKind.NONE)}))
        checked: list[tuple[Submission, str, int, str | None]] = []
        for s in submissions:
            kind = int(MILESTONE_KIND.get(Milestone(s.attestation.milestone), OracleKind.NONE))
            document = self.escrow.attestation_document(s.attestation)
            recovered = recover_typed_data(document, s.signature)
            checked.append((s, attestation_key(s.attestation), kind, recovered))
        active = self._active({(r, k) for _, _, k, r in checked if r is not None and k})
        receipts: list[Receipt] = []
        now = int(time.time())
        with self.engine.begin() as db:
            for s, key, kind, recovered in checked:
                threshold = thresholds.get(kind, 0)
                if not kind:
                    receipts.append(
                        Receipt(
                            key,
                            None,
                            0,
                            0,
                            Rejection.WRONG_KIND,
                            f"milestone {s.attestation.milestone} has no oracle kind",
                        )
                    )
                    continue
                if recovered is None:
                    receipts.append(
                        Receipt(
                            key, None, 0, threshold, Rejection.BAD_SIGNATURE, "the signature recovers to no address"
                        )
                    )
                    continue
                if recovered != s.oracle:
                    detail = f"signed by {recovered}, not by {s.oracle}"
                    receipts.append(Receipt(key, None, 0, threshold, Rejection.SIGNER_MISMATCH, detail))
                    continue
                if not active[(recovered, kind)]:
                    detail = f"{recovered} is not an active {OracleKind(kind).name.lower()} oracle on chain"
                    receipts.append(Receipt(key, None, 0, threshold, Rejection.NOT_AN_ORACLE, detail))
                    continue
                row = db.execute(select(attestations).where(attestations.c.key == key)).first()
                if row is None:
                    a = s.attestation
                    db.execute(
                        insert(attestations).values(
                            key=key,
                            order_id=a.order_id,
                            milestone=int(a.milestone),
                            occurred_at=a.occurred_at,
                            evidence_hash="0x" + a.evidence_hash.hex(),
                            kind=kind,
                            status=Status.COLLECTING,
                            updated_at=now,
                        )
                    )
                    status = Status.COLLECTING
                else:
                    status = Status(row.status)
                if status in OPEN:
                    have = db.execute(
                        select(attestation_signatures.c.oracle).where(
                            attestation_signatures.c.key == key, attestation_signatures.c.oracle == recovered
                        )
                    ).first()
                    if have is None:
                        db.execute(
                            insert(attestation_signatures).values(key=key, oracle=recovered, signature=s.signature)
                        )
                    signers = self._signature_count(db, key)
                    if status == Status.COLLECTING and signers >= threshold:
                        status = Status.READY
                        db.execute(self._set(key, status))
                else:
                    signers = self._signature_count(db, key)
                receipts.append(Receipt(key, status, signers, threshold))
        return receipts

    def _flush(self) -> dict[str, Receipt]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(attestations)
                .where(attestations.c.status.in_([Status.READY, Status.WAITING]))
                .order_by(attestations.c.order_id, attestations.c.milestone)
            ).all()
            signatures = {
                row.key: [
                    (r.oracle, r.signature)
                    for r in db.execute(
                        select(attestation_signatures).where(
                            attestation_signatures.c.key == row.key, attestation_signatures.c.withdrawn.is_(False)
                        )
                    )
                ]
                for row in rows
            }
        if not rows:
            return {}
        calls = []
        for row in rows:
            attestation = Attestation(
                row.order_id, Milestone(row.milestone), row.occurred_at, bytes.fromhex(row.evidence_hash[2:])
            )
            sigs = [sig for _, sig in sorted(signatures[row.key])]
            calls.append(self._attest.call(self.relayer, attestation.as_tuple(), sigs, label=row.key))
        result = self._sender.send(calls)
        failures = {f.index: f for f in result.failures}
        outcome: dict[str, Receipt] = {}
        with self.engine.begin() as db:
            for i, row in enumerate(rows):
                failure = failures.get(i)
                tx_hash: str | None
                error: str | None
                if failure is None:
                    status, tx_hash, error = Status.SUBMITTED, result.tx_hashes[i], None
                else:
                    name = failure.error_name
                    error = str(failure)
                    tx_hash = result.tx_hashes[i] if i < len(result.tx_hashes) else None
                    if name in RETRYABLE:
                        status = Status.WAITING
                    elif name in ALREADY:
                        status = Status.ALREADY_ATTESTED
                    else:
                        status = Status.FAILED
                db.execute(self._set(row.key, status, tx_hash=tx_hash, error=error))
                outcome[row.key] = Receipt(row.key, status, len(signatures[row.key]), 0, tx_hash=tx_hash, error=error)
        return outcome

    def _refresh(self, receipt: Receipt, submitted: dict[str, Receipt]) -> Receipt:
        later = submitted.get(receipt.key)
        if later is None or receipt.rejection is not None:
            return receipt
        return Receipt(
            receipt.key, later.status, receipt.signers, receipt.threshold, tx_hash=later.tx_hash, error=later.error
        )

    def _thresholds(self, kinds: Sequence[int]) -> dict[int, int]:
        answers = self._reads.read([(self._threshold, (k,)) for k in kinds])
        return {k: int(a[0]) for k, a in zip(kinds, answers, strict=True)}

    def _active(self, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], bool]:
        ordered = sorted(pairs)
        answers = self._reads.read([(self._is_oracle, pair) for pair in ordered])
        return {pair: bool(a[0]) for pair, a in zip(ordered, answers, strict=True)}

    @staticmethod
    def _signature_count(db: Connection, key: str) -> int:
        count = db.execute(
            select(func.count()).where(
                attestation_signatures.c.key == key, attestation_signatures.c.withdrawn.is_(False)
            )
        ).scalar_one()
        return int(count)

    @staticmethod
    def _set(key: str, status: Status, *, tx_hash: str | None = None, error: str | None = None) -> Update:
        return (
            update(attestations)
            .where(attestations.c.key == key)
            .values(status=status, tx_hash=tx_hash, error=error, updated_at=int(time.time()))
        )
