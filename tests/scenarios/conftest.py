"""The scenario tests share one played 30-firm, 6-month world on an anvil of its own.

The world and its fixture are the test kit's (``tests.support.played_world``): the scoring and
end-to-end suites read the same world.
"""

from __future__ import annotations

from tests.support.played_world import world

__all__ = ["world"]  # imported to be declared here: pytest registers it in this conftest
