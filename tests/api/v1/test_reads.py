"""Reads from the SQL projection, filtered per party: own objects only, 404 for anyone else's."""

from __future__ import annotations

from tests.api.v1.conftest import World


def _ids(world: World, role: str, path: str, key: str) -> set[int]:
    answer = world.client.get(path, headers=world.sign_in(role), params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return {item[key] for item in answer.json()["items"]}


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
        seen += [item["orderId"] for item in page["items"]]
        if page["nextAfter"] is None:
            break
        after = page["nextAfter"]
    assert seen == sorted(world.scenario.orders.values())


def _tree(world: World, role: str, root_id: int) -> set[int]:
    answer = world.client.get(f"/v1/receivables/{root_id}", headers=world.sign_in(role))
    assert answer.status_code == 200, answer.text
    return {piece["pieceId"] for piece in answer.json()["pieces"]}


def test_each_tier_sees_its_path_through_a_receivable_tree_and_not_its_peers_pieces(world: World) -> None:
    assert world.scenario is not None
    root = world.scenario.roots["tree"]
    p = world.scenario.pieces
    everything = {root, p["split"], p["financed"], p["moved"], p["tier1"]}
    assert _tree(world, "core", root) == everything  # the debtor
    assert _tree(world, "tier1", root) == everything  # the creditor
    assert _tree(world, "auditor", root) == everything
    assert _tree(world, "tier2", root) == {root, p["split"], p["moved"], p["tier1"]}  # it split p["split"]
    assert _tree(world, "tier3", root) == {root, p["split"], p["moved"]}  # holds "moved"; sold "financed"
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
