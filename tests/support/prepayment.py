"""Shared steps of the pre-payment tests (tests/contracts/test_trade_escrow_prepayment*.py): a draw on a bank's
signed offer, the revert it hits, and the bank's pool, exposure and limit as the escrow sees them."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    DAY,
    POOL,
    UNIT,
    acct,
    addr,
    escrow_of,
    fixed_key,
    grant_of,
    prepayment_offer_of,
    publish,
    request_prepayment,
    revert_of,
    send,
    tokens_of,
)

PREPAID = 60_000 * UNIT
FEE = 1_500 * UNIT  # the bank's price for guaranteeing PREPAID


def prepay(deployed: Deployed, order_id: int, amount: int = PREPAID, supplier: str = "tier1", *, fee: int = 0) -> Any:
    """``supplier`` accepts the bank's offer, signed by the bank, to back ``amount`` of the order for ``fee``."""
    return request_prepayment(deployed, prepayment_offer_of(deployed, order_id, amount, fee=fee), supplier)


def refused(call: Any) -> tuple[str | None, dict[str, Any]]:
    caught = revert_of(call)
    return caught.error, caught.error_args


def credit(deployed: Deployed) -> dict[str, Any]:
    """The bank's pool and tier1's exposure, shortfall and available limit, as the escrow sees them."""
    escrow = escrow_of(deployed)
    bank, supplier = addr(deployed, "bank"), addr(deployed, "tier1")
    return {
        "pool": escrow.pool(bank),
        "exposure": escrow.exposure(bank, supplier),
        "shortfall": escrow.shortfall(bank, supplier),
        "available": escrow.available_limit(bank, supplier),
    }


def credit_of(*, pool: tuple[int, int], exposure: int, shortfall: int, available: int) -> dict[str, Any]:
    return {"pool": pool, "exposure": exposure, "shortfall": shortfall, "available": available}


def lower_limit(deployed: Deployed, limit: int, valid_for: int = 365 * DAY) -> None:
    publish(deployed, grant_of(deployed, limit=limit, valid_for=valid_for))


def second_bank(deployed: Deployed) -> LocalAccount:
    """Another active BANK member with a limit for tier1 and a funded pool, like the world's bank."""
    bank2 = fixed_key("second bank")
    admin = acct(deployed, "admin")
    send(deployed, deployed.membership.functions.admit(bank2.address, ROLE["bank"], 0, keccak(text="kyc:bank2")), admin)
    deployed.chain.send_value(admin, bank2.address, 10**18)  # gas
    tokens, escrow = tokens_of(deployed).contract, escrow_of(deployed)
    send(deployed, tokens.functions.mint(bank2.address, POOL), acct(deployed, "bank"))
    send(deployed, tokens.functions.approve(escrow.address, POOL), bank2)
    escrow.fund_pool(POOL, bank2)
    publish(deployed, grant_of(deployed, bank=bank2.address), bank2)
    return bank2
