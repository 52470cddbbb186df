"""Fixtures of the ``/v1`` suite: a real anvil with the indexer scenario's history, indexed into
SQLite, and the API in process behind FastAPI's TestClient (real HTTP semantics, no sockets).

``world`` is shared by the read-only tests (one chain, one index, session scope); tests that
write get ``fresh`` (a chain of their own with a clean deployment, indexed on demand). The
credit tests score with ``fitted``: a model fitted and evaluated on a synthetic world (whose
index, under the devnet's chain id, they also serve), not with whatever model ships.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.ratelimit import Rate, RateLimits
from api.v1.settings import Settings
from ledger.chain import Chain, ErrorDecoder
from ledger.compiler import BuildResult
from ledger.deploy import deploy, enrol_dev_members
from ledger.devnet import Devnet
from ledger.indexer import Indexer
from ledger.sql import open_engine
from scoring import evaluate, synthetic
from scoring.scorecard import Model
from scoring.world import Truth
from tests.conftest import Deployed
from tests.ledger.indexer.scenario import Scenario, play
from tests.support.ports import free_port


@dataclass
class World:
    devnet: Devnet
    deployed: Deployed
    record: Path
    db_url: str
    scenario: Scenario | None
    settings: Settings
    client: TestClient

    @property
    def chain(self) -> Chain:
        return self.deployed.chain

    def account(self, role: str) -> LocalAccount:
        return self.deployed.accounts[role]

    def index(self) -> None:
        engine = open_engine(self.db_url)
        try:
            with Indexer.for_deployment(
                self.chain, engine, self.deployed.build, self.record, confirmations=0, reader="thread"
            ) as indexer:
                indexer.run()
        finally:
            engine.dispose()

    def sign_in(self, role_or_account: str | LocalAccount) -> dict[str, str]:
        account = self.account(role_or_account) if isinstance(role_or_account, str) else role_or_account
        return sign_in(self.client, account)


def sign_in(client: TestClient, account: LocalAccount) -> dict[str, str]:
    challenge = client.post("/v1/auth/challenge", json={"address": account.address})
    assert challenge.status_code == 200, challenge.text
    body = challenge.json()
    signature = Account.sign_message(encode_defunct(text=body["message"]), account.key).signature
    answer = client.post("/v1/auth/token", json={"nonce": body["nonce"], "signature": "0x" + signature.hex()})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


#: The limiter still runs on every sign-in and upload, with room for a module that signs in per request.
GENEROUS = RateLimits(*(Rate(10_000, 60) for _ in fields(RateLimits)))


def _start(
    build: BuildResult, root: Path, scenario: Callable[[Deployed], Scenario] | None, **options: object
) -> Iterator[World]:
    devnet = Devnet(run_dir=root / "anvil", port=free_port(), mining="auto")
    devnet.up()
    try:
        chain = Chain.http(devnet.url, backend="devnet", errors=ErrorDecoder(build.artifacts.values()))
        assert chain.accounts is not None
        record = root / "deployments" / f"{chain.chain_id}.json"
        result = deploy(chain, build, chain.accounts["admin"], record)
        enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
        deployed = Deployed("anvil", chain, build, chain.accounts, result.addresses)
        played = scenario(deployed) if scenario else None
        db_url = f"sqlite:///{root / 'ledger.db'}"
        options = {"rate_limits": GENEROUS, **options}  # tests sign in per request; test_ratelimit sets its own
        settings = Settings(
            chain, build, result.addresses, db_url, domain="testserver", relayer=chain.accounts["relayer"], **options
        )  # type: ignore[arg-type]
        with TestClient(create_app(settings)) as client:
            world = World(devnet, deployed, record, db_url, played, settings, client)
            world.index()
            yield world
    finally:
        devnet.down()


@pytest.fixture(scope="session")
def world(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _start(build, tmp_path_factory.mktemp("api-world"), play)


@pytest.fixture(scope="module")
def fresh(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _start(build, tmp_path_factory.mktemp("api-fresh"), None)


@dataclass
class Fitted:
    """A synthetic world, its index, and a model fitted (and evaluated) on it by ``scoring.evaluate``."""

    world: synthetic.World
    db_url: str
    report: dict[str, Any]
    model: Model
    model_file: Path


def _truth(world: synthetic.World) -> dict[str, Truth]:
    kinds = {0: "core", -1: "bank"}
    return {
        p.address: Truth(
            p.address, kinds.get(p.tier, "supplier"), None if p.tier < 0 else p.tier, p.failed, p.bad_actor, p.tier == 1
        )
        for p in world.parties
    }


@pytest.fixture(scope="session")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Fitted:
    root = tmp_path_factory.mktemp("synthetic")
    world = synthetic.generate(160, seed=3)
    report, model = evaluate.evaluate(world.history(), _truth(world), training={"world_seed": 3})
    model.save(root / "model.json")
    return Fitted(world, synthetic.write_sqlite(world, root / "ledger.db"), report, model, root / "model.json")
