"""The desk's pre-shipment rules without a server: what it reads from a pre-payment request, what it declines in
words, how it prices the fee, and that it offers through the same never-twice loop as a piece's offer.

``FakePrepayments`` extends the receivables suite's ``FakeApi`` (``test_desk_rules``) with what
``api.desk.client.BankApi`` reads and posts for pre-shipment finance, as the API answers it: the open
pre-payment requests, one request with its order, the bank's guarantee pool, typed data for a
``PrepaymentOffer`` in TradeEscrow's domain, an offers table that refuses a used nonce (422 naming
``nonce``) and replays a POST under the same Idempotency-Key, and the declines posted. The HTTP suite
(``tests/api/v1/test_prepayments.py``) runs the same desk against the app over a real chain, and the last test
here runs it as the dev bank over ``scf serve --index`` and the played world (``tests.support.desk_world``): it
prices a pre-payment of a scored supplier's order, the supplier draws it, and a second beyond the limit left is
declined in words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.desk.desk import offer_nonce
from api.desk.errors import ApiRefused
from api.desk.inputs import no_room, prepayment_quote_request, unprepayable
from api.v1.routes.common import wallet_typed_data
from ledger.clients.token import TokenClient
from ledger.domain.escrow import PREPAYMENT_OFFER_FIELDS, PrepaymentOffer
from ledger.domain.typed_data import Domain, full_message
from ledger.eth import eip712
from ledger.eth.artifacts import BuildResult
from scoring.policy import PRE_SHIPMENT, Policy
from scoring.pricing import Quote, audit, recompute
from tests.api.desk.test_desk_rules import BANK, CHAIN_ID, CORE, DAY, NOW, SELLER, UNIT, FakeApi, _desk, _lines
from tests.support.desk_world import DeskWorld, Party, served_desk_world

ESCROW = "0x" + "e5" * 20
CLAIM_WINDOW = 30 * DAY
POLICY = Policy.load()
POOL = 10**8 * UNIT  # the dev bank's guarantee pool in the served world


def money(amount: int) -> str:
    return f"{amount / UNIT:,.2f} dUSD"


def _order(n: int, **changes: Any) -> dict[str, Any]:
    order = {
        "orderId": str(n),
        "buyer": CORE,
        "supplier": SELLER,
        "amount": str(100_000 * UNIT),
        "shipBy": str(NOW + 20 * DAY),
        "deliverBy": str(NOW + 40 * DAY),
        "status": "FUNDED",
        "prepaid": "0",
        "claimWindow": CLAIM_WINDOW,
    }
    return {**order, **changes}


def _prepayment(n: int, amount: int = 40_000 * UNIT, **order: Any) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-7000-8000-{n:012d}",
        "orderId": str(n),
        "supplier": SELLER,
        "bank": BANK.address,
        "amount": str(amount),
        "state": "open",
        "createdAt": NOW - 60,
        "expiresAt": NOW + 7 * DAY,
        "withdrawnAt": None,
        "offers": 0,
        "declines": [],
        "order": _order(n, **order),
    }


class FakePrepayments(FakeApi):
    """The API with pre-payment requests only: a pool of ``pool`` and ``limit`` published for the supplier."""

    def __init__(self, prepayments: list[dict[str, Any]], *, pool: int = 1_000_000 * UNIT, **kwargs: Any) -> None:
        super().__init__([], **kwargs)
        self.prepayments = prepayments
        self.available = pool
        self.exposure_on_chain = 0  # what the escrow already counts against the supplier's limit
        self.prepayment_posted: list[dict[str, Any]] = []
        self.prepayment_declined: list[tuple[str, list[dict[str, str]]]] = []

    def health(self) -> dict[str, Any]:
        return {"chainId": CHAIN_ID, "contracts": {"Receivables": "0x" + "ab" * 20, "TradeEscrow": ESCROW}}

    def limits(self) -> list[dict[str, Any]]:
        row = {"bank": BANK.address, "limit": str(self.limit), "revoked": False, "validUntil": str(NOW + 90 * DAY)}
        return [{**row, "party": party} for party in (CORE, SELLER)]

    def prepayment_inbox(self) -> list[dict[str, Any]]:
        return [r for r in self.prepayments if r["state"] == "open"]

    def prepayment_request(self, request_id: str) -> dict[str, Any] | None:
        return next((r for r in self.prepayments if r["id"] == request_id), None)

    def pool(self, supplier: str) -> dict[str, Any]:
        offered = sum(int(o["amount"]) for o in self.prepayment_posted)
        mine = {"address": supplier, "exposure": str(self.exposure_on_chain), "shortfall": "0", "offered": str(offered),
                "outstanding": str(self.exposure_on_chain + offered)}  # fmt: skip
        return {"bank": BANK.address, "now": NOW, "indexedBlock": self.block, "available": str(self.available),
                "reserved": "0", "offered": str(offered), "supplier": mine}  # fmt: skip

    def prepayment_offer_typed_data(self, request_id: str, terms: dict[str, Any]) -> dict[str, Any]:
        request = self.prepayment_request(request_id)
        assert request is not None
        fee = int(terms["fee"]) + (1 if self.tamper else 0)
        offer = PrepaymentOffer(
            int(request["orderId"]), BANK.address, int(request["amount"]), fee, int(terms["deadline"]),
            int(terms["nonce"]),
        )  # fmt: skip
        domain = Domain("TradeEscrow", "1", CHAIN_ID, ESCROW)
        document = full_message(domain, "PrepaymentOffer", PREPAYMENT_OFFER_FIELDS, offer.message())
        return {"typedData": wallet_typed_data(document), "digest": "0x" + eip712.digest(document).hex()}

    def post_prepayment_offer(self, request_id: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        self.posts += 1
        if idempotency_key in self.replays:
            return self.replays[idempotency_key]
        if any(o["nonce"] == body["nonce"] for o in self.prepayment_posted):
            raise ApiRefused("POST", "/offers", 422, "invalid_field", "already used", "nonce")
        request = self.prepayment_request(request_id)
        assert request is not None
        stored = {"id": f"prepayment-offer-{len(self.prepayment_posted)}", "requestId": request_id,
                  "orderId": request["orderId"], "supplier": request["supplier"], "bank": BANK.address,
                  "amount": request["amount"], **body}  # fmt: skip
        self.prepayment_posted.append(stored)
        self.replays[idempotency_key] = stored
        request["state"], request["offers"] = "offered", request["offers"] + 1
        return stored

    def prepayment_offers(self, request_id: str) -> list[dict[str, Any]] | None:
        return [o for o in self.prepayment_posted if o["requestId"] == request_id]

    def decline_prepayment(self, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        self.prepayment_declined.append((request_id, reasons))
        request = self.prepayment_request(request_id)
        assert request is not None
        request["state"] = "declined"
        return request


# -- the inputs --------------------------------------------------------------------------------------------


def test_an_order_that_cannot_be_prepaid_is_declined_in_words_before_any_credit_is_read() -> None:
    asked = _prepayment(1)
    assert unprepayable(asked, asked, money) == []
    [gone] = unprepayable(asked, None, money)
    assert gone.code == "REQUEST_NOT_SHOWN" and "no longer shown" in gone.text
    withdrawn = {**asked, "state": "withdrawn", "order": None}
    assert [r.code for r in unprepayable(asked, withdrawn, money)] == ["REQUEST_NOT_SHOWN"]
    shipped = _prepayment(1, status="SHIPPED", prepaid=str(30_000 * UNIT))
    reasons = unprepayable(asked, shipped, money)
    assert [r.code for r in reasons] == ["ORDER_NOT_FUNDED", "ORDER_PREPAID"]
    assert "order 1 is shipped" in reasons[0].text and "30,000.00 dUSD" in reasons[1].text


def test_the_escrows_rules_for_this_bank_are_checked_on_the_whole_amount_not_the_price() -> None:
    pool = {"available": str(100_000 * UNIT), "offered": str(30_000 * UNIT),
            "supplier": {"exposure": str(20_000 * UNIT), "offered": str(10_000 * UNIT)}}  # fmt: skip
    assert no_room(amount=40_000 * UNIT, limit=70_000 * UNIT, pool=pool, money=money) == []
    [limit] = no_room(amount=40_001 * UNIT, limit=70_000 * UNIT, pool=pool, money=money)
    assert limit.code == "EXPOSURE_LIMIT" and "70,000.00 dUSD limit" in limit.text and "20,000.00" in limit.text
    [short] = no_room(amount=70_001 * UNIT, limit=None, pool=pool, money=money)
    assert short.code == "POOL_INSUFFICIENT" and "100,000.00 dUSD available" in short.text
    # No limit (or 0) is the pricer's decline, in its own words: not counted here.
    assert no_room(amount=1, limit=0, pool=pool, money=money) == []


def test_a_prepayment_is_priced_as_pre_shipment_finance_of_the_amount_to_delivery_plus_the_claim_window() -> None:
    current = _prepayment(1)
    pool = {"supplier": {"outstanding": str(25_000 * UNIT)}}
    exposure = {"obligor": {"outstanding": str(5_000 * UNIT)}}
    core = {"status": "NOT_SCORED", "pdBps": None, "grade": None, "model": "0x" + "4d" * 32}
    seller = {"status": "SCORED", "pdBps": 180, "grade": "BBB", "model": "0x" + "4d" * 32}
    record = {"paydex12m": 80, "defaults12m": 0, "receivablesOutstanding": "0"}
    built = prepayment_quote_request(
        current=current, now=NOW, obligor_decision=core, obligor_record=record, seller_decision=seller,
        seller_limit=200_000 * UNIT, exposure=exposure, pool=pool, as_of_block=7,
    )  # fmt: skip
    assert not isinstance(built, list)
    assert (built.kind, built.face, built.maturity) == (PRE_SHIPMENT, 40_000 * UNIT, NOW + 40 * DAY + CLAIM_WINDOW)
    assert (built.obligor_kind, built.seller_pd_bps, built.seller_grade) == ("core", 180, "BBB")
    assert (built.seller_outstanding, built.obligor_outstanding) == (25_000 * UNIT, 5_000 * UNIT)
    nothing = prepayment_quote_request(
        current=current, now=NOW, obligor_decision=None, obligor_record=None, seller_decision=None,
        seller_limit=None, exposure=exposure, pool=pool,
    )  # fmt: skip
    assert isinstance(nothing, list) and [r.code for r in nothing] == ["NO_CREDIT_DECISION"]


# -- the loop ----------------------------------------------------------------------------------------------


def test_a_prepayment_request_is_offered_once_for_a_fee_of_the_amount_less_the_price(tmp_path: Path) -> None:
    api = FakePrepayments([_prepayment(1), _prepayment(2, amount=10_000 * UNIT)])
    desk = _desk(api, tmp_path / "j.jsonl")
    report = desk.run_once()
    assert (report.offered, report.declined) == (2, 0) and api.posted == []
    for offer, request in zip(api.prepayment_posted, api.prepayments, strict=True):
        assert int(offer["nonce"]) == offer_nonce(BANK.address, request["id"], request["createdAt"])
        typed = api.prepayment_offer_typed_data(request["id"], offer)["typedData"]
        assert typed["domain"]["verifyingContract"] == ESCROW and typed["message"]["guarantor"] == BANK.address
        assert eip712.recover(typed, bytes.fromhex(offer["signature"][2:])) == BANK.address
        quote = offer["pricing"]["quote"]
        assert quote["inputs"]["request"]["kind"] == PRE_SHIPMENT
        priced = recompute(POLICY, quote)
        assert isinstance(priced, Quote) and 0 < int(offer["fee"]) == int(request["amount"]) - priced.price
        # The deadline never outlives the order's ship-by.
        assert int(offer["deadline"]) <= int(request["order"]["shipBy"])
    # The second price counted the first offer as this bank's credit to the supplier (offered, not yet drawn).
    second = api.prepayment_posted[1]["pricing"]["quote"]["inputs"]["request"]
    assert int(second["seller_outstanding"]) == 40_000 * UNIT
    lines = _lines(tmp_path / "j.jsonl")
    assert {line["product"] for line in lines} == {PRE_SHIPMENT} and {line["order"] for line in lines} == {"1", "2"}
    offered = [line for line in lines if line["kind"] == "offered"]
    assert [line["amount"] for line in offered] == [str(40_000 * UNIT), str(10_000 * UNIT)]
    assert not desk.run_once().busy and len(api.prepayment_posted) == 2  # decided: never priced again

    # The offer lapses unaccepted: the ask is closed in words naming the fee, and never priced again.
    api.prepayments[0]["state"] = "open"
    assert desk.run_once().lapsed == 1 and len(api.prepayment_posted) == 2
    [(request_id, reasons)] = api.prepayment_declined
    assert request_id == api.prepayments[0]["id"] and [r["code"] for r in reasons] == ["OFFER_LAPSED"]
    assert f"for a fee of {_words(int(api.prepayment_posted[0]['fee']))}" in reasons[0]["text"]


def _words(amount: int) -> str:
    whole, part = divmod(amount, UNIT)
    return f"{whole:,}" + (f".{part:06d}".rstrip("0") if part else "") + " dUSD"


def test_what_the_escrow_would_refuse_is_declined_in_words_and_told_to_the_supplier(tmp_path: Path) -> None:
    beyond = FakePrepayments([_prepayment(1, amount=60_000 * UNIT)], limit=50_000 * UNIT)
    assert _desk(beyond, tmp_path / "limit.jsonl").run_once().declined == 1 and beyond.prepayment_posted == []
    [(_, reasons)] = beyond.prepayment_declined
    assert [r["code"] for r in reasons] == ["EXPOSURE_LIMIT"] and "50,000 dUSD limit" in reasons[0]["text"]
    declined, told = _lines(tmp_path / "limit.jsonl")
    assert (declined["kind"], declined["product"], told["kind"], told["product"]) == (
        "declined", PRE_SHIPMENT, "told", PRE_SHIPMENT,
    )  # fmt: skip

    dry = FakePrepayments([_prepayment(2)], pool=10_000 * UNIT)
    assert _desk(dry, tmp_path / "pool.jsonl").run_once().declined == 1
    [(_, reasons)] = dry.prepayment_declined
    assert [r["code"] for r in reasons] == ["POOL_INSUFFICIENT"] and "guarantee pool" in reasons[0]["text"]

    prepaid = FakePrepayments([_prepayment(3, prepaid=str(UNIT), status="FUNDED")])
    assert _desk(prepaid, tmp_path / "prepaid.jsonl").run_once().declined == 1
    assert [r["code"] for r in prepaid.prepayment_declined[0][1]] == ["ORDER_PREPAID"]


def test_typed_data_for_another_fee_is_never_signed(tmp_path: Path) -> None:
    api = FakePrepayments([_prepayment(1)])
    api.tamper = True
    assert _desk(api, tmp_path / "j.jsonl").run_once().deferred == 1
    assert api.posts == 0 and not (tmp_path / "j.jsonl").read_text()


def test_a_desk_killed_after_its_intent_posts_the_same_signed_prepayment_offer_once(tmp_path: Path) -> None:
    api = FakePrepayments([_prepayment(1)])
    desk = _desk(api, tmp_path / "j.jsonl")

    def killed(*args: Any) -> Any:
        raise KeyboardInterrupt

    real_post = api.post_prepayment_offer
    api.post_prepayment_offer = killed  # type: ignore[method-assign,assignment]
    with pytest.raises(KeyboardInterrupt):
        desk.run_once()
    desk.journal.close()
    [intent] = _lines(tmp_path / "j.jsonl")
    assert (intent["kind"], intent["product"], intent["order"]) == ("intent", PRE_SHIPMENT, "1")
    api.post_prepayment_offer = real_post  # type: ignore[method-assign]
    assert _desk(api, tmp_path / "j.jsonl").run_once().offered == 1  # the intent's very body, posted on restart
    assert [o["signature"] for o in api.prepayment_posted] == [intent["body"]["signature"]]
    # A desk that lost its journal finds its offer for the ask by the nonce, and posts no second one.
    api.replays.clear()
    api.prepayments[0].update(state="open", offers=1)
    lost = _desk(api, tmp_path / "lost.jsonl")
    assert lost.run_once().recovered == 1 and len(api.prepayment_posted) == 1
    assert _lines(tmp_path / "lost.jsonl")[-1]["offer"] == api.prepayment_posted[0]["id"]


# -- end to end: ``scf serve --index`` over a played world, the desk a client of it over HTTP ---------------


@pytest.fixture(scope="module")
def served(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    """The desk's world (``tests.support.desk_world``) with the dev bank's guarantee pool funded."""
    with served_desk_world(build, tmp_path_factory.mktemp("desk-preshipment"), slices=1) as world:
        world.fund_pool(POOL)
        yield world


def test_the_desk_backs_a_prepayment_priced_from_the_suppliers_pd_and_declines_one_beyond_its_limit(
    served: DeskWorld,
) -> None:
    world, supplier = served, served.slicer  # the supplier the dev bank published the largest limit for
    seller, bank = Party(world, world.keys[supplier]), Party(world, world.bank)
    [limit] = [int(r["limit"]) for r in seller.get("/v1/credit/limits") if r["bank"] == world.bank.address]
    amount = min(limit // 4, 200_000 * UNIT) // UNIT * UNIT
    order_id = world.funded_order(supplier, 2 * amount)
    request = seller.ask_prepayment(order_id, amount, world.bank.address)
    journal = world.root / "journal.jsonl"
    report = world.desk(journal)
    assert (report.offered, report.declined, report.deferred) == (1, 0, 0), world.logs

    # The offer backs the amount asked for a fee: the amount less the price of pre-shipment finance of it, priced
    # from the supplier's PD to the order's delivery plus the escrow's claim window, recomputed to the unit.
    [offer] = seller.get(f"/v1/prepayment-requests/{request['id']}/offers")
    assert offer["bank"] == world.bank.address and offer["amount"] == str(amount)
    assert int(offer["nonce"]) == offer_nonce(world.bank.address, request["id"], request["createdAt"])
    quote = offer["pricing"]["quote"]
    inputs = quote["inputs"]["request"]
    order = request["order"]
    assert (inputs["kind"], inputs["face"]) == (PRE_SHIPMENT, str(amount))
    assert int(inputs["maturity"]) == int(order["deliverBy"]) + order["claimWindow"]
    assert inputs["seller_pd_bps"] is not None and int(inputs["seller_limit"]) == limit
    assert quote["seller_pd_bps"] == inputs["seller_pd_bps"]  # the seller's risk is priced
    assert audit(POLICY, quote) == [] and recompute(POLICY, quote).price == amount - int(offer["fee"]) == int(
        offer["price"]
    )
    assert int(offer["deadline"]) <= int(order["shipBy"])
    pool = bank.get("/v1/banks/me/pool", supplier=supplier)
    assert pool["supplier"]["offered"] == str(amount) and pool["offered"] == str(amount)

    # The supplier draws it: amount - fee to it, the fee to the bank, the request accepted.
    tokens = TokenClient(world.world.chain, world.build, world.world.result.addresses["SettlementToken"])  # type: ignore[arg-type]
    before = {who: tokens.balance_of(who) for who in (supplier, world.bank.address)}
    seller.act(f"/v1/orders/{order_id}/prepayment", {"offerId": offer["id"]})
    after = {who: tokens.balance_of(who) for who in (supplier, world.bank.address)}
    fee = int(offer["fee"])
    assert (after[supplier] - before[supplier], after[world.bank.address] - before[world.bank.address]) == (
        amount - fee,
        fee,
    )
    accepted = seller.get(f"/v1/prepayment-requests/{request['id']}")
    assert (accepted["state"], accepted["acceptedBy"], accepted["fee"]) == ("accepted", world.bank.address, str(fee))
    assert bank.get("/v1/banks/me/pool", supplier=supplier)["supplier"]["exposure"] == str(amount)

    # A second order asks for what the limit no longer has room for: declined in words, before any price.
    second = world.funded_order(supplier, limit)
    beyond = seller.ask_prepayment(second, limit - amount + UNIT, world.bank.address)
    report = world.desk(journal)
    assert (report.offered, report.declined) == (0, 1), world.logs
    refused = seller.get(f"/v1/prepayment-requests/{beyond['id']}")
    assert refused["state"] == "declined"
    [reason] = refused["declines"][0]["reasons"]
    assert reason["code"] == "EXPOSURE_LIMIT" and "limit this bank published for the supplier" in reason["text"]
    lines = [line for line in _lines(journal) if line.get("request") == beyond["id"]]
    assert [line["kind"] for line in lines] == ["declined", "told"] and lines[0]["product"] == PRE_SHIPMENT
