"""Credit decisions for the API: the scorer's feature table cached per as-of block, and who may read what.

**Why a cache.** A decision from scratch reads every event up to its as-of block and builds
the feature table of every party (``scoring.features.build``): seconds on a large history,
the same work for every party. So the table, and the ``scoring.decision.Scorer`` over it, is
built once per as-of block and kept (the last ``keep`` blocks, least recently used dropped);
a decision is then a lookup. The build runs in a worker thread, never on the event loop, and
behind one lock per block, so concurrent requests for a block not built yet wait for the one
build instead of starting their own. A background thread (``warm``) polls the indexer's
cursor and builds the new last final block as soon as the indexer passes it, so requests in
steady state find it ready. Each process (``scf serve --workers N``) keeps its own cache.

The cache trusts finality the way the scorer does: a block ``confirmations`` deep does not
change. If the indexer's cursor goes back (a reorg deeper than that), every cached block above
the new last final block is dropped.

**Who reads what** (another party's object answers 404, like one that does not exist):

* a party reads its own decision, report and limit history;
* an auditor (AUDITOR or ADMIN on chain, or configured) reads everything;
* a **bank** reads the *decision* of any supplier or core enterprise: a bank must be able to
  price a prospective borrower that applied to it before the ledger shows any relationship
  between them, and the decision (score, grade, limit, four reasons) is the summary a
  bureau gives its members. The *report* (every feature: volumes, counterparties, delays)
  is the underwriting file, and only the party opens it, in one of two ways:

  - its **consent**, signed with its own key, unexpired and unrevoked (``api.v1.consents``);
  - a **live financing request** (how a party applies for money): one addressed to that bank,
    or to every bank (then it opens the report to every active bank alike), whose state
    (``api.v1.financing.state_of``) is ``open`` or ``offered``: not withdrawn, not past its
    expiry, not accepted, and its piece could still be sold under it, i.e. the requester still
    holds the piece, it is not split, financed or claimed on, and its receivable is outstanding
    and not yet mature (all by the later of the API's clock and the indexed head's block time).
    Once the request is withdrawn or expires, or the piece is sold, moved, split, repaid or
    matured, the request grants nothing.

  Nothing the bank does alone opens it: a limit it published (zero, live or revoked), a piece
  it bought, an order it guaranteed. Both grants are checked on every read, so a revocation or
  a closed request stops the next read;
* in the limit history a bank sees the limits it published itself, the party every bank's.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from eth_utils import keccak
from sqlalchemy import Engine, select

from api.errors import InvalidField, NotFound, ServiceUnavailable
from api.v1.auth import Party
from api.v1.consents import ConsentBook
from api.v1.financing import FinancingBook
from api.v1.schemas import DecisionOut, ReasonOut
from ledger.index.sql.models import Cursor
from ledger.index.sql.models import Party as Member
from scoring import features
from scoring.decision import Decision, Scorer
from scoring.errors import AsOfInFuture, NoHistory, UnknownParty
from scoring.features import ROLE_CORE, ROLE_SUPPLIER
from scoring.scorecard import Model
from scoring.source import SqlSource

TRADES = ROLE_SUPPLIER | ROLE_CORE
WINDOW_SUFFIXES = {"3m": "_3m", "6m": "_6m", "12m": "_12m"}
POINT_IN_TIME = "asOf"


def decision_hash(decision: Decision) -> str:
    """keccak256 of the decision's canonical JSON: what a replay compares in one line."""
    return "0x" + keccak(decision.canonical()).hex()


def decision_out(decision: Decision) -> DecisionOut:
    return DecisionOut(
        party=decision.party,
        status=decision.status,
        score=decision.score,
        pdBps=decision.pd_bps,
        grade=decision.grade,
        gradeCode=decision.grade_code,
        limit=str(decision.limit),
        reasons=[ReasonOut(code=r["code"], text=r["text"], pointsLost=r.get("points_lost")) for r in decision.reasons],
        # ReasonOut's one signed figure: points lost against typical, so a favourable factor's is negative
        favourable=[
            ReasonOut(code=r["code"], text=r["text"], pointsLost=-r["points_gained"]) for r in decision.favourable
        ],
        flags=list(decision.flags),
        model=decision.model,
        chainId=decision.chain_id,
        asOfBlock=decision.as_of_block,
        asOfTime=decision.as_of_time,
        notes=list(decision.notes),
        decisionHash=decision_hash(decision),
    )


def features_by_window(row: dict[str, float | None]) -> dict[str, dict[str, int | float | None]]:
    """A party's features grouped by trailing window (3, 6, 12 months); the rest are as of the block."""
    grouped: dict[str, dict[str, int | float | None]] = {name: {} for name in (*WINDOW_SUFFIXES, POINT_IN_TIME)}
    for name, value in row.items():
        window = next((w for w, suffix in WINDOW_SUFFIXES.items() if name.endswith(suffix)), POINT_IN_TIME)
        # Feature values are exact integers carried in floats; keep a fraction if one ever appears.
        grouped[window][name] = None if value is None else (int(value) if float(value).is_integer() else value)
    return grouped


@dataclass
class Scored:
    """One as-of block's scorer, and the decisions already asked for (answers as JSON bytes)."""

    scorer: Scorer
    answers: dict[str, bytes] = field(default_factory=dict)

    @property
    def as_of_block(self) -> int:
        return int(self.scorer.table.history["as_of_block"])

    def row(self, party: str) -> int | None:
        """The party's row if it is an active member as of this block."""
        i = self.scorer.table.index.get(party)
        return i if i is not None and bool(self.scorer.table.member[i]) else None

    def trades(self, party: str) -> bool:
        i = self.row(party)
        return i is not None and bool(int(self.scorer.table.roles[i]) & TRADES)

    def decision(self, party: str) -> Decision:
        return self.scorer.decide(party)

    def answer(self, party: str) -> bytes:
        """The decision's JSON answer, made once per party and block (``DecisionOut``)."""
        found = self.answers.get(party)
        if found is None:
            found = decision_out(self.decision(party)).model_dump_json().encode()
            self.answers[party] = found
        return found


class CreditDesk:
    """Decisions, reports, limit history and the evaluation report, per party, as the API serves them."""

    def __init__(
        self,
        engine: Engine,
        store_engine: Engine,
        chain_id: int,
        model: Model | None,
        *,
        model_problem: str = "",
        confirmations: int,
        evaluation: Path | None = None,
        keep: int = 4,
        builder: Callable[[SqlSource, int, int, Model], Scorer] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.store = store_engine
        self.chain_id = chain_id
        self.model = model
        self.model_problem = model_problem
        self.confirmations = confirmations
        self.evaluation = evaluation
        self.keep = max(1, keep)
        self.builds = 0  # how many feature tables this process built (tests and the bench read it)
        self._builder = builder or _build
        self._lock = threading.Lock()
        self._ready: OrderedDict[int, Scored] = OrderedDict()
        self._gates: dict[int, threading.Lock] = {}
        self.consents = ConsentBook(store=store_engine, chain_id=chain_id, clock=clock)
        # On the consents' clock, read when called: a test that moves that clock moves both.
        self.requests = FinancingBook(engine, store_engine, chain_id, clock=lambda: self.consents.clock())

    # -- as-of point ---------------------------------------------------------------------------

    def cursor_block(self) -> int:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(Cursor.block_number).where(Cursor.chain_id == self.chain_id)
            ).scalar_one_or_none()
        if found is None:
            raise ServiceUnavailable("credit decisions", f"chain {self.chain_id} is not indexed yet (run the indexer)")
        return int(found)

    def last_final_block(self) -> int:
        final = self.cursor_block() - self.confirmations
        if final < 0:
            raise ServiceUnavailable(
                "credit decisions", f"no block has {self.confirmations} confirmations in the index yet"
            )
        self._forget_above(final)
        return final

    def as_of(self, as_of_block: int | None) -> int:
        """``as_of_block`` if it is final (else a 422 naming the field), or the last final block."""
        final = self.last_final_block()
        if as_of_block is None:
            return final
        if as_of_block > final:
            raise InvalidField(
                "as_of_block",
                str(AsOfInFuture(as_of_block, final, self.confirmations)),
                location="query",
            )
        return as_of_block

    # -- the cache -----------------------------------------------------------------------------

    def peek(self, block: int) -> Scored | None:
        with self._lock:
            found = self._ready.get(block)
            if found is not None:
                self._ready.move_to_end(block)
            return found

    async def scored_async(self, as_of_block: int | None) -> Scored:
        """``scored`` for a route: a ready table is a dictionary lookup; a build reads the whole history,
        a worker thread's job, never the event loop's."""
        block = self.as_of(as_of_block)
        found = self.peek(block)
        if found is not None:
            return found
        return await anyio.to_thread.run_sync(self.scored, block)

    def scored(self, block: int) -> Scored:
        """The scorer as of ``block``, built once however many ask at the same time (blocking)."""
        found = self.peek(block)
        if found is not None:
            return found
        with self._lock:
            gate = self._gates.setdefault(block, threading.Lock())
        with gate:
            found = self.peek(block)
            if found is not None:
                return found
            if self.model is None:
                raise ServiceUnavailable("credit decisions", self.model_problem or "no scoring model is loaded")
            try:
                scorer = self._builder(SqlSource(self.engine, self.chain_id), block, self.confirmations, self.model)
            except AsOfInFuture as exc:  # the cursor went back between the check and the build
                raise InvalidField("as_of_block", str(exc), location="query") from exc
            except NoHistory as exc:
                raise NotFound("credit history", f"as of block {block} ({exc.detail})") from exc
            built = Scored(scorer)
            with self._lock:
                self.builds += 1
                self._ready[block] = built
                while len(self._ready) > self.keep:
                    self._ready.popitem(last=False)
                self._gates.pop(block, None)
        return built

    def _forget_above(self, final: int) -> None:
        with self._lock:
            for block in [b for b in self._ready if b > final]:
                del self._ready[block]

    def warm(self, stop: threading.Event, every: float) -> None:
        """Build the last final block's scorer whenever the indexer passes a new one (a thread's loop)."""
        while not stop.wait(every):
            try:
                self.scored(self.last_final_block())
            except Exception:  # an unindexed or unreachable database now may answer later
                continue

    # -- authorization -------------------------------------------------------------------------

    def may_read_decision(self, party: Party, target: str, scored: Scored) -> bool:
        if party.auditor or party.address == target:
            return True
        return party.has("bank") and scored.trades(target)

    def chain_now(self) -> int:
        """The later of the API's clock and the indexed head's block time (devnets run ahead of the wall)."""
        return self.requests.now()

    def has_open_request(self, bank: str, target: str) -> bool:
        """Whether ``target`` has a live financing request to ``bank`` or to every bank (the module's docstring)."""
        return self.requests.grants_report(bank, target)

    def may_read_report(self, party: Party, target: str) -> bool:
        if party.auditor or party.address == target:
            return True
        if not party.has("bank"):
            return False
        return self.consents.grants(party.address, target) or self.has_open_request(party.address, target)

    def require_member(self, target: str) -> None:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(Member.address).where(Member.chain_id == self.chain_id, Member.address == target)
            ).scalar_one_or_none()
        if found is None:
            raise NotFound("party", target)

    # -- answers -------------------------------------------------------------------------------

    def answer(self, party: Party, target: str, scored: Scored) -> bytes:
        if not self.may_read_decision(party, target, scored):
            raise NotFound("credit decision", target)
        try:
            return scored.answer(target)
        except UnknownParty as exc:
            raise NotFound("credit decision", target) from exc

    def report(self, party: Party, target: str, scored: Scored) -> dict[str, Any]:
        if not self.may_read_report(party, target):
            raise NotFound("credit report", target)
        try:
            decision = scored.decision(target)
        except UnknownParty as exc:
            raise NotFound("credit report", target) from exc
        table = scored.scorer.table
        return {
            "decision": decision_out(decision),
            "features": features_by_window(table.row(target)),
            "modelFeatures": [f.name for f in scored.scorer.features],
            "points": dict(decision.points),
            "history": {
                "events": int(table.history["events"]),
                "refusedCalls": table.history["refused_calls"],
                "source": str(table.history["source"]),
            },
        }

    def evaluation_report(self, party: Party) -> dict[str, Any]:
        if self.evaluation is None:
            raise NotFound("evaluation report", "(none configured: `scf score evaluate --json > FILE`, then serve it)")
        try:
            raw = self.evaluation.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("evaluation report", "(not written yet: run `scf score evaluate --json`)") from exc
        except OSError as exc:
            raise ServiceUnavailable("evaluation report", exc.strerror or str(exc)) from exc
        try:
            report = json.loads(raw)
        except ValueError as exc:
            raise ServiceUnavailable("evaluation report", f"the file is not JSON ({exc})") from exc
        if not isinstance(report, dict):
            raise ServiceUnavailable("evaluation report", "the file does not hold one JSON object")
        if not party.auditor:
            # Which parties the evaluation flagged is for auditors; everyone may see how well the model ranks.
            for actor in report.get("bad_actors") or []:
                if isinstance(actor, dict):
                    actor.pop("party", None)
        serving = self.model.version if self.model is not None else None
        return {"servingModel": serving, "sameModel": report.get("model") == serving, "report": report}


def _build(source: SqlSource, block: int, confirmations: int, model: Model) -> Scorer:
    return Scorer(features.build(source.history(block, confirmations)), model)
