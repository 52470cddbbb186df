"""The summary of a played world, counted from its on-chain facts (not from the plan).

Split depth is the number of levels of a receivable's tree (the root is level 1, a piece split
off it level 2...); ``tier_depth`` is the deepest supplier tier that came to hold a piece of a
core enterprise's receivable: 3 when tier-3 suppliers were paid with the core's debt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from scenarios.facts import ChainFacts
from scenarios.market import BankBook
from scenarios.returns import bank_returns
from scenarios.world import ARBITER, BANK, CARRIER, CORE, INSPECTOR, UNIT, World


class _Refusal(Protocol):
    @property
    def scheme(self) -> str: ...


def summarise(
    world: World,
    facts: ChainFacts,
    refusals: Sequence[_Refusal],
    epcis: Mapping[str, int],
    books: Mapping[str, BankBook] | None = None,
) -> dict[str, Any]:
    """Counts of what happened, from the chain; no timings, so that a replay writes the same file.

    ``books``: the market's books by bank address, for each bank's requests, offers and fill rate
    (``scenarios.returns``); without them (a world rebuilt from the chain) those are None.
    """
    tier_of = {p.address: p.tier for p in world.parties}
    kind_of = {p.address: p.kind for p in world.parties}
    counts = facts.counts()
    created = facts.named("OrderCreated")
    first, second = (world.parties[i].address for i in world.circle)
    circular = sum(1 for f in created if {f.args["buyer"], f.args["supplier"]} == {first, second})

    level: dict[int, int] = {}
    core_root: dict[int, bool] = {}
    tier_depth = 0
    for fact in facts.named("ReceivableIssued", "PieceCreated"):
        if fact.event == "ReceivableIssued":
            root = int(fact.args["rootId"])
            level[root] = 1
            core_root[root] = kind_of.get(fact.args["debtor"]) == CORE
            holder = fact.args["creditor"]
            piece_root = root
        else:
            piece = int(fact.args["pieceId"])
            level[piece] = level.get(int(fact.args["parentId"]), 1) + 1
            holder = fact.args["holder"]
            piece_root = int(fact.args["rootId"])
        tier = tier_of.get(holder)
        if core_root.get(piece_root) and tier is not None and tier > 0:
            tier_depth = max(tier_depth, tier)
    financed = facts.named("PieceFinanced")
    sizes = world.config.tier_sizes()
    kinds = Counter(p.kind for p in world.parties)
    return {
        "parties": {
            "cores": sizes[0],
            "tier1": sizes[1],
            "tier2": sizes[2],
            "tier3": sizes[3],
            "banks": kinds[BANK],
            "carriers": kinds[CARRIER],
            "inspectors": kinds[INSPECTOR],
            "arbiters": kinds[ARBITER],
        },
        "orders": len(created),
        "escrowed_orders": len(created) - counts["OpenAccountOrderCreated"],
        "open_account_orders": counts["OpenAccountOrderCreated"],
        "circular_orders": circular,
        "attested_milestones": counts["MilestoneAttested"],
        "released": counts["OrderReleased"],
        "refunds": counts["OrderRefunded"],
        "cancelled": counts["OrderCancelled"],
        "disputes": counts["DisputeOpened"],
        "disputes_resolved": counts["DisputeResolved"],
        "receivables_issued": counts["ReceivableIssued"],
        "receivables_split": counts["PieceSplit"],
        "pieces_created": counts["PieceCreated"],
        "split_depth": max(level.values(), default=0),
        "tier_depth": tier_depth,
        "financings": len(financed),
        "financed_amount": sum(int(f.args["price"]) for f in financed),
        "financed_face": sum(int(f.args["amount"]) for f in financed),
        "repayments": counts["ReceivableRepaid"],
        "claims": counts["PieceClaimed"],
        "defaults": counts["ReceivableDefaulted"],
        "refused_double_financing": len(refusals),
        "epcis_events": dict(sorted(epcis.items())),
        "banks": bank_returns(world, facts, books),
        "events": len(facts.facts),
        "blocks": facts.blocks,
        "transactions": facts.transactions,
        "amount_unit": f"smallest token unit ({UNIT} = 1 dUSD)",
    }
