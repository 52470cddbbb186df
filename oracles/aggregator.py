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

Error declarations about evidence already on chain are gathered the same way, and a quorum
of the milestone's kind contests the milestone (``declare``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Connection, Engine, Row, Update, bindparam, func, insert, select, update

from ledger.clients.escrow import TradeEscrowClient
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone
from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchSender, Call
from ledger.eth.chain import Chain
from ledger.eth.eip712 import digest, recover_typed_data, signer_of, typed_data_digest
from ledger.eth.reads import RawView, ViewBatch
from ledger.model.common import OracleKind
from oracles.store import attestation_signatures, attestations, declaration_signatures, declarations
from oracles.witness import MILESTONE_KIND

#: Contract errors after which the same attestation may succeed later.
RETRYABLE: Final = frozenset({"TradeEscrowMilestoneOutOfOrder"})
#: Contract errors meaning the evidence is on chain already.
ALREADY: Final = frozenset({"TradeEscrowEvidenceReused"})
#: EIP-712 digests of recent attestations kept (``Aggregator._digest``): a quorum's worth of documents.
DIGESTS_KEPT: Final = 8192


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


class DeclarationStatus(StrEnum):
    WITHDRAWN = "withdrawn"  # the oracle's signature left a pending attestation
    NOT_SIGNED = "not_signed"  # the attestation is pending, but this oracle never signed it
    COLLECTING = "collecting"  # on chain already: declarations gathered toward a contest
    CONTESTED = "contested"  # the quorum's contestMilestone put the order in dispute
    FAILED = "failed"  # the contract refused the contest (e.g. the order is closed)
    UNKNOWN_EVIDENCE = "unknown_evidence"  # neither pending here nor on chain
    REJECTED = "rejected"  # bad signature, or not an active oracle of the kind


@dataclass(frozen=True)
class DeclarationReceipt:
    status: DeclarationStatus
    detail: str = ""
    signers: int = 0
    threshold: int = 0
    tx_hash: str | None = None
    keys: tuple[str, ...] = ()


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
        self._evidence = RawView.of(self.escrow.address, build["TradeEscrow"].abi, "evidenceOf")
        self._sender = BatchSender(chain, raise_on_failure=False)
        self._lock = threading.Lock()
        self._digests: OrderedDict[Attestation, bytes] = OrderedDict()

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

    def declare(self, declaration: ErrorDeclaration, oracle: str, signature: bytes) -> DeclarationReceipt:
        """``oracle`` declares the event behind ``declaration.evidence_hash`` erroneous.

        While attestations with that evidence are still open, this withdraws the oracle's own
        signature from them (those left below their quorum become ``withdrawn``). Once the
        evidence is on chain, declarations are gathered like attestations and a quorum of
        the milestone's kind contests it (``contestMilestone``: the order goes to dispute).
        """
        with self._lock:
            document = self.escrow.error_declaration_document(declaration)
            recovered = recover_typed_data(document, signature)
            if recovered is None or recovered != oracle:
                detail = "the signature recovers to no address" if recovered is None else f"signed by {recovered}"
                return DeclarationReceipt(DeclarationStatus.REJECTED, detail)
            evidence = "0x" + declaration.evidence_hash.hex()
            with self.engine.connect() as db:
                open_rows = db.execute(
                    select(attestations).where(
                        attestations.c.evidence_hash == evidence, attestations.c.status.in_([str(s) for s in OPEN])
                    )
                ).all()
            if open_rows:
                return self._withdraw(open_rows, oracle)
            order_id, milestone = self._evidence_of(declaration.evidence_hash)
            if not order_id:
                return DeclarationReceipt(DeclarationStatus.UNKNOWN_EVIDENCE, f"{evidence} was never attested")
            kind = int(MILESTONE_KIND[Milestone(milestone)])
            if not self._active({(oracle, kind)})[(oracle, kind)]:
                return DeclarationReceipt(
                    DeclarationStatus.REJECTED, f"{oracle} is not an active {OracleKind(kind).name.lower()} oracle"
                )
            return self._contest(declaration, oracle, signature, order_id, kind)

    def _withdraw(self, rows: Sequence[Row[Any]], oracle: str) -> DeclarationReceipt:
        changed: list[str] = []
        with self.engine.begin() as db:
            for row in rows:
                result = db.execute(
                    update(attestation_signatures)
                    .where(
                        attestation_signatures.c.key == row.key,
                        attestation_signatures.c.oracle == oracle,
                        attestation_signatures.c.withdrawn.is_(False),
                    )
                    .values(withdrawn=True)
                )
                if not result.rowcount:
                    continue
                changed.append(row.key)
                if self._signature_count(db, row.key) < self._thresholds([row.kind])[row.kind]:
                    db.execute(self._set(row.key, Status.WITHDRAWN, error=f"withdrawn by {oracle}"))
        if not changed:
            return DeclarationReceipt(DeclarationStatus.NOT_SIGNED, f"{oracle} had not signed the pending attestation")
        return DeclarationReceipt(DeclarationStatus.WITHDRAWN, f"{oracle}'s signature withdrawn", keys=tuple(changed))

    def _contest(
        self, declaration: ErrorDeclaration, oracle: str, signature: bytes, order_id: int, kind: int
    ) -> DeclarationReceipt:
        key = (
            "0x"
            + keccak(
                declaration.evidence_hash + declaration.reason_hash + declaration.declared_at.to_bytes(8, "big")
            ).hex()
        )
        threshold = self._thresholds([kind])[kind]
        with self.engine.begin() as db:
            row = db.execute(select(declarations).where(declarations.c.key == key)).first()
            if row is None:
                db.execute(
                    insert(declarations).values(
                        key=key,
                        evidence_hash="0x" + declaration.evidence_hash.hex(),
                        reason_hash="0x" + declaration.reason_hash.hex(),
                        declared_at=declaration.declared_at,
                        kind=kind,
                        order_id=order_id,
                        status=DeclarationStatus.COLLECTING,
                    )
                )
            elif row.status != DeclarationStatus.COLLECTING:
                return DeclarationReceipt(DeclarationStatus(row.status), row.error or "", tx_hash=row.tx_hash)
            have = db.execute(
                select(declaration_signatures.c.oracle).where(
                    declaration_signatures.c.key == key, declaration_signatures.c.oracle == oracle
                )
            ).first()
            if have is None:
                db.execute(insert(declaration_signatures).values(key=key, oracle=oracle, signature=signature))
            signed = sorted(
                (r.oracle, bytes(r.signature))
                for r in db.execute(select(declaration_signatures).where(declaration_signatures.c.key == key))
            )
        if len(signed) < threshold:
            return DeclarationReceipt(
                DeclarationStatus.COLLECTING,
                f"{len(signed)} of {threshold} signatures",
                signers=len(signed),
                threshold=threshold,
            )
        contest = self.escrow.calls.contest_milestone(declaration, [sig for _, sig in signed])
        call = Call.from_call(contest, self.relayer, label=key)
        result = self._sender.send([call])
        if result.failures:
            status, error, tx_hash = DeclarationStatus.FAILED, str(result.failures[0]), None
        else:
            status, error, tx_hash = DeclarationStatus.CONTESTED, None, result.tx_hashes[0]
        with self.engine.begin() as db:
            db.execute(
                update(declarations)
                .where(declarations.c.key == key)
                .values(status=status, tx_hash=tx_hash, error=error)
            )
        detail = f"order {order_id} disputed" if error is None else error
        return DeclarationReceipt(status, detail, signers=len(signed), threshold=threshold, tx_hash=tx_hash)

    def _evidence_of(self, evidence_hash: bytes) -> tuple[int, int]:
        order_id, milestone = self._reads.read([(self._evidence, (evidence_hash,))])[0]
        return int(order_id), int(milestone)

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
        """Verify every signature, then keep the good ones with a handful of set-based statements
        (a document brings hundreds: one statement per row would cost more than the chain)."""
        kind_of = [int(MILESTONE_KIND.get(Milestone(s.attestation.milestone), OracleKind.NONE)) for s in submissions]
        keys = [attestation_key(s.attestation) for s in submissions]
        recovered = [signer_of(self._digest(s.attestation), s.signature) for s in submissions]
        thresholds, active = self._standing(
            sorted(set(kind_of) - {int(OracleKind.NONE)}),
            {(r, k) for r, k in zip(recovered, kind_of, strict=True) if r is not None and k},
        )
        rejected: dict[int, Receipt] = {}
        good: dict[int, str] = {}  # index -> signer
        for i, (s, key, kind, signer) in enumerate(zip(submissions, keys, kind_of, recovered, strict=True)):
            threshold = thresholds.get(kind, 0)
            if not kind:
                detail = f"milestone {s.attestation.milestone} has no oracle kind"
                rejected[i] = Receipt(key, None, 0, 0, Rejection.WRONG_KIND, detail)
            elif signer is None:
                detail = "the signature recovers to no address"
                rejected[i] = Receipt(key, None, 0, threshold, Rejection.BAD_SIGNATURE, detail)
            elif signer != s.oracle:
                detail = f"signed by {signer}, not by {s.oracle}"
                rejected[i] = Receipt(key, None, 0, threshold, Rejection.SIGNER_MISMATCH, detail)
            elif not active[(signer, kind)]:
                detail = f"{signer} is not an active {OracleKind(kind).name.lower()} oracle on chain"
                rejected[i] = Receipt(key, None, 0, threshold, Rejection.NOT_AN_ORACLE, detail)
            else:
                good[i] = signer
        wanted = sorted({keys[i] for i in good})
        now = int(time.time())
        with self.engine.begin() as db:
            status = {
                row.key: Status(row.status)
                for row in db.execute(
                    select(attestations.c.key, attestations.c.status).where(attestations.c.key.in_(wanted))
                )
            }
            fresh: dict[str, dict[str, Any]] = {}
            for i in good:
                key, a = keys[i], submissions[i].attestation
                if key not in status and key not in fresh:
                    fresh[key] = {
                        "key": key,
                        "order_id": a.order_id,
                        "milestone": int(a.milestone),
                        "occurred_at": a.occurred_at,
                        "evidence_hash": "0x" + a.evidence_hash.hex(),
                        "kind": kind_of[i],
                        "status": Status.COLLECTING,
                        "tx_hash": None,
                        "error": None,
                        "updated_at": now,
                    }
            if fresh:
                db.execute(insert(attestations), list(fresh.values()))
                status.update(dict.fromkeys(fresh, Status.COLLECTING))
            open_keys = [k for k in wanted if status[k] in OPEN]
            # Every signature of these attestations (withdrawn ones too: a withdrawn signer does not
            # sign again); with the new ones below, the counts the quorum is judged by.
            held = db.execute(
                select(
                    attestation_signatures.c.key, attestation_signatures.c.oracle, attestation_signatures.c.withdrawn
                ).where(attestation_signatures.c.key.in_(wanted))
            ).all()
            have = {(row.key, row.oracle) for row in held}
            counts = Counter(row.key for row in held if not row.withdrawn)
            new_signatures: dict[tuple[str, str], bytes] = {}
            for i, signer in good.items():
                pair = (keys[i], signer)
                if status[keys[i]] in OPEN and pair not in have:
                    new_signatures.setdefault(pair, submissions[i].signature)
            if new_signatures:
                db.execute(
                    insert(attestation_signatures),
                    [
                        {"key": k, "oracle": o, "signature": sig, "withdrawn": False}
                        for (k, o), sig in new_signatures.items()
                    ],
                )
            counts.update(k for k, _ in new_signatures)
            kind_by_key = {keys[i]: kind_of[i] for i in good}
            ready = [
                k
                for k in open_keys
                if status[k] == Status.COLLECTING and counts.get(k, 0) >= thresholds[kind_by_key[k]]
            ]
            if ready:
                db.execute(
                    update(attestations)
                    .where(attestations.c.key.in_(ready))
                    .values(status=Status.READY, updated_at=now)
                )
                status.update(dict.fromkeys(ready, Status.READY))
        return [
            rejected[i]
            if i in rejected
            else Receipt(keys[i], status[keys[i]], counts.get(keys[i], 0), thresholds[kind_of[i]])
            for i in range(len(submissions))
        ]

    def _flush(self) -> dict[str, Receipt]:
        """Submit what is ready; again while a submission unblocks an attestation that waited
        for it (a DELIVERED behind its SHIPPED: a batch's gas estimates run before either is mined)."""
        outcome: dict[str, Receipt] = {}
        for _ in range(len(Milestone) + 1):
            round_ = self._flush_once()
            outcome.update(round_)
            statuses = {r.status for r in round_.values()}
            if Status.SUBMITTED not in statuses or Status.WAITING not in statuses:
                break
        return outcome

    def _flush_once(self) -> dict[str, Receipt]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(attestations)
                .where(attestations.c.status.in_([Status.READY, Status.WAITING]))
                .order_by(attestations.c.order_id, attestations.c.milestone)
            ).all()
            signatures: dict[str, list[tuple[str, bytes]]] = {row.key: [] for row in rows}
            for sig in db.execute(
                select(attestation_signatures).where(
                    attestation_signatures.c.key.in_(list(signatures)), attestation_signatures.c.withdrawn.is_(False)
                )
            ):
                signatures[sig.key].append((sig.oracle, bytes(sig.signature)))
        if not rows:
            return {}
        calls = []
        for row in rows:
            attestation = Attestation(
                row.order_id, Milestone(row.milestone), row.occurred_at, bytes.fromhex(row.evidence_hash[2:])
            )
            sigs = [sig for _, sig in sorted(signatures[row.key])]
            calls.append(Call.from_call(self.escrow.calls.attest(attestation, sigs), self.relayer, label=row.key))
        result = self._sender.send(calls)
        failures = {f.index: f for f in result.failures}
        outcome: dict[str, Receipt] = {}
        changes: list[dict[str, Any]] = []
        now = int(time.time())
        for i, row in enumerate(rows):
            failure = failures.get(i)
            tx_hash: str | None = result.tx_hashes[i] if i < len(result.tx_hashes) else None
            error: str | None = None
            status = Status.SUBMITTED
            if failure is not None:
                error = str(failure)
                if failure.error_name in RETRYABLE:
                    status = Status.WAITING
                elif failure.error_name in ALREADY:
                    status = Status.ALREADY_ATTESTED
                else:
                    status = Status.FAILED
            changes.append({"k": row.key, "s": str(status), "t": tx_hash, "e": error, "u": now})
            outcome[row.key] = Receipt(row.key, status, len(signatures[row.key]), 0, tx_hash=tx_hash, error=error)
        with self.engine.begin() as db:
            db.execute(
                update(attestations)
                .where(attestations.c.key == bindparam("k"))
                .values(status=bindparam("s"), tx_hash=bindparam("t"), error=bindparam("e"), updated_at=bindparam("u")),
                changes,
            )
        return outcome

    def _refresh(self, receipt: Receipt, submitted: dict[str, Receipt]) -> Receipt:
        later = submitted.get(receipt.key)
        if later is None or receipt.rejection is not None:
            return receipt
        return Receipt(
            receipt.key, later.status, receipt.signers, receipt.threshold, tx_hash=later.tx_hash, error=later.error
        )

    def _digest(self, attestation: Attestation) -> bytes:
        """The EIP-712 digest every oracle of the quorum signs for ``attestation``: computed for the
        first signature that arrives, and kept for the others (each then costs one recovery).
        ``signer_of`` over it answers what ``recover_typed_data`` over the document does."""
        hashed = self._digests.get(attestation)
        if hashed is None:
            document = self.escrow.attestation_document(attestation)
            hashed = typed_data_digest(document) or digest(document)
            self._digests[attestation] = hashed
            if len(self._digests) > DIGESTS_KEPT:
                self._digests.popitem(last=False)
        return hashed

    def _thresholds(self, kinds: Sequence[int]) -> dict[int, int]:
        answers = self._reads.read([(self._threshold, (k,)) for k in kinds])
        return {k: int(a[0]) for k, a in zip(kinds, answers, strict=True)}

    def _standing(
        self, kinds: Sequence[int], pairs: set[tuple[str, int]]
    ) -> tuple[dict[int, int], dict[tuple[str, int], bool]]:
        """``_thresholds(kinds)`` and ``_active(pairs)`` in one round trip."""
        ordered = sorted(pairs)
        answers = self._reads.read(
            [(self._threshold, (k,)) for k in kinds] + [(self._is_oracle, pair) for pair in ordered]
        )
        thresholds = {k: int(a[0]) for k, a in zip(kinds, answers[: len(kinds)], strict=True)}
        active = {pair: bool(a[0]) for pair, a in zip(ordered, answers[len(kinds) :], strict=True)}
        return thresholds, active

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
