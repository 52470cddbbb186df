"""Domain errors to HTTP, in one place: a status, a stable code, the field when there is one.

Every service of the project installs these handlers, so a bad input always comes back as a
4xx naming what was wrong, and a node or aggregator that is down as a 503 saying which,
never as a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledger.errors import ChainUnavailable, ContractReverted, LedgerError
from oracles.errors import (
    AggregatorUnavailable,
    CaptureNotFound,
    DocumentTooLarge,
    EpcisDocumentError,
    EventHashError,
    InvalidEpcis,
    MalformedJson,
    OracleError,
    OracleInactive,
)


class UnsupportedMediaType(OracleError):
    def __init__(self, content_type: str, accepted: tuple[str, ...]) -> None:
        self.content_type = content_type
        self.accepted = accepted
        super().__init__(f"content type {content_type!r} is not accepted; send one of {', '.join(accepted)}")


def _body(code: str, exc: Exception, **more: Any) -> dict[str, Any]:
    return {"error": code, "detail": str(exc), **{k: v for k, v in more.items() if v is not None}}


def problem(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a domain error."""
    if isinstance(exc, DocumentTooLarge):
        return 413, _body("document_too_large", exc, size=exc.size, limit=exc.limit)
    if isinstance(exc, MalformedJson):
        return 400, _body("malformed_json", exc, line=exc.line, column=exc.column)
    if isinstance(exc, EpcisDocumentError):
        return 422, _body("invalid_epcis", exc, field=exc.path or None)
    if isinstance(exc, InvalidEpcis):
        return 400, _body(exc.code, exc)
    if isinstance(exc, UnsupportedMediaType):
        return 415, _body("unsupported_media_type", exc, accepted=list(exc.accepted))
    if isinstance(exc, OracleInactive):
        return 403, _body("oracle_inactive", exc, oracle=exc.oracle, kind=exc.kind)
    if isinstance(exc, CaptureNotFound):
        return 404, _body("capture_not_found", exc, capture_id=exc.capture_id)
    if isinstance(exc, AggregatorUnavailable):
        return 503, _body("aggregator_unavailable", exc)
    if isinstance(exc, ChainUnavailable):
        return 503, _body("chain_unavailable", exc)
    if isinstance(exc, ContractReverted):
        return 409, _body("contract_reverted", exc, contract_error=exc.error)
    if isinstance(exc, EventHashError):
        return 422, _body("event_hash_unavailable", exc)
    if isinstance(exc, OracleError | LedgerError):
        return 400, _body(type(exc).__name__, exc)
    raise exc


def install(app: FastAPI) -> None:
    """Map every domain error of ``oracles`` and ``ledger`` to its HTTP answer."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        status, body = problem(exc)
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(OracleError, handle)
    app.add_exception_handler(LedgerError, handle)
