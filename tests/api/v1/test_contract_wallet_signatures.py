"""A contract wallet (ERC-1271, a Safe-like 2-of-3: ``tests.support.multisig``) signs in and co-signs an order
through the API, which asks the wallet itself whether a signature is its own (``ledger.eth.signatures``).

One owner's signature, a signature the wallet refuses, or an address whose code is no wallet at all is an
invalid signature (401 at sign-in, 422 naming the field elsewhere); a node that does not answer the wallet's
``isValidSignature`` is the node's failure (503 ``chain_unavailable``) and leaves the challenge usable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.settings import Settings
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.eth.signatures import personal_digest
from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World
from tests.support.multisig import Multisig, deploy_multisig, owner_keys
from tests.support.node_faults import NodeFront

DAY = 86_400


@pytest.fixture(scope="module")
def wallet(fresh: World) -> Multisig:
    """A 2-of-3 wallet admitted as a CORE member of ``fresh``'s ledger."""
    chain, admin = fresh.chain, fresh.account("admin")
    deployed = deploy_multisig(chain, admin, owner_keys("api-core-wallet"))
    admit = fresh.deployed.membership.functions.admit(deployed.address, ROLE["core"], 0, keccak(text="kyc:api-wallet"))
    chain.transact(admit, admin)
    return deployed


def _challenge(client: TestClient, address: str) -> dict[str, Any]:
    answer = client.post("/v1/auth/challenge", json={"address": address})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _token(client: TestClient, challenge: dict[str, Any], signature: bytes) -> Any:
    return client.post("/v1/auth/token", json={"nonce": challenge["nonce"], "signature": "0x" + signature.hex()})


def test_a_two_of_three_wallet_signs_in_with_two_owners_signatures(fresh: World, wallet: Multisig) -> None:
    challenge = _challenge(fresh.client, wallet.address)
    answer = _token(fresh.client, challenge, wallet.sign(personal_digest(challenge["message"])))
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
    me = fresh.client.get("/v1/auth/me", headers=headers).json()
    assert me == {"address": wallet.address, "roles": ["core"], "auditor": False}


@pytest.mark.parametrize("case", ["one owner alone", "one owner twice", "two owners, for another wallet"])
def test_a_signature_the_wallet_refuses_cannot_sign_in(fresh: World, wallet: Multisig, case: str) -> None:
    challenge = _challenge(fresh.client, wallet.address)
    digest = personal_digest(challenge["message"])
    owner = wallet.owners[0]
    if case == "one owner alone":
        signature = wallet.sign(digest, owner)
    elif case == "one owner twice":
        signature = wallet.sign_as(digest, [owner, owner])
    else:  # the same owners sign in another wallet's domain (another address: here any other one)
        other = Multisig(wallet.chain, fresh.deployed.addresses["Membership"], wallet.owners)
        signature = other.sign(digest)
    answer = _token(fresh.client, challenge, signature)
    assert answer.status_code == 401, answer.text
    assert "contract wallet" in answer.json()["detail"] and "signature" in answer.json()["detail"]
    # Refused before the burn: the wallet can still sign this challenge properly.
    assert _token(fresh.client, challenge, wallet.sign(digest)).status_code == 200


def test_an_address_whose_code_is_no_wallet_refuses_every_signature(fresh: World) -> None:
    token = fresh.deployed.addresses["SettlementToken"]  # code with no isValidSignature: the call reverts
    challenge = _challenge(fresh.client, token)
    answer = _token(fresh.client, challenge, b"\x01" * 65)
    assert answer.status_code == 401
    assert "contract wallet" in answer.json()["detail"]


def test_a_key_still_signs_in_and_a_malformed_key_signature_is_422_naming_the_field(fresh: World) -> None:
    core = fresh.account("core")
    assert fresh.client.get("/v1/auth/me", headers=fresh.sign_in(core)).status_code == 200
    challenge = _challenge(fresh.client, core.address)
    answer = _token(fresh.client, challenge, b"\x01" * 65)  # v = 1: no key's signature the contracts take
    assert answer.status_code == 422
    assert answer.json()["field"] == "signature"


@pytest.fixture
def front(fresh: World) -> Iterator[tuple[NodeFront, TestClient]]:
    """An API whose chain goes through a ``NodeFront`` of ``fresh``'s anvil (1 s RPC deadline)."""
    node = NodeFront(("127.0.0.1", fresh.devnet.port))
    s = fresh.settings
    chain = Chain.http(node.url, backend="devnet", errors=ErrorDecoder(s.build.artifacts.values()), timeout=1.0)
    app = create_app(
        Settings(chain, s.build, s.addresses, s.db_url, domain="testserver", relayer=s.relayer, score_refresh=0)
    )
    try:
        yield node, TestClient(app)
    finally:
        node.close()


def test_a_dead_node_during_the_wallets_check_is_503_and_the_challenge_stays_usable(
    front: tuple[NodeFront, TestClient], wallet: Multisig
) -> None:
    node, client = front
    challenge = _challenge(client, wallet.address)  # needs no node
    signature = wallet.sign(personal_digest(challenge["message"]))
    node.dead()
    down = _token(client, challenge, signature)
    assert down.status_code == 503
    assert down.json()["error"] == "chain_unavailable"
    node.forward()
    assert _token(client, challenge, signature).status_code == 200


# -- EIP-712 documents: an order ----------------------------------------------------------------


def _order_terms(fresh: World, wallet: Multisig, po: str, nonce: int) -> dict[str, Any]:
    now = fresh.chain.timestamp()
    return {
        "buyer": wallet.address,
        "supplier": fresh.account("tier1").address,
        "amount": "1000000000",
        "shipBy": now + 7 * DAY,
        "deliverBy": now + 14 * DAY,
        "inspectionRequired": False,
        "termsHash": "0x" + keccak(text=f"terms of {po}").hex(),
        "poReference": po,
        "nonce": nonce,
        "deadline": now + DAY,
    }


def test_an_order_the_wallet_co_signed_is_prepared_and_one_owners_signature_is_422_naming_it(
    fresh: World, wallet: Multisig
) -> None:
    tier1 = fresh.account("tier1")
    headers = fresh.sign_in(tier1)
    terms = _order_terms(fresh, wallet, "API-WALLET-PO-1", 41)
    typed = fresh.client.post("/v1/orders/typed-data", json=terms, headers=headers).json()
    digest = bytes.fromhex(typed["digest"][2:])
    supplier_sig = "0x" + Account.sign_typed_data(tier1.key, full_message=typed["typedData"]).signature.hex()
    body = {"terms": terms, "buyerSignature": "0x" + wallet.sign(digest).hex(), "supplierSignature": supplier_sig}
    prepared = fresh.client.post("/v1/orders", json=body, headers=headers)
    assert prepared.status_code == 200, prepared.text
    assert prepared.json()["action"] == "createOrder"
    body["buyerSignature"] = "0x" + wallet.sign(digest, wallet.owners[2]).hex()
    refused = fresh.client.post("/v1/orders", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["field"] == "buyerSignature"
    assert "contract wallet" in str(refused.json()["detail"])


def test_a_wallet_drafts_an_order_and_its_two_owner_signature_is_kept_whole_for_the_supplier(
    fresh: World, wallet: Multisig
) -> None:
    """A 2-of-3 signature is 130 bytes: the draft keeps all of it (on PostgreSQL too) for the other side."""
    challenge = _challenge(fresh.client, wallet.address)
    signed_in = _token(fresh.client, challenge, wallet.sign(personal_digest(challenge["message"])))
    as_wallet = {"Authorization": f"Bearer {signed_in.json()['accessToken']}"}
    terms = _order_terms(fresh, wallet, "API-WALLET-DRAFT-1", 43)
    typed = fresh.client.post("/v1/orders/typed-data", json=terms, headers=as_wallet).json()
    signature = "0x" + wallet.sign(bytes.fromhex(typed["digest"][2:])).hex()
    assert len(signature) == 2 + 2 * 130

    drafted = fresh.client.post("/v1/orders/drafts", json={"terms": terms, "signature": signature}, headers=as_wallet)
    assert drafted.status_code == 201, drafted.text

    tier1 = fresh.account("tier1")
    headers = fresh.sign_in(tier1)
    found = fresh.client.get(f"/v1/orders/drafts/{drafted.json()['id']}", headers=headers).json()
    assert found["signature"] == signature and found["awaiting"] == tier1.address
    supplier_sig = "0x" + Account.sign_typed_data(tier1.key, full_message=typed["typedData"]).signature.hex()
    body = {"terms": terms, "buyerSignature": found["signature"], "supplierSignature": supplier_sig}
    prepared = fresh.client.post("/v1/orders", json=body, headers=headers)
    assert prepared.status_code == 200, prepared.text
