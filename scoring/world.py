"""A simulated world's files (written by ``scenarios.play``): public facts and the hidden ground truth.

``world.json`` is what any member could know (addresses, the observation period's end, the
parties); ``ground_truth.json`` is hidden and read only to evaluate (tiers, bad actors, and
whether each party failed during the hold-out period: the label; and each supplier's hidden
``p_fail``, the probability its failure was drawn from, which ranks failures as well as any
scorer could: ``scoring.generalisation`` measures models against it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from scoring.errors import WorldError


@dataclass(frozen=True)
class Truth:
    address: str
    kind: str
    tier: int | None
    failed: bool
    bad_actor: str | None
    sells_to_core: bool
    #: The hidden probability of failing that ``failed`` was drawn from (suppliers; None for other parties).
    p_fail: float | None = None


@dataclass(frozen=True)
class WorldFiles:
    directory: Path
    world: dict[str, Any]
    truth: dict[str, Truth]

    @property
    def chain_id(self) -> int:
        return int(self.world["chain_id"])

    @property
    def addresses(self) -> dict[str, str]:
        return dict(self.world["addresses"])

    @property
    def observation_end(self) -> tuple[int, int]:
        end = self.world["observation_end"]
        return int(end["block"]), int(end["timestamp"])

    @property
    def seed(self) -> Any:
        return self.world.get("seed")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise WorldError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise WorldError(str(path), f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != 1:
        raise WorldError(str(path), "not a format 1 world file")
    return data


def _p_fail(traits: Any) -> float | None:
    """A party's hidden ``p_fail`` from its ``traits`` (None: a party with no traits, or a file without it)."""
    if traits is None or traits.get("p_fail") is None:
        return None
    return float(traits["p_fail"])


def load(directory: Path, *, truth: bool = True) -> WorldFiles:
    """The world in ``directory`` (``truth=False``: world.json only, as a scorer in production)."""
    world = _read(directory / "world.json")
    for key in ("chain_id", "addresses", "observation_end"):
        if key not in world:
            raise WorldError(str(directory / "world.json"), f"has no {key!r}")
    parties: dict[str, Truth] = {}
    if truth:
        path = directory / "ground_truth.json"
        data = _read(path)
        try:
            for address, p in data["parties"].items():
                a = to_checksum_address(address)
                parties[a] = Truth(
                    a,
                    str(p["kind"]),
                    None if p.get("tier") is None else int(p["tier"]),
                    bool(p.get("failed")),
                    p.get("bad_actor"),
                    bool(p.get("sells_to_core")),
                    _p_fail(p.get("traits")),
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WorldError(str(path), f"malformed party entry: {exc!r}") from exc
    return WorldFiles(directory, world, parties)
