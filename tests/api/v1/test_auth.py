"""Sign-in by signing a challenge, tokens (lifetime, spelling, logout, Membership per request), secrets and
devnet mode, and what every route does without a valid token."""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.cli import serve as serve_cli
from api.v1.app import create_app
from api.v1.auth import Revocations, Standing, Tokens, _b64, _unb64
from api.v1.settings import DEVNET_ENV, SECRET_ENV, WEBHOOK_KEY_ENV, Settings, SettingsError
from ledger.eth.chain import Chain
from ledger.toolchain.deploy import ROLE
from tests.support.api_world import World, sign_in


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


# -- token lifetime and spelling ------------------------------------------------------------------


def _secret(world: World) -> bytes:
    return world.settings.token_secret


def test_a_token_that_outlives_the_ttl_is_refused_even_with_a_good_mac(world: World) -> None:
    tokens: Tokens = world.client.app.state.tokens  # type: ignore[attr-defined]
    long_lived, _ = Tokens(_secret(world), 10 * tokens.ttl).issue(world.account("tier1").address, 4, int(time.time()))
    answer = world.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {long_lived}"})
    assert answer.status_code == 401
    assert "lives longer" in answer.json()["detail"]


def test_a_token_issued_in_the_future_is_refused(world: World) -> None:
    tokens: Tokens = world.client.app.state.tokens  # type: ignore[attr-defined]
    ahead, _ = tokens.issue(world.account("tier1").address, 4, int(time.time()) + 120)
    answer = world.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {ahead}"})
    assert answer.status_code == 401
    assert "future" in answer.json()["detail"]


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _variants(token: str) -> dict[str, str]:
    """Other spellings of the same bytes: each decodes to the same payload and MAC with a lenient decoder."""
    prefix, payload, mac = token.split(".")
    last = ALPHABET.index(mac[-1])
    assert last & 3 == 0  # 32 bytes end on 4 bits of a character: its low 2 bits are 0 when canonical
    return {
        "padded": f"{prefix}.{payload}{'=' * (-len(payload) % 4)}.{mac}=",
        "standard alphabet": token.replace("-", "+").replace("_", "/"),
        "stray trailing bits": f"{prefix}.{payload}.{mac[:-1]}{ALPHABET[last | 1]}",
        "trailing whitespace inside": f"{prefix}.{payload} .{mac}",
    }


def test_only_the_canonical_spelling_of_a_token_is_accepted(world: World) -> None:
    token = world.sign_in("tier1")["Authorization"].removeprefix("Bearer ")
    while "-" not in token and "_" not in token:  # so that the standard-alphabet spelling differs
        token = world.sign_in("tier1")["Authorization"].removeprefix("Bearer ")
    assert world.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for name, variant in _variants(token).items():
        answer = world.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {variant}"})
        assert answer.status_code == 401, name
        assert "canonical" in answer.json()["detail"], name


def test_the_canonical_decoder_refuses_what_a_lenient_one_accepts() -> None:
    assert _unb64(_b64(b"\xff\x00")) == b"\xff\x00" and _b64(b"\xff\x00") == "_wA"
    assert base64.urlsafe_b64decode("_wB=") == b"\xff\x00"  # the stray bit a lenient decoder drops
    for text in ("_wA=", "_wB", "/wA", "_w A", "_"):  # padding, stray bits, "+/" alphabet, whitespace, bad length
        with pytest.raises(ValueError):
            _unb64(text)


# -- logout -----------------------------------------------------------------------------------------


def test_logout_revokes_the_presented_token_on_every_worker_and_only_that_token(world: World) -> None:
    first, second = world.sign_in("tier2"), world.sign_in("tier2")
    other_worker = TestClient(create_app(world.settings))  # another process's app over the same store
    assert other_worker.get("/v1/auth/me", headers=first).status_code == 200

    assert world.client.post("/v1/auth/logout", headers=first).status_code == 204

    for client in (world.client, other_worker):
        answer = client.get("/v1/auth/me", headers=first)
        assert answer.status_code == 401
        assert "revoked" in answer.json()["detail"]
        assert client.get("/v1/auth/me", headers=second).status_code == 200
    assert world.client.post("/v1/auth/logout", headers=first).status_code == 401  # nothing left to end


def test_revocations_are_kept_only_until_the_tokens_would_have_expired(world: World) -> None:
    revocations = Revocations(world.client.app.state.services.store)  # type: ignore[attr-defined]
    now = int(time.time())
    stale, live = os.urandom(16), os.urandom(16)
    revocations.revoke(stale, now - 1, now - 10)
    revocations.revoke(live, now + 60, now)  # the sweep that comes with every revocation drops the stale one
    revocations.revoke(live, now + 60, now)  # a retried logout is no error
    assert revocations.revoked(live) and not revocations.revoked(stale)


# -- Membership, checked per request ------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_suspended_members_token_stops_working_at_the_next_head_read(fresh: World) -> None:
    app = create_app(fresh.settings)
    clock = _Clock()
    app.state.standing = Standing(
        chain=fresh.chain, membership=fresh.deployed.membership, index=app.state.services.engine, clock=clock
    )
    client = TestClient(app)
    tier1, admin = fresh.account("tier1"), fresh.account("admin")
    headers = sign_in(client, tier1)
    assert client.get("/v1/auth/me", headers=headers).status_code == 200
    membership = fresh.deployed.membership.functions
    fresh.chain.transact(membership.suspend(tier1.address, b"\x00" * 32), admin)
    try:
        # Within the refresh interval the standing of the last head read holds (at most 1 s by default) ...
        assert client.get("/v1/auth/me", headers=headers).status_code == 200
        clock.now += 1.0
        # ... then the new head is read, and the party's Membership at it: suspended.
        for method, path in (("GET", "/v1/auth/me"), ("GET", "/v1/orders"), ("POST", "/v1/token/approvals")):
            answer = client.request(method, path, headers=headers, json={"spender": "TradeEscrow", "amount": "1"})
            assert answer.status_code == 401, (path, answer.text)
            assert "SUSPENDED" in answer.json()["detail"]
        assert client.post("/v1/auth/logout", headers=headers).status_code == 204  # ending it is still allowed
    finally:
        fresh.chain.transact(membership.reinstate(tier1.address), admin)


def test_a_request_acts_with_the_roles_membership_gives_now_not_those_in_the_token(fresh: World) -> None:
    tier2 = fresh.account("tier2")
    headers = sign_in(fresh.client, tier2)
    tokens: Tokens = fresh.client.app.state.tokens  # type: ignore[attr-defined]
    # A token minted with the auditor bit (as if the secret leaked) reads with the chain's roles.
    inflated, _ = tokens.issue(tier2.address, ROLE["auditor"] | ROLE["supplier"], int(time.time()))
    me = fresh.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {inflated}"}).json()
    assert me == fresh.client.get("/v1/auth/me", headers=headers).json()
    assert me["auditor"] is False


# -- secrets and devnet mode ----------------------------------------------------------------------------


WEAK = {
    "all zero": b"\x00" * 32,
    "one repeated byte": b"\x5a" * 32,
    "short": secrets.token_bytes(31),
    "a pattern": bytes(range(8)) * 4,
}


@pytest.mark.parametrize("secret", list(WEAK.values()), ids=list(WEAK))
def test_a_weak_secret_is_refused_at_start_up_outside_devnet_mode(world: World, secret: bytes) -> None:
    s = world.settings
    for field in ("token_secret", "webhook_key"):
        if field == "webhook_key" and len(secret) != 32:
            continue  # the webhook key's size is its own error
        with pytest.raises(SettingsError, match=r"(too weak|at least 32 bytes).*secrets\.token_hex\(32\)"):
            Settings(s.chain, s.build, s.addresses, s.db_url, **{field: secret})  # type: ignore[arg-type]
    if len(secret) == 32:
        Settings(s.chain, s.build, s.addresses, s.db_url, token_secret=secret, webhook_key=secret, devnet=True)


def _no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (SECRET_ENV, WEBHOOK_KEY_ENV, DEVNET_ENV):
        monkeypatch.delenv(name, raising=False)


def test_devnet_mode_is_never_inferred_from_the_node(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_secrets(monkeypatch)
    s = world.settings
    assert "anvil" in world.chain.w3.client_version.lower()  # the node says it is a devnet ...
    with pytest.raises(SettingsError, match=rf"set {SECRET_ENV}.*--devnet"):  # ... which decides nothing
        Settings.from_env(s.chain, s.build, s.addresses, s.db_url, domain="testserver")

    monkeypatch.setenv(DEVNET_ENV, "1")
    drawn = Settings.from_env(s.chain, s.build, s.addresses, s.db_url, domain="testserver")
    assert drawn.devnet and len(drawn.token_secret) == 32

    monkeypatch.setenv(DEVNET_ENV, "maybe")
    with pytest.raises(SettingsError, match=DEVNET_ENV):
        Settings.from_env(s.chain, s.build, s.addresses, s.db_url, domain="testserver")

    no_dev_keys = Chain(world.chain.w3, "rpc", world.chain.endpoint, None)
    with pytest.raises(SettingsError, match="no dev accounts"):
        Settings.from_env(no_dev_keys, s.build, s.addresses, s.db_url, domain="testserver", devnet=True)


def test_the_public_mnemonic_relayer_serves_only_in_explicit_devnet_mode(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_secrets(monkeypatch)
    monkeypatch.setenv("SCF_DEPLOYMENTS_DIR", str(world.record.parent))
    monkeypatch.setenv(SECRET_ENV, secrets.token_hex(32))
    monkeypatch.setenv(WEBHOOK_KEY_ENV, secrets.token_hex(32))
    argv = ["serve", "--chain", world.devnet.url, "--db", world.db_url]
    parser = argparse.ArgumentParser()
    serve_cli.register(parser.add_subparsers())

    operator, _chain, _record, _db = serve_cli._settings(parser.parse_args(argv))
    assert operator.relayer is None and not operator.devnet
    devnet, _chain, _record, _db = serve_cli._settings(parser.parse_args([*argv, "--devnet"]))
    assert devnet.relayer is not None and devnet.relayer.address == world.account("relayer").address
    assert devnet.token_secret == operator.token_secret  # given secrets are used in devnet mode too

    monkeypatch.setenv(SECRET_ENV, "00" * 32)
    with pytest.raises(SettingsError, match="too weak"):
        serve_cli._settings(parser.parse_args(argv))
