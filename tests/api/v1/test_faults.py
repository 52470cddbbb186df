"""A node that is down (nothing listens) or silent (accepts, never answers): every route that needs the chain
answers 503 ``chain_unavailable`` within the RPC deadline, every route that does not answers as it did with the
node up, sign-in keeps its challenge for a retry, and nothing is left half done.

The API's chain goes through ``NodeFront`` (tests/support/node_faults.py), a loopback TCP front of the real
anvil that can be switched to refuse or black-hole connections. The RPC deadline here is ``DEADLINE`` (the API's
default is 2 s: ``bench/faults.py`` measures that one). No timed assertions: every request runs under a 10 s
hang guard (the old behaviour, web3's 5 x 10 s retries, trips it) and its duration is reported.

Two states of the per-request Membership check (``api.v1.auth.Standing``) are covered: *cold* (the node went
away more than a refresh interval ago: the check itself needs the node, so a write answers 503 at once and a
read is checked against the index), and *warm* (the standing is still cached: the route's own chain calls meet
the fault, through the same provider).
"""

from __future__ import annotations

import concurrent.futures
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.auth import Standing
from api.v1.settings import Settings
from ledger.eth.chain import Chain, ErrorDecoder
from tests.support.api_world import World, sign_in
from tests.support.node_faults import Mode, NodeFront
from tests.support.wallet import sign_prepared

pytestmark = pytest.mark.one_database("the node's faults, not SQL")

DEADLINE = 1.0
HANG_GUARD = 10.0
FAULTS: tuple[Mode, ...] = ("dead", "black_hole")
#: Routes that never need the node: they must answer exactly as they did with it up.
NO_CHAIN = {("post", "/v1/auth/challenge"), ("post", "/v1/auth/logout")}
#: Reads that need the node besides the index: an auditor's decoded history reads each transaction's calldata.
CHAIN_READS = {("get", "/v1/audit/history/orders/{order_id}"), ("get", "/v1/audit/history/pieces/{piece_id}")}
#: What a 503 for the node may be called: the proof route names the proof it could not fetch.
CHAIN_ERRORS = {"chain_unavailable", "proof_unavailable"}


@dataclass
class Faulty:
    """An API whose chain goes through ``front``."""

    front: NodeFront
    app: FastAPI
    client: TestClient
    world: World
    durations: dict[str, list[float]] = field(default_factory=dict)

    def cold(self, refresh: float = 1.0) -> None:
        """Forget the cached Membership standing, as when the node went away longer ago than ``refresh``."""
        svc = self.app.state.services
        self.app.state.standing = Standing(
            chain=svc.chain, membership=svc.auth.membership, index=svc.engine, refresh=refresh
        )

    def call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``client.request`` under the hang guard, its duration filed under ``kind``."""
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(self.client.request, method, path, **kwargs)
            try:
                answer = future.result(timeout=HANG_GUARD)
            except concurrent.futures.TimeoutError:
                self.front.forward()  # let the hung request finish so the pool can shut down
                pytest.fail(f"{method.upper()} {path} hung for more than {HANG_GUARD} s")
        self.durations.setdefault(kind, []).append(time.monotonic() - started)
        return answer

    def report(self, title: str) -> str:
        rows = [f"{kind}: n={len(d)} max={max(d) * 1000:.0f} ms" for kind, d in sorted(self.durations.items())]
        self.durations.clear()
        line = f"{title}: " + "; ".join(rows)
        print(line)
        return line


def _faulty(world: World) -> Iterator[Faulty]:
    front = NodeFront(("127.0.0.1", world.devnet.port))
    s = world.settings
    chain = Chain.http(front.url, backend="devnet", errors=ErrorDecoder(s.build.artifacts.values()), timeout=DEADLINE)
    settings = Settings(chain, s.build, s.addresses, s.db_url, domain="testserver", relayer=s.relayer, score_refresh=0)
    app = create_app(settings)
    try:
        yield Faulty(front, app, TestClient(app), world)
    finally:
        front.close()


@pytest.fixture
def on_world(world: World) -> Iterator[Faulty]:
    yield from _faulty(world)


@pytest.fixture
def on_fresh(fresh: World) -> Iterator[Faulty]:
    yield from _faulty(fresh)


def _operations(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [(method, path) for path, operations in paths.items() for method in operations]


def _concrete(world: World, path: str) -> str:
    """``path`` with ids the world has: the financed piece (its proof reads the chain), its root, a party."""
    assert world.scenario is not None
    piece, root = world.scenario.pieces["financed"], world.scenario.roots
    values = {
        "piece_id": str(piece),
        "root_id": str(next(iter(root.values()))),
        "order_id": str(next(iter(world.scenario.orders.values()))),
        "party": world.account("tier1").address,
    }
    return re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def _challenge_signed(client: TestClient, account: Any) -> dict[str, str]:
    challenge = client.post("/v1/auth/challenge", json={"address": account.address}).json()
    signature = Account.sign_message(encode_defunct(text=challenge["message"]), account.key).signature
    return {"nonce": challenge["nonce"], "signature": "0x" + signature.hex()}


def _is_chain_503(answer: httpx.Response) -> bool:
    return answer.status_code == 503 and answer.json().get("error") in CHAIN_ERRORS


@pytest.mark.parametrize("fault", FAULTS)
def test_every_route_answers_503_for_the_chain_or_as_before_when_the_node_fails(on_world: Faulty, fault: Mode) -> None:
    faulty, world = on_world, on_world.world
    auditor = world.account("auditor")  # reads everything, so every read reaches its data (and the proof its node)
    headers = sign_in(faulty.client, auditor)
    leaving = sign_in(faulty.client, auditor)  # the token POST /v1/auth/logout ends
    operations = [op for op in _operations(faulty.client) if op != ("post", "/v1/auth/token")]
    assert len(operations) >= 40

    def send(method: str, path: str, kind: str) -> httpx.Response:
        use = leaving if (method, path) == ("post", "/v1/auth/logout") else headers
        body = {"address": auditor.address} if path == "/v1/auth/challenge" else {}
        return faulty.call(kind, method, _concrete(world, path), headers=use, json=body if method == "post" else None)

    baseline = {op: send(*op, "up") for op in operations}
    assert not [op for op, answer in baseline.items() if answer.status_code >= 500 and op[1] != "/v1/health"]
    leaving = sign_in(faulty.client, auditor)  # the baseline's logout ended the first one
    signed = _challenge_signed(faulty.client, world.account("tier1"))

    faulty.front.switch(fault)
    faulty.cold()
    chain_routes: list[str] = []
    for method, path in operations:
        reads_index = method == "get" and not path.endswith("/proof") and (method, path) not in CHAIN_READS
        kind = "read (index)" if reads_index or (method, path) in NO_CHAIN else "write or chain read"
        answer = send(method, path, kind)
        where = f"{method.upper()} {path} with the node {fault}: {answer.status_code} {answer.text[:300]}"
        if reads_index or (method, path) in NO_CHAIN:
            assert answer.status_code == baseline[(method, path)].status_code, where
            if path == "/v1/health":
                assert answer.json()["status"] == "degraded" and answer.json()["headBlock"] is None, where
        else:
            assert _is_chain_503(answer), where
            chain_routes.append(path)
    assert len(chain_routes) >= 25

    # Sign-in needs Membership on chain: 503, and the challenge survives for a retry once the node is back.
    refused = faulty.call("sign-in", "post", "/v1/auth/token", json=signed)
    assert _is_chain_503(refused), refused.text
    faulty.front.forward()
    retried = faulty.client.post("/v1/auth/token", json=signed)
    assert retried.status_code == 200, retried.text
    faulty.report(f"node {fault}, standing cold, deadline {DEADLINE} s")


APPROVE = {"spender": "TradeEscrow", "amount": "1"}


def _warm(faulty: Faulty) -> tuple[Any, dict[str, str], str]:
    """Core signed in, its standing cached for the whole test, one approval submitted and mined; its status URL."""
    core = faulty.world.account("core")
    headers = sign_in(faulty.client, core)
    faulty.cold(refresh=3600)  # the standing read now holds for the whole test: routes pass it and go on
    prepared = faulty.client.post("/v1/token/approvals", json=APPROVE, headers=headers)
    assert prepared.status_code == 200, prepared.text
    raw = sign_prepared(core, prepared.json())
    first = faulty.client.post("/v1/submissions", json={"rawTransaction": raw}, headers=headers)
    assert first.status_code == 202, first.text
    status_url: str = first.json()["statusUrl"]
    assert faulty.client.get(status_url, headers=headers).json()["status"] == "mined"
    return core, headers, status_url


@pytest.mark.parametrize("fault", FAULTS)
def test_a_route_past_a_cached_standing_meets_the_fault_in_its_own_chain_calls(on_fresh: Faulty, fault: Mode) -> None:
    faulty = on_fresh
    core, headers, _status_url = _warm(faulty)
    second = sign_prepared(core, faulty.client.post("/v1/token/approvals", json=APPROVE, headers=headers).json())
    nonce_before = faulty.world.chain.w3.eth.get_transaction_count(core.address)

    faulty.front.switch(fault)
    checks: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("prepare", lambda: faulty.call("prepare", "post", "/v1/token/approvals", json=APPROVE, headers=headers)),
        (
            "submit",
            lambda: faulty.call("submit", "post", "/v1/submissions", json={"rawTransaction": second}, headers=headers),
        ),
    ]
    for name, request in checks:
        answer = request()
        assert _is_chain_503(answer), f"{name} with the node {fault}: {answer.status_code} {answer.text[:300]}"

    faulty.front.forward()
    assert faulty.world.chain.w3.eth.get_transaction_count(core.address) == nonce_before  # nothing went out
    retried = faulty.client.post("/v1/submissions", json={"rawTransaction": second}, headers=headers)
    assert retried.status_code == 202, retried.text  # the refused submission left nothing half done
    faulty.report(f"node {fault}, standing warm, deadline {DEADLINE} s")


def test_a_submission_status_with_the_node_down_is_503_not_pending(on_fresh: Faulty) -> None:
    faulty = on_fresh
    _core, headers, status_url = _warm(faulty)
    faulty.front.dead()
    answer = faulty.call("submission status", "get", status_url, headers=headers)
    assert _is_chain_503(answer), f"{answer.status_code} {answer.text[:300]}"


def test_a_read_with_the_node_down_is_checked_against_the_index_and_a_write_is_refused(on_world: Faulty) -> None:
    """A party the index knows as suspended (or does not know) reads nothing while the node is down."""
    faulty, world = on_world, on_world.world
    member, stranger = sign_in(faulty.client, world.account("tier2")), Account.create()
    faulty.front.dead()
    faulty.cold()
    assert faulty.client.get("/v1/auth/me", headers=member).status_code == 200  # the index says ACTIVE
    assert _is_chain_503(faulty.client.post("/v1/token/approvals", json={}, headers=member))
    tokens = faulty.app.state.tokens
    unknown, _ = tokens.issue(stranger.address, 0, int(time.time()))  # as if it had signed in
    answer = faulty.client.get("/v1/auth/me", headers={"Authorization": f"Bearer {unknown}"})
    assert answer.status_code == 401 and "not in the index" in answer.json()["detail"]
