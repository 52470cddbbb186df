"""How well the hold-out failures can be told from observed, verified history: a check of the world, not a scorer.

For every supplier that traded in the observation period it reads, from the chain's facts up
to ``observation_end``, its orders as supplier and what went wrong with them (refunds,
cancellations, disputes, deliveries attested after deliver-by), and ranks suppliers three
ways against ``failed`` in the ground truth (AUC, ties counted half):

* ``history``: the smoothed share of its orders that went wrong;
* ``volume``: its verified sales volume alone (smaller = riskier);
* ``p_fail``: the hidden probability itself, the best any scorer could do.

A good world has ``history`` well above ``volume`` and both below ``p_fail``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from scenarios.facts import ChainFacts
from scenarios.world import SUPPLIER, World


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Probability that a random positive scores above a random negative (Mann-Whitney), None without both."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def separability(world: World, facts: ChainFacts, observation_end: int) -> dict[str, Any]:
    observed = [f for f in facts.facts if f.timestamp <= observation_end]
    supplier_of: dict[int, str] = {}
    deliver_by: dict[int, int] = {}
    orders: Counter[str] = Counter()
    volume: Counter[str] = Counter()
    troubles: Counter[str] = Counter()
    for fact in observed:
        if fact.event == "OrderCreated":
            order_id = int(fact.args["orderId"])
            supplier_of[order_id] = fact.args["supplier"]
            deliver_by[order_id] = int(fact.args["deliverBy"])
            orders[fact.args["supplier"]] += 1
            volume[fact.args["supplier"]] += int(fact.args["amount"])
    for fact in observed:
        order_id = int(fact.args.get("orderId", 0) or 0)
        supplier = supplier_of.get(order_id)
        if supplier is None:
            continue
        late = (
            fact.event == "MilestoneAttested"
            and int(fact.args["milestone"]) == 2
            and int(fact.args["occurredAt"]) > deliver_by[order_id]
        )
        if fact.event in ("OrderRefunded", "OrderCancelled", "DisputeOpened") or late:
            troubles[supplier] += 1
    suppliers = [p for p in world.parties if p.kind == SUPPLIER and orders[p.address]]
    labels = [p.fails for p in suppliers]
    history = [(troubles[p.address] + 0.5) / (orders[p.address] + 3) for p in suppliers]
    small = [-float(volume[p.address]) for p in suppliers]
    hidden = [p.traits.p_fail if p.traits is not None else 0.0 for p in suppliers]
    return {
        "suppliers": len(suppliers),
        "failed": sum(labels),
        "auc_history": _round(auc(history, labels)),
        "auc_volume": _round(auc(small, labels)),
        "auc_p_fail": _round(auc(hidden, labels)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def as_row(check: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in check.items())
