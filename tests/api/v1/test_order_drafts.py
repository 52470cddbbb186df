"""Order drafts (``api.v1.order_drafts``): one side signs and drafts, the other finds it, co-signs and creates it."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils import keccak

from tests.support.api_world import World
from tests.support.wallet import sign_prepared

UNIT = 10**6
DAY = 86_400


def _terms(world: World, po: str, nonce: int) -> dict[str, Any]:
    now = world.chain.timestamp()
    return {
        "buyer": world.account("core").address,
        "supplier": world.account("tier1").address,
        "amount": str(2_500 * UNIT),
        "shipBy": now + 7 * DAY,
        "deliverBy": now + 14 * DAY,
        "inspectionRequired": False,
        "termsHash": "0x" + keccak(text=f"terms of {po}").hex(),
        "poReference": po,
        "nonce": nonce,
        "deadline": now + DAY,
    }


def _signed(world: World, role: str, terms: dict[str, Any]) -> str:
    typed = world.client.post("/v1/orders/typed-data", json=terms, headers=world.sign_in(role)).json()["typedData"]
    return "0x" + Account.sign_typed_data(world.account(role).key, full_message=typed).signature.hex()


def test_a_supplier_drafts_and_the_core_finds_it_co_signs_and_creates_the_order(fresh: World) -> None:
    terms = _terms(fresh, "DRAFT-PO-1", 71)
    drafted = fresh.client.post(
        "/v1/orders/drafts",
        json={"terms": terms, "signature": _signed(fresh, "tier1", terms)},
        headers=fresh.sign_in("tier1"),
    )
    assert drafted.status_code == 201, drafted.text
    draft = drafted.json()
    assert (draft["state"], draft["awaiting"], draft["drafter"]) == ("awaiting", terms["buyer"], terms["supplier"])
    assert draft["terms"]["amount"] == terms["amount"] and draft["terms"]["nonce"] == "71"  # decimal strings
    # The same terms drafted again answer the same draft.
    again = fresh.client.post(
        "/v1/orders/drafts", json={"terms": terms, "signature": draft["signature"]}, headers=fresh.sign_in("tier1")
    )
    assert again.json()["id"] == draft["id"]

    core = fresh.sign_in("core")
    waiting = [d for d in fresh.client.get("/v1/orders/drafts", headers=core).json() if d["state"] == "awaiting"]
    assert [d["id"] for d in waiting] == [draft["id"]]
    body = {
        "terms": terms,
        "buyerSignature": _signed(fresh, "core", draft["terms"]),
        "supplierSignature": draft["signature"],
    }
    prepared = fresh.client.post("/v1/orders", json=body, headers=core)
    assert prepared.status_code == 200, prepared.text
    raw = sign_prepared(fresh.account("core"), prepared.json())
    assert fresh.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=core).status_code == 202
    fresh.index()
    done = fresh.client.get(f"/v1/orders/drafts/{draft['id']}", headers=core).json()
    assert done["state"] == "created" and done["awaiting"] is None
    order = fresh.client.get(f"/v1/orders/{done['orderId']}", headers=core).json()
    assert (order["supplier"], order["amount"]) == (terms["supplier"], terms["amount"])
    # Made: nothing left to withdraw.
    refused = fresh.client.post(f"/v1/orders/drafts/{draft['id']}/withdraw", headers=fresh.sign_in("tier1"))
    assert refused.status_code == 409 and refused.json()["error"] == "order_draft_created"


def test_a_draft_needs_the_drafters_own_signature_and_only_its_sides_see_it(fresh: World) -> None:
    terms = _terms(fresh, "DRAFT-PO-2", 72)
    forged = fresh.client.post(
        "/v1/orders/drafts",
        json={"terms": terms, "signature": _signed(fresh, "core", terms)},
        headers=fresh.sign_in("tier1"),
    )
    assert forged.status_code == 422 and forged.json()["field"] == "signature", forged.text
    stranger = fresh.client.post(
        "/v1/orders/drafts",
        json={"terms": terms, "signature": _signed(fresh, "core", terms)},
        headers=fresh.sign_in("tier2"),
    )
    assert stranger.status_code == 403
    draft = fresh.client.post(
        "/v1/orders/drafts",
        json={"terms": terms, "signature": _signed(fresh, "core", terms)},
        headers=fresh.sign_in("core"),
    ).json()
    assert draft["awaiting"] == terms["supplier"]
    assert fresh.client.get(f"/v1/orders/drafts/{draft['id']}", headers=fresh.sign_in("tier2")).status_code == 404
    assert draft["id"] not in {
        d["id"] for d in fresh.client.get("/v1/orders/drafts", headers=fresh.sign_in("tier2")).json()
    }
    # Only its drafter withdraws it.
    assert (
        fresh.client.post(f"/v1/orders/drafts/{draft['id']}/withdraw", headers=fresh.sign_in("tier1")).status_code
        == 403
    )
    withdrawn = fresh.client.post(f"/v1/orders/drafts/{draft['id']}/withdraw", headers=fresh.sign_in("core")).json()
    assert withdrawn["state"] == "withdrawn" and withdrawn["withdrawnAt"] is not None


def test_a_draft_past_its_signatures_deadline_is_expired(fresh: World) -> None:
    terms = {**_terms(fresh, "DRAFT-PO-3", 73), "deadline": fresh.chain.timestamp() + 60}
    draft = fresh.client.post(
        "/v1/orders/drafts",
        json={"terms": terms, "signature": _signed(fresh, "core", terms)},
        headers=fresh.sign_in("core"),
    ).json()
    assert draft["state"] == "awaiting"
    fresh.chain.advance_time(120)
    fresh.index()
    assert (
        fresh.client.get(f"/v1/orders/drafts/{draft['id']}", headers=fresh.sign_in("core")).json()["state"] == "expired"
    )
