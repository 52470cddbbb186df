"""Upload bodies for ``POST /v1/documents`` sealed as a client seals them (``ledger.eth.ecies``), for tests that
post one by hand (bad input, rate limits, a killed upload) rather than through ``api.cli.documents``."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.eth import ecies


def account_key(account: LocalAccount) -> str:
    """The account's own compressed public key, 0x hex: what ``POST /v1/documents/keys`` takes without a signature."""
    return "0x" + ecies.public_key_of(bytes(account.key)).hex()


def sealed_body(
    owner: LocalAccount, content: bytes = b"hello", *, filename: str = "a.pdf", kind: str = "invoice", **change: Any
) -> dict[str, Any]:
    """A valid upload by ``owner`` alone (wrapped to its account key, which must be registered), then ``change``."""
    document_id = change.pop("id", None) or str(uuid.uuid4())
    key, sealed = ecies.seal_document(content, document_id)
    public_key = ecies.public_key_of(bytes(owner.key))
    wrapped = ecies.wrap(key, public_key, ecies.wrap_context(document_id, owner.address))
    body = {
        "id": document_id,
        "kind": kind,
        "filename": filename,
        "mediaType": "application/pdf",
        "keccak256": "0x" + keccak(content).hex(),
        "sealedBase64": base64.b64encode(sealed).decode(),
        "wraps": [{"party": owner.address, "publicKey": "0x" + public_key.hex(), "wrappedKey": "0x" + wrapped.hex()}],
    }
    return {**body, **change}
