"""The world's files: public facts (``world.json``), the hidden ground truth (``ground_truth.json``) and the
parties' invoices (``invoices.json``).

``world.json`` holds what any member of the ledger could know: the deployment, the blocks
that bound the observation and hold-out periods, the parties' addresses, names and public
kinds, and the summary. ``ground_truth.json`` holds what only the simulator knows, for the
scorer to read when evaluating and never before: every party's hidden traits, its part in a
scheme (``bad_actor``), whether and when it failed in the hold-out period, its first trade
and whether it ever sold to a core directly, and the bad actors' refused attempts. ``invoices.json``
holds what the parties keep off chain about each receivable's invoice: its number, amount, date and the
salt of its commitment, with the fingerprint and commitment the chain holds instead, and the id (never
the bytes) of the consortium key the fingerprints are computed under.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scenarios.facts import ChainFacts
from scenarios.plan import Plan
from scenarios.records import Checkpoint, Refusal
from scenarios.world import CORE, World

FORMAT = 1
WORLD_FILE = "world.json"
TRUTH_FILE = "ground_truth.json"
INVOICES_FILE = "invoices.json"


def write_outputs(
    out_dir: Path,
    world: World,
    plan: Plan,
    facts: ChainFacts,
    chain_id: int,
    addresses: Mapping[str, str],
    start: Checkpoint,
    observation_end: Checkpoint,
    end: Checkpoint,
    summary: Mapping[str, Any],
    refusals: Sequence[Refusal],
    *,
    recovered: Mapping[str, Any] | None = None,
    invoices: Mapping[int, Mapping[str, Any]] | None = None,
) -> tuple[Path, Path]:
    """The files in ``out_dir``; ``recovered`` (see ``scenarios.recover``) marks files rebuilt from the chain,
    which have no ``invoices.json`` (``invoices``: each root's ``Invoice.to_json()``, by root id)."""
    config = world.config
    out_dir.mkdir(parents=True, exist_ok=True)
    public = {
        "format": FORMAT,
        "seed": config.seed,
        "firms": config.firms,
        "months": config.months,
        "holdout_months": config.holdout_months,
        "chain_id": chain_id,
        "addresses": {name: addresses[name] for name in sorted(addresses)},
        "start": start.to_json(),
        "observation_end": observation_end.to_json(),
        "end": end.to_json(),
        "weeks": plan.ticks,
        "observed_weeks": plan.observation_ticks,
        "parties": [{"address": p.address, "name": p.name, "kind": p.kind} for p in world.parties],
        "banks": [p.address for p in world.parties if p.kind == "bank"],
        "relayer": world.relayer.address,
        "facts_digest": facts.digest,
        "summary": dict(summary),
    }
    if recovered is not None:
        public["recovered"] = dict(recovered)
    first_trade: dict[str, int] = {}
    sells_to_core: set[str] = set()
    cores = {p.address for p in world.parties if p.kind == CORE}
    for fact in facts.named("OrderCreated"):
        for role in ("buyer", "supplier"):
            address = fact.args[role]
            first_trade.setdefault(address, fact.timestamp)
        if fact.args["buyer"] in cores:
            sells_to_core.add(fact.args["supplier"])
    parties: dict[str, Any] = {}
    for p in world.parties:
        failed_at = plan.start + p.fail_offset if p.fail_offset is not None else None
        parties[p.address] = {
            "name": p.name,
            "kind": p.kind,
            "tier": p.tier,
            "traits": p.traits.to_json() if p.traits is not None else None,
            "bad_actor": p.bad_actor,
            "failed": p.fails,
            "failed_at": failed_at,
            "deteriorated": p.deteriorates,
            "weak_payer": p.weak_payer,
            "first_trade": first_trade.get(p.address),
            "sells_to_core": p.address in sells_to_core if p.kind == "supplier" else None,
        }
    hidden = {
        "format": FORMAT,
        "seed": config.seed,
        "firms": config.firms,
        "months": config.months,
        "observation_end": observation_end.to_json(),
        "end": end.to_json(),
        "parties": parties,
        "circle": [world.parties[i].address for i in world.circle],
        "double_financer": world.parties[world.double_financer].address,
        "refused_attempts": [r.to_json() for r in refusals],
    }
    if recovered is not None:
        hidden["recovered"] = dict(recovered)
    world_path, truth_path = out_dir / WORLD_FILE, out_dir / TRUTH_FILE
    if invoices is not None:
        kept = {
            "format": FORMAT,
            "consortium_key_id": config.consortium_key().key_id,
            "roots": {str(root_id): dict(invoices[root_id]) for root_id in sorted(invoices)},
        }
        tmp = (out_dir / INVOICES_FILE).with_suffix(".tmp")
        tmp.write_text(json.dumps(kept, indent=1) + "\n")
        tmp.replace(out_dir / INVOICES_FILE)
    # The truth first, each file whole or not at all: a world.json is only ever next to its truth.
    for path, data in ((truth_path, hidden), (world_path, public)):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(path)
    return world_path, truth_path
