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

**Pre-shipment finance** (``api.desk.products``) follows ``GET /v1/prepayment-requests?state=open`` in the
same pass, through the same loop, journal and rules: for each ask it reads the request again (it shows the
order: the buyer is the obligor, the supplier the seller) and declines in words what cannot be pre-paid (the
request no longer shown, the order not funded or already pre-paid); reads the same credit plus the bank's
guarantee pool (``GET /v1/banks/me/pool``: available, what its open offers could draw, its exposure to the
supplier on chain), as of one block; declines in words what the escrow would refuse for this bank (the whole
amount beyond the limit it published for the supplier, or a pool without room: ``POOL_INSUFFICIENT``); prices
``pre-shipment`` finance of the amount to the order's ``deliverBy`` plus the escrow's claim window; and offers
a ``PrepaymentOffer`` on TradeEscrow for a fee of the amount less the price, its deadline never past the
order's ship-by, checked, signed, journaled and posted as a piece's offer is.

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

import functools
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
from api.desk.inputs import (
    is_core,
    no_room,
    prepayment_quote_request,
    published_limit,
    quote_request,
    unprepayable,
    unsellable,
)
from api.desk.journal import DECLINED, INTENT, LAPSED, OFFERED, TOLD, Journal
from api.desk.products import FOLLOWED, PRE_SHIPMENTS, RECEIVABLES, Product, product_of
from ledger.eth import eip712
from scoring.errors import QuoteRequestError
from scoring.policy import Policy
from scoring.pricing import Decline, Quote, QuoteRequest, Reason, quote

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
    pool: dict[str, Any] | None = None  # the guarantee pool, read for pre-shipment finance only


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
        self.contracts: dict[str, str] = {}  # the ledger's contracts by name, as the API states them
        self._later: dict[str, tuple[float, float]] = {}  # request id -> (next try, current back-off)
        # The limits this bank published, read once per pass and again when the index moved: (block, rows).
        self._limits: tuple[int | None, list[dict[str, Any]]] | None = None

    @property
    def receivables(self) -> str | None:
        return self.contracts.get("Receivables")

    # -- start, passes, the loop ---------------------------------------------------------------

    def start(self) -> None:
        """Learn the chain and the ledger's contracts from the API, and sign in (raises if it cannot)."""
        health = self.api.health()
        self.chain_id = int(health["chainId"])
        self.contracts = {str(name): str(address) for name, address in health["contracts"].items()}
        self.api.sign_in()
        self.log(
            f"bank {self.bank} on chain {self.chain_id}, policy {self.policy.name} {self.policy.label} "
            f"({self.policy.hash}), journal {self.journal.path} ({len(self.journal.outcomes)} decided)"
        )

    def run_once(self, report: PassReport | None = None) -> PassReport:
        """One pass: resolve half-done offers, then every open request of each product's inbox not yet decided
        (counted in ``report``, also when the API fails mid-pass)."""
        report = PassReport() if report is None else report
        if self.chain_id is None:
            self.start()
        self._limits = None
        self._recover(report)
        for product in FOLLOWED:
            for request in product.inbox(self.api):
                if self.stop.is_set():
                    return report
                self._ask(product, request, report)
        return report

    def _ask(self, product: Product, request: dict[str, Any], report: PassReport) -> None:
        """One open request of the inbox: priced if its ask is undecided, closed if this bank's offer lapsed."""
        request_id, round_ = str(request.get("id")), round_of(request)
        if self.journal.intended(request_id, round_):
            return
        if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
            return
        try:
            outcome = self.journal.outcome(request_id, round_)
            if outcome is None:
                self._handle(product, request, report)
            elif outcome.get("round") is not None and outcome["kind"] in (OFFERED, LAPSED):
                # Open to this bank again after it answered: its offer lapsed (or was never posted in time).
                self._close(product, request, outcome, report)
        except (ApiRefused, TypedDataMismatch, InputsMoved) as exc:
            self._defer(request_id, exc, report)

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

    def _handle(self, product: Product, request: dict[str, Any], report: PassReport) -> None:
        started = self.clock()
        request_id, round_ = str(request["id"]), round_of(request)
        lapsed: list[dict[str, Any]] = []
        if _count(request.get("offers")) > 0:
            # This bank offered on the ask's subject to this asker before: under this ask (and the journal does not
            # know: lost or moved), or under an earlier ask whose offer lapsed (the asker asked again: a re-quote).
            # The inbox counts only this bank's own offers; its offer under this ask has this ask's nonce.
            offers = product.offers(self.api, request_id, product.subject_of(request)) or []
            mine = product.mine(offers, request, self.bank)
            nonce = str(offer_nonce(self.bank, request_id, round_))
            this = next((o for o in mine if str(o.get("nonce")) == nonce), None)
            if this is not None:
                found = {name: this.get(name) for name in (product.terms, "deadline", "nonce")}
                how = "this bank's offers show its offer for this ask"
                record = {"offer": this.get("id"), **found, "recovered": how}
                self._outcome(product, OFFERED, request, record, report, count="recovered")
                return
            lapsed = [{"offer": o.get("id"), product.terms: o.get(product.terms), "deadline": o.get("deadline")}
                      for o in mine]  # fmt: skip
        if product is PRE_SHIPMENTS:
            self._price_prepayment(request, report, started, lapsed)
        else:
            self._price_piece(request, report, started, lapsed)

    def _price_piece(
        self, request: dict[str, Any], report: PassReport, started: float, lapsed: list[dict[str, Any]]
    ) -> None:
        piece = self.api.piece(int(request["pieceId"]))
        root = self.api.receivable(piece["rootId"]) if piece is not None else None
        reasons = unsellable(request, piece, root)
        if reasons or piece is None or root is None:
            self._decline(RECEIVABLES, request, reasons, None, report)
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
        priced = self._priced(RECEIVABLES, request, built, report)
        if priced is not None:
            self._offer(
                RECEIVABLES, request, priced.price, priced, read, int(root["maturity"]), started, report, lapsed
            )

    def _price_prepayment(
        self, request: dict[str, Any], report: PassReport, started: float, lapsed: list[dict[str, Any]]
    ) -> None:
        """A pre-payment request: the order as the API shows it now, declined in words if it cannot be pre-paid or
        the escrow would refuse this bank (its limit for the supplier, its pool), else priced as ``pre-shipment``
        finance of the amount; the fee is the amount less the price (``api.desk.inputs``)."""
        current = self.api.prepayment_request(str(request["id"]))
        money = functools.partial(_money, self.policy)
        reasons = unprepayable(request, current, money)
        if reasons or current is None:
            self._decline(PRE_SHIPMENTS, request, reasons, None, report)
            return
        order, amount = current["order"], int(current["amount"])
        seller, obligor = str(order["supplier"]), str(order["buyer"])
        read = self._read(obligor, seller, pool=True)
        assert read.pool is not None
        limit = published_limit(read.limits, self.bank, seller, read.now)
        reasons = no_room(amount=amount, limit=limit, pool=read.pool, money=money)
        if reasons:
            self._decline(PRE_SHIPMENTS, request, reasons, None, report, asOfBlock=read.block)
            return
        try:
            built = prepayment_quote_request(
                current=current,
                now=read.now,
                obligor_decision=read.obligor_decision,
                obligor_record=read.obligor_record,
                seller_decision=read.seller_decision,
                seller_limit=limit,
                exposure=read.exposure,
                pool=read.pool,
                as_of_block=read.block,
            )
        except QuoteRequestError as exc:
            built = [Reason("INPUT_REFUSED", f"what the ledger shows cannot be priced: {exc}")]
        priced = self._priced(PRE_SHIPMENTS, request, built, report)
        if priced is not None:
            fee = amount - priced.price
            self._offer(PRE_SHIPMENTS, {**request, "amount": str(amount)}, fee, priced, read, int(order["shipBy"]),
                        started, report, lapsed)  # fmt: skip

    def _priced(
        self, product: Product, request: dict[str, Any], built: QuoteRequest | list[Reason], report: PassReport
    ) -> Quote | None:
        """The quote for ``built``; or its reasons (or the pricer's) declined in words, and None."""
        if isinstance(built, list):
            self._decline(product, request, built, None, report)
            return None
        priced = quote(self.policy, built)
        if isinstance(priced, Decline):
            self._decline(product, request, list(priced.reasons), priced, report)
            return None
        return priced

    def _read(self, obligor: str, seller: str, *, pool: bool = False) -> Read:
        """What the request is priced from, all as of one indexed block: the exposure first (its block), then the
        guarantee pool (``pool``: pre-shipment finance), the credit and the limits, then the index's block again;
        read again while the index moves (``InputsMoved`` after ``READS`` tries, and the request waits for a later
        pass)."""
        for _ in range(READS):
            exposure = self.api.exposure(obligor, seller)
            block = _block(exposure.get("indexedBlock"))
            pooled = self.api.pool(seller) if pool else None
            obligor_decision = self.api.decision(obligor)
            obligor_record = self.api.obligor(obligor) if is_core(obligor_decision) else None
            seller_decision = self.api.decision(seller)
            if self._limits is None or self._limits[0] != block:
                self._limits = (block, self.api.limits())
            limits = self._limits[1]
            if block is None or self.api.indexed_block() == block:
                now = int(exposure["now"])
                return Read(exposure, now, block, obligor_decision, obligor_record, seller_decision, limits, pooled)
        raise InputsMoved(READS)

    def _decline(
        self,
        product: Product,
        request: dict[str, Any],
        reasons: list[Reason],
        priced: Decline | None,
        report: PassReport,
        *,
        count: str = "declined",
        **more: Any,
    ) -> None:
        """Journal the decline, then tell the asker through the API (``_tell``)."""
        record = {
            "reasons": [r.to_json() for r in reasons],
            "pricing": None if priced is None else priced.to_json(),
            "policy": self.policy.hash,
            **more,
        }
        declined = self._outcome(product, DECLINED, request, record, report, count=count)
        words = "; ".join(r.text for r in reasons)
        self.log(f"declined request {request['id']} ({product.subject} {product.subject_of(request)}): {words}")
        self._tell(declined)

    def _tell(self, declined: dict[str, Any]) -> None:
        """Post a journaled decline to the API, where the asker reads it; a ``told`` line records that it is done."""
        request_id = str(declined["request"])
        product = product_of(declined)
        try:
            product.decline(self.api, request_id, declined["reasons"])
            told = "recorded by the API"
        except ApiRefused as exc:
            if exc.status not in (404, 409):
                raise
            # Not shown to this bank any more (withdrawn, gone, or an API without declines) or no longer open to it
            # (accepted, expired): there is no one to tell.
            told = f"not recorded: {exc.status} {exc.code}: {exc.detail}"
        self.journal.append(
            {"kind": TOLD, "request": request_id, "round": declined.get("round"),
             product.subject: declined.get(product.subject), **product.stamp, "told": told}
        )  # fmt: skip

    def _close(self, product: Product, request: dict[str, Any], outcome: dict[str, Any], report: PassReport) -> None:
        """An ask this bank answered reads open to it again: its offer lapsed unaccepted (or was never posted in
        time). Close it with a decline that says so; asking again is a new ask, priced afresh (the module's
        docstring)."""
        if outcome["kind"] == OFFERED:
            priced = product.words(outcome, functools.partial(_money, self.policy))
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
        self._decline(product, request, [reason], None, report, count="lapsed", lapsedOffer=outcome.get("offer"))

    def _offer(
        self,
        product: Product,
        request: dict[str, Any],
        value: int,
        priced: Quote,
        read: Read,
        until: int,
        started: float,
        report: PassReport,
        lapsed: list[dict[str, Any]],
    ) -> None:
        """Sign and post the offer of ``value`` (the price, or the fee) on the ask, its deadline ``offer_ttl`` after
        ``now`` and never past ``until`` (the piece's maturity, the order's ship-by)."""
        request_id, round_, subject = str(request["id"]), round_of(request), product.subject_of(request)
        deadline = min(read.now + self.settings.offer_ttl, until)
        nonce = offer_nonce(self.bank, request_id, round_)
        terms = {product.terms: str(value), "deadline": str(deadline), "nonce": str(nonce)}
        served = product.typed_data(self.api, request_id, subject, terms)
        document = self._checked(product, served, product.message(request, self.bank, value, deadline, nonce))
        signature = "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=document).signature).hex()
        pricing = {"policyHash": self.policy.hash, "modelVersion": priced.model, "quote": priced.to_json()}
        if lapsed:
            # Why a second price: the asker asked again after this bank's offers lapsed.
            before = ", ".join(str(o["offer"]) for o in lapsed)
            self.log(f"re-quoting request {request_id}: asked again after offer(s) {before} lapsed")
        intent = self.journal.append(
            {
                "kind": INTENT,
                "request": request_id,
                "round": round_,
                product.subject: str(subject),
                **product.stamp,
                **product.details(request),
                "holder": request.get(product.asker),
                "requestedAt": request.get("createdAt"),
                "pricedAt": read.now,
                "asOfBlock": read.block,
                "idempotencyKey": idempotency_key(request_id, round_),
                "body": {**terms, "signature": signature, "pricing": pricing},
                **({"requote": {"after": lapsed}} if lapsed else {}),
            }
        )
        self._post(intent, report, started)

    def _checked(self, product: Product, served: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
        """The served typed data, if it is exactly the offer asked for (``expected``, its message) on this chain's
        contract of the product; else refused."""
        document = served.get("typedData")
        if not isinstance(document, dict) or document.get("primaryType") != product.primary_type:
            raise TypedDataMismatch(f"not a {product.primary_type} document")
        message, domain = document.get("message") or {}, document.get("domain") or {}
        for name, value in expected.items():
            got = message.get(name)
            same = got == value if isinstance(value, str) else str(got) == str(value)
            if not same:
                raise TypedDataMismatch(f"message.{name} is {got!r}, not {value!r}")
        if domain.get("chainId") != self.chain_id:
            raise TypedDataMismatch(f"domain.chainId is {domain.get('chainId')!r}, not {self.chain_id}")
        contract, ours = str(domain.get("verifyingContract", "")), self.contracts.get(product.contract)
        if ours is None or contract.lower() != ours.lower():
            raise TypedDataMismatch(f"domain.verifyingContract is {contract}, not {product.contract} {ours}")
        digest = "0x" + eip712.digest(document).hex()
        if served.get("digest") != digest:
            raise TypedDataMismatch(f"the stated digest {served.get('digest')} is not the document's {digest}")
        return document

    def _post(self, intent: dict[str, Any], report: PassReport, started: float) -> None:
        """Post the intent's signed offer; journal the outcome (a used nonce means an earlier post landed)."""
        product = product_of(intent)
        request_id, subject, body = str(intent["request"]), product.subject_of(intent), intent["body"]
        try:
            posted = product.post(self.api, request_id, subject, body, str(intent["idempotencyKey"]))
        except ApiRefused as exc:
            if exc.status == 422 and exc.field == "nonce":
                self._resolve(intent, report, f"the API refused nonce {body['nonce']} as used: {exc.detail}")
                return
            if exc.status == 404:
                self._lapse(intent, report, f"the {product.subject} is no longer shown to this bank (withdrawn)")
                return
            raise
        seconds = round(self.clock() - started, 3)
        # How long the request waited for its price, by the API's clock (chain-aware: the one that stamped it).
        asked, priced = intent.get("requestedAt"), intent.get("pricedAt")
        waited = None if asked is None or priced is None else int(priced) - int(asked)
        quoted = body["pricing"]["quote"]
        record = self._offered(intent, posted.get("id"), asOfBlock=intent.get("asOfBlock"))
        record.update(
            seconds=seconds, waited=waited, **({"requote": intent["requote"]} if intent.get("requote") else {})
        )
        self._outcome(product, OFFERED, intent, record, report)
        report.latencies.append(seconds)
        terms = product.words(record, functools.partial(_money, self.policy))
        self.log(
            f"offered{terms} on {product.subject} {subject} (request {request_id}): discount "
            f"{quoted['discount_bps'] / 100:.2f}%, rate {quoted['rate_bps'] / 100:.2f}% a year, "
            f"inputs as of block {intent.get('asOfBlock')}; offer {posted.get('id')} in {seconds:.2f} s"
        )

    @staticmethod
    def _offered(intent: dict[str, Any], offer: Any, **more: Any) -> dict[str, Any]:
        """An offered outcome's record: the offer's id and the intent's signed terms (and ``amount``, if any)."""
        body = intent["body"]
        terms = {name: body[name] for name in ("price", "fee", "deadline", "nonce") if name in body}
        amount = {"amount": intent["amount"]} if "amount" in intent else {}
        return {"offer": offer, **amount, **terms, "pricing": body["pricing"], **more}

    # -- after a crash --------------------------------------------------------------------------

    def _recover(self, report: PassReport) -> None:
        """Settle every intent without an outcome (found among this bank's offers, posted again, or lapsed), and
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

    def _offers_of(self, intent: dict[str, Any]) -> list[dict[str, Any]] | None:
        product = product_of(intent)
        return product.offers(self.api, str(intent["request"]), product.subject_of(intent))

    def _settle(self, intent: dict[str, Any], report: PassReport) -> None:
        request_id = str(intent["request"])
        if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
            return
        offers = self._offers_of(intent)
        if offers is None:
            self._lapse(intent, report, "the request is no longer shown to this bank (it was withdrawn)")
            return
        if self._resolved_by(intent, offers, report, "found among this bank's offers after a restart"):
            return
        now = int(self.api.found("/v1/banks/me/exposure")["now"])
        if int(intent["body"]["deadline"]) <= now:
            self._lapse(intent, report, "its deadline passed before the desk could post it")
            return
        self.log(f"posting the offer for request {request_id} again (the desk stopped before its answer)")
        self._post(intent, report, self.clock())

    def _resolve(self, intent: dict[str, Any], report: PassReport, how: str) -> None:
        offers = self._offers_of(intent) or []
        if not self._resolved_by(intent, offers, report, how):
            # Used, but not by an offer this bank sees: never post another for this ask.
            self._lapse(intent, report, how)

    def _resolved_by(self, intent: dict[str, Any], offers: list[dict[str, Any]], report: PassReport, how: str) -> bool:
        nonce = str(intent["body"]["nonce"])
        mine = next((o for o in offers if o.get("bank") == self.bank and str(o.get("nonce")) == nonce), None)
        if mine is None:
            return False
        record = self._offered(intent, mine.get("id"), asOfBlock=intent.get("asOfBlock"), recovered=how)
        self._outcome(product_of(intent), OFFERED, intent, record, report, count="recovered")
        self.log(f"request {intent['request']}: offer {mine.get('id')} was posted before ({how})")
        return True

    def _lapse(self, intent: dict[str, Any], report: PassReport, why: str) -> None:
        record = {"reasons": [{"code": "OFFER_LAPSED", "text": why}]}
        self._outcome(product_of(intent), LAPSED, intent, record, report, count="recovered")
        self.log(f"request {intent['request']}: no offer ({why})")

    def _outcome(
        self,
        product: Product,
        kind: str,
        source: dict[str, Any],
        record: dict[str, Any],
        report: PassReport,
        *,
        count: str = "",
    ) -> dict[str, Any]:
        """Journal an outcome for the ask ``source`` names (an inbox item or an intent), counted in ``report`` as
        ``count`` (by default: offered or declined, by its kind)."""
        request_id = str(source.get("request", source.get("id")))
        round_ = source.get("round") if "round" in source else round_of(source) if "createdAt" in source else None
        line = self.journal.append(
            {"kind": kind, "request": request_id, "round": round_, product.subject: str(product.subject_of(source)),
             **product.stamp, "holder": source.get("holder", source.get(product.asker)), **record}
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
