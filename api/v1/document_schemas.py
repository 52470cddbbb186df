"""Request and answer bodies of ``/v1/documents`` (``api.v1.routes.documents``): sealed documents, wraps, keys.

Bytes cross as ``0x`` hex (public keys, wrapped keys, signatures: short, and what wallets and ethers
speak) or base64 (the sealed document: up to the document limit). Each field's shape is checked here,
so a malformed one is a 422 naming it; what needs the curve or the store (a point off the curve, a
wrap to another key) is checked by the route and answered the same way.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.v1.schemas import Address, AnchorOut, Filename, Request, SafeInt, WalletSignature

#: A secp256k1 public key: 33 bytes compressed (02/03) or 65 uncompressed (04); answers are compressed.
PublicKey = Annotated[
    str,
    Field(
        pattern=r"^0x(0[23][0-9a-fA-F]{64}|04[0-9a-fA-F]{128})$",
        description="secp256k1 public key, 0x hex: 33 bytes compressed or 65 uncompressed",
    ),
]
#: A document key wrapped by ``ledger.eth.ecies`` (version 1: 94 bytes).
WrappedKey = Annotated[
    str, Field(pattern=r"^0x[0-9a-fA-F]{188}$", description="ECIES wrap, format version 1 (94 bytes), 0x hex")
]
DocumentIdIn = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        description="a random UUID v4 the client chose (lower case): the associated data of the ciphertext and wraps",
    ),
]
Keccak = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]


class WrapIn(Request):
    party: Address
    publicKey: PublicKey = Field(description="the party's registered document key (GET /v1/documents/keys)")
    wrappedKey: WrappedKey


class DocumentIn(Request):
    id: DocumentIdIn
    kind: Annotated[str, Field(pattern=r"^(invoice|bill_of_lading|terms|other)$")]
    filename: Filename
    mediaType: Annotated[str, Field(pattern=r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$", max_length=127)]
    keccak256: Keccak = Field(description="keccak256 of the plaintext, as you compute it (readers check it)")
    sealedBase64: Annotated[
        str,
        Field(
            min_length=40,  # 28 bytes (nonce and tag) at least
            pattern=r"^[A-Za-z0-9+/]+={0,2}$",
            description="nonce (12) || AES-256-GCM ciphertext || tag (16), associated data: the document id",
        ),
    ]
    wraps: Annotated[
        list[WrapIn],
        Field(min_length=1, max_length=33, description="the document key wrapped to each party, yours included"),
    ]


class ShareIn(Request):
    party: Address
    publicKey: PublicKey
    wrappedKey: WrappedKey


class DocumentOut(BaseModel):
    id: str
    owner: str
    kind: str
    filename: str
    mediaType: str
    size: SafeInt = Field(description="bytes of the plaintext")
    keccak256: str = Field(description="of the plaintext, as the uploader claims it: check it after decrypting")
    parties: list[str]
    createdAt: SafeInt
    anchors: list[AnchorOut] = Field(description="where the claimed hash is on chain, as indexed")


class WrapOut(BaseModel):
    documentId: str
    party: str
    publicKey: str = Field(description="the key it was wrapped to (compressed)")
    wrappedKey: str
    wrappedBy: str
    createdAt: SafeInt


class DocumentKeyIn(Request):
    publicKey: PublicKey
    signature: WalletSignature | None = Field(
        default=None,
        description="EIP-712 DocumentKey(party, publicKey) by you (POST /v1/documents/keys/typed-data); "
        "not needed when publicKey is your account's own key",
    )


class DocumentKeyTermsIn(Request):
    publicKey: PublicKey


class PartyKeyOut(BaseModel):
    party: str
    publicKey: str | None = Field(description="compressed; null: the party registered none")
    signature: str | None = Field(
        description="the party's EIP-712 DocumentKey signature; null for an account's own key (its hash is the "
        "address: check that instead)"
    )
    registeredAt: SafeInt | None
