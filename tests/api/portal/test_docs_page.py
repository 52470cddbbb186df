"""``/docs`` in a real browser: Swagger UI 5, served from this API, renders FastAPI's OpenAPI 3.1 document.

``scf serve`` runs as a process over a ledger deployed on an anvil of its own; Debian's Chromium opens
``/docs`` with every host but 127.0.0.1 blocked (``tests.support.browser``): Swagger UI's script, style
and icon come from ``/docs/static`` (npm ``swagger-ui-dist``, copied by the build), never from a CDN.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page, expect

from ledger.eth.artifacts import BuildResult
from tests.support import browser, serve
from tests.support.browser import Watched
from tests.support.chains import own_chain

METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Docs:
    base: str
    chromium: Browser
    tab: Watched
    page: Page


@pytest.fixture(scope="module")
def docs(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    browser.chromium_path()  # skip before starting anything when there is no browser to drive
    browser.built_portal()
    root = tmp_path_factory.mktemp("portal-docs")
    with own_chain(build, root) as own:
        target = serve.Target(own.devnet.url, own.record.parent, f"sqlite:///{root / 'ledger.db'}")
        served = serve.start(target, root / "run")
        try:
            with browser.chromium() as chromium, browser.watched(chromium, served.base) as tab:
                yield Docs(served.base, chromium, tab, tab.page())
        finally:
            served.stop()


def test_the_docs_page_lists_every_operation_of_the_openapi_document_without_the_internet(docs: Docs) -> None:
    document = httpx.get(f"{docs.base}/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item if method in METHODS
    }
    assert ("POST", "/v1/auth/challenge") in operations

    page = docs.page
    page.goto(f"{docs.base}/docs")
    challenge = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/v1/auth/challenge"])')
    expect(challenge).to_be_visible()
    expect(challenge.locator(".opblock-summary-method")).to_have_text("POST")
    shown = page.locator(".opblock").evaluate_all(
        """(blocks) => blocks.map((b) => [
             b.querySelector(".opblock-summary-method").textContent.trim(),
             b.querySelector(".opblock-summary-path").dataset.path,
           ])"""
    )
    assert {(method, path) for method, path in shown} == operations
    assert len(shown) == len(operations), "each operation shows once"
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("scf-ledger API")
    browser.screenshot(
        page, "docs", full_page=False
    )  # the viewport's worth: the whole list is thousands of pixels long
    docs.tab.assert_clean()


def test_the_docs_page_has_no_critical_accessibility_violations(docs: Docs, capsys: pytest.CaptureFixture[str]) -> None:
    page = docs.page
    expect(page.locator(".opblock").first).to_be_visible()
    found = browser.axe(page, browser.ANY_IMPACT)
    # Swagger UI's own markup has serious violations we do not control (color-contrast of its method badges,
    # nested-interactive in its operation summaries; html-has-lang is FastAPI's docs page template): they are
    # recorded here and in out/portal/docs-axe.txt, and only critical ones fail the test.
    report = browser.describe(found) if found else "axe-core found nothing"
    browser.SHOTS.mkdir(parents=True, exist_ok=True)
    (browser.SHOTS / "docs-axe.txt").write_text(report + "\n")
    with capsys.disabled():
        print(f"\n/docs, {report}")
    critical = [v for v in found if v.impact == "critical"]
    assert critical == [], browser.describe(critical)
    docs.tab.assert_clean()


def test_the_browser_kit_blocks_every_other_host_and_fails_a_test_on_console_errors(docs: Docs) -> None:
    """The guard the browser tests rely on can fail: a request elsewhere is aborted and recorded, an error logged."""
    with browser.watched(docs.chromium, docs.base) as tab:
        page = tab.page()
        with pytest.raises(Error, match="ERR_BLOCKED_BY_CLIENT"):
            page.goto("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
        assert tab.blocked == ["GET https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"]
        with pytest.raises(AssertionError, match=r"hosts other than 127\.0\.0\.1"):
            tab.assert_clean()
        page = tab.page()  # the first is on Chromium's error page
        page.goto(f"{docs.base}/docs")
        with page.expect_console_message():
            page.evaluate("() => console.error('a broken page')")
        with page.expect_event("pageerror"):
            page.evaluate("() => { setTimeout(() => { throw new Error('uncaught'); }); }")
        with pytest.raises(AssertionError, match=r"console error: a broken page.*page error: .*uncaught"):
            tab.assert_clean()
        tab.allow("a broken page")  # an error a test expects is allowed by name, and only that one
        with page.expect_console_message():
            page.evaluate("() => console.error('a broken page')")
        tab.assert_clean()
