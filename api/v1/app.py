"""The ``/v1`` FastAPI application: ``create_app(settings)``.

Reads come from the indexer's SQL projection (fast, per-party filtered); writes never hold a
key: the API serves EIP-712 typed data and unsigned transactions, the party signs them with
its own key, and the signed transaction comes back to ``POST /v1/submissions`` to be checked
and broadcast (a ``202`` with its status URL: it shows up in the reads once mined and
indexed). OpenAPI at ``/openapi.json``; interactive docs at ``/docs`` and the web portal at ``/app``
(``api.portal``), both built locally from npm packages, so they work without the internet.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api import errors, portal
from api.v1 import migrate
from api.v1.auth import Authenticator, Revocations, Standing, Tokens
from api.v1.credit import CreditDesk
from api.v1.deps import ERRORS, Services
from api.v1.documents import DocumentVault
from api.v1.events import Feed, StreamOptions
from api.v1.gate import Gate
from api.v1.hot_reads import HotReads
from api.v1.idempotency import IdempotencyStore
from api.v1.ratelimit import Limiter
from api.v1.reads import Reads
from api.v1.relayer import RelayPolicy, Transactions
from api.v1.routes import (
    audit,
    banks,
    credit,
    documents,
    events,
    financing,
    health,
    order_drafts,
    orders,
    parties,
    prepayments,
    receivables,
    submissions,
    webhooks,
)
from api.v1.routes import auth as auth_routes
from api.v1.settings import Settings, SettingsError
from api.v1.webhooks import DeliveryOptions, SecretBox, WebhookBook
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.eth.proofs import ReceivableLayout
from ledger.index.sql.db import make_engine, upgrade
from scoring.errors import ModelError
from scoring.scorecard import Model

PREFIX = "/v1"
DEFAULT_MODEL = Path(__file__).resolve().parent.parent.parent / "scoring" / "models" / "default.json"
DOCUMENT_PATHS = (f"{PREFIX}/documents",)


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings.db_url)
    upgrade(engine)  # the projection's schema (a no-op at head), so reads work before the first index run
    store_engine = engine if not settings.store_url else make_engine(settings.store_url)
    migrate.create(store_engine)
    tokens = Tokens(settings.token_secret, settings.token_ttl, settings.auditors, revocations=Revocations(store_engine))
    auth = Authenticator(
        settings.chain,
        settings.build,
        settings.addresses["Membership"],
        store_engine,
        tokens,
        domain=settings.domain,
        uri=settings.uri,
        challenge_ttl=settings.challenge_ttl,
    )
    reads = Reads(engine, store_engine, settings.chain.chain_id)
    tx = Transactions(
        settings.chain,
        settings.build,
        settings.addresses,
        store_engine,
        engine,
        settings.relayer,
        RelayPolicy.of(settings),
    )
    vault = DocumentVault(store_engine, engine, settings.chain.chain_id)
    model, problem = load_model(settings)
    credit = CreditDesk(
        engine,
        store_engine,
        settings.chain.chain_id,
        model,
        model_problem=problem,
        confirmations=settings.score_confirmations,
        evaluation=settings.evaluation_report,
        keep=settings.score_cache,
    )
    return Services(
        settings,
        settings.chain,
        engine,
        store_engine,
        tokens,
        auth,
        reads,
        tx,
        credit,
        documents=vault,
        escrow=TradeEscrowClient(settings.chain, settings.build, settings.addresses["TradeEscrow"]),
        receivables=ReceivablesClient(settings.chain, settings.build, settings.addresses["Receivables"]),
        receivable_layout=ReceivableLayout.from_storage_layout(settings.build["Receivables"].storage_layout),
    )


def load_model(settings: Settings) -> tuple[Model | None, str]:
    """The credit model, and why there is none: a model the operator named must load (or the API does
    not start); without the shipped default the API serves everything but decisions (503, saying why)."""
    path = settings.score_model or DEFAULT_MODEL
    try:
        return Model.load(path), ""
    except ModelError as exc:
        if settings.score_model is not None:
            raise SettingsError(str(exc)) from exc
        return None, f"{exc} (fit one with `scf score fit` and set SCF_SCORE_MODEL)"


def _lifespan(svc: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Starts the thread that builds each new last final block's feature table ahead of requests."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        every = svc.settings.score_refresh
        warmer = None
        if every > 0 and svc.credit.model is not None:
            warmer = threading.Thread(target=svc.credit.warm, args=(stop, every), name="scf-credit-warm", daemon=True)
            warmer.start()
        try:
            yield
        finally:
            stop.set()
            if warmer is not None:
                warmer.join(timeout=30)

    return lifespan


class LedgerApp(FastAPI):
    """FastAPI asking ``api.v1.hot_reads`` first: a polled read it answers skips the middleware stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["app"] = self  # as Starlette sets it before its stack: the hot reads find the services there
            if await HotReads.answered(scope, send):
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    stream: StreamOptions | None = None,
    delivery: DeliveryOptions | None = None,
) -> FastAPI:
    """The app; ``stream`` and ``delivery`` tune the event feed and webhooks (defaults: ``StreamOptions()``,
    ``DeliveryOptions.from_env``). Webhooks are delivered by ``scf serve``'s dispatcher, not by the app."""
    svc = services or build_services(settings)
    app = LedgerApp(
        title="scf-ledger API",
        description=(
            "Multi-tier supply-chain finance on an EVM chain. Sign in by signing a challenge with your key "
            "(POST /v1/auth/challenge, then /v1/auth/token); send the token as `Authorization: Bearer`. "
            "Writes return typed data or a transaction for you to sign; POST the signed transaction to "
            "/v1/submissions. Every POST accepts an Idempotency-Key."
        ),
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=ERRORS,
        lifespan=_lifespan(svc),
    )
    app.state.services = svc
    app.state.tokens = svc.tokens
    # Every authenticated request: is the party still an active member (api.v1.auth), and the rate limits.
    app.state.standing = Standing(
        chain=svc.chain,
        membership=svc.auth.membership,
        index=svc.engine,
        refresh=settings.membership_refresh,
    )
    app.state.limiter = Limiter(engine=svc.store, limits=settings.rate_limits)
    # The event feed and webhooks (api.v1.events, api.v1.webhooks): read by routes/events.py and routes/webhooks.py.
    app.state.stream = stream or StreamOptions()
    app.state.feed = Feed(svc.engine, svc.store, svc.chain_id, poll=app.state.stream.poll)
    app.state.webhooks = WebhookBook(
        svc.store,
        app.state.feed,
        SecretBox(settings.webhook_key),
        delivery or DeliveryOptions.from_env(devnet=settings.devnet),
    )
    errors.install(app)

    for module in (
        health,
        auth_routes,
        parties,
        order_drafts,  # before orders: /orders/drafts is not /orders/{order_id}
        orders,
        receivables,
        financing,
        prepayments,
        submissions,
        documents,
        credit,
        banks,
        audit,
        events,
        webhooks,
    ):
        app.include_router(module.router, prefix=PREFIX)

    portal.mount(app, settings=settings)

    app.add_middleware(
        Gate,
        tokens=svc.tokens,
        idempotency=IdempotencyStore(
            svc.store, wait=settings.idempotency_wait, lease=settings.idempotency_lease, ttl=settings.idempotency_ttl
        ),
        max_body=settings.max_body,
        large_paths=DOCUMENT_PATHS,
        max_large_body=settings.max_document * 4 // 3 + 32768,  # base64 in JSON, and up to 33 wraps in hex
    )
    return app
