"""``/v1/documents``: sealed documents the server cannot read, the parties' keys, and each party's own wrap.

* ``POST /keys`` registers your document public key (your account's own, or another with your EIP-712
  ``DocumentKey`` signature: ``POST /keys/typed-data`` serves what to sign); ``GET /keys`` looks keys up
  for the parties named, or for those of an order or a receivable.
* ``POST ""`` uploads a sealed document with one wrapped key per party (yours included); ``GET ""``
  lists yours; ``GET /{id}`` its metadata; ``GET /{id}/content`` the sealed bytes; ``GET /{id}/key``
  your own wrapped key; ``POST /{id}/parties`` (the owner) adds or replaces a party's wrap.

The design and trust model are in ``api.v1.documents``; the format in ``ledger.eth.ecies``.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import Annotated
from urllib.parse import quote

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.errors import InvalidField, PayloadTooLarge
from api.v1.deps import ERRORS, Me, Svc, UploadLimit
from api.v1.document_schemas import (
    DocumentIn,
    DocumentKeyIn,
    DocumentKeyTermsIn,
    DocumentOut,
    PartyKeyOut,
    ShareIn,
    WrapIn,
    WrapOut,
)
from api.v1.documents import MAX_PARTIES, Document, DocumentVault, PartyKey, Wrap, key_domain, key_statement
from api.v1.faults import crash_point
from api.v1.idempotency import claim_of
from api.v1.routes.common import require_signer, typed
from api.v1.schemas import AnchorOut, TypedDataOut
from ledger.domain.typed_data import Domain
from ledger.eth import ecies

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
        parties=document.parties,
        createdAt=document.created_at,
        anchors=[AnchorOut(**a) for a in _vault(svc).anchors(document)],  # type: ignore[arg-type]
    )


def _public_key(value: str, field: str) -> bytes:
    """The compressed key of a ``PublicKey`` field; a point off the curve is a 422 naming ``field``."""
    try:
        return ecies.normalise_public_key(bytes.fromhex(value[2:]))
    except ecies.InvalidPublicKey as exc:
        raise InvalidField(field, str(exc)) from exc


def _active(svc: Svc, party: str, field: str) -> None:
    member = svc.reads.member_or_none(party)
    if member is None or member.status != "ACTIVE":
        raise InvalidField(field, f"{party} is not an active member of the ledger")


def _wrap(body: WrapIn | ShareIn, field: str) -> Wrap:
    return Wrap(body.party, _public_key(body.publicKey, f"{field}publicKey"), bytes.fromhex(body.wrappedKey[2:]))


def _domain(svc: Svc) -> Domain:
    return key_domain(svc.chain_id, svc.settings.addresses["Membership"])


# -- keys --------------------------------------------------------------------------------------------


def _key_out(party: str, key: PartyKey | None) -> PartyKeyOut:
    if key is None:
        return PartyKeyOut(party=party, publicKey=None, signature=None, registeredAt=None)
    return PartyKeyOut(
        party=party, publicKey="0x" + key.public_key.hex(), signature=key.signature, registeredAt=key.registered_at
    )


@router.post("/keys/typed-data", response_model=TypedDataOut)
def key_typed_data(svc: Svc, me: Me, body: DocumentKeyTermsIn) -> TypedDataOut:
    """The EIP-712 ``DocumentKey`` you sign to register ``publicKey`` as your document key (a key that is not your
    account's own: one a browser wallet derived, say)."""
    public_key = _public_key(body.publicKey, "publicKey")
    return typed(key_statement(_domain(svc), me.address, public_key))


@router.post("/keys", response_model=PartyKeyOut)
def register_key(svc: Svc, me: Me, body: DocumentKeyIn) -> PartyKeyOut:
    """Register your document key: documents are wrapped to it from now on. Your account's own public key needs
    no signature (it hashes to your address); any other needs your ``DocumentKey`` signature (422 naming
    ``signature`` otherwise)."""
    public_key = _public_key(body.publicKey, "publicKey")
    if ecies.address_of(public_key) == me.address:
        signature = None
    elif body.signature is None:
        raise InvalidField(
            "signature", "this is not your account's key: sign DocumentKey (POST /v1/documents/keys/typed-data)"
        )
    else:
        statement = key_statement(_domain(svc), me.address, public_key)
        require_signer(statement, body.signature, me.address, "signature", chain=svc.chain)
        signature = body.signature
    return _key_out(me.address, _vault(svc).register_key(me.address, public_key, signature))


@router.get("/keys", response_model=list[PartyKeyOut])
def keys(
    svc: Svc,
    me: Me,
    party: Annotated[list[str] | None, Query(max_length=MAX_PARTIES)] = None,
    order: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    receivable: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> list[PartyKeyOut]:
    """The document keys of the parties named (``party``, repeated) and of an order's (buyer, supplier) or a
    receivable's (debtor, creditor, holders) parties: what an uploader wraps to. Check each before use: an
    account's own key hashes to the party's address; any other carries the party's EIP-712 signature."""
    named: list[str] = []
    for i, value in enumerate(party or []):
        try:
            named.append(to_checksum_address(value))
        except ValueError as exc:
            raise InvalidField(f"party[{i}]", "not an address", "query") from exc
    everyone = sorted({*named, *_vault(svc).parties_of(order, receivable)})
    found = _vault(svc).keys(everyone)
    return [_key_out(p, found.get(p)) for p in everyone]


# -- documents ---------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=DocumentOut)
def upload(svc: Svc, party: Me, body: DocumentIn, request: Request, _limit: UploadLimit) -> DocumentOut:
    """Store a document you sealed (``ledger.eth.ecies``: AES-256-GCM under a key of its own, ``id`` as associated
    data) with its key wrapped to each party (you included), each to the key it registered. The server checks
    the wraps' layout and keys, not the contents: it cannot read them.

    With an Idempotency-Key, the document's id is recorded on the key before the document is stored, so a
    retry after a crash answers the stored document (or stores it under that id), never a second copy."""
    claim = claim_of(request.scope)
    if claim is not None and claim.effect is not None:
        stored = _vault(svc).stored(claim.effect, party.address)
        if stored is not None:
            return _out(svc, stored)
    try:
        sealed = base64.b64decode(body.sealedBase64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidField("sealedBase64", "not valid base64") from exc
    size = len(sealed) - ecies.NONCE - ecies.TAG
    if size < 0:
        raise InvalidField("sealedBase64", f"{len(sealed)} bytes is shorter than a nonce and a tag (28)")
    if size > svc.settings.max_document:
        raise PayloadTooLarge(size, svc.settings.max_document)
    wraps = [_wrap(w, f"wraps[{i}].") for i, w in enumerate(body.wraps)]
    seen: set[str] = set()
    for i, w in enumerate(wraps):
        if w.party in seen:
            raise InvalidField(f"wraps[{i}].party", f"{w.party} has two wraps")
        seen.add(w.party)
        if w.party != party.address:
            _active(svc, w.party, f"wraps[{i}].party")
    if party.address not in seen:
        raise InvalidField("wraps", f"no wrap for you ({party.address}): you could not read your own document")
    _vault(svc).check_wraps(wraps, "wraps")
    if claim is not None and claim.effect is None:
        claim.record(body.id)
    document = _vault(svc).put(
        body.id, party.address, body.kind, body.filename, body.mediaType, body.keccak256, sealed, wraps
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
    """The sealed bytes (``nonce || ciphertext || tag``), for an entitled party: decrypt them with the key in
    ``GET /{id}/key``, then check the plaintext's keccak256 against the hash on chain."""
    found, sealed = _vault(svc).sealed(document_id, party.address)
    headers = {
        "X-Content-Keccak256": found.keccak256,
        "Content-Disposition": content_disposition(found.filename + ".sealed"),
    }
    return Response(sealed, media_type="application/octet-stream", headers=headers)


@router.get("/{document_id}/key", response_model=WrapOut)
def key(svc: Svc, party: Me, document_id: DocumentId) -> WrapOut:
    """Your own wrapped key for the document (404 if you have none; nobody is served another party's)."""
    wrap = _vault(svc).wrap_of(document_id, party.address)
    return WrapOut(
        documentId=document_id,
        party=wrap.party,
        publicKey="0x" + wrap.public_key.hex(),
        wrappedKey="0x" + wrap.wrapped_key.hex(),
        wrappedBy=wrap.wrapped_by,
        createdAt=wrap.created_at,
    )


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
    """The owner shares: it unwraps its own key on its side and posts the key wrapped to ``party``'s registered
    document key (adds the party, or replaces its wrap with one to the key it registered since)."""
    _active(svc, body.party, "party")
    wrap = _wrap(body, "")
    _vault(svc).get(document_id, party.address)  # 404 before any detail about the wrap
    try:
        _vault(svc).check_wraps([wrap], "wraps")
    except InvalidField as exc:
        raise InvalidField(exc.field.removeprefix("wraps[0]."), exc.reason) from exc
    return _out(svc, _vault(svc).share(document_id, party.address, wrap))
