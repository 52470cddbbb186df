"""Pre-shipment finance over HTTP: a supplier asks banks to back a pre-payment of its funded order, a bank signs a
priced ``PrepaymentOffer``, the supplier draws it on chain, and the bank's desk declines in words what it cannot back.

On a chain of this module's own (``fresh``), with a second active bank admitted, the buyer's deposits and the
escrow's allowance, the bank's guarantee pool funded and a limit published by the bank for ``tier1`` (the
supplier) on CreditRegistry. Orders are co-signed and funded on chain (``tests.support.escrow``) and indexed;
everything after that is HTTP as the parties speak it: the supplier asks, a bank reads its inbox, signs the
typed data served with eth-account and posts the offer, the supplier takes it through the prepared
``requestPrepayment`` transaction it signs and submits, the indexer runs, and the reads show the outcome. The
desk runs in process over the same app (``api.desk``, a client of the API like any bank's program). After each
test every request still live is withdrawn, so no request is left for a later test's desk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.desk.client import BankApi
from api.desk.desk import Desk
from api.desk.journal import Journal
from ledger.clients.credit import CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import PrepaymentOffer
from ledger.eth import eip712
from ledger.index.sql.db import make_engine
from ledger.index.sql.models import Order
from scoring.policy import DEV_BANK, MAX_UINT256, PRE_SHIPMENT, Policy
from scoring.pricing import CORE, Quote, QuoteRequest, quote
from tests.support.api_world import World
from tests.support.escrow import make_terms, signatures
from tests.support.market import Parties, admit_bank
from tests.support.wallet import sign_prepared

UNIT = 10**6
DAY = 86_400
ORDER = 100_000 * UNIT  # each order's amount
LIMIT = 150_000 * UNIT  # the bank's limit for tier1
POOL = 500_000 * UNIT  # the bank's guarantee pool
POLICY = Policy.load(DEV_BANK)
MODEL = "0x" + "4d" * 32
SUPPLIERS = ("tier1", "tier2")


@dataclasses.dataclass
class Market(Parties):
    escrow: TradeEscrowClient
    tokens: TokenClient

    def order(self, *, amount: int = ORDER, funded: bool = True, ship_in: int = 20 * DAY) -> int:
        """A new order of ``core`` from ``supplier``, co-signed, created (and funded) on chain and indexed."""
        n = next(self.numbers)
        deployed = self.world.deployed
        terms = make_terms(
            deployed, supplier="tier1", amount=amount, po=f"PRE-{n}", nonce=5_000 + n, ship_in=ship_in,
            deliver_in=ship_in + 20 * DAY,
        )  # fmt: skip
        order_id, _ = self.escrow.create_order(terms, *signatures(deployed, terms), self.account("core"))
        if funded:
            self.escrow.fund(order_id, self.account("core"))
        self.world.index()
        return order_id

    def post(self, who: str | LocalAccount, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        answer = self.client.post(path, json=body, headers={**self.headers(who), **kwargs.pop("headers", {})})
        return answer.status_code, answer.json()

    def get(self, who: str | LocalAccount, path: str, **params: Any) -> tuple[int, Any]:
        answer = self.client.get(path, params=params, headers=self.headers(who))
        return answer.status_code, answer.json()

    def ask(self, order_id: int, amount: int, who: str = "tier1", **body: Any) -> dict[str, Any]:
        status, asked = self.post(who, f"/v1/orders/{order_id}/prepayment-requests", {"amount": str(amount), **body})
        assert status == 201, asked
        return dict(asked)

    def inbox(self, who: str | LocalAccount, **params: Any) -> list[dict[str, Any]]:
        status, page = self.get(who, "/v1/prepayment-requests", limit=200, **params)
        assert status == 200, page
        return list(page["items"])

    def seen(self, who: str | LocalAccount, request_id: str) -> dict[str, Any] | None:
        return next((item for item in self.inbox(who) if item["id"] == request_id), None)

    def state(self, who: str | LocalAccount, request_id: str) -> str:
        status, item = self.get(who, f"/v1/prepayment-requests/{request_id}")
        assert status == 200, item
        return str(item["state"])

    def terms(self, fee: int, deadline_in: int = DAY) -> dict[str, str]:
        return {"fee": str(fee), "deadline": str(self.world.chain.timestamp() + deadline_in),
                "nonce": str(next(self.numbers))}  # fmt: skip

    def signed(self, bank: str | LocalAccount, request_id: str, terms: dict[str, str]) -> dict[str, Any]:
        """``terms`` as ``bank`` signs them: the typed data served, signed with eth-account."""
        status, served = self.post(bank, f"/v1/prepayment-requests/{request_id}/offers/typed-data", terms)
        assert status == 200, served
        typed = served["typedData"]
        assert "0x" + eip712.digest(typed).hex() == served["digest"]
        signature = Account.sign_typed_data(self.account(bank).key, full_message=typed).signature
        return {**terms, "signature": "0x" + signature.hex()}

    def offer(self, bank: str | LocalAccount, request_id: str, fee: int, **extra: Any) -> dict[str, Any]:
        body = {**self.signed(bank, request_id, self.terms(fee)), **extra}
        status, offer = self.post(bank, f"/v1/prepayment-requests/{request_id}/offers", body)
        assert status == 201, offer
        return dict(offer)

    def draw(self, order_id: int, body: dict[str, Any], who: str = "tier1") -> dict[str, Any]:
        """The supplier takes an offer: the prepared transaction, signed, submitted, mined and indexed."""
        status, prepared = self.post(who, f"/v1/orders/{order_id}/prepayment", body)
        assert status == 200, prepared
        assert prepared["action"] == "requestPrepayment"
        status, submitted = self.post(who, "/v1/submissions", {"rawTransaction": sign_prepared(self.account(who),
                                                                                             prepared)})  # fmt: skip
        assert status == 202, submitted
        self.world.index()
        status, mined = self.get(who, submitted["statusUrl"])
        assert status == 200 and mined["status"] == "mined" and mined["indexed"], mined
        return dict(mined)

    def withdraw(self, who: str | LocalAccount, request_id: str) -> tuple[int, Any]:
        return self.post(who, f"/v1/prepayment-requests/{request_id}/withdraw")

    def desk(self, journal: Path, logs: list[str]) -> Desk:
        """The bank's desk over this app, in process (``scf bank desk --once`` does the same over HTTP)."""
        bank = self.account("bank")
        api = BankApi("http://testserver", bank, http=self.client)
        return Desk(api, POLICY, bank, Journal(journal), log=logs.append)


@pytest.fixture(scope="module")
def market(fresh: World) -> Iterator[Market]:
    chain, deployed = fresh.chain, fresh.deployed
    other = admit_bank(fresh, "prepayment")
    tokens = TokenClient(chain, deployed.build, deployed.addresses["SettlementToken"])
    escrow = TradeEscrowClient(chain, deployed.build, deployed.addresses["TradeEscrow"])
    bank, core = fresh.account("bank"), fresh.account("core")
    tokens.mint(core.address, 100 * ORDER, bank)
    tokens.approve(deployed.addresses["TradeEscrow"], MAX_UINT256, core)
    tokens.mint(bank.address, POOL, bank)
    tokens.approve(deployed.addresses["TradeEscrow"], MAX_UINT256, bank)
    escrow.fund_pool(POOL, bank)
    registry = CreditRegistryClient(chain, deployed.build, deployed.addresses["CreditRegistry"])
    registry.grant(bank, fresh.account("tier1").address, LIMIT, chain.timestamp() + 365 * DAY)
    fresh.index()
    yield Market(fresh, other, escrow, tokens)


@pytest.fixture(autouse=True)
def no_request_left(market: Market) -> Iterator[None]:
    yield
    for supplier in SUPPLIERS:
        for state in ("open", "offered", "declined", "expired"):
            for item in market.inbox(supplier, state=state):
                assert market.withdraw(supplier, item["id"])[0] == 200


def preshipment_quote(amount: int, now: int) -> Quote:
    """A ``pre-shipment`` quote of ``amount`` as a desk makes one (the pricing an offer records)."""
    from scoring.pricing import DebtorRecord

    request = QuoteRequest(
        face=amount, kind=PRE_SHIPMENT, now=now, maturity=now + 70 * DAY, obligor_kind=CORE,
        obligor_record=DebtorRecord(paydex_12m=80, defaults_12m=0, receivables_outstanding=0), seller_pd_bps=150,
        seller_grade="BBB", seller_limit=LIMIT, model_version=MODEL,
    )  # fmt: skip
    priced = quote(POLICY, request)
    assert isinstance(priced, Quote), priced
    return priced


# -- asking, and who sees what ---------------------------------------------------------------------------


def test_a_supplier_asks_its_bank_sees_the_order_in_its_inbox_and_others_see_nothing(market: Market) -> None:
    order_id = market.order()
    asked = market.ask(order_id, 40_000 * UNIT, bank=market.address("bank"))
    assert (asked["orderId"], asked["amount"], asked["state"]) == (str(order_id), str(40_000 * UNIT), "open")
    assert asked["supplier"] == market.address("tier1") and asked["bank"] == market.address("bank")
    order = asked["order"]
    assert order["buyer"] == market.address("core") and order["amount"] == str(ORDER) and order["status"] == "FUNDED"
    assert int(order["deliverBy"]) > int(order["shipBy"]) and order["claimWindow"] == 30 * DAY
    assert asked["expiresAt"] == min(asked["createdAt"] + 7 * DAY, int(order["shipBy"]))
    # The bank sees it, with the order it prices; the supplier its own; an auditor everything.
    for who in ("bank", "tier1", "auditor"):
        assert market.seen(who, asked["id"]) == asked, who
    # Another supplier, another bank, the buyer: nothing, and 404 for the request itself.
    for stranger in ("tier2", market.other_bank, "core"):
        assert market.seen(stranger, asked["id"]) is None
        assert market.get(stranger, f"/v1/prepayment-requests/{asked['id']}")[0] == 404
    # Asking again answers the live request; for another amount, withdraw it first.
    assert market.ask(order_id, 40_000 * UNIT, bank=market.address("bank")) == asked
    status, refused = market.post("tier1", f"/v1/orders/{order_id}/prepayment-requests",
                                  {"amount": str(30_000 * UNIT), "bank": market.address("bank")})  # fmt: skip
    assert status == 409 and refused["error"] == "prepayment_request_live"
    # A request to every bank reaches the second bank too.
    to_all = market.ask(order_id, 50_000 * UNIT)
    assert to_all["bank"] is None and market.seen(market.other_bank, to_all["id"]) is not None
    assert market.seen(market.other_bank, asked["id"]) is None


def test_only_the_supplier_of_a_funded_order_not_yet_prepaid_asks_for_at_most_its_amount(market: Market) -> None:
    order_id = market.order()
    path = f"/v1/orders/{order_id}/prepayment-requests"
    assert market.post("core", path, {"amount": "1"})[0] == 403  # the buyer sees the order, may not ask
    assert market.post("tier2", path, {"amount": "1"})[0] == 404  # not its order: as if none
    status, refused = market.post("tier1", path, {"amount": str(ORDER + 1)})
    assert status == 422 and refused["field"] == "amount"
    status, refused = market.post("tier1", path, {"amount": "1", "bank": market.address("tier2")})
    assert status == 422 and refused["field"] == "bank"
    unfunded = market.order(funded=False)
    status, refused = market.post("tier1", f"/v1/orders/{unfunded}/prepayment-requests", {"amount": "1"})
    assert status == 422 and refused["field"] == "orderId" and "CREATED" in str(refused["detail"])
    assert market.inbox("tier1", orderId=order_id) == [] and market.inbox("tier1", orderId=unfunded) == []


def test_hostile_bodies_are_4xx_naming_the_field_never_500(market: Market) -> None:
    order_id = market.order()
    path = f"/v1/orders/{order_id}/prepayment-requests"
    for amount in (
        "0",
        0,
        "-1",
        -1,
        str(2**256),
        2**53 + 1,
        10**80,
        "1e3",
        "NaN",
        1.5,
        True,
        None,
        [1],
        {"a": 1},
        " 1",
    ):
        status, refused = market.post("tier1", path, {"amount": amount})
        assert status == 422 and refused["field"] == "amount", (amount, refused)
    for expires_in in (59, 90 * DAY + 1, "3600", 3600.5, -1, 10**30):
        status, refused = market.post("tier1", path, {"amount": "1", "expiresIn": expires_in})
        assert status == 422 and refused["field"] == "expiresIn", (expires_in, refused)
    status, refused = market.post("tier1", path, {"amount": "1", "supplier": market.address("tier2")})
    assert status == 422 and refused["field"] == "supplier"
    for raw in (b'{"amount": NaN}', b'{"amount": 1e400}', b'{"amount": "\\ud800"}', b"[" * 5000):
        answer = market.client.post(path, content=raw, headers={**market.headers("tier1"),
                                                                 "Content-Type": "application/json"})  # fmt: skip
        assert 400 <= answer.status_code < 500, (raw[:20], answer.text)
    asked = market.ask(order_id, 10_000 * UNIT, bank=market.address("bank"))
    offers = f"/v1/prepayment-requests/{asked['id']}/offers"
    good = market.signed("bank", asked["id"], market.terms(UNIT))
    hostile_terms: tuple[tuple[str, tuple[Any, ...]], ...] = (
        ("fee", ("-1", -1, str(2**256), 2**60, "1.5", None, True, [])),
        ("deadline", ("-1", str(2**64), 2**64, "soon", 1.5, None)),
        ("nonce", ("-1", str(2**256), "0x10", 2.0, False)),
        ("signature", ("0x" + "00" * 64, "0x1234", 7, None)),
    )
    for name, values in hostile_terms:
        for value in values:
            status, refused = market.post("bank", offers, {**good, name: value})
            assert status == 422 and refused["field"] == name, (name, value, refused)
    for params, field in (
        ({"state": "pending"}, "state"),
        ({"orderId": -1}, "orderId"),
        ({"after": "x"}, "after"),
        ({"after": "00000000-0000-0000-0000-000000000000"}, "after"),
        ({"limit": 0}, "limit"),
    ):
        answer = market.client.get("/v1/prepayment-requests", params=params, headers=market.headers("bank"))
        assert answer.status_code == 422 and answer.json()["field"] == field, (params, answer.text)


# -- offers and the draw -----------------------------------------------------------------------------------


def test_a_bank_offers_the_supplier_draws_it_and_the_bank_earns_the_fee(market: Market) -> None:
    order_id = market.order()
    amount = 60_000 * UNIT
    asked = market.ask(order_id, amount, bank=market.address("bank"))
    priced = preshipment_quote(amount, market.world.chain.timestamp())
    fee = amount - priced.price
    pricing = {"policyHash": POLICY.hash, "modelVersion": MODEL, "quote": priced.to_json()}
    offer = market.offer("bank", asked["id"], fee, pricing=pricing)
    assert (offer["amount"], offer["fee"], offer["price"]) == (str(amount), str(fee), str(priced.price))
    assert offer["orderId"] == str(order_id) and offer["round"] == asked["createdAt"]
    assert offer["pricing"]["quote"]["price"] == str(priced.price)
    for who in ("tier1", "bank", "auditor"):
        item = market.seen(who, asked["id"])
        assert item is not None and (item["state"], item["offers"]) == ("offered", 1), who
    # A dearer offer from the same bank: the supplier's best list puts the cheaper first.
    dearer = market.offer("bank", asked["id"], fee + UNIT)
    status, best = market.get("tier1", f"/v1/prepayment-requests/{asked['id']}/offers", order="best")
    assert status == 200 and [o["id"] for o in best] == [offer["id"], dearer["id"]]
    assert market.get("tier2", f"/v1/prepayment-requests/{asked['id']}/offers")[0] == 404

    before = {who: market.tokens.balance_of(market.address(who)) for who in ("tier1", "bank")}
    pooled = market.get("bank", "/v1/banks/me/pool", supplier=market.address("tier1"))[1]
    mined = market.draw(order_id, {"offerId": offer["id"]})
    assert mined["function"] == "requestPrepayment"
    after = {who: market.tokens.balance_of(market.address(who)) for who in ("tier1", "bank")}
    assert after["tier1"] - before["tier1"] == amount - fee and after["bank"] - before["bank"] == fee
    engine = make_engine(market.world.db_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(Order.__table__.select().where(Order.order_id == order_id)).one()
    finally:
        engine.dispose()
    assert (int(row.prepaid), int(row.prepayment_fee), row.guarantor) == (amount, fee, market.address("bank"))
    for who in ("tier1", "bank", "auditor"):
        status, item = market.get(who, f"/v1/prepayment-requests/{asked['id']}")
        assert status == 200 and item["state"] == "accepted", who
        assert (item["acceptedBy"], item["fee"], item["order"]["prepaid"]) == (market.address("bank"), str(fee),
                                                                                str(amount))  # fmt: skip
    # The pool reserves the whole amount for the buyer, the supplier's exposure is the whole amount, and both
    # offers on the order (the largest, ``amount``, counted) can no longer be drawn.
    status, pool = market.get("bank", "/v1/banks/me/pool", supplier=market.address("tier1"))
    assert status == 200

    def moved(*path: str) -> int:
        now, then = pool, pooled
        for key in path:
            now, then = now[key], then[key]
        return int(now) - int(then)

    assert (moved("reserved"), moved("available"), moved("offered")) == (amount, -amount, -amount)
    assert (moved("supplier", "exposure"), moved("supplier", "offered")) == (amount, -amount)
    assert market.get("tier1", "/v1/banks/me/pool")[0] == 403
    status, refused = market.withdraw("tier1", asked["id"])
    assert status == 409 and refused["error"] == "prepayment_request_accepted"
    # Prepaid: no second request on the order.
    status, refused = market.post("tier1", f"/v1/orders/{order_id}/prepayment-requests", {"amount": "1"})
    assert status == 422 and refused["field"] == "orderId"


def test_an_offer_held_by_the_supplier_is_drawn_with_its_signature(market: Market) -> None:
    order_id = market.order()
    amount = 20_000 * UNIT
    terms = market.terms(UNIT)
    offer = PrepaymentOffer(order_id, market.address("bank"), amount, UNIT, int(terms["deadline"]), int(terms["nonce"]))
    signature = "0x" + market.escrow.sign_prepayment_offer(market.account("bank"), offer).hex()
    body = {"orderId": str(order_id), "guarantor": offer.guarantor, "amount": str(amount), **terms}
    wrong = "0x" + market.escrow.sign_prepayment_offer(market.account("tier2"), offer).hex()
    path = f"/v1/orders/{order_id}/prepayment"
    status, refused = market.post("tier1", path, {"offer": body, "signature": wrong})
    assert status == 422 and refused["field"] == "signature"
    status, refused = market.post(
        "tier1", path, {"offer": {**body, "orderId": str(order_id + 1)}, "signature": signature}
    )
    assert status == 422 and refused["field"] == "offer.orderId"
    status, refused = market.post("tier1", path, {"offer": {**body, "fee": str(amount)}, "signature": signature})
    assert status == 422 and refused["field"] == "offer.fee"
    status, refused = market.post("tier1", path, {})
    assert status == 422 and refused["field"] == "offerId"
    assert market.post("core", path, {"offer": body, "signature": signature})[0] == 403  # only its supplier
    market.draw(order_id, {"offer": body, "signature": signature})
    # The nonce is spent on chain: the same signed offer never draws again, on any order.
    again = market.order()
    replayed = PrepaymentOffer(again, offer.guarantor, amount, UNIT, offer.deadline, offer.nonce)
    signature = "0x" + market.escrow.sign_prepayment_offer(market.account("bank"), replayed).hex()
    status, refused = market.post("tier1", f"/v1/orders/{again}/prepayment",
                                  {"offer": {**body, "orderId": str(again)}, "signature": signature})  # fmt: skip
    assert status == 422 and refused["field"] == "offer" and "already used on chain" in str(refused["detail"])


def test_offers_are_refused_naming_the_field_replayed_lapsed_missigned_or_all_fee(market: Market) -> None:
    order_id = market.order()
    amount = 10_000 * UNIT
    asked = market.ask(order_id, amount, bank=market.address("bank"))
    offers = f"/v1/prepayment-requests/{asked['id']}/offers"
    first = market.offer("bank", asked["id"], UNIT)
    # The same nonce again (signed anew, for another fee): refused.
    replayed = market.signed("bank", asked["id"], {**market.terms(2 * UNIT), "nonce": first["nonce"]})
    status, refused = market.post("bank", offers, replayed)
    assert status == 422 and refused["field"] == "nonce"
    # A deadline already passed (the chain's time): refused.
    lapsed = market.signed("bank", asked["id"], market.terms(UNIT, deadline_in=-60))
    status, refused = market.post("bank", offers, lapsed)
    assert status == 422 and refused["field"] == "deadline"
    # Signed by someone else: refused.
    terms = market.terms(UNIT)
    document = market.escrow.prepayment_offer_document(
        PrepaymentOffer(order_id, market.address("bank"), amount, UNIT, int(terms["deadline"]), int(terms["nonce"]))
    )
    forged = "0x" + Account.sign_typed_data(market.account("tier2").key, full_message=document).signature.hex()
    status, refused = market.post("bank", offers, {**terms, "signature": forged})
    assert status == 422 and refused["field"] == "signature"
    # A fee of the whole amount (or more): refused, for the typed data too.
    for fee in (amount, amount + 1):
        all_fee = {**market.terms(fee), "signature": forged}
        status, refused = market.post("bank", offers, all_fee)
        assert status == 422 and refused["field"] == "fee", refused
        status, refused = market.post("bank", f"{offers}/typed-data", market.terms(fee))
        assert status == 422 and refused["field"] == "fee"
    # A quote that prices something else (another face, its price the offer's): refused.
    other = preshipment_quote(amount + UNIT, market.world.chain.timestamp())
    body = market.signed("bank", asked["id"], market.terms(amount - other.price))
    pricing = {"policyHash": POLICY.hash, "modelVersion": MODEL, "quote": other.to_json()}
    status, refused = market.post("bank", offers, {**body, "pricing": pricing})
    assert status == 422 and refused["field"] == "pricing.quote"
    # Only a bank offers, and only a bank asked.
    valid = market.signed("bank", asked["id"], market.terms(UNIT))
    assert market.post("tier1", offers, valid)[0] == 403
    assert market.post(market.other_bank, offers, valid)[0] == 404
    # The supplier cannot take another order's offer, nor one made to another supplier.
    elsewhere = market.order()
    status, refused = market.post("tier1", f"/v1/orders/{elsewhere}/prepayment", {"offerId": first["id"]})
    assert status == 422 and refused["field"] == "offerId"
    assert market.post("tier1", f"/v1/orders/{order_id}/prepayment", {"offerId": first["id"], "offer": {}})[0] == 422


def test_an_offer_post_retried_with_its_idempotency_key_is_answered_once(market: Market) -> None:
    order_id = market.order()
    asked = market.ask(order_id, 10_000 * UNIT, bank=market.address("bank"))
    body = market.signed("bank", asked["id"], market.terms(UNIT))
    path = f"/v1/prepayment-requests/{asked['id']}/offers"
    key = {"Idempotency-Key": f"prepayment-offer-{asked['id']}"}
    first = market.client.post(path, json=body, headers={**market.headers("bank"), **key})
    again = market.client.post(path, json=body, headers={**market.headers("bank"), **key})
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    status, listed = market.get("bank", path)
    assert status == 200 and [o["id"] for o in listed] == [first.json()["id"]]


# -- withdraw, decline, expire -----------------------------------------------------------------------------


def test_the_supplier_withdraws_a_bank_declines_in_words_and_asking_again_reopens(market: Market) -> None:
    order_id = market.order()
    asked = market.ask(order_id, 10_000 * UNIT, bank=market.address("bank"))
    reasons = {"reasons": [{"code": "NOT_NOW", "text": "this bank backs no pre-payment this month"}]}
    path = f"/v1/prepayment-requests/{asked['id']}"
    assert market.post("tier1", f"{path}/decline", reasons)[0] == 404  # only a bank asked declines
    assert market.post(market.other_bank, f"{path}/decline", reasons)[0] == 404
    status, declined = market.post("bank", f"{path}/decline", reasons)
    assert status == 200 and declined["state"] == "declined"
    assert market.state("tier1", asked["id"]) == "declined"
    [decline] = market.seen("tier1", asked["id"])["declines"]  # type: ignore[index]
    assert decline["bank"] == market.address("bank") and decline["reasons"] == reasons["reasons"]
    # Asking again is a new ask: the same request, open again.
    again = market.ask(order_id, 12_000 * UNIT, bank=market.address("bank"))
    assert (again["id"], again["state"], again["amount"], again["declines"]) == (
        asked["id"], "open", str(12_000 * UNIT), [],
    )  # fmt: skip
    # The supplier withdraws: the bank no longer sees the order through it, and may no longer offer.
    assert market.withdraw("bank", asked["id"])[0] == 404
    status, withdrawn = market.withdraw("tier1", asked["id"])
    assert status == 200 and withdrawn["state"] == "withdrawn" and withdrawn["order"] is not None
    status, seen = market.get("bank", path)
    assert status == 200 and seen["state"] == "withdrawn" and seen["order"] is None
    status, refused = market.post("bank", f"{path}/offers", market.signed("bank", asked["id"], market.terms(UNIT)))
    assert status == 409 and refused["error"] == "prepayment_request_not_open"


def test_a_request_expires_with_its_time_and_when_another_bank_prepaid_the_order(market: Market) -> None:
    order_id = market.order()
    asked = market.ask(order_id, 10_000 * UNIT, bank=market.address("bank"), expiresIn=60)
    assert asked["expiresAt"] == asked["createdAt"] + 60
    market.world.chain.advance_time(61)
    market.world.index()
    assert market.state("bank", asked["id"]) == "expired"
    assert asked["id"] not in {i["id"] for i in market.inbox("bank", state="open")}
    reopened = market.ask(order_id, 10_000 * UNIT, bank=market.address("bank"))
    assert reopened["id"] == asked["id"] and reopened["state"] == "open"
    # The same order asked of the second bank too; the first bank's offer is drawn: the order is pre-paid, so the
    # request to the second bank can no longer be answered (expired) while the first one reads accepted.
    to_other = market.ask(order_id, 10_000 * UNIT, bank=market.other_bank.address)
    offer = market.offer("bank", asked["id"], UNIT)
    market.draw(order_id, {"offerId": offer["id"]})
    assert market.state(market.other_bank, to_other["id"]) == "expired"
    assert market.state("tier1", to_other["id"]) == "expired"
    assert market.state("tier1", asked["id"]) == "accepted"


# -- the desk ----------------------------------------------------------------------------------------------


def test_the_desk_declines_in_words_a_request_beyond_the_limit_it_published(market: Market, tmp_path: Path) -> None:
    order_id = market.order(amount=2 * LIMIT)
    beyond = market.ask(order_id, LIMIT + UNIT, bank=market.address("bank"))
    logs: list[str] = []
    desk = market.desk(tmp_path / "journal.jsonl", logs)
    try:
        report = desk.run_once()
    finally:
        desk.journal.close()
    assert report.declined >= 1 and report.offered == 0, logs
    status, item = market.get("tier1", f"/v1/prepayment-requests/{beyond['id']}")
    assert status == 200 and item["state"] == "declined", item
    [decline] = item["declines"]
    codes = [r["code"] for r in decline["reasons"]]
    assert codes == ["EXPOSURE_LIMIT"], decline
    assert "150,000 dUSD limit this bank published for the supplier" in decline["reasons"][0]["text"]
