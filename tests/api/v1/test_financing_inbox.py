"""The financing inbox (issue 16): requests to one bank or to every bank, their states, who sees them, withdrawal,
the credit report they open, and the pricing an offer records.

On a chain of this module's own (``fresh``) with a second active bank admitted: every state is
reached over HTTP as the parties reach it (the holder asks, a bank signs an offer with
eth-account from the typed data served, the holder accepts and submits the signed transaction,
the indexer runs), and read back from ``GET /v1/financing-requests``. After each test every
request still live is withdrawn, so no request (and no credit-report grant) leaks into the next.
The tests that move the chain's clock move it by minutes; the receivables mature in 90 days.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import event, insert

from api.v1 import store
from api.v1.app import create_app
from api.v1.auth import Party
from api.v1.deps import Services
from api.v1.financing import QUOTE_MAX_BYTES
from ledger.clients.token import TokenClient
from ledger.toolchain.deploy import ROLE
from scoring.policy import DEV_BANK, MAX_UINT256, Policy
from scoring.pricing import CORE, SUPPLIER, DebtorRecord, Quote, QuoteRequest, quote
from scoring.scorecard import Model
from tests.support.api_world import World
from tests.support.market import Parties, admit_bank
from tests.support.receivables import issue, issue_terms, receivables_of
from tests.support.wallet import sign_prepared

UNIT = 10**6
DAY = 86_400
HOLDERS = ("tier1", "tier2")
MODEL = Model.load(Path(__file__).resolve().parents[3] / "scoring" / "models" / "default.json")
POLICY = Policy.load(DEV_BANK)


@dataclasses.dataclass
class Market(Parties):
    @property
    def services(self) -> Services:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    def piece(self, holder: str = "tier1", maturity_in: int = 90 * DAY) -> int:
        """A new receivable of the core enterprise, issued on chain to ``holder`` and indexed: its piece id."""
        n = next(self.numbers)
        deployed = self.world.deployed
        terms = issue_terms(deployed, creditor=holder, invoice=f"INBOX-{n}", nonce=1000 + n, maturity_in=maturity_in)
        root_id, _ = issue(deployed, terms)
        self.world.index()
        return root_id

    def ask(self, holder: str, piece: int, **body: Any) -> dict[str, Any]:
        answer = self.client.post(
            f"/v1/receivables/pieces/{piece}/financing-requests", json=body, headers=self.headers(holder)
        )
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def inbox(self, who: str | LocalAccount, **params: Any) -> list[dict[str, Any]]:
        answer = self.client.get("/v1/financing-requests", params=params, headers=self.headers(who))
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def seen(self, who: str | LocalAccount, request_id: str) -> dict[str, Any] | None:
        return next((item for item in self.inbox(who, limit=200) if item["id"] == request_id), None)

    def state(self, who: str | LocalAccount, request_id: str) -> str:
        item = self.seen(who, request_id)
        assert item is not None, f"{request_id} is not in the inbox of {who}"
        return str(item["state"])

    def withdraw(self, who: str | LocalAccount, request_id: str) -> tuple[int, dict[str, Any]]:
        answer = self.client.post(f"/v1/financing-requests/{request_id}/withdraw", headers=self.headers(who))
        return answer.status_code, answer.json()

    def offer_body(self, bank: str | LocalAccount, piece: int, price: int, **extra: Any) -> dict[str, Any]:
        """Offer terms as ``bank`` signs them: the typed data served, signed with eth-account."""
        terms = {"price": str(price), "deadline": self.world.chain.timestamp() + DAY, "nonce": str(next(self.numbers))}
        typed = self.client.post(
            f"/v1/receivables/pieces/{piece}/offers/typed-data", json=terms, headers=self.headers(bank)
        )
        assert typed.status_code == 200, typed.text
        signature = Account.sign_typed_data(self.account(bank).key, full_message=typed.json()["typedData"]).signature
        return {**terms, "signature": "0x" + signature.hex(), **extra}

    def post_offer(self, bank: str | LocalAccount, piece: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = self.client.post(f"/v1/receivables/pieces/{piece}/offers", json=body, headers=self.headers(bank))
        return answer.status_code, answer.json()

    def offer(self, bank: str | LocalAccount, piece: int, price: int = 90 * UNIT) -> dict[str, Any]:
        status, body = self.post_offer(bank, piece, self.offer_body(bank, piece, price))
        assert status == 201, body
        return body

    def accept(self, holder: str, offer: dict[str, Any]) -> None:
        """The holder accepts over HTTP: the prepared transaction, signed, submitted, mined and indexed."""
        headers = self.headers(holder)
        prepared = self.client.post(f"/v1/receivables/offers/{offer['id']}/accept", headers=headers)
        assert prepared.status_code == 200, prepared.text
        raw = sign_prepared(self.account(holder), prepared.json())
        submitted = self.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=headers)
        assert submitted.status_code == 202, submitted.text
        self.world.index()
        status = self.client.get(submitted.json()["statusUrl"], headers=headers).json()
        assert status["status"] == "mined" and status["created"] == {"pieceId": offer["pieceId"]}, status

    def report(self, bank: str | LocalAccount, supplier: str) -> int:
        answer = self.client.get(f"/v1/credit/reports/{self.address(supplier)}", headers=self.headers(bank))
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code

    def advance(self, seconds: int) -> None:
        self.world.chain.advance_time(seconds)
        self.world.index()


@pytest.fixture(scope="module")
def market(fresh: World) -> Iterator[Market]:
    # Confirmations 0: every indexed block is final, so a change on chain shows in the next read.
    settings = dataclasses.replace(fresh.settings, score_confirmations=0, score_refresh=0)
    other = admit_bank(fresh, "inbox")
    tokens = TokenClient(fresh.chain, fresh.deployed.build, fresh.deployed.addresses["SettlementToken"])
    bank = fresh.account("bank")
    tokens.mint(bank.address, 10_000 * UNIT, bank)
    tokens.approve(fresh.deployed.addresses["Receivables"], MAX_UINT256, bank)
    fresh.index()
    with TestClient(create_app(settings)) as client:
        yield Market(dataclasses.replace(fresh, client=client), other)


@pytest.fixture(autouse=True)
def no_request_left(market: Market) -> Iterator[None]:
    yield
    for holder in HOLDERS:
        for state in ("open", "offered"):
            for item in market.inbox(holder, state=state, limit=200):
                assert market.withdraw(holder, item["id"])[0] == 200


# -- asking ------------------------------------------------------------------------------------------


def test_a_request_to_one_bank_is_open_for_seven_days_by_default_and_asking_again_answers_it(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    assert asked["pieceId"] == str(piece) and asked["holder"] == market.address("tier1")
    assert asked["bank"] == market.address("bank") and asked["state"] == "open" and asked["offers"] == 0
    assert asked["expiresAt"] - asked["createdAt"] == 7 * DAY and asked["withdrawnAt"] is None
    again = market.ask("tier1", piece, bank=market.address("bank"), expiresIn=3_600)
    assert again == asked  # live: answered unchanged
    assert market.seen("tier1", asked["id"]) == asked
    assert market.seen("bank", asked["id"]) == asked


def test_a_request_never_outlives_the_receivable(market: Market) -> None:
    piece = market.piece(maturity_in=30 * DAY)
    maturity = receivables_of(market.world.deployed).root(piece).maturity
    asked = market.ask("tier1", piece, expiresIn=60 * DAY)
    assert asked["expiresAt"] == maturity < asked["createdAt"] + 60 * DAY


def test_hostile_request_terms_are_4xx_naming_the_field(market: Market) -> None:
    piece = market.piece()
    path = f"/v1/receivables/pieces/{piece}/financing-requests"
    for expires_in in (10**30, 2**53, 90 * DAY + 1, 59, 0, -1, -(10**12), "3600", "1e3", 3600.5, True, None, [60]):
        answer = market.client.post(path, json={"expiresIn": expires_in}, headers=market.headers("tier1"))
        assert answer.status_code == 422, (expires_in, answer.text)
        assert answer.json()["field"] == "expiresIn", (expires_in, answer.text)
    for bank in ("0x1234", market.address("tier2").lower()[:-1] + "0", market.address("tier2"), 7):
        answer = market.client.post(path, json={"bank": bank}, headers=market.headers("tier1"))
        assert answer.status_code == 422 and answer.json()["field"] == "bank", (bank, answer.text)
    answer = market.client.post(path, json={"holder": market.address("tier2")}, headers=market.headers("tier1"))
    assert answer.status_code == 422 and answer.json()["field"] == "holder"
    # Only the holder asks; nothing was stored by any of it.
    assert market.client.post(path, json={}, headers=market.headers("tier2")).status_code == 404
    assert market.inbox("tier1", pieceId=piece) == []


def test_the_inbox_refuses_bad_parameters_naming_them(market: Market) -> None:
    for params, field in (
        ({"state": "pending"}, "state"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"pieceId": -1}, "pieceId"),
        ({"pieceId": "x"}, "pieceId"),
        ({"after": "not-an-id"}, "after"),
        ({"after": "00000000-0000-0000-0000-000000000000"}, "after"),  # well-formed, but no request of the caller
    ):
        answer = market.client.get("/v1/financing-requests", params=params, headers=market.headers("bank"))
        assert answer.status_code == 422 and answer.json()["field"] == field, (params, answer.text)


# -- states --------------------------------------------------------------------------------------------


def test_a_request_goes_open_offered_accepted_over_http(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    assert market.state("bank", asked["id"]) == "open"
    offer = market.offer("bank", piece)
    for who in ("tier1", "bank", "auditor"):
        item = market.seen(who, asked["id"])
        assert item is not None and (item["state"], item["offers"]) == ("offered", 1), who
    market.accept("tier1", offer)
    for who in ("tier1", "bank", "auditor"):
        assert market.state(who, asked["id"]) == "accepted", who
    assert [i["id"] for i in market.inbox("bank", state="accepted", pieceId=piece)] == [asked["id"]]
    # Sold: it cannot be withdrawn, and it opens no report.
    status, refused = market.withdraw("tier1", asked["id"])
    assert status == 409 and refused["error"] == "financing_request_accepted", refused
    assert market.report("bank", "tier1") == 404


def test_the_seller_still_sees_the_piece_it_sold_and_the_offer_it_took(market: Market) -> None:
    piece = market.piece()
    market.ask("tier1", piece, bank=market.address("bank"))
    offer = market.offer("bank", piece)
    market.accept("tier1", offer)
    headers = market.headers("tier1")
    sold = market.client.get(f"/v1/receivables/pieces/{piece}", headers=headers)
    assert sold.status_code == 200 and sold.json()["financed"] is True, sold.text
    assert sold.json()["holder"] == market.address("bank")
    taken = market.client.get(f"/v1/receivables/pieces/{piece}/offers", headers=headers).json()
    assert [o["id"] for o in taken] == [offer["id"]]
    held = market.client.get("/v1/receivables/pieces", headers=headers).json()["items"]
    assert piece not in {int(p["pieceId"]) for p in held}, "sold: no longer among the pieces it holds"
    # A party that neither held nor financed it still sees nothing of it.
    assert market.client.get(f"/v1/receivables/pieces/{piece}", headers=market.headers("tier2")).status_code == 404


def test_a_request_expires_when_its_time_is_up(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"), expiresIn=60)
    assert asked["expiresAt"] == asked["createdAt"] + 60 and market.state("bank", asked["id"]) == "open"
    market.advance(61)
    assert market.state("bank", asked["id"]) == "expired"
    assert market.inbox("bank", state="open", pieceId=piece) == []
    # Asking again reopens it: the same request, made now, open again.
    again = market.ask("tier1", piece, bank=market.address("bank"), expiresIn=3_600)
    assert again["id"] == asked["id"] and again["state"] == "open" and again["createdAt"] > asked["createdAt"]


def test_a_request_expires_when_its_piece_can_no_longer_be_sold(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    receivables_of(market.world.deployed).transfer(piece, market.address("tier2"), market.account("tier1"))
    market.world.index()
    assert market.state("tier1", asked["id"]) == "expired"
    assert market.state("bank", asked["id"]) == "expired"


def test_the_holder_withdraws_once_and_others_get_404(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    for stranger in ("bank", "tier2", "auditor", market.other_bank):
        assert market.withdraw(stranger, asked["id"])[0] == 404
    assert market.withdraw("tier1", "00000000-0000-0000-0000-000000000000")[0] == 404
    status, withdrawn = market.withdraw("tier1", asked["id"])
    assert status == 200 and withdrawn["state"] == "withdrawn" and withdrawn["withdrawnAt"] is not None
    assert market.withdraw("tier1", asked["id"]) == (200, withdrawn)  # again: the first withdrawal
    assert market.state("bank", asked["id"]) == "withdrawn"
    assert [i["id"] for i in market.inbox("tier1", state="withdrawn", pieceId=piece)] == [asked["id"]]
    # The bank no longer sees the piece through it, and may not bid on it.
    assert market.client.get(f"/v1/receivables/pieces/{piece}", headers=market.headers("bank")).status_code == 404
    # Asking again reopens it.
    again = market.ask("tier1", piece, bank=market.address("bank"))
    assert again["id"] == asked["id"] and again["state"] == "open" and again["withdrawnAt"] is None


def test_a_request_from_before_expiries_stays_open_while_its_piece_can_be_sold(market: Market) -> None:
    piece = market.piece()
    legacy = "0c0ffee0-0000-4000-8000-000000000001"
    with market.services.store.begin() as connection:
        connection.execute(
            insert(store.financing_requests).values(
                id=legacy, piece_id=piece, holder=market.address("tier1"), bank=market.address("bank"), created_at=1
            )
        )
    item = market.seen("bank", legacy)
    assert item is not None and (item["state"], item["expiresAt"]) == ("open", None)
    assert market.report("bank", "tier1") == 200
    receivables_of(market.world.deployed).transfer(piece, market.address("tier2"), market.account("tier1"))
    market.world.index()
    assert market.state("bank", legacy) == "expired"
    assert market.report("bank", "tier1") == 404


# -- who sees what ---------------------------------------------------------------------------------------


def test_each_role_sees_its_own_requests_and_strangers_see_none(market: Market) -> None:
    to_bank = market.ask("tier1", market.piece(), bank=market.address("bank"))
    to_other = market.ask("tier1", market.piece(), bank=market.other_bank.address)
    to_all = market.ask("tier1", market.piece())
    assert to_all["bank"] is None
    ids = {to_bank["id"], to_other["id"], to_all["id"]}

    def listed(who: str | LocalAccount) -> set[str]:
        return {i["id"] for i in market.inbox(who, limit=200)} & ids

    assert listed("tier1") == ids
    assert listed("auditor") == ids
    assert listed("bank") == {to_bank["id"], to_all["id"]}
    assert listed(market.other_bank) == {to_other["id"], to_all["id"]}
    assert market.inbox("tier3") == [] and market.inbox("core") == []  # neither asked nor a bank


def test_a_request_to_every_bank_reaches_both_banks_and_opens_the_report_to_both(market: Market) -> None:
    assert market.report("bank", "tier1") == 404 and market.report(market.other_bank, "tier1") == 404
    piece = market.piece()
    asked = market.ask("tier1", piece)
    for bank in ("bank", market.other_bank):
        assert market.state(bank, asked["id"]) == "open"
        assert market.client.get(f"/v1/receivables/pieces/{piece}", headers=market.headers(bank)).status_code == 200
        assert market.report(bank, "tier1") == 200
    assert market.report("tier2", "tier1") == 404  # not a bank
    # One bank bids: the holder sees the offer; the other bank is not told, and its request is still open to it.
    market.offer(market.other_bank, piece)
    holder_view, bidder_view, rival_view = (
        market.seen(who, asked["id"]) for who in ("tier1", market.other_bank, "bank")
    )
    assert holder_view is not None and (holder_view["state"], holder_view["offers"]) == ("offered", 1)
    assert bidder_view is not None and (bidder_view["state"], bidder_view["offers"]) == ("offered", 1)
    assert rival_view is not None and (rival_view["state"], rival_view["offers"]) == ("open", 0)
    assert [i["id"] for i in market.inbox("bank", state="open", pieceId=piece)] == [asked["id"]]


def test_a_withdrawn_or_expired_request_opens_no_report(market: Market) -> None:
    asked = market.ask("tier1", market.piece(), bank=market.address("bank"))
    assert market.report("bank", "tier1") == 200
    assert market.withdraw("tier1", asked["id"])[0] == 200
    assert market.report("bank", "tier1") == 404
    everyone = market.ask("tier1", market.piece(), expiresIn=60)
    assert market.report("bank", "tier1") == 200 and market.report(market.other_bank, "tier1") == 200
    market.advance(61)
    assert market.state("bank", everyone["id"]) == "expired"
    assert market.report("bank", "tier1") == 404 and market.report(market.other_bank, "tier1") == 404


def test_the_inbox_pages_oldest_first_and_filters_by_state(market: Market) -> None:
    asked = [market.ask("tier2", market.piece("tier2"), bank=market.address("bank"))["id"] for _ in range(3)]
    market.withdraw("tier2", asked[1])
    seen, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 1} | ({"after": after} if after else {})
        answer = market.client.get("/v1/financing-requests", params=params, headers=market.headers("tier2"))
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == 1
        seen += [item["id"] for item in answer.json()["items"]]
        after = answer.json()["nextAfter"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) and [i for i in seen if i in asked] == asked  # each once, oldest first
    # Filtered pages skip what does not match: the withdrawn one is not open.
    assert [i["id"] for i in market.inbox("tier2", state="open", limit=1)] == [asked[0]]
    second = market.client.get(
        "/v1/financing-requests",
        params={"state": "open", "limit": 1, "after": asked[0]},
        headers=market.headers("tier2"),
    ).json()
    assert [i["id"] for i in second["items"]] == [asked[2]] and second["nextAfter"] is None
    withdrawn = {i["id"] for i in market.inbox("tier2", state="withdrawn", limit=200)}
    assert asked[1] in withdrawn and not {asked[0], asked[2]} & withdrawn


def test_a_page_costs_the_same_few_queries_whatever_its_size(market: Market) -> None:
    for _ in range(5):
        market.ask("tier2", market.piece("tier2"), bank=market.address("bank"))
    services = market.services
    bank = Party(market.address("bank"), ROLE["bank"], 2**40)
    statements: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):  # not the BEGIN each connection sends
            statements.append(str(args[2]))

    engines = {id(e): e for e in (services.engine, services.store)}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        total = len(services.reads.financing.page(bank, None, None, None, 200)[0])
        assert total >= 5
        costs = []
        for limit in (1, 4, 50):
            statements.clear()
            items, _ = services.reads.financing.page(bank, None, None, None, limit)
            assert len(items) == min(limit, total)
            costs.append(len(statements))
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    # The clock, the page, and one query each for the banks' declines, pieces, financings and offers.
    assert costs == [6, 6, 6], statements


# -- pricing recorded with an offer ------------------------------------------------------------------------


def _quote(price_face: int) -> Quote:
    request = QuoteRequest(
        face=price_face,
        tenor_seconds=60 * DAY,
        obligor_kind=SUPPLIER,
        obligor_pd_bps=80,
        seller_pd_bps=150,
        seller_grade="BBB",
        seller_limit=MAX_UINT256,
        model_version=MODEL.version,
    )
    result = quote(POLICY, request)
    assert isinstance(result, Quote), result
    return result


def test_an_offer_records_its_pricing_and_returns_it(market: Market) -> None:
    piece = market.piece()
    market.ask("tier1", piece, bank=market.address("bank"))
    priced = _quote(100_000 * UNIT)
    pricing = {"policyHash": POLICY.hash, "modelVersion": priced.model, "quote": priced.to_json()}
    status, offer = market.post_offer("bank", piece, market.offer_body("bank", piece, priced.price, pricing=pricing))
    assert status == 201, offer
    assert offer["price"] == str(priced.price) and offer["pricing"] == {**pricing, "asOfBlock": None}
    listed = market.client.get(f"/v1/receivables/pieces/{piece}/offers", headers=market.headers("tier1")).json()
    assert [o["pricing"] for o in listed] == [{**pricing, "asOfBlock": None}]
    plain = market.offer("bank", piece)  # pricing is optional
    assert plain["pricing"] is None


def test_pricing_that_does_not_match_the_offer_is_refused_naming_the_field(market: Market) -> None:
    piece = market.piece()
    market.ask("tier1", piece, bank=market.address("bank"))
    priced = _quote(100_000 * UNIT)
    recorded = priced.to_json()
    good: dict[str, Any] = {"policyHash": POLICY.hash, "modelVersion": priced.model, "quote": recorded}
    cases: list[tuple[int, dict[str, Any] | Any, str]] = [
        (priced.price - 1, good, "pricing.quote"),  # the quote prices it otherwise
        (priced.price, {**good, "quote": {**recorded, "price": "1e6"}}, "pricing.quote"),
        (priced.price, {**good, "quote": {"result": "declined", "reasons": []}}, "pricing.quote"),
        (priced.price, {**good, "quote": [recorded]}, "pricing.quote"),
        (priced.price, {**good, "quote": "quoted"}, "pricing.quote"),
        (priced.price, {**good, "quote": {"note": "x" * QUOTE_MAX_BYTES}}, "pricing.quote"),
        (priced.price, {**good, "quote": {"big": 2**60}}, "pricing.quote"),
        (priced.price, {**good, "policyHash": "0x" + "11" * 32}, "pricing.policyHash"),
        (priced.price, {**good, "modelVersion": "0x" + "22" * 32}, "pricing.modelVersion"),
        (priced.price, {**good, "policyHash": "0x1234"}, "pricing.policyHash"),
        (priced.price, {**good, "extra": 1}, "pricing.extra"),
        (priced.price, 12, "pricing"),
    ]
    for price, pricing, field in cases:
        status, body = market.post_offer("bank", piece, market.offer_body("bank", piece, price, pricing=pricing))
        assert status == 422 and body["field"] == field, (field, body)
    listed = market.client.get(f"/v1/receivables/pieces/{piece}/offers", headers=market.headers("tier1")).json()
    assert listed == []  # nothing stored


# -- declines (api.v1.declines) ---------------------------------------------------------------------------

LIMIT_WORDS = "the seller's outstanding financing with this bank (0 dUSD) plus this price would exceed its limit"


def decline(market: Market, bank: str | LocalAccount, request_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    answer = market.client.post(f"/v1/financing-requests/{request_id}/decline", json=body, headers=market.headers(bank))
    return answer.status_code, answer.json()


def test_a_bank_declines_in_words_the_holder_reads_why_and_asking_again_is_a_new_ask(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    reasons = [{"code": "EXPOSURE_LIMIT", "text": LIMIT_WORDS}]
    status, answered = decline(market, "bank", asked["id"], {"reasons": reasons})
    assert status == 200 and answered["state"] == "declined", answered
    for who in ("tier1", "bank", "auditor"):
        item = market.seen(who, asked["id"])
        assert item is not None and item["state"] == "declined", who
        [said] = item["declines"]
        assert said["bank"] == market.address("bank") and said["reasons"] == reasons and said["declinedAt"] > 0
    assert [i["id"] for i in market.inbox("tier1", state="declined", pieceId=piece)] == [asked["id"]]
    assert market.inbox("bank", state="open", pieceId=piece) == []  # its desk no longer sees it waiting
    assert market.report("bank", "tier1") == 404  # answered: it opens the report no longer
    # Declining again answers the first decline: its reasons stand.
    status, again = decline(market, "bank", asked["id"], {"reasons": [{"code": "OTHER", "text": "changed my mind"}]})
    assert status == 200 and again["declines"][0]["reasons"] == reasons
    # The holder asks again: a new ask (a new createdAt), open to the bank, with no decline yet.
    market.advance(60)
    reopened = market.ask("tier1", piece, bank=market.address("bank"))
    assert reopened["id"] == asked["id"] and reopened["createdAt"] > asked["createdAt"]
    assert (reopened["state"], reopened["declines"]) == ("open", [])


def test_asking_again_within_the_second_of_a_decline_is_still_a_new_ask_the_decline_does_not_answer(
    market: Market,
) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    reasons = [{"code": "EXPOSURE_LIMIT", "text": LIMIT_WORDS}]
    assert decline(market, "bank", asked["id"], {"reasons": reasons})[0] == 200
    reopened = market.ask("tier1", piece, bank=market.address("bank"))  # no time passes
    assert reopened["createdAt"] > asked["createdAt"]
    assert (reopened["state"], reopened["declines"]) == ("open", [])
    assert [i["id"] for i in market.inbox("bank", state="open", pieceId=piece)] == [asked["id"]]


def test_only_a_bank_asked_declines_an_open_request_and_bad_reasons_are_named(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece, bank=market.address("bank"))
    good = {"reasons": [{"code": "TENOR_TOO_LONG", "text": "tenor 200 days is beyond this bank's 180-day maximum"}]}
    for who in (market.other_bank, "tier1", "tier2", "auditor"):  # not asked, or not a bank: not theirs to see
        assert decline(market, who, asked["id"], good)[0] == 404, who
    for body, field in (
        ({"reasons": []}, "reasons"),
        ({"reasons": [{"code": "lower", "text": "x"}]}, "reasons[0].code"),
        ({"reasons": [{"code": "X", "text": ""}]}, "reasons[0].text"),
        ({"reasons": [{"code": "X", "text": "x" * 1_001}]}, "reasons[0].text"),
        ({"reasons": [{"code": "X", "text": "x"}] * 17}, "reasons"),
        ({"reasons": [{"code": "X", "text": "x", "price": 1}]}, "reasons[0].price"),
    ):
        status, body_out = decline(market, "bank", asked["id"], body)
        assert status == 422 and body_out["field"] == field, (body, body_out)
    # With its own offer open the bank has answered already: nothing to decline (409), and the holder sees the offer.
    market.offer("bank", piece)
    status, refused = decline(market, "bank", asked["id"], good)
    assert status == 409 and refused["error"] == "financing_request_not_open", refused
    assert market.state("tier1", asked["id"]) == "offered"


def test_a_request_to_every_bank_stays_open_to_its_holder_with_one_banks_decline_shown(market: Market) -> None:
    piece = market.piece()
    asked = market.ask("tier1", piece)
    reasons = [{"code": "OBLIGOR_CONCENTRATION", "text": "this bank's cap per obligor would be exceeded"}]
    assert decline(market, market.other_bank, asked["id"], {"reasons": reasons})[0] == 200
    holder = market.seen("tier1", asked["id"])
    assert holder is not None and holder["state"] == "open"  # the other banks may still offer
    assert [d["bank"] for d in holder["declines"]] == [market.other_bank.address]
    decliner, other = market.seen(market.other_bank, asked["id"]), market.seen("bank", asked["id"])
    assert decliner is not None and decliner["state"] == "declined"
    assert other is not None and (other["state"], other["declines"]) == ("open", [])  # not told of a rival's answer


def test_an_offers_pricing_shows_the_block_its_inputs_were_read_at(market: Market) -> None:
    piece = market.piece()
    market.ask("tier1", piece, bank=market.address("bank"))
    block = market.world.chain.block_number
    record = DebtorRecord(paydex_12m=80, defaults_12m=0, receivables_outstanding=0)
    request = QuoteRequest(face=100_000 * UNIT, tenor_seconds=60 * DAY, obligor_kind=CORE, obligor_record=record,
                           seller_limit=MAX_UINT256, model_version=MODEL.version, as_of_block=block)  # fmt: skip
    priced = quote(POLICY, request)
    assert isinstance(priced, Quote), priced
    pricing = {"policyHash": POLICY.hash, "modelVersion": priced.model, "quote": priced.to_json()}
    status, offer = market.post_offer("bank", piece, market.offer_body("bank", piece, priced.price, pricing=pricing))
    assert status == 201, offer
    assert offer["pricing"]["asOfBlock"] == block == offer["pricing"]["quote"]["inputs"]["request"]["as_of_block"]
    undated = dict(priced.to_json(), inputs={"policy": POLICY.hash, "request": dict(request.to_json())})
    del undated["inputs"]["request"]["as_of_block"]  # a quote recorded before desks recorded the block
    body = market.offer_body("bank", piece, priced.price, pricing={**pricing, "quote": undated})
    status, older = market.post_offer("bank", piece, body)
    assert status == 201 and older["pricing"]["asOfBlock"] is None, older


def test_the_holder_sees_competing_offers_best_first_with_lapsed_ones_last(market: Market) -> None:
    piece = market.piece()
    market.ask("tier1", piece)  # to every bank
    low = market.offer("bank", piece, price=90 * UNIT)
    high = market.offer(market.other_bank, piece, price=95 * UNIT)
    terms = {
        "price": str(99 * UNIT),
        "deadline": market.world.chain.timestamp() + 60,
        "nonce": str(next(market.numbers)),
    }
    typed = market.client.post(
        f"/v1/receivables/pieces/{piece}/offers/typed-data", json=terms, headers=market.headers("bank")
    ).json()["typedData"]
    signature = Account.sign_typed_data(market.account("bank").key, full_message=typed).signature
    status, lapsing = market.post_offer("bank", piece, {**terms, "signature": "0x" + signature.hex()})
    assert status == 201, lapsing
    market.advance(120)
    market.world.index()  # the indexed head's time is past the dearest offer's deadline

    def listed(order: str) -> list[str]:
        answer = market.client.get(
            f"/v1/receivables/pieces/{piece}/offers", params={"order": order}, headers=market.headers("tier1")
        )
        assert answer.status_code == 200, answer.text
        return [o["id"] for o in answer.json()]

    assert listed("best") == [high["id"], low["id"], lapsing["id"]]
    assert listed("created") == [low["id"], high["id"], lapsing["id"]]
    refused = market.client.get(
        f"/v1/receivables/pieces/{piece}/offers", params={"order": "cheapest"}, headers=market.headers("tier1")
    )
    assert refused.status_code == 422 and "order" in refused.text
