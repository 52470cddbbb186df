"""A world for the event feed and webhook suites: two banks, suppliers, and every kind of fact a party follows.

``open_events_world(fresh, store_url, ...)`` takes a module's ``fresh`` API world (its own anvil,
indexed into SQLite: ``tests.support.api_world``), admits a second bank (``bank2``, once per chain),
gives the dev bank and the core enterprise deposits approved for Receivables, and serves the API
again over the same chain and index with the event feed's and webhooks' options the suite passes and
the API's own tables in ``store_url`` (None: in the index's database, the default; a PostgreSQL URL:
the store apart, as ``SCF_API_DB_URL`` puts it). No dispatcher runs in it: the suites make their own
(``dispatcher``) and drive its clock and rounds.

The facts are made as the parties make them: a receivable issued on chain and indexed
(``piece``), a request and a bank's offer over HTTP (``ask``, ``offer``: the offer signed with
eth-account from the typed data served), a bank's decline and the holder's withdrawal over HTTP
(``decline``, ``withdraw``), the holder's acceptance, a repayment, a default and a published limit on
chain (``finance``, ``repay``, ``default``, ``grant``), then indexed. Pre-shipment finance the same
way: a funded order of the core from ``tier1`` (``order``), the supplier's request, a bank's signed
offer, its decline and the supplier's withdrawal over HTTP (``ask_prepayment``, ``offer_prepayment``,
``decline_prepayment``, ``withdraw_prepayment``), the draw and the buyer's refund of an order never
shipped, which claims the guarantee, on chain (``draw``, ``refund_unshipped``), then indexed; the chain
is prepared for it once (the core's deposits allowed to the escrow, the dev bank's guarantee pool, and
a limit the dev bank publishes for ``tier1``). Invoice and order numbers and nonces are drawn at
random, so the SQLite and PostgreSQL runs of a module share the chain.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.events import Feed, StreamOptions
from api.v1.webhooks import DeliveryOptions, Dispatcher, SecretBox
from api.v1.webhooks.dispatcher import Sender
from ledger.clients.credit import CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.membership import MembershipClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import PrepaymentOffer
from ledger.domain.receivables import FinanceOffer
from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World
from tests.support.escrow import make_terms, signatures
from tests.support.receivables import EXTRA, issue, issue_terms, receivables_of

UNIT = 10**6
DAY = 86_400
MAX_UINT256 = 2**256 - 1
ACTIVE = 1
#: The dev bank's guarantee pool, and the limit it publishes for ``tier1`` (a test may publish another).
POOL = 10**7 * UNIT
LIMIT = 10**6 * UNIT
DECLINED = [{"code": "EXPOSURE_LIMIT", "text": "this bank's limit for the seller is spent"}]


@dataclasses.dataclass
class EventsWorld:
    world: World
    client: TestClient
    store_kind: str
    tokens: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def feed(self) -> Feed:
        feed: Feed = self.client.app.state.feed  # type: ignore[attr-defined]
        return feed

    def account(self, who: str | LocalAccount) -> LocalAccount:
        if isinstance(who, LocalAccount):
            return who
        return EXTRA["bank2"] if who == "bank2" else self.world.account(who)

    def address(self, who: str | LocalAccount) -> str:
        return self.account(who).address

    def headers(self, who: str | LocalAccount) -> dict[str, str]:
        """Each party signs in once per world (a token lasts the module)."""
        address = self.address(who)
        if address not in self.tokens:
            self.tokens[address] = self.world.sign_in(self.account(who))
        return self.tokens[address]

    def dispatcher(
        self, options: DeliveryOptions, clock: Callable[[], float], send: Sender | None = None
    ) -> Dispatcher:
        """A webhook dispatcher over this world's store and index, on ``clock`` (and ``send``: default, HTTP)."""
        settings = self.world.settings
        feed = Feed(self.feed.index, self.feed.store, settings.chain.chain_id)
        box = SecretBox(settings.webhook_key)
        return Dispatcher(feed, box, options, auditors=settings.auditors, clock=clock, send=send)

    # -- facts ------------------------------------------------------------------------------------------------

    def piece(self, holder: str = "tier1", maturity_in: int = 90 * DAY) -> int:
        """A new receivable of the core enterprise to ``holder``, issued on chain and indexed: its (root) piece id."""
        n = secrets.randbelow(2**48)
        deployed = self.world.deployed
        terms = issue_terms(deployed, creditor=holder, invoice=f"EVENTS-{n}", nonce=n, maturity_in=maturity_in)
        root_id, _ = issue(deployed, terms)
        self.world.index()
        return root_id

    def ask(self, holder: str, piece: int, bank: str | None = None) -> dict[str, Any]:
        body = {} if bank is None else {"bank": self.address(bank)}
        answer = self.client.post(
            f"/v1/receivables/pieces/{piece}/financing-requests", json=body, headers=self.headers(holder)
        )
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def offer(self, bank: str, piece: int, price: int = 90 * UNIT) -> dict[str, Any]:
        terms = {
            "price": str(price),
            "deadline": self.world.chain.timestamp() + DAY,
            "nonce": str(secrets.randbits(64)),
        }
        typed = self.client.post(
            f"/v1/receivables/pieces/{piece}/offers/typed-data", json=terms, headers=self.headers(bank)
        )
        assert typed.status_code == 200, typed.text
        signature = Account.sign_typed_data(self.account(bank).key, full_message=typed.json()["typedData"]).signature
        answer = self.client.post(
            f"/v1/receivables/pieces/{piece}/offers",
            json={**terms, "signature": "0x" + signature.hex()},
            headers=self.headers(bank),
        )
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def decline(self, bank: str, request_id: str, reasons: list[dict[str, str]] = DECLINED) -> dict[str, Any]:
        """``bank`` declines the financing request's current ask in words."""
        answer = self.client.post(
            f"/v1/financing-requests/{request_id}/decline", json={"reasons": reasons}, headers=self.headers(bank)
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def withdraw(self, holder: str, request_id: str) -> dict[str, Any]:
        answer = self.client.post(f"/v1/financing-requests/{request_id}/withdraw", headers=self.headers(holder))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def finance(self, offer: dict[str, Any], holder: str = "tier1") -> None:
        """The holder takes the bank's signed offer on chain (the bank pays and holds the piece); indexed."""
        terms = FinanceOffer(
            int(offer["pieceId"]), offer["bank"], int(offer["price"]), int(offer["deadline"]), int(offer["nonce"])
        )
        signature = bytes.fromhex(offer["signature"][2:])
        receivables_of(self.world.deployed).finance(terms, signature, self.account(holder))
        self.world.index()

    def repay(self, root: int, amount: int) -> None:
        receivables_of(self.world.deployed).repay(root, amount, self.account("core"))
        self.world.index()

    def default(self, root: int) -> None:
        """Past the root's maturity and grace period, marked DEFAULTED (by the dev bank); indexed."""
        client = receivables_of(self.world.deployed)
        late = client.root(root).maturity + client.grace_period() + 1 - self.world.chain.timestamp()
        if late > 0:
            self.world.chain.advance_time(late)
        client.mark_defaulted(root, self.account("bank"))
        self.world.index()

    def grant(self, bank: str, party: str, limit: int) -> None:
        deployed = self.world.deployed
        registry = CreditRegistryClient(deployed.chain, deployed.build, deployed.addresses["CreditRegistry"])
        registry.grant(self.account(bank), self.address(party), limit, self.world.chain.timestamp() + 90 * DAY)
        self.world.index()

    # -- pre-shipment finance ---------------------------------------------------------------------------------

    @property
    def escrow(self) -> TradeEscrowClient:
        deployed = self.world.deployed
        return TradeEscrowClient(deployed.chain, deployed.build, deployed.addresses["TradeEscrow"])

    def order(self, amount: int = 10_000 * UNIT, ship_in: int = 20 * DAY) -> int:
        """A new order of the core from ``tier1``, co-signed, created and funded on chain, and indexed: its id."""
        n = secrets.randbelow(2**48)
        deployed = self.world.deployed
        terms = make_terms(
            deployed, supplier="tier1", amount=amount, po=f"EVENTS-PO-{n}", nonce=n, ship_in=ship_in,
            deliver_in=ship_in + 20 * DAY,
        )  # fmt: skip
        order_id, _ = self.escrow.create_order(terms, *signatures(deployed, terms), self.account("core"))
        self.escrow.fund(order_id, self.account("core"))
        self.world.index()
        return order_id

    def ask_prepayment(self, order_id: int, amount: int, bank: str | None = None) -> dict[str, Any]:
        body = {"amount": str(amount)} | ({} if bank is None else {"bank": self.address(bank)})
        answer = self.client.post(
            f"/v1/orders/{order_id}/prepayment-requests", json=body, headers=self.headers("tier1")
        )
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def offer_prepayment(self, bank: str, request_id: str, fee: int = UNIT) -> dict[str, Any]:
        """``bank``'s offer on the pre-payment request: the typed data served, signed with eth-account, posted."""
        terms = {
            "fee": str(fee),
            "deadline": str(self.world.chain.timestamp() + DAY),
            "nonce": str(secrets.randbits(64)),
        }
        path = f"/v1/prepayment-requests/{request_id}/offers"
        typed = self.client.post(f"{path}/typed-data", json=terms, headers=self.headers(bank))
        assert typed.status_code == 200, typed.text
        signature = Account.sign_typed_data(self.account(bank).key, full_message=typed.json()["typedData"]).signature
        answer = self.client.post(path, json={**terms, "signature": "0x" + signature.hex()}, headers=self.headers(bank))
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def decline_prepayment(
        self, bank: str, request_id: str, reasons: list[dict[str, str]] = DECLINED
    ) -> dict[str, Any]:
        answer = self.client.post(
            f"/v1/prepayment-requests/{request_id}/decline", json={"reasons": reasons}, headers=self.headers(bank)
        )
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def withdraw_prepayment(self, request_id: str) -> dict[str, Any]:
        answer = self.client.post(f"/v1/prepayment-requests/{request_id}/withdraw", headers=self.headers("tier1"))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def draw(self, offer: dict[str, Any]) -> None:
        """The supplier draws the bank's signed pre-payment offer on chain; indexed."""
        terms = PrepaymentOffer(
            int(offer["orderId"]), offer["bank"], int(offer["amount"]), int(offer["fee"]), int(offer["deadline"]),
            int(offer["nonce"]),
        )  # fmt: skip
        self.escrow.request_prepayment(terms, bytes.fromhex(offer["signature"][2:]), self.account("tier1"))
        self.world.index()

    def refund_unshipped(self, order_id: int) -> None:
        """Past the order's ship-by with nothing shipped, the buyer is refunded (from the guarantor's pool for what
        was pre-paid: the guarantee is claimed); indexed."""
        late = self.escrow.order(order_id).terms.ship_by + 1 - self.world.chain.timestamp()
        if late > 0:
            self.world.chain.advance_time(late)
        self.escrow.refund_unshipped(order_id, self.account("core"))
        self.world.index()

    # -- reading ----------------------------------------------------------------------------------------------

    def page(self, who: str | LocalAccount, **params: Any) -> dict[str, Any]:
        """``GET /v1/events`` (a JSON page) once the journal holds every fact made so far, as ``scf serve``'s
        dispatcher keeps it (a read syncs only once per ``poll``)."""
        self.feed.catch_up()
        answer = self.client.get("/v1/events", params=params, headers=self.headers(who))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def events(self, who: str | LocalAccount, after: int = 0, **params: Any) -> list[dict[str, Any]]:
        """Every event ``who`` may see after ``after``, paging to the end."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.page(who, after=str(after), limit=200, **params)
            found.extend(page["items"])
            after = int(page["nextAfter"])
            if not page["hasMore"]:
                return found


def _prepare_chain(world: World) -> None:
    """The second bank admitted, deposits for the dev bank (to finance) and the core (to repay and fund orders), the dev
    bank's guarantee pool and its limit for ``tier1`` (to back pre-payments): once per chain."""
    deployed = world.deployed
    membership = MembershipClient(deployed.chain, deployed.build, deployed.addresses["Membership"])
    bank2 = EXTRA["bank2"]
    if membership.member_of(bank2.address).status == ACTIVE:
        return
    membership.admit(bank2.address, ROLE["bank"], 0, keccak(text="kyc: events bank 2"), world.account("admin"))
    tokens = TokenClient(deployed.chain, deployed.build, deployed.addresses["SettlementToken"])
    bank, core = world.account("bank"), world.account("core")
    for holder in (bank, core):
        tokens.mint(holder.address, 10**9 * UNIT, bank)
        tokens.approve(deployed.addresses["Receivables"], MAX_UINT256, holder)
        tokens.approve(deployed.addresses["TradeEscrow"], MAX_UINT256, holder)
    TradeEscrowClient(deployed.chain, deployed.build, deployed.addresses["TradeEscrow"]).fund_pool(POOL, bank)
    registry = CreditRegistryClient(deployed.chain, deployed.build, deployed.addresses["CreditRegistry"])
    registry.grant(bank, world.account("tier1").address, LIMIT, world.chain.timestamp() + 365 * DAY)
    world.index()


@contextmanager
def open_events_world(
    fresh: World,
    store_url: str | None,
    *,
    stream: StreamOptions | None = None,
    delivery: DeliveryOptions | None = None,
    **settings: Any,
) -> Iterator[EventsWorld]:
    """The events world over ``fresh`` (see the module notes); ``settings`` replace fields of the API's settings."""
    _prepare_chain(fresh)
    replaced = dataclasses.replace(fresh.settings, store_url=store_url, **settings)
    kind = "sqlite" if store_url is None else store_url.split(":", 1)[0].split("+", 1)[0]
    app = create_app(replaced, stream=stream, delivery=delivery)
    with TestClient(app) as client:
        world = dataclasses.replace(fresh, settings=replaced, client=client)
        yield EventsWorld(world, client, kind)
