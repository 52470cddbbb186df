"""What ``scf serve`` adds for the web portal (``api.portal``), over HTTP without a browser.

The API runs in process (FastAPI's TestClient: real HTTP semantics, no sockets) over a ledger deployed on
an anvil of its own (``tests.support.chains``), twice: as a deployment serves it, and in devnet mode with
a dev wallet. Then the built bundle itself (``build/portal``): nothing in it loads from a host but this one,
which the browser tests (``test_portal_story``, ``test_docs_page``) also prove with every other host blocked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.portal import CSP, DevWalletError
from api.v1.app import create_app
from api.v1.settings import Settings
from ledger.eth.artifacts import BuildResult
from tests.support import serve
from tests.support.browser import built_portal
from tests.support.chains import OwnChain, own_chain
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
YEAR = 31_536_000


@dataclass
class Site:
    chain: OwnChain
    db_url: str
    wallet: Path  # a dev wallet's file
    plain: TestClient  # as a deployment serves it
    devnet: TestClient  # devnet mode, with the dev wallet


def _settings(own: OwnChain, db_url: str, **options: object) -> Settings:
    deployed = own.deployed
    return Settings(deployed.chain, deployed.build, deployed.addresses, db_url, domain="testserver", **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built_portal()
    root = tmp_path_factory.mktemp("portal-site")
    with own_chain(build, root) as own:
        accounts = own.deployed.accounts
        wallet = root / "dev-wallet.json"
        parties = [
            {"label": label, "name": f"dev {label}", "does": "a test party", "address": accounts[label].address,
             "key": "0x" + bytes(accounts[label].key).hex()}
            for label in ("tier3", "bank")
        ]  # fmt: skip
        wallet.write_text(json.dumps({"devnetOnly": True, "parties": parties}))
        db_url = f"sqlite:///{root / 'ledger.db'}"
        plain = create_app(_settings(own, db_url))
        devnet = create_app(_settings(own, db_url, devnet=True, dev_wallet=wallet))
        with TestClient(plain) as plain_client, TestClient(devnet) as devnet_client:
            yield Site(own, db_url, wallet, plain_client, devnet_client)


def _policy(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in header.split(";") if d.strip())}


class _Links(HTMLParser):
    """Every URL an HTML page names in an attribute that loads or links (src, href, srcset, action...)."""

    ATTRIBUTES: ClassVar[set[str]] = {"src", "href", "srcset", "action", "poster", "data", "formaction"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in self.ATTRIBUTES and value]


def _links(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.urls


def test_the_page_is_served_under_a_strict_content_security_policy_and_never_cached(site: Site) -> None:
    answer = site.plain.get("/app")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert answer.text == (ROOT / "build" / "portal" / "index.html").read_text()
    assert answer.headers["content-security-policy"] == CSP
    policy = _policy(answer.headers["content-security-policy"])
    # Scripts from this origin only: no inline script, no eval, no CDN.
    assert policy["script-src"] == ["'self'"] and policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-content-type-options"] == "nosniff"
    # Only this origin's files: the bundle's script and style, by path.
    urls = _links(answer.text)
    assert urls, "the page names its script and style"
    assert all(url.startswith(("/app/assets/", "#", "/docs")) for url in urls), urls
    assert not re.search(r"(https?:)?//[a-z0-9]", answer.text, re.I), "the page names an external URL"


def test_the_bundles_files_are_named_by_content_and_cached_for_a_year(site: Site) -> None:
    page = site.plain.get("/app").text
    named = {url for url in _links(page) if url.startswith("/app/assets/")}
    assert any(u.endswith(".js") for u in named) and any(u.endswith(".css") for u in named), named
    files = {f"/app/assets/{p.name}" for p in (ROOT / "build" / "portal" / "assets").iterdir() if p.is_file()}
    assert named <= files
    for url in sorted(files):
        answer = site.plain.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == f"public, max-age={YEAR}, immutable", url
    assert re.search(r"/app/assets/app\.[A-Z0-9]{8}\.js", " ".join(named)), "the script's name carries its hash"
    missing = site.plain.get("/app/assets/app.NOTBUILT.js")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("cache-control", "")


def test_the_config_names_the_chain_its_contracts_and_token_and_on_a_devnet_its_node(site: Site) -> None:
    deployed = site.chain.deployed
    token = {
        "symbol": deployed.chain.call(deployed.token.functions.symbol()),
        "decimals": deployed.chain.call(deployed.token.functions.decimals()),
    }
    assert token["decimals"] == 6
    plain = site.plain.get("/app/config.json")
    assert plain.headers["cache-control"] == "no-store"
    assert plain.json() == {
        "chainId": deployed.chain.chain_id,
        "devnet": False,
        "rpcUrl": None,  # a deployment names no node: each party uses its own
        "devWallet": False,
        "contracts": deployed.addresses,
        "token": token,
    }
    devnet = site.devnet.get("/app/config.json").json()
    assert devnet == {**plain.json(), "devnet": True, "rpcUrl": site.chain.devnet.url, "devWallet": True}


def test_the_dev_wallet_is_served_on_a_devnet_with_a_dev_wallet_only(site: Site) -> None:
    refused = site.plain.get("/app/dev-wallet.json")
    assert refused.status_code == 404, refused.text
    assert "key" not in refused.text and "dev wallet" in refused.json()["detail"]
    served = site.devnet.get("/app/dev-wallet.json")
    assert served.status_code == 200 and served.headers["cache-control"] == "no-store"
    body = served.json()
    assert body["devnetOnly"] is True
    assert body["parties"] == json.loads(site.wallet.read_text())["parties"]


def test_a_dev_wallet_outside_devnet_mode_or_unreadable_is_refused_before_serving(site: Site, tmp_path: Path) -> None:
    with pytest.raises(DevWalletError, match="devnet mode"):
        create_app(_settings(site.chain, site.db_url, dev_wallet=site.wallet))
    for text, why in (('{"parties": "tier3"}', "names no parties"), ('{"parties": [', "is not usable")):
        broken = tmp_path / "broken.json"
        broken.write_text(text)
        with pytest.raises(DevWalletError, match=why):
            create_app(_settings(site.chain, site.db_url, devnet=True, dev_wallet=broken))


def test_scf_serve_refuses_a_dev_wallet_without_devnet_with_exit_2_and_says_why(site: Site, tmp_path: Path) -> None:
    env = {**os.environ, **serve.shared_secrets(), "SCF_DEPLOYMENTS_DIR": str(site.chain.record.parent)}
    env.pop("SCF_DEVNET", None)
    command = [sys.executable, "-m", "api", "serve", "--port", str(free_port()), "--chain", site.chain.devnet.url]
    command += ["--db", site.db_url, "--dev-wallet", str(site.wallet)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip().splitlines()[-1] == (
        "error: --dev-wallet hands the portal the demo parties' keys: devnet mode (--devnet) only"
    ), done.stderr
    assert "Traceback" not in done.stderr and "scf API on" not in done.stdout


# -- the bundle: what it loads at run time --------------------------------------------------------------------------

#: How a page loads a URL at run time, in its script or style: an element's src (in a template or set on a node),
#: a CSS url() or @import, a fetch, a dynamic import, a worker, socket, event source or beacon, an XHR's open.
#: A URL anywhere else (a licence, a comment, an error message, an XML namespace) is not a load.
LOADS = re.compile(
    r"""(?:
        \b(?:src|srcset)\s*[:=]\s*\\?["'`]
      | \burl\(\s*\\?["']?
      | @import\s+(?:url\(\s*)?\\?["']?
      | \b(?:fetch|import|importScripts|sendBeacon|EventSource|WebSocket|Worker|SharedWorker)\s*\(\s*\\?["'`]
      | \.open\(\s*["'`][A-Za-z]+["'`]\s*,\s*["'`]
    )(?P<url>(?:(?:https?|wss?):)?//[^\s"'`)\\]+)""",
    re.X,
)


def external_loads(text: str) -> list[str]:
    """The URLs ``text`` (a script or a style sheet) would load from a host other than this machine."""
    return [m["url"] for m in LOADS.finditer(text) if urlsplit(m["url"]).hostname not in LOCAL_HOSTS]


def test_the_load_finder_tells_a_load_from_a_url_that_is_only_text() -> None:
    loads = [
        'fetch("https://cdn.example.com/lib.js")',
        "s.src='https://www.googletagmanager.com/gtag/js?id=G-1'",
        'html`<img src="https://img.example.com/logo.png">`',
        "@font-face{src:url(https://fonts.gstatic.com/s/inter.woff2)}",
        '@import url("https://fonts.googleapis.com/css?family=Inter");',
        "await import(`https://esm.sh/lit-html`)",
        "new Worker('//workers.example.net/w.js')",
        'x.open("GET","https://api.example.org/v1")',
    ]
    for text in loads:
        assert len(external_loads(text)) == 1, text
    texts = [
        "/*! licensed under http://www.apache.org/licenses/LICENSE-2.0 */",
        "// see https://github.com/ethers-io/ethers.js/issues/4537",
        'document.createElementNS("http://www.w3.org/2000/svg","svg")',
        'throw new Error("read https://docs.example.com/errors#3")',
        'fetch("http://127.0.0.1:8545")',
        "url(data:image/svg+xml;base64,AAAA)",
        'fetch("/v1/health")',
    ]
    for text in texts:
        assert external_loads(text) == [], text


def test_the_built_bundle_loads_nothing_from_another_host() -> None:
    assets = built_portal() / "assets"
    found = {
        path.name: loads
        for path in sorted(assets.iterdir())
        if path.suffix in (".js", ".css") and (loads := external_loads(path.read_text()))
    }
    assert found == {}, f"the bundle would load these at run time: {found}"
    page = (built_portal() / "index.html").read_text()
    assert [u for u in _links(page) if urlsplit(u).hostname not in (None, *LOCAL_HOSTS)] == []
