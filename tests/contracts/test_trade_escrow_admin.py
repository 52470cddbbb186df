"""TradeEscrow administration: constructor defaults, setThreshold, setWindows, setTokenAllowed; who may call them."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from ledger.clients.escrow import TradeEscrowClient
from ledger.domain.escrow import OrderStatus, Windows
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    ANSWER_WINDOW,
    CARRIER,
    CLAIM_WINDOW,
    CUSTOMS,
    DAY,
    HOUR,
    INSPECTOR,
    MAX_ATTESTATION_AGE,
    RESOLVE_WINDOW,
    World,
    acct,
    addr,
    advance_to,
    assert_money_accounted,
    block_time,
    create_order,
    escrow_of,
    events,
    make_terms,
    open_dispute,
    open_world,
    quick,
    revert_of,
    send,
    view,
)
from tests.support.worlds import world_fixtures

DEFAULT_WINDOWS = Windows(CLAIM_WINDOW, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE)
YEAR = 365 * DAY  # the longest window setWindows accepts


module_world, world = world_fixtures(open_world)


def refused(call: Any) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(call)
    return caught.error, caught.error_args


def thresholds(escrow: TradeEscrowClient) -> list[int]:
    return [escrow.threshold(kind) for kind in range(5)]


def allowed(deployed: Deployed, token: str) -> bool:
    return bool(view(deployed, escrow_of(deployed).contract.functions.tokenAllowed(token)))


# -- constructor ------------------------------------------------------------------------------


@pytest.mark.parity
def test_a_new_escrow_starts_with_the_default_rules_and_announces_them(deployed: Deployed, world: World) -> None:
    admin, currency = acct(deployed, "admin"), deployed.addresses["SettlementToken"]
    receipt = deployed.chain.deploy(
        deployed.build["TradeEscrow"], [deployed.addresses["Membership"], deployed.addresses["CreditRegistry"]], admin
    )
    fresh = TradeEscrowClient(quick(deployed), deployed.build, str(receipt["contractAddress"]))

    assert [(event.name, event.args) for event in fresh.events(receipt)] == [
        ("TokenAllowed", {"token": currency, "allowed": True, "admin": admin.address}),
        ("ThresholdSet", {"kind": CARRIER, "threshold": 1, "admin": admin.address}),
        ("ThresholdSet", {"kind": INSPECTOR, "threshold": 1, "admin": admin.address}),
        ("ThresholdSet", {"kind": CUSTOMS, "threshold": 1, "admin": admin.address}),
        (
            "WindowsSet",
            {
                "claimWindow": CLAIM_WINDOW,
                "answerWindow": ANSWER_WINDOW,
                "resolveWindow": RESOLVE_WINDOW,
                "maxAttestationAge": MAX_ATTESTATION_AGE,
                "admin": admin.address,
            },
        ),
    ]
    fns = fresh.contract.functions
    assert thresholds(fresh) == [0, 1, 1, 1, 0]
    assert fresh.windows() == DEFAULT_WINDOWS
    assert view(deployed, fns.tokenAllowed(currency)) is True
    assert view(deployed, fns.tokenAllowed(deployed.addresses["Membership"])) is False
    assert view(deployed, fns.orderCount()) == 0
    assert view(deployed, fns.membership()) == deployed.addresses["Membership"]
    assert view(deployed, fns.creditRegistry()) == deployed.addresses["CreditRegistry"]


# -- setThreshold -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [CARRIER, INSPECTOR, CUSTOMS])
def test_set_threshold_by_the_admin_changes_only_that_kind(deployed: Deployed, world: World, kind: int) -> None:
    escrow, admin = escrow_of(deployed), addr(deployed, "admin")

    receipt = escrow.set_threshold(kind, 3, acct(deployed, "admin"))

    assert events(deployed, receipt) == [("ThresholdSet", {"kind": kind, "threshold": 3, "admin": admin})]
    expected = [0, 1, 1, 1, 0]
    expected[kind] = 3
    assert thresholds(escrow) == expected


@pytest.mark.parametrize(("kind", "threshold"), [(0, 1), (4, 1), (255, 2), (CARRIER, 0), (CUSTOMS, 0)])
def test_set_threshold_for_no_oracle_kind_or_to_zero_reverts_with_invalid_threshold(
    deployed: Deployed, world: World, kind: int, threshold: int
) -> None:
    escrow = escrow_of(deployed)

    assert refused(lambda: escrow.set_threshold(kind, threshold, acct(deployed, "admin"))) == (
        "TradeEscrowInvalidThreshold",
        {"kind": kind, "threshold": threshold},
    )
    assert thresholds(escrow) == [0, 1, 1, 1, 0]


@pytest.mark.parametrize("caller", ["core", "arbiter", "relayer"])
def test_set_threshold_by_anyone_but_an_admin_reverts_with_unauthorized(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: escrow_of(deployed).set_threshold(CARRIER, 2, acct(deployed, caller))) == (
        "TradeEscrowUnauthorized",
        {"caller": addr(deployed, caller)},
    )


@pytest.mark.parity
def test_a_suspended_admin_is_unauthorized_and_another_admin_is_not(deployed: Deployed, world: World) -> None:
    membership = deployed.membership.functions
    send(
        deployed, membership.setRoles(addr(deployed, "core"), ROLE["core"] | ROLE["admin"], 0), acct(deployed, "admin")
    )
    send(deployed, membership.suspend(addr(deployed, "admin"), keccak(text="audit")), acct(deployed, "core"))

    assert refused(lambda: escrow_of(deployed).set_threshold(CARRIER, 2, acct(deployed, "admin"))) == (
        "TradeEscrowUnauthorized",
        {"caller": addr(deployed, "admin")},
    )
    escrow_of(deployed).set_threshold(CARRIER, 2, acct(deployed, "core"))
    assert escrow_of(deployed).threshold(CARRIER) == 2


# -- setWindows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "windows",
    [
        Windows(7 * DAY, DAY, 2 * DAY, 3 * DAY),
        Windows(1, 1, 1, 1),
        Windows(CLAIM_WINDOW, 5 * DAY, 5 * DAY, MAX_ATTESTATION_AGE),
        Windows(YEAR, YEAR, YEAR, YEAR),
    ],
    ids=["shorter", "one-second", "resolve-equals-answer", "a-year-each"],
)
def test_set_windows_by_the_admin_replaces_them(deployed: Deployed, world: World, windows: Windows) -> None:
    escrow, admin = escrow_of(deployed), addr(deployed, "admin")

    receipt = escrow.set_windows(windows, acct(deployed, "admin"))

    assert events(deployed, receipt) == [
        (
            "WindowsSet",
            {
                "claimWindow": windows.claim_window,
                "answerWindow": windows.answer_window,
                "resolveWindow": windows.resolve_window,
                "maxAttestationAge": windows.max_attestation_age,
                "admin": admin,
            },
        )
    ]
    assert escrow.windows() == windows


@pytest.mark.parametrize(
    "windows",
    [
        Windows(0, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, 0, RESOLVE_WINDOW, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, ANSWER_WINDOW, ANSWER_WINDOW - 1, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, ANSWER_WINDOW, RESOLVE_WINDOW, 0),
    ],
    ids=["no-claim-window", "no-answer-window", "resolve-before-answer", "no-attestation-age"],
)
def test_set_windows_with_an_empty_or_inverted_window_reverts_with_invalid_windows(
    deployed: Deployed, world: World, windows: Windows
) -> None:
    escrow = escrow_of(deployed)

    assert refused(lambda: escrow.set_windows(windows, acct(deployed, "admin"))) == ("TradeEscrowInvalidWindows", {})
    assert escrow.windows() == DEFAULT_WINDOWS


@pytest.mark.parametrize(
    "windows",
    [
        Windows(YEAR + 1, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, YEAR + 1, YEAR + 1, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, ANSWER_WINDOW, YEAR + 1, MAX_ATTESTATION_AGE),
        Windows(CLAIM_WINDOW, ANSWER_WINDOW, RESOLVE_WINDOW, YEAR + 1),
        Windows(2**64 - 1, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE),
    ],
    ids=["claim", "answer", "resolve", "attestation-age", "claim-max-uint64"],
)
def test_set_windows_with_a_window_above_a_year_reverts_with_invalid_windows(
    deployed: Deployed, world: World, windows: Windows
) -> None:
    """No window above 365 days, so `deliveredRecordedAt + claimWindow` and `now + resolveWindow` never overflow."""
    escrow = escrow_of(deployed)

    assert refused(lambda: escrow.set_windows(windows, acct(deployed, "admin"))) == ("TradeEscrowInvalidWindows", {})
    assert escrow.windows() == DEFAULT_WINDOWS


@pytest.mark.parametrize("caller", ["core", "arbiter", "relayer"])
def test_set_windows_by_anyone_but_an_admin_reverts_with_unauthorized(
    deployed: Deployed, world: World, caller: str
) -> None:
    assert refused(lambda: escrow_of(deployed).set_windows(Windows(1, 1, 1, 1), acct(deployed, caller))) == (
        "TradeEscrowUnauthorized",
        {"caller": addr(deployed, caller)},
    )


def test_new_dispute_windows_apply_to_disputes_opened_afterwards_only(deployed: Deployed, world: World) -> None:
    escrow, admin = escrow_of(deployed), acct(deployed, "admin")
    first = open_dispute(deployed, world.delivered)
    escrow.set_windows(Windows(CLAIM_WINDOW, DAY, 2 * DAY, MAX_ATTESTATION_AGE), admin)
    second = open_dispute(deployed, world.inspecting)

    opened_first, opened_second = block_time(deployed, first), block_time(deployed, second)
    assert (escrow.dispute(world.delivered).answer_by, escrow.dispute(world.delivered).resolve_by) == (
        opened_first + ANSWER_WINDOW,
        opened_first + RESOLVE_WINDOW,
    )
    assert (escrow.dispute(world.inspecting).answer_by, escrow.dispute(world.inspecting).resolve_by) == (
        opened_second + DAY,
        opened_second + 2 * DAY,
    )
    advance_to(deployed, opened_second + DAY + HOUR)
    escrow.close_expired_dispute(world.inspecting, acct(deployed, "relayer"))
    assert refused(lambda: escrow.close_expired_dispute(world.delivered, acct(deployed, "relayer")))[0] == (
        "TradeEscrowDisputeStillOpen"
    )


@pytest.mark.parity
def test_a_new_claim_window_applies_to_orders_already_delivered(deployed: Deployed, world: World) -> None:
    """The claim window is read when used, not fixed at delivery: shortening it shortens open windows too."""
    escrow = escrow_of(deployed)
    recorded = escrow.order(world.delivered).delivered_recorded_at
    escrow.set_windows(Windows(DAY, ANSWER_WINDOW, RESOLVE_WINDOW, MAX_ATTESTATION_AGE), acct(deployed, "admin"))
    advance_to(deployed, recorded + DAY + HOUR)

    assert refused(lambda: escrow.open_dispute(world.delivered, keccak(text="late"), acct(deployed, "core"))) == (
        "TradeEscrowClaimWindowClosed",
        {"orderId": world.delivered, "endedAt": recorded + DAY},
    )
    escrow.release(world.delivered, acct(deployed, "relayer"))
    assert escrow.order(world.delivered).status is OrderStatus.RELEASED


# -- setTokenAllowed --------------------------------------------------------------------------


def test_set_token_allowed_lets_orders_use_another_token(deployed: Deployed, world: World) -> None:
    admin = acct(deployed, "admin")
    receipt = deployed.chain.deploy(
        deployed.build["SettlementToken"], [deployed.addresses["Membership"], "Euro", "dEUR"], admin
    )
    other = str(receipt["contractAddress"])

    receipt = escrow_of(deployed).set_token_allowed(other, True, admin)

    assert events(deployed, receipt) == [("TokenAllowed", {"token": other, "allowed": True, "admin": admin.address})]
    assert allowed(deployed, other) is True
    order_id, _ = create_order(deployed, make_terms(deployed, token=other))
    assert escrow_of(deployed).order(order_id).terms.token == other


@pytest.mark.parity
def test_disallowing_a_token_refuses_new_orders_but_lets_open_ones_settle(deployed: Deployed, world: World) -> None:
    escrow, admin, currency = escrow_of(deployed), acct(deployed, "admin"), deployed.addresses["SettlementToken"]

    receipt = escrow.set_token_allowed(currency, False, admin)

    assert events(deployed, receipt) == [
        ("TokenAllowed", {"token": currency, "allowed": False, "admin": admin.address})
    ]
    assert allowed(deployed, currency) is False
    assert refused(lambda: create_order(deployed, make_terms(deployed))) == (
        "TradeEscrowTokenNotAllowed",
        {"token": currency},
    )
    escrow.fund(world.created, acct(deployed, "core"))
    escrow.confirm_receipt(world.delivered, acct(deployed, "core"))
    advance_to(deployed, escrow.order(world.funded).terms.ship_by + 1)
    escrow.refund_unshipped(world.funded, acct(deployed, "relayer"))
    assert [escrow.order(i).status for i in (world.created, world.funded, world.delivered)] == [
        OrderStatus.FUNDED,
        OrderStatus.REFUNDED,
        OrderStatus.RELEASED,
    ]
    assert_money_accounted(deployed)


@pytest.mark.parametrize("caller", ["core", "bank", "relayer"])
def test_set_token_allowed_by_anyone_but_an_admin_reverts_with_unauthorized(
    deployed: Deployed, world: World, caller: str
) -> None:
    token = deployed.addresses["Membership"]

    assert refused(lambda: escrow_of(deployed).set_token_allowed(token, True, acct(deployed, caller))) == (
        "TradeEscrowUnauthorized",
        {"caller": addr(deployed, caller)},
    )
    assert allowed(deployed, token) is False
