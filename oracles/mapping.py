"""From EPCIS events to order milestones: which event proves what, for which order.

The rules (issue 5, DESIGN "Off-chain" -> Oracles):

==========================================  ======================================
bizStep                                     milestone
==========================================  ======================================
``shipping``                                ``SHIPPED``
``receiving``, ``arriving``                 ``DELIVERED``
``inspecting`` + ``conformant``             ``INSPECTION_PASSED``
``inspecting`` + ``non_conformant``         ``INSPECTION_FAILED``
==========================================  ======================================

An event concerns the orders whose PO references appear in its ``bizTransactionList`` with
type ``po`` (in any spelling). Everything else is *ignored with a reason*, never an error:
each :class:`Ignored` carries a stable machine code (:class:`IgnoreReason`) and a sentence.

Decisions:

- **Several PO references** in one event map to *each* of them (``Mapped.po_refs``): a
  consolidated shipment genuinely ships every order on it, and the chain still accepts one
  milestone per order. Repeats of the same reference count once.
- **Error declarations** are neither milestones nor noise: :class:`ErrorDeclared` says which
  event (``eventID`` and event hash) is declared erroneous, why and when, with the orders
  and milestone the original event stood for. The caller decides: dispute the order if that
  milestone was already attested, withdraw the pending attestation otherwise.
- ``DELETE`` events are ignored: they record the *end* of an association (objects leaving a
  business transaction, a pallet being unpacked), not the step happening.
- Only the five EPCIS event types are mapped; extension event types are ignored.
- An event whose hash could not be computed is ignored (``hash_unavailable``): an attestation
  must always point at reproducible evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ledger.domain.escrow import Milestone
from oracles.epcis import EVENT_TYPES, EpcisEvent, ErrorDeclaration
from oracles.hashing import evidence_bytes32

#: bizStep (bare CBV word) -> milestone, for the steps that need no verdict.
STEP_MILESTONES: dict[str, Milestone] = {
    "shipping": Milestone.SHIPPED,
    "receiving": Milestone.DELIVERED,
    "arriving": Milestone.DELIVERED,
}

#: disposition (bare CBV word) -> milestone, for bizStep ``inspecting``.
INSPECTION_VERDICTS: dict[str, Milestone] = {
    "conformant": Milestone.INSPECTION_PASSED,
    "non_conformant": Milestone.INSPECTION_FAILED,
}


class IgnoreReason(StrEnum):
    """Why an event leads to no milestone; stable codes for APIs, logs and tests."""

    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    NO_BIZ_STEP = "no_biz_step"
    UNMAPPED_BIZ_STEP = "unmapped_biz_step"
    INSPECTION_WITHOUT_VERDICT = "inspection_without_verdict"
    DELETE_ACTION = "delete_action"
    NO_PO = "no_po"
    HASH_UNAVAILABLE = "hash_unavailable"
    ERROR_DECLARATION_UNIDENTIFIED = "error_declaration_unidentified"


@dataclass(frozen=True)
class Mapped:
    """The event is evidence of ``milestone`` for every order in ``po_refs``."""

    event: EpcisEvent
    po_refs: tuple[str, ...]
    milestone: Milestone
    occurred_at: int
    evidence_hash: str

    @property
    def evidence_bytes32(self) -> bytes:
        """The digest of :attr:`evidence_hash`, as the attestation's ``evidenceHash``."""
        return evidence_bytes32(self.evidence_hash)


@dataclass(frozen=True)
class Ignored:
    """The event leads to no milestone; ``reason`` is the code, ``detail`` the explanation."""

    event: EpcisEvent
    reason: IgnoreReason
    detail: str


@dataclass(frozen=True)
class ErrorDeclared:
    """The event declares an earlier event erroneous (EPCIS 2.0 ``errorDeclaration``).

    ``declared_event_id`` / ``declared_event_hash`` identify the erroneous event (at least
    one is set). ``po_refs`` and ``milestone`` are what the erroneous event stood for
    (``milestone`` is ``None`` when it never mapped to one). ``reason`` is a bare CBV word
    such as ``incorrect_data`` or ``did_not_occur``, or a custom URI, or ``None``.
    """

    event: EpcisEvent
    declared_event_id: str | None
    declared_event_hash: str | None
    reason: str | None
    declaration_time: datetime
    declared_at: int
    corrective_event_ids: tuple[str, ...]
    po_refs: tuple[str, ...]
    milestone: Milestone | None


MappingResult = Mapped | Ignored | ErrorDeclared


def map_event(event: EpcisEvent) -> MappingResult:
    """What ``event`` means for orders: a milestone, an error declaration, or nothing (why)."""
    if event.error_declaration is not None:
        return _error_declared(event, event.error_declaration)
    outcome = _milestone(event)
    if isinstance(outcome, Ignored):
        return outcome
    if not event.po_refs:
        return Ignored(event, IgnoreReason.NO_PO, f"{outcome.name} event without a bizTransaction of type po")
    if event.event_hash is None:
        return Ignored(event, IgnoreReason.HASH_UNAVAILABLE, f"no event hash: {event.hash_error}")
    return Mapped(event, event.po_refs, outcome, event.occurred_at, event.event_hash)


def map_events(events: Iterable[EpcisEvent]) -> list[MappingResult]:
    """:func:`map_event` over a document's events, in order."""
    return [map_event(event) for event in events]


def _milestone(event: EpcisEvent) -> Milestone | Ignored:
    """The milestone the event's type, action, bizStep and disposition stand for."""
    if event.type not in EVENT_TYPES:
        return Ignored(event, IgnoreReason.UNKNOWN_EVENT_TYPE, f"event type {event.type!r} is not mapped")
    step = event.biz_step
    if step is None:
        return Ignored(event, IgnoreReason.NO_BIZ_STEP, "event has no bizStep")
    if step == "inspecting":
        verdict = INSPECTION_VERDICTS.get(event.disposition or "")
        if verdict is None:
            shown = "no disposition" if event.disposition is None else f"disposition {event.disposition!r}"
            return Ignored(
                event,
                IgnoreReason.INSPECTION_WITHOUT_VERDICT,
                f"inspecting with {shown}; only conformant or non_conformant is a verdict",
            )
        milestone = verdict
    elif step in STEP_MILESTONES:
        milestone = STEP_MILESTONES[step]
    else:
        return Ignored(event, IgnoreReason.UNMAPPED_BIZ_STEP, f"bizStep {step!r} maps to no milestone")
    if event.action == "DELETE":
        return Ignored(event, IgnoreReason.DELETE_ACTION, f"{step} with action DELETE ends an association")
    return milestone


def _error_declared(event: EpcisEvent, declaration: ErrorDeclaration) -> ErrorDeclared | Ignored:
    if event.event_id is None and event.event_hash is None:
        return Ignored(
            event,
            IgnoreReason.ERROR_DECLARATION_UNIDENTIFIED,
            f"error declaration without eventID, and no event hash: {event.hash_error}",
        )
    original = _milestone(event)
    return ErrorDeclared(
        event=event,
        declared_event_id=event.event_id,
        declared_event_hash=event.event_hash,
        reason=declaration.reason,
        declaration_time=declaration.declaration_time,
        declared_at=declaration.declared_at,
        corrective_event_ids=declaration.corrective_event_ids,
        po_refs=event.po_refs,
        milestone=None if isinstance(original, Ignored) else original,
    )
