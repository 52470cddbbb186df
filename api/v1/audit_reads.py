"""What an auditor reads besides the replay itself: past runs, recomputed limits and offers, decoded
histories, and every trading member's score by supply tier.

**Runs** (``api_audit_runs``) are listed newest first, keyset-paged by run id (``after`` names the
last run of the previous page), each as a line: its verdicts, digest and counts; the whole report
is ``GET /v1/audit/runs/{id}``.

**Recomputations** ride on a run (``POST /v1/audit/runs {"limits": true, "offers": true}``): they
need what the replay has just read from the chain (its refused calls, its logs), and they are
the checks ``scf audit replay --scores --offers`` makes, called the same way
(``scoring.audit.recompute_published``, ``scoring.price_audit.audit_offers``); nothing is
scored or priced here. What the server holds, and so what it can check:

* the models: the one it serves decisions with and the shipped default (a limit published under
  another model is a mismatch, "unknown model", as in the command);
* the policies: the files shipped with the ledger (``scoring/policies``). A bank's desk may price
  with a file of its own, which this server never sees: an offer priced under a policy hash it
  does not hold is listed as *not checked here* (``policyNotHeld``), not as a mismatch, since a
  doctored file and the bank's own file look alike from here. The command, given the bank's
  file (``--policy``), checks those;
* the offers: this API's own store, with each offer's pricing record (a desk's journal is not
  needed: the pricing record is in the store).

**Histories** of an order or a piece read the indexer's rows (the logs that name the object, then
every log of those transactions), the transactions' calldata from the node (decoded by
``ledger.eth.refusals.RefusalDecoder``, the decoder the indexer and the replay use), and the
``refused_calls`` rows whose decoded arguments name the object. The indexer finds a refused call
from the transactions of each block that left no log: only transactions sent straight to a ledger
contract. A call that reached the ledger through another contract and reverted is not findable
without the node's call traces; ``refusedScope`` says so in every answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, and_, or_, select

import scoring
from api.errors import NotFound, ServiceUnavailable
from api.v1 import store
from api.v1.audit_schemas import (
    AuditRunSummaryOut,
    HistoryCallOut,
    HistoryEventOut,
    HistoryOut,
    RefusedCallOut,
    ScoreOut,
    ScoresOut,
)
from api.v1.auth import Party, role_names
from api.v1.credit import TRADES
from api.v1.deps import Services
from api.v1.settings import CONTRACTS
from ledger.audit import Deployment, ReplayResult
from ledger.errors import ChainUnavailable
from ledger.eth.refusals import RefusalDecoder
from ledger.eth.rpc import Rpc, RpcFailed, header_of
from ledger.index.sql.models import Cursor, Event, RefusedCall, Root
from scoring.errors import ModelError
from scoring.history import RefusedCall as ScorerRefusal
from scoring.policy import DEV_BANK, Policy
from scoring.price_audit import OfferAudit, SignedOffer
from scoring.scorecard import Model

#: The deadline of a chain without a deadline provider (embedded): seconds.
API_RPC_DEADLINE = 10.0
ESCROW = "TradeEscrow"
RECEIVABLES = "Receivables"
#: The shipped files: the default model and the policies (``scoring/models``, ``scoring/policies``).
SHIPPED_MODEL = Path(scoring.__file__).resolve().parent / "models" / "default.json"
SHIPPED_POLICIES = DEV_BANK.parent

REFUSED_SCOPE = (
    "Reverted transactions sent straight to a ledger contract whose decoded arguments name this {kind}, as the "
    "indexer found them (it reads each block's transactions that left no log). A call that reached the ledger "
    "through another contract (a smart-account wallet, a multicall) and reverted leaves no log and no direct "
    "transaction to the ledger: it is not findable without the node's call traces, and is not listed here. The "
    "error is decoded from the node's call trace where it keeps traces, else from the call replayed at the block "
    "before (then the likely error, not a proof)."
)


# -- runs ------------------------------------------------------------------------------------------


def run_summary(row: Any) -> AuditRunSummaryOut:
    """A run's line: the report's verdicts and counts, without its mismatches."""
    report = json.loads(row.report) if row.report else None
    report = report if isinstance(report, dict) else {}
    failed = row.state == "failed"
    done = row.state == "done"

    def part_ok(name: str) -> bool | None:
        part = report.get(name)
        return bool(part["ok"]) if done and isinstance(part, dict) and "ok" in part else None

    return AuditRunSummaryOut(
        id=row.id,
        requestedBy=row.requested_by,
        state=row.state,
        createdAt=row.created_at,
        finishedAt=row.finished_at,
        ok=None if row.ok is None else bool(row.ok),
        toBlock=report.get("toBlock") if done else None,
        digest=report.get("digest") if done else None,
        mismatches=len(report.get("mismatches") or []) if done else None,
        seconds=report.get("seconds") if done else None,
        limitsOk=part_ok("scores"),
        offersOk=part_ok("offers"),
        error=str(report.get("error")) if failed else None,
    )


def run_page(engine: Engine, after: str | None, limit: int) -> tuple[list[AuditRunSummaryOut], str | None]:
    """Runs newest first (by creation time, then id: a run's id is a time-ordered UUIDv7), ``limit`` of them after
    the run ``after`` (404 when no run has that id)."""
    table = store.audit_runs
    query = select(table)
    with engine.connect() as connection:
        if after is not None:
            mark = connection.execute(select(table.c.created_at).where(table.c.id == after)).scalar_one_or_none()
            if mark is None:
                raise NotFound("audit run", after)
            query = query.where(or_(table.c.created_at < mark, and_(table.c.created_at == mark, table.c.id < after)))
        rows = connection.execute(query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)).all()
    items = [run_summary(row) for row in rows[:limit]]
    return items, (items[-1].id if len(rows) > limit else None)


# -- recomputations on a run -------------------------------------------------------------------------


def held_models(serving: Model | None) -> list[Model]:
    """The models this server holds: the one it serves decisions with, and the shipped default."""
    models = [serving] if serving is not None else []
    try:
        shipped = Model.load(SHIPPED_MODEL)
    except ModelError:
        return models
    return models if any(m.version == shipped.version for m in models) else [*models, shipped]


def held_policies() -> list[Policy]:
    """The pricing policy files shipped with the ledger: the only ones this server can recompute under."""
    return [Policy.load(path) for path in sorted(SHIPPED_POLICIES.glob("*.json"))]


def recompute_limits(
    svc: Services, deployment: Deployment, result: ReplayResult, refused: Sequence[ScorerRefusal]
) -> dict[str, Any]:
    """Every limit published up to the replay's last block, recomputed from the chain's logs with the model its
    hash names (``scoring.audit.recompute_published``); the models held are named in ``models``."""
    from scoring.audit import recompute_published

    models = held_models(svc.credit.model)
    if not models:
        return {"ok": False, "error": "this server holds no scoring model", "models": []}
    checked = recompute_published(
        svc.chain,
        deployment.addresses,
        models,
        abis=deployment.abis,
        from_block=deployment.start_block,
        to_block=result.report.to_block,
        refused=refused,
    )
    document = checked.to_json()
    for name in ("matches", "mismatches", "unmodelled"):
        for check in document[name]:  # a limit is a uint256: a decimal string, as everywhere in the API's JSON
            for side in ("published", "expected"):
                if isinstance(check.get(side), dict):
                    check[side]["limit"] = str(check[side]["limit"])
    return {**document, "models": [m.version for m in models]}


def read_offers(engine: Engine) -> list[SignedOffer]:
    """Every offer in this API's store with its pricing record, oldest first."""
    table = store.offers
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.created_at, table.c.id)).mappings().all()
    return [SignedOffer.of_row(row) for row in rows]


def _policy_of(offer: SignedOffer) -> str | None:
    """The policy hash the offer was priced under, as its record says (None: no pricing recorded)."""
    if offer.policy_hash:
        return offer.policy_hash.lower()
    if offer.quote is None:
        return None
    try:
        quote = json.loads(offer.quote)
    except ValueError:
        return None
    named = quote.get("policy") if isinstance(quote, dict) else None
    return str(named).lower() if named else None


def not_held_here(audited: OfferAudit, offers: Iterable[SignedOffer], held: set[str]) -> list[dict[str, Any]]:
    """Take out of ``audited`` the one finding that says an offer's policy is not among the files given, for
    each offer priced under a policy this server does not hold: that is what this server lacks, not what the
    bank did. The offer's other findings (its price on chain, its inputs) stay; it is listed as not checked."""
    missing = {o.id: policy for o in offers if (policy := _policy_of(o)) is not None and policy not in held}
    dropped = [f for f in audited.mismatches if f.offer in missing and f.field == "policy_hash"]
    audited.mismatches = [f for f in audited.mismatches if not (f.offer in missing and f.field == "policy_hash")]
    return [
        {
            "offer": f.offer,
            "piece": f.piece,
            "bank": f.bank,
            "policy": missing[f.offer],
            "detail": f"priced under policy {missing[f.offer]}, a file this server does not hold (the bank's own): "
            "check it with `scf audit replay --offers --policy FILE` given the bank's file",
        }
        for f in dropped
    ]


def offer_rows(offers: Sequence[SignedOffer], audited: OfferAudit, not_held: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Each offer of the store with its verdict: ``agrees`` (its recorded quote recomputes exactly and prices it at
    the signed price), ``differs`` (findings in ``mismatches``), ``policy not held`` or ``not checked``."""
    verdict: dict[str, str] = {f.offer: "not checked" for f in audited.unchecked}
    verdict.update((str(n["offer"]), "policy not held") for n in not_held)
    verdict.update((f.offer, "differs") for f in audited.mismatches)
    verdict.update((offer_id, "agrees") for offer_id in audited.agree)
    return [
        {
            "offer": o.id,
            "piece": str(o.piece_id),
            "bank": o.bank,
            "holder": o.holder,
            "price": str(o.price),
            "policy": _policy_of(o),
            "model": o.model_version,
            "createdAt": o.created_at,
            "verdict": verdict.get(o.id, "not checked"),
            "acceptedTx": audited.accepted.get(o.id),
        }
        for o in offers
    ]


def recompute_offers(
    svc: Services, deployment: Deployment, result: ReplayResult, refused: Sequence[ScorerRefusal]
) -> dict[str, Any]:
    """Every offer in this API's store checked against the replayed chain (``scoring.price_audit``), under the
    policy files and models this server holds, with its decisions' confirmations."""
    from scoring.price_audit import LedgerFacts, audit_offers

    policies = held_policies()
    models = held_models(svc.credit.model)
    offers = read_offers(svc.store)
    facts = LedgerFacts.read(
        svc.chain,
        deployment.addresses,
        deployment.abis,
        result.report.to_block,
        from_block=deployment.start_block,
        logs=result.logs,
    )
    audited = audit_offers(
        svc.chain, facts, offers, policies, models, refused=refused, confirmations=svc.settings.score_confirmations
    )
    not_held = not_held_here(audited, offers, {p.hash.lower() for p in policies})
    return {
        **audited.to_json(),
        "rows": offer_rows(offers, audited, not_held),
        "policyNotHeld": not_held,
        "policies": [{"name": p.name, "hash": p.hash, "file": Path(p.where).name} for p in policies],
        "models": [m.version for m in models],
    }


# -- decoded histories -----------------------------------------------------------------------------


def _topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _indexed(abi: Sequence[Mapping[str, Any]], name: str) -> dict[str, int]:
    """Event name → the topic (1..3) holding its indexed argument ``name``."""
    found = {}
    for item in abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        indexed = [p["name"] for p in item["inputs"] if p.get("indexed")]
        if name in indexed:
            found[str(item["name"])] = indexed.index(name) + 1
    return found


def _naming(contract: str, by_event: Mapping[str, int], value: int) -> list[ColumnElement[bool]]:
    """SQL conditions: a log of ``contract`` whose ``by_event`` topic holds ``value``."""
    columns = {1: Event.topic1, 2: Event.topic2, 3: Event.topic3}
    by_topic: dict[int, list[str]] = {}
    for event, topic in by_event.items():
        by_topic.setdefault(topic, []).append(event)
    return [
        and_(Event.contract == contract, Event.event.in_(events), columns[topic] == _topic(value))
        for topic, events in sorted(by_topic.items())
    ]


def _names(args: Any, keys: set[str], value: int) -> bool:
    """Whether decoded arguments hold ``value`` under one of ``keys``, at any depth (structs, arrays)."""
    if isinstance(args, dict):
        return any((k in keys and str(v) == str(value)) or _names(v, keys, value) for k, v in args.items())
    if isinstance(args, list):
        return any(_names(v, keys, value) for v in args)
    return False


class Histories:
    """The decoded history of an order or a piece (the module's docstring)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.chain_id = svc.chain_id
        build = svc.settings.build
        self.order_events = _indexed(build[ESCROW].abi, "orderId")
        receivables = build[RECEIVABLES].abi
        self.piece_events = {**_indexed(receivables, "pieceId"), **_indexed(receivables, "tokenId")}
        # A receivable's own events (issued, repaid, defaulted): rootId indexed, no piece named.
        pieces = {str(i["name"]) for i in receivables if any(p["name"] == "pieceId" for p in i.get("inputs", []))}
        self.root_events = {e: t for e, t in _indexed(receivables, "rootId").items() if e not in pieces}

    def order(self, party: Party, order_id: int) -> HistoryOut:
        self.svc.reads.order_row(party, order_id)  # 404 for an order that does not exist
        with self.svc.engine.connect() as connection:
            roots = list(
                connection.execute(
                    select(Root.root_id).where(Root.chain_id == self.chain_id, Root.order_id == order_id)
                ).scalars()
            )
            issued = {"ReceivableIssued": self.root_events["ReceivableIssued"]}
            where = _naming(ESCROW, self.order_events, order_id)
            where += [c for root in roots for c in _naming(RECEIVABLES, issued, root)]
            events, about = self._events(connection, where)
            evidence = {
                str(e.args.get("evidenceHash")).lower()
                for e in events
                if e.contract == ESCROW and e.event == "MilestoneAttested" and e.id in about
            }

            def touches(row: Any) -> bool:
                if _names(row.args, {"orderId"}, order_id):
                    return True
                declared = (row.args or {}).get("declaration") if row.function == "contestMilestone" else None
                return isinstance(declared, dict) and str(declared.get("evidenceHash", "")).lower() in evidence

            refused = self._refused(connection, (ESCROW, RECEIVABLES), touches)
            cursor = self._cursor(connection)
        return self._answer("order", order_id, roots[0] if roots else None, events, about, refused, cursor)

    def piece(self, party: Party, piece_id: int) -> HistoryOut:
        piece, _root = self.svc.reads.piece_row(party, piece_id)  # 404 for a piece that does not exist
        root_id = int(piece.root_id)
        with self.svc.engine.connect() as connection:
            where = _naming(RECEIVABLES, self.piece_events, piece_id)
            where += _naming(RECEIVABLES, self.root_events, root_id)
            events, about = self._events(connection, where)

            def touches(row: Any) -> bool:
                return _names(row.args, {"pieceId", "tokenId"}, piece_id) or _names(row.args, {"rootId"}, root_id)

            refused = self._refused(connection, (RECEIVABLES,), touches)
            cursor = self._cursor(connection)
        return self._answer("piece", piece_id, root_id, events, about, refused, cursor)

    # -- reads -------------------------------------------------------------------------------------

    def _events(self, connection: Connection, where: list[ColumnElement[bool]]) -> tuple[list[Any], set[int]]:
        """The logs that name the object, then every log of their transactions (chain order); the ids of the former."""
        if not where:
            return [], set()
        anchors = connection.execute(select(Event).where(Event.chain_id == self.chain_id, or_(*where))).all()
        if not anchors:
            return [], set()
        blocks = sorted({e.block_number for e in anchors})
        hashes = sorted({e.tx_hash for e in anchors})
        rows = connection.execute(
            select(Event)
            .where(Event.chain_id == self.chain_id, Event.block_number.in_(blocks), Event.tx_hash.in_(hashes))
            .order_by(Event.block_number, Event.log_index)
        ).all()
        return list(rows), {e.id for e in anchors}

    def _refused(self, connection: Connection, contracts: Sequence[str], touches: Callable[[Any], bool]) -> list[Any]:
        rows = connection.execute(
            select(RefusedCall)
            .where(RefusedCall.chain_id == self.chain_id, RefusedCall.contract.in_(contracts))
            .order_by(RefusedCall.block_number, RefusedCall.tx_index)
        ).all()
        return [row for row in rows if touches(row)]

    def _cursor(self, connection: Connection) -> int | None:
        found = connection.execute(select(Cursor.block_number).where(Cursor.chain_id == self.chain_id)).scalar()
        return None if found is None else int(found)

    def _answer(
        self,
        kind: str,
        object_id: int,
        root_id: int | None,
        events: list[Any],
        about: set[int],
        refused: list[Any],
        cursor: int | None,
    ) -> HistoryOut:
        times = {e.tx_hash: e.block_timestamp for e in events}
        hashes = list(dict.fromkeys(e.tx_hash for e in events))
        settings = self.svc.settings
        addresses = {name: settings.addresses[name] for name in CONTRACTS}
        decoder = RefusalDecoder(addresses, {name: settings.build[name].abi for name in CONTRACTS})
        # The API's RPC deadline (``--rpc-timeout``), not a batch tool's: a silent node makes this 503 in time.
        rpc = Rpc(self.svc.chain, timeout=float(getattr(self.svc.chain.w3.provider, "deadline", API_RPC_DEADLINE)))
        try:
            txs = rpc.transactions(hashes) if hashes else []
            refused_times = self._times(rpc, sorted({row.block_number for row in refused}))
        except ChainUnavailable:
            raise  # 503 chain_unavailable, as every route that meets a dead or silent node answers
        except RpcFailed as exc:
            raise ServiceUnavailable("the node", f"the transactions' calldata cannot be read: {exc}") from exc
        calls = []
        for tx in txs:
            decoded = decoder.call(tx)
            contract, function, args = decoded if decoded is not None else (None, None, None)
            calls.append(
                HistoryCallOut(
                    txHash=tx.hash,
                    blockNumber=tx.block_number,
                    blockTime=times[tx.hash],
                    txIndex=tx.index,
                    sender=tx.sender,
                    contract=contract,
                    function=function,
                    args=args,
                )
            )
        return HistoryOut(
            kind="order" if kind == "order" else "piece",
            id=object_id,
            rootId=root_id,
            events=[
                HistoryEventOut(
                    blockNumber=e.block_number,
                    blockTime=e.block_timestamp,
                    txHash=e.tx_hash,
                    txIndex=e.tx_index,
                    logIndex=e.log_index,
                    contract=e.contract,
                    event=e.event,
                    args=e.args,
                    about=e.id in about,
                )
                for e in events
            ],
            calls=calls,
            refused=[
                RefusedCallOut(
                    txHash=row.tx_hash,
                    blockNumber=row.block_number,
                    blockTime=refused_times.get(row.block_number),
                    txIndex=row.tx_index,
                    sender=row.sender,
                    contract=row.contract,
                    function=row.function,
                    args=row.args,
                    error=row.error,
                    errorArgs=row.error_args,
                )
                for row in refused
            ],
            refusedScope=REFUSED_SCOPE.format(kind=kind),
            indexedBlock=cursor,
        )

    @staticmethod
    def _times(rpc: Rpc, blocks: Sequence[int]) -> dict[int, int]:
        """Block number → its time, from the node's headers (the index keeps only its recent blocks)."""
        if not blocks:
            return {}
        raws = rpc.many("eth_getBlockByNumber", [[hex(n), False] for n in blocks])
        return {header.number: header.timestamp for header in (header_of(raw) for raw in raws if raw)}


# -- scores by supply tier -----------------------------------------------------------------------------


def scores(svc: Services) -> ScoresOut:
    """Every trading member's decision as of the last final block (the scorer the credit routes serve), with its
    supply tier: what the auditor's score-by-tier picture draws."""
    scored = svc.credit.scored(svc.credit.last_final_block())
    table = scored.scorer.table
    tiers = table.values.get("supply_tier")
    rows = [i for i in range(len(table.parties)) if bool(table.member[i]) and int(table.roles[i]) & TRADES]
    items = []
    for i, decision in zip(rows, scored.scorer.decide_all(rows), strict=True):
        tier = None if tiers is None or np.isnan(tiers[i]) else int(tiers[i])
        items.append(
            ScoreOut(
                party=decision.party,
                roles=role_names(int(table.roles[i])),
                tier=tier,
                status=decision.status,
                score=decision.score,
                pdBps=decision.pd_bps,
                grade=decision.grade,
                gradeCode=decision.grade_code,
                limit=str(decision.limit),
            )
        )
    return ScoresOut(model=scored.scorer.model.version, asOfBlock=scored.as_of_block, items=items)
