"""The fixture pair of a module that tests on a ready-made world over the session's deployed ledger.

A world (``open_world`` of ``tests.support.escrow``: balances, allowances, a guarantee pool, a
credit limit, extra oracles, one order in each early state; or ``open_rworld`` of
``tests.support.receivables``) costs dozens of transactions, too many to send again for
every test, and must not leak into other modules. So a module declares

    module_world, world = world_fixtures(open_world)

* ``module_world`` (module scope) builds the world once per module and backend under a snapshot
  of ``deployed_session`` and reverts to it when the module ends;
* ``world`` (per test) is the same world taken together with ``deployed``, whose per-test
  snapshot rolls every test back to the world afterwards.

A module whose tests take ``module_world`` and ``deployed`` themselves keeps only the first:
``module_world = world_fixtures(open_world).module_world``. Pytest registers a fixture under the
name a module binds it to, so the names on the left are the fixtures' names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

import pytest

from tests.support.deployments import Deployed

W = TypeVar("W")


class WorldFixtures(NamedTuple):
    """Two pytest fixture functions (typed loosely: pytest's own type for them is private)."""

    module_world: Callable[..., Any]
    world: Callable[..., Any]


def world_fixtures(open_world: Callable[[Deployed], Iterator[W]]) -> WorldFixtures:
    """``module_world`` and ``world`` over the world that ``open_world`` builds under a snapshot and rolls back."""

    @pytest.fixture(scope="module")
    def module_world(deployed_session: Deployed) -> Iterator[W]:
        yield from open_world(deployed_session)

    @pytest.fixture
    def world(module_world: W, deployed: Deployed) -> W:
        return module_world

    return WorldFixtures(module_world, world)
