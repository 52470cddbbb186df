"""Domain errors to HTTP, in one place: a status, a stable code, the field when there is one.

Every service of the project installs these handlers, so a bad input always comes back as a
4xx naming what was wrong, and a node or aggregator that is down as a 503 saying which,
never as a 500. ``ApiError`` is the root of the errors the ``/v1`` service raises itself
(authentication, per-object authorization, idempotency, documents); a 401 carries
``WWW-Authenticate: Bearer`` as RFC 6750 asks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException

from api.recursion import sane_recursion_limit
from ledger.errors import ChainUnavailable, ContractReverted, LedgerError
from ledger.eth.fees import FeeCapBelowBaseFee
from ledger.eth.proofs import ClaimMismatch, ProofInvalid, ProofUnavailable
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


class RateLimited(ApiError):
    """Too many requests of one kind from one client, address or party (``api.v1.ratelimit``): 429 with
    ``Retry-After``, the whole seconds until the next one is let through."""

    def __init__(self, scope: str, retry_after: int) -> None:
        self.scope = scope
        self.retry_after = retry_after
        super().__init__(f"too many requests ({scope}); retry in {retry_after} s")


class RelayCapExceeded(ApiError):
    """The relayer will not send this much gas money: more than its cap per transaction (``resets_at`` None:
    lower the gas or the fee caps, or pay the gas yourself) or than the party's cap per UTC day."""

    def __init__(self, party: str, cap: int, needed: int, used: int = 0, resets_at: int | None = None) -> None:
        self.party = party
        self.cap = cap
        self.needed = needed
        self.used = used
        self.resets_at = resets_at
        if resets_at is None:
            super().__init__(
                f"the relayer sends at most {cap} wei per transaction and this one needs {needed} wei more than "
                f"{party} holds: lower gas or maxFeePerGas, or fund the gas yourself and submit the txHash"
            )
        else:
            super().__init__(
                f"the relayer sends {party} at most {cap} wei per UTC day; {used} wei sent today and this "
                f"transaction needs {needed} more; the cap resets at {resets_at} (UTC seconds), or fund the gas "
                "yourself and submit the txHash"
            )


class RelayerOutOfFunds(ApiError):
    """The relayer's own balance cannot pay the top-up: the operator must refill it."""

    def __init__(self, relayer: str, balance: int, needed: int) -> None:
        self.relayer = relayer
        self.balance = balance
        self.needed = needed
        super().__init__(
            f"the relayer {relayer} holds {balance} wei and this top-up needs {needed}: it cannot pay gas until its "
            "operator refills it; retry later, or fund the gas yourself and submit the txHash"
        )


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
        return 400, _body("malformed_json", exc, field=exc.path or None, line=exc.line, column=exc.column)
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
    if isinstance(exc, FeeCapBelowBaseFee):  # the operator's network file, not the client, must change
        return 503, _body("gas_policy_below_base_fee", exc, cap=str(exc.cap), base_fee=str(exc.base_fee))
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
    if isinstance(exc, RateLimited):
        return 429, _body("rate_limited", exc, scope=exc.scope, retryAfter=exc.retry_after)
    if isinstance(exc, RelayCapExceeded):
        amounts = {"cap": str(exc.cap), "needed": str(exc.needed)}
        if exc.resets_at is None:
            return 403, _body("relay_cap_exceeded", exc, scope="transaction", **amounts)
        return 429, _body("relay_cap_exceeded", exc, scope="day", used=str(exc.used), resetsAt=exc.resets_at, **amounts)
    if isinstance(exc, RelayerOutOfFunds):
        return 503, _body("relayer_out_of_funds", exc, service="relayer", relayer=exc.relayer)
    return 400, _body(type(exc).__name__, exc)


def response(exc: Exception) -> JSONResponse:
    """The JSON answer to a domain error (``problem``), with the headers its status calls for."""
    status, body = problem(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="scf-ledger"'} if status == 401 else {}
    if isinstance(exc, RelayCapExceeded) and exc.resets_at is not None:
        headers["Retry-After"] = str(max(1, exc.resets_at - int(time.time())))
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(json_safe(body, cut=False), status_code=status, headers=headers or None)


#: How much of a client's own input an error echoes back (strings, items, nesting).
_ECHO_CHARS = 256
_ECHO_ITEMS = 32
_ECHO_DEPTH = 8
_ECHO_INT = 10**100


def json_safe(value: Any, depth: int = 0, *, cut: bool = True) -> Any:
    """``value`` as a JSON answer can carry it. Errors echo what the client sent (FastAPI's ``input``,
    a reason quoting a field), and NaN, a huge integer or an unpaired surrogate in it used to make
    the answer itself fail to render: a 500 in place of the 4xx. With ``cut``, long echoes are cut
    short (never deeper than a few levels either way)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value if not cut or len(value) <= _ECHO_CHARS else value[:_ECHO_CHARS] + "..."
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, int):
        return value if -_ECHO_INT < value < _ECHO_INT else f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _ECHO_DEPTH:
        return "..."
    items = _ECHO_ITEMS if cut else None
    if isinstance(value, Mapping):
        return {
            str(json_safe(k, depth + 1, cut=cut)): json_safe(v, depth + 1, cut=cut)
            for k, v in list(value.items())[:items]
        }
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1, cut=cut) for v in value[:items]]
    if isinstance(value, bytes | bytearray):
        raw = bytes(value[: _ECHO_CHARS + 1] if cut else value)
        return json_safe(raw.decode("utf-8", "backslashreplace"), depth, cut=cut)
    return json_safe(str(value), depth, cut=cut)


def validation_problem(errors: Sequence[Any]) -> tuple[int, dict[str, Any]]:
    """FastAPI's request validation errors as a 4xx naming the field: a body it could not parse is
    400 ``malformed_json``; anything else 422 in FastAPI's own shape (``detail``, a list) plus the
    ``error`` code and ``field`` every other answer carries."""
    detail = [json_safe(dict(error)) for error in errors]
    first = detail[0] if detail else {}
    field = _field_of(first.get("loc", ()))
    unparsed = next((error for error in detail if error.get("type") == "json_invalid"), None)
    if unparsed is not None:
        reason = (unparsed.get("ctx") or {}).get("error", unparsed.get("msg", "not JSON"))
        return 400, {"error": "malformed_json", "detail": f"malformed JSON: {reason}", "field": "body"}
    return 422, {"error": "invalid_field", "detail": detail, "field": field}


def _field_of(loc: Sequence[Any]) -> str:
    """``["body", "items", 0, "amount"]`` -> ``items[0].amount`` (the place itself when nothing follows)."""
    parts = list(loc)
    place = str(parts.pop(0)) if parts and parts[0] in ("body", "query", "path", "header", "cookie") else ""
    field = ""
    for part in parts:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field or place or "body"


#: The roots of every error ``problem`` answers: what an ASGI layer in front of the routes catches too.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (ApiError, OracleError, LedgerError)


def install(app: FastAPI) -> None:
    """Map every domain error of ``oracles``, ``ledger`` and the API to its HTTP answer, and FastAPI's
    own (validation, unknown routes) to the same shape; keep the process's recursion limit sane."""
    # Every service's app comes through here after eth-account (py_ecc) has raised the limit.
    sane_recursion_limit()

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        return response(exc)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, body = validation_problem(exc.errors())
        return JSONResponse(body, status_code=status)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        try:
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        except ValueError:
            code = "http_error"
        body = json_safe({"error": code, "detail": exc.detail})
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    for root in DOMAIN_ERRORS:
        app.add_exception_handler(root, handle)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
