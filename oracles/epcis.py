"""EPCIS 2.0 capture: bytes, text or a parsed object in, typed events out.

Accepted shapes (JSON and JSON-LD alike; ``@context`` is kept for hashing, never fetched):

- ``EPCISDocument``: events in ``epcisBody.eventList``;
- ``EPCISQueryDocument``: events in ``epcisBody.queryResults.resultsBody.eventList``;
- a bare event (``{"type": "ObjectEvent", ...}``), e.g. one pushed by a capture client.

**All or nothing.** A document with one invalid event is refused as a whole with an
:class:`~oracles.errors.EpcisDocumentError` naming the JSON path of the fault (e.g.
``epcisBody.eventList[2].eventTime``), so that a document is never half-captured and a
sender can fix and resend it. Only what this package relies on is validated (event type,
times, vocabulary fields, business transactions, locations, error declarations); other
fields pass through untouched in :attr:`EpcisEvent.raw`.

**Not an error:** an event that is valid EPCIS but that the event-hash library cannot hash
(see :mod:`oracles.hashing`) is kept with ``event_hash=None`` and ``hash_error`` set; the
mapping ignores it with that reason. It is our limitation, not the sender's fault.

**Times.** ``eventTime`` must carry its offset (``Z`` or ``+hh:mm``), as ``xsd:dateTimeStamp``
requires: a time without a zone names no instant, and a milestone's ``occurredAt`` must be
one. :attr:`EpcisEvent.event_time` shows that instant in the event's own
``eventTimeZoneOffset`` (the local time where it happened); ``occurred_at`` is UTC seconds.

**Slices.** :func:`parse_slice` does the same work for one slice of a document's event list
(the whole body decoded and checked, only the slice's events validated and hashed) and
:func:`assemble` joins the slices into the very ``ParsedDocument`` of :func:`parse_document`:
:mod:`oracles.parallel` runs the slices in worker processes.

Vocabulary fields (``bizStep``, ``disposition``, business transaction ``type``, error
``reason``) are reduced to bare CBV words whatever their spelling (see :mod:`oracles.vocab`).
Duplicate JSON keys resolve to the last one, as in JavaScript's ``JSON.parse``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NoReturn

from oracles import strict_json
from oracles.errors import DocumentTooLarge, EpcisDocumentError, EventHashError
from oracles.hashing import JsonLdContext, event_hash
from oracles.strict_json import MAX_DEPTH
from oracles.vocab import Vocabulary, bare_word

#: Default limit on a raw document: about a thousand typical events. The HTTP layer may pass
#: its own; the limit is checked before any parsing.
DEFAULT_MAX_BYTES = 1 << 20

#: The event types of EPCIS 2.0. Other (extension) types inside an event list are kept, and
#: the mapping ignores them.
EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)

#: Deepest JSON nesting accepted (EPCIS documents nest about 10 levels): the bound every service
#: applies before decoding (see :mod:`oracles.strict_json` for why it must come first).
MAX_NESTING = MAX_DEPTH
MAX_BIZ_TRANSACTION_BYTES = 512

_ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
# ASCII digits only: ``\d`` would also take, say, Arabic-Indic digits, which ``int`` reads but no
# EPCIS consumer (nor the event-hash canonicalisation) does.
_DATE_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<h>\d{2}):(?P<m>\d{2})", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


class DocumentKind(StrEnum):
    """What the input was."""

    EPCIS_DOCUMENT = "EPCISDocument"
    QUERY_DOCUMENT = "EPCISQueryDocument"
    SINGLE_EVENT = "event"


@dataclass(frozen=True)
class BizTransaction:
    """One ``bizTransactionList`` entry. ``type`` is a bare CBV word (``po``, ``inv``,
    ``desadv``...) or a custom type URI as written, ``None`` when the entry has no type."""

    type: str | None
    value: str


@dataclass(frozen=True)
class ErrorDeclaration:
    """An event's ``errorDeclaration``: the event it repeats is declared erroneous.

    The declared event is identified by the declaring event's own ``eventID`` and event hash
    (an error declaration is a copy of the original event, and ``errorDeclaration`` is not
    part of the hash). ``reason`` is a bare CBV word (``incorrect_data``, ``did_not_occur``)
    or a custom URI.
    """

    declaration_time: datetime
    declared_at: int
    reason: str | None
    corrective_event_ids: tuple[str, ...]


@dataclass(frozen=True)
class EpcisEvent:
    """One EPCIS event, validated where this package depends on it.

    ``path`` is where it sits in its document (``epcisBody.eventList[3]``; empty for a bare
    event). ``raw`` is the event as received (read-only, without any ``@context``), kept for
    auditing and re-hashing; it takes no part in equality.
    """

    path: str
    type: str
    event_id: str | None
    event_time: datetime
    occurred_at: int
    time_zone_offset: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    biz_transactions: tuple[BizTransaction, ...]
    read_point: str | None
    biz_location: str | None
    error_declaration: ErrorDeclaration | None
    event_hash: str | None
    hash_error: str | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def po_refs(self) -> tuple[str, ...]:
        """The purchase-order references of the event (``type`` ``po``), without repeats."""
        return tuple(dict.fromkeys(t.value for t in self.biz_transactions if t.type == "po"))


@dataclass(frozen=True)
class ParsedDocument:
    """A parsed EPCIS input: its kind, its events in document order, and its header."""

    kind: DocumentKind
    events: tuple[EpcisEvent, ...]
    context: JsonLdContext | None = field(compare=False, repr=False)
    schema_version: str | None = None
    creation_date: str | None = None
    document_id: str | None = None


def parse_document(
    data: bytes | bytearray | str | Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Parse an EPCIS 2.0 document, query document or single event.

    ``data`` is the raw body (``bytes``/``str``, UTF-8 JSON) or an already decoded object
    (the size limit then does not apply). Raises :class:`~oracles.errors.DocumentTooLarge`,
    :class:`~oracles.errors.MalformedJson` or :class:`~oracles.errors.EpcisDocumentError`
    (:class:`~oracles.errors.ValueOutOfRange` among them: see :mod:`oracles.strict_json`).
    """
    if isinstance(data, Mapping):
        strict_json.check_value(data)
        document: Any = data
    else:
        document = _decode(data, max_bytes)
    document, context, kind, events, base = _opened(document)
    if kind is DocumentKind.SINGLE_EVENT:
        parsed: tuple[EpcisEvent, ...] = (_parse_event(document, context, ""),)
    else:
        parsed = tuple(_parse_event(event, context, f"{base}[{i}]") for i, event in enumerate(events))
    return ParsedDocument(kind=kind, events=parsed, context=context, **_header(document))


def _opened(
    document: Any,
) -> tuple[Mapping[str, Any], JsonLdContext | None, DocumentKind, Sequence[Any], str]:
    """A decoded body checked as every parse starts: an object, its ``@context`` and its event list."""
    if not isinstance(document, Mapping):
        _fail("", f"expected a JSON object, got {_json_type(document)}")
    context = _context(document.get("@context"), "@context")
    kind, events, base = _locate_events(document)
    return document, context, kind, events, base


def _header(document: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "schema_version": _optional_scalar_text(document.get("schemaVersion")),
        "creation_date": _optional_scalar_text(document.get("creationDate")),
        "document_id": _optional_scalar_text(document.get("id")),
    }


def parse_event(event: Any, *, context: JsonLdContext | None = None, path: str = "") -> EpcisEvent:
    """Validate one event object (as found in an ``eventList``) and hash it.

    ``context`` is the ``@context`` of its document (``None``: plain JSON, read with the EPCIS
    2.0 context); ``path`` prefixes the JSON paths in error messages.
    """
    strict_json.check_value(event, path)
    return _parse_event(event, context, path)


@dataclass(frozen=True)
class DocumentSlice:
    """Slice ``part`` of ``parts`` of a document's event list, parsed (by a worker process, see
    :mod:`oracles.parallel`): the events ``count * part // parts`` to the next such bound, without
    their ``raw`` JSON (``{}``: the receiver has the body), and the document's header."""

    count: int
    start: int
    kind: DocumentKind
    context: JsonLdContext | None
    schema_version: str | None
    creation_date: str | None
    document_id: str | None
    events: tuple[EpcisEvent, ...]


def parse_slice(data: bytes | bytearray, part: int, parts: int, *, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentSlice:
    """:func:`parse_document`'s work on one slice of an ``EPCISDocument`` or ``EPCISQueryDocument``.

    The whole body is decoded and checked (the same rules, the same errors for a fault in the
    header or in the slice's events) but only the slice's events are validated and hashed.
    Raises ``ValueError`` for a bare event, which has no list to slice.
    """
    document, context, kind, events, base = _opened(_decode(data, max_bytes))
    if kind is DocumentKind.SINGLE_EVENT:
        raise ValueError("a single event has no event list to slice")
    count = len(events)
    start, stop = count * part // parts, count * (part + 1) // parts
    parsed = tuple(_with_raw(_parse_event(events[i], context, f"{base}[{i}]"), {}) for i in range(start, stop))
    return DocumentSlice(
        count=count,
        start=start,
        kind=kind,
        context=context,
        events=parsed,
        **_header(document),
    )


def assemble(data: bytes | bytearray, slices: Sequence[DocumentSlice]) -> ParsedDocument | None:
    """The :func:`parse_document` result of ``data`` from all its slices (in order), or ``None``
    when they do not make one whole list. Each event's ``raw`` decodes ``data`` again, lazily:
    the capture path never reads it."""
    if not slices or any(s.count != slices[0].count for s in slices):
        return None
    first = slices[0]
    events: list[EpcisEvent] = []
    source = _RawSource(bytes(data))
    for piece in slices:
        if piece.start != len(events):
            return None
        events.extend(_with_raw(e, _LazyRaw(source, piece.start + i)) for i, e in enumerate(piece.events))
    if len(events) != first.count:
        return None
    return ParsedDocument(
        kind=first.kind,
        events=tuple(events),
        context=first.context,
        schema_version=first.schema_version,
        creation_date=first.creation_date,
        document_id=first.document_id,
    )


def _with_raw(event: EpcisEvent, raw: Mapping[str, Any]) -> EpcisEvent:
    """``replace(event, raw=raw)`` without its per-call field walk (a document has hundreds of
    events): the same fields, validated already, copied as they are."""
    copy = object.__new__(EpcisEvent)
    copy.__dict__.update(event.__dict__)
    copy.__dict__["raw"] = raw
    return copy


class _RawSource:
    """A document's body, decoded on the first look at one of its events' ``raw``."""

    __slots__ = ("_body", "_events")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._events: Sequence[Any] | None = None

    def event(self, index: int) -> Mapping[str, Any]:
        if self._events is None:
            self._events = _locate_events(_decode(self._body, len(self._body)))[1]
        event = self._events[index]
        return MappingProxyType({k: v for k, v in event.items() if k != "@context"})


class _LazyRaw(Mapping[str, Any]):
    """An event's ``raw``, read-only like the parser's own, made when first read."""

    __slots__ = ("_index", "_mapping", "_source")

    def __init__(self, source: _RawSource, index: int) -> None:
        self._source = source
        self._index = index
        self._mapping: Mapping[str, Any] | None = None

    def _raw(self) -> Mapping[str, Any]:
        if self._mapping is None:
            self._mapping = self._source.event(self._index)
        return self._mapping

    def __getitem__(self, key: str) -> Any:
        return self._raw()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw())

    def __len__(self) -> int:
        return len(self._raw())


def _parse_event(event: Any, context: JsonLdContext | None, path: str) -> EpcisEvent:
    if not isinstance(event, Mapping):
        _fail(path, f"an event must be a JSON object, got {_json_type(event)}")
    raw = {k: v for k, v in event.items() if k != "@context"}
    event_type = _required_text(raw, "type", path)
    event_time, occurred_at = _date_time(raw, "eventTime", path)
    offset_text, offset = _time_zone_offset(raw, path, event_time)
    action = _optional_text(raw, "action", path)
    if action is not None and action not in _ACTIONS:
        _fail(_join(path, "action"), f"must be ADD, OBSERVE or DELETE, got {action!r}")
    event_id = _optional_text(raw, "eventID", path)
    biz_step = _vocabulary(raw, "bizStep", path, Vocabulary.BIZ_STEP)
    disposition = _vocabulary(raw, "disposition", path, Vocabulary.DISPOSITION)
    biz_transactions = _biz_transactions(raw, path)
    read_point = _location(raw, "readPoint", path)
    biz_location = _location(raw, "bizLocation", path)
    error_declaration = _error_declaration(raw, path)
    # Hash last: only an event that passed validation is worth the JSON-LD work.
    try:
        digest: str | None = event_hash(raw, context)
        hash_error = None
    except EventHashError as exc:
        digest, hash_error = None, exc.reason
    return EpcisEvent(
        path=path,
        type=event_type,
        event_id=event_id,
        event_time=event_time.astimezone(offset),
        occurred_at=occurred_at,
        time_zone_offset=offset_text,
        action=action,
        biz_step=biz_step,
        disposition=disposition,
        biz_transactions=biz_transactions,
        read_point=read_point,
        biz_location=biz_location,
        error_declaration=error_declaration,
        event_hash=digest,
        hash_error=hash_error,
        raw=MappingProxyType(raw),
    )


def parse_date_time(value: str, *, path: str = "") -> datetime:
    """An ``xsd:dateTimeStamp`` as an aware datetime (fractions beyond microseconds dropped).

    Raises :class:`~oracles.errors.EpcisDocumentError` naming ``path`` when the value is not
    such a timestamp, in particular when it has no time zone.
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        _fail(path, f"{value!r} is not an ISO 8601 date-time such as 2024-03-01T09:30:00.000+01:00")
    if match["zone"] is None:
        _fail(path, f"{value!r} has no time zone; EPCIS requires an offset such as Z or +01:00")
    zone = UTC if match["zone"] in ("Z", "z") else _offset_zone(match["zone"], path)
    micros = int((match["frac"] or "0")[:6].ljust(6, "0"))
    try:
        year, month, day = (int(part) for part in match["date"].split("-"))
        moment = datetime(year, month, day, int(match["h"]), int(match["m"]), int(match["s"]), micros, tzinfo=zone)
    except ValueError as exc:
        _fail(path, f"{value!r} is not a valid date-time: {exc}")
    # Shown in another offset (the event's own), a moment within a day of year 1 or 9999 would
    # overflow ``datetime``: refuse it here, naming the field, not with an OverflowError later.
    if not _EARLIEST <= moment <= _LATEST:
        _fail(path, f"{value!r} is out of range ({_EARLIEST.date()} to {_LATEST.date()})")
    return moment


def utc_seconds(moment: datetime) -> int:
    """Whole UTC seconds since the epoch (floored, also before 1970), the chain's time unit."""
    return (moment - _EPOCH) // timedelta(seconds=1)


# --- decoding -------------------------------------------------------------------------------


def _decode(data: bytes | bytearray | str, max_bytes: int) -> Any:
    """The size limit first (nothing is decoded past it), then the rules of :mod:`oracles.strict_json`."""
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if size > max_bytes:
        raise DocumentTooLarge(size, max_bytes)
    return strict_json.loads(data, max_depth=MAX_NESTING)


def _locate_events(document: Mapping[str, Any]) -> tuple[DocumentKind, Sequence[Any], str]:
    doc_type = document.get("type")
    if doc_type is not None and not isinstance(doc_type, str):
        _fail("type", f"must be a string, got {_json_type(doc_type)}")
    if doc_type == DocumentKind.EPCIS_DOCUMENT:
        body = _object(document.get("epcisBody"), "epcisBody")
        return DocumentKind.EPCIS_DOCUMENT, _list(body.get("eventList"), "epcisBody.eventList"), "epcisBody.eventList"
    if doc_type == DocumentKind.QUERY_DOCUMENT:
        base = "epcisBody.queryResults.resultsBody"
        body = _object(document.get("epcisBody"), "epcisBody")
        results = _object(body.get("queryResults"), "epcisBody.queryResults")
        results_body = _object(results.get("resultsBody"), base)
        return (
            DocumentKind.QUERY_DOCUMENT,
            _list(results_body.get("eventList"), f"{base}.eventList"),
            f"{base}.eventList",
        )
    if doc_type in EVENT_TYPES:
        return DocumentKind.SINGLE_EVENT, (), ""
    expected = "EPCISDocument, EPCISQueryDocument or an EPCIS event type"
    if doc_type is None:
        _fail("type", f"missing; expected {expected}")
    _fail("type", f"unsupported document type {doc_type!r}; expected {expected}")


# --- fields ---------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(path: str, reason: str) -> NoReturn:
    raise EpcisDocumentError(path, reason)


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        _fail(path, "missing")
    if not isinstance(value, Mapping):
        _fail(path, f"must be an object, got {_json_type(value)}")
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        _fail(path, "missing")
    if not isinstance(value, list):
        _fail(path, f"must be an array, got {_json_type(value)}")
    return value


def _context(value: Any, path: str) -> JsonLdContext | None:
    if value is None or isinstance(value, str | Mapping | list):
        return value
    _fail(path, f"must be a URL, an object or an array, got {_json_type(value)}")


def _required_text(event: Mapping[str, Any], key: str, path: str) -> str:
    value = _optional_text(event, key, path)
    if value is None:
        _fail(_join(path, key), "missing")
    return value


def _optional_text(event: Mapping[str, Any], key: str, path: str) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(_join(path, key), f"must be a string, got {_json_type(value)}")
    if not value.strip():
        _fail(_join(path, key), "must not be empty")
    return value


def _optional_scalar_text(value: Any) -> str | None:
    """Header fields are informational only: keep them as text, never refuse a document for them."""
    if value is None or isinstance(value, Mapping | list):
        return None
    return str(value)


def _offset_zone(text: str, path: str) -> timezone:
    match = _OFFSET.fullmatch(text)
    if match is None:
        _fail(path, f"{text!r} is not a time zone offset such as +01:00 or -06:00")
    hours, minutes = int(match["h"]), int(match["m"])
    if minutes >= 60 or (hours, minutes) > (14, 0):
        _fail(path, f"{text!r} is out of range (-14:00 to +14:00)")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if match["sign"] == "-" else delta)


def _date_time(event: Mapping[str, Any], key: str, path: str) -> tuple[datetime, int]:
    text = _required_text(event, key, path)
    moment = parse_date_time(text, path=_join(path, key))
    return moment, utc_seconds(moment)


def _time_zone_offset(event: Mapping[str, Any], path: str, event_time: datetime) -> tuple[str, timezone]:
    """``eventTimeZoneOffset`` as written, or the offset of ``eventTime`` when it is absent."""
    text = _optional_text(event, "eventTimeZoneOffset", path)
    if text is None:
        delta = event_time.utcoffset() or timedelta(0)
        sign = "-" if delta < timedelta(0) else "+"
        minutes = abs(delta) // timedelta(minutes=1)
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", timezone(delta)
    return text, _offset_zone(text, _join(path, "eventTimeZoneOffset"))


def _vocabulary(event: Mapping[str, Any], key: str, path: str, vocabulary: Vocabulary) -> str | None:
    value = _optional_text(event, key, path)
    return None if value is None else bare_word(value.strip(), vocabulary)


def _biz_transactions(event: Mapping[str, Any], path: str) -> tuple[BizTransaction, ...]:
    value = event.get("bizTransactionList")
    if value is None:
        return ()
    list_path = _join(path, "bizTransactionList")
    entries = []
    for i, entry in enumerate(_list(value, list_path)):
        entry_path = f"{list_path}[{i}]"
        entry = _object(entry, entry_path)
        kind = _optional_text(entry, "type", entry_path)
        entries.append(
            BizTransaction(
                type=None if kind is None else bare_word(kind.strip(), Vocabulary.BIZ_TRANSACTION_TYPE),
                value=_bounded(_required_text(entry, "bizTransaction", entry_path), entry_path, "bizTransaction"),
            )
        )
    return tuple(entries)


def _bounded(value: str, path: str, key: str) -> str:
    """A business transaction id is a key in the capture records (an index entry): keep it a sane size."""
    if len(value.encode("utf-8", "surrogatepass")) > MAX_BIZ_TRANSACTION_BYTES:
        _fail(_join(path, key), f"longer than {MAX_BIZ_TRANSACTION_BYTES} bytes; a PO reference is an identifier")
    return value


def _location(event: Mapping[str, Any], key: str, path: str) -> str | None:
    value = event.get(key)
    if value is None:
        return None
    location = _object(value, _join(path, key))
    return _required_text(location, "id", _join(path, key))


def _error_declaration(event: Mapping[str, Any], path: str) -> ErrorDeclaration | None:
    value = event.get("errorDeclaration")
    if value is None:
        return None
    decl_path = _join(path, "errorDeclaration")
    declaration = _object(value, decl_path)
    declared, declared_at = _date_time(declaration, "declarationTime", decl_path)
    reason = _optional_text(declaration, "reason", decl_path)
    corrective: list[str] = []
    ids = declaration.get("correctiveEventIDs")
    if ids is not None:
        ids_path = _join(decl_path, "correctiveEventIDs")
        for i, item in enumerate(_list(ids, ids_path)):
            if not isinstance(item, str) or not item.strip():
                _fail(f"{ids_path}[{i}]", "must be a non-empty string")
            corrective.append(item)
    return ErrorDeclaration(
        declaration_time=declared,
        declared_at=declared_at,
        reason=None if reason is None else bare_word(reason.strip(), Vocabulary.ERROR_REASON),
        corrective_event_ids=tuple(corrective),
    )
