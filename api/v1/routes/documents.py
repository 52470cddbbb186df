"""``/v1/documents``: upload encrypted, share with entitled parties, download checked against the hash."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.errors import InvalidField, PayloadTooLarge
from api.v1.deps import ERRORS, Me, Svc
from api.v1.documents import Document, DocumentVault
from api.v1.schemas import AnchorOut, DocumentIn, DocumentOut, ShareIn

router = APIRouter(prefix="/documents", tags=["documents"], responses=ERRORS)

DocumentId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


def _vault(svc: Svc) -> DocumentVault:
    vault: DocumentVault = svc.extra["documents"]
    return vault


def _out(svc: Svc, document: Document) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        owner=document.owner,
        kind=document.kind,
        filename=document.filename,
        mediaType=document.media_type,
        size=document.size,
        keccak256=document.keccak256,
        sha256=document.sha256,
        parties=document.parties,
        createdAt=document.created_at,
        anchors=[AnchorOut(**a) for a in _vault(svc).anchors(document)],  # type: ignore[arg-type]
    )


@router.post("", status_code=201, response_model=DocumentOut)
def upload(svc: Svc, party: Me, body: DocumentIn) -> DocumentOut:
    try:
        content = base64.b64decode(body.contentBase64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidField("contentBase64", "not valid base64") from exc
    if len(content) > svc.settings.max_document:
        raise PayloadTooLarge(len(content), svc.settings.max_document)
    for i, other in enumerate(body.parties):
        member = svc.reads.member_or_none(other)
        if member is None or member.status != "ACTIVE":
            raise InvalidField(f"parties[{i}]", f"{other} is not an active member of the ledger")
    document = _vault(svc).put(party.address, body.kind, body.filename, body.mediaType, content, body.parties)
    return _out(svc, document)


@router.get("", response_model=list[DocumentOut])
def documents(svc: Svc, party: Me) -> list[DocumentOut]:
    return [_out(svc, d) for d in _vault(svc).mine(party.address)]


@router.get("/{document_id}", response_model=DocumentOut)
def document(svc: Svc, party: Me, document_id: DocumentId) -> DocumentOut:
    return _out(svc, _vault(svc).get(document_id, party.address, party.auditor))


@router.get(
    "/{document_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def content(svc: Svc, party: Me, document_id: DocumentId) -> Response:
    found, plaintext = _vault(svc).content(document_id, party.address)
    headers = {
        "X-Content-Keccak256": found.keccak256,
        "Content-Disposition": f'attachment; filename="{found.filename}"',
    }
    return Response(plaintext, media_type=found.media_type, headers=headers)


@router.post("/{document_id}/parties", response_model=DocumentOut)
def share(svc: Svc, party: Me, document_id: DocumentId, body: ShareIn) -> DocumentOut:
    member = svc.reads.member_or_none(body.party)
    if member is None or member.status != "ACTIVE":
        raise InvalidField("party", f"{body.party} is not an active member of the ledger")
    return _out(svc, _vault(svc).share(document_id, party.address, body.party))
