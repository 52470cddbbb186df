"""The web portal in a real browser, for its tests: Debian's Chromium, headless, driven by Playwright.

    from tests.support import browser
    with browser.chromium() as chromium, browser.watched(chromium, base) as tab:   # a module fixture
        page = tab.page()
        browser.sign_in(page, base, "tier3")          # the dev wallet, as a person clicks it: h1 "Supplier"
        assert browser.axe(page) == [], ...           # serious or critical accessibility violations
        browser.screenshot(page, "supplier")          # out/portal/supplier.png
        tab.assert_clean()                            # nothing blocked, no console error, no page error

The design, and why:

* **Debian's Chromium, not Playwright's.** Playwright downloads its own browser build, which cannot
  work here (no network at test time); the PyPI ``playwright`` drives the system's ``chromium``
  through ``executable_path``. ``make test`` installs it with apt when it runs as root (the
  Makefile's ``chromium`` target); without it, or without a built portal (``build/portal``), the
  browser tests SKIP and say why instead of failing on the machine.
* **One browser per module, a context per party.** A sync Playwright marks the asyncio loop as
  running between its calls (``playwright.sync_api._context_manager``), so it must not outlive
  the module that uses it: another module on the same xdist worker may run an event loop of its
  own. Each party gets a fresh context (its own ``sessionStorage``: the token and the dev wallet's
  choice), 1280x800, the size the portal is built to be usable at.
* **Only 127.0.0.1.** The context routes every request (``context.route("**/*")``) and aborts any
  whose host is not 127.0.0.1, recording it: the pages must work with no CDN, no web font, no
  analytics; ``assert_clean`` fails a test that made one. ``data:``/``blob:`` URLs are not requests.
  The same route answers a test's ``rewrite`` (an API answer altered on its way to the page, e.g. a
  tampered storage proof), so no request escapes the block through a second handler.
* **The page's own errors fail the test.** Console errors (which include the browser's "Failed to
  load resource" for every 4xx/5xx the page reads) and uncaught page errors are recorded;
  a test allows one only by naming it (``tab.allow(pattern)``), for a 4xx the page shows on purpose.
* **Under the pages' CSP.** The portal runs with ``script-src 'self'`` (no eval, no inline script),
  and the tests never relax it: Playwright's selectors and ``page.evaluate`` (through CDP, which
  the CSP does not govern) work; ``add_script_tag(content=...)`` and ``wait_for_function("...")`` do
  not. axe-core is injected with ``page.evaluate(its source)`` and run by a function expression.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "build" / "portal"
#: Where the tests leave a screenshot of each user's main page (``out/`` is gitignored).
SHOTS = ROOT / "out" / "portal"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
LOCAL = "127.0.0.1"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
#: Milliseconds a single wait may take before it fails (a sign-in, a section loading; long steps pass their own).
WAIT_MS = 30_000
#: The h1 of each user's main page (the DOM contract): a sign-in is done when one shows.
MAIN_PAGES = ("Supplier", "Core enterprise", "Bank", "Auditor")
MAIN_HEADING = "main h1:text-matches('^(" + "|".join(MAIN_PAGES) + ")$')"
#: What ``axe`` reports by default: what the portal must never have.
SERIOUS = ("serious", "critical")
#: Every impact axe-core reports (to record all a page has).
ANY_IMPACT = ("minor", "moderate", "serious", "critical")
#: Elements a violation's message names before "and N more".
SHOWN = 4


def chromium_path() -> str:
    """Debian's chromium, else the test is skipped with the reason (and how to install it)."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if found is None:
        pytest.skip(
            "Debian's chromium is not installed (make test installs it with apt as root): "
            "apt-get install chromium, then run the portal's browser tests again"
        )
    return found


def built_portal() -> Path:
    """The built portal, else the test is skipped with the command that builds it."""
    page = BUILT / "index.html"
    if not page.is_file():
        pytest.skip(f"the portal is not built ({page} is missing): run make setup (or node api/portal/web/build.mjs)")
    return BUILT


@contextmanager
def chromium() -> Iterator[Browser]:
    """Playwright and a headless Debian Chromium, for one module (the module's docstring says why not longer)."""
    path = chromium_path()
    built_portal()
    expect.set_options(timeout=WAIT_MS)  # Playwright's assertions wait as long as its actions (default: 5 s)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Rewrite:
    """An API answer altered on its way to the page: the URLs ``pattern`` matches, their JSON through ``change``."""

    pattern: re.Pattern[str]
    change: Callable[[Any], Any]
    #: the URLs it altered (a test checks the page did read what it altered)
    hits: list[str] = field(default_factory=list)


@dataclass
class Watched:
    """One browser context (one party's tab), with what it must not do recorded."""

    context: BrowserContext
    #: requests to a host other than 127.0.0.1, aborted: "METHOD URL"
    blocked: list[str] = field(default_factory=list)
    #: console errors and uncaught page errors, in words
    errors: list[str] = field(default_factory=list)
    #: console errors a test expects (a 4xx the page shows on purpose), by pattern
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)

    def page(self) -> Page:
        """A new tab in this context, its console errors and page errors recorded."""
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url") or ""
            self.errors.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def _route(self, route: Route) -> None:
        request = route.request
        if urlsplit(request.url).hostname != LOCAL:
            self.blocked.append(f"{request.method} {request.url}")
            route.abort("blockedbyclient")
            return
        for rewrite in self.rewrites:
            if rewrite.pattern.search(request.url):
                answer = route.fetch()
                rewrite.hits.append(request.url)
                route.fulfill(response=answer, json=rewrite.change(answer.json()))
                return
        route.continue_()

    @contextmanager
    def rewrite(self, pattern: str, change: Callable[[Any], Any]) -> Iterator[Rewrite]:
        """While inside: the answers of URLs matching ``pattern`` (a regex) reach the page as ``change`` makes them."""
        rewrite = Rewrite(re.compile(pattern), change)
        self.rewrites.append(rewrite)
        try:
            yield rewrite
        finally:
            self.rewrites.remove(rewrite)

    def allow(self, pattern: str) -> None:
        """Allow console errors matching ``pattern`` (say why where it is called)."""
        self.allowed.append(re.compile(pattern))

    def assert_clean(self) -> None:
        """Nothing was blocked and no console or page error happened (but those allowed) since the last check."""
        blocked, self.blocked = self.blocked, []
        errors = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        self.errors = []
        assert blocked == [], f"the page asked hosts other than {LOCAL} (blocked): {blocked}"
        assert errors == [], f"the page logged errors: {errors}"


@contextmanager
def watched(browser: Browser, base: str) -> Iterator[Watched]:
    """A fresh context at 1280x800 on ``base``, every request to a host other than 127.0.0.1 blocked and recorded."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base)
    context.set_default_timeout(WAIT_MS)
    tab = Watched(context)
    context.route("**/*", tab._route)
    try:
        yield tab
    finally:
        context.close()


def dev_party(base: str, who: str) -> dict[str, str]:
    """The dev wallet's party (``/app/dev-wallet.json``) with label or address ``who``."""
    answer = httpx.get(f"{base}/app/dev-wallet.json", timeout=30)
    assert answer.status_code == 200, f"the API serves no dev wallet (scf serve --devnet --dev-wallet): {answer.text}"
    parties: list[dict[str, str]] = answer.json()["parties"]
    found = [p for p in parties if who in (p["label"], p["address"]) or who.lower() == p["address"].lower()]
    assert len(found) == 1, f"the dev wallet holds no one party {who!r}: {[p['label'] for p in parties]}"
    return found[0]


def sign_in(page: Page, base: str, who: str) -> str:
    """Sign in as the dev wallet's ``who`` (label or address) the way a person does: choose it in ``#dev-party``,
    click ``#dev-sign-in``; returns the h1 of the main page the portal then shows."""
    party = dev_party(base, who)
    page.goto(f"{base}/app#/signin")
    page.select_option("#dev-party", party["address"])
    page.click("#dev-sign-in")
    landed = page.locator(f"{MAIN_HEADING}, #signin-status .error").first
    landed.wait_for()
    assert landed.evaluate("(e) => e.tagName") == "H1", f"sign-in as {who} failed: {landed.inner_text()}"
    return landed.inner_text()


@dataclass(frozen=True)
class Violation:
    """One axe-core rule a page breaks: its id, impact, what it asks, and the elements (CSS targets) that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        more = f" and {len(self.targets) - SHOWN} more" if len(self.targets) > SHOWN else ""
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:SHOWN])}{more}"


#: Runs axe over the whole document: a function expression, which the CSP does not govern (no eval in the page).
_RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    rule: v.id, impact: v.impact || "unknown", help: v.help,
    targets: v.nodes.map((n) => n.target.map(String).join(" ")),
  }));
}"""


def axe(page: Page, impacts: tuple[str, ...] = SERIOUS) -> list[Violation]:
    """The accessibility violations axe-core finds on ``page`` of the ``impacts`` given (serious or critical)."""
    assert AXE.is_file(), f"axe-core is not installed ({AXE}): run make setup (npm ci)"
    if page.evaluate("() => typeof window.axe") == "undefined":
        page.evaluate(AXE.read_text())  # its UMD wrapper sets window.axe; evaluated through CDP, not eval
    found = [Violation(v["rule"], v["impact"], v["help"], tuple(v["targets"])) for v in page.evaluate(_RUN_AXE)]
    return [v for v in found if v.impact in impacts]


def describe(violations: list[Violation]) -> str:
    """Violations as an assertion message: one line each, rule, impact and targets."""
    return "axe-core found:\n" + "\n".join(f"  {v}" for v in violations)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """The whole page (``full_page``, else the viewport) as ``out/portal/NAME.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return path
