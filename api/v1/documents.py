"""Commercial documents (invoices, bills of lading, terms) stored encrypted; only their hash goes on chain.

Each document is encrypted with AES-256-GCM under a key of its own (random, 256 bits), with
the document id as associated data, so a ciphertext cannot be moved to another row. The
document key is stored once per entitled party, wrapped with AES-256-GCM under the server's
master key with ``document id | party`` as associated data. The keccak256 of the plaintext
is what a party puts on chain (an order's ``termsHash``, a receivable's ``invoiceHash``); a
download decrypts, recomputes it and refuses (409) bytes that no longer match.

Trust model, honestly: the server holds the master key, so the operator of this service can
read every document; the per-party wrapping enforces *who may download* in software, not
against the operator. What it does buy: a copy of the database alone reveals nothing but
sizes and hashes; one leaked document key opens one document; a row swapped between
documents or parties fails authentication; and any party can check a download against the
hash on chain without trusting us. Wrapping each document key to the party's own public key
(ECIES on the secp256k1 key its sign-in signature reveals) would take the operator out of
the trust, at the price of decrypting on the client; that is the next step, not this one.

An upload with an Idempotency-Key survives a crash: the route records the new document's id on
the key's claim before storing it (``idempotency.py``), so a retry after a kill answers the
stored document, or stores it under that same id; it never stores a second copy. The recovery
test kills a real ``scf serve`` right after the store with ``SCF_FAULT=after-document-store``
(``api.v1.faults``). Filenames are checked at the schema (no controls, no path, 255 bytes)
and served in an RFC 6266 ``Content-Disposition`` with an RFC 5987 ``filename*`` for any script.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_utils import keccak
from sqlalchemy import Engine, insert, or_, select
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, Forbidden, NotFound
from api.v1 import store
from ledger.index.sql.models import Order, Root

NONCE = 12


@dataclass(frozen=True)
class Document:
    id: str
    owner: str
    kind: str
    filename: str
    media_type: str
    size: int
    keccak256: str
    sha256: str
    created_at: int
    parties: list[str]


class DocumentVault:
    def __init__(self, store_engine: Engine, index_engine: Engine, chain_id: int, master_key: bytes) -> None:
        self.store = store_engine
        self.index = index_engine
        self.chain_id = chain_id
        self._master = AESGCM(master_key)

    def _wrap(self, document_id: str, party: str, key: bytes) -> dict[str, object]:
        nonce = secrets.token_bytes(NONCE)
        wrapped = self._master.encrypt(nonce, key, f"{document_id}|{party}".encode())
        return {"document_id": document_id, "party": party, "nonce": nonce, "wrapped_key": wrapped}

    def put(
        self,
        owner: str,
        kind: str,
        filename: str,
        media_type: str,
        content: bytes,
        parties: list[str],
        *,
        document_id: str | None = None,
    ) -> Document:
        """Store a document; under ``document_id`` when the caller chose it beforehand (an Idempotency-Key's
        claim records it before this runs, so a retry after a crash finds it): storing the same id twice
        answers the document stored first."""
        document_id = document_id or str(uuid.uuid4())
        key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(NONCE)
        ciphertext = AESGCM(key).encrypt(nonce, content, document_id.encode())
        entitled = sorted({owner, *parties})
        now = int(time.time())
        row = {
            "id": document_id,
            "owner": owner,
            "kind": kind,
            "filename": filename,
            "media_type": media_type,
            "size": len(content),
            "keccak256": "0x" + keccak(content).hex(),
            "sha256": "0x" + hashlib.sha256(content).hexdigest(),
            "nonce": nonce,
            "ciphertext": ciphertext,
            "created_at": now,
        }
        try:
            with self.store.begin() as connection:
                connection.execute(insert(store.documents).values(**row))
                connection.execute(insert(store.document_keys), [self._wrap(document_id, p, key) for p in entitled])
        except IntegrityError:
            stored = self.stored(document_id, owner)
            if stored is None:
                raise
            return stored
        return self._document(row, entitled)

    def stored(self, document_id: str, owner: str) -> Document | None:
        """The document ``owner`` stored under ``document_id``, if it did (None otherwise)."""
        with self.store.connect() as connection:
            row = connection.execute(
                select(store.documents).where(store.documents.c.id == document_id, store.documents.c.owner == owner)
            ).one_or_none()
        return None if row is None else self._document(dict(row._mapping), self._entitled(document_id))

    @staticmethod
    def _document(row: dict[str, object], parties: list[str]) -> Document:
        return Document(
            str(row["id"]),
            str(row["owner"]),
            str(row["kind"]),
            str(row["filename"]),
            str(row["media_type"]),
            int(row["size"]),  # type: ignore[call-overload]
            str(row["keccak256"]),
            str(row["sha256"]),
            int(row["created_at"]),  # type: ignore[call-overload]
            parties,
        )

    def _entitled(self, document_id: str) -> list[str]:
        with self.store.connect() as connection:
            return sorted(
                connection.execute(
                    select(store.document_keys.c.party).where(store.document_keys.c.document_id == document_id)
                ).scalars()
            )

    def get(self, document_id: str, party: str, auditor: bool = False) -> Document:
        """The document's metadata, for an entitled party or an auditor (404 for anyone else)."""
        parties = self._entitled(document_id)
        if party not in parties and not auditor:
            raise NotFound("document", document_id)
        with self.store.connect() as connection:
            row = connection.execute(select(store.documents).where(store.documents.c.id == document_id)).one_or_none()
        if row is None:
            raise NotFound("document", document_id)
        return self._document(dict(row._mapping), parties)

    def mine(self, party: str) -> list[Document]:
        with self.store.connect() as connection:
            ids = list(
                connection.execute(
                    select(store.document_keys.c.document_id).where(store.document_keys.c.party == party)
                ).scalars()
            )
        return sorted((self.get(i, party) for i in ids), key=lambda d: (d.created_at, d.id))

    def content(self, document_id: str, party: str) -> tuple[Document, bytes]:
        """Decrypt with the party's own wrapped key; the plaintext must hash to the recorded keccak256.

        Auditors read metadata, not contents: a document key is only ever unwrapped for a party
        it was shared with.
        """
        document = self.get(document_id, party)
        with self.store.connect() as connection:
            wrapped = connection.execute(
                select(store.document_keys).where(
                    store.document_keys.c.document_id == document_id, store.document_keys.c.party == party
                )
            ).one()
            row = connection.execute(select(store.documents).where(store.documents.c.id == document_id)).one()
        try:
            key = self._master.decrypt(wrapped.nonce, wrapped.wrapped_key, f"{document_id}|{party}".encode())
            plaintext = AESGCM(key).decrypt(row.nonce, row.ciphertext, document_id.encode())
        except InvalidTag as exc:
            raise Conflict("document_corrupted", f"document {document_id} fails authentication: not served") from exc
        if "0x" + keccak(plaintext).hex() != document.keccak256:
            raise Conflict("document_integrity", f"document {document_id} no longer hashes to {document.keccak256}")
        return document, plaintext

    def share(self, document_id: str, owner: str, party: str) -> Document:
        document = self.get(document_id, owner)
        if document.owner != owner:
            raise Forbidden(owner, "share this document", "only the party that uploaded it may share it")
        if party not in document.parties:
            _, _plain = self.content(document_id, owner)  # checks the stored bytes before handing out a key
            with self.store.connect() as connection:
                wrapped = connection.execute(
                    select(store.document_keys).where(
                        store.document_keys.c.document_id == document_id, store.document_keys.c.party == owner
                    )
                ).one()
            key = self._master.decrypt(wrapped.nonce, wrapped.wrapped_key, f"{document_id}|{owner}".encode())
            with self.store.begin() as connection:
                connection.execute(insert(store.document_keys).values(**self._wrap(document_id, party, key)))
        return self.get(document_id, owner)

    def anchors(self, document: Document) -> list[dict[str, object]]:
        """Where the document's hash is on chain (as indexed): orders' terms, receivables' invoices."""
        with self.index.connect() as connection:
            orders = connection.execute(
                select(Order.order_id).where(Order.chain_id == self.chain_id, Order.terms_hash == document.keccak256)
            ).scalars()
            roots = connection.execute(
                select(Root.root_id).where(
                    Root.chain_id == self.chain_id,
                    or_(Root.invoice_hash == document.keccak256),
                )
            ).scalars()
            return [{"kind": "order", "id": i} for i in orders] + [{"kind": "receivable", "id": i} for i in roots]
