"""Webhook signatures (Stripe's scheme) and the sealed secrets they are made with.

Every delivery carries ``SCF-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256, keyed with the webhook's secret (the whole ``whsec_...`` string as UTF-8), over the
bytes ``f"{t}."`` followed by the raw request body, exactly as sent. A receiver verifies with
``verify_signature(secret, body, header)``: it recomputes the MAC over the body bytes as received
(before any JSON parsing), compares it in constant time with each ``v1`` in the header (several
may come while a secret is rotated), and refuses a ``t`` more than ``tolerance`` seconds (300)
from its own clock, so a captured delivery cannot be replayed later. Then it dedupes on the
event's ``id`` (also in the ``SCF-Event-Id`` header): deliveries are at least once.

In Python, for a receiver (any language does the same in a few lines)::

    from api.v1.webhooks.signing import verify_signature
    if not verify_signature(SECRET, request_body_bytes, request.headers["SCF-Signature"]):
        return 400

The server keeps each secret sealed (``SecretBox``: AES-256-GCM under the API's webhook key,
``SCF_API_WEBHOOK_KEY``, with the webhook's id as associated data), because it must read it again to
sign; it is shown to its party once, when the webhook is made. (This key was ``SCF_API_DOCUMENT_KEY``
while the server also wrapped document keys; set the new variable to the old value and existing
webhooks keep signing.) In devnet mode without a webhook key set, the key is drawn per start:
webhooks made before a restart can no longer sign (their deliveries fail, saying so).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_HEADER = "SCF-Signature"
SECRET_PREFIX = "whsec_"
#: Seconds a signature's timestamp may be from the receiver's clock.
TOLERANCE = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``SCF-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    secret: str, body: bytes, header: str, *, now: int | None = None, tolerance: int = TOLERANCE
) -> bool:
    """Whether ``header`` (an ``SCF-Signature`` value) signs ``body`` with ``secret``, at a time within
    ``tolerance`` seconds of ``now`` (default: this clock)."""
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            macs.append(value)
    if timestamp is None or not macs:
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)


class SecretUnreadable(Exception):
    """A sealed secret does not open under this key (the webhook key changed, or the row was altered)."""


class SecretBox:
    """Seals webhook secrets under the API's 32-byte webhook key, bound to the webhook's id."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _aad(webhook_id: str) -> bytes:
        return f"scf-ledger webhook secret {webhook_id}".encode()

    def seal(self, webhook_id: str, secret: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._aead.encrypt(nonce, secret.encode(), self._aad(webhook_id))

    def open(self, webhook_id: str, nonce: bytes, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(webhook_id)).decode()
        except InvalidTag as exc:
            raise SecretUnreadable(
                f"webhook {webhook_id}'s secret does not open under this API's webhook key (SCF_API_WEBHOOK_KEY "
                "changed?): delete the webhook and make it again"
            ) from exc
