"""A synthetic world, its features and a model fitted on it, made once for the scoring suite.

What ``fitted`` holds and how it is made: ``tests.support.fitted``.
"""

from __future__ import annotations

import pytest

from tests.support.fitted import Fitted, fit_scorecard


@pytest.fixture(scope="session")
def fitted() -> Fitted:
    return fit_scorecard()
