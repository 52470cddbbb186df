"""Recomputing signed offers' prices from their records and the chain: does each price follow from them?

A bank's desk records with every offer it signs the pricing policy's hash, the scoring model's
version and the whole quote (``scoring.pricing.Quote.to_json()``: every input, every step). An
auditor who holds the bank's policy file(s), the model file(s) and the chain checks each offer:

a. **The policy.** A file with the hash the offer names must be among those given. A file that
   differs in any field from the one the desk priced with (a spread changed after the fact) has
   another hash, so a doctored file is caught here and named: "policy file X has hash H, offer O
   was priced under H'".
b. **The arithmetic.** ``scoring.pricing.recompute`` under that policy must give the recorded quote
   back exactly; ``scoring.pricing.audit`` names each top-level field that it does not reproduce.
c. **The price.** The quote prices the offer at the price the bank signed, under the policy and
   model the offer records. An offer accepted on chain (``PieceFinanced`` with the offer's bank and
   nonce: the contract spends a bank's nonce once) was paid that price, for that piece, to that
   holder, for that face amount.
d. **The inputs.** What the quote says of the ledger is what the chain said as of the block the
   desk read it at: the piece's face amount, its receivable's maturity, its holder (the seller),
   the limits the bank had published for the seller and for a supplier obligor, the model those
   limits were published under (the quote's model must be the one behind the seller's limit: a
   bank that changes models publishes its limits under the new one), and the credit: the obligor's
   kind (a core enterprise or a supplier), its PD or its record as a debtor, the seller's PD and
   grade, recomputed from the chain's logs by the scorer with the model the quote names, as the
   API serves them to a bank (a party that is not a trading member has no decision: none is
   recorded).

**Which block.** A desk records with the quote the API's indexed head it read every input at
(``as_of_block``; the desk reads them again if the index moved meanwhile), and the time it priced
at (``now``: the chain's clock as the API read it). The ledger's facts are checked as of that
block, and the credit as of that block less the API's ``confirmations`` (12 by default; the
auditor passes the API's), as the API decides it. A recorded block that is not on the chain yet,
or whose time is after ``now``, is itself a mismatch. A record from before desks recorded the
block is read as before and listed as **undated** (``no as-of block recorded``), neither agreeing
nor differing on that account: its head is taken as the last block at or before ``now``, and since
blocks can share a timestamp (a node mining on demand), each block with that same time is tried,
latest first; the offer agrees when one of them explains every input; otherwise the findings of
the block that explains most are reported, located at that block.

**Not recomputed**, and said so in the notes: the bank's outstanding financing on the obligor and
on the seller. Their offered part is the bank's other open offers at the instant of pricing, which
the API's store does not date to a block; they are taken as recorded (their effect on the price,
the caps, is part of the recomputation in b).

Offers with no pricing record cannot be checked: they are listed as unchecked, not as mismatches
(like the replay's gaps), and so are offers priced after the last block read. Financings on chain
under an offer not handed in (a bank may sign offers outside the API) are counted in a note.

Nothing here reads SQL or signs: the caller hands in the offers (``SignedOffer``, read from the
API's store by ``api.cli.audit_offers``) and the logs a replay read, or a chain to read them from.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ledger.eth.chain import Chain
from ledger.eth.history import LedgerLog, LogDecoder, RawLog, fetch_logs
from scoring import features
from scoring.chain_source import block_at, block_time
from scoring.decision import NOT_SCORED, Decision, Scorer
from scoring.errors import NoHistory, PolicyMismatch, QuoteRequestError, ScoringError
from scoring.features import ROLE_CORE, ROLE_SUPPLIER
from scoring.history import ChainEvent, History, RefusedCall
from scoring.policy import Policy
from scoring.pricing import CORE, SUPPLIER, QuoteRequest, audit, debtor_record_of, recompute
from scoring.scorecard import Model

#: Blocks sharing the pricing time tried at most (a node mining on demand puts a few in one second).
MAX_CANDIDATES = 16
#: The API's credit decisions lag its indexed head by this many blocks unless told otherwise.
DEFAULT_CONFIRMATIONS = 12
ZERO_ADDRESS = "0x" + "00" * 20
TRADES = ROLE_SUPPLIER | ROLE_CORE


@dataclass(frozen=True)
class SignedOffer:
    """An offer as the API's store holds it: the signed terms and, when the bank recorded it, its pricing."""

    id: str
    piece_id: int
    bank: str
    holder: str
    price: int
    nonce: int
    deadline: int
    created_at: int
    policy_hash: str | None = None
    model_version: str | None = None
    quote: str | None = None  # the quote's JSON text as stored (None: no pricing recorded)

    @classmethod
    def of_row(cls, row: Mapping[Any, Any]) -> SignedOffer:
        """An offer from a row of the API's ``api_offers`` table (its pricing columns may be missing)."""
        return cls(
            id=str(row["id"]),
            piece_id=int(row["piece_id"]),
            bank=str(row["bank"]),
            holder=str(row["holder"]),
            price=int(row["price"]),
            nonce=int(row["nonce"]),
            deadline=int(row["deadline"]),
            created_at=int(row["created_at"]),
            policy_hash=row.get("policy_hash"),
            model_version=row.get("model_version"),
            quote=row.get("quote"),
        )


@dataclass(frozen=True)
class Finding:
    """One disagreement (or one offer that could not be checked), with where it is: the offer, its piece and
    bank, the block it was priced (or financed) at and the financing's transaction when there is one."""

    offer: str
    piece: int
    bank: str
    field: str
    detail: str
    recorded: Any = None
    expected: Any = None
    block: int | None = None
    tx: str | None = None

    @property
    def location(self) -> str:
        parts = [f"offer {self.offer}", f"piece {self.piece}", f"bank {self.bank}"]
        if self.block is not None:
            parts.append(f"block {self.block}")
        if self.tx:
            parts.append(f"tx {self.tx}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "offer": self.offer,
            "piece": self.piece,
            "bank": self.bank,
            "block": self.block,
            "tx": self.tx,
            "field": self.field,
            "detail": self.detail,
            "recorded": _jsonable(self.recorded),
            "expected": _jsonable(self.expected),
        }


@dataclass
class OfferAudit:
    """The offers that agree, every finding of those that do not, those that could not be checked, and notes."""

    agree: list[str] = field(default_factory=list)
    mismatches: list[Finding] = field(default_factory=list)
    unchecked: list[Finding] = field(default_factory=list)
    #: offers whose quote records no as-of block (made before desks recorded one): checked as of their pricing time
    undated: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: offer id -> the transaction that financed it on chain (accepted offers only)
    accepted: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def differ(self) -> int:
        return len({f.offer for f in self.mismatches})

    @property
    def checked(self) -> int:
        return len(self.agree) + self.differ

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "differ": self.differ,
            "agree": self.agree,
            "accepted": self.accepted,
            "mismatches": [f.to_json() for f in self.mismatches],
            "unchecked": [f.to_json() for f in self.unchecked],
            "undated": [f.to_json() for f in self.undated],
            "notes": self.notes,
        }


#: Makes a ``Finding`` about the offer in hand: (field, detail, recorded=, expected=, block=, tx=).
_Find = Callable[..., Finding]


class _Financed(NamedTuple):
    block: int
    tx: str
    piece: int
    seller: str
    price: int
    amount: int


class _Piece(NamedTuple):
    block: int
    root: int
    amount: int


class _Limit(NamedTuple):
    """A limit as published (``limit`` None: revoked) at ``block``, under the model ``model``."""

    block: int
    limit: int | None
    valid_until: int
    model: str | None


class LedgerFacts:
    """The ledger's logs up to ``to_block``, decoded once: the histories the scorer reads (chain order) and
    what an offer names, each as of any block: pieces (amount, root, holder), receivables (debtor, maturity),
    financings (by bank and nonce) and published limits."""

    def __init__(self, chain: Chain, logs: Iterable[LedgerLog], to_block: int) -> None:
        self.chain = chain
        self.to_block = to_block
        self.events: list[ChainEvent] = []
        self.pieces: dict[int, _Piece] = {}
        self.roots: dict[int, tuple[str, int]] = {}  # root id -> (debtor, maturity)
        self.holders: dict[int, list[tuple[int, str]]] = defaultdict(list)  # piece -> (block, holder) in order
        self.financed: dict[tuple[str, int], _Financed] = {}  # (bank lower-case, nonce) -> the financing
        self.limits: dict[tuple[str, str], list[_Limit]] = defaultdict(list)
        times: dict[int, int] = {}
        for log in logs:
            raw = log.raw
            if raw.block_number > to_block:
                continue
            stamp = raw.block_timestamp
            if stamp is None:
                stamp = times.get(raw.block_number)
                if stamp is None:
                    stamp = times[raw.block_number] = block_time(chain, raw.block_number)
            self.events.append(ChainEvent(raw.block_number, raw.log_index, stamp, log.contract, log.event, log.args))
            self._remember(log)
        self.blocks = [e.block_number for e in self.events]

    @classmethod
    def read(
        cls,
        chain: Chain,
        addresses: Mapping[str, str],
        abis: Mapping[str, Sequence[Mapping[str, Any]]],
        to_block: int,
        *,
        from_block: int = 0,
        logs: Sequence[RawLog] | None = None,
    ) -> LedgerFacts:
        """From ``logs`` (e.g. those the replay kept), else from the chain's ``eth_getLogs``."""
        decoder = LogDecoder(addresses, abis)
        if logs is None:
            logs = [raw for _, _, page in fetch_logs(chain, decoder.addresses, from_block, to_block) for raw in page]
        return cls(chain, decoder.decode_many(logs), to_block)

    def _remember(self, log: LedgerLog) -> None:
        a, block = log.args, log.raw.block_number
        if log.contract == "Receivables":
            if log.event == "ReceivableIssued":
                root = int(a["rootId"])
                self.roots[root] = (str(a["debtor"]), int(a["maturity"]))
                self.pieces[root] = _Piece(block, root, int(a["faceValue"]))
            elif log.event == "PieceCreated":
                self.pieces[int(a["pieceId"])] = _Piece(block, int(a["rootId"]), int(a["amount"]))
            elif log.event == "Transfer":
                self.holders[int(a["tokenId"])].append((block, str(a["to"])))
            elif log.event == "PieceFinanced":
                self.financed[(str(a["bank"]).lower(), int(a["nonce"]))] = _Financed(
                    block, log.raw.tx_hash, int(a["pieceId"]), str(a["seller"]), int(a["price"]), int(a["amount"])
                )
        elif log.contract == "CreditRegistry":
            if log.event == "LimitPublished":
                pair = (str(a["bank"]).lower(), str(a["party"]).lower())
                model = _hex(a["modelHash"])
                self.limits[pair].append(_Limit(block, int(a["limit"]), int(a["validUntil"]), model))
            elif log.event == "LimitRevoked":
                self.limits[(str(a["bank"]).lower(), str(a["party"]).lower())].append(_Limit(block, None, 0, None))

    def history(self, as_of_block: int, refused: Sequence[RefusedCall] | None) -> History:
        """What a decision as of ``as_of_block`` may use (as ``scoring.chain_source.ChainEvents.history``)."""
        if as_of_block > self.to_block:
            raise NoHistory(f"events were read up to block {self.to_block}, not {as_of_block}")
        cut = bisect.bisect_right(self.blocks, as_of_block)
        return History(
            self.chain.chain_id,
            as_of_block,
            block_time(self.chain, as_of_block),
            self.events[:cut],
            None if refused is None else [c for c in refused if c.block_number <= as_of_block],
            "chain",
        )

    def holder_at(self, piece: int, block: int) -> str | None:
        """Who held ``piece`` at the end of ``block`` (None: not minted yet)."""
        held = [holder for at, holder in self.holders.get(piece, []) if at <= block]
        return held[-1] if held else None

    def published_at(self, bank: str, party: str, block: int, now: int) -> _Limit | None:
        """The limit ``bank`` had published for ``party`` at the end of ``block``, if unrevoked and valid at
        ``now`` (how the desk reads the index's limits: ``api.desk.inputs.published_limit``)."""
        found = [entry for entry in self.limits.get((bank.lower(), party.lower()), []) if entry.block <= block]
        if not found or found[-1].limit is None or found[-1].valid_until <= now:
            return None
        return found[-1]

    def limit_at(self, bank: str, party: str, block: int, now: int) -> int | None:
        """``published_at``'s amount."""
        found = self.published_at(bank, party, block, now)
        return None if found is None else found.limit


class _Checker:
    """Checks offers against one set of policies, models and ledger facts (scorers cached per as-of block)."""

    def __init__(
        self,
        chain: Chain,
        facts: LedgerFacts,
        policies: Sequence[Policy],
        models: Sequence[Model],
        *,
        refused: Sequence[RefusedCall] | None,
        confirmations: int,
    ) -> None:
        self.chain = chain
        self.facts = facts
        self.policies = {p.hash: p for p in policies}
        self.given = list(policies)
        self.models = {m.version: m for m in models}
        self.refused = refused
        self.confirmations = confirmations
        self.head = chain.block_number
        self._scorers: dict[tuple[int, str], Scorer | str] = {}
        self._times: dict[int, int] = {}
        self._at: dict[int, int] = {}  # a pricing time -> the last block at or before it (offers share times)

    def block_at(self, when: int) -> int:
        found = self._at.get(when)
        if found is None:
            found = self._at[when] = block_at(self.chain, when, head=self.head)
        return found

    def time_of(self, block: int) -> int:
        found = self._times.get(block)
        if found is None:
            found = self._times[block] = block_time(self.chain, block)
        return found

    # -- one offer -----------------------------------------------------------------------------

    def check(self, offer: SignedOffer, result: OfferAudit) -> None:
        def finding(name: str, detail: str, **more: Any) -> Finding:
            return Finding(offer.id, offer.piece_id, offer.bank, name, detail, **more)

        if offer.quote is None:
            result.unchecked.append(finding("pricing", "the bank recorded no pricing with this offer"))
            return
        try:
            quote = json.loads(offer.quote)
        except ValueError as exc:
            result.mismatches.append(finding("quote", f"the recorded quote is not JSON: {exc}"))
            return
        if not isinstance(quote, dict) or quote.get("result") != "quoted":
            kind = quote.get("result") if isinstance(quote, dict) else type(quote).__name__
            result.mismatches.append(
                finding("quote.result", f"the recorded pricing is not a scoring.pricing quote (result {kind!r})")
            )
            return
        found = self._recorded(offer, quote, finding)
        found += self._arithmetic(offer, quote, finding)
        request = _request(quote)
        inputs: list[Finding] | None = []
        if isinstance(request, str):
            found.append(finding("quote.inputs.request", request))
        else:
            inputs = self._as_priced(offer, request, finding, result)
        face = None if isinstance(request, str) else request.face
        found += (inputs or []) + self._on_chain(offer, face, finding, result)
        if found:
            result.mismatches.extend(found)
        elif inputs is not None:  # None: its inputs could not be checked (listed as unchecked)
            result.agree.append(offer.id)

    def _as_priced(
        self, offer: SignedOffer, request: QuoteRequest, finding: _Find, result: OfferAudit
    ) -> list[Finding] | None:
        """(d) as of the block the offer's inputs were read at; None (and listed unchecked) when that is after the
        last block read."""
        now = request.now if request.now is not None else offer.created_at
        if request.as_of_block is not None:
            return self._as_of(offer, request, now, request.as_of_block, finding, result)
        try:
            priced_at = self.block_at(now)
        except NoHistory as exc:
            return [finding("inputs.now", f"priced at time {now}: {exc}", recorded=now)]
        if priced_at > self.facts.to_block:
            last = self.facts.to_block
            detail = f"priced at time {now}, as of block {priced_at}: after the last block read ({last})"
            result.unchecked.append(finding("inputs", detail, block=priced_at))
            return None
        result.undated.append(
            finding(
                "inputs.as_of_block",
                f"no as-of block recorded: checked as of block {priced_at}, the last at its pricing time {now} (or "
                "one of the same time)",
                block=priced_at,
            )
        )
        return self._inputs(offer, request, now, priced_at, finding)

    def _as_of(
        self, offer: SignedOffer, request: QuoteRequest, now: int, block: int, finding: _Find, result: OfferAudit
    ) -> list[Finding] | None:
        """(d) as of the block the quote records: it must be on the chain and no later than the pricing time."""
        at = {"block": block}
        if block > self.head:
            detail = f"the quote's inputs are said to be read at block {block}, beyond the chain's head ({self.head})"
            return [finding("inputs.as_of_block", detail, recorded=block, expected=self.head, **at)]
        if block > self.facts.to_block:
            detail = f"inputs read at block {block}: after the last block read ({self.facts.to_block})"
            result.unchecked.append(finding("inputs", detail, **at))
            return None
        when = self.time_of(block)
        if when > now:
            detail = f"block {block} was made at time {when}, after the quote's pricing time {now}"
            return [finding("inputs.as_of_block", detail, recorded=block, expected=self.block_at(now), **at)]
        return self._ledger(offer, request, now, block, finding) + self._credit(offer, request, block, finding)

    def _recorded(self, offer: SignedOffer, quote: dict[str, Any], finding: _Find) -> list[Finding]:
        """(c) The quote against the offer it priced: the signed price, the recorded policy and model."""
        out: list[Finding] = []
        quoted = _int_or_text(quote.get("price"))
        if quoted != offer.price:
            out.append(
                finding(
                    "price",
                    f"the quote prices the piece at {quoted}, the bank signed {offer.price}",
                    recorded=offer.price,
                    expected=quoted,
                )
            )
        for name, column, value in (
            ("policy_hash", offer.policy_hash, quote.get("policy")),
            ("model_version", offer.model_version, quote.get("model")),
        ):
            if str(column).lower() != str(value).lower():
                out.append(
                    finding(name, f"the offer records {column}, its quote {value}", recorded=column, expected=value)
                )
        inputs = quote.get("inputs")
        named = inputs.get("policy") if isinstance(inputs, dict) else None
        if str(named).lower() != str(quote.get("policy")).lower():
            out.append(
                finding(
                    "quote.inputs.policy", f"the quote's inputs name policy {named}, the quote {quote.get('policy')}"
                )
            )
        return out

    def _arithmetic(self, offer: SignedOffer, quote: dict[str, Any], finding: _Find) -> list[Finding]:
        """(a) the policy the offer names is given; (b) it reproduces the quote exactly."""
        recorded = str(offer.policy_hash or quote.get("policy") or "").lower()
        policy = self.policies.get(recorded)
        if policy is None:
            return [finding("policy_hash", self._unknown_policy(offer, recorded), recorded=recorded)]
        try:
            fields = audit(policy, quote)
        except (PolicyMismatch, QuoteRequestError, TypeError, ValueError) as exc:  # (a type no check names)
            return [finding("quote.inputs", f"cannot be recomputed under policy file {policy.where}: {exc}")]
        if not fields:
            return []
        again = _again(policy, quote)
        return [
            finding(
                f"quote.{name}",
                f"recorded {_short(quote.get(name))}, recomputed under policy file {policy.where} "
                f"{_short(again.get(name))}",
                recorded=quote.get(name),
                expected=again.get(name),
            )
            for name in fields
        ]

    def _unknown_policy(self, offer: SignedOffer, recorded: str) -> str:
        if len(self.given) == 1:
            only = self.given[0]
            return f"policy file {only.where} has hash {only.hash}, offer {offer.id} was priced under {recorded}"
        given = "; ".join(f"{p.where} has {p.hash}" for p in self.given) or "none given"
        return f"offer {offer.id} was priced under {recorded}, which no policy file given has ({given})"

    def _on_chain(self, offer: SignedOffer, face: int | None, finding: _Find, result: OfferAudit) -> list[Finding]:
        """(c) An offer accepted on chain was paid its signed price, for its piece, to its holder."""
        financed = self.facts.financed.get((offer.bank.lower(), offer.nonce))
        if financed is None:
            return []
        result.accepted[offer.id] = financed.tx
        at = {"block": financed.block, "tx": financed.tx}
        out: list[Finding] = []
        if financed.piece != offer.piece_id:
            out.append(
                finding(
                    "chain.piece_id",
                    f"the bank's nonce {offer.nonce} financed piece {financed.piece} on chain",
                    recorded=offer.piece_id,
                    expected=financed.piece,
                    **at,
                )
            )
        if financed.price != offer.price:
            out.append(
                finding(
                    "chain.price",
                    f"the offer records price {offer.price}, the chain paid {financed.price}",
                    recorded=offer.price,
                    expected=financed.price,
                    **at,
                )
            )
        if financed.seller.lower() != offer.holder.lower():
            out.append(
                finding(
                    "chain.seller",
                    f"the offer was made to {offer.holder}, the chain paid {financed.seller}",
                    recorded=offer.holder,
                    expected=financed.seller,
                    **at,
                )
            )
        if face is not None and face != financed.amount:
            out.append(
                finding(
                    "chain.amount",
                    f"the quote prices a face of {face}, the chain financed {financed.amount}",
                    recorded=face,
                    expected=financed.amount,
                    **at,
                )
            )
        return out

    # -- (d) the inputs against the chain --------------------------------------------------------

    def _inputs(
        self, offer: SignedOffer, request: QuoteRequest, now: int, priced_at: int, finding: _Find
    ) -> list[Finding]:
        """The quote's inputs against the chain, trying each block that shares the pricing head's time."""
        heads = [priced_at]
        while len(heads) < MAX_CANDIDATES and heads[-1] > 0 and self.time_of(heads[-1] - 1) == self.time_of(priced_at):
            heads.append(heads[-1] - 1)
        tried = sorted(((self._ledger(offer, request, now, h, finding), h) for h in heads), key=lambda t: len(t[0]))
        best: list[Finding] | None = None
        for ledger, head in tried:
            found = ledger + self._credit(offer, request, head, finding)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        assert best is not None
        return best

    def _ledger(self, offer: SignedOffer, request: QuoteRequest, now: int, head: int, finding: _Find) -> list[Finding]:
        """Face, maturity, holder and the published limit as of the end of ``head``."""
        at = {"block": head}
        piece = self.facts.pieces.get(offer.piece_id)
        if piece is None or piece.block > head:
            return [finding("inputs.face", f"piece {offer.piece_id} does not exist as of block {head}", **at)]
        out: list[Finding] = []
        if request.face != piece.amount:
            out.append(
                finding(
                    "inputs.face",
                    f"the quote prices a face of {request.face}, the piece's amount is {piece.amount}",
                    recorded=request.face,
                    expected=piece.amount,
                    **at,
                )
            )
        _, maturity = self.facts.roots.get(piece.root, ("", None))
        if request.maturity is not None and request.maturity != maturity:
            out.append(
                finding(
                    "inputs.maturity",
                    f"the quote prices maturity {request.maturity}, receivable {piece.root} matures at {maturity}",
                    recorded=request.maturity,
                    expected=maturity,
                    **at,
                )
            )
        holder = self.facts.holder_at(offer.piece_id, head)
        if holder is None or holder.lower() != offer.holder.lower():
            out.append(
                finding(
                    "seller",
                    f"piece {offer.piece_id} was held by {holder} as of block {head}, not by the offer's "
                    f"holder {offer.holder}",
                    recorded=offer.holder,
                    expected=holder,
                    **at,
                )
            )
        published = self.facts.published_at(offer.bank, offer.holder, head, now)
        limit = None if published is None else published.limit
        if limit != request.seller_limit:
            out.append(
                finding(
                    "inputs.seller_limit",
                    f"the quote records {request.seller_limit}, the bank's published limit for the seller at "
                    f"time {now} as of block {head} was {limit}",
                    recorded=request.seller_limit,
                    expected=limit,
                    **at,
                )
            )
        elif published is not None and str(published.model).lower() != request.model_version.lower():
            out.append(
                finding(
                    "inputs.model_version",
                    f"the quote was priced with model {request.model_version}, the bank's limit for the seller as of "
                    f"block {head} was published under model {published.model}",
                    recorded=request.model_version,
                    expected=published.model,
                    **at,
                )
            )
        return out

    def _credit(self, offer: SignedOffer, request: QuoteRequest, head: int, finding: _Find) -> list[Finding]:
        """The obligor's and the seller's credit as the API served it, as of ``head`` less the confirmations."""
        as_of = head - self.confirmations
        at = {"block": as_of}
        model = self.models.get(request.model_version)
        if model is None:
            held = ", ".join(sorted(self.models)) or "none"
            return [
                finding(
                    "inputs.model_version",
                    f"unknown model {request.model_version} (models given: {held}): the PDs cannot be recomputed",
                    recorded=request.model_version,
                )
            ]
        piece = self.facts.pieces.get(offer.piece_id)
        if piece is None:
            return []  # the ledger's check names the missing piece
        obligor = self.facts.roots[piece.root][0]
        scorer = self._scorer(as_of, model)
        if isinstance(scorer, str):
            return [finding("inputs", f"no credit decision as of block {as_of}: {scorer}", **at)]
        obligor_decision = _served(scorer, obligor)
        seller_decision = _served(scorer, offer.holder)
        expected: dict[str, Any] = {"seller_pd_bps": None, "seller_grade": None}
        if seller_decision is not None:
            expected = {"seller_pd_bps": seller_decision.pd_bps, "seller_grade": seller_decision.grade}
        if obligor_decision is not None and obligor_decision.status == NOT_SCORED:
            expected.update(obligor_kind=CORE, obligor_pd_bps=None, obligor_record=_debtor_record(scorer, obligor))
        else:
            pd = None if obligor_decision is None else obligor_decision.pd_bps
            expected.update(obligor_kind=SUPPLIER, obligor_pd_bps=pd, obligor_record=None)
        recorded = request.to_json()
        out: list[Finding] = []
        for name, value in expected.items():
            if recorded[name] != value:
                who = "seller " + offer.holder if name.startswith("seller") else "obligor " + obligor
                out.append(
                    finding(
                        f"inputs.{name}",
                        f"the quote records {_short(recorded[name])}, the scorer gives the {who} "
                        f"{_short(value)} as of block {as_of} with model {model.version}",
                        recorded=recorded[name],
                        expected=value,
                        **at,
                    )
                )
        return out

    def _scorer(self, as_of: int, model: Model) -> Scorer | str:
        key = (as_of, model.version)
        found = self._scorers.get(key)
        if found is None:
            if as_of < 0:
                found = f"block {as_of} is before the chain's first"
            else:
                try:
                    found = Scorer(features.build(self.facts.history(as_of, self.refused)), model)
                except ScoringError as exc:
                    found = str(exc)
            self._scorers[key] = found
        return found


def audit_offers(
    chain: Chain,
    facts: LedgerFacts,
    offers: Iterable[SignedOffer],
    policies: Sequence[Policy],
    models: Sequence[Model],
    *,
    refused: Sequence[RefusedCall] | None = None,
    confirmations: int = DEFAULT_CONFIRMATIONS,
) -> OfferAudit:
    """Check every offer (the module's docstring, a to d) against ``facts`` (the chain's logs)."""
    result = OfferAudit()
    if refused is None:
        result.notes.append("refused calls were not supplied: PDs resting on double financing cannot be confirmed")
    checker = _Checker(chain, facts, policies, models, refused=refused, confirmations=confirmations)
    mine: set[tuple[str, int]] = set()
    for offer in offers:
        mine.add((offer.bank.lower(), offer.nonce))
        checker.check(offer, result)
    result.notes.append(
        "the bank's outstanding financing on the obligor and the seller is taken as recorded (not dated to a block)"
    )
    outside = [key for key in facts.financed if key not in mine]
    if outside:
        result.notes.append(
            f"{len(outside)} financing(s) on chain were made under offers the store does not hold "
            "(signed outside the API): no pricing to recompute"
        )
    return result


# -- helpers ---------------------------------------------------------------------------------------


def _served(scorer: Scorer, party: str) -> Decision | None:
    """The decision the API serves a bank for ``party`` (``api.v1.credit``): none unless it is an active
    member that trades (a supplier or a core enterprise)."""
    table = scorer.table
    i = table.index.get(party)
    if i is None or not bool(table.member[i]) or not int(table.roles[i]) & TRADES:
        return None
    return scorer.decide_index(i)


def _debtor_record(scorer: Scorer, party: str) -> dict[str, Any]:
    """A core's record as a debtor as ``GET /v1/banks/obligors/{party}`` answers it, in the quote's terms."""
    return debtor_record_of(scorer.table, scorer.table.index[party]).to_json()


def _request(quote: dict[str, Any]) -> QuoteRequest | str:
    inputs = quote.get("inputs")
    if not isinstance(inputs, dict):
        return "the quote records no inputs"
    try:
        return QuoteRequest.from_json(inputs.get("request"))
    except QuoteRequestError as exc:
        return f"{exc.field}: {exc.detail}"
    except (TypeError, ValueError) as exc:
        return str(exc)


def _again(policy: Policy, quote: dict[str, Any]) -> dict[str, Any]:
    return recompute(policy, quote).to_json()


def _hex(value: Any) -> str:
    """A bytes32 log argument (bytes, or hex text as the decoder gives it) as 0x and lower-case hex."""
    if isinstance(value, str):
        return "0x" + value.lower().removeprefix("0x")
    return "0x" + bytes(value).hex()


def _int_or_text(value: Any) -> Any:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _jsonable(value: Any) -> Any:
    """Token amounts beyond a JavaScript number as decimal strings, like the API's JSON."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value) if abs(value) > 2**53 - 1 else value
    return value
