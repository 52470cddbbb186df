"""Domain errors to HTTP, in one place: a status, a stable code, the field when there is one.

Every service of the project installs these handlers, so a bad input always comes back as a
4xx naming what was wrong, and a node or aggregator that is down as a 503 saying which,
never as a 500. ``ApiError`` is the root of the errors the ``/v1`` service raises itself
(authentication, per-object authorization, idempotency, documents); a 401 carries
``WWW-Authenticate: Bearer`` as RFC 6750 asks.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ledger.errors import ChainUnavailable, ContractReverted, LedgerError
from ledger.proofs import ClaimMismatch, ProofInvalid, ProofUnavailable
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


class ApiError(Exception):
    """Root of every error the HTTP API (``api.v1``) raises itself."""


class Unauthenticated(ApiError):
    """No token, or one that is forged, expired or for another service: sign in again."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SignInRefused(ApiError):
    """The challenge's signature is valid but the signer may not sign in (not an active member)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"{address} may not sign in: {reason}")


class NotFound(ApiError):
    """No such object *for this party*: another party's object answers the same as a missing one."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key}")


class Forbidden(ApiError):
    """The party sees the object but may not take this action on it (wrong role or side)."""

    def __init__(self, party: str, action: str, reason: str) -> None:
        self.party = party
        self.action = action
        self.reason = reason
        super().__init__(f"{party} may not {action}: {reason}")


class InvalidField(ApiError):
    """A well-formed request whose field is wrong for the ledger (a signature by someone else...)."""

    def __init__(self, field: str, reason: str, location: str = "body") -> None:
        self.field = field
        self.reason = reason
        self.location = location  # where the field came from: body, query, path or header
        super().__init__(f"{field}: {reason}")


class IdempotencyKeyReused(ApiError):
    """The same Idempotency-Key came back with another request (method, path or body)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Idempotency-Key {key!r} was used for another request; use a fresh key for a new request")


class IdempotencyInProgress(ApiError):
    """The first request with this Idempotency-Key is still running; retry later for its answer."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"a request with Idempotency-Key {key!r} is still in progress; retry shortly")


class PayloadTooLarge(ApiError):
    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"request body of {size} bytes or more is over the limit of {limit} bytes")


class MediaTypeRefused(ApiError):
    def __init__(self, content_type: str, accepted: tuple[str, ...]) -> None:
        self.content_type = content_type
        self.accepted = accepted
        super().__init__(f"content type {content_type!r} is not accepted; send one of {', '.join(accepted)}")


class Conflict(ApiError):
    """The request is valid but the ledger's current state refuses it (a replayed challenge, a
    document whose stored bytes no longer match their hash, a transaction the node rejected)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(reason)


class ServiceUnavailable(ApiError):
    """Something the API needs (the node, the index) does not answer."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"{what} is unavailable: {reason}")


def _body(code: str, exc: Exception, **more: Any) -> dict[str, Any]:
    return {"error": code, "detail": str(exc), **{k: v for k, v in more.items() if v is not None}}


def problem(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a domain error."""
    api = _api_problem(exc)
    if api is not None:
        return api
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
    if isinstance(exc, ProofUnavailable):
        return 503, _body("proof_unavailable", exc)
    if isinstance(exc, ProofInvalid | ClaimMismatch):
        return 422, _unprocessable("proof_invalid", exc, "proof", ["body", "proof"])
    if isinstance(exc, ContractReverted):
        return 409, _body("contract_reverted", exc, contract_error=exc.error)
    if isinstance(exc, EventHashError):
        return 422, _body("event_hash_unavailable", exc)
    if isinstance(exc, OracleError | LedgerError):
        return 400, _body(type(exc).__name__, exc)
    raise exc


def _unprocessable(code: str, exc: Exception, field: str, loc: list[str]) -> dict[str, Any]:
    """A 422 in the shape FastAPI gives its own validation errors (``detail`` a list naming the
    field), so clients and the OpenAPI document see one shape for every 422."""
    return {"error": code, "detail": [{"loc": loc, "msg": str(exc), "type": code}], "field": field}


def _api_problem(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    if not isinstance(exc, ApiError):
        return None
    if isinstance(exc, Unauthenticated):
        return 401, _body("unauthenticated", exc)
    if isinstance(exc, SignInRefused):
        return 403, _body("sign_in_refused", exc, address=exc.address)
    if isinstance(exc, NotFound):
        return 404, _body("not_found", exc, kind=exc.kind)
    if isinstance(exc, Forbidden):
        return 403, _body("forbidden", exc, action=exc.action)
    if isinstance(exc, InvalidField):
        return 422, _unprocessable("invalid_field", exc, exc.field, [exc.location, exc.field])
    if isinstance(exc, IdempotencyKeyReused):
        return 422, _unprocessable("idempotency_key_reused", exc, "Idempotency-Key", ["header", "Idempotency-Key"])
    if isinstance(exc, IdempotencyInProgress):
        return 409, _body("idempotency_in_progress", exc, field="Idempotency-Key")
    if isinstance(exc, PayloadTooLarge):
        return 413, _body("payload_too_large", exc, limit=exc.limit)
    if isinstance(exc, MediaTypeRefused):
        return 415, _body("unsupported_media_type", exc, field="Content-Type", accepted=list(exc.accepted))
    if isinstance(exc, Conflict):
        return 409, _body(exc.code, exc)
    if isinstance(exc, ServiceUnavailable):
        return 503, _body("service_unavailable", exc, service=exc.what)
    return 400, _body(type(exc).__name__, exc)


def response(exc: Exception) -> JSONResponse:
    """The JSON answer to a domain error (``problem``), with the headers its status calls for."""
    status, body = problem(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="scf-ledger"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Map every domain error of ``oracles``, ``ledger`` and the API to its HTTP answer."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return response(exc)

    app.add_exception_handler(OracleError, handle)
    app.add_exception_handler(LedgerError, handle)
    app.add_exception_handler(ApiError, handle)
