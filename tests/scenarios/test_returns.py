"""Each bank's money counted from the chain's facts (scenarios/returns.py): repaid, lost, outstanding."""

from __future__ import annotations

from typing import Any

from scenarios.facts import ChainFacts, Fact
from scenarios.market import BankBook
from scenarios.returns import bank_returns
from scenarios.world import BANK, SUPPLIER, ScenarioConfig, generate

UNIT = 10**6
WORLD = generate(ScenarioConfig(firms=30, months=6, seed=7))
POLICY, FLAT = (p.address for p in WORLD.of_kind(BANK))
SELLERS = {t: next(p.address for p in WORLD.of_kind(SUPPLIER) if p.tier == t) for t in (1, 2, 3)}


def fact(event: str, **args: Any) -> Fact:
    return Fact(1, 0, "Receivables", event, args)


def financed(piece: int, root: int, bank: str, tier: int, price: int, amount: int) -> Fact:
    return fact(
        "PieceFinanced", pieceId=piece, rootId=root, bank=bank, seller=SELLERS[tier], price=price, amount=amount
    )


def facts(*items: Fact) -> ChainFacts:
    return ChainFacts(list(items), len(items), 1, "0x")


def test_a_repaid_piece_earns_its_discount_a_defaulted_one_loses_its_price_and_an_open_one_enters_no_rate() -> None:
    chain = facts(
        financed(1, 1, POLICY, 3, 97 * UNIT, 100 * UNIT),
        fact("PieceClaimed", pieceId=1, rootId=1, holder=POLICY, amount=100 * UNIT, claimed=100 * UNIT),
        financed(2, 2, FLAT, 2, 190 * UNIT, 200 * UNIT),
        fact("ReceivableDefaulted", rootId=2, debtor=SELLERS[1], outstanding=200 * UNIT, by=FLAT),
        financed(3, 3, FLAT, 1, 48 * UNIT, 50 * UNIT),  # matures after the world ends
    )
    policy, flat = bank_returns(WORLD, chain, None)
    assert policy["financed"] == {"total": 97 * UNIT, "tier1": 0, "tier2": 0, "tier3": 97 * UNIT}
    assert (policy["interest"], policy["losses"], policy["net_return"]) == (3 * UNIT, 0, 3 * UNIT)
    assert (policy["resolved"], policy["loss_rate_bps"], policy["net_return_bps"]) == (97 * UNIT, 0, 309)
    assert flat["financed"] == {"total": 238 * UNIT, "tier1": 48 * UNIT, "tier2": 190 * UNIT, "tier3": 0}
    assert (flat["interest"], flat["losses"], flat["net_return"]) == (0, 190 * UNIT, -190 * UNIT)
    assert (flat["resolved"], flat["outstanding"], flat["loss_rate_bps"]) == (190 * UNIT, 48 * UNIT, 10_000)
    assert policy["pricing"] is policy["fill_rate_tier23"] is policy["market"] is None  # no books: rebuilt from chain


def test_a_claim_after_a_default_is_a_recovery_and_a_bank_with_nothing_resolved_has_no_rate() -> None:
    chain = facts(
        financed(1, 1, POLICY, 2, 90 * UNIT, 100 * UNIT),
        fact("ReceivableDefaulted", rootId=1, debtor=SELLERS[1], outstanding=100 * UNIT, by=POLICY),
        fact("PieceClaimed", pieceId=1, rootId=1, holder=POLICY, amount=100 * UNIT, claimed=100 * UNIT),
    )
    policy, flat = bank_returns(WORLD, chain, None)
    assert (policy["interest"], policy["losses"]) == (10 * UNIT, 0)  # repaid late, in full
    assert flat["loss_rate_bps"] is flat["net_return_bps"] is None and flat["pieces"] == 0


def test_the_fill_rate_of_tier_two_and_three_comes_from_the_books() -> None:
    book = BankBook("Harbour", POLICY, "desk policy")
    book.asked.update({1: 5, 2: 4, 3: 6})
    book.offered.update({1: 5, 2: 4, 3: 5})
    [policy, flat] = bank_returns(WORLD, facts(), {POLICY: book})
    assert policy["fill_rate_tier23"] == 0.9 and policy["pricing"] == "desk policy"
    assert policy["market"]["requests"] == {"tier1": 5, "tier2": 4, "tier3": 6}
    assert flat["fill_rate_tier23"] is None


def escrow(event: str, **args: Any) -> Fact:
    return Fact(1, 0, "TradeEscrow", event, args)


def test_a_guarantee_earns_its_fee_and_loses_what_the_pool_paid_and_was_not_repaid() -> None:
    t2, t3 = SELLERS[2], SELLERS[3]
    chain = facts(
        escrow("PrepaymentReleased", orderId=1, supplier=t3, guarantor=FLAT, amount=50 * UNIT, fee=UNIT, limitLeft=0,
               nonce=0),
        escrow("GuaranteeClaimed", orderId=1, guarantor=FLAT, supplier=t3, amount=50 * UNIT),
        escrow("OrderRefunded", orderId=1),
        escrow("ShortfallRepaid", supplier=t3, guarantor=FLAT, amount=20 * UNIT, remaining=30 * UNIT, payer=t3),
        escrow("PrepaymentReleased", orderId=2, supplier=t2, guarantor=POLICY, amount=40 * UNIT, fee=UNIT // 2,
               limitLeft=0, nonce=0),
        escrow("OrderReleased", orderId=2),
        escrow("PrepaymentReleased", orderId=3, supplier=t2, guarantor=POLICY, amount=10 * UNIT, fee=UNIT // 10,
               limitLeft=0, nonce=1),  # its order has not ended
    )  # fmt: skip
    policy, flat = bank_returns(WORLD, chain, None)
    pre = flat["pre_shipment"]
    assert pre["guaranteed"] == {"total": 50 * UNIT, "tier1": 0, "tier2": 0, "tier3": 50 * UNIT}
    assert (pre["fees"], pre["claimed"], pre["recovered"], pre["losses"]) == (UNIT, 50 * UNIT, 20 * UNIT, 30 * UNIT)
    assert (pre["net_return"], pre["resolved"], pre["loss_rate_bps"]) == (-29 * UNIT, 50 * UNIT, 6_000)
    pre = policy["pre_shipment"]
    assert (pre["fees"], pre["losses"], pre["resolved"], pre["outstanding"]) == (
        6 * UNIT // 10,
        0,
        40 * UNIT,
        10 * UNIT,
    )
    assert pre["net_return_bps"] == 150  # 0.6 on the 40 resolved
    assert policy["total"] == {"net_return": 6 * UNIT // 10, "resolved": 40 * UNIT, "net_return_bps": 150}
