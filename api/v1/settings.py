"""What one running API needs: the chain and its deployment, the databases, secrets and limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from api.errors import ApiError
from ledger.chain import Chain
from ledger.compiler import BuildResult

SECRET_ENV = "SCF_API_SECRET"
DOCUMENT_KEY_ENV = "SCF_API_DOCUMENT_KEY"
AUDITORS_ENV = "SCF_API_AUDITORS"
STORE_URL_ENV = "SCF_API_DB_URL"
MODEL_ENV = "SCF_SCORE_MODEL"
EVALUATION_ENV = "SCF_SCORE_EVALUATION"
CONFIRMATIONS_ENV = "SCF_SCORE_CONFIRMATIONS"

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
    #: The credit model file (``scf score fit``); None: the shipped ``scoring/models/default.json``.
    score_model: Path | None = None
    #: Blocks below the indexed head that count as final: decisions are as of the head less these.
    score_confirmations: int = 12
    #: The evaluation report ``GET /v1/credit/evaluation`` serves (``scf score evaluate --json > FILE``).
    evaluation_report: Path | None = None
    #: As-of blocks whose feature tables each process keeps (a table holds every party's features).
    score_cache: int = 4
    #: Seconds between looks for a new last final block to build ahead of requests (0: on demand only).
    score_refresh: float = 1.0

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
        if self.score_confirmations < 0:
            raise SettingsError("the confirmation depth for decisions cannot be negative")

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
        """Secrets from ``SCF_API_SECRET`` / ``SCF_API_DOCUMENT_KEY`` (hex); required unless the chain is a devnet.

        Credit: the model from ``SCF_SCORE_MODEL``, the confirmation depth from
        ``SCF_SCORE_CONFIRMATIONS`` (default 12), the evaluation report from ``SCF_SCORE_EVALUATION``.
        """
        secret, doc_key = os.environ.get(SECRET_ENV), os.environ.get(DOCUMENT_KEY_ENV)
        if chain.accounts is None and not (secret and doc_key):
            raise SettingsError(f"set {SECRET_ENV} (32+ bytes hex) and {DOCUMENT_KEY_ENV} (32 bytes hex)")
        auditors = frozenset(a.strip() for a in os.environ.get(AUDITORS_ENV, "").split(",") if a.strip())
        model, evaluation = os.environ.get(MODEL_ENV), os.environ.get(EVALUATION_ENV)
        confirmations = os.environ.get(CONFIRMATIONS_ENV, "12")
        if not confirmations.isdigit():
            raise SettingsError(f"{CONFIRMATIONS_ENV} must be a whole number of blocks, got {confirmations!r}")
        settings = cls(
            chain,
            build,
            addresses,
            db_url,
            store_url=os.environ.get(STORE_URL_ENV),
            domain=domain,
            auditors=auditors,
            relayer=relayer,
            score_model=Path(model) if model else None,
            score_confirmations=int(confirmations),
            evaluation_report=Path(evaluation) if evaluation else None,
        )
        if secret:
            settings.token_secret = _hex_secret(SECRET_ENV, secret, None)
        if doc_key:
            settings.document_key = _hex_secret(DOCUMENT_KEY_ENV, doc_key, 32)
        settings.__post_init__()
        return settings
