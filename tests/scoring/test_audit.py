"""An auditor recomputes published limits from the chain's logs alone, on a real anvil."""

from __future__ import annotations

from ledger.clients.credit import CreditLimit
from ledger.domain.escrow import Milestone
from scoring import features
from scoring.audit import recompute_published
from scoring.chain_source import ChainEvents, block_at, decision_point
from scoring.decision import Scorer
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    MAX_UINT256,
    acct,
    addr,
    attest,
    create_order,
    fund,
    make_terms,
    registry_of,
    send_trusted,
    tokens_of,
)
from tests.support.fitted import Fitted


def trade(deployed: Deployed, orders: int) -> None:
    """Core buys from tier 1: orders created, funded, shipped and delivered with oracle attestations."""
    tokens, escrow = tokens_of(deployed), deployed.escrow
    send_trusted(
        deployed, tokens.contract.functions.mint(addr(deployed, "core"), orders * AMOUNT), acct(deployed, "bank")
    )
    send_trusted(deployed, tokens.contract.functions.approve(escrow.address, MAX_UINT256), acct(deployed, "core"))
    for n in range(orders):
        order_id, _ = create_order(deployed, make_terms(deployed, po=f"AUDIT-PO-{n}", nonce=500 + n))
        fund(deployed, order_id)
        attest(deployed, order_id, Milestone.SHIPPED, salt="audit")
        attest(deployed, order_id, Milestone.DELIVERED, salt="audit")


def test_published_limits_are_recomputed_from_chain_logs_and_a_tampered_one_is_caught(
    deployed: Deployed, fitted: Fitted
) -> None:
    chain, model = deployed.chain, fitted.model
    trade(deployed, 4)
    abis = {name: deployed.build[name].abi for name in deployed.addresses}
    chain.advance_time(60)  # the trade's last second is then in the past: the decision point steps back one
    as_of, when = decision_point(chain, chain.block_number)
    history = ChainEvents(chain, deployed.addresses, abis, as_of).history(as_of, as_of_time=when)
    decision = Scorer(features.build(history), model).decide(addr(deployed, "tier1"))
    assert decision.scored and decision.features["deliveries_12m"] == 4
    assert block_at(chain, history.as_of_time) == as_of

    registry, bank = registry_of(deployed), acct(deployed, "bank")
    nonce = registry.nonce(bank.address)
    honest = CreditLimit(
        bank.address,
        decision.party,
        decision.limit,
        decision.score or 0,
        decision.grade_code,
        bytes.fromhex(model.version[2:]),
        history.as_of_time + model.validity,
        nonce,
    )
    tampered = CreditLimit(
        bank.address,
        decision.party,
        decision.limit + 10**6,
        decision.score or 0,
        decision.grade_code,
        bytes.fromhex(model.version[2:]),
        history.as_of_time + model.validity,
        nonce + 1,
    )
    unknown = CreditLimit(
        bank.address,
        decision.party,
        decision.limit,
        decision.score or 0,
        decision.grade_code,
        b"\x01" * 32,
        history.as_of_time + model.validity,
        nonce + 2,
    )
    # A limit set by the bank's own rule, naming no model: listed apart, never a match.
    unmodelled = CreditLimit(
        bank.address, decision.party, 10**12, 0, 0, bytes(32), history.as_of_time + model.validity, nonce + 3
    )
    for grant in (honest, tampered, unknown, unmodelled):
        registry.publish(grant, registry.sign(bank, grant), bank)

    result = recompute_published(chain, deployed.addresses, model, abis=abis)
    assert [c.published["limit"] for c in result.matches] == [decision.limit]
    assert result.matches[0].as_of_block == as_of
    problems = {(c.published["limit"], c.problem) for c in result.mismatches}
    assert problems == {(decision.limit + 10**6, None), (decision.limit, "unknown model")}
    tampered_check = next(c for c in result.mismatches if c.problem is None)
    assert tampered_check.expected == {
        "limit": decision.limit,
        "score": decision.score,
        "grade": decision.grade_code,
        "model": model.version,
    }
    assert not result.ok and any("refused calls" in n for n in result.notes)
    assert [(c.published["limit"], c.bank, c.problem) for c in result.unmodelled] == [
        (10**12, bank.address, "names no model")
    ]
    assert result.to_json()["checked"] == 3 and len(result.to_json()["unmodelled"]) == 1
