"""The GS1 EPCIS event hash: the evidence an oracle attests to.

An attestation's ``evidenceHash`` is the event hash of CBV 2.0 (section "Event hash ID"):
``ni:///sha-256;<hex>?ver=CBV2.0``, a fingerprint of the event's *content* that does not
depend on its syntax (JSON or XML, bare words or URIs, key order, time zone, list order) and
leaves out what a capturing system adds (``eventID``, ``recordTime``, ``errorDeclaration``).
Anyone holding the EPCIS document can therefore recompute the evidence behind an on-chain
milestone, and an error declaration (a copy of the original event plus ``errorDeclaration``)
hashes to the same value as the event it declares erroneous.

The computation is delegated to the reference implementation, PyPI
``epcis-event-hash-generator``, pinned to exactly 1.9.3 (the latest release) in
``pyproject.toml``, so that anyone can reproduce an evidence hash with the public tool, today
and in ten years. Known differences of 1.9.3 from the expectations its repository published
later (``tests/oracles/test_hashing.py`` pins them): with both ``sourceList`` and
``destinationList`` it writes the destinations first, and for sensor data it keeps
``certificationInfo`` and the ``sensorElementList`` label. The hash is still a fixed function
of the event's content, so integrity and error-declaration matching are unaffected; but
switching versions would change such hashes, hence the exact pin. It is used with care,
because it is a prototype:

- **Offline.** Its JSON-LD expansion goes through PyLD, whose default loader would fetch any
  remote ``@context`` from the internet. We install a loader that serves the GS1 EPCIS 2.0
  contexts bundled with the library and refuses every other URL (an event whose context needs
  one cannot be hashed and says so).
- **One event at a time.** The library replaces bare CBV words by their URIs with a
  heuristic over *all* values of the document it is given; we give it a document of one
  event, so an event's hash does not depend on the other events it was sent with.
- **Its gaps.** It reads ``epcisBody.eventList`` only and chokes on expanded term definitions
  in ``@context`` (``{"rail:x": {"@type": "@id"}}``); we build its input ourselves and collect
  the namespace prefixes that user extensions need (from list and object contexts alike, as
  the CBV says). What it still cannot hash (e.g. a ``bizTransaction`` without ``type``)
  raises :class:`~oracles.errors.EventHashError`, never a stray exception.
- **Global state.** It keeps namespaces and a join string in module globals and PyLD keeps
  its loader globally, so every call runs under one lock with that state reset.

**Fast, and still the library's hash.** Run as above, the library costs about 2.2 ms per
event, three quarters of it PyLD processing the 20 kB EPCIS context again on every call (it
canonicalises every context object to make its cache key, and does not keep remote contexts
from one call to the next). Oracles hash hundreds of events a second, so :func:`event_hash`
first tries :mod:`oracles.canonical` (about 0.1-0.2 ms per typical event, see
``bench/event_hash.py``), which recomputes the library's four steps itself:

- each distinct ``@context`` is processed once, by PyLD, and kept (a bounded cache keyed by
  the context's JSON text; scoped contexts once per active context), offline through the same
  loader; then a walk that follows PyLD's expansion rules over PyLD's own term definitions
  collects just what the library reads from the expansion: the CBV and GS1 vocabulary IRIs
  that decide which bare words it replaces;
- the library's conversion to its simple tree, its XML/JSON model correction and its
  pre-hash derivation are ported line for line, minus the deep copies and module globals,
  with value canonicalisation (the library's own function: GS1 Digital Link and the like)
  memoised and ISO 8601 timestamps converted without ``dateutil``.

The fast path never decides on its own that an event is unhashable. Wherever it cannot vouch
for the library's exact result (anything but plain JSON, ``@``-keys in the event, JSON-LD
features it does not model such as type-scoped contexts, ``@vocab`` or containers other than
``@set``, a context PyLD refuses, and every event the library fails on) it hands the event
to the library path above, unchanged, which then gives its hash or its
:class:`~oracles.errors.EventHashError`. Of the GS1 examples only the two unhashable events
take that path. ``pre_hash_string(..., fast=False)`` runs the library alone: it is the
reference that ``tests/oracles/test_hash_equivalence.py`` holds the fast path to, on every
GS1 example, every reference vector, a few hundred simulator events in all three spellings,
targeted edge cases and randomly permuted and edited events (same pre-hash string, or the
same error; and the same vocabulary IRIs as PyLD's expansion). :func:`event_hashes` hashes a
document's events with its context looked up once. The fast path holds the lock only to
process a context it has not seen; the library path still runs under it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from epcis_event_hash_generator import hash_generator, json_to_py, json_xml_model_mismatch_correction
from pyld import jsonld

from oracles import canonical
from oracles.errors import EventHashError, InvalidEventHash

#: The JSON-LD context of EPCIS 2.0; assumed when an event comes without any ``@context``
#: (plain JSON), so that its bare CBV words mean what they mean in JSON-LD.
EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

#: The remote contexts this module can resolve, served from files bundled with
#: ``epcis-event-hash-generator`` (the same mapping as its own, network-backed loader).
BUNDLED_CONTEXTS: Mapping[str, str] = {
    "https://gs1.github.io/EPCIS/epcis-context.jsonld": (
        "14b10c9d3e92d35f577bfc610fe5ec15aa2941124987919389d7cd9998516861.jsonld"
    ),
    EPCIS_CONTEXT_URL: "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008.jsonld",
}

#: A JSON-LD ``@context`` value as found in a document: a URL, an object, or a list of both.
JsonLdContext = str | Mapping[str, Any] | Sequence[Any]

_NI_SHA256 = re.compile(r"ni:///sha-256;(?P<hex>[0-9a-fA-F]{64})(?:\?ver=CBV\d+(?:\.\d+)*)?")

_LOCK = threading.Lock()


class _RemoteContextRefused(Exception):
    """Raised inside PyLD by the offline loader; carries the URL it would have fetched."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(url)


@cache
def _bundled_context(url: str) -> Any:
    package = importlib.resources.files("epcis_event_hash_generator")
    return json.loads(package.joinpath(BUNDLED_CONTEXTS[url]).read_text(encoding="utf-8"))


def _offline_loader(url: str, options: Any = None) -> dict[str, Any]:
    """PyLD document loader that never touches the network."""
    if url not in BUNDLED_CONTEXTS:
        raise _RemoteContextRefused(url)
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": _bundled_context(url),
    }


def _refused_url(exc: BaseException) -> str | None:
    """PyLD wraps loader failures (sometimes twice); find our refusal in the chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _RemoteContextRefused):
            return current.url
        details = getattr(current, "details", None)
        if isinstance(details, dict) and isinstance(details.get("cause"), BaseException):
            nested = _refused_url(details["cause"])
            if nested:
                return nested
        current = current.__cause__ or current.__context__
    return None


def _namespaces_of(context: JsonLdContext) -> dict[str, str]:
    """Prefix -> ``{namespace}`` for user extension names, in the library's notation."""
    entries = [context] if isinstance(context, str | Mapping) else list(context)
    namespaces: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            if not isinstance(key, str) or key.startswith("@"):
                continue
            if isinstance(value, str):
                namespaces[key] = "{" + value + "}"
            elif isinstance(value, Mapping) and isinstance(value.get("@id"), str) and ":" not in key:
                namespaces[key] = "{" + value["@id"] + "}"
    return namespaces


def _jsonld_reason(exc: Exception) -> str:
    url = _refused_url(exc)
    if url is not None:
        return f"the JSON-LD context {url} is not bundled, and remote contexts are never fetched"
    message = exc.args[0] if exc.args else type(exc).__name__
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details.get("term"):
        message = f"{message} (term {details['term']!r})"
    return f"invalid JSON-LD @context: {message}"


def _single_event_document(event: Mapping[str, Any], context: JsonLdContext | None) -> dict[str, Any]:
    try:
        copied = json.loads(json.dumps(event))  # deep copy: the library edits its input in place
    except (TypeError, ValueError) as exc:
        raise EventHashError(f"the event is not plain JSON data: {exc}") from exc
    if not isinstance(copied, dict):
        raise EventHashError("an event must be a JSON object")
    copied.pop("@context", None)  # the context is the document's, not a field of the event
    ctx: Any = EPCIS_CONTEXT_URL if context is None else json.loads(json.dumps(context))
    return {"@context": ctx, "type": "EPCISDocument", "epcisBody": {"eventList": [copied]}}


def _library_pre_hash_string(event: Mapping[str, Any], context: JsonLdContext | None = None) -> str:
    """The pre-hash string as the pinned library computes it (the reference; slow)."""
    document = _single_event_document(event, context)
    namespaces = _namespaces_of(document["@context"])
    with _LOCK:
        jsonld.set_document_loader(_offline_loader)
        try:
            document = json_to_py._bare_string_pre_preocessing(document)
        except Exception as exc:  # PyLD raises JsonLdError, but also plain errors on odd input
            raise EventHashError(_jsonld_reason(exc)) from exc
        json_to_py._namespaces.clear()
        json_to_py._namespaces.update(namespaces)
        try:
            simple = json_xml_model_mismatch_correction.deep_structure_correction(
                json_to_py._json_to_py(document["epcisBody"]["eventList"][0])
            )
        except Exception as exc:  # the prototype indexes blindly into what it expects
            raise EventHashError(
                f"epcis-event-hash-generator cannot read this event ({type(exc).__name__}: {exc}); "
                "a typical cause is a bizTransaction, source or destination without its type"
            ) from exc
        finally:
            json_to_py._namespaces.clear()
        try:
            pre_hashes = hash_generator.derive_prehashes_from_events(("EventList", "", [simple]))
        except Exception as exc:  # it catches most of its own failures, but not all
            raise EventHashError(f"epcis-event-hash-generator failed ({type(exc).__name__}: {exc})") from exc
    if len(pre_hashes) != 1 or not isinstance(pre_hashes[0], str):
        raise EventHashError("epcis-event-hash-generator could not build the pre-hash string of this event")
    return pre_hashes[0]


_CONTEXTS = canonical.ContextCache(_offline_loader, _namespaces_of, _LOCK)


def _prepared(context: JsonLdContext | None) -> canonical.PreparedContext | None:
    try:
        return _CONTEXTS.get(EPCIS_CONTEXT_URL if context is None else context)
    except Exception:  # not plain JSON: the library path says what is wrong with it
        return None


def _fast_pre_hash_string(event: Mapping[str, Any], prepared: canonical.PreparedContext | None) -> str | None:
    """The pre-hash string by the fast path, or ``None`` where only the library may decide."""
    if prepared is None or prepared.active is None or type(event) is not dict:
        return None
    if "@context" in event:  # the context is the document's, not a field of the event
        event = {key: value for key, value in event.items() if key != "@context"}
    try:
        expanded = canonical.expanded_cbv_values(prepared, event)
        tree = canonical.simple_tree(event, expanded, prepared.namespaces)
        return canonical.pre_hash_of_tree(tree)
    except Exception:  # Unsupported, or anything the library may fail on: the library decides
        return None


def pre_hash_string(event: Mapping[str, Any], context: JsonLdContext | None = None, *, fast: bool = True) -> str:
    """The canonical pre-hash string of ``event`` (what gets hashed), for audits and debugging.

    ``context`` is the ``@context`` of the document the event came in; ``None`` means the
    EPCIS 2.0 context. Raises :class:`EventHashError` when the event cannot be canonicalised.
    ``fast=False`` runs the library alone (the reference the fast path is tested against);
    the result is the same.
    """
    if fast:
        pre_hash = _fast_pre_hash_string(event, _prepared(context))
        if pre_hash is not None:
            return pre_hash
    return _library_pre_hash_string(event, context)


def _digest(pre_hash: str) -> str:
    return "ni:///sha-256;" + hashlib.sha256(pre_hash.encode("utf-8")).hexdigest() + "?ver=CBV2.0"


def event_hash(event: Mapping[str, Any], context: JsonLdContext | None = None) -> str:
    """The GS1 EPCIS event hash of ``event``: ``ni:///sha-256;<64 hex>?ver=CBV2.0``.

    ``event`` is one EPCIS event as a JSON object (as in ``eventList``); ``context`` is the
    ``@context`` of its document (``None``: the EPCIS 2.0 context). Raises
    :class:`EventHashError` with the reason when the event cannot be hashed.
    """
    return _digest(pre_hash_string(event, context))


def event_hashes(
    events: Sequence[Mapping[str, Any]], context: JsonLdContext | None = None
) -> list[str | EventHashError]:
    """The event hash of each of a document's ``events`` (its ``@context`` looked up once).

    Each entry is the hash, or the :class:`EventHashError` that :func:`event_hash` would
    raise for that event; one unhashable event does not affect the others.
    """
    prepared = _prepared(context)
    results: list[str | EventHashError] = []
    for event in events:
        pre_hash = _fast_pre_hash_string(event, prepared)
        try:
            results.append(_digest(pre_hash if pre_hash is not None else _library_pre_hash_string(event, context)))
        except EventHashError as exc:
            results.append(exc)
    return results


def evidence_bytes32(hash_str: str) -> bytes:
    """The 32-byte SHA-256 digest inside an event hash: the on-chain ``evidenceHash``.

    Accepts ``ni:///sha-256;<hex>`` with or without its ``?ver=CBV...`` suffix; anything else
    (another algorithm, a digest that is not 32 bytes) raises :class:`InvalidEventHash`,
    since a bytes32 must never silently hold a truncated or foreign digest.
    """
    if not isinstance(hash_str, str):
        raise InvalidEventHash(repr(hash_str), "not a string")
    match = _NI_SHA256.fullmatch(hash_str)
    if match is None:
        if hash_str.startswith("ni:///") and not hash_str.startswith("ni:///sha-256;"):
            raise InvalidEventHash(hash_str, "only sha-256 event hashes fit a bytes32 evidence hash")
        raise InvalidEventHash(hash_str, "expected ni:///sha-256;<64 hex digits>?ver=CBV2.0")
    return bytes.fromhex(match["hex"])


def is_event_hash(value: object) -> bool:
    """Whether ``value`` is a SHA-256 ``ni:///`` event hash (e.g. an ``eventID`` that is one)."""
    return isinstance(value, str) and _NI_SHA256.fullmatch(value) is not None
