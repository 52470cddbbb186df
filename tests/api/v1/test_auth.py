"""Sign-in by signing a challenge, tokens, and what every route does without a valid one."""

from __future__ import annotations

import re
import time

from eth_account import Account
from eth_account.messages import encode_defunct

from api.v1.auth import Tokens, _b64, _unb64
from tests.api.v1.conftest import World, sign_in


def _signed(world: World, account: object, nonce_message: dict[str, str]) -> dict[str, str]:
    signature = Account.sign_message(encode_defunct(text=nonce_message["message"]), account.key).signature  # type: ignore[attr-defined]
    return {"nonce": nonce_message["nonce"], "signature": "0x" + signature.hex()}


def test_sign_in_gives_a_token_with_the_roles_membership_holds_on_chain(world: World) -> None:
    headers = world.sign_in("bank")
    me = world.client.get("/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == {"address": world.account("bank").address, "roles": ["bank"], "auditor": False}
    auditor = world.client.get("/v1/auth/me", headers=world.sign_in("auditor")).json()
    assert auditor["auditor"] is True and auditor["roles"] == ["auditor"]


def test_the_challenge_is_an_eip4361_message_for_this_service_and_chain(world: World) -> None:
    address = world.account("core").address
    body = world.client.post("/v1/auth/challenge", json={"address": address}).json()
    message = body["message"]
    assert message.startswith(f"testserver wants you to sign in with your Ethereum account:\n{address}\n")
    assert f"Chain ID: {world.chain.chain_id}" in message
    assert f"Nonce: {body['nonce']}" in message
    assert re.search(r"Expiration Time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message)


def test_a_challenge_signs_in_once(world: World) -> None:
    core = world.account("core")
    challenge = world.client.post("/v1/auth/challenge", json={"address": core.address}).json()
    signed = _signed(world, core, challenge)
    assert world.client.post("/v1/auth/token", json=signed).status_code == 200
    again = world.client.post("/v1/auth/token", json=signed)
    assert again.status_code == 409
    assert again.json()["error"] == "challenge_used"


def test_a_challenge_signed_by_another_key_is_refused(world: World) -> None:
    core, tier1 = world.account("core"), world.account("tier1")
    challenge = world.client.post("/v1/auth/challenge", json={"address": core.address}).json()
    answer = world.client.post("/v1/auth/token", json=_signed(world, tier1, challenge))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_challenge_is_refused(world: World) -> None:
    core = world.account("core")
    old = world.client.app.state.services.auth.challenge(core.address, now=int(time.time()) - 3600)  # type: ignore[attr-defined]
    answer = world.client.post(
        "/v1/auth/token", json=_signed(world, core, {"nonce": old.nonce, "message": old.message})
    )
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_a_key_that_is_no_member_cannot_sign_in(world: World) -> None:
    stranger = Account.create()
    challenge = world.client.post("/v1/auth/challenge", json={"address": stranger.address}).json()
    answer = world.client.post("/v1/auth/token", json=_signed(world, stranger, challenge))
    assert answer.status_code == 403
    assert answer.json()["error"] == "sign_in_refused"


def test_a_forged_token_is_refused(world: World) -> None:
    token = world.sign_in("tier1")["Authorization"].removeprefix("Bearer ")
    prefix, payload, mac = token.split(".")
    # Claim the auditor role bits with the old signature: the MAC no longer verifies.
    raw = bytearray(_unb64(payload))
    raw[20:24] = (64).to_bytes(4, "big")
    forged = f"{prefix}.{_b64(bytes(raw))}.{mac}"
    answer = world.client.get("/v1/orders", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert "signature" in answer.json()["detail"]
    other_secret = Tokens(b"x" * 32, 900).issue(world.account("tier1").address, 64, int(time.time()))[0]
    assert world.client.get("/v1/orders", headers={"Authorization": f"Bearer {other_secret}"}).status_code == 401
    garbage = world.client.get("/v1/orders", headers={"Authorization": "Bearer scf1.%%%.###"})
    assert garbage.status_code == 401
    basic = world.client.get("/v1/orders", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401


def test_an_expired_token_is_refused(world: World) -> None:
    tokens: Tokens = world.client.app.state.tokens  # type: ignore[attr-defined]
    token, _ = tokens.issue(world.account("tier1").address, 4, int(time.time()) - 10 * tokens.ttl)
    answer = world.client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def _sample_path(path: str) -> str:
    path = re.sub(r"\{address\}", world_address(), path)
    return re.sub(r"\{[a-z_]+\}", "1", path)


def world_address() -> str:
    return "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


OPEN = {"/v1/health", "/v1/auth/challenge", "/v1/auth/token"}


def test_every_route_without_a_token_answers_401(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, operations in paths.items():
        if path in OPEN:
            continue
        for method in operations:
            answer = world.client.request(method, _sample_path(path), json={} if method == "post" else None)
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code} {answer.text}"
            assert answer.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 8


def test_token_of_one_party_is_not_accepted_as_another(world: World) -> None:
    headers = sign_in(world.client, world.account("tier2"))
    assert world.client.get("/v1/auth/me", headers=headers).json()["address"] == world.account("tier2").address
