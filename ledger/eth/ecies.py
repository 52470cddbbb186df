"""Documents sealed on the client: AES-256-GCM per document, its key wrapped to each party's secp256k1 key (ECIES).

Everything here runs where the keys are: in the ``scf documents`` command and, in TypeScript, in the
portal (``api/portal/web/src/documents.ts``, which implements the same format and is tested against
this module). The API only stores what these functions produce; it holds no key that opens any of it.

**A document** (``seal_document``/``open_document``): a random 256-bit key, a random 96-bit nonce,
AES-256-GCM with the document id (its UUID, lower case, UTF-8) as associated data, so a ciphertext
cannot be moved to another row. Stored as ``nonce (12) || ciphertext || tag (16)``. The keccak256 of
the plaintext is what a party puts on chain (an order's ``termsHash``, a receivable's
``invoiceHash``); a reader checks it after decrypting, since the server never sees the plaintext.

**A wrapped key** (``wrap``/``unwrap``), format version 1, 94 bytes for a 32-byte document key::

    0x01 || E (33, compressed ephemeral public key) || nonce (12) || AES-256-GCM(k, nonce, key, aad) (32 + 16)

    z   = ECDH(e, R)                       x coordinate, 32 bytes (SEC 1)
    k   = HKDF-SHA256(ikm=z, salt=E || R, info="scf-ledger/ecies/v1/document-key", 32 bytes)
    aad = 0x01 || E || context            context = wrap_context(document id, recipient address)

``R`` is the recipient's compressed public key: salting with both public keys binds the key to this
exchange (no key-compromise games with another recipient), the ``info`` label separates it from any
other use of the same ECDH. ``wrap_context`` is ``"scf-ledger/document-key/v1|<document id>|<recipient
address, lower-case hex>"``: a wrap copied to another document's row or another party's fails
authentication, and a party cannot hand its wrap to a stranger as the stranger's. A new version
byte is a new format; version 1 is all this module reads (``MalformedWrap`` otherwise).

**A party's document key.** An externally owned account's own key does: its public key is
self-certifying (its keccak256 is the address), so the API can serve it and a client can check it
without trusting the API. A browser wallet cannot do ECDH with its account key, so it derives a
document key instead (``derived_key``): ``HKDF-SHA256(ikm = r || s of the account's personal_sign
of document_key_message(address), salt = "", info = "scf-ledger/document-key/derive/v1")``, reduced
into the curve's range. Signatures are deterministic (RFC 6979), so the same wallet derives the same key
on any machine; a key derived this way is registered with the party's EIP-712 signature of
``DocumentKey(address party, bytes publicKey)`` (``api.v1.documents``) so a client can check that one
too. The price: any site the party signs that exact message for learns the document key, which is why
the message says what it is for.

Test vector (tests/ledger/eth/test_ecies.py pins more): recipient private key ``0x01..01`` (32 bytes of
0x01), ephemeral private key ``0x02..02``, nonce ``0x03..03`` (12 bytes), key ``0x04..04``, document
id ``00000000-0000-4000-8000-000000000000``, recipient ``0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1``::

    01 024d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766 030303030303030303030303
       3afce74e2f56c38ff1ef64a0c734cf503d55fd8619a717a7d99848dd490e82f6b6b1293830f44a9787dc369e56a07018
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_utils import keccak, to_checksum_address

from ledger.errors import LedgerError

VERSION = 1
POINT = 33  # compressed secp256k1 point
NONCE = 12
TAG = 16
KEY = 32
WRAP_SIZE = 1 + POINT + NONCE + KEY + TAG  # 94
HKDF_INFO = b"scf-ledger/ecies/v1/document-key"
DERIVE_INFO = b"scf-ledger/document-key/derive/v1"
CONTEXT = "scf-ledger/document-key/v1"
#: The curve's order: a private key is in [1, N).
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
CURVE = ec.SECP256K1()


class EciesError(LedgerError):
    """Root of the errors of sealing, wrapping and opening documents."""


class InvalidPublicKey(EciesError):
    """Bytes that are not a point on secp256k1 (33 bytes compressed or 65 uncompressed)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"not a secp256k1 public key: {reason}")


class MalformedWrap(EciesError):
    """A wrapped key whose layout is wrong (size, version, ephemeral point): it was never a wrap."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"malformed wrapped key: {reason}")


class UnwrapFailed(EciesError):
    """A wrap that does not open: another key, another document or party, or altered bytes."""

    def __init__(self) -> None:
        super().__init__("the wrapped key does not open with this key for this document and party")


class DocumentUnreadable(EciesError):
    """A sealed document that does not decrypt (another key, another id, altered bytes) or hash to its claim."""

    def __init__(self, document_id: str, reason: str) -> None:
        self.document_id = document_id
        self.reason = reason
        super().__init__(f"document {document_id}: {reason}")


# -- keys --------------------------------------------------------------------------------------------


def public_key_of(private_key: bytes) -> bytes:
    """The compressed public key of a 32-byte private key."""
    return compressed(_private(private_key).public_key())


def compressed(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)


def parse_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """A point on secp256k1 from 33 (compressed) or 65 (uncompressed) bytes; ``InvalidPublicKey`` otherwise."""
    if len(data) not in (33, 65):
        raise InvalidPublicKey(f"{len(data)} bytes (33 compressed or 65 uncompressed)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, data)
    except ValueError as exc:
        raise InvalidPublicKey("not a point on the curve") from exc


def normalise_public_key(data: bytes) -> bytes:
    """The compressed form of a public key given either way (checked on the curve)."""
    return compressed(parse_public_key(data))


def address_of(public_key: bytes) -> str:
    """The Ethereum address of a public key (checksummed): keccak256 of the uncompressed point, last 20 bytes."""
    point = parse_public_key(public_key).public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return to_checksum_address(keccak(point[1:])[12:])


def _private(private_key: bytes) -> ec.EllipticCurvePrivateKey:
    value = int.from_bytes(private_key, "big")
    if len(private_key) != 32 or not 0 < value < N:
        raise EciesError("a private key is 32 bytes, between 1 and the curve order")
    return ec.derive_private_key(value, CURVE)


def document_key_message(address: str) -> str:
    """What a party signs (personal_sign) to derive its document key; the portal shows and signs the same text."""
    return (
        "scf-ledger document key\n\n"
        f"Signing this derives the key that opens the documents shared with {to_checksum_address(address)} "
        "on scf-ledger. Sign it only in the scf-ledger portal or the scf command.\n\nVersion: 1"
    )


def derived_key(signature: bytes) -> bytes:
    """The document private key a party derives from its signature of ``document_key_message`` (r || s only:
    wallets disagree on v). Deterministic signatures make it the same key every time."""
    if len(signature) not in (64, 65):
        raise EciesError(f"a signature is 65 bytes (r, s, v), got {len(signature)}")
    counter = 0
    while True:  # a result outside [1, N) has probability ~2^-128; the counter keeps the function total
        info = DERIVE_INFO if counter == 0 else DERIVE_INFO + bytes([counter])
        candidate = HKDF(hashes.SHA256(), KEY, salt=b"", info=info).derive(signature[:64])
        if 0 < int.from_bytes(candidate, "big") < N:
            return candidate
        counter += 1


# -- wrapping a document key to a party --------------------------------------------------------------


def wrap_context(document_id: str, recipient: str) -> bytes:
    """The associated data that binds a wrap to one document and one party."""
    return f"{CONTEXT}|{document_id.lower()}|{to_checksum_address(recipient).lower()}".encode()


def _kdf(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY, salt=ephemeral + recipient, info=HKDF_INFO).derive(shared)


def wrap(
    document_key: bytes,
    recipient_public_key: bytes,
    aad: bytes,
    *,
    ephemeral_key: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """``document_key`` sealed to the holder of ``recipient_public_key`` (format version 1, module docstring).

    ``ephemeral_key`` and ``nonce`` are for test vectors only: reusing either with the same recipient
    breaks the scheme, so callers leave them to the random default."""
    recipient = parse_public_key(recipient_public_key)
    ephemeral = _private(ephemeral_key) if ephemeral_key is not None else ec.generate_private_key(CURVE)
    nonce = nonce if nonce is not None else os.urandom(NONCE)
    if len(nonce) != NONCE:
        raise EciesError(f"a nonce is {NONCE} bytes")
    e, r = compressed(ephemeral.public_key()), compressed(recipient)
    key = _kdf(ephemeral.exchange(ec.ECDH(), recipient), e, r)
    header = bytes([VERSION]) + e
    return header + nonce + AESGCM(key).encrypt(nonce, document_key, header + aad)


def check_wrap(blob: bytes, key_size: int = KEY) -> None:
    """``MalformedWrap`` unless ``blob`` is laid out as a version-1 wrap of a ``key_size``-byte key (what a
    server can check without any key)."""
    if len(blob) != 1 + POINT + NONCE + key_size + TAG:
        raise MalformedWrap(f"{len(blob)} bytes; a version-{VERSION} wrap of a {key_size}-byte key is {WRAP_SIZE}")
    if blob[0] != VERSION:
        raise MalformedWrap(f"format version {blob[0]}; only version {VERSION} is known")
    try:
        parse_public_key(blob[1 : 1 + POINT])
    except InvalidPublicKey as exc:
        raise MalformedWrap(f"its ephemeral key is {exc.reason}") from exc


def ephemeral_of(blob: bytes) -> bytes:
    """The compressed ephemeral public key of a wrap (what a wallet's ECDH needs)."""
    return blob[1 : 1 + POINT]


def unwrap(private_key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The document key in ``blob``, for the holder of ``private_key``; ``UnwrapFailed`` if it is not theirs,
    not for this ``aad``, or altered."""
    if len(blob) < 1 + POINT + NONCE + TAG or blob[0] != VERSION:
        raise MalformedWrap(f"{len(blob)} bytes starting {blob[:1].hex() or 'nothing'}: not a version-{VERSION} wrap")
    header, nonce, sealed = blob[: 1 + POINT], blob[1 + POINT : 1 + POINT + NONCE], blob[1 + POINT + NONCE :]
    try:
        ephemeral = parse_public_key(header[1:])
    except InvalidPublicKey as exc:
        raise MalformedWrap(f"its ephemeral key is {exc.reason}") from exc
    me = _private(private_key)
    key = _kdf(me.exchange(ec.ECDH(), ephemeral), header[1:], compressed(me.public_key()))
    try:
        return AESGCM(key).decrypt(nonce, sealed, header + aad)
    except InvalidTag:
        raise UnwrapFailed() from None


# -- the document itself -----------------------------------------------------------------------------


def seal_document(plaintext: bytes, document_id: str, *, key: bytes | None = None) -> tuple[bytes, bytes]:
    """(document key, ``nonce || ciphertext || tag``): ``plaintext`` encrypted under a fresh key with the
    document id as associated data."""
    key = key if key is not None else AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE)
    return key, nonce + AESGCM(key).encrypt(nonce, plaintext, document_id.lower().encode())


def open_document(key: bytes, sealed: bytes, document_id: str, keccak256: str | None = None) -> bytes:
    """The plaintext of a sealed document; ``DocumentUnreadable`` if it does not decrypt under ``key`` for this
    id, or (given ``keccak256``, the hash on chain or claimed at upload) does not hash to it."""
    if len(sealed) < NONCE + TAG:
        raise DocumentUnreadable(document_id, f"{len(sealed)} bytes is shorter than a nonce and a tag")
    try:
        plaintext = AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], document_id.lower().encode())
    except InvalidTag:
        raise DocumentUnreadable(document_id, "fails authentication (another key or id, or altered bytes)") from None
    if keccak256 is not None and "0x" + keccak(plaintext).hex() != keccak256.lower():
        raise DocumentUnreadable(document_id, f"decrypts, but does not hash to {keccak256}")
    return plaintext
