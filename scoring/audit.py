"""Recomputing published limits from chain data alone: does each limit follow from the history and its model?

Every ``CreditRegistry.LimitPublished`` log names the model (``modelHash``, the model file's
keccak-256) and a validity end. The as-of point is derived from those alone: the decision was
made as of time ``t = validUntil - validity`` (``validity`` is part of the model, so covered by
its hash), and its as-of block is the last block with a timestamp at or before ``t``. A publisher
picks ``t`` one second before a final block's time (``chain_source.decision_point``), so that no
block sharing a timestamp with the as-of block lies beyond it. The
auditor reads the ledger's logs from the chain (never the SQL), rebuilds the features as of
that block, scores the party with the model whose hash was published, and compares limit,
score, grade and model hash. A limit whose model the auditor does not hold is a mismatch
("unknown model"), never silently skipped. A limit that names no model (``modelHash`` zero: a
bank's limit set by its own rule, as a flat-rate lender's one line for every supplier) claims
nothing to recompute; it is listed apart (``unmodelled``), with its bank, so an auditor sees
every such limit, and a bank that scores cannot hide a limit there without saying so on chain.

Refused calls leave no logs; pass them in (``refused``, e.g. decoded from the chain's mined,
reverted transactions) to check decisions that rest on a double-financing flag; without them
the result says they were not seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.audit import Deployment, ReplayResult
from ledger.eth.chain import Chain
from ledger.eth.refusals import RefusalDecoder
from scoring import features
from scoring.chain_source import ChainEvents, block_at
from scoring.decision import Scorer
from scoring.errors import UnknownParty
from scoring.history import RefusedCall
from scoring.scorecard import Model


@dataclass(frozen=True)
class Check:
    party: str
    bank: str
    block: int  # where the limit was published
    as_of_block: int
    as_of_time: int
    published: dict[str, Any]
    expected: dict[str, Any] | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.expected == self.published

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "bank": self.bank,
            "block": self.block,
            "as_of_block": self.as_of_block,
            "as_of_time": self.as_of_time,
            "published": self.published,
            "expected": self.expected,
            "problem": self.problem,
            "ok": self.ok,
        }


@dataclass
class AuditResult:
    matches: list[Check] = field(default_factory=list)
    mismatches: list[Check] = field(default_factory=list)
    #: limits published naming no model (modelHash zero): nothing to recompute, listed
    unmodelled: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": len(self.matches) + len(self.mismatches),
            "matches": [c.to_json() for c in self.matches],
            "mismatches": [c.to_json() for c in self.mismatches],
            "unmodelled": [c.to_json() for c in self.unmodelled],
            "notes": self.notes,
        }


def recompute_published(
    chain: Chain,
    deployment_addresses: Mapping[str, str],
    model: Model | Iterable[Model],
    *,
    abis: Mapping[str, Sequence[Mapping[str, Any]]],
    from_block: int = 0,
    to_block: int | None = None,
    refused: Sequence[RefusedCall] | None = None,
) -> AuditResult:
    """Check every limit published up to ``to_block`` (default: the head) against its recomputation."""
    models = {m.version: m for m in ([model] if isinstance(model, Model) else model)}
    head = chain.block_number if to_block is None else to_block
    events = ChainEvents(chain, deployment_addresses, abis, head, from_block=from_block)
    result = AuditResult()
    if refused is None:
        result.notes.append(
            "refused calls were not supplied: decisions resting on double financing cannot be confirmed"
        )
    scorers: dict[tuple[int, str], Scorer] = {}
    for e in events.events:
        if e.contract != "CreditRegistry" or e.event != "LimitPublished":
            continue
        a = e.args
        published: dict[str, Any] = {
            "limit": int(a["limit"]),
            "score": int(a["score"]),
            "grade": int(a["grade"]),
            "model": str(a["modelHash"]).lower(),
        }
        if int(str(a["modelHash"]), 16) == 0:
            result.unmodelled.append(
                Check(a["party"], a["bank"], e.block_number, -1, -1, published, None, "names no model")
            )
            continue
        found = models.get(str(a["modelHash"]).lower())
        if found is None:
            result.mismatches.append(
                Check(a["party"], a["bank"], e.block_number, -1, -1, published, None, "unknown model")
            )
            continue
        as_of_time = int(a["validUntil"]) - found.validity
        try:
            as_of_block = block_at(chain, as_of_time, head=e.block_number)
        except Exception as exc:
            result.mismatches.append(
                Check(a["party"], a["bank"], e.block_number, -1, as_of_time, published, None, f"as-of point: {exc}")
            )
            continue
        key = (as_of_block, found.version)
        scorer = scorers.get(key)
        if scorer is None:
            history = events.history(as_of_block, refused, as_of_time=as_of_time)
            scorer = scorers[key] = Scorer(features.build(history), found)
        try:
            decision = scorer.decide(a["party"])
            expected: dict[str, Any] | None = {
                "limit": decision.limit,
                "score": decision.score or 0,
                "grade": decision.grade_code,
                "model": found.version,
            }
            problem = None
        except UnknownParty as exc:
            expected, problem = None, str(exc)
        check = Check(a["party"], a["bank"], e.block_number, as_of_block, as_of_time, published, expected, problem)
        (result.matches if check.ok else result.mismatches).append(check)
    return result


def refused_calls(deployment: Deployment, result: ReplayResult) -> list[RefusedCall]:
    """The replay's mined, reverted calls, decoded: what feeds the scorer's double-financing flags (the
    recomputation of published limits needs the refusals as the publisher's scorer saw them)."""
    decoder = RefusalDecoder(deployment.addresses, deployment.abis)
    refused = []
    for tx in result.quiet_calls:
        refusal = decoder.refusal(tx) if tx.reverted else None
        if refusal is not None:
            refused.append(
                RefusedCall(
                    refusal.block_number,
                    refusal.tx_index,
                    refusal.sender,
                    refusal.contract,
                    refusal.function,
                    refusal.error or "",
                )
            )
    return refused
