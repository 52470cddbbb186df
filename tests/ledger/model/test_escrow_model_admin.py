"""The escrow model's administration: only an admin sets oracle thresholds, the windows and the allowed
tokens, and only to values the contract accepts (positive thresholds per known kind, windows of at
most a year with the resolve window no shorter than the answer window).
"""

from __future__ import annotations

from functools import partial

from ledger.domain.escrow import Windows
from tests.ledger.model.escrow_model_helpers import (
    ADMIN,
    AMOUNT,
    BUYER,
    DAY,
    OTHER_TOKEN,
    T0,
    TOKEN,
    create,
    new_model,
    prepay,
    rejected,
    terms,
)


def test_only_an_admin_changes_thresholds_windows_and_tokens_and_only_to_sane_values() -> None:
    model = new_model()
    assert rejected(lambda: model.set_threshold(1, 2, caller=BUYER)).error_args == {"caller": BUYER}
    for kind, threshold in ((0, 1), (4, 1), (1, 0)):
        failure = rejected(partial(model.set_threshold, kind, threshold, caller=ADMIN))
        assert failure.error_args == {"kind": kind, "threshold": threshold}
    bad = Windows(DAY, 3 * DAY, 2 * DAY, DAY)  # resolve window shorter than the answer window
    assert rejected(lambda: model.set_windows(bad, caller=ADMIN)).error == "TradeEscrowInvalidWindows"
    year = 365 * DAY
    for too_long in (
        Windows(year + 1, DAY, DAY, DAY),
        Windows(DAY, year + 1, year + 1, DAY),
        Windows(DAY, DAY, year + 1, DAY),
        Windows(DAY, DAY, DAY, year + 1),
    ):
        assert rejected(partial(model.set_windows, too_long, caller=ADMIN)).error == "TradeEscrowInvalidWindows"
    model.set_windows(Windows(year, year, year, year), caller=ADMIN)  # a year each is the most allowed
    model.set_windows(Windows(DAY, DAY, DAY, DAY), caller=ADMIN)
    model.set_token_allowed(OTHER_TOKEN, True, caller=ADMIN)
    t = terms(token=OTHER_TOKEN)
    create(model, t)
    model.fund(1, caller=BUYER, now=T0)
    assert model.held(OTHER_TOKEN) == AMOUNT and model.held() == 0
    # Pre-payment pays in the registry's currency only.
    failure = rejected(lambda: prepay(model, 1, 1))
    assert failure.error_args == {"token": OTHER_TOKEN, "currency": TOKEN}
