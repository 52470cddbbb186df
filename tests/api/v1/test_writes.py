"""Writes over HTTP: typed data signed by the parties, transactions signed by them, relayed and indexed.

Every test signs on the client side with eth-account, exactly as a wallet would, and checks
the outcome through the API's own reads after the indexer has run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.clients.token import TokenClient
from ledger.eth import eip712
from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World
from tests.support.wallet import sign_prepared

UNIT = 10**6
DAY = 86_400


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def sign_typed(account: LocalAccount, typed: dict[str, Any]) -> str:
    return _hex(Account.sign_typed_data(account.key, full_message=typed).signature)


def act(world: World, role: str | LocalAccount, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST an action as ``role``, sign the transaction it answers, submit it, index, and return its status."""
    account = world.account(role) if isinstance(role, str) else role
    headers = world.sign_in(account)
    prepared = world.client.post(path, json=body or {}, headers=headers)
    assert prepared.status_code == 200, prepared.text
    submitted = world.client.post(
        "/v1/submissions", json={"rawTransaction": sign_prepared(account, prepared.json())}, headers=headers
    )
    assert submitted.status_code == 202, submitted.text
    assert submitted.headers["location"] == submitted.json()["statusUrl"]
    world.index()
    status = world.client.get(submitted.json()["statusUrl"], headers=headers).json()
    assert status["status"] == "mined" and status["indexed"] is True, status
    return status


def order_terms(world: World, po: str, nonce: int, amount: int = 1_000 * UNIT) -> dict[str, Any]:
    now = world.chain.timestamp()
    return {
        "buyer": world.account("core").address,
        "supplier": world.account("tier1").address,
        "amount": str(amount),
        "shipBy": now + 7 * DAY,
        "deliverBy": now + 14 * DAY,
        "inspectionRequired": False,
        "termsHash": _hex(keccak(text=f"terms of {po}")),
        "poReference": po,
        "nonce": nonce,
        "deadline": now + DAY,
    }


def create_order(world: World, po: str, nonce: int) -> int:
    terms = order_terms(world, po, nonce)
    typed = world.client.post("/v1/orders/typed-data", json=terms, headers=world.sign_in("core")).json()["typedData"]
    body = {
        "terms": terms,
        "buyerSignature": sign_typed(world.account("core"), typed),
        "supplierSignature": sign_typed(world.account("tier1"), typed),
    }
    created = act(world, "core", "/v1/orders", body)["created"]
    listed = world.client.get("/v1/orders", headers=world.sign_in("tier1"), params={"limit": 200}).json()["items"]
    # The submission names the order the contract numbered, as the reads do: a decimal string.
    assert created == {"orderId": max((item["orderId"] for item in listed), key=int)}
    return int(created["orderId"])


def mint(world: World, role: str, amount: int) -> None:
    tokens = TokenClient(world.chain, world.deployed.build, world.deployed.addresses["SettlementToken"])
    tokens.mint(world.account(role).address, amount, world.account("bank"))


def test_an_order_is_co_signed_created_approved_and_funded_over_http(fresh: World) -> None:
    order_id = create_order(fresh, "API-PO-1", 1)
    order = fresh.client.get(f"/v1/orders/{order_id}", headers=fresh.sign_in("tier1")).json()
    assert order["status"] == "CREATED" and order["amount"] == str(1_000 * UNIT)
    assert order["token"] == fresh.deployed.addresses["SettlementToken"]
    mint(fresh, "core", 5_000 * UNIT)
    act(fresh, "core", "/v1/token/approvals", {"spender": "TradeEscrow", "amount": str(5_000 * UNIT)})
    assert act(fresh, "core", f"/v1/orders/{order_id}/fund")["created"] is None  # funding makes nothing new
    funded = fresh.client.get(f"/v1/orders/{order_id}", headers=fresh.sign_in("core")).json()
    assert funded["status"] == "FUNDED" and funded["escrowed"] == str(1_000 * UNIT)
    # Funding twice: the simulation reverts, answered at once with the contract's error.
    again = fresh.client.post(f"/v1/orders/{order_id}/fund", headers=fresh.sign_in("core"))
    assert again.status_code == 409
    assert again.json()["contract_error"] == "TradeEscrowInvalidStatus"


def test_a_signature_by_the_wrong_party_is_422_naming_it(fresh: World) -> None:
    terms = order_terms(fresh, "API-PO-2", 2)
    typed = fresh.client.post("/v1/orders/typed-data", json=terms, headers=fresh.sign_in("core")).json()["typedData"]
    body = {
        "terms": terms,
        "buyerSignature": sign_typed(fresh.account("core"), typed),
        "supplierSignature": sign_typed(fresh.account("tier2"), typed),
    }
    answer = fresh.client.post("/v1/orders", json=body, headers=fresh.sign_in("core"))
    assert answer.status_code == 422
    assert answer.json()["field"] == "supplierSignature"


def test_other_partys_actions_are_404_for_strangers_and_403_for_the_wrong_side(fresh: World) -> None:
    order_id = create_order(fresh, "API-PO-3", 3)
    assert fresh.client.post(f"/v1/orders/{order_id}/fund", headers=fresh.sign_in("tier2")).status_code == 404
    wrong_side = fresh.client.post(f"/v1/orders/{order_id}/fund", headers=fresh.sign_in("tier1"))
    assert wrong_side.status_code == 403 and wrong_side.json()["action"] == "fund"
    # An auditor sees the order but is read-only.
    assert fresh.client.get(f"/v1/orders/{order_id}", headers=fresh.sign_in("auditor")).status_code == 200
    assert fresh.client.post(f"/v1/orders/{order_id}/cancel", headers=fresh.sign_in("auditor")).status_code == 403
    # Drafting an order between two other parties is refused.
    terms = order_terms(fresh, "API-PO-x", 9)
    assert fresh.client.post("/v1/orders/typed-data", json=terms, headers=fresh.sign_in("tier2")).status_code == 403


def test_mass_assignment_of_server_owned_fields_is_422(fresh: World) -> None:
    terms = {**order_terms(fresh, "API-PO-4", 4), "token": fresh.account("tier2").address}
    answer = fresh.client.post("/v1/orders/typed-data", json=terms, headers=fresh.sign_in("core"))
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "token"]
    status = {**order_terms(fresh, "API-PO-4", 4), "status": "RELEASED"}
    assert fresh.client.post("/v1/orders/typed-data", json=status, headers=fresh.sign_in("core")).status_code == 422


def test_bad_amounts_are_422_naming_the_field(fresh: World) -> None:
    headers = fresh.sign_in("core")
    for amount in (-5, 0, "0", str(2**256), 2**256, "1.5", 1.5, "1e6", True, "-1"):
        terms = {**order_terms(fresh, "API-PO-5", 5), "amount": amount}
        answer = fresh.client.post("/v1/orders/typed-data", json=terms, headers=headers)
        assert answer.status_code == 422, amount
        assert answer.json()["detail"][0]["loc"] == ["body", "amount"], amount


def _transfer_tx(world: World, signer: LocalAccount, **changes: Any) -> str:
    token = world.chain.contract(world.deployed.build["SettlementToken"], world.deployed.addresses["SettlementToken"])
    tx = {
        "type": 2,
        "chainId": world.chain.chain_id,
        "to": token.address,
        "data": _hex(bytes.fromhex(token.encode_abi("approve", [signer.address, 1])[2:])),
        "value": 0,
        "nonce": world.chain.w3.eth.get_transaction_count(signer.address),
        "gas": 100_000,
        # Within the relayer's fee policy (3 x base fee + priority): it refuses to fund more.
        "maxFeePerGas": 2 * int(world.chain.w3.eth.get_block("latest").get("baseFeePerGas") or 0) + 10**9,
        "maxPriorityFeePerGas": 10**9,
        **changes,
    }
    return _hex(signer.sign_transaction(tx).raw_transaction)


def test_submissions_accept_only_the_partys_own_ledger_calls(fresh: World) -> None:
    headers = fresh.sign_in("core")
    core, tier1 = fresh.account("core"), fresh.account("tier1")
    other = fresh.client.post("/v1/submissions", json={"rawTransaction": _transfer_tx(fresh, tier1)}, headers=headers)
    assert other.status_code == 403
    membership = fresh.deployed.addresses["Membership"]
    admin_call = _transfer_tx(fresh, core, to=membership)
    answer = fresh.client.post("/v1/submissions", json={"rawTransaction": admin_call}, headers=headers)
    assert answer.status_code == 422 and answer.json()["field"] == "rawTransaction"
    wrong_chain = _transfer_tx(fresh, core, chainId=1)
    assert (
        fresh.client.post("/v1/submissions", json={"rawTransaction": wrong_chain}, headers=headers).status_code == 422
    )
    garbage = fresh.client.post("/v1/submissions", json={"rawTransaction": "0x02deadbeef"}, headers=headers)
    assert garbage.status_code == 422
    ok = fresh.client.post("/v1/submissions", json={"rawTransaction": _transfer_tx(fresh, core)}, headers=headers)
    assert ok.status_code == 202
    # Another party cannot read the submission's status.
    assert fresh.client.get(ok.json()["statusUrl"], headers=fresh.sign_in("tier1")).status_code == 404


def test_a_retry_with_the_same_idempotency_key_gets_the_stored_answer(fresh: World) -> None:
    headers = {**fresh.sign_in("core"), "Idempotency-Key": "retry-1"}
    raw = _transfer_tx(fresh, fresh.account("core"))
    first = fresh.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=headers)
    second = fresh.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    # Without the key the same transaction is a new request: the node knows it already.
    assert (
        fresh.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=fresh.sign_in("core")).status_code
        == 409
    )
    other = fresh.client.post("/v1/submissions", json={"rawTransaction": raw + "00"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"


def test_two_concurrent_requests_with_one_key_execute_once(fresh: World) -> None:
    headers = {**fresh.sign_in("core"), "Idempotency-Key": "twins-1"}
    raw = _transfer_tx(fresh, fresh.account("core"))

    def post(_: int) -> tuple[int, dict[str, Any]]:
        answer = fresh.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=headers)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, range(4)))
    assert {status for status, _ in answers} == {202}
    assert len({body["id"] for _, body in answers}) == 1


def test_a_receivable_is_issued_split_offered_to_a_bank_and_financed_over_http(fresh: World) -> None:
    core, tier1, bank = fresh.account("core"), fresh.account("tier1"), fresh.account("bank")
    now = fresh.chain.timestamp()
    terms = {
        "debtor": core.address,
        "creditor": tier1.address,
        "faceValue": 900 * UNIT,
        "maturity": now + 60 * DAY,
        "invoiceHash": _hex(keccak(text="invoice API-INV-1")),
        "invoiceNumber": "API-INV-1",
        "invoiceDate": "2026-01-15",
        "orderId": 0,
        "nonce": 1,
        "deadline": now + DAY,
    }
    typed = fresh.client.post("/v1/receivables/typed-data", json=terms, headers=fresh.sign_in("core")).json()
    body = {"terms": terms, "debtorSignature": sign_typed(core, typed["typedData"])}
    issued = act(fresh, "tier1", "/v1/receivables", body)["created"]
    root_id = fresh.client.get("/v1/receivables", headers=fresh.sign_in("tier1")).json()["items"][-1]["rootId"]
    assert issued == {"rootId": root_id, "pieceId": root_id}

    children = [
        {"amount": 600 * UNIT, "holder": tier1.address, "ref": _hex(keccak(text="keep"))},
        {"amount": 300 * UNIT, "holder": fresh.account("tier2").address, "ref": _hex(keccak(text="SUB-1"))},
    ]
    split = act(fresh, "tier1", f"/v1/receivables/pieces/{root_id}/split", {"children": children})["created"]
    tree = fresh.client.get(f"/v1/receivables/{root_id}", headers=fresh.sign_in("tier1")).json()["pieces"]
    kept = next(p["pieceId"] for p in tree if p["holder"] == tier1.address and p["pieceId"] != root_id)
    # The new pieces in the order of the children: the kept one first, tier2's second.
    assert split == {"pieceIds": [kept, next(p["pieceId"] for p in tree if p["holder"] == children[1]["holder"])]}

    # The bank cannot see the piece until the holder asks it for financing.
    bank_headers = fresh.sign_in("bank")
    assert fresh.client.get(f"/v1/receivables/pieces/{kept}", headers=bank_headers).status_code == 404
    asked = fresh.client.post(
        f"/v1/receivables/pieces/{kept}/financing-requests", json={"bank": bank.address}, headers=fresh.sign_in("tier1")
    )
    assert asked.status_code == 201, asked.text
    assert fresh.client.get(f"/v1/receivables/pieces/{kept}", headers=bank_headers).status_code == 200

    offer_terms = {"price": 580 * UNIT, "deadline": fresh.chain.timestamp() + DAY, "nonce": 11}
    offer_typed = fresh.client.post(
        f"/v1/receivables/pieces/{kept}/offers/typed-data", json=offer_terms, headers=bank_headers
    ).json()["typedData"]
    offer = fresh.client.post(
        f"/v1/receivables/pieces/{kept}/offers",
        json={**offer_terms, "signature": sign_typed(bank, offer_typed)},
        headers=bank_headers,
    )
    assert offer.status_code == 201, offer.text
    offers = fresh.client.get(f"/v1/receivables/pieces/{kept}/offers", headers=fresh.sign_in("tier1")).json()
    assert [o["id"] for o in offers] == [offer.json()["id"]]
    # tier2 holds a sibling, not this piece: it sees neither the piece nor its offers.
    assert fresh.client.get(f"/v1/receivables/pieces/{kept}/offers", headers=fresh.sign_in("tier2")).status_code == 404

    mint(fresh, "bank", 1_000 * UNIT)
    act(fresh, "bank", "/v1/token/approvals", {"spender": "Receivables", "amount": str(1_000 * UNIT)})
    financed = act(fresh, "tier1", f"/v1/receivables/offers/{offer.json()['id']}/accept")["created"]
    assert financed == {"pieceId": kept}
    piece = fresh.client.get(f"/v1/receivables/pieces/{kept}", headers=bank_headers).json()
    assert piece["holder"] == bank.address and piece["financed"] is True


def test_the_relayer_pays_the_gas_of_a_party_that_holds_none(fresh: World) -> None:
    newcomer = Account.create()
    membership = fresh.chain.contract(fresh.deployed.build["Membership"], fresh.deployed.addresses["Membership"])
    admit = membership.functions.admit(newcomer.address, ROLE["supplier"], 0, keccak(text="kyc newcomer"))
    fresh.chain.transact(admit, fresh.account("admin"))
    assert fresh.chain.w3.eth.get_balance(newcomer.address) == 0
    relayer_before = fresh.chain.w3.eth.get_balance(fresh.account("relayer").address)
    act(fresh, newcomer, "/v1/token/approvals", {"spender": "Receivables", "amount": "1"})
    token = fresh.chain.contract(fresh.deployed.build["SettlementToken"], fresh.deployed.addresses["SettlementToken"])
    assert token.functions.allowance(newcomer.address, fresh.deployed.addresses["Receivables"]).call() == 1
    assert fresh.chain.w3.eth.get_balance(fresh.account("relayer").address) < relayer_before


def test_a_prepared_transaction_has_wallet_field_names_and_decimal_strings_and_signs_its_gas_limit(
    fresh: World,
) -> None:
    core = fresh.account("core")
    headers = fresh.sign_in(core)
    allowance = 2**200 + 1  # far above 2**53: exact only as a string
    answer = fresh.client.post(
        "/v1/token/approvals", json={"spender": "Receivables", "amount": str(allowance)}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    tx = answer.json()["transaction"]
    assert set(tx) == {
        "type", "chainId", "to", "data", "value", "nonce", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas", "from"
    }  # fmt: skip
    assert tx["type"] == 2 and tx["chainId"] == fresh.chain.chain_id and tx["from"] == core.address
    wide = ("value", "nonce", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas")
    assert all(isinstance(tx[key], str) and tx[key].isdigit() for key in wide), tx
    assert tx["value"] == "0" and int(tx["nonce"]) == fresh.chain.w3.eth.get_transaction_count(core.address, "pending")
    submitted = fresh.client.post(
        "/v1/submissions", json={"rawTransaction": sign_prepared(core, answer.json())}, headers=headers
    )
    assert submitted.status_code == 202, submitted.text
    status = fresh.client.get(submitted.json()["statusUrl"], headers=headers).json()
    assert status["status"] == "mined" and status["created"] is None  # an approval creates no ledger object
    assert fresh.chain.w3.eth.get_transaction(status["txHash"])["gas"] == int(tx["gasLimit"]) > 21_000
    token = fresh.chain.contract(fresh.deployed.build["SettlementToken"], fresh.deployed.addresses["SettlementToken"])
    assert token.functions.allowance(core.address, fresh.deployed.addresses["Receivables"]).call() == allowance


def test_typed_data_carries_every_message_integer_as_a_decimal_string_and_signs_the_same_either_way(
    fresh: World,
) -> None:
    headers = fresh.sign_in("core")
    big = {"amount": 2**53 + 1, "nonce": 2**70 + 3, "deadline": 2**64 - 1}
    as_strings = {**order_terms(fresh, "API-PO-WIDE", 0), **{k: str(v) for k, v in big.items()}}
    answer = fresh.client.post("/v1/orders/typed-data", json=as_strings, headers=headers)
    assert answer.status_code == 200, answer.text
    typed = answer.json()["typedData"]
    integers = [f["name"] for f in typed["types"][typed["primaryType"]] if f["type"].startswith(("uint", "int"))]
    assert set(integers) == {"amount", "shipBy", "deliverBy", "nonce", "deadline"}
    assert all(isinstance(typed["message"][name], str) for name in integers), typed["message"]
    assert {k: typed["message"][k] for k in big} == {k: str(v) for k, v in big.items()}
    assert typed["message"]["inspectionRequired"] is False  # a bool stays a bool
    assert typed["domain"]["chainId"] == fresh.chain.chain_id  # a number, as wallets compare it
    # The digest served (what eth-account and wallets compute from the strings) is the one the contract computes.
    escrow = fresh.chain.contract(fresh.deployed.build["TradeEscrow"], fresh.deployed.addresses["TradeEscrow"])
    assert "0x" + eip712.digest(typed).hex() == answer.json()["digest"]
    onchain = escrow.functions.orderDigest(
        (
            typed["message"]["buyer"],
            typed["message"]["supplier"],
            typed["message"]["token"],
            2**53 + 1,
            int(typed["message"]["shipBy"]),
            int(typed["message"]["deliverBy"]),
            False,
            bytes.fromhex(typed["message"]["termsHash"][2:]),
            bytes.fromhex(typed["message"]["poRefHash"][2:]),
            2**70 + 3,
            2**64 - 1,
        )
    ).call()
    assert "0x" + bytes(onchain).hex() == answer.json()["digest"]
    # Small values as JSON integers (what older clients send) are the same terms.
    small = {**as_strings, "shipBy": int(as_strings["shipBy"]), "deliverBy": int(as_strings["deliverBy"])}
    again = fresh.client.post("/v1/orders/typed-data", json=small, headers=headers)
    assert again.status_code == 200 and again.json()["digest"] == answer.json()["digest"]


def test_a_json_integer_beyond_2_53_or_a_malformed_decimal_is_422_naming_the_field(fresh: World) -> None:
    headers = fresh.sign_in("core")
    terms = {**order_terms(fresh, "API-PO-UNSAFE", 0), "nonce": str(2**256 - 1)}
    assert fresh.client.post("/v1/orders/typed-data", json=terms, headers=headers).status_code == 200
    for field in ("amount", "nonce", "deadline", "shipBy"):
        for bad in (2**53, 2**64, "0x10", " 5", "5 ", "+5", "-1", "1e3", "", "5.0", 5.0, True, None, [5]):
            answer = fresh.client.post("/v1/orders/typed-data", json={**terms, field: bad}, headers=headers)
            assert answer.status_code == 422, (field, bad, answer.text)
            assert answer.json()["detail"][0]["loc"] == ["body", field], (field, bad)
    unsafe = fresh.client.post("/v1/orders/typed-data", json={**terms, "amount": 2**53}, headers=headers)
    assert "decimal string" in unsafe.json()["detail"][0]["msg"]
    # The largest integer a JavaScript client writes exactly is still taken as a number.
    assert (
        fresh.client.post("/v1/orders/typed-data", json={**terms, "amount": 2**53 - 1}, headers=headers).status_code
        == 200
    )
    for field, bad in (("deadline", str(2**64)), ("nonce", str(2**256)), ("amount", "0")):
        answer = fresh.client.post("/v1/orders/typed-data", json={**terms, field: bad}, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", field], (field, bad)
