"""The indexer suite's chain: a ledger on an anvil of its own with a history of every kind of event.

``index_chain`` is a session fixture: the ledger is deployed with a deployment record
(``tests.support.chains``) and driven through the indexer scenario
(``tests.support.index_scenario``), which leaves orders in every end state, disputes, guarantees,
receivable trees, financings, repayments, claims and limits. The anvil is the suite's own because
the reorg tests revert it to snapshots.

The indexer suite's conftest and the audit's SQL tests (``tests/ledger/audit/test_sql.py``) both
import the fixture, which registers it in each; each then plays the scenario once per worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.index.indexer import Indexer
from ledger.toolchain.devnet import Devnet
from tests.support.chains import own_chain
from tests.support.deployments import Deployed
from tests.support.index_scenario import Scenario, play


@dataclass
class IndexChain:
    """The suite's chain: a deployed ledger with its record, and what the scenario did."""

    devnet: Devnet
    deployed: Deployed
    record: Path
    scenario: Scenario

    @property
    def chain(self) -> Chain:
        return self.deployed.chain

    def indexer(self, engine: Engine, **options: object) -> Indexer:
        return Indexer.for_deployment(self.chain, engine, self.deployed.build, self.record, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def index_chain(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexChain]:
    with own_chain(build, tmp_path_factory.mktemp("index-chain")) as own:
        yield IndexChain(own.devnet, own.deployed, own.record, play(own.deployed))
