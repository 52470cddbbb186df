"""What the desk's loop does differently for each product it finances: where the asks are, what an offer is.

The desk prices two products (``scoring.policy.PRODUCTS``) through one loop (``api.desk.desk``): the journal,
the never-twice rules (nonce and Idempotency-Key from the bank, the request and its round), the intent before
the post, the recovery after a crash, the declines told in words and the lapsed offers closed in words are
the same for both. A ``Product`` is the little that differs:

* ``RECEIVABLE``: buying a piece of a receivable. The inbox is ``/v1/financing-requests``; an offer is a
  ``FinanceOffer`` on the Receivables contract for a **price**, posted on the piece; a journal line names
  the ``piece`` (and no ``product``: every line from before pre-shipment finance is one of these).
* ``PRE_SHIPMENT``: backing a pre-payment of a funded order. The inbox is ``/v1/prepayment-requests``; an
  offer is a ``PrepaymentOffer`` on TradeEscrow for a **fee** (the order's ``amount`` less the price the
  pricer gave), posted on the request; a journal line names the ``order`` and ``"product": "pre-shipment"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from api.desk.client import BankApi
from scoring.policy import PRE_SHIPMENT, RECEIVABLE


@dataclass(frozen=True)
class Product:
    """One product's side of the loop; ``Receivable`` and ``PreShipment`` say where its asks and offers are."""

    name: str  # scoring.policy's product name
    subject: str  # what a journal line names: "piece" or "order"
    item_key: str  # where an inbox item names it: "pieceId" or "orderId"
    asker: str  # who asked, in an inbox item and an offer: "holder" or "supplier"
    contract: str  # the contract whose EIP-712 domain an offer is signed in
    primary_type: str  # the offer's EIP-712 type
    terms: str  # the signed term the desk prices: "price" or "fee"

    @property
    def stamp(self) -> dict[str, str]:
        """What a journal line of this product carries to say so (nothing for a receivable: the lines before)."""
        return {} if self.name == RECEIVABLE else {"product": self.name}

    def subject_of(self, source: dict[str, Any]) -> int:
        """The piece or order an inbox item (``pieceId``; its ``order`` is the order itself) or a journal line
        (``piece``, ``order``) is about."""
        return int(source[self.item_key] if self.item_key in source else source[self.subject])

    def mine(self, offers: list[dict[str, Any]], request: dict[str, Any], bank: str) -> list[dict[str, Any]]:
        """``bank``'s offers to the asker among ``offers`` (a piece's offers are to every holder it had)."""
        asker = request.get(self.asker)
        return [o for o in offers if o.get("bank") == bank and o.get(self.asker) == asker]

    def inbox(self, api: BankApi) -> Iterable[dict[str, Any]]:
        raise NotImplementedError

    def offers(self, api: BankApi, request_id: str, subject: int) -> list[dict[str, Any]] | None:
        """This bank's offers where an offer of the ask would be (None: no longer shown to it)."""
        raise NotImplementedError

    def typed_data(self, api: BankApi, request_id: str, subject: int, terms: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def post(self, api: BankApi, request_id: str, subject: int, body: dict[str, Any], key: str) -> dict[str, Any]:
        raise NotImplementedError

    def decline(self, api: BankApi, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        raise NotImplementedError

    def message(self, request: dict[str, Any], bank: str, value: int, deadline: int, nonce: int) -> dict[str, Any]:
        """The EIP-712 message of the offer the desk asks for (``value``: the price or the fee)."""
        raise NotImplementedError

    def words(self, record: dict[str, Any], money: Callable[[int], str]) -> str:
        """An offer's terms in words, from a journal line (empty when it names none)."""
        raise NotImplementedError

    def details(self, request: dict[str, Any]) -> dict[str, Any]:
        """What an intent records of the ask besides the signed body (the amount a pre-payment offer backs)."""
        return {}


class Receivable(Product):
    def inbox(self, api: BankApi) -> Iterable[dict[str, Any]]:
        return api.inbox()

    def offers(self, api: BankApi, request_id: str, subject: int) -> list[dict[str, Any]] | None:
        return api.offers(subject)

    def typed_data(self, api: BankApi, request_id: str, subject: int, terms: dict[str, str]) -> dict[str, Any]:
        return api.offer_typed_data(subject, terms)

    def post(self, api: BankApi, request_id: str, subject: int, body: dict[str, Any], key: str) -> dict[str, Any]:
        return api.post_offer(subject, body, key)

    def decline(self, api: BankApi, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        return api.decline(request_id, reasons)

    def message(self, request: dict[str, Any], bank: str, value: int, deadline: int, nonce: int) -> dict[str, Any]:
        return {"pieceId": self.subject_of(request), "bank": bank, "price": value, "deadline": deadline, "nonce": nonce}

    def words(self, record: dict[str, Any], money: Callable[[int], str]) -> str:
        price = record.get("price")
        return "" if price is None else f" of {money(int(price))}"


class PreShipment(Product):
    def inbox(self, api: BankApi) -> Iterable[dict[str, Any]]:
        return api.prepayment_inbox()

    def offers(self, api: BankApi, request_id: str, subject: int) -> list[dict[str, Any]] | None:
        return api.prepayment_offers(request_id)

    def typed_data(self, api: BankApi, request_id: str, subject: int, terms: dict[str, str]) -> dict[str, Any]:
        return api.prepayment_offer_typed_data(request_id, terms)

    def post(self, api: BankApi, request_id: str, subject: int, body: dict[str, Any], key: str) -> dict[str, Any]:
        return api.post_prepayment_offer(request_id, body, key)

    def decline(self, api: BankApi, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        return api.decline_prepayment(request_id, reasons)

    def message(self, request: dict[str, Any], bank: str, value: int, deadline: int, nonce: int) -> dict[str, Any]:
        return {"orderId": self.subject_of(request), "guarantor": bank, "amount": int(request["amount"]), "fee": value,
                "deadline": deadline, "nonce": nonce}  # fmt: skip

    def details(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"amount": str(request["amount"])}

    def words(self, record: dict[str, Any], money: Callable[[int], str]) -> str:
        fee, amount = record.get("fee"), record.get("amount")
        if fee is None:
            return ""
        backing = "" if amount is None else f" backing {money(int(amount))}"
        return f"{backing} for a fee of {money(int(fee))}"


RECEIVABLES = Receivable(RECEIVABLE, "piece", "pieceId", "holder", "Receivables", "FinanceOffer", "price")
PRE_SHIPMENTS = PreShipment(PRE_SHIPMENT, "order", "orderId", "supplier", "TradeEscrow", "PrepaymentOffer", "fee")
#: The products in the order a pass follows their inboxes.
FOLLOWED = (RECEIVABLES, PRE_SHIPMENTS)


def product_of(line: dict[str, Any]) -> Product:
    """The product a journal line is about (no ``product``: a receivable, as every line before pre-shipment)."""
    return PRE_SHIPMENTS if line.get("product") == PRE_SHIPMENT else RECEIVABLES
