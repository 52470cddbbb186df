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

The aggregator (``scf oracle aggregate``): ``POST /attestations`` takes signed attestations
from the oracle services, ``POST /declarations`` their signed error declarations, ``GET
/attestations/{key}`` reports one attestation. Signatures are checked there, not trusted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import errors
from api.errors import UnsupportedMediaType
from ledger.escrow import Attestation, ErrorDeclaration, Milestone
from oracles.aggregator import Aggregator, Receipt, Submission
from oracles.capture import CaptureJob, CaptureService
from oracles.errors import DocumentTooLarge

EPCIS_MEDIA_TYPES = ("application/json", "application/ld+json")
EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}

Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]
Uint64 = Annotated[int, Field(ge=0, lt=2**64)]
Uint256 = Annotated[int, Field(ge=0, lt=2**256)]


def job_json(job: CaptureJob) -> dict[str, Any]:
    body = asdict(job)
    body["captureID"] = body.pop("capture_id")
    body["counts"] = job.counts
    return body


def create_oracle_app(service: CaptureService) -> FastAPI:
    """The HTTP face of one oracle service."""
    witness = service.witness
    app = FastAPI(
        title=f"scf-ledger {witness.kind.name.lower()} oracle",
        description="EPCIS 2.0 capture; k-of-n EIP-712 attestations of order milestones",
        version="1",
    )
    errors.install(app)

    @app.post("/capture", status_code=202)
    async def capture(request: Request) -> JSONResponse:
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
    def capture_job(capture_id: str) -> JSONResponse:
        return JSONResponse(job_json(service.job(capture_id)), headers=EPCIS_HEADERS)

    @app.get("/capture/{capture_id}/document")
    def capture_document(capture_id: str) -> Response:
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


def create_aggregator_app(aggregator: Aggregator) -> FastAPI:
    app = FastAPI(title="scf-ledger attestation aggregator", version="1")
    errors.install(app)

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
