"""ECIES on secp256k1 (``ledger.eth.ecies``): the pinned vectors, an independent recomputation of the
format with coincurve's ECDH, and every way a wrap or a sealed document must refuse to open."""

from __future__ import annotations

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from ledger.eth import ecies

RECIPIENT = b"\x01" * 32
EPHEMERAL = b"\x02" * 32
NONCE = b"\x03" * 12
KEY = b"\x04" * 32
DOCUMENT = "00000000-0000-4000-8000-000000000000"
ADDRESS = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"
#: The module docstring's vector.
VECTOR = bytes.fromhex(
    "01024d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766030303030303030303030303"
    "3afce74e2f56c38ff1ef64a0c734cf503d55fd8619a717a7d99848dd490e82f6b6b1293830f44a9787dc369e56a07018"
)
#: The document key derived from the vector account's signature of document_key_message (RFC 6979: fixed).
DERIVED = "4203a3d965c670d215e1c2c99fe2145745c26ec74dc1f7557231de983b467731"


def test_the_vector_wraps_to_the_pinned_bytes_and_unwraps() -> None:
    assert Account.from_key(RECIPIENT).address == ADDRESS == ecies.address_of(ecies.public_key_of(RECIPIENT))
    context = ecies.wrap_context(DOCUMENT, ADDRESS)
    made = ecies.wrap(KEY, ecies.public_key_of(RECIPIENT), context, ephemeral_key=EPHEMERAL, nonce=NONCE)
    assert made == VECTOR and len(made) == ecies.WRAP_SIZE == 94
    assert ecies.unwrap(RECIPIENT, VECTOR, context) == KEY


def test_an_independent_ecdh_reads_the_vector_as_the_docstring_describes_it() -> None:
    """coincurve (libsecp256k1) for the point multiplication, the format's steps spelt out by hand."""
    version, ephemeral, nonce, sealed = VECTOR[0], VECTOR[1:34], VECTOR[34:46], VECTOR[46:]
    assert version == 1
    assert ephemeral == coincurve.PrivateKey(EPHEMERAL).public_key.format(compressed=True)
    recipient = coincurve.PrivateKey(RECIPIENT).public_key.format(compressed=True)
    point = coincurve.PublicKey(ephemeral).multiply(RECIPIENT).format(compressed=False)
    shared = point[1:33]  # the x coordinate
    key = HKDF(hashes.SHA256(), 32, salt=ephemeral + recipient, info=b"scf-ledger/ecies/v1/document-key").derive(shared)
    aad = VECTOR[:34] + f"scf-ledger/document-key/v1|{DOCUMENT}|{ADDRESS.lower()}".encode()
    assert AESGCM(key).decrypt(nonce, sealed, aad) == KEY


def test_a_derived_document_key_is_the_pinned_one_for_the_same_signature() -> None:
    account = Account.from_key(RECIPIENT)
    message = ecies.document_key_message(account.address)
    assert account.address in message and "Version: 1" in message
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    assert ecies.derived_key(signature).hex() == DERIVED
    # Only r || s count: a wallet answering v as 0/1 instead of 27/28 derives the same key.
    assert ecies.derived_key(signature[:64] + bytes([signature[64] - 27])).hex() == DERIVED


def test_a_wrap_opens_only_for_its_recipient_document_and_party() -> None:
    other = b"\x05" * 32
    context = ecies.wrap_context(DOCUMENT, ADDRESS)
    with pytest.raises(ecies.UnwrapFailed):
        ecies.unwrap(other, VECTOR, context)
    with pytest.raises(ecies.UnwrapFailed):  # moved to another document's row
        ecies.unwrap(RECIPIENT, VECTOR, ecies.wrap_context("00000000-0000-4000-8000-000000000001", ADDRESS))
    with pytest.raises(ecies.UnwrapFailed):  # handed to another party as theirs
        ecies.unwrap(RECIPIENT, VECTOR, ecies.wrap_context(DOCUMENT, Account.from_key(other).address))


@pytest.mark.parametrize("at", [0, 1, 20, 34, 40, 46, 70, 93])
def test_any_flipped_byte_of_a_wrap_refuses_to_open(at: int) -> None:
    tampered = bytearray(VECTOR)
    tampered[at] ^= 0x01
    with pytest.raises((ecies.UnwrapFailed, ecies.MalformedWrap)):
        ecies.unwrap(RECIPIENT, bytes(tampered), ecies.wrap_context(DOCUMENT, ADDRESS))


def test_a_malformed_wrap_is_named_by_what_is_wrong() -> None:
    with pytest.raises(ecies.MalformedWrap, match="93 bytes"):
        ecies.check_wrap(VECTOR[:-1])
    with pytest.raises(ecies.MalformedWrap, match="version 2"):
        ecies.check_wrap(b"\x02" + VECTOR[1:])
    with pytest.raises(ecies.MalformedWrap, match="ephemeral key"):
        ecies.check_wrap(VECTOR[:1] + b"\x02" + b"\xff" * 32 + VECTOR[34:])  # x >= p: no such point
    ecies.check_wrap(VECTOR)


@pytest.mark.parametrize(
    "key",
    [b"", b"\x02" * 32, b"\x04" + b"\x00" * 64, b"\x02" + b"\xff" * 32, b"\x05" + b"\x01" * 32, b"\x03" * 34],
)
def test_bytes_that_are_no_public_key_are_refused(key: bytes) -> None:
    with pytest.raises(ecies.InvalidPublicKey):
        ecies.wrap(KEY, key, b"")


def test_a_sealed_document_opens_with_its_key_and_id_and_hash_only() -> None:
    plaintext = b"%PDF-1.7 invoice 4711"
    key, sealed = ecies.seal_document(plaintext, DOCUMENT)
    assert len(sealed) == len(plaintext) + 28 and plaintext not in sealed
    claimed = "0x" + keccak(plaintext).hex()
    assert ecies.open_document(key, sealed, DOCUMENT, claimed) == plaintext
    with pytest.raises(ecies.DocumentUnreadable, match="fails authentication"):
        ecies.open_document(key, sealed, "00000000-0000-4000-8000-000000000001")
    with pytest.raises(ecies.DocumentUnreadable, match="fails authentication"):
        ecies.open_document(b"\x00" * 32, sealed, DOCUMENT)
    with pytest.raises(ecies.DocumentUnreadable, match="fails authentication"):
        ecies.open_document(key, sealed[:-1] + bytes([sealed[-1] ^ 1]), DOCUMENT)
    with pytest.raises(ecies.DocumentUnreadable, match="does not hash"):
        ecies.open_document(key, sealed, DOCUMENT, "0x" + "11" * 32)
