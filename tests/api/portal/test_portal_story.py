"""The web portal end to end in Debian's Chromium, as the issue tells it: a tier-3 supplier finances its piece.

One world for the module (``tests.support.desk_world``): ``scf serve --index --devnet --dev-wallet`` over the
played small world on its own anvil, the dev bank's limits published and its deposits minted, a tier-3
supplier holding a piece of a core's receivable. Each party has its own browser context (its own tab and
session), signs in with the portal's dev wallet the way a person does, and works only through the page:
the dev wallet signs and broadcasts to the devnet's node, the API follows the hash. Every request to a host
but 127.0.0.1 is blocked and fails the test, as does any console or page error (``tests.support.browser``).
The tests run in order, as the story does:

1. the tier-3 supplier signs in and asks for financing on its piece;
2. one pass of the dev bank's desk prices it; the bank's page shows the request and the offer's price;
3. the supplier accepts the offer from its wallet: the piece is financed on its page and in the bank's portfolio;
4. the auditor replays the chain from its page: 0 mismatches;
5. the bank checks the piece's storage proof against its own node in the page: verified; a proof altered on
   its way from the API (a claimed value, then one proof node) is not;
6. the core enterprise's page loads;
7. the core drafts an order in its page and the supplier co-signs it in its own: the order is created on chain.

Each user's main page is saved as ``out/portal/<user>.png`` and checked with axe-core (no serious or critical
violations). Waits are on the page's elements (with timeouts), never on the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from playwright.sync_api import Browser, Locator, Page, expect

from ledger.eth.artifacts import BuildResult
from tests.support import browser
from tests.support.browser import Watched
from tests.support.desk_world import DeskWorld, Party, served_desk_world

#: Milliseconds for a step that waits on the chain (a transaction mined and indexed) or on a replay of it.
CHAIN_MS = 120_000
REPLAY_MS = 300_000
#: The h1 each party's main page shows (the DOM contract).
HEADINGS = {"tier3": "Supplier", "dev-bank": "Bank", "auditor": "Auditor", "core": "Core enterprise"}
#: What the screenshot of each party's main page is called.
SHOTS = {"tier3": "supplier", "dev-bank": "bank", "auditor": "auditor", "core": "core"}


@dataclass
class Story:
    """The world, one signed-in tab per party, and what the steps made."""

    world: DeskWorld
    chromium: Browser
    contexts: ExitStack
    decimals: int
    tabs: dict[str, Watched] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    offer: dict[str, Any] = field(default_factory=dict)

    @property
    def piece(self) -> int:
        return self.world.piece_id

    @property
    def auditor(self) -> LocalAccount:
        """The devnet's dev auditor (the dev wallet's "auditor")."""
        accounts = self.world.world.chain.accounts
        assert accounts is not None
        return accounts["auditor"]

    @property
    def tier3(self) -> Party:
        return Party(self.world, self.world.keys[self.world.tier3])

    def page(self, label: str) -> Page:
        """``label``'s tab, signed in with the dev wallet on its first use (its main page's h1 checked)."""
        if label not in self.pages:
            tab = self.contexts.enter_context(browser.watched(self.chromium, self.world.base))
            page = tab.page()
            assert browser.sign_in(page, self.world.base, label) == HEADINGS[label]
            self.tabs[label], self.pages[label] = tab, page
        return self.pages[label]

    def reload(self, label: str) -> Page:
        """``label``'s page read afresh (its session kept: the tab's token)."""
        page = self.page(label)
        page.reload()
        expect(page.locator("main h1")).to_have_text(HEADINGS[label])
        return page

    def money(self, units: int | str) -> str:
        """Token units as the portal writes an amount ("1,234.50"): grouped, cut (not rounded) to the cent."""
        whole, rest = divmod(int(units), 10**self.decimals)
        return f"{whole:,}.{rest * 100 // 10**self.decimals:02d}"

    def assert_clean(self) -> None:
        for tab in self.tabs.values():
            tab.assert_clean()


@pytest.fixture(scope="module")
def story(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    browser.chromium_path()  # skip before the world is built when there is no browser to drive
    browser.built_portal()
    root = tmp_path_factory.mktemp("portal-story")
    with (
        served_desk_world(build, root, slices=1, dev_wallet=True) as world,
        browser.chromium() as chromium,
        ExitStack() as contexts,
    ):
        decimals = int(httpx.get(f"{world.base}/app/config.json", timeout=30).json()["token"]["decimals"])
        yield Story(world, chromium, contexts, decimals)


@pytest.fixture(autouse=True)
def said(story: Story) -> Iterator[None]:
    """After each test, what each tab blocked or logged, printed: pytest shows it with a failure (a page that
    broke shows why, not only the element a test then waited for in vain)."""
    yield
    for label, tab in story.tabs.items():
        if tab.blocked or tab.errors:
            print(f"{label}: blocked {tab.blocked}; errors {tab.errors}")


def settled(page: Page) -> None:
    """Until the page's sections have loaded: no request in flight, none marked busy."""
    page.wait_for_load_state("networkidle")
    expect(page.locator("[aria-busy='true']")).to_have_count(0)


def look(story: Story, label: str) -> None:
    """``label``'s main page as it stands: saved as out/portal/<user>.png, with no serious accessibility issue."""
    page = story.pages[label]
    settled(page)
    browser.screenshot(page, SHOTS[label])
    found = browser.axe(page)
    assert found == [], browser.describe(found)


def financed(row: Locator) -> None:
    """Until the piece's row says "financed" (and no longer "not financed")."""
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("not financed", timeout=CHAIN_MS)
    expect(row).to_contain_text("financed")


def test_a_tier3_supplier_signs_in_with_the_dev_wallet_and_asks_for_financing_on_its_piece(story: Story) -> None:
    page = story.page("tier3")
    row = page.locator(f'tr[data-piece="{story.piece}"]')
    expect(row).to_contain_text("not financed")
    page.click(f"#ask-{story.piece}")

    asked = page.locator("tr[data-request]")
    expect(asked).to_have_count(1)
    request_id = asked.get_attribute("data-request")
    [request] = story.tier3.get("/v1/financing-requests", pieceId=story.piece)["items"]
    assert request["id"] == request_id and request["state"] == "open", request
    assert request["holder"] == story.world.tier3 and request["bank"] in (None, story.world.bank.address)
    expect(asked).to_contain_text("open")
    story.request = request
    story.assert_clean()


def test_one_desk_pass_offers_a_price_and_the_bank_page_shows_the_request_and_the_offer(story: Story) -> None:
    assert story.request, "the supplier asked (the test before)"
    report = story.world.desk(story.world.root / "journal.jsonl")
    assert report.offered == 1, story.world.logs
    [offer] = story.tier3.get(f"/v1/receivables/pieces/{story.piece}/offers")
    assert offer["bank"] == story.world.bank.address
    story.offer = offer

    page = story.page("dev-bank")
    row = page.locator(f'tr[data-request="{story.request["id"]}"]')
    expect(row).to_contain_text(str(story.piece))
    expect(row).to_contain_text("offered")
    expect(row).to_contain_text(story.money(offer["price"]))
    story.assert_clean()


def test_the_supplier_accepts_from_its_wallet_and_the_piece_is_financed_on_both_sides(story: Story) -> None:
    assert story.offer, "the desk offered (the test before)"
    offer_id = story.offer["id"]
    page = story.reload("tier3")
    offered = page.locator(f'tr[data-offer="{offer_id}"]')
    expect(offered).to_contain_text(story.money(story.offer["price"]))
    page.click(f"#accept-{offer_id}")
    financed(page.locator(f'tr[data-piece="{story.piece}"]'))

    # On chain and in the index: the bank paid and holds the piece.
    bank = Party(story.world, story.world.bank)
    piece = bank.get(f"/v1/receivables/pieces/{story.piece}")
    assert piece["holder"] == story.world.bank.address and piece["financed"] is True, piece
    [request] = story.tier3.get("/v1/financing-requests", pieceId=story.piece)["items"]
    assert request["state"] == "accepted", request
    look(story, "tier3")

    bank_page = story.reload("dev-bank")
    expect(bank_page.locator(f'tr[data-financed="{story.piece}"]')).to_be_visible()
    story.assert_clean()


def test_the_auditor_replays_the_chain_from_its_page_and_finds_0_mismatches(story: Story) -> None:
    page = story.page("auditor")
    # This world serves no evaluation report (scf serve --evaluation): the API answers 404 and the page's
    # calibration section shows its words, on purpose. The browser logs that 404 as an error: allowed, that URL only.
    auditor = Party(story.world, story.auditor)
    missing = httpx.get(f"{story.world.base}/v1/credit/evaluation", headers=auditor.headers, timeout=30)
    assert missing.status_code == 404, missing.text
    expect(page.locator(".error", has_text=missing.json()["detail"])).to_be_visible()
    story.tabs["auditor"].allow(rf"404 \(Not Found\) \({re.escape(story.world.base)}/v1/credit/evaluation\)$")

    page.click("#replay-start")
    result = page.locator("#replay-result")
    expect(result).to_contain_text(re.compile(r"(?<![\d,.])0 mismatches"), timeout=REPLAY_MS)
    look(story, "auditor")
    story.assert_clean()


def _claim_altered(proof: dict[str, Any]) -> dict[str, Any]:
    """The proof with its claimed amount one unit more than the chain holds."""
    proof["claim"]["amount"] = str(int(proof["claim"]["amount"]) + 1)
    return proof


def _node_altered(proof: dict[str, Any]) -> dict[str, Any]:
    """The proof with one node of its first storage proof changed (one hex digit of the leaf)."""
    nodes = proof["proof"]["storageProof"][0]["proof"]
    leaf = nodes[-1]
    flipped = "0" if leaf[-3] != "0" else "1"
    nodes[-1] = leaf[:-3] + flipped + leaf[-2:]
    return proof


def test_the_bank_verifies_the_pieces_proof_against_its_node_and_an_altered_proof_is_not_verified(
    story: Story,
) -> None:
    page = story.reload("dev-bank")
    expect(page.locator("#verify-node")).to_have_value(story.world.rpc)  # a devnet's node, prefilled
    page.fill("#verify-piece", str(story.piece))
    result = page.locator("#verify-result")
    proof_url = rf"/v1/receivables/pieces/{story.piece}/proof(\?|$)"

    def verify(expected: str) -> None:
        page.click("#verify-go")
        expect(result).to_have_text(re.compile(rf"^\s*{expected}"), timeout=CHAIN_MS)

    # Genuine, altered, genuine, altered: each outcome differs from the one before, so each is this click's.
    verify("Verified")
    for alter in (_claim_altered, _node_altered):
        with story.tabs["dev-bank"].rewrite(proof_url, alter) as altered:
            verify("Not verified")
        assert altered.hits, f"the page did not read the piece's proof from the API ({alter.__name__})"
        verify("Verified")
    look(story, "dev-bank")
    story.assert_clean()


def test_the_core_enterprises_page_loads(story: Story) -> None:
    story.page("core")
    look(story, "core")
    story.assert_clean()


def test_the_core_drafts_an_order_in_its_page_and_the_supplier_co_signs_it_in_its_own(story: Story) -> None:
    core, supplier = story.page("core"), story.reload("tier3")
    core.fill("#draft-counterparty", story.world.tier3)
    core.fill("#draft-amount", "2,500.00")
    core.fill("#draft-po", "PORTAL-STORY-PO-1")
    core.click("form[aria-label='draft an order'] button")
    expect(core.locator("#core-status")).to_contain_text("waits a week for the supplier's signature", timeout=CHAIN_MS)

    supplier = story.reload("tier3")
    row = supplier.locator("tr[data-draft]", has_text="PORTAL-STORY-PO-1")
    expect(row).to_contain_text("2,500.00")
    row.locator("button").click()
    expect(supplier.locator("#supplier-status")).to_contain_text("co-signed and created on chain", timeout=CHAIN_MS)
    drafts = httpx.get(f"{story.world.base}/v1/orders/drafts", headers=story.tier3.headers, timeout=30).json()
    made = [d for d in drafts if d["terms"]["poReference"] == "PORTAL-STORY-PO-1"]
    assert [d["state"] for d in made] == ["created"], made
    order = httpx.get(f"{story.world.base}/v1/orders/{made[0]['orderId']}", headers=story.tier3.headers, timeout=30)
    assert order.json()["buyer"] == story.world.core and order.json()["amount"] == str(2_500 * 10**story.decimals)
    story.assert_clean()
