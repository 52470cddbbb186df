"""The ``/v1`` API in process over a real chain of its own, indexed into SQLite, as the API suites test it.

``open_api_world`` starts an anvil with the ledger deployed (``tests.support.chains``), optionally
plays a history on it (the indexer scenario, ``tests.support.index_scenario``), indexes it, and
yields a ``World``: the chain, the settings and a FastAPI ``TestClient`` (real HTTP semantics, no
sockets). The ``/v1`` suite's conftest makes its shared read-only ``world`` and its per-module
``fresh`` worlds with it; the hostile-input tests make one of their own.

``sign_in`` answers the API's challenge with a party's key, as any client does, and returns the
bearer header. The rate limits are ``GENEROUS`` unless a test passes its own: tests sign in per
request, and only ``test_ratelimit`` is about the limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.ratelimit import Rate, RateLimits
from api.v1.settings import Settings
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.index.indexer import Indexer
from ledger.index.sql import open_engine
from ledger.toolchain.devnet import Devnet
from tests.support.chains import own_chain
from tests.support.deployments import Deployed
from tests.support.index_scenario import Scenario


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


def open_api_world(
    build: BuildResult, root: Path, scenario: Callable[[Deployed], Scenario] | None, **options: object
) -> Iterator[World]:
    """The world under ``root`` (anvil, record, ``ledger.db``), with ``scenario`` played and indexed; ``options``
    go to ``Settings``. A generator for a fixture to ``yield from``: the anvil stops when it is closed."""
    with own_chain(build, root) as own:
        deployed = own.deployed
        played = scenario(deployed) if scenario else None
        db_url = f"sqlite:///{root / 'ledger.db'}"
        options = {"rate_limits": GENEROUS, **options}  # tests sign in per request; test_ratelimit sets its own
        relayer = deployed.accounts["relayer"]
        # ``options`` are Settings' own keyword arguments, passed through untyped (as the fixtures pass them).
        settings = Settings(
            deployed.chain,
            build,
            deployed.addresses,
            db_url,
            domain="testserver",
            relayer=relayer,
            **options,  # type: ignore[arg-type]
        )
        with TestClient(create_app(settings)) as client:
            world = World(own.devnet, deployed, own.record, db_url, played, settings, client)
            world.index()
            yield world
