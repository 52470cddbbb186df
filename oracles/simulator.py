"""Deterministic generator of realistic EPCIS 2.0 documents for orders, with known outcomes.

Tests, the demo and the benchmarks need logistics data that looks like what carriers and
warehouses send: JSON-LD with the GS1 context, EPC URNs (SGTINs on the goods, SGLNs for read
points and sites, PGLNs for parties), local time zones, a despatch advice next to the PO, and
some events that map to nothing (a carrier's ``transporting`` scan). Every choice comes from
one seeded :class:`random.Random`, so a seed reproduces a document byte for byte.

Each :class:`Shipment` carries the milestones its document must produce once parsed and
mapped (:attr:`Shipment.expected`), which is how the round trip is tested.

=====================  =============================================================
outcome                events (milestones)
=====================  =============================================================
``on_time``            shipping, [transporting], receiving by deliver-by,
                       inspecting ``conformant`` if the order requires inspection
``late``               shipping, transporting, receiving after deliver-by,
                       inspecting ``conformant`` if required
``lost``               shipping, transporting, then nothing
``damaged``            shipping, receiving with disposition ``damaged``, inspecting
                       ``non_conformant`` with a temperature excursion (always inspected)
``failed_inspection``  shipping, receiving, inspecting ``non_conformant``
=====================  =============================================================
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from ledger.domain.escrow import Milestone
from oracles.errors import SimulationError
from oracles.hashing import EPCIS_CONTEXT_URL
from oracles.vocab import Vocabulary, VocabularyStyle, spell

HOUR = 3600
DAY = 24 * HOUR

# Offsets of plausible supplier and buyer sites (manufacturing hubs, distribution centres).
_OFFSETS = ("+08:00", "+05:30", "+07:00", "+09:00", "+01:00", "+02:00", "-03:00", "-05:00", "-06:00")


class Outcome(StrEnum):
    """How the simulated shipment of an order ends."""

    ON_TIME = "on_time"
    LATE = "late"
    LOST = "lost"
    DAMAGED = "damaged"
    FAILED_INSPECTION = "failed_inspection"


@dataclass(frozen=True)
class SimOrder:
    """What the simulator needs to know of an order; times are UTC seconds."""

    po_ref: str
    ship_by: int
    deliver_by: int
    inspection_required: bool = False


@dataclass(frozen=True)
class ExpectedMilestone:
    """A milestone the document must yield, with the time it must carry."""

    milestone: Milestone
    occurred_at: int


@dataclass(frozen=True)
class Shipment:
    """A simulated EPCIS document for one order and what mapping it must give."""

    order: SimOrder
    outcome: Outcome
    document: dict[str, Any]
    expected: tuple[ExpectedMilestone, ...]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The document's ``eventList`` (the same objects, not copies)."""
        events: list[dict[str, Any]] = self.document["epcisBody"]["eventList"]
        return events

    def to_json(self) -> bytes:
        """The document as UTF-8 JSON, as a capture client would send it."""
        return json.dumps(self.document, indent=2).encode("utf-8")


@dataclass(frozen=True)
class _Site:
    """A party's site: company prefix, party id, site location, dock and lab read points."""

    company_prefix: str
    party: str
    site: str
    dock: str
    lab: str
    offset: str


def simulate(
    order: SimOrder,
    outcome: Outcome | str,
    *,
    seed: int | random.Random = 0,
    style: VocabularyStyle = "bare",
) -> Shipment:
    """An EPCIS 2.0 JSON-LD document for ``order`` ending in ``outcome``.

    ``seed`` is an ``int`` or a :class:`random.Random` to draw from (pass one generator to
    simulate many orders in one reproducible stream). ``style`` writes CBV values as bare
    words, URNs or GS1 web URIs; the meaning (and the event hashes) do not change. ``bare``
    and ``web`` documents validate against the GS1 EPCIS 2.0 JSON Schema; ``urn`` is the
    EPCIS 1.x spelling that the 2.0 schema refuses but capture must still read.
    """
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise SimulationError(f"unknown outcome {outcome!r}; expected one of {[o.value for o in Outcome]}") from None
    if order.deliver_by <= order.ship_by:
        raise SimulationError(f"deliver_by ({order.deliver_by}) must be after ship_by ({order.ship_by})")
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    builder = _Builder(rng, order, style)
    return builder.build(outcome)


def epcis_document(
    events: Sequence[Mapping[str, Any]], *, created_at: int, document_id: str | None = None
) -> dict[str, Any]:
    """Wrap events (copied) in an ``EPCISDocument`` with the EPCIS 2.0 context."""
    document: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT_URL],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_event_time(created_at, "+00:00").replace("+00:00", "Z"),
        "epcisBody": {"eventList": [copy.deepcopy(dict(event)) for event in events]},
    }
    if document_id is not None:
        document["id"] = document_id
    return document


def declare_error(
    event: Mapping[str, Any],
    *,
    declared_at: int,
    reason: str = "incorrect_data",
    corrective_event_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """An error declaration for ``event``: a copy of it with ``errorDeclaration`` added.

    EPCIS 2.0 declares an event erroneous by capturing it again, with the same ``eventID``
    and an ``errorDeclaration``: ``declarationTime``, an optional ``reason`` such as
    ``incorrect_data`` or ``did_not_occur``, optional ``correctiveEventIDs``. Its event hash
    equals the original's, which is how the oracle finds the attestation concerned.
    """
    declared = copy.deepcopy(dict(event))
    offset = declared.get("eventTimeZoneOffset", "+00:00")
    declaration: dict[str, Any] = {"declarationTime": format_event_time(declared_at, offset), "reason": reason}
    if corrective_event_ids:
        declaration["correctiveEventIDs"] = list(corrective_event_ids)
    declared["errorDeclaration"] = declaration
    return declared


def format_event_time(seconds: int, offset: str, millis: int = 0) -> str:
    """UTC ``seconds`` (+ ``millis``) written in local time at ``offset``, e.g.
    ``2024-03-01T17:30:00.250+08:00``, as EPCIS capture clients write ``eventTime``."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    moment = datetime.fromtimestamp(seconds, UTC).astimezone(zone) + timedelta(milliseconds=millis)
    return moment.isoformat(timespec="milliseconds")


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a GTIN/GLN/SSCC body (weights 3,1,3... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


class _Builder:
    """Draws parties, goods and times for one order, then writes its events."""

    def __init__(self, rng: random.Random, order: SimOrder, style: VocabularyStyle) -> None:
        self.rng = rng
        self.order = order
        self.style = style
        self.supplier = self._site()
        self.carrier = self._site()
        self.buyer = self._site()
        item_reference = f"0{rng.randrange(10**4, 10**5)}"  # indicator digit 0, then the item
        first_serial = rng.randrange(10**6, 10**9)
        self.epcs = [
            f"urn:epc:id:sgtin:{self.supplier.company_prefix}.{item_reference}.{first_serial + i}"
            for i in range(rng.randint(2, 12))
        ]
        gln = f"{self.supplier.company_prefix}{rng.randrange(10**4, 10**5)}"
        self.desadv = f"urn:epcglobal:cbv:bt:{gln}{gs1_check_digit(gln)}:ASN{rng.randrange(10**5, 10**6)}"

    def _site(self) -> _Site:
        rng = self.rng
        prefix = f"{rng.randrange(10**6, 10**7)}"
        location = f"{rng.randrange(10**4, 10**5)}"
        return _Site(
            company_prefix=prefix,
            party=f"urn:epc:id:pgln:{prefix}.{rng.randrange(10**4, 10**5)}",
            site=f"urn:epc:id:sgln:{prefix}.{location}.0",
            dock=f"urn:epc:id:sgln:{prefix}.{location}.DOCK{rng.randint(1, 24)}",
            lab=f"urn:epc:id:sgln:{prefix}.{location}.QA{rng.randint(1, 3)}",
            offset=self.rng.choice(_OFFSETS),
        )

    def _word(self, word: str, vocabulary: Vocabulary) -> str:
        return spell(word, vocabulary, self.style)

    def build(self, outcome: Outcome) -> Shipment:
        rng, order = self.rng, self.order
        shipped = order.ship_by - rng.randint(0, 36) * HOUR - rng.randint(0, 59) * 60
        window = order.deliver_by - shipped
        on_time_delivery = shipped + rng.randint(max(1, window // 4), window)
        events = [self._shipping(shipped)]
        expected = [ExpectedMilestone(Milestone.SHIPPED, shipped)]

        if outcome is Outcome.LOST:
            events.append(self._transporting(shipped + rng.randint(2 * HOUR, max(3 * HOUR, window // 3))))
            return self._shipment(outcome, events, expected)

        if outcome is Outcome.LATE:
            delivered = order.deliver_by + rng.randint(HOUR, 5 * DAY)
            events.append(self._transporting(shipped + rng.randint(HOUR, max(2 * HOUR, window // 2))))
        else:
            delivered = on_time_delivery
            if outcome is Outcome.ON_TIME and rng.random() < 0.5 and delivered - shipped > 2 * HOUR:
                events.append(self._transporting(shipped + rng.randint(HOUR, delivered - shipped - HOUR)))
        damaged = outcome is Outcome.DAMAGED
        events.append(self._receiving(delivered, damaged=damaged))
        expected.append(ExpectedMilestone(Milestone.DELIVERED, delivered))

        failed = outcome in (Outcome.DAMAGED, Outcome.FAILED_INSPECTION)
        if failed or order.inspection_required:
            inspected = delivered + rng.randint(30, 24 * 60) * 60
            events.append(self._inspecting(inspected, conformant=not failed, excursion=damaged))
            verdict = Milestone.INSPECTION_FAILED if failed else Milestone.INSPECTION_PASSED
            expected.append(ExpectedMilestone(verdict, inspected))
        return self._shipment(outcome, events, expected)

    def _shipment(self, outcome: Outcome, events: list[dict[str, Any]], expected: list[ExpectedMilestone]) -> Shipment:
        last = max(_utc_of(event) for event in events)
        document = epcis_document(events, created_at=last + self.rng.randint(60, 900), document_id=self._uuid())
        return Shipment(self.order, outcome, document, tuple(expected))

    def _uuid(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def _event(self, at: int, site: _Site, step: str, disposition: str, read_point: str) -> dict[str, Any]:
        return {
            "type": "ObjectEvent",
            "eventID": self._uuid(),
            "eventTime": format_event_time(at, site.offset, self.rng.randrange(1000)),
            "eventTimeZoneOffset": site.offset,
            "epcList": list(self.epcs),
            "action": "OBSERVE",
            "bizStep": self._word(step, Vocabulary.BIZ_STEP),
            "disposition": self._word(disposition, Vocabulary.DISPOSITION),
            "readPoint": {"id": read_point},
        }

    def _transactions(self, *, with_desadv: bool = True) -> list[dict[str, str]]:
        entries = [{"type": self._word("po", Vocabulary.BIZ_TRANSACTION_TYPE), "bizTransaction": self.order.po_ref}]
        if with_desadv:
            entries.append(
                {"type": self._word("desadv", Vocabulary.BIZ_TRANSACTION_TYPE), "bizTransaction": self.desadv}
            )
        return entries

    def _parties(self) -> dict[str, Any]:
        sdt = Vocabulary.SOURCE_DESTINATION_TYPE
        return {
            "sourceList": [
                {"type": self._word("owning_party", sdt), "source": self.supplier.party},
                {"type": self._word("location", sdt), "source": self.supplier.site},
            ],
            "destinationList": [
                {"type": self._word("owning_party", sdt), "destination": self.buyer.party},
                {"type": self._word("location", sdt), "destination": self.buyer.site},
            ],
        }

    def _shipping(self, at: int) -> dict[str, Any]:
        event = self._event(at, self.supplier, "shipping", "in_transit", self.supplier.dock)
        event["bizTransactionList"] = self._transactions()
        event.update(self._parties())
        return event

    def _transporting(self, at: int) -> dict[str, Any]:
        # A carrier's hub scan: no PO (carriers rarely see it), maps to nothing.
        return self._event(at, self.carrier, "transporting", "in_transit", self.carrier.dock)

    def _receiving(self, at: int, *, damaged: bool) -> dict[str, Any]:
        disposition = "damaged" if damaged else "in_progress"
        event = self._event(at, self.buyer, "receiving", disposition, self.buyer.dock)
        event["bizLocation"] = {"id": self.buyer.site}
        event["bizTransactionList"] = self._transactions()
        event.update(self._parties())
        return event

    def _inspecting(self, at: int, *, conformant: bool, excursion: bool) -> dict[str, Any]:
        verdict = "conformant" if conformant else "non_conformant"
        event = self._event(at, self.buyer, "inspecting", verdict, self.buyer.lab)
        event["bizLocation"] = {"id": self.buyer.site}
        event["bizTransactionList"] = self._transactions(with_desadv=False)
        if excursion:
            peak = round(self.rng.uniform(12.0, 35.0), 1)
            event["sensorElementList"] = [
                {
                    "sensorMetadata": {"time": event["eventTime"]},
                    "sensorReport": [{"type": "Temperature", "maxValue": peak, "uom": "CEL"}],
                }
            ]
        return event


def _utc_of(event: Mapping[str, Any]) -> int:
    return int(datetime.fromisoformat(event["eventTime"]).timestamp())
