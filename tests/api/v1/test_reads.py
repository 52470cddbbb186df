"""Reads from the SQL projection, filtered per party: own objects only, 404 for anyone else's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.support.api_world import World

#: ``Number.MAX_SAFE_INTEGER``: JSON.parse rounds any integer above it.
MAX_SAFE = 2**53 - 1


def _ids(world: World, role: str, path: str, key: str) -> set[int]:
    answer = world.client.get(path, headers=world.sign_in(role), params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return {int(item[key]) for item in answer.json()["items"]}


def test_a_supplier_sees_its_own_orders_and_no_one_elses(world: World) -> None:
    assert world.scenario is not None
    all_orders = set(world.scenario.orders.values())
    assert _ids(world, "tier1", "/v1/orders", "orderId") == all_orders  # tier1 supplies every order
    assert _ids(world, "tier2", "/v1/orders", "orderId") == set()
    headers = world.sign_in("tier2")
    answer = world.client.get(f"/v1/orders/{world.scenario.orders['confirmed']}", headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"
    # A missing order answers exactly like someone else's.
    missing = world.client.get("/v1/orders/999999", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == answer.json()["error"]


def test_an_order_detail_carries_milestones_and_dispute(world: World) -> None:
    assert world.scenario is not None
    order_id = world.scenario.orders["settled_by_arbiter"]
    body = world.client.get(f"/v1/orders/{order_id}", headers=world.sign_in("core")).json()
    assert body["buyer"] == world.account("core").address
    assert body["status"] == "SETTLED"
    assert [m["name"] for m in body["milestones"]][:2] == ["SHIPPED", "DELIVERED"]
    assert body["dispute"]["resolution"] == 1
    assert body["dispute"]["toBuyer"] == str(30_000 * 10**6)


def test_a_bank_sees_the_orders_it_guaranteed_only(world: World) -> None:
    assert world.scenario is not None
    guaranteed = {world.scenario.orders["refunded_unshipped"], world.scenario.orders["prepaid_released"]}
    assert _ids(world, "bank", "/v1/orders", "orderId") == guaranteed


def test_an_auditor_sees_everything_in_pages(world: World) -> None:
    assert world.scenario is not None
    headers = world.sign_in("auditor")
    seen: list[int] = []
    after = 0
    while True:
        page = world.client.get("/v1/orders", headers=headers, params={"after": after, "limit": 4}).json()
        seen += [int(item["orderId"]) for item in page["items"]]
        if page["nextAfter"] is None:
            break
        after = page["nextAfter"]
    assert seen == sorted(world.scenario.orders.values())


def _tree(world: World, role: str, root_id: int) -> set[int]:
    answer = world.client.get(f"/v1/receivables/{root_id}", headers=world.sign_in(role))
    assert answer.status_code == 200, answer.text
    return {int(piece["pieceId"]) for piece in answer.json()["pieces"]}


def test_each_tier_sees_its_path_through_a_receivable_tree_and_not_its_peers_pieces(world: World) -> None:
    assert world.scenario is not None
    root = world.scenario.roots["tree"]
    p = world.scenario.pieces
    everything = {root, p["split"], p["financed"], p["moved"], p["tier1"]}
    assert _tree(world, "core", root) == everything  # the debtor
    assert _tree(world, "tier1", root) == everything  # the creditor
    assert _tree(world, "auditor", root) == everything
    assert _tree(world, "tier2", root) == {root, p["split"], p["moved"], p["tier1"]}  # it split p["split"]
    # holds "moved"; sold "financed" to the bank, which its books keep
    assert _tree(world, "tier3", root) == {root, p["split"], p["moved"], p["financed"]}
    assert _tree(world, "bank", root) == {root, p["financed"]}


def test_another_partys_receivable_or_piece_answers_404(world: World) -> None:
    assert world.scenario is not None
    defaulted = world.scenario.roots["defaulted"]
    assert world.client.get(f"/v1/receivables/{defaulted}", headers=world.sign_in("tier3")).status_code == 404
    assert world.client.get(f"/v1/receivables/{defaulted}", headers=world.sign_in("tier1")).status_code == 200
    financed = world.scenario.pieces["financed"]
    assert world.client.get(f"/v1/receivables/pieces/{financed}", headers=world.sign_in("tier2")).status_code == 404
    piece = world.client.get(f"/v1/receivables/pieces/{financed}", headers=world.sign_in("bank"))
    assert piece.status_code == 200
    assert piece.json()["holder"] == world.account("bank").address and piece.json()["financed"] is True
    assert _ids(world, "tier3", "/v1/receivables", "rootId") == {world.scenario.roots["tree"]}


def test_amounts_are_exact_decimal_strings(world: World) -> None:
    assert world.scenario is not None
    body = world.client.get(f"/v1/receivables/{world.scenario.roots['tree']}", headers=world.sign_in("core")).json()
    assert body["faceValue"] == str(120_000 * 10**6)
    assert body["repaid"] == body["faceValue"] and body["status"] == "REPAID"


def test_parties_list_the_members_with_their_roles(world: World) -> None:
    headers = world.sign_in("tier1")
    me = world.client.get("/v1/parties/me", headers=headers).json()
    assert me["roles"] == ["supplier"] and me["status"] == "ACTIVE"
    bank = world.client.get(f"/v1/parties/{world.account('bank').address}", headers=headers).json()
    assert bank["roles"] == ["bank"]
    listed = world.client.get("/v1/parties", headers=headers).json()
    assert world.account("core").address in {m["address"] for m in listed}


def test_credit_limits_are_seen_by_the_party_and_the_bank_that_granted_them(world: World) -> None:
    tier2 = world.client.get("/v1/credit/limits", headers=world.sign_in("tier2")).json()
    assert [(limit["party"], limit["limit"]) for limit in tier2] == [
        (world.account("tier2").address, str(2**255 + 12_345))
    ]
    bank = world.client.get("/v1/credit/limits", headers=world.sign_in("bank")).json()
    assert world.account("tier2").address in {limit["party"] for limit in bank}
    assert world.client.get("/v1/credit/limits", headers=world.sign_in("tier3")).json() == []  # its limit was revoked
    revoked = world.client.get("/v1/credit/limits?includeRevoked=true", headers=world.sign_in("tier3")).json()
    assert [limit["revoked"] for limit in revoked] == [True]
    assert world.client.get("/v1/credit/limits", headers=world.sign_in("core")).json() == []


def _numbers(value: Any, where: str = "") -> Iterator[tuple[str, int | float]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{where}[{index}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield where, value


def test_ids_times_parties_chose_and_amounts_are_decimal_strings_and_no_number_is_beyond_2_53(world: World) -> None:
    assert world.scenario is not None
    root = world.scenario.roots["tree"]
    order = world.scenario.orders["settled_by_arbiter"]
    answers = {
        (role, path): world.client.get(path, headers=world.sign_in(role), params={"limit": 200})
        for role, path in [
            ("auditor", "/v1/orders"),
            ("core", f"/v1/orders/{order}"),
            ("auditor", "/v1/receivables"),
            ("core", f"/v1/receivables/{root}"),
            ("tier3", "/v1/receivables/pieces"),
            ("tier1", "/v1/parties"),
            ("tier2", "/v1/credit/limits"),
            ("tier2", f"/v1/credit/history/{world.account('tier2').address}"),
        ]
    }
    for (role, path), answer in answers.items():
        assert answer.status_code == 200, (role, path, answer.text)
        unsafe = [(where, n) for where, n in _numbers(answer.json()) if not -MAX_SAFE <= n <= MAX_SAFE]
        assert unsafe == [], (path, unsafe)
    detail = answers[("core", f"/v1/orders/{order}")].json()
    assert detail["orderId"] == str(order)
    assert all(isinstance(detail[key], str) and detail[key].isdigit() for key in ("shipBy", "deliverBy"))
    assert all(isinstance(m["occurredAt"], str) for m in detail["milestones"])
    assert isinstance(detail["createdAt"], int) and isinstance(detail["updatedBlock"], int)  # block time and number
    tree = answers[("core", f"/v1/receivables/{root}")].json()
    assert tree["rootId"] == str(root) and tree["orderId"].isdigit() and tree["maturity"].isdigit()
    assert {(p["pieceId"], p["rootId"]) for p in tree["pieces"]} >= {(str(root), str(root))}
    assert all(isinstance(p["parentId"], str) and isinstance(p["childCount"], int) for p in tree["pieces"])
    # The one integer in this world above 2**255: exact, as a string, in the limits and their history.
    limit = answers[("tier2", "/v1/credit/limits")].json()[0]
    assert limit["limit"] == str(2**255 + 12_345) and limit["validUntil"].isdigit()
    history = answers[("tier2", f"/v1/credit/history/{world.account('tier2').address}")].json()["items"]
    assert str(2**255 + 12_345) in {event["limit"] for event in history}


def _unbounded_integers(node: Any, where: str) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            bound = min(
                node.get("maximum", 2**256), node.get("exclusiveMaximum", 2**256) - 1, node.get("const", 2**256)
            )
            if bound > MAX_SAFE:
                yield where
        for key, item in node.items():
            yield from _unbounded_integers(item, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _unbounded_integers(item, f"{where}/{index}")


def test_every_integer_the_openapi_document_declares_in_a_body_stays_below_2_53(world: World) -> None:
    """What the schema allows as a JSON number a JavaScript client can hold exactly; every wider integer is a
    decimal string (in requests: a string, or a JSON integer up to 2**53 - 1)."""
    schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
    # FastAPI's own ValidationError: `loc` holds list positions of the request body (small by the body limit).
    schemas.pop("ValidationError")
    assert list(_unbounded_integers(schemas, "#/components/schemas")) == []
    transaction = schemas["TransactionOut"]["properties"]
    assert {"gasLimit", "value", "nonce", "maxFeePerGas"} <= set(transaction) and "gas" not in transaction
    assert (
        transaction["gasLimit"]["type"] == "string" and schemas["OrderOut"]["properties"]["orderId"]["type"] == "string"
    )
    amount = {s["type"]: s for s in schemas["OrderTermsIn"]["properties"]["amount"]["anyOf"]}
    assert amount["string"]["pattern"] == "^[0-9]{1,78}$" and amount["integer"]["maximum"] == MAX_SAFE
