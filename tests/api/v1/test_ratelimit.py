"""Rate limits on challenges, sign-in attempts and uploads: token buckets in the shared store, 429 with Retry-After."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.errors import RateLimited
from api.v1 import migrate
from api.v1.app import create_app
from api.v1.ratelimit import Limiter, Rate, RateLimits
from api.v1.settings import Settings
from ledger.index.sql.db import make_engine
from tests.support.api_world import World, sign_in
from tests.support.documents import account_key, sealed_body


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _limiter(tmp_path: Path, clock: _Clock, name: str = "store.db") -> Limiter:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    migrate.create(engine)
    return Limiter(engine=engine, limits=RateLimits(), clock=clock)


def test_a_bucket_lets_its_count_through_at_once_then_one_per_refill(tmp_path: Path) -> None:
    clock = _Clock()
    limiter, rate = _limiter(tmp_path, clock), Rate(3, 60)
    for _ in range(3):
        limiter.take("test", "a", rate)
    with pytest.raises(RateLimited) as caught:
        limiter.take("test", "a", rate)
    assert caught.value.retry_after == 20  # one token back every 60 / 3 s
    limiter.take("test", "b", rate)  # another key has its own bucket

    clock.now += 19.5
    with pytest.raises(RateLimited) as caught:
        limiter.take("test", "a", rate)
    assert caught.value.retry_after == 1  # whole seconds, rounded up, never 0
    clock.now += 0.5
    limiter.take("test", "a", rate)
    with pytest.raises(RateLimited):
        limiter.take("test", "a", rate)

    clock.now += 3600  # a bucket left alone fills up to its count, not beyond
    for _ in range(3):
        limiter.take("test", "a", rate)
    with pytest.raises(RateLimited):
        limiter.take("test", "a", rate)


def test_workers_sharing_the_store_share_each_bucket_exactly(tmp_path: Path) -> None:
    """Eight threads over two engines (two worker processes' pools) race for ten tokens: exactly ten win."""
    clock = _Clock()
    limiters = [_limiter(tmp_path, clock), _limiter(tmp_path, clock)]
    rate = Rate(10, 3600)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def worker(limiter: Limiter) -> None:
        for _ in range(4):
            try:
                limiter.take("race", "one-key", rate)
                won = True
            except RateLimited:
                won = False
            with lock:
                outcomes.append(won)

    threads = [threading.Thread(target=worker, args=(limiters[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 32
    assert outcomes.count(True) == 10


# -- over HTTP ------------------------------------------------------------------------------------------


def _client(world: World, tmp_path: Path, **limits: Rate) -> TestClient:
    """The API over the world's chain and index, with its own store (buckets of its own) and these limits."""
    s = world.settings
    settings = Settings(
        s.chain,
        s.build,
        s.addresses,
        s.db_url,
        store_url=f"sqlite:///{tmp_path / 'api-store.db'}",
        domain="testserver",
        relayer=s.relayer,
        score_refresh=0,
        rate_limits=RateLimits(**limits),
    )
    return TestClient(create_app(settings))


def _refused(answer: Any, scope: str) -> None:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["error"] == "rate_limited" and body["scope"].startswith(scope)
    assert int(answer.headers["retry-after"]) == body["retryAfter"] >= 1


def test_challenges_are_limited_per_address_and_per_client_ip(world: World, tmp_path: Path) -> None:
    client = _client(world, tmp_path, challenge_per_address=Rate(2, 60), challenge_per_ip=Rate(4, 60))
    core, bank = world.account("core").address, world.account("bank").address
    for _ in range(2):
        assert client.post("/v1/auth/challenge", json={"address": core}).status_code == 200
    _refused(client.post("/v1/auth/challenge", json={"address": core}), "challenge-address")
    assert client.post("/v1/auth/challenge", json={"address": bank}).status_code == 200  # 4th from this IP
    _refused(client.post("/v1/auth/challenge", json={"address": bank}), "challenge-ip")
    # A malformed request counts against the IP too (the bucket is taken before the body is read).
    _refused(client.post("/v1/auth/challenge", json={"address": "nope"}), "challenge-ip")


def _challenge(client: TestClient, address: str) -> dict[str, Any]:
    answer = client.post("/v1/auth/challenge", json={"address": address})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _signature(account: Any, message: str) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=message), account.key).signature.hex()


def test_sign_in_attempts_are_limited_per_nonce_per_address_and_per_ip(world: World, tmp_path: Path) -> None:
    client = _client(world, tmp_path, sign_in_per_nonce=Rate(2, 300), sign_in_per_address=Rate(4, 60))
    tier1, stranger = world.account("tier1"), Account.create()
    challenge = _challenge(client, tier1.address)
    wrong = {"nonce": challenge["nonce"], "signature": _signature(stranger, challenge["message"])}
    for _ in range(2):  # guessing at one challenge: two tries ...
        assert client.post("/v1/auth/token", json=wrong).status_code == 401
    right = {"nonce": challenge["nonce"], "signature": _signature(tier1, challenge["message"])}
    _refused(client.post("/v1/auth/token", json=right), "sign-in-nonce")  # ... then even the right one waits

    # Many challenges of one key: the address's bucket (4; the two wrong tries above took two) runs out.
    for _ in range(2):
        fresh = _challenge(client, tier1.address)
        signed = {"nonce": fresh["nonce"], "signature": _signature(tier1, fresh["message"])}
        assert client.post("/v1/auth/token", json=signed).status_code == 200
    fresh = _challenge(client, tier1.address)
    signed = {"nonce": fresh["nonce"], "signature": _signature(tier1, fresh["message"])}
    _refused(client.post("/v1/auth/token", json=signed), "sign-in-address")

    per_ip = _client(world, tmp_path / "ip", sign_in_per_ip=Rate(2, 60))
    unknown = {"nonce": "0" * 32, "signature": wrong["signature"]}
    for _ in range(2):
        assert per_ip.post("/v1/auth/token", json=unknown).status_code == 401
    _refused(per_ip.post("/v1/auth/token", json=unknown), "sign-in-ip")


def test_uploads_are_limited_per_party(world: World, tmp_path: Path) -> None:
    client = _client(world, tmp_path, upload_per_party=Rate(2, 60))
    core, bank = sign_in(client, world.account("core")), sign_in(client, world.account("bank"))
    for role, headers in (("core", core), ("bank", bank)):  # registering a key is not an upload
        key = {"publicKey": account_key(world.account(role))}
        assert client.post("/v1/documents/keys", json=key, headers=headers).status_code == 200

    def body(role: str) -> dict[str, object]:
        return sealed_body(world.account(role), b"net 60", kind="terms", filename="terms.txt")

    for _ in range(2):
        assert client.post("/v1/documents", json=body("core"), headers=core).status_code == 201
    _refused(client.post("/v1/documents", json=body("core"), headers=core), "upload-party")
    assert client.post("/v1/documents", json=body("bank"), headers=bank).status_code == 201  # another party's bucket
    assert client.get("/v1/documents", headers=core).status_code == 200  # reading is not limited
    assert len(client.get("/v1/documents", headers=core).json()) == 2  # the refused upload stored nothing


def test_the_openapi_document_declares_429_with_retry_after(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/auth/challenge", "/v1/auth/token", "/v1/documents"):
        declared = paths[path]["post"]["responses"]["429"]
        assert "Retry-After" in declared["headers"], path
