"""Commercial documents (invoices, bills of lading, terms), sealed by their parties: the server cannot read them.

**What the server holds.** For each document: the ciphertext the *client* made (AES-256-GCM under a
random key of the document's own, the document id as associated data: ``ledger.eth.ecies``), the
metadata (kind, filename, media type, size) and the keccak256 of the plaintext *as the uploader claims
it*; and one wrapped key per entitled party: the document key sealed (ECIES on secp256k1, format in
``ledger.eth.ecies``) to that party's document public key, bound to the document id and the party's
address. It never receives a plaintext or a document key, and it has no master key: there is nothing
in its rows, its settings or its environment that opens a document (``tests/api/v1/test_documents.py``
tries each). The old server-wrapped scheme (``api_documents``, ``api_document_keys``, wrapped under
``SCF_API_DOCUMENT_KEY``) is gone; those tables are no longer read.

**The document id is chosen by the client** (a random UUID v4) before it encrypts, because the id is
the ciphertext's associated data and each wrap's: the client must know it first, and a round trip to
reserve one would buy nothing (122 random bits do not collide; an id already taken is a 409). The
same id makes a retry land on the same row.

**Integrity.** The server cannot check that the ciphertext decrypts or that the plaintext hashes to the
claimed keccak256; the reader does, after decrypting (``scf documents download``, the portal), and the
hash that counts is the one on chain (an order's ``termsHash``, a receivable's ``invoiceHash``), which
``anchors`` finds as indexed. What the server does check: each wrap is laid out as a version-1 wrap, and
is addressed to the public key the party registered (so a stranger's key cannot be slipped in by the
uploader to a party that cannot read it).

**Parties' keys** (``api_document_public_keys``, one per party, the latest registration wins):

- an externally owned account may register its own public key: it is self-certifying (its keccak256 is
  the address), so no signature is needed and any client can check it;
- any party (a browser wallet, which cannot do ECDH with its account key) may register another key
  with its EIP-712 signature of ``DocumentKey(address party, bytes publicKey)`` under the domain
  ``scf-ledger document key``/``1``/chain/Membership; the lookup serves the signature, so a client checks
  the key is the party's without trusting this server. Clients derive such a key from a deterministic
  signature (``ecies.derived_key``), so the same wallet finds it again anywhere.

Wraps keep the public key they were made to, so a party that registers a new key still opens what was
wrapped to the old one (with the old key), and the owner can re-share to the new one.

**Who may do what** (the rules the server-wrapped scheme had): the uploader (owner) wraps to any active
member at upload and shares later by posting a new wrap; entitled parties (those with a wrap) list,
read the metadata and download the ciphertext and *their own* wrap; auditors read metadata only; anyone
else gets 404.

An upload with an Idempotency-Key survives a crash: the route records the document's id on the key's
claim before storing (``idempotency.py``), so a retry after a kill answers the stored document, or stores
it under that same id; it never stores a second copy. The recovery test kills a real ``scf serve`` right
after the store with ``SCF_FAULT=after-document-store`` (``api.v1.faults``).

**Storage.** The three tables are declared here, on the store's metadata (``create_all`` makes them):
``api_sealed_documents``, ``api_document_wraps``, ``api_document_public_keys``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, LargeBinary, String, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from api.errors import Conflict, Forbidden, InvalidField, NotFound
from api.v1 import store
from ledger.domain import typed_data
from ledger.domain.typed_data import Domain
from ledger.eth import ecies
from ledger.index.sql.models import Order, Piece, Root

ZERO_ADDRESS = "0x" + "00" * 20
#: The most parties a document is wrapped to (the owner included).
MAX_PARTIES = 33

sealed_documents = Table(
    "api_sealed_documents",
    store.metadata,
    Column("id", String(36), primary_key=True),
    Column("owner", store.ADDRESS, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),  # of the plaintext: the sealed bytes less nonce and tag
    Column("keccak256", store.HASH, nullable=False, index=True),  # of the plaintext, as the uploader claims
    Column("sealed", LargeBinary, nullable=False),  # nonce (12) || ciphertext || tag (16), made by the client
    Column("created_at", BigInteger, nullable=False),
)

document_wraps = Table(
    "api_document_wraps",
    store.metadata,
    Column("document_id", String(36), primary_key=True),
    Column("party", store.ADDRESS, primary_key=True, index=True),
    Column("public_key", LargeBinary, nullable=False),  # compressed, 33 bytes: the key it was wrapped to
    Column("wrapped_key", LargeBinary, nullable=False),  # ledger.eth.ecies version 1, 94 bytes
    Column("wrapped_by", store.ADDRESS, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

document_public_keys = Table(
    "api_document_public_keys",
    store.metadata,
    Column("party", store.ADDRESS, primary_key=True),
    Column("public_key", LargeBinary, nullable=False),  # compressed, 33 bytes
    Column("signature", store.SIGNATURE),  # EIP-712 DocumentKey by the party; NULL: the account's own key
    Column("registered_at", BigInteger, nullable=False),
)

KEY_PRIMARY = "DocumentKey"
KEY_FIELDS = [{"name": "party", "type": "address"}, {"name": "publicKey", "type": "bytes"}]


def key_domain(chain_id: int, membership: str) -> Domain:
    return Domain("scf-ledger document key", "1", chain_id, membership)


def key_statement(domain: Domain, party: str, public_key: bytes) -> dict[str, Any]:
    """The typed data a party signs to register ``public_key`` as its document key."""
    return typed_data.full_message(
        domain, KEY_PRIMARY, KEY_FIELDS, {"party": party, "publicKey": "0x" + public_key.hex()}
    )


@dataclass(frozen=True)
class Document:
    id: str
    owner: str
    kind: str
    filename: str
    media_type: str
    size: int
    keccak256: str
    created_at: int
    parties: list[str]


@dataclass(frozen=True)
class Wrap:
    party: str
    public_key: bytes
    wrapped_key: bytes
    wrapped_by: str = ""
    created_at: int = 0


@dataclass(frozen=True)
class PartyKey:
    party: str
    public_key: bytes
    signature: str | None
    registered_at: int


class DocumentVault:
    def __init__(self, store_engine: Engine, index_engine: Engine, chain_id: int) -> None:
        self.store = store_engine
        self.index = index_engine
        self.chain_id = chain_id

    # -- parties' keys -------------------------------------------------------------------------------

    def register_key(self, party: str, public_key: bytes, signature: str | None) -> PartyKey:
        """Record ``public_key`` as ``party``'s document key (the caller checked the signature, or that the key
        is the account's own)."""
        now = int(time.time())
        values = {"public_key": public_key, "signature": signature, "registered_at": now}
        with self.store.begin() as connection:
            changed = connection.execute(
                update(document_public_keys).where(document_public_keys.c.party == party).values(**values)
            )
            if changed.rowcount == 0:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(document_public_keys).values(party=party, **values))
                except IntegrityError:  # registered at the same moment by another request: the last one wins
                    connection.execute(
                        update(document_public_keys).where(document_public_keys.c.party == party).values(**values)
                    )
        return PartyKey(party, public_key, signature, now)

    def keys(self, parties: list[str]) -> dict[str, PartyKey]:
        if not parties:
            return {}
        with self.store.connect() as connection:
            rows = connection.execute(
                select(document_public_keys).where(document_public_keys.c.party.in_(parties))
            ).all()
        return {r.party: PartyKey(r.party, r.public_key, r.signature, r.registered_at) for r in rows}

    def parties_of(self, order_id: int | None, receivable_id: int | None) -> list[str]:
        """The parties of an order (buyer, supplier) or a receivable (debtor, creditor, its pieces' holders), as
        indexed: who a document anchored there would be wrapped to. Unknown ids: ``NotFound``."""
        found: list[str] = []
        with self.index.connect() as connection:
            if order_id is not None:
                order = connection.execute(
                    select(Order.buyer, Order.supplier).where(
                        Order.chain_id == self.chain_id, Order.order_id == order_id
                    )
                ).one_or_none()
                if order is None:
                    raise NotFound("order", order_id)
                found += [order.buyer, order.supplier]
            if receivable_id is not None:
                root = connection.execute(
                    select(Root.debtor, Root.creditor).where(
                        Root.chain_id == self.chain_id, Root.root_id == receivable_id
                    )
                ).one_or_none()
                if root is None:
                    raise NotFound("receivable", receivable_id)
                holders = connection.execute(
                    select(Piece.holder).where(Piece.chain_id == self.chain_id, Piece.root_id == receivable_id)
                ).scalars()
                found += [root.debtor, root.creditor, *holders]
        return sorted(set(found) - {ZERO_ADDRESS})

    def check_wraps(self, wraps: list[Wrap], field: str) -> None:
        """Each wrap well formed and addressed to its party's registered key (``InvalidField`` naming it)."""
        registered = self.keys([w.party for w in wraps])
        for i, w in enumerate(wraps):
            try:
                ecies.check_wrap(w.wrapped_key)
            except ecies.MalformedWrap as exc:
                raise InvalidField(f"{field}[{i}].wrappedKey", str(exc)) from exc
            key = registered.get(w.party)
            if key is None:
                raise InvalidField(
                    f"{field}[{i}].party", f"{w.party} has registered no document key (POST /v1/documents/keys)"
                )
            if key.public_key != w.public_key:
                raise InvalidField(
                    f"{field}[{i}].publicKey",
                    f"not {w.party}'s document key (0x{key.public_key.hex()}): look it up at GET /v1/documents/keys",
                )

    # -- documents -----------------------------------------------------------------------------------

    def put(
        self,
        document_id: str,
        owner: str,
        kind: str,
        filename: str,
        media_type: str,
        keccak256: str,
        sealed: bytes,
        wraps: list[Wrap],
    ) -> Document:
        """Store a sealed document and its wraps (checked by the caller). Storing the same id again with the same
        owner and bytes (a retry) answers the document stored first; another owner's or other bytes: 409."""
        now = int(time.time())
        row = {
            "id": document_id,
            "owner": owner,
            "kind": kind,
            "filename": filename,
            "media_type": media_type,
            "size": len(sealed) - ecies.NONCE - ecies.TAG,
            "keccak256": keccak256.lower(),
            "sealed": sealed,
            "created_at": now,
        }
        wrap_rows = [
            {
                "document_id": document_id,
                "party": w.party,
                "public_key": w.public_key,
                "wrapped_key": w.wrapped_key,
                "wrapped_by": owner,
                "created_at": now,
            }
            for w in wraps
        ]
        try:
            with self.store.begin() as connection:
                connection.execute(insert(sealed_documents).values(**row))
                connection.execute(insert(document_wraps), wrap_rows)
        except IntegrityError:
            with self.store.connect() as connection:
                stored = connection.execute(
                    select(sealed_documents.c.owner, sealed_documents.c.sealed).where(
                        sealed_documents.c.id == document_id
                    )
                ).one_or_none()
            if stored is None:
                raise
            if stored.owner != owner or stored.sealed != sealed:
                raise Conflict("document_exists", f"document id {document_id} is taken: choose another") from None
            found = self.stored(document_id, owner)
            assert found is not None  # its row, read just now
            return found
        return self._document(row, sorted(w.party for w in wraps))

    def stored(self, document_id: str, owner: str) -> Document | None:
        """The document ``owner`` stored under ``document_id``, if it did (None otherwise)."""
        row = self._row(document_id)
        if row is None or row["owner"] != owner:
            return None
        return self._document(row, self._entitled(document_id))

    def _row(self, document_id: str) -> dict[str, Any] | None:
        with self.store.connect() as connection:
            row = connection.execute(select(sealed_documents).where(sealed_documents.c.id == document_id)).one_or_none()
        return None if row is None else dict(row._mapping)

    @staticmethod
    def _document(row: dict[str, Any], parties: list[str]) -> Document:
        return Document(
            str(row["id"]),
            str(row["owner"]),
            str(row["kind"]),
            str(row["filename"]),
            str(row["media_type"]),
            int(row["size"]),
            str(row["keccak256"]),
            int(row["created_at"]),
            parties,
        )

    def _entitled(self, document_id: str) -> list[str]:
        with self.store.connect() as connection:
            return sorted(
                connection.execute(
                    select(document_wraps.c.party).where(document_wraps.c.document_id == document_id)
                ).scalars()
            )

    def get(self, document_id: str, party: str, auditor: bool = False) -> Document:
        """The document's metadata, for an entitled party or an auditor (404 for anyone else)."""
        parties = self._entitled(document_id)
        if party not in parties and not auditor:
            raise NotFound("document", document_id)
        row = self._row(document_id)
        if row is None:
            raise NotFound("document", document_id)
        return self._document(row, parties)

    def mine(self, party: str) -> list[Document]:
        with self.store.connect() as connection:
            ids = list(
                connection.execute(
                    select(document_wraps.c.document_id).where(document_wraps.c.party == party)
                ).scalars()
            )
        return sorted((self.get(i, party) for i in ids), key=lambda d: (d.created_at, d.id))

    def sealed(self, document_id: str, party: str) -> tuple[Document, bytes]:
        """The sealed bytes, for an entitled party only (auditors read metadata, not even ciphertext)."""
        document = self.get(document_id, party)
        row = self._row(document_id)
        assert row is not None  # get found it
        return document, bytes(row["sealed"])

    def wrap_of(self, document_id: str, party: str) -> Wrap:
        """``party``'s own wrapped key: nobody is ever served another party's."""
        with self.store.connect() as connection:
            row = connection.execute(
                select(document_wraps).where(
                    document_wraps.c.document_id == document_id, document_wraps.c.party == party
                )
            ).one_or_none()
        if row is None:
            raise NotFound("document", document_id)
        return Wrap(row.party, row.public_key, row.wrapped_key, row.wrapped_by, row.created_at)

    def share(self, document_id: str, owner: str, wrap: Wrap) -> Document:
        """The owner's new wrap for ``wrap.party`` (checked by the caller): a party not yet entitled becomes
        entitled; an entitled one gets the key again, to the key it registered since."""
        document = self.get(document_id, owner)
        if document.owner != owner:
            raise Forbidden(owner, "share this document", "only the party that uploaded it may share it")
        values = {
            "public_key": wrap.public_key,
            "wrapped_key": wrap.wrapped_key,
            "wrapped_by": owner,
            "created_at": int(time.time()),
        }
        with self.store.begin() as connection:
            changed = connection.execute(
                update(document_wraps)
                .where(document_wraps.c.document_id == document_id, document_wraps.c.party == wrap.party)
                .values(**values)
            )
            if changed.rowcount == 0:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            insert(document_wraps).values(document_id=document_id, party=wrap.party, **values)
                        )
                except IntegrityError:  # shared at the same moment by another request: the last one wins
                    connection.execute(
                        update(document_wraps)
                        .where(document_wraps.c.document_id == document_id, document_wraps.c.party == wrap.party)
                        .values(**values)
                    )
        return self.get(document_id, owner)

    def anchors(self, document: Document) -> list[dict[str, object]]:
        """Where the document's claimed hash is on chain (as indexed): orders' terms, receivables' invoices."""
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
