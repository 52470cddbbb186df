"""HTTP for the oracle services: EPCIS capture in the spirit of the GS1 EPCIS 2.0 REST binding.

An oracle service (``scf oracle serve``):

* ``POST /capture`` takes an EPCIS 2.0 document (``application/json`` or
  ``application/ld+json``: an ``EPCISDocument``, an ``EPCISQueryDocument`` or a single
  event) and answers ``202 Accepted`` with ``Location: /capture/{captureID}`` and the capture
  job, every event's outcome included. The same document again is answered ``200`` from the
  record, or, when part of it failed to reach the aggregator, retried.
* ``GET /capture/{captureID}`` the job; ``GET /capture/{captureID}/document`` the document
  exactly as captured (an auditor recomputes the evidence hashes from it).
* ``GET /health``: the oracle's address, kind and whether the chain counts it as active.

**Parsing on the other cores.** With ``parse_workers`` > 0 the app owns a
:class:`~oracles.parallel.HashPool` of that many worker processes for its lifetime: started (and
warmed) when the app starts, shut down when it stops (uvicorn's Ctrl-C or SIGTERM, a TestClient's
``with`` block), so no worker outlives the service. While it runs, the capture service parses large
documents with it (``oracles.parallel``: the same ``ParsedDocument``, hash for hash, as in
process); an app that was never started, or has stopped, parses in process.

**Capture clients.** A capture makes the oracle sign with its key, and a captured document is a
party's commercial data, so every ``/capture`` route takes a credential: ``Authorization: Bearer
<client id>.<secret>``, one per capture client (a carrier's WMS, a scanner hub), issued by the
operator with ``scf oracle client add`` into the service's clients file (``--clients FILE`` or
``SCF_ORACLE_CLIENTS``). The file holds each client's salted SHA-256 of its secret, never the
secret; a missing, unknown or wrong credential is a 401 with ``WWW-Authenticate: Bearer``, checked
before the body is read. ``/health`` stays open.

The aggregator (``scf oracle aggregate``): ``POST /attestations`` takes signed attestations
from the oracle services, ``POST /declarations`` their signed error declarations, ``GET
/attestations/{key}`` reports one attestation. Signatures are checked there, not trusted, so it
takes no credential; its bodies pass ``api.json_input.JsonBodyGuard`` (size, media type, the
JSON rules every service applies) before FastAPI reads them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import errors
from api.errors import ApiError, Unauthenticated, UnsupportedMediaType
from api.json_input import JsonBodyGuard
from ledger.domain.escrow import Attestation, ErrorDeclaration, Milestone
from oracles.aggregator import Aggregator, Receipt, Submission
from oracles.capture import CaptureJob, CaptureService
from oracles.errors import DocumentTooLarge
from oracles.parallel import DocumentParser, HashPool

EPCIS_MEDIA_TYPES = ("application/json", "application/ld+json")
EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}

Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
Uint64 = Annotated[int, Field(ge=0, lt=2**64)]
Uint256 = Annotated[int, Field(ge=0, lt=2**256)]


CLIENTS_ENV = "SCF_ORACLE_CLIENTS"
#: Largest body the aggregator reads: some thousands of signed attestations.
AGGREGATOR_MAX_BODY = 1 << 20

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{32,128}")
_HOW = "send Authorization: Bearer <client id>.<secret> (the operator issues one with `scf oracle client add`)"


class CaptureClientsError(ApiError):
    """The clients file is missing, unreadable or malformed, or a client id is not acceptable."""


@dataclass(frozen=True, kw_only=True)
class CaptureClients:
    """The capture clients of one oracle service: client id -> (salt, SHA-256 of salt + secret).

    Secrets are drawn here (:meth:`issue`, 256 random bits), never chosen by a person, so one salted
    SHA-256 is enough: there is no dictionary to run against it, and a slow KDF's cost would be paid
    by every capture, and by anyone hammering the route with guesses.
    """

    digests: Mapping[str, tuple[bytes, bytes]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> CaptureClients:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["clients"]
            digests = {
                str(name): (bytes.fromhex(entry["salt"]), bytes.fromhex(entry["sha256"]))
                for name, entry in entries.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CaptureClientsError(
                f"cannot read the capture clients file {path}: {exc}; create it with `scf oracle client add`"
            ) from exc
        bad = [name for name, (_, digest) in digests.items() if not _CLIENT_ID.fullmatch(name) or len(digest) != 32]
        if bad:
            raise CaptureClientsError(f"{path}: malformed entries for {', '.join(map(repr, bad))}")
        return cls(digests=digests)

    @classmethod
    def from_env(cls, path: str | None = None) -> CaptureClients:
        """The clients of ``path``, else of ``SCF_ORACLE_CLIENTS``; a service without clients does not start."""
        where = path or os.environ.get(CLIENTS_ENV)
        if not where:
            raise CaptureClientsError(
                f"an oracle service needs its capture clients: pass --clients FILE or set {CLIENTS_ENV} "
                "(create the file with `scf oracle client add CLIENT_ID --clients FILE`)"
            )
        clients = cls.load(Path(where))
        if not clients.digests:
            raise CaptureClientsError(f"{where} names no capture client; add one with `scf oracle client add`")
        return clients

    def save(self, path: Path) -> None:
        """Write the file readable by its owner only, replacing it in one step."""
        entries = {name: {"salt": salt.hex(), "sha256": digest.hex()} for name, (salt, digest) in self.digests.items()}
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"clients": entries}, out, indent=2, sort_keys=True)
        os.replace(temporary, path)

    def issue(self, client_id: str) -> tuple[CaptureClients, str]:
        """These clients with ``client_id`` given a new secret (a new client, or a rotated one), and
        the bearer token to hand to it: shown once, kept nowhere."""
        if not _CLIENT_ID.fullmatch(client_id):
            raise CaptureClientsError(f"a client id is 1 to 64 of A-Z a-z 0-9 _ -, got {client_id!r}")
        secret, salt = secrets.token_urlsafe(32), secrets.token_bytes(16)
        digests = {**self.digests, client_id: (salt, _digest(salt, secret))}
        return CaptureClients(digests=digests), f"{client_id}.{secret}"

    def without(self, client_id: str) -> CaptureClients:
        if client_id not in self.digests:
            raise CaptureClientsError(f"no capture client {client_id!r}")
        return CaptureClients(digests={name: entry for name, entry in self.digests.items() if name != client_id})

    def verify(self, authorization: str | None) -> str:
        """The client id of an ``Authorization`` header value, or ``Unauthenticated``.

        The digest is compared in constant time, and an unknown client costs the same work as a
        known one, so timing tells a stranger neither a secret's bytes nor which ids exist."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(f"no capture credential; {_HOW}")
        client_id, _, secret = token.strip().partition(".")
        if not _CLIENT_ID.fullmatch(client_id) or not _SECRET.fullmatch(secret):
            raise Unauthenticated(f"a capture credential is <client id>.<secret>; {_HOW}")
        salt, expected = self.digests.get(client_id, (b"\0" * 16, b"\0" * 32))
        if not hmac.compare_digest(_digest(salt, secret), expected) or client_id not in self.digests:
            raise Unauthenticated(f"unknown capture client or wrong secret; {_HOW}")
        return client_id


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


async def capture_client(request: Request) -> str:
    """FastAPI dependency: the capture client of the request's credential (401 without a valid one)."""
    clients: CaptureClients = request.app.state.capture_clients
    return clients.verify(request.headers.get("authorization"))


Client = Annotated[str, Depends(capture_client)]


def job_json(job: CaptureJob) -> dict[str, Any]:
    body = asdict(job)
    body["captureID"] = body.pop("capture_id")
    body["counts"] = job.counts
    return body


def _parsing_lifespan(service: CaptureService, workers: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: ``workers`` processes parse for ``service`` while the app runs (none: in process)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.hash_pool = None
        if workers <= 0 or service.parser is not None:  # in process, or the service brought its own parser
            yield
            return
        pool, parser = HashPool(workers), None
        try:
            # Spawning and warming the workers takes a second or two: off the event loop.
            await run_in_threadpool(pool.start)
            app.state.hash_pool = pool
            parser = service.parser = DocumentParser(pool)
            yield
        finally:
            # A capture still parsing meets a closed pool and parses in process: the same result.
            if service.parser is parser:
                service.parser = None
            app.state.hash_pool = None
            await run_in_threadpool(pool.close)

    return lifespan


def create_oracle_app(service: CaptureService, *, clients: CaptureClients, parse_workers: int = 0) -> FastAPI:
    """The HTTP face of one oracle service; ``clients`` may capture and read captures. ``parse_workers``
    processes parse large documents while the app runs (``app.state.hash_pool``); 0: in process."""
    witness = service.witness
    app = FastAPI(
        title=f"scf-ledger {witness.kind.name.lower()} oracle",
        description="EPCIS 2.0 capture; k-of-n EIP-712 attestations of order milestones",
        version="1",
        lifespan=_parsing_lifespan(service, parse_workers),
    )
    errors.install(app)
    app.state.capture_clients = clients
    app.state.hash_pool = None

    @app.post("/capture", status_code=202)
    async def capture(request: Request, _client: Client) -> JSONResponse:
        media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if media_type not in EPCIS_MEDIA_TYPES:
            raise UnsupportedMediaType(media_type, EPCIS_MEDIA_TYPES)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > service.max_bytes:
            raise DocumentTooLarge(int(declared), service.max_bytes)
        body = await _read_limited(request, service.max_bytes)
        # Chain reads, signing and SQL block: off the event loop, so /health and polls still answer.
        job = await run_in_threadpool(service.capture, body)
        status = 200 if job.repeated else 202
        headers = {"Location": f"/capture/{job.capture_id}", **EPCIS_HEADERS}
        return JSONResponse(job_json(job), status_code=status, headers=headers)

    @app.get("/capture/{capture_id}")
    def capture_job(capture_id: str, _client: Client) -> JSONResponse:
        return JSONResponse(job_json(service.job(capture_id)), headers=EPCIS_HEADERS)

    @app.get("/capture/{capture_id}/document")
    def capture_document(capture_id: str, _client: Client) -> Response:
        return Response(service.document(capture_id), media_type="application/ld+json", headers=EPCIS_HEADERS)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"oracle": witness.address, "kind": witness.kind.name.lower(), "active": witness.is_active()}

    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (a lying Content-Length included)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DocumentTooLarge(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


# -- the aggregator ------------------------------------------------------------------------


class AttestationIn(BaseModel):
    orderId: Uint256
    milestone: Annotated[int, Field(ge=1, le=4)]
    occurredAt: Uint64
    evidenceHash: Bytes32


class SubmissionIn(BaseModel):
    attestation: AttestationIn
    oracle: Address
    signature: Signature


class ErrorDeclarationIn(BaseModel):
    evidenceHash: Bytes32
    reasonHash: Bytes32
    declaredAt: Uint64


class DeclarationIn(BaseModel):
    declaration: ErrorDeclarationIn
    oracle: Address
    signature: Signature


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    body = asdict(receipt)
    return {k: v for k, v in body.items() if v is not None and v != ""}


def create_aggregator_app(aggregator: Aggregator, *, max_body: int = AGGREGATOR_MAX_BODY) -> FastAPI:
    app = FastAPI(title="scf-ledger attestation aggregator", version="1")
    errors.install(app)
    app.add_middleware(JsonBodyGuard, max_body=max_body)

    @app.post("/attestations")
    def add(submissions: list[SubmissionIn]) -> list[dict[str, Any]]:
        converted = [
            Submission(
                Attestation(
                    s.attestation.orderId,
                    Milestone(s.attestation.milestone),
                    s.attestation.occurredAt,
                    bytes.fromhex(s.attestation.evidenceHash[2:]),
                ),
                _checksum(s.oracle),
                bytes.fromhex(s.signature[2:]),
            )
            for s in submissions
        ]
        return [receipt_json(r) for r in aggregator.add(converted)]

    @app.get("/attestations/{key}")
    def status(key: str) -> JSONResponse:
        receipt = aggregator.status(key)
        if receipt is None:
            return JSONResponse({"error": "attestation_not_found", "detail": f"no attestation {key}"}, status_code=404)
        return JSONResponse(receipt_json(receipt))

    @app.post("/declarations")
    def declare(body: DeclarationIn) -> dict[str, Any]:
        d = body.declaration
        declaration = ErrorDeclaration(bytes.fromhex(d.evidenceHash[2:]), bytes.fromhex(d.reasonHash[2:]), d.declaredAt)
        receipt = aggregator.declare(declaration, _checksum(body.oracle), bytes.fromhex(body.signature[2:]))
        return {k: v for k, v in asdict(receipt).items() if v is not None and v != ""}

    return app


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))
