"""What a transaction pays per gas under each gas policy a network file can state."""

from __future__ import annotations

import pytest

from ledger.errors import LedgerError
from ledger.eth.fees import GWEI, PRIORITY_FEE, FeeCapBelowBaseFee, FeePolicy, Fees


def test_the_default_offers_twice_the_base_fee_plus_the_tip() -> None:
    assert FeePolicy().fees(7 * GWEI) == Fees(14 * GWEI + PRIORITY_FEE, PRIORITY_FEE)
    assert FeePolicy().fees(0) == Fees(PRIORITY_FEE, PRIORITY_FEE)


def test_a_cap_bounds_the_fee_and_a_cap_below_the_base_fee_is_refused_with_both_numbers() -> None:
    capped = FeePolicy.of_gwei("eip1559", cap_gwei=10)

    assert capped.fees(3 * GWEI) == Fees(7 * GWEI, PRIORITY_FEE)  # under the cap: as uncapped
    assert capped.fees(6 * GWEI) == Fees(10 * GWEI, PRIORITY_FEE)  # 13 gwei wanted, 10 allowed
    with pytest.raises(FeeCapBelowBaseFee) as caught:
        capped.fees(11 * GWEI)
    assert (caught.value.cap, caught.value.base_fee) == (10 * GWEI, 11 * GWEI)
    assert "no block would include the transaction" in str(caught.value)


def test_zero_gas_pays_nothing_and_refuses_a_node_that_charges_a_base_fee() -> None:
    assert FeePolicy.of_gwei("zero").fees(0) == Fees(0, 0)
    with pytest.raises(FeeCapBelowBaseFee, match=r"\(zero\) pays at most 0 wei"):
        FeePolicy.of_gwei("zero").fees(1)


def test_a_legacy_price_is_both_fields_and_must_cover_the_base_fee() -> None:
    legacy = FeePolicy.of_gwei("legacy", price_gwei=3)

    assert legacy.fees(2 * GWEI) == Fees(3 * GWEI, 3 * GWEI)
    with pytest.raises(FeeCapBelowBaseFee):
        legacy.fees(4 * GWEI)
    with pytest.raises(LedgerError, match="needs its price"):
        FeePolicy.of_gwei("legacy")
