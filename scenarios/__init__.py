"""A synthetic multi-tier supply-chain world, played through the real ledger (contracts, oracles, signatures).

    from scenarios import ScenarioConfig, play
    result = play(chain, build, ScenarioConfig(firms=300, months=12, seed=7), Path("out/world-7"))

``play(chain, build, config, out_dir, *, deployment=None, admin=None, progress=False) -> PlayResult``
generates the world (``world.generate``: parties, tiers, hidden traits, bad actors), plans
its orders week by week (``plan.make_plan``) and plays them on an anvil devnet
(``play``): every fact is a transaction signed by its party, oracle attestations go through
the oracle services' code path. It writes ``world.json`` (public) and ``ground_truth.json``
(hidden; for the scorer's evaluation only) into ``out_dir`` (``truth``) and returns the
summary counted from the chain (``summary``) with the digest of every on-chain fact
(``facts``): the same settings give the same digest on any fresh chain.

Banks compete for the pieces holders sell (``market``): a desk-policy bank that scores from the
shipped model as of each week (``credit``, ``lending``), a flat-rate bank and, from 100 firms, a
tier-1-only bank; the summary's ``banks`` counts each one's financing, interest, losses and fill
rate (``returns``), so a world shows what a better score is worth in money.

``recover.find_played`` says from the chain alone whether a world was played on a deployment (and
``recover.rebuild_outputs`` writes its files again from it).

``check.separability`` says how well the hold-out failures can be told from observed,
verified history (AUC against volume alone and against the hidden ``p_fail``).

Every error is a ``ScenarioError`` (``errors``).
"""

from scenarios.errors import (
    ChainNotSupported,
    InvalidConfig,
    PlayFailed,
    ScenarioError,
    WorldAlreadyPlayed,
    WorldConflict,
    WorldIncomplete,
)
from scenarios.play import PlayResult, play
from scenarios.records import Checkpoint, Refusal
from scenarios.world import ScenarioConfig, World, generate

__all__ = [
    "ChainNotSupported",
    "Checkpoint",
    "InvalidConfig",
    "PlayFailed",
    "PlayResult",
    "Refusal",
    "ScenarioConfig",
    "ScenarioError",
    "World",
    "WorldAlreadyPlayed",
    "WorldConflict",
    "WorldIncomplete",
    "generate",
    "play",
]
