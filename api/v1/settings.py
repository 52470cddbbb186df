"""What one running API needs: the chain and its deployment, the databases, secrets and limits."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from api.errors import ApiError
from api.v1.ratelimit import RateLimits
from ledger.domain.fingerprints import ConsortiumKey, ConsortiumKeyError, load_consortium_key
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.eth.fees import PRIORITY_FEE

SECRET_ENV = "SCF_API_SECRET"
DEVNET_ENV = "SCF_DEVNET"
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_hex(32))'"
#: A secret with fewer distinct bytes than this is a pattern, not 32 random bytes (which have ~30).
MIN_DISTINCT_BYTES = 16
WEBHOOK_KEY_ENV = "SCF_API_WEBHOOK_KEY"
AUDITORS_ENV = "SCF_API_AUDITORS"
STORE_URL_ENV = "SCF_API_DB_URL"
MODEL_ENV = "SCF_SCORE_MODEL"
EVALUATION_ENV = "SCF_SCORE_EVALUATION"
CONFIRMATIONS_ENV = "SCF_SCORE_CONFIRMATIONS"
#: A key file holding the consortium's invoice-fingerprint key (``ledger.domain.fingerprints``; ``--fingerprint-key``).
FINGERPRINT_KEY_ENV = "SCF_FINGERPRINT_KEY_FILE"
#: Whole numbers from the environment for ``from_env``: the relay policy (wei) and the idempotency lease (s).
WHOLE_NUMBER_ENV = {
    "relay_base_fee_multiple": "SCF_RELAY_BASE_FEE_MULTIPLE",
    "relay_max_priority_fee": "SCF_RELAY_MAX_PRIORITY_FEE",
    "relay_max_top_up": "SCF_RELAY_MAX_TOP_UP",
    "relay_daily_top_up": "SCF_RELAY_DAILY_TOP_UP",
    "idempotency_lease": "SCF_API_IDEMPOTENCY_LEASE",
}

CONTRACTS = ("Membership", "SettlementToken", "CreditRegistry", "TradeEscrow", "Receivables")


class SettingsError(ApiError):
    """The API cannot start with this configuration."""


def weakness(secret: bytes) -> str | None:
    """Why ``secret`` cannot be a production secret (None: it can)."""
    if len(secret) < 32:
        return f"it is {len(secret)} bytes, fewer than 32"
    if len(set(secret)) == 1:
        return f"it repeats one byte ({secret[:1].hex()})"
    if len(set(secret)) < MIN_DISTINCT_BYTES:
        return f"it has only {len(set(secret))} distinct bytes (random 32 bytes have about 30)"
    return None


def devnet_mode(value: str | None) -> bool:
    """``SCF_DEVNET``: 1/true/yes or 0/false/no (unset: no)."""
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{DEVNET_ENV} must be 1 or 0, got {value!r}")


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
    """``token_secret`` signs access tokens (HMAC-SHA256); ``webhook_key`` seals the webhooks' signing
    secrets (AES-256-GCM, ``api.v1.webhooks.signing``). There is no document key: documents are sealed by
    their parties, to their keys (``api.v1.documents``), and nothing the server holds opens them. Outside
    devnet mode both must come from the operator and be strong (``weakness``: 32+ random bytes, not a
    pattern); in devnet mode (``devnet``, only ever set explicitly: ``scf serve
    --devnet`` or ``SCF_DEVNET=1``, never inferred from what the node says it is) they may be drawn at
    random, so tokens and webhook secrets then die with the process, and the relayer may be the devnet's
    public-mnemonic account.

    ``auditors``: addresses that read everything although the chain gives them no AUDITOR or
    ADMIN role (a regulator's key, say); chain roles are the rule, this list the exception.
    """

    chain: Chain
    build: BuildResult
    addresses: dict[str, str]
    db_url: str
    store_url: str | None = None
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    webhook_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    token_ttl: int = 900
    challenge_ttl: int = 300
    domain: str = "127.0.0.1:8000"
    auditors: frozenset[str] = frozenset()
    relayer: LocalAccount | None = None
    #: Relayer fee policy (``api.v1.relayer``): a relayed transaction's maxFeePerGas is at most this
    #: multiple of the latest base fee plus its priority fee (prepared transactions ask for 2x) ...
    relay_base_fee_multiple: int = 3
    #: ... and its maxPriorityFeePerGas at most this (wei).
    relay_max_priority_fee: int = 2 * 10**9
    #: The most native currency (wei) the relayer sends for one transaction: gas x maxFeePerGas less the balance.
    relay_max_top_up: int = 10**17
    #: The most it sends one party per UTC day (wei).
    relay_daily_top_up: int = 10**18
    max_body: int = 256 * 1024
    max_document: int = 4 * 1024 * 1024
    idempotency_wait: float = 10.0
    #: Seconds an in-progress Idempotency-Key record stays claimed with no heartbeat (renewed every third of
    #: it while the request runs): a killed process's request is recovered by a retry after this. Shorter
    #: than ``idempotency_wait``, so a retry that waits on a dead attempt takes it over instead of a 409.
    idempotency_lease: float = 8.0
    #: Seconds after which an Idempotency-Key record expires and the key is a new key (Stripe's 24 h).
    idempotency_ttl: int = 86_400
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
    #: Devnet mode: random secrets allowed, the dev relayer account (``from_env`` and ``scf serve --devnet``).
    devnet: bool = False
    #: Devnet mode only: the demo parties' keys the portal's dev wallet signs with (``api.portal``; ``--dev-wallet``).
    dev_wallet: Path | None = None
    #: Seconds between reads of the head block for the per-request Membership check (``api.v1.auth.Standing``).
    membership_refresh: float = 1.0
    #: Requests per period on sign-in and uploads (``api.v1.ratelimit``).
    rate_limits: RateLimits = field(default_factory=RateLimits)
    #: The consortium's invoice-fingerprint key, when the operator gave one: the API then fingerprints invoices
    #: for clients that send their number; without it clients send fingerprints they computed themselves.
    fingerprint_key: ConsortiumKey | None = None

    def __post_init__(self) -> None:
        missing = [name for name in CONTRACTS if name not in self.addresses]
        if missing:
            raise SettingsError(f"the deployment lacks {', '.join(missing)}")
        self.addresses = {name: to_checksum_address(a) for name, a in self.addresses.items()}
        self.auditors = frozenset(to_checksum_address(a) for a in self.auditors)
        if len(self.token_secret) < 32:
            raise SettingsError(f"the token secret must be at least 32 bytes; generate one with {GENERATE_SECRET}")
        if len(self.webhook_key) != 32:
            raise SettingsError(f"the webhook key must be 32 bytes (AES-256); generate one with {GENERATE_SECRET}")
        for name, secret in ((SECRET_ENV, self.token_secret), (WEBHOOK_KEY_ENV, self.webhook_key)):
            weak = None if self.devnet else weakness(secret)
            if weak:
                raise SettingsError(f"{name} is too weak: {weak}; generate one with {GENERATE_SECRET}")
        bad_rates = [name for name, rate in vars(self.rate_limits).items() if not rate.valid]
        if bad_rates or self.membership_refresh <= 0:
            raise SettingsError(
                "rate limits need a count >= 1 and a positive period, and the membership refresh a positive "
                f"interval (got {', '.join(bad_rates) or self.membership_refresh})"
            )
        if self.score_confirmations < 0:
            raise SettingsError("the confirmation depth for decisions cannot be negative")
        if self.relay_base_fee_multiple < 2 or self.relay_max_priority_fee < PRIORITY_FEE:
            raise SettingsError(
                f"the relay fee policy must accept the transactions the API prepares (2 x base fee + {PRIORITY_FEE} "
                f"wei priority): base fee multiple >= 2 and max priority fee >= {PRIORITY_FEE}"
            )
        if self.idempotency_lease <= 0 or self.idempotency_ttl <= 0:
            raise SettingsError("the idempotency lease and expiry must be positive")

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
        devnet: bool | None = None,
    ) -> Settings:
        """Secrets from ``SCF_API_SECRET`` / ``SCF_API_WEBHOOK_KEY`` (hex); required, and strong, unless in devnet
        mode: ``devnet`` (``scf serve --devnet``), else ``SCF_DEVNET``. Devnet mode needs a chain with dev accounts
        (``scf devnet up``, ``--chain embedded``): it is never inferred from the node's client version.

        Credit: the model from ``SCF_SCORE_MODEL``, the confirmation depth from
        ``SCF_SCORE_CONFIRMATIONS`` (default 12), the evaluation report from ``SCF_SCORE_EVALUATION``.
        The relay policy and the idempotency lease from ``WHOLE_NUMBER_ENV``'s variables.
        """
        secret, webhook_key = os.environ.get(SECRET_ENV), os.environ.get(WEBHOOK_KEY_ENV)
        devnet = devnet_mode(os.environ.get(DEVNET_ENV)) if devnet is None else devnet
        if devnet and chain.accounts is None:
            raise SettingsError(
                f"devnet mode (--devnet, {DEVNET_ENV}) needs a local devnet (`scf devnet up`, --chain embedded); "
                f"this chain ({chain.endpoint}) has no dev accounts"
            )
        if not devnet and not (secret and webhook_key):
            raise SettingsError(
                f"set {SECRET_ENV} (32+ bytes hex) and {WEBHOOK_KEY_ENV} (32 bytes hex), each generated with "
                f"{GENERATE_SECRET}; or, on a local devnet only, pass --devnet ({DEVNET_ENV}=1)"
            )
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
            devnet=devnet,
            score_model=Path(model) if model else None,
            score_confirmations=int(confirmations),
            evaluation_report=Path(evaluation) if evaluation else None,
        )
        if secret:
            settings.token_secret = _hex_secret(SECRET_ENV, secret, None)
        if webhook_key:
            settings.webhook_key = _hex_secret(WEBHOOK_KEY_ENV, webhook_key, 32)
        for name, env in WHOLE_NUMBER_ENV.items():
            value = os.environ.get(env)
            if value is not None:
                if not value.isdigit():
                    raise SettingsError(f"{env} must be a whole number, got {value!r}")
                setattr(settings, name, int(value))
        key_file = os.environ.get(FINGERPRINT_KEY_ENV)
        if key_file:
            settings.fingerprint_key = fingerprint_key_of(Path(key_file))
        settings.__post_init__()
        return settings


def fingerprint_key_of(path: Path) -> ConsortiumKey:
    """The consortium key in ``path``, or a ``SettingsError`` that says what is wrong with the file."""
    try:
        return load_consortium_key(path)
    except ConsortiumKeyError as exc:
        raise SettingsError(f"the invoice-fingerprint key ({FINGERPRINT_KEY_ENV}, --fingerprint-key): {exc}") from exc
