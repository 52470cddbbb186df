"""The scenario tests share one played 30-firm, 6-month world on an anvil of its own."""

from __future__ import annotations

import pytest

from ledger.compiler import BuildResult
from tests.scenarios.world_fixture import PlayedWorld, small_world


@pytest.fixture(scope="session")
def world(build: BuildResult) -> PlayedWorld:
    return small_world(build)
