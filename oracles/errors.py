"""Errors of the oracles package: one root, typed subclasses that keep their context.

``OracleError`` is the only root here (``ledger.errors.LedgerError`` is the ledger's own and
is deliberately not a base): the API maps each family to one HTTP answer in one place.

- ``InvalidEpcis`` and its subclasses: the caller sent something that is not an acceptable
  EPCIS 2.0 document (HTTP 400/413/422). Each carries a machine ``code`` and what failed.
  ``MalformedJson`` and ``ValueOutOfRange`` are also what ``oracles.strict_json`` raises for any
  JSON a service refuses before decoding it.
- ``EventHashError``: the GS1 event hash could not be computed for an otherwise valid event.
- ``InvalidEventHash``: a string is not a SHA-256 ``ni:///`` event hash (cannot become bytes32).
- ``SimulationError``: a simulator scenario is inconsistent (a programming error in a caller).
"""

from __future__ import annotations


class OracleError(Exception):
    """Root of every error raised by ``oracles``."""


class InvalidEpcis(OracleError):
    """The input is not an acceptable EPCIS 2.0 document; ``code`` names the kind of problem."""

    code = "invalid_epcis"


class DocumentTooLarge(InvalidEpcis):
    """The raw document is bigger than the configured limit; it was not parsed at all."""

    code = "document_too_large"

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"document is {size} bytes, over the limit of {limit} bytes")


class MalformedJson(InvalidEpcis):
    """The input is not JSON, or not JSON every service can take (not UTF-8, nested too deep, NaN or
    Infinity, an unpaired surrogate: see ``oracles.strict_json``). ``line`` and ``column`` point at
    the fault and ``path`` names the value it is in (``""``: the top level), when known."""

    code = "malformed_json"

    def __init__(
        self, reason: str, *, line: int | None = None, column: int | None = None, path: str | None = None
    ) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        self.path = path
        where = f" at line {line} column {column}" if line is not None else ""
        inside = f" (in {path})" if path else ""
        super().__init__(f"malformed JSON{where}{inside}: {reason}")


class EpcisDocumentError(InvalidEpcis):
    """A field is missing or invalid. ``path`` is the JSON path of the field, e.g.
    ``epcisBody.eventList[2].eventTime`` (empty for the document itself)."""

    code = "invalid_document"

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path or 'document'}: {reason}")


class ValueOutOfRange(EpcisDocumentError):
    """Well-formed JSON holding a value no field can take: a number longer than the limit or beyond
    a double's range, or (in an object built in Python) NaN, a huge integer, an unpaired surrogate or
    nesting past the limit. ``path`` names the value (see ``oracles.strict_json``)."""

    code = "value_out_of_range"


class EventHashError(OracleError):
    """The GS1 event hash of an event could not be computed (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot compute the EPCIS event hash: {reason}")


class InvalidEventHash(OracleError):
    """``value`` is not a SHA-256 EPCIS event hash of the form ``ni:///sha-256;<64 hex>?ver=CBV2.0``."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"not a SHA-256 event hash ({reason}): {value[:120]!r}")


class SimulationError(OracleError):
    """A simulated scenario is inconsistent, e.g. a deliver-by before the ship-by."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OracleInactive(OracleError):
    """The chain does not count this service's key as an active oracle of its kind."""

    def __init__(self, oracle: str, kind: str) -> None:
        self.oracle = oracle
        self.kind = kind
        super().__init__(f"{oracle} is not an active {kind} oracle on chain (suspended or never admitted)")


class CaptureNotFound(OracleError):
    """No capture has this id."""

    def __init__(self, capture_id: str) -> None:
        self.capture_id = capture_id
        super().__init__(f"no capture {capture_id!r}")


class AggregatorUnavailable(OracleError):
    """The aggregator did not answer; the capture keeps the signatures and can be retried."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the aggregator did not answer: {reason}")
