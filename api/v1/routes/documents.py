"""``/v1/documents``: upload encrypted, share with entitled parties, download checked against the hash."""

from __future__ import annotations

import base64
import binascii
import unicodedata
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.errors import InvalidField, PayloadTooLarge
from api.v1.deps import ERRORS, Me, Svc, UploadLimit
from api.v1.documents import Document, DocumentVault
from api.v1.faults import crash_point
from api.v1.idempotency import claim_of
from api.v1.schemas import AnchorOut, DocumentIn, DocumentOut, ShareIn

router = APIRouter(prefix="/documents", tags=["documents"], responses=ERRORS)

DocumentId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


def _vault(svc: Svc) -> DocumentVault:
    return svc.documents


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
def upload(svc: Svc, party: Me, body: DocumentIn, request: Request, _limit: UploadLimit) -> DocumentOut:
    """With an Idempotency-Key, the document's id is recorded on the key before the document is stored, so
    a retry after a crash answers the stored document (or stores it under that id), never a second copy."""
    claim = claim_of(request.scope)
    if claim is not None and claim.effect is not None:
        stored = _vault(svc).stored(claim.effect, party.address)
        if stored is not None:
            return _out(svc, stored)
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
    document_id = claim.effect if claim is not None and claim.effect is not None else str(uuid.uuid4())
    if claim is not None and claim.effect is None:
        claim.record(document_id)
    document = _vault(svc).put(
        party.address, body.kind, body.filename, body.mediaType, content, body.parties, document_id=document_id
    )
    crash_point("after-document-store")
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
    headers = {"X-Content-Keccak256": found.keccak256, "Content-Disposition": content_disposition(found.filename)}
    return Response(plaintext, media_type=found.media_type, headers=headers)


#: RFC 5987 ``attr-char`` beyond letters, digits and ``_.-~`` (which ``quote`` never escapes).
_ATTR_CHARS = "!#$&+^`|"


def content_disposition(filename: str) -> str:
    """``attachment`` naming ``filename`` for every browser (RFC 6266): a quoted ASCII fallback (accents
    dropped, quotes, backslashes and anything else outside printable ASCII replaced) and the exact name
    as ``filename*=UTF-8''...`` (RFC 5987), which readers that know it prefer.

    Header values travel as Latin-1, so a raw non-ASCII name cannot be put in the header at all (the
    500 this replaces), and a raw quote would end the quoted string (header injection). Names stored
    before the schema checked them go through the same escaping."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in folded).strip()
    stem, dot, extension = fallback.rpartition(".")
    if not dot:
        stem, extension = extension, ""
    if not any(ch.isalnum() for ch in stem):  # nothing left of the name (all Cyrillic, say): keep its type
        fallback = "download" + (f".{extension}" if extension else "")
    exact = quote(filename.encode("utf-8", "surrogatepass"), safe=_ATTR_CHARS)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


@router.post("/{document_id}/parties", response_model=DocumentOut)
def share(svc: Svc, party: Me, document_id: DocumentId, body: ShareIn) -> DocumentOut:
    member = svc.reads.member_or_none(body.party)
    if member is None or member.status != "ACTIVE":
        raise InvalidField("party", f"{body.party} is not an active member of the ledger")
    return _out(svc, _vault(svc).share(document_id, party.address, body.party))
