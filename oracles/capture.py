"""An oracle service's capture: EPCIS document in, signed attestations out, every event accounted for.

``capture(body)`` parses the document (a bad one raises ``InvalidEpcis`` and leaves no
trace), maps each event to a milestone (or a reason to ignore it), lets the ``Witness``
judge and sign, hands the signatures to the aggregator and records the whole outcome with
the document itself, in one transaction. The same document captured again is answered
from the record (idempotent); if part of it failed for a passing reason (the aggregator did
not answer), capturing it again retries exactly that part. An event this oracle signed
before, in whatever document, is not signed again: it is reported as a ``duplicate``.

An EPCIS error declaration is signed and sent to the aggregator: while the declared event's
attestation is still below its quorum it withdraws this oracle's signature; once the event
is attested on chain, a quorum of declarations contests the milestone and the order goes to
dispute.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Row, insert, select, update

from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone
from oracles.aggregator import OPEN, DeclarationReceipt, Receipt, Status, Submission
from oracles.epcis import DEFAULT_MAX_BYTES, EpcisEvent, ParsedDocument, parse_document
from oracles.errors import AggregatorUnavailable, CaptureNotFound, OracleInactive
from oracles.hashing import evidence_bytes32
from oracles.mapping import ErrorDeclared, Ignored, Mapped, map_event
from oracles.parallel import DocumentParser
from oracles.store import capture_events, captures, signed
from oracles.witness import Refused, SignedAttestation, Witness


class AttestationSink(Protocol):
    """Where signatures go: the ``Aggregator`` itself, or an HTTP client of one."""

    def add(self, submissions: Sequence[Submission]) -> list[Receipt]: ...

    def declare(self, declaration: ErrorDeclaration, oracle: str, signature: bytes) -> DeclarationReceipt: ...


class Outcome(StrEnum):
    """What became of one event (for one PO)."""

    ATTESTED = "attested"  # on chain (by this quorum, or it was already)
    PENDING = "pending"  # signed; the quorum or an earlier milestone is still missing
    REFUSED = "refused"  # this oracle will not vouch for it, or the chain refused it for good
    IGNORED = "ignored"  # no milestone in it
    DUPLICATE = "duplicate"  # signed before, in an earlier capture
    DECLARED = "declared"  # an error declaration, acted upon
    FAILED = "failed"  # the aggregator did not answer: capture the document again to retry


@dataclass(frozen=True)
class EventOutcome:
    position: int
    event_id: str | None
    event_hash: str | None
    biz_step: str | None
    po_ref: str
    outcome: Outcome
    reason: str | None = None
    detail: str | None = None
    order_id: int | None = None
    milestone: int | None = None
    occurred_at: int | None = None
    aggregation: str | None = None
    tx_hash: str | None = None


@dataclass(frozen=True)
class CaptureJob:
    capture_id: str
    received_at: int
    document_kind: str
    status: str  # done | incomplete
    attempts: int
    events: tuple[EventOutcome, ...] = field(default=())
    repeated: bool = False  # answered from an earlier capture of the same document

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.events:
            counts[e.outcome] = counts.get(e.outcome, 0) + 1
        return counts


def _aggregated(receipt: Receipt) -> tuple[Outcome, str | None, str | None]:
    """The capture's view of an aggregator receipt: outcome, reason, detail."""
    if receipt.rejection is not None:
        return Outcome.REFUSED, str(receipt.rejection), receipt.detail
    assert receipt.status is not None
    if receipt.status in (Status.SUBMITTED, Status.ALREADY_ATTESTED):
        return Outcome.ATTESTED, None, None
    if receipt.status in OPEN:
        return Outcome.PENDING, None, f"{receipt.signers} of {receipt.threshold} signatures"
    return Outcome.REFUSED, str(receipt.status), receipt.error


class CaptureService:
    """One oracle service: ``witness`` judges and signs, ``sink`` aggregates, ``engine`` records."""

    def __init__(
        self,
        witness: Witness,
        sink: AttestationSink,
        engine: Engine,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], int] | None = None,
        parser: DocumentParser | None = None,
    ) -> None:
        """``parser`` hashes large documents' events in worker processes (``oracles.parallel``);
        without one, every document is parsed in process. The result is the same, so the parser
        may be set or cleared while the service runs (``api.oracle_app`` does, with its pool)."""
        self.witness = witness
        self.sink = sink
        self.engine = engine
        self.max_bytes = max_bytes
        self.clock = clock or witness.chain.timestamp
        # The chain's clock, unless one was given: read with the oracle's standing (``Witness.active_at``).
        self._chain_clock = clock is None
        self.parser = parser
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------

    def job(self, capture_id: str) -> CaptureJob:
        with self.engine.connect() as db:
            return self._job(db, capture_id)

    def document(self, capture_id: str) -> bytes:
        """The document exactly as captured: what an auditor recomputes evidence hashes from."""
        with self.engine.connect() as db:
            row = db.execute(select(captures.c.document).where(captures.c.capture_id == capture_id)).first()
        if row is None:
            raise CaptureNotFound(capture_id)
        return bytes(row.document)

    # -- capturing ----------------------------------------------------------------------

    def capture(self, body: bytes) -> CaptureJob:
        """Capture one EPCIS document (JSON or JSON-LD bytes); see the module docstring.

        Captures run one at a time: the same document posted twice at once must meet the
        record of the first, not race it (parsing, the expensive part, runs outside the lock).
        """
        parser = self.parser  # read once: an app's lifespan sets and clears it (api.oracle_app)
        if parser is not None:
            parsed = parser.parse(body, max_bytes=self.max_bytes)
        else:
            parsed = parse_document(body, max_bytes=self.max_bytes)
        with self._lock:
            return self._capture(body, parsed)

    def prefetch(self, body: bytes) -> None:
        """Start hashing a document that will be captured next, while this service is busy with
        the one before (``oracles.parallel``); without a parser, nothing happens."""
        parser = self.parser
        if parser is not None:
            parser.prefetch(body, max_bytes=self.max_bytes)

    def _capture(self, body: bytes, parsed: ParsedDocument) -> CaptureJob:
        sha256 = hashlib.sha256(body).hexdigest()
        with self.engine.connect() as db:
            row = db.execute(select(captures).where(captures.c.sha256 == sha256)).first()
            if row is not None and row.status == "done":
                return self._job(db, row.capture_id, repeated=True)
        if self._chain_clock:
            active, now = self.witness.active_at()
        else:
            active, now = self.witness.is_active(), 0
        if not active:
            raise OracleInactive(self.witness.address, self.witness.kind.name.lower())
        if row is not None:
            return self._retry(row.capture_id, parsed.events)

        capture_id = "cap_" + secrets.token_hex(12)
        if not self._chain_clock:
            now = self.clock()
        outcomes, fresh, delivered = self._process(capture_id, parsed.events, now)
        status = "incomplete" if any(o.outcome == Outcome.FAILED for o in outcomes) else "done"
        received_at = int(time.time())
        with self.engine.begin() as db:
            db.execute(
                insert(captures).values(
                    capture_id=capture_id,
                    received_at=received_at,
                    sha256=sha256,
                    size=len(body),
                    document_kind=str(parsed.kind),
                    document=body,
                    status=status,
                    attempts=1,
                )
            )
            self._write_outcomes(db, capture_id, outcomes, fresh, delivered)
            positions = [o.position for o in outcomes]
            if len(set(positions)) != len(positions):
                # Several POs at one position: their order is the database's collation's; read it back.
                return self._job(db, capture_id)
        # What was just written, as ``_job`` would read it back (the rows' own types), without the read.
        return CaptureJob(
            capture_id=capture_id,
            received_at=received_at,
            document_kind=str(parsed.kind),
            status=status,
            attempts=1,
            events=tuple(sorted((_as_stored(o) for o in outcomes), key=lambda o: o.position)),
        )

    def _retry(self, capture_id: str, events: Sequence[EpcisEvent]) -> CaptureJob:
        """Deliver again what failed to reach the aggregator last time."""
        with self.engine.connect() as db:
            failed = db.execute(
                select(capture_events).where(
                    capture_events.c.capture_id == capture_id, capture_events.c.outcome == Outcome.FAILED
                )
            ).all()
            pending = {
                (r.position, r.po_ref): db.execute(
                    select(signed).where(signed.c.evidence_hash == r.event_hash, signed.c.po_ref == r.po_ref)
                ).one()
                for r in failed
            }
        submissions = {key: self._submission(row) for key, row in pending.items()}
        try:
            receipts = dict(zip(submissions, self.sink.add(list(submissions.values())), strict=True))
        except AggregatorUnavailable:
            receipts = {}
        with self.engine.begin() as db:
            for (position, po_ref), receipt in receipts.items():
                outcome, reason, detail = _aggregated(receipt)
                db.execute(
                    update(capture_events)
                    .where(
                        capture_events.c.capture_id == capture_id,
                        capture_events.c.position == position,
                        capture_events.c.po_ref == po_ref,
                    )
                    .values(
                        outcome=outcome,
                        reason=reason,
                        detail=detail,
                        aggregation=receipt.status,
                        tx_hash=receipt.tx_hash,
                    )
                )
                db.execute(
                    update(signed)
                    .where(
                        signed.c.evidence_hash == pending[(position, po_ref)].evidence_hash, signed.c.po_ref == po_ref
                    )
                    .values(delivered=True)
                )
            left = db.execute(
                select(capture_events.c.position).where(
                    capture_events.c.capture_id == capture_id, capture_events.c.outcome == Outcome.FAILED
                )
            ).first()
            db.execute(
                update(captures)
                .where(captures.c.capture_id == capture_id)
                .values(status="incomplete" if left else "done", attempts=captures.c.attempts + 1)
            )
            return self._job(db, capture_id)

    def _process(
        self, capture_id: str, events: Sequence[EpcisEvent], now: int
    ) -> tuple[list[EventOutcome], list[SignedAttestation], bool]:
        """Outcomes in document order, the new signatures, and whether the aggregator took them."""
        results = [map_event(e) for e in events]
        judged = iter(self.witness.judge([r for r in results if isinstance(r, Mapped)], now))
        seen = self._signed_before(
            [(r.evidence_hash, ref) for r in results if isinstance(r, Mapped) for ref in r.po_refs]
        )
        slots: list[EventOutcome | tuple[EpcisEvent, int, SignedAttestation]] = []
        fresh: list[SignedAttestation] = []
        for position, (event, result) in enumerate(zip(events, results, strict=True)):
            if isinstance(result, Ignored):
                slots.append(
                    _outcome(event, position, _first(event.po_refs), Outcome.IGNORED, result.reason, result.detail)
                )
            elif isinstance(result, ErrorDeclared):
                slots.append(self._declared(event, position, result))
            else:
                for j in next(judged):
                    if isinstance(j, Refused):
                        where = {"order_id": j.order_id or None, "milestone": int(j.milestone)}
                        refused = _outcome(event, position, j.po_ref, Outcome.REFUSED, j.reason, j.detail, **where)
                        slots.append(replace(refused, occurred_at=result.occurred_at))
                        continue
                    a = j.attestation
                    earlier = seen.get((j.evidence, j.po_ref))
                    if earlier is not None:
                        slots.append(
                            _outcome(event, position, j.po_ref, Outcome.DUPLICATE, None, f"signed in {earlier}",
                                     order_id=a.order_id, milestone=int(a.milestone), occurred_at=a.occurred_at)
                        )  # fmt: skip
                        continue
                    seen[(j.evidence, j.po_ref)] = capture_id
                    fresh.append(j)
                    slots.append((event, position, j))
        delivered, unreachable = True, ""
        receipts: list[Receipt] = []
        if fresh:
            try:
                receipts = self.sink.add([Submission(j.attestation, j.oracle, j.signature) for j in fresh])
            except AggregatorUnavailable as exc:
                delivered, unreachable = False, exc.reason
        answers = iter(receipts)
        outcomes: list[EventOutcome] = []
        for slot in slots:
            if isinstance(slot, EventOutcome):
                outcomes.append(slot)
                continue
            event, position, j = slot
            a = j.attestation
            where = {"order_id": a.order_id, "milestone": int(a.milestone), "occurred_at": a.occurred_at}
            if not delivered:
                outcomes.append(
                    _outcome(event, position, j.po_ref, Outcome.FAILED, "aggregator_unavailable", unreachable, **where)
                )
                continue
            receipt = next(answers)
            outcome, reason, detail = _aggregated(receipt)
            # The aggregation as its row stores it (a plain str): what ``_as_stored`` would make of it.
            aggregation = None if receipt.status is None else str(receipt.status)
            outcomes.append(
                _outcome(event, position, j.po_ref, outcome, reason, detail, aggregation=aggregation,
                         tx_hash=receipt.tx_hash, **where)
            )  # fmt: skip
        return outcomes, fresh, delivered

    def _declared(self, event: EpcisEvent, position: int, declared: ErrorDeclared) -> EventOutcome:
        """Sign the declaration and hand it to the aggregator: it withdraws this oracle's
        signature while the attestation is pending, or gathers a quorum to contest it on chain."""
        po_ref = _first(declared.po_refs)
        signed_declaration = self.witness.declare(declared)
        if signed_declaration is None:
            detail = "the declared event has no event hash to name it by"
            return _outcome(event, position, po_ref, Outcome.DECLARED, "unidentified", detail)
        d = signed_declaration
        try:
            receipt = self.sink.declare(d.declaration, d.oracle, d.signature)
        except AggregatorUnavailable as exc:
            return _outcome(event, position, po_ref, Outcome.FAILED, "aggregator_unavailable", exc.reason)
        where = {"milestone": None if declared.milestone is None else int(declared.milestone)}
        return _outcome(
            event,
            position,
            po_ref,
            Outcome.DECLARED,
            str(receipt.status),
            receipt.detail,
            tx_hash=receipt.tx_hash,
            **where,
        )

    # -- records ------------------------------------------------------------------------

    def _signed_before(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not keys:
            return {}
        hashes = sorted({h for h, _ in keys})
        with self.engine.connect() as db:
            rows = db.execute(
                select(signed.c.evidence_hash, signed.c.po_ref, signed.c.capture_id).where(
                    signed.c.evidence_hash.in_(hashes)
                )
            ).all()
        wanted = set(keys)
        return {(r.evidence_hash, r.po_ref): r.capture_id for r in rows if (r.evidence_hash, r.po_ref) in wanted}

    @staticmethod
    def _write_outcomes(
        db: Connection,
        capture_id: str,
        outcomes: Sequence[EventOutcome],
        fresh: Sequence[SignedAttestation],
        delivered: bool,
    ) -> None:
        if outcomes:
            db.execute(insert(capture_events), [{"capture_id": capture_id, **_row(o)} for o in outcomes])
        if fresh:
            db.execute(
                insert(signed),
                [
                    {
                        "evidence_hash": j.evidence,
                        "po_ref": j.po_ref,
                        "capture_id": capture_id,
                        "order_id": j.attestation.order_id,
                        "milestone": int(j.attestation.milestone),
                        "occurred_at": j.attestation.occurred_at,
                        "signature": j.signature,
                        "delivered": delivered,
                    }
                    for j in fresh
                ],
            )

    def _submission(self, row: Row[Any]) -> Submission:
        """A row of ``signed``, as the aggregator takes it."""
        attestation = Attestation(
            row.order_id, Milestone(row.milestone), row.occurred_at, evidence_bytes32(row.evidence_hash)
        )
        return Submission(attestation, self.witness.address, bytes(row.signature))

    def _job(self, db: Connection, capture_id: str, *, repeated: bool = False) -> CaptureJob:
        row = db.execute(select(captures).where(captures.c.capture_id == capture_id)).first()
        if row is None:
            raise CaptureNotFound(capture_id)
        events = db.execute(
            select(capture_events)
            .where(capture_events.c.capture_id == capture_id)
            .order_by(capture_events.c.position, capture_events.c.po_ref)
        ).all()
        return CaptureJob(
            capture_id=row.capture_id,
            received_at=row.received_at,
            document_kind=row.document_kind,
            status=row.status,
            attempts=row.attempts,
            events=tuple(
                EventOutcome(
                    position=e.position,
                    event_id=e.event_id,
                    event_hash=e.event_hash,
                    biz_step=e.biz_step,
                    po_ref=e.po_ref,
                    outcome=Outcome(e.outcome),
                    reason=e.reason,
                    detail=e.detail,
                    order_id=e.order_id,
                    milestone=e.milestone,
                    occurred_at=e.occurred_at,
                    aggregation=e.aggregation,
                    tx_hash=e.tx_hash,
                )
                for e in events
            ),
            repeated=repeated,
        )


def _outcome(
    event: EpcisEvent,
    position: int,
    po_ref: str,
    outcome: Outcome,
    reason: str | None,
    detail: str | None,
    **more: Any,
) -> EventOutcome:
    return EventOutcome(
        position=position,
        event_id=event.event_id,
        event_hash=event.event_hash,
        biz_step=event.biz_step,
        po_ref=po_ref,
        outcome=outcome,
        reason=None if reason is None else str(reason),
        detail=detail,
        **more,
    )


def _as_stored(o: EventOutcome) -> EventOutcome:
    """``o`` with the plain types its row gives back (``aggregation`` a ``str``, not a ``Status``)."""
    if o.aggregation is None or type(o.aggregation) is str:
        return o
    return replace(o, aggregation=str(o.aggregation))


def _first(refs: Sequence[str]) -> str:
    return refs[0] if refs else ""


def _row(o: EventOutcome) -> dict[str, object]:
    return {
        "position": o.position,
        "po_ref": o.po_ref,
        "event_id": o.event_id,
        "event_hash": o.event_hash,
        "biz_step": o.biz_step,
        "outcome": str(o.outcome),
        "reason": o.reason,
        "detail": o.detail,
        "order_id": o.order_id,
        "milestone": o.milestone,
        "occurred_at": o.occurred_at,
        "aggregation": None if o.aggregation is None else str(o.aggregation),
        "tx_hash": o.tx_hash,
    }
