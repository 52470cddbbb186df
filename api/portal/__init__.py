"""The web portal at ``/app`` and the interactive API docs at ``/docs``, served by ``scf serve``.

The portal is a single page (TypeScript in ``api/portal/web/``, bundled by esbuild from npm packages
into ``build/portal/`` by ``make setup``; nothing is fetched from a CDN). It is a client of the same
``/v1`` API as any program: a party signs in with its own wallet (EIP-1193: ``personal_sign`` of the
sign-in challenge, ``eth_signTypedData_v4`` of the typed data the API serves, ``eth_sendTransaction``
of the transactions it prepares, then ``POST /v1/submissions {txHash}``), and every page reads with the
token that sign-in gave. The server adds three things only:

* ``/app`` and ``/app/assets/*``: the page and its bundle (content-hashed names: cached for a year;
  the page itself never cached, so a rebuild shows at once). A strict Content-Security-Policy: scripts
  and styles from this origin only, connections to this origin and to the node URLs a user types (a
  bank checks a storage proof against *its own* node, so any http(s) URL may be asked).
* ``/app/config.json``: the chain id, whether this is a devnet, the settlement token's symbol and
  decimals, the contracts' addresses, and on a devnet the node's URL the dev wallet broadcasts to.
* ``/app/dev-wallet.json``, **devnet mode only** (``scf serve --devnet --dev-wallet FILE``): the demo
  parties' keys for the portal's dev wallet, which answers the same EIP-1193 calls as a browser
  wallet so the tests drive the real signing path. Outside devnet mode the file is refused at start
  and the route answers 404: a real deployment never hands out keys.

``/docs`` is Swagger UI 5 (npm ``swagger-ui-dist``, copied into ``build/portal/docs/`` by the build), which
renders the OpenAPI 3.1 document FastAPI emits; the ``swagger-ui-bundle`` PyPI package predates 3.1.
Without a build (no npm at install) both answer 503 naming the command that builds them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import ApiError, NotFound, ServiceUnavailable
from ledger.clients.token import TokenClient

BUILT = Path(__file__).resolve().parents[2] / "build" / "portal"
BUILD_COMMAND = "make setup (or: node api/portal/web/build.mjs)"

#: Scripts and styles from this origin only; ECharts sets inline style attributes, so style-src allows them.
#: connect-src: this origin, and any node URL a bank types to check a proof against its own node.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: Swagger UI 5 puts its own inline styles and SVG data URIs; its page is FastAPI's with one inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


class DevWalletError(ApiError):
    """The dev wallet's file is missing, malformed, or given outside devnet mode."""


def read_dev_wallet(path: Path) -> list[dict[str, str]]:
    """The parties of a dev-wallet file (``{"parties": [{label, name, does, address, key}]}``), checked."""
    try:
        body = json.loads(path.read_text())
        parties = body["parties"]
        checked = [
            {k: str(p[k]) for k in ("label", "name", "does", "address", "key")} for p in parties if isinstance(p, dict)
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DevWalletError(f"the dev wallet file {path} is not usable: {exc}") from exc
    if not checked:
        raise DevWalletError(f"the dev wallet file {path} names no parties")
    return checked


class Site:
    """What ``/app`` serves beyond the files: the config, and the dev wallet on a devnet."""

    def __init__(self, *, settings: Any, built: Path = BUILT) -> None:
        self.settings = settings
        self.built = built
        self._token: dict[str, Any] | None = None
        self._lock = threading.Lock()
        wallet: Path | None = getattr(settings, "dev_wallet", None)
        if wallet is not None and not settings.devnet:
            raise DevWalletError("a dev wallet is for devnet mode only (scf serve --devnet): it hands out keys")
        self.dev_parties = read_dev_wallet(wallet) if wallet is not None else None

    def file(self, name: str) -> Path:
        path = self.built / name
        if not path.is_file():
            raise ServiceUnavailable("the portal", f"{path} is not built: run {BUILD_COMMAND}")
        return path

    def token(self) -> dict[str, Any]:
        """The settlement token's symbol and decimals, read from the chain once."""
        with self._lock:
            if self._token is None:
                # A dead node raises ChainUnavailable: 503, as every route answers; the page says so.
                settings = self.settings
                token = TokenClient(settings.chain, settings.build, settings.addresses["SettlementToken"])
                self._token = {"symbol": token.symbol(), "decimals": token.decimals()}
            return self._token

    def config(self) -> dict[str, Any]:
        settings = self.settings
        devnet = bool(settings.devnet)
        endpoint = settings.chain.endpoint
        return {
            "chainId": settings.chain.chain_id,
            "devnet": devnet,
            "rpcUrl": endpoint if devnet and endpoint.startswith("http") else None,
            "devWallet": self.dev_parties is not None,
            "contracts": dict(settings.addresses),
            "token": self.token(),
        }


def mount(app: FastAPI, *, settings: Any, built: Path = BUILT) -> Site:
    """Serve the portal under ``/app`` and the docs under ``/docs`` on ``app``."""
    site = Site(settings=settings, built=built)
    page_headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    @app.get("/app", include_in_schema=False)
    @app.get("/app/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(site.file("index.html"), media_type="text/html", headers=page_headers)

    @app.get("/app/config.json", include_in_schema=False)
    def config() -> JSONResponse:
        return JSONResponse(site.config(), headers={"Cache-Control": "no-store"})

    @app.get("/app/dev-wallet.json", include_in_schema=False)
    def dev_wallet() -> JSONResponse:
        if site.dev_parties is None:
            raise NotFound("dev wallet", "(devnet mode with --dev-wallet only)")
        return JSONResponse({"devnetOnly": True, "parties": site.dev_parties}, headers={"Cache-Control": "no-store"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        site.file("docs/swagger-ui-bundle.js")
        answer = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="scf-ledger API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
        # FastAPI's page names no language: screen readers then guess (axe: html-has-lang).
        page = bytes(answer.body).replace(b"<html>", b'<html lang="en">', 1)
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})

    app.mount("/app/assets", _Built(directory=built / "assets", immutable=True), name="portal-assets")
    app.mount("/docs/static", _Built(directory=built / "docs"), name="docs-assets")
    return site


class _Built(StaticFiles):
    """Files of the build: 503 naming the build command while it has not run (never a 500). The bundle's files
    are named by their content's hash (``immutable``): a year in any cache."""

    def __init__(self, *, directory: Path, immutable: bool = False) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.folder = directory
        self.immutable = immutable

    async def check_config(self) -> None:
        if not self.folder.is_dir():
            raise ServiceUnavailable("the portal", f"{self.folder} is not built: run {BUILD_COMMAND}")
        await super().check_config()

    async def get_response(self, path: str, scope: Any) -> Response:
        answer = await super().get_response(path, scope)
        if self.immutable and answer.status_code == 200:
            answer.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return answer
