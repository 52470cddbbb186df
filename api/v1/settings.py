"""What one running API needs: the chain and its deployment, the databases, secrets and limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from api.errors import ApiError
from ledger.chain import Chain
from ledger.compiler import BuildResult

SECRET_ENV = "SCF_API_SECRET"
DOCUMENT_KEY_ENV = "SCF_API_DOCUMENT_KEY"
AUDITORS_ENV = "SCF_API_AUDITORS"
STORE_URL_ENV = "SCF_API_DB_URL"

CONTRACTS = ("Membership", "SettlementToken", "CreditRegistry", "TradeEscrow", "Receivables")


class SettingsError(ApiError):
    """The API cannot start with this configuration."""


def _hex_secret(name: str, value: str, size: int | None) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise SettingsError(f"{name} must be hex") from exc
    if size is not None and len(raw) != size:
        raise SettingsError(f"{name} must be {size} bytes ({2 * size} hex digits), got {len(raw)}")
    return raw


@dataclass
class Settings:
    """``token_secret`` signs access tokens (HMAC-SHA256); ``document_key`` wraps document keys
    (AES-256-GCM). Both must come from the operator on a real network (``from_env``); a devnet may
    draw them at random, so tokens and documents then die with the process.

    ``auditors``: addresses that read everything although the chain gives them no AUDITOR or
    ADMIN role (a regulator's key, say); chain roles are the rule, this list the exception.
    """

    chain: Chain
    build: BuildResult
    addresses: dict[str, str]
    db_url: str
    store_url: str | None = None
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    document_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    token_ttl: int = 900
    challenge_ttl: int = 300
    domain: str = "127.0.0.1:8000"
    auditors: frozenset[str] = frozenset()
    relayer: LocalAccount | None = None
    #: Native currency a relayer tops a party up to before broadcasting its transaction.
    gas_float: int = 10**17
    max_body: int = 256 * 1024
    max_document: int = 4 * 1024 * 1024
    idempotency_wait: float = 10.0
    #: First block of the deployment: where an audit replay starts.
    start_block: int = 0

    def __post_init__(self) -> None:
        missing = [name for name in CONTRACTS if name not in self.addresses]
        if missing:
            raise SettingsError(f"the deployment lacks {', '.join(missing)}")
        self.addresses = {name: to_checksum_address(a) for name, a in self.addresses.items()}
        self.auditors = frozenset(to_checksum_address(a) for a in self.auditors)
        if len(self.token_secret) < 32:
            raise SettingsError("the token secret must be at least 32 bytes")
        if len(self.document_key) != 32:
            raise SettingsError("the document key must be 32 bytes (AES-256)")

    @property
    def uri(self) -> str:
        return f"http://{self.domain}"

    @classmethod
    def from_env(
        cls,
        chain: Chain,
        build: BuildResult,
        addresses: dict[str, str],
        db_url: str,
        *,
        domain: str,
        relayer: LocalAccount | None = None,
    ) -> Settings:
        """Secrets from ``SCF_API_SECRET`` / ``SCF_API_DOCUMENT_KEY`` (hex); required unless the chain is a devnet."""
        secret, doc_key = os.environ.get(SECRET_ENV), os.environ.get(DOCUMENT_KEY_ENV)
        if chain.accounts is None and not (secret and doc_key):
            raise SettingsError(f"set {SECRET_ENV} (32+ bytes hex) and {DOCUMENT_KEY_ENV} (32 bytes hex)")
        auditors = frozenset(a.strip() for a in os.environ.get(AUDITORS_ENV, "").split(",") if a.strip())
        settings = cls(
            chain,
            build,
            addresses,
            db_url,
            store_url=os.environ.get(STORE_URL_ENV),
            domain=domain,
            auditors=auditors,
            relayer=relayer,
        )
        if secret:
            settings.token_secret = _hex_secret(SECRET_ENV, secret, None)
        if doc_key:
            settings.document_key = _hex_secret(DOCUMENT_KEY_ENV, doc_key, 32)
        settings.__post_init__()
        return settings
