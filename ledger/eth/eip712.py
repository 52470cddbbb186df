"""EIP-712: digests, signatures and recovery of typed-data documents, one implementation.

``sign``, ``digest`` and ``recover`` are eth-account's answers for any document. Everything
else is one lean implementation of ``hashStruct`` for flat structs (atomic members only: every
order, attestation, settlement, offer, limit and permit the ledger signs), used two ways:

* ``TypedHasher`` compiles one struct type once (its type hash and a word encoder per member)
  and hashes messages whose values are already of the member's type, unchecked: the audit's
  replay, which recovers tens of thousands of signers from decoded calldata, and
  ``domain_separator``. Its encoders trust the value because the calldata decoder has already
  refused anything the ABI refuses.
* ``typed_data_digest`` takes a whole document, as the clients and wallets spell it, and checks
  every value against its member's type before the same encoders write it (about 4x faster to
  sign and 10x faster to recover than eth-account); a document it does not take (a nested
  struct, an array, a value in another form such as a hex string for bytes) gives None, and
  ``sign_typed_data``, ``sign_typed_data_by`` and ``recover_typed_data`` fall back to
  eth-account, so the answer is always eth-account's.

Recovery (``signer_of``) is the contracts' ``ECDSA.tryRecover``: None for a signature they
refuse (not 65 bytes, v not 27/28, s in the upper half, no point), else the EIP-55 address,
from the domain's address cache since the same few hundred signers recur.

``recover_signer`` gives the same answers for the audit's replay, which recovers tens of
thousands while its fetch threads parse the node's answers: it calls the same libsecp256k1
(coincurve's build of it) through ``ctypes.PyDLL``, which keeps the GIL during the calls. Each
of coincurve's cffi calls lets the GIL go, and a thread that lets it go for a microsecond waits
for it behind whichever thread took it, up to the interpreter's switch interval: three such
waits per signature cost the replay more than the recovery itself. The address of each public
key is kept, with no keccak or checksum for a signer seen before.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import coincurve
import coincurve._libsecp256k1
from coincurve.context import GLOBAL_CONTEXT
from coincurve.flags import EC_UNCOMPRESSED
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.domain.addresses import address
from ledger.domain.typed_data import DOMAIN_FIELDS, Domain
from ledger.eth.keccak import keccak
from ledger.eth.transactions import sign_digest

# -- eth-account: any document ------------------------------------------------------------------


def sign(account: LocalAccount, document: dict[str, Any]) -> bytes:
    """A 65-byte r‖s‖v signature of ``document`` by ``account``."""
    return bytes(Account.sign_typed_data(account.key, full_message=document).signature)


def digest(document: dict[str, Any]) -> bytes:
    """The EIP-712 digest (what the contract's ``_hashTypedDataV4`` computes)."""
    signable = encode_typed_data(full_message=document)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def recover(document: dict[str, Any], signature: bytes) -> str:
    return str(Account.recover_message(encode_typed_data(full_message=document), signature=signature))


# -- hashStruct of flat structs -------------------------------------------------------------------

Encoder = Callable[[Any], bytes]
Check = Callable[[Any], bool]

_ATOMIC = re.compile(r"^(address|bool|string|bytes|bytes\d{1,2}|u?int\d{0,3})$")


def _word_encoder(kind: str) -> Encoder:
    """EIP-712 ``encodeData`` of one atomic member of ``kind``, for a value already of that type."""
    if kind == "address":
        return lambda value: bytes(12) + bytes.fromhex(value[2:])
    if kind == "bool":
        return lambda value: bytes(31) + (b"\x01" if value else b"\x00")
    if kind == "string":
        return lambda value: keccak(value.encode())
    if kind == "bytes":
        return lambda value: keccak(bytes(value))
    if kind.startswith("bytes"):
        return lambda value: bytes(value).ljust(32, b"\x00")
    if kind.startswith("uint"):
        return lambda value: value.to_bytes(32, "big")
    if kind.startswith("int"):
        return lambda value: (value % (1 << 256)).to_bytes(32, "big")  # two's complement
    raise ValueError(f"EIP-712 member type {kind} is not an atomic type")


def _word_check(kind: str) -> Check:
    """Whether a value is one ``_word_encoder(kind)`` writes as eth-account would (else eth-account
    decides). ValueError for a ``kind`` the lean path does not take at all."""
    if not _ATOMIC.match(kind):
        raise ValueError(f"EIP-712 member type {kind} is not an atomic type")
    if kind == "address":
        # The hex digits themselves are checked by the encoder's bytes.fromhex (ValueError).
        return lambda value: isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X")
    if kind == "bool":
        return lambda value: isinstance(value, bool)
    if kind == "string":
        return lambda value: isinstance(value, str)
    if kind == "bytes":
        return lambda value: isinstance(value, bytes)
    if kind.startswith("bytes"):
        size = int(kind[5:])
        if not 1 <= size <= 32:
            raise ValueError(f"EIP-712 member type {kind} has no such size")
        return lambda value: isinstance(value, bytes) and len(value) == size
    unsigned = kind.startswith("uint")
    bits = int(kind[4 if unsigned else 3 :] or 256)
    if bits % 8 or not 8 <= bits <= 256:
        raise ValueError(f"EIP-712 member type {kind} has no such width")
    low, high = (0, 1 << bits) if unsigned else (-(1 << (bits - 1)), 1 << (bits - 1))
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and low <= value < high


class TypedHasher:
    """``hashStruct`` of one flat struct type, compiled once: its type hash and a word encoder
    (and a value check) per member. ValueError for a type with a member that is not atomic."""

    def __init__(self, primary: str, fields: Sequence[Mapping[str, str]]) -> None:
        self.names = tuple(f["name"] for f in fields)
        members = ",".join(f"{f['type']} {f['name']}" for f in fields)
        self.type_hash = keccak(f"{primary}({members})".encode())
        self.encoders = tuple(_word_encoder(f["type"]) for f in fields)
        self.checks = tuple(_word_check(f["type"]) for f in fields)

    def digest(self, separator: bytes, message: Mapping[str, Any]) -> bytes:
        """The EIP-712 digest of ``message`` under the domain ``separator``, its values trusted to be
        of their members' types (decoded calldata): the replay's hot path, kept to one expression."""
        words = b"".join(encode(message[name]) for encode, name in zip(self.encoders, self.names, strict=True))
        return keccak(b"\x19\x01" + separator + keccak(self.type_hash + words))

    def struct_hash(self, message: Mapping[str, Any]) -> bytes:
        """``hashStruct(message)``, its values trusted to be of their members' types."""
        words = b"".join(encode(message[name]) for encode, name in zip(self.encoders, self.names, strict=True))
        return keccak(self.type_hash + words)

    def checked_struct_hash(self, message: Mapping[str, Any]) -> bytes | None:
        """``hashStruct(message)``, or None where a member is missing or a value is not one the
        encoders write as eth-account would."""
        words = [self.type_hash]
        for name, check, encode in zip(self.names, self.checks, self.encoders, strict=True):
            if name not in message:
                return None
            value = message[name]
            if not check(value):
                return None
            words.append(encode(value))
        return keccak(b"".join(words))


@lru_cache(maxsize=256)
def _hasher(primary: str, shape: tuple[tuple[str, str], ...]) -> TypedHasher | None:
    """The compiled hasher of a struct type seen in a document, or None when it is not flat."""
    try:
        return TypedHasher(primary, [{"name": name, "type": kind} for name, kind in shape])
    except ValueError:
        return None


_DOMAIN_HASHER = TypedHasher("EIP712Domain", DOMAIN_FIELDS)


def domain_separator(domain: Domain) -> bytes:
    """EIP-712 ``hashStruct(EIP712Domain)``: what the contract's ``DOMAIN_SEPARATOR()`` returns."""
    return _DOMAIN_HASHER.struct_hash(domain.as_dict())


@lru_cache(maxsize=256)
def _domain_separator(fields: tuple[tuple[str, str], ...], values: tuple[tuple[str, Any], ...]) -> bytes | None:
    hasher = _hasher("EIP712Domain", fields)
    return None if hasher is None else hasher.checked_struct_hash(dict(values))


def typed_data_digest(document: Mapping[str, Any]) -> bytes | None:
    """The EIP-712 digest of a flat document (atomic fields only), or None to say "use eth-account"."""
    try:
        types = document["types"]
        primary = document["primaryType"]
        domain_fields = tuple((f["name"], f["type"]) for f in types["EIP712Domain"])
        domain = document["domain"]
        separator = _domain_separator(domain_fields, tuple((name, domain.get(name)) for name, _ in domain_fields))
        hasher = _hasher(primary, tuple((f["name"], f["type"]) for f in types[primary]))
        body = None if hasher is None else hasher.checked_struct_hash(document["message"])
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    if separator is None or body is None:
        return None
    return keccak(b"\x19\x01" + separator + body)


# -- signing and recovery -------------------------------------------------------------------------


def _sign_digest(account: LocalAccount, hashed: bytes) -> bytes:
    """r‖s‖v over an EIP-712 digest, as eth-account signs it (libsecp256k1, deterministic nonce)."""
    signature = sign_digest(account, hashed)
    return signature[:64] + bytes((signature[64] + 27,))


def sign_typed_data_by(document: dict[str, Any], *accounts: LocalAccount) -> list[bytes]:
    """One document signed by several parties (an order's buyer and supplier): one digest."""
    hashed = typed_data_digest(document)
    if hashed is None:
        return [sign(account, document) for account in accounts]
    return [_sign_digest(account, hashed) for account in accounts]


def sign_typed_data(account: LocalAccount, document: dict[str, Any]) -> bytes:
    """``sign`` for many documents: the same 65-byte r‖s‖v, about 4x faster.

    Documents with nested structs, arrays or values given in another form (hex strings for
    bytes, say) go to ``sign``, so the answer is always eth-account's.
    """
    hashed = typed_data_digest(document)
    if hashed is None:
        return sign(account, document)
    return _sign_digest(account, hashed)


SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def _accepted(signature: bytes) -> bool:
    """What ``ECDSA.tryRecover`` checks before recovering: 65 bytes, v 27 or 28, s in the lower half."""
    return (
        len(signature) == 65
        and signature[64] in (27, 28)
        and int.from_bytes(signature[32:64], "big") <= SECP256K1_HALF_N
    )


def _recovered(hashed: bytes, signature: bytes) -> str | None:
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes((signature[64] - 27,)), hashed, hasher=None
        )
    except ValueError:
        return None
    return address("0x" + keccak(public.format(compressed=False)[1:])[12:].hex())


def signer_of(hashed: bytes, signature: bytes) -> str | None:
    """Who signed ``hashed`` (an EIP-712 digest): the EIP-55 address, or None where the contracts'
    ``ECDSA.tryRecover`` fails (not 65 bytes, v not 27/28, s in the upper half, no point)."""
    if not _accepted(signature):
        return None
    return _recovered(hashed, signature)


def recover_typed_data(document: dict[str, Any], signature: bytes) -> str | None:
    """Who signed ``document``: the checksum address, or None where the contracts' ``ECDSA.tryRecover``
    would fail (not 65 bytes, v not 27/28, s in the upper half, no point).

    Same answer as ``recover`` for every signature the contracts accept, ~10x faster.
    """
    if not _accepted(signature):
        return None  # before the document is read: a refused signature says nothing of it
    hashed = typed_data_digest(document)
    if hashed is None:
        hashed = digest(document)
    return _recovered(hashed, signature)


# -- recovery holding the GIL (``recover_signer``) ------------------------------------------------


def _secp256k1() -> tuple[ctypes.c_void_p, Any, Any, Any] | None:
    """coincurve's context and its library's parse, recover and serialize, as GIL-holding ctypes
    calls; None where its build does not export them (``recover_signer`` then is ``signer_of``)."""
    try:
        library = ctypes.PyDLL(coincurve._libsecp256k1.__file__)
        parse = library.secp256k1_ecdsa_recoverable_signature_parse_compact
        recover_ = library.secp256k1_ecdsa_recover
        serialize = library.secp256k1_ec_pubkey_serialize
    except (OSError, AttributeError):
        return None
    context = ctypes.c_void_p(int(coincurve._libsecp256k1.ffi.cast("uintptr_t", GLOBAL_CONTEXT.ctx)))
    buffer, pointer = ctypes.c_char_p, ctypes.c_void_p
    parse.argtypes, parse.restype = [pointer, buffer, buffer, ctypes.c_int], ctypes.c_int
    recover_.argtypes, recover_.restype = [pointer, buffer, buffer, buffer], ctypes.c_int
    serialize.argtypes = [pointer, buffer, ctypes.POINTER(ctypes.c_size_t), buffer, ctypes.c_uint]
    serialize.restype = ctypes.c_int
    return context, parse, recover_, serialize


_SECP256K1 = _secp256k1()


#: Uncompressed public key (64 bytes, no prefix) → EIP-55 address, for ``recover_signer``;
#: cleared when it grows past ``_SIGNER_CACHE``.
_SIGNERS: dict[bytes, str] = {}
_SIGNER_CACHE = 1 << 16


def recover_signer(hashed: bytes, signature: bytes) -> str | None:
    """``signer_of(hashed, signature)``, the same answers, for many signatures: the calls coincurve's
    ``PublicKey.from_signature_and_message`` and ``format`` make, made without letting the GIL go."""
    if _SECP256K1 is None or not _accepted(signature) or len(hashed) != 32:
        return signer_of(hashed, signature)  # the refusals, as signer_of answers them
    context, parse, recover_, serialize = _SECP256K1
    # Buffers of the library's opaque structs (65-byte recoverable signature, 64-byte public key),
    # one set per call: between two calls another thread may take the GIL and recover too.
    new = ctypes.create_string_buffer
    parsed, public, serialized = new(65), new(64), new(65)
    if not parse(context, parsed, signature[:64], signature[64] - 27):
        return None
    if not recover_(context, public, parsed, bytes(hashed)):
        return None
    serialize(context, serialized, ctypes.byref(ctypes.c_size_t(65)), public, EC_UNCOMPRESSED)
    key = serialized.raw[1:]
    found = _SIGNERS.get(key)
    if found is None:
        found = address("0x" + keccak(key)[12:].hex())
        if len(_SIGNERS) >= _SIGNER_CACHE:
            _SIGNERS.clear()
        _SIGNERS[key] = found
    return found
