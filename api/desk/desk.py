"""The desk's loop: follow the inbox, price each request once, sign and post offers, journal every decision.

One **pass** (``Desk.run_once``) first resolves the offers a crash may have left half done (intents
without an outcome in the journal) and tells the API the declines it has not recorded yet, then
walks the inbox (``GET /v1/financing-requests?state=open``) and, for each ask (a request in its
round: ``api.desk.journal``) the journal has no outcome for:

1. reads the piece and its receivable (face, maturity, the root debtor = the obligor, the holder =
   the seller) and declines at once, in words, what cannot be bought (``api.desk.inputs``);
2. reads the credit it prices from: this bank's exposure on both, with the time to price at and
   the index's block (``GET /v1/banks/me/exposure``'s ``now``, chain time, and ``indexedBlock``),
   the obligor's decision (a core's record as a debtor), the seller's decision and the limits this
   bank published; then reads the index's block again (``/v1/health``), and reads all of it again
   when the index moved meanwhile, so every input is as of one block, recorded with the quote
   (``as_of_block``) for the auditor to recompute them as of it;
3. prices with ``scoring.pricing.quote`` under the bank's policy; a ``Decline`` is journaled with
   its reasons and the pricer's whole record, and posted to the API in words for the holder
   (``POST /v1/financing-requests/{id}/decline``);
4. on a ``Quote``: asks the API for the EIP-712 offer to sign (price, deadline, nonce), checks that
   it is exactly that offer, for this bank, on this chain's Receivables contract, with the digest
   the API states, signs it locally with the bank's key, journals the **intent** (fsync'd), posts
   the offer with its ``pricing`` record (policy hash, model version, the quote) and journals the
   outcome with the offer's id and how long it took.

**Never twice.** The journal's outcome lines make a restart skip what was decided. An offer's
nonce is derived from the bank, the request's id and its round (``offer_nonce``), and so is its
Idempotency-Key, so whatever happened before a crash, posting the offer for an ask again is either
replayed by the API (same key, same body: the first answer) or refused because the nonce is used
(the API refuses a nonce used in an offer or on chain): one ask never gets two offers, even from
a desk that lost its journal (it finds its offer of the round among the piece's offers by that
nonce). The intent line lets the next start post the *same* signed body rather than re-price.

**A lapsed offer is not re-priced.** An offer is firm until its deadline and counts against the
bank's limits while it is open. When it lapses unaccepted the request reads ``open`` to this bank
again; re-pricing it then would make the offer a rolling quote that holds the bank's limits for
ever, and a holder who never answers would get a new price every ``offer_ttl``. So the desk prices
each ask once: it closes a lapsed ask with a decline that says so in words (``OFFER_LAPSED``: the
offer, its price, its deadline, and that asking again gets a new price), which the holder reads in
the inbox. A holder who still wants the money asks again (the API reopens a declined request as a
new round); the desk then prices that ask afresh from the ledger as it stands, once, and journals
it as a re-quote naming the offers that lapsed before it. An ask the desk never answered in time
(an intent whose deadline passed before it could be posted) is closed the same way
(``NO_OFFER_POSTED``).

**Weather.** ``ApiUnavailable`` (no answer, 5xx, 429) ends the pass without journaling anything for
the request at hand (a decline already journaled is told on the next pass); ``follow`` logs it and
backs off (doubling up to ``max_backoff``, or the API's ``Retry-After``), then tries again, for
ever; so does a refusal of the sign-in or of the inbox itself (a suspended bank, a wrong URL), which
no request can fix. A refusal about one request (a 4xx the desk did not expect), or an index that
moved on every read of its inputs (``InputsMoved``), is logged, the request is retried on a later
pass with its own back-off, and the others go on. ``stop`` (an event the command line sets on
SIGTERM or SIGINT) is checked between requests and while waiting, so the desk stops after the
request in hand, with its journal whole.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from api.desk.client import BankApi
from api.desk.errors import ApiRefused, ApiUnavailable, DeskError, InputsMoved, SignInFailed, TypedDataMismatch
from api.desk.inputs import is_core, published_limit, quote_request, unsellable
from api.desk.journal import DECLINED, INTENT, LAPSED, OFFERED, TOLD, Journal
from ledger.eth import eip712
from scoring.errors import QuoteRequestError
from scoring.policy import Policy
from scoring.pricing import Decline, Quote, Reason, quote

#: Back-off of one request the API refused unexpectedly: from this many seconds, doubling, up to the cap.
RETRY_FIRST, RETRY_CAP = 5.0, 600.0
#: Reads of one request's inputs before the desk leaves it for a later pass because the index kept moving.
READS = 3


@dataclass(frozen=True)
class DeskSettings:
    interval: float = 5.0  # seconds between passes over the inbox
    offer_ttl: int = 86_400  # an offer's deadline: this long after it is priced (never past maturity)
    max_backoff: float = 60.0  # longest wait after the API failed


@dataclass
class PassReport:
    """What one pass (or a run of passes) did."""

    offered: int = 0
    declined: int = 0
    recovered: int = 0  # intents resolved after a restart (found, re-posted, or lapsed)
    deferred: int = 0  # requests left for a later pass (an unexpected refusal)
    lapsed: int = 0  # asks closed because their offer lapsed unaccepted (or was never posted in time)
    latencies: list[float] = field(default_factory=list)  # seconds from picking a request up to its offer posted

    def add(self, other: PassReport) -> None:
        self.offered += other.offered
        self.declined += other.declined
        self.recovered += other.recovered
        self.deferred += other.deferred
        self.lapsed += other.lapsed
        self.latencies.extend(other.latencies)

    @property
    def busy(self) -> bool:
        return bool(self.offered or self.declined or self.recovered or self.deferred or self.lapsed)

    def summary(self) -> str:
        took = f", {max(self.latencies):.2f} s at most per offer" if self.latencies else ""
        return (
            f"offered {self.offered}, declined {self.declined}, recovered {self.recovered}, "
            f"deferred {self.deferred}, lapsed {self.lapsed}{took}"
        )


def offer_nonce(bank: str, request_id: str, round_: int) -> int:
    """The offer nonce for the ask: 128 bits of keccak(bank, request, round), the same after any restart."""
    return int.from_bytes(keccak(text=f"scf-desk offer {bank.lower()} {request_id} {round_}")[:16], "big")


def idempotency_key(request_id: str, round_: int) -> str:
    return f"scf-desk-offer-{request_id}-{round_}"


def round_of(request: dict[str, Any]) -> int:
    """The ask's round: the request's ``createdAt`` (the API moves it when the holder asks again)."""
    return int(request["createdAt"])


@dataclass(frozen=True)
class Read:
    """One request's inputs, all read while the index stood at ``block``."""

    exposure: dict[str, Any]
    now: int
    block: int | None
    obligor_decision: dict[str, Any] | None
    obligor_record: dict[str, Any] | None
    seller_decision: dict[str, Any] | None
    limits: list[dict[str, Any]]


def stderr_log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} desk: {message}", file=sys.stderr, flush=True)


class Desk:
    """One bank's desk over ``api`` (signed in as ``account``), pricing under ``policy``, remembering in ``journal``."""

    def __init__(
        self,
        api: BankApi,
        policy: Policy,
        account: LocalAccount,
        journal: Journal,
        *,
        settings: DeskSettings | None = None,
        log: Callable[[str], None] = stderr_log,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.policy = policy
        self.account = account
        self.bank = str(account.address)
        self.journal = journal
        self.settings = settings or DeskSettings()
        self.log = log
        self.stop = stop or threading.Event()
        self.clock = clock
        self.chain_id: int | None = None
        self.receivables: str | None = None
        self._later: dict[str, tuple[float, float]] = {}  # request id -> (next try, current back-off)
        # The limits this bank published, read once per pass and again when the index moved: (block, rows).
        self._limits: tuple[int | None, list[dict[str, Any]]] | None = None

    # -- start, passes, the loop ---------------------------------------------------------------

    def start(self) -> None:
        """Learn the chain and the Receivables contract from the API, and sign in (raises if it cannot)."""
        health = self.api.health()
        self.chain_id = int(health["chainId"])
        self.receivables = str(health["contracts"]["Receivables"])
        self.api.sign_in()
        self.log(
            f"bank {self.bank} on chain {self.chain_id}, policy {self.policy.name} {self.policy.label} "
            f"({self.policy.hash}), journal {self.journal.path} ({len(self.journal.outcomes)} decided)"
        )

    def run_once(self, report: PassReport | None = None) -> PassReport:
        """One pass: resolve half-done offers, then every open request not yet decided (counted in ``report``,
        also when the API fails mid-pass)."""
        report = PassReport() if report is None else report
        if self.chain_id is None:
            self.start()
        self._limits = None
        self._recover(report)
        for request in self.api.inbox():
            if self.stop.is_set():
                break
            request_id, round_ = str(request.get("id")), round_of(request)
            if self.journal.intended(request_id, round_):
                continue
            if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
                continue
            try:
                outcome = self.journal.outcome(request_id, round_)
                if outcome is None:
                    self._handle(request, report)
                elif outcome.get("round") is not None and outcome["kind"] in (OFFERED, LAPSED):
                    # Open to this bank again after it answered: its offer lapsed (or was never posted in time).
                    self._close(request, outcome, report)
            except (ApiRefused, TypedDataMismatch, InputsMoved) as exc:
                self._defer(request_id, exc, report)
        return report

    def follow(self) -> PassReport:
        """Pass after pass until ``stop`` is set; an API that fails is waited out, never fatal."""
        total = PassReport()
        backoff = 0.0
        while not self.stop.is_set():
            done = PassReport()
            try:
                self.run_once(done)
            except (ApiUnavailable, ApiRefused, SignInFailed) as exc:  # the API, not one request: wait it out
                total.add(done)
                retry_after = exc.retry_after if isinstance(exc, ApiUnavailable) else None
                backoff = min(self.settings.max_backoff, max(1.0, backoff * 2))
                wait = max(backoff, retry_after or 0.0)
                self.log(f"{exc}; trying again in {wait:.0f} s")
                self.stop.wait(wait)
                continue
            backoff = 0.0
            total.add(done)
            if done.busy:
                self.log(f"pass: {done.summary()}")
            self.stop.wait(self.settings.interval)
        self.log(f"stopped: {total.summary()}")
        return total

    def _defer(self, request_id: str, exc: DeskError, report: PassReport) -> None:
        _, previous = self._later.get(request_id, (0.0, 0.0))
        backoff = min(RETRY_CAP, previous * 2 if previous else RETRY_FIRST)
        self._later[request_id] = (self.clock() + backoff, backoff)
        report.deferred += 1
        self.log(f"request {request_id}: {exc}; left for a later pass (in {backoff:.0f} s)")

    # -- one request ----------------------------------------------------------------------------

    def _handle(self, request: dict[str, Any], report: PassReport) -> None:
        started = self.clock()
        request_id, round_, piece_id = str(request["id"]), round_of(request), int(request["pieceId"])
        lapsed: list[dict[str, Any]] = []
        if _count(request.get("offers")) > 0:
            # This bank offered on the piece to this holder before: under this ask (and the journal does not know:
            # lost or moved), or under an earlier ask whose offer lapsed (the holder asked again: a re-quote). The
            # inbox counts only this bank's own offers; its offer under this ask has this ask's nonce.
            holder = request.get("holder")
            offers = self.api.offers(piece_id) or []
            mine = [o for o in offers if o.get("bank") == self.bank and o.get("holder") == holder]
            nonce = str(offer_nonce(self.bank, request_id, round_))
            this = next((o for o in mine if str(o.get("nonce")) == nonce), None)
            if this is not None:
                found = {name: this.get(name) for name in ("price", "deadline", "nonce")}
                how = "the piece's offers show its offer for this ask"
                record = {"offer": this.get("id"), **found, "recovered": how}
                self._outcome(OFFERED, request, record, report, count="recovered")
                return
            lapsed = [{"offer": o.get("id"), "price": o.get("price"), "deadline": o.get("deadline")} for o in mine]
        piece = self.api.piece(piece_id)
        root = self.api.receivable(piece["rootId"]) if piece is not None else None
        reasons = unsellable(request, piece, root)
        if reasons or piece is None or root is None:
            self._decline(request, reasons, None, report)
            return
        seller, obligor = str(request["holder"]), str(root["debtor"])
        read = self._read(obligor, seller)
        try:
            built = quote_request(
                piece=piece,
                root=root,
                now=read.now,
                obligor_decision=read.obligor_decision,
                obligor_record=read.obligor_record,
                seller_decision=read.seller_decision,
                seller_limit=published_limit(read.limits, self.bank, seller, read.now),
                exposure=read.exposure,
                as_of_block=read.block,
            )
        except QuoteRequestError as exc:
            built = [Reason("INPUT_REFUSED", f"what the ledger shows cannot be priced: {exc}")]
        if isinstance(built, list):
            self._decline(request, built, None, report)
            return
        priced = quote(self.policy, built)
        if isinstance(priced, Decline):
            self._decline(request, list(priced.reasons), priced, report)
            return
        self._offer(request, priced, read, int(root["maturity"]), started, report, lapsed)

    def _read(self, obligor: str, seller: str) -> Read:
        """What the request is priced from, all as of one indexed block: the exposure first (its block), then the
        credit and the limits, then the index's block again; read again while the index moves (``InputsMoved``
        after ``READS`` tries, and the request waits for a later pass)."""
        for _ in range(READS):
            exposure = self.api.exposure(obligor, seller)
            block = _block(exposure.get("indexedBlock"))
            obligor_decision = self.api.decision(obligor)
            obligor_record = self.api.obligor(obligor) if is_core(obligor_decision) else None
            seller_decision = self.api.decision(seller)
            if self._limits is None or self._limits[0] != block:
                self._limits = (block, self.api.limits())
            limits = self._limits[1]
            if block is None or self.api.indexed_block() == block:
                now = int(exposure["now"])
                return Read(exposure, now, block, obligor_decision, obligor_record, seller_decision, limits)
        raise InputsMoved(READS)

    def _decline(
        self,
        request: dict[str, Any],
        reasons: list[Reason],
        priced: Decline | None,
        report: PassReport,
        *,
        count: str = "declined",
        **more: Any,
    ) -> None:
        """Journal the decline, then tell the holder through the API (``_tell``)."""
        record = {
            "reasons": [r.to_json() for r in reasons],
            "pricing": None if priced is None else priced.to_json(),
            "policy": self.policy.hash,
            **more,
        }
        declined = self._outcome(DECLINED, request, record, report, count=count)
        words = "; ".join(r.text for r in reasons)
        self.log(f"declined request {request['id']} (piece {request['pieceId']}): {words}")
        self._tell(declined)

    def _tell(self, declined: dict[str, Any]) -> None:
        """Post a journaled decline to the API, where the holder reads it; a ``told`` line records that it is done."""
        request_id = str(declined["request"])
        try:
            self.api.decline(request_id, declined["reasons"])
            told = "recorded by the API"
        except ApiRefused as exc:
            if exc.status not in (404, 409):
                raise
            # Not shown to this bank any more (withdrawn, gone, or an API without declines) or no longer open to it
            # (accepted, expired): there is no one to tell.
            told = f"not recorded: {exc.status} {exc.code}: {exc.detail}"
        self.journal.append(
            {"kind": TOLD, "request": request_id, "round": declined.get("round"), "piece": declined.get("piece"),
             "told": told}
        )  # fmt: skip

    def _close(self, request: dict[str, Any], outcome: dict[str, Any], report: PassReport) -> None:
        """An ask this bank answered reads open to it again: its offer lapsed unaccepted (or was never posted in
        time). Close it with a decline that says so; asking again is a new ask, priced afresh (the module's
        docstring)."""
        if outcome["kind"] == OFFERED:
            price = outcome.get("price")
            priced = "" if price is None else f" of {_money(self.policy, int(price))}"
            deadline = outcome.get("deadline")
            until = "" if deadline is None else f" at its deadline, {_when(int(deadline))}"
            reason = Reason(
                "OFFER_LAPSED",
                f"this bank's offer {outcome.get('offer')}{priced} lapsed unaccepted{until}; it prices each request "
                "once: ask again for a new price",
            )
        else:
            why = "; ".join(str(r.get("text")) for r in outcome.get("reasons") or [])
            reason = Reason(
                "NO_OFFER_POSTED",
                f"this bank priced the request but did not post its offer in time ({why}): ask again for a new price",
            )
        self._decline(request, [reason], None, report, count="lapsed", lapsedOffer=outcome.get("offer"))

    def _offer(
        self,
        request: dict[str, Any],
        priced: Quote,
        read: Read,
        maturity: int,
        started: float,
        report: PassReport,
        lapsed: list[dict[str, Any]],
    ) -> None:
        request_id, round_, piece_id = str(request["id"]), round_of(request), int(request["pieceId"])
        deadline = min(read.now + self.settings.offer_ttl, maturity)
        nonce = offer_nonce(self.bank, request_id, round_)
        terms = {"price": str(priced.price), "deadline": str(deadline), "nonce": str(nonce)}
        served = self.api.offer_typed_data(piece_id, terms)
        document = self._checked(served, piece_id, priced.price, deadline, nonce)
        signature = "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=document).signature).hex()
        pricing = {"policyHash": self.policy.hash, "modelVersion": priced.model, "quote": priced.to_json()}
        if lapsed:
            # Why a second price: the holder asked again after this bank's offers lapsed.
            before = ", ".join(str(o["offer"]) for o in lapsed)
            self.log(f"re-quoting request {request_id}: asked again after offer(s) {before} lapsed")
        intent = self.journal.append(
            {
                "kind": INTENT,
                "request": request_id,
                "round": round_,
                "piece": str(piece_id),
                "holder": request.get("holder"),
                "requestedAt": request.get("createdAt"),
                "pricedAt": read.now,
                "asOfBlock": read.block,
                "idempotencyKey": idempotency_key(request_id, round_),
                "body": {**terms, "signature": signature, "pricing": pricing},
                **({"requote": {"after": lapsed}} if lapsed else {}),
            }
        )
        self._post(intent, report, started)

    def _checked(self, served: dict[str, Any], piece_id: int, price: int, deadline: int, nonce: int) -> dict[str, Any]:
        """The served typed data, if it is exactly the offer asked for on this chain's Receivables; else refused."""
        document = served.get("typedData")
        if not isinstance(document, dict) or document.get("primaryType") != "FinanceOffer":
            raise TypedDataMismatch("not a FinanceOffer document")
        message, domain = document.get("message") or {}, document.get("domain") or {}
        expected = {"pieceId": piece_id, "bank": self.bank, "price": price, "deadline": deadline, "nonce": nonce}
        for name, value in expected.items():
            got = message.get(name)
            same = got == value if isinstance(value, str) else str(got) == str(value)
            if not same:
                raise TypedDataMismatch(f"message.{name} is {got!r}, not {value!r}")
        if domain.get("chainId") != self.chain_id:
            raise TypedDataMismatch(f"domain.chainId is {domain.get('chainId')!r}, not {self.chain_id}")
        contract = str(domain.get("verifyingContract", ""))
        if contract.lower() != str(self.receivables).lower():
            raise TypedDataMismatch(f"domain.verifyingContract is {contract}, not Receivables {self.receivables}")
        digest = "0x" + eip712.digest(document).hex()
        if served.get("digest") != digest:
            raise TypedDataMismatch(f"the stated digest {served.get('digest')} is not the document's {digest}")
        return document

    def _post(self, intent: dict[str, Any], report: PassReport, started: float) -> None:
        """Post the intent's signed offer; journal the outcome (a used nonce means an earlier post landed)."""
        request_id, piece_id, body = str(intent["request"]), int(intent["piece"]), intent["body"]
        try:
            posted = self.api.post_offer(piece_id, body, str(intent["idempotencyKey"]))
        except ApiRefused as exc:
            if exc.status == 422 and exc.field == "nonce":
                self._resolve(intent, report, f"the API refused nonce {body['nonce']} as used: {exc.detail}")
                return
            if exc.status == 404:
                self._lapse(intent, report, "the piece is no longer shown to this bank (the request was withdrawn)")
                return
            raise
        seconds = round(self.clock() - started, 3)
        # How long the request waited for its price, by the API's clock (chain-aware: the one that stamped it).
        asked, priced = intent.get("requestedAt"), intent.get("pricedAt")
        waited = None if asked is None or priced is None else int(priced) - int(asked)
        quoted = body["pricing"]["quote"]
        self._outcome(
            OFFERED,
            intent,
            {
                "offer": posted.get("id"),
                "price": body["price"],
                "deadline": body["deadline"],
                "nonce": body["nonce"],
                "pricing": body["pricing"],
                "asOfBlock": intent.get("asOfBlock"),
                "seconds": seconds,
                "waited": waited,
                **({"requote": intent["requote"]} if intent.get("requote") else {}),
            },
            report,
        )
        report.latencies.append(seconds)
        self.log(
            f"offered {_money(self.policy, int(body['price']))} for piece {piece_id} (request {request_id}): "
            f"discount {quoted['discount_bps'] / 100:.2f}%, rate {quoted['rate_bps'] / 100:.2f}% a year, "
            f"inputs as of block {intent.get('asOfBlock')}; offer {posted.get('id')} in {seconds:.2f} s"
        )

    # -- after a crash --------------------------------------------------------------------------

    def _recover(self, report: PassReport) -> None:
        """Settle every intent without an outcome (found among the piece's offers, posted again, or lapsed), and
        tell the API every decline it has not recorded."""
        for intent in self.journal.pending():
            if self.stop.is_set():
                return
            try:
                self._settle(intent, report)
            except (ApiRefused, TypedDataMismatch) as exc:
                self._defer(str(intent["request"]), exc, report)
        for declined in self.journal.to_tell():
            request_id = str(declined["request"])
            if self.stop.is_set():
                return
            if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
                continue
            try:
                self._tell(declined)
            except ApiRefused as exc:
                self._defer(request_id, exc, report)

    def _settle(self, intent: dict[str, Any], report: PassReport) -> None:
        request_id = str(intent["request"])
        if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
            return
        offers = self.api.offers(int(intent["piece"]))
        if offers is None:
            self._lapse(intent, report, "the piece is no longer shown to this bank (the request was withdrawn)")
            return
        if self._resolved_by(intent, offers, report, "found among the piece's offers after a restart"):
            return
        now = int(self.api.found("/v1/banks/me/exposure")["now"])
        if int(intent["body"]["deadline"]) <= now:
            self._lapse(intent, report, "its deadline passed before the desk could post it")
            return
        self.log(f"posting the offer for request {request_id} again (the desk stopped before its answer)")
        self._post(intent, report, self.clock())

    def _resolve(self, intent: dict[str, Any], report: PassReport, how: str) -> None:
        offers = self.api.offers(int(intent["piece"])) or []
        if not self._resolved_by(intent, offers, report, how):
            # Used, but not by an offer this bank sees: never post another for this ask.
            self._lapse(intent, report, how)

    def _resolved_by(self, intent: dict[str, Any], offers: list[dict[str, Any]], report: PassReport, how: str) -> bool:
        nonce = str(intent["body"]["nonce"])
        mine = next((o for o in offers if o.get("bank") == self.bank and str(o.get("nonce")) == nonce), None)
        if mine is None:
            return False
        body = intent["body"]
        record = {
            "offer": mine.get("id"),
            "price": body["price"],
            "deadline": body["deadline"],
            "nonce": body["nonce"],
            "pricing": body["pricing"],
            "asOfBlock": intent.get("asOfBlock"),
            "recovered": how,
        }
        self._outcome(OFFERED, intent, record, report, count="recovered")
        self.log(f"request {intent['request']}: offer {mine.get('id')} was posted before ({how})")
        return True

    def _lapse(self, intent: dict[str, Any], report: PassReport, why: str) -> None:
        self._outcome(LAPSED, intent, {"reasons": [{"code": "OFFER_LAPSED", "text": why}]}, report, count="recovered")
        self.log(f"request {intent['request']}: no offer ({why})")

    def _outcome(
        self, kind: str, source: dict[str, Any], record: dict[str, Any], report: PassReport, *, count: str = ""
    ) -> dict[str, Any]:
        """Journal an outcome for the ask ``source`` names (an inbox item or an intent), counted in ``report`` as
        ``count`` (by default: offered or declined, by its kind)."""
        request_id = str(source.get("request", source.get("id")))
        piece = str(source.get("piece", source.get("pieceId")))
        round_ = source.get("round") if "round" in source else round_of(source) if "createdAt" in source else None
        line = self.journal.append(
            {"kind": kind, "request": request_id, "round": round_, "piece": piece, "holder": source.get("holder"),
             **record}
        )  # fmt: skip
        self._later.pop(request_id, None)
        count = count or ("offered" if kind == OFFERED else "declined")
        if count == "recovered":
            report.recovered += 1
        elif count == "lapsed":
            report.lapsed += 1
        elif count == "offered":
            report.offered += 1
        else:
            report.declined += 1
        return line


def _block(value: Any) -> int | None:
    """The exposure's ``indexedBlock`` (None: the API's index has no cursor yet)."""
    return None if value is None else int(value)


def _count(value: Any) -> int:
    """The inbox's ``offers``: a count (or, from an older server, a list)."""
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _money(policy: Policy, amount: int) -> str:
    unit = 10**policy.decimals
    whole, part = divmod(amount, unit)
    fraction = f".{part:0{policy.decimals}d}".rstrip("0") if part else ""
    return f"{whole:,}{fraction} {policy.symbol}"


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))
