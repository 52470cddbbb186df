"""The demo's cast: the parties of its story (``demo-parties.json`` in the demo's directory) and the keys
the demo may sign with (the world's seed-derived parties and the devnet's dev accounts: a devnet
convenience only; real parties keep their keys and sign for themselves through the API).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

from api.cli.demo.base import PARTIES_FILE, DemoError
from api.cli.demo.story import Story
from ledger.eth.chain import Chain
from ledger.index.sql.models import Root
from scenarios import ScenarioConfig
from scenarios.world import BANK, World


def world_config(out: Path) -> ScenarioConfig:
    try:
        data = json.loads((out / "world.json").read_text())
        return ScenarioConfig(int(data["firms"]), int(data["months"]), int(data["seed"]), int(data["holdout_months"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"no demo world in {out} ({exc}): run `scf demo` or `make run` first") from exc


def keys_of(world: World, chain: Chain | None = None) -> dict[str, LocalAccount]:
    """Every key the demo may sign with: the world's parties (seed-derived) and the devnet's dev accounts."""
    keys = {p.address: p.account for p in world.parties}
    if chain is not None and chain.accounts is not None:
        keys.update({account.address: account for _, account in chain.accounts})
    return keys


def cast_of(world: World, story: Story, piece_id: int, engine: Engine, chain_id: int, chain: Chain) -> dict[str, Any]:
    """The demo parties (label → address, name, what they do in the story)."""
    names = {p.address: p.name for p in world.parties}
    with engine.connect() as connection:
        creditor = connection.execute(
            select(Root.creditor).where(Root.chain_id == chain_id, Root.root_id == story.root_id)
        ).scalar_one()
    tier1 = creditor if any(p.address == creditor and p.tier == 1 for p in world.parties) else world.tier(1)[0].address
    bank = world.of_kind(BANK)[0]
    assert chain.accounts is not None
    dev_bank, auditor = chain.accounts["bank"], chain.accounts["auditor"]
    return {
        "core": {"address": story.core, "name": names[story.core], "does": "owes the receivable (its debtor)"},
        "tier1": {"address": tier1, "name": names[tier1], "does": "sold to the core; the receivable was issued to it"},
        "tier3": {
            "address": story.tier3,
            "name": names[story.tier3],
            "does": f"never sold to a core; holds piece {piece_id} of the core's receivable {story.root_id}",
        },
        "bank": {"address": bank.address, "name": bank.name, "does": "buys receivable pieces (world bank)"},
        "dev-bank": {"address": dev_bank.address, "name": "dev bank", "does": "scored every party, signed the limits"},
        "auditor": {"address": auditor.address, "name": "dev auditor", "does": "reads everything; replays the chain"},
        "piece": piece_id,
        "root": story.root_id,
    }


def write_cast(out: Path, cast: dict[str, Any]) -> Path:
    path = out / PARTIES_FILE
    path.write_text(json.dumps(cast, indent=1) + "\n")
    return path


def read_cast(out: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((out / PARTIES_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"no demo parties in {out} ({exc}): run `scf demo` or `make run` first") from exc
    return data
