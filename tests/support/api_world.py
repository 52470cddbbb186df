"""The ``/v1`` API in process over a real chain of its own, indexed into SQLite or PostgreSQL, as the API suites
test it.

``world_chain`` starts an anvil with the ledger deployed (``tests.support.chains``) and optionally
plays a history on it (the indexer scenario, ``tests.support.index_scenario``); ``serve_world``
serves that chain from a database of one kind (``tests.support.databases``: the index and the
API's store in it, as ``scf serve`` keeps them by default), indexes it, and yields a ``World``: the
chain, the settings and a FastAPI ``TestClient`` (real HTTP semantics, no sockets).
``open_api_world`` is the two in one, on SQLite.

The chain is what costs (a deployment, a played history); a database is cheap to fill from it. So
the ``/v1`` suite plays its session chain once and serves it from each kind (the read-only
``world``), and each module's ``fresh`` chain is served from SQLite, then rewound to its clean
deployment (``WorldChain.rewind``: a devnet snapshot) and served from PostgreSQL. The hostile-input
tests make a world of their own.

``sign_in`` answers the API's challenge with a party's key, as any client does, and returns the
bearer header. The rate limits are ``GENEROUS`` unless a test passes its own: tests sign in per
request, and only ``test_ratelimit`` is about the limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api.v1.app import create_app
from api.v1.ratelimit import Rate, RateLimits
from api.v1.settings import Settings
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.index.indexer import Indexer
from ledger.index.sql import open_engine
from ledger.toolchain.devnet import Devnet
from tests.support.chains import OwnChain, own_chain
from tests.support.databases import Databases
from tests.support.deployments import Deployed
from tests.support.index_scenario import Scenario
from tests.support.receivables import CONSORTIUM_KEY as RECEIVABLES_CONSORTIUM_KEY


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

    @property
    def database_kind(self) -> str:
        """``sqlite`` or ``postgresql``: where the index and the API's store are."""
        return make_url(self.db_url).get_backend_name()

    def account(self, role: str) -> LocalAccount:
        return self.deployed.accounts[role]

    def index(self) -> None:
        # The indexer brings the schema to head itself (under its lock): a migration check here would be a second.
        engine = open_engine(self.db_url, migrate=False)
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
#: The consortium's invoice-fingerprint key of the served API (the same as the contract tests': one consortium).
CONSORTIUM_KEY = RECEIVABLES_CONSORTIUM_KEY
GENEROUS = RateLimits(*(Rate(10_000, 60) for _ in fields(RateLimits)))


@dataclass
class WorldChain:
    """A chain of the API suite's own (anvil, ledger deployed, ``scenario`` played), served from one database after
    another; ``rewind`` takes it back to how it was made, so each serving starts from the same chain."""

    own: OwnChain
    scenario: Scenario | None
    root: Path
    _snapshot: Any = field(default=None, repr=False)
    _served: int = 0

    def rewind(self) -> None:
        """Back to the chain as it was made, unless nothing has been served from it yet (a devnet snapshot: the
        chain forgets every block since, and the chain client the nonces it counted)."""
        chain = self.own.deployed.chain
        if self._served and self._snapshot is not None:
            chain.revert(self._snapshot)
            # The reverted clock is the snapshot's, now behind the wall; a devnet runs at or ahead of the wall (the
            # API's clock is the later of the two), as the chain did when it was made.
            behind = int(time.time()) - chain.timestamp()
            if behind > 0:
                chain.advance_time(behind + 1)
        self._snapshot = chain.snapshot()


@contextmanager
def world_chain(
    build: BuildResult, root: Path, scenario: Callable[[Deployed], Scenario] | None
) -> Iterator[WorldChain]:
    """The chain under ``root`` (anvil, record), with ``scenario`` played; the anvil stops on exit."""
    with own_chain(build, root) as own:
        played = scenario(own.deployed) if scenario else None
        yield WorldChain(own, played, root)


def serve_world(chain: WorldChain, databases: Databases | None = None, **options: object) -> Iterator[World]:
    """``chain`` served from a new database of ``databases``' kind (None: ``ledger.db`` under the chain's root) and
    indexed into it; ``options`` go to ``Settings``. A generator for a fixture to ``yield from``."""
    deployed = chain.own.deployed
    db_url = databases.served_url() if databases is not None else f"sqlite:///{chain.root / 'ledger.db'}"
    # Tests sign in per request (test_ratelimit sets its own limits); the API fingerprints invoices under
    # CONSORTIUM_KEY (a test that needs a server without a key passes fingerprint_key=None).
    options = {"rate_limits": GENEROUS, "fingerprint_key": CONSORTIUM_KEY, **options}
    # ``options`` are Settings' own keyword arguments, passed through untyped (as the fixtures pass them).
    settings = Settings(
        deployed.chain,
        deployed.build,
        deployed.addresses,
        db_url,
        domain="testserver",
        relayer=deployed.accounts["relayer"],
        **options,  # type: ignore[arg-type]
    )
    chain._served += 1
    with TestClient(create_app(settings)) as client:
        world = World(chain.own.devnet, deployed, chain.own.record, db_url, chain.scenario, settings, client)
        world.index()
        yield world


def open_api_world(
    build: BuildResult, root: Path, scenario: Callable[[Deployed], Scenario] | None, **options: object
) -> Iterator[World]:
    """The world under ``root`` (anvil, record, ``ledger.db``), with ``scenario`` played and indexed; ``options``
    go to ``Settings``. A generator for a fixture to ``yield from``: the anvil stops when it is closed."""
    with world_chain(build, root, scenario) as chain:
        yield from serve_world(chain, None, **options)
