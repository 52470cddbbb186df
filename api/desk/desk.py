"""The desk's loop: follow the inbox, price each request once, sign and post offers, journal every decision.

One **pass** (``Desk.run_once``) first resolves the offers a crash may have left half done (intents
without an outcome in the journal), then walks the inbox (``GET /v1/financing-requests?state=open``)
and, for each request the journal has no outcome for:

1. reads the piece and its receivable (face, maturity, the root debtor = the obligor, the holder =
   the seller) and declines at once, in words, what cannot be bought (``api.desk.inputs``);
2. reads the credit it prices from: the obligor's decision (a core's record as a debtor), the
   seller's decision, the limit this bank published for the seller, and this bank's exposure on
   both, with the time to price at (``GET /v1/banks/me/exposure``'s ``now``: chain time);
3. prices with ``scoring.pricing.quote`` under the bank's policy; a ``Decline`` is journaled with
   its reasons and the pricer's whole record;
4. on a ``Quote``: asks the API for the EIP-712 offer to sign (price, deadline, nonce), checks that
   it is exactly that offer, for this bank, on this chain's Receivables contract, with the digest
   the API states, signs it locally with the bank's key, journals the **intent** (fsync'd), posts
   the offer with its ``pricing`` record (policy hash, model version, the quote) and journals the
   outcome with the offer's id and how long it took.

**Never twice.** The journal's outcome lines make a restart skip what was decided. An offer's
nonce is derived from the bank and the request's id (``offer_nonce``), and its Idempotency-Key
from the request's id, so whatever happened before a crash, posting the offer for a request again
is either replayed by the API (same key, same body: the first answer) or refused because the nonce
is used (the API refuses a nonce used in an offer or on chain): one request never gets two offers,
even from a desk that lost its journal. The intent line lets the next start post the *same* signed
body rather than re-price.

**Weather.** ``ApiUnavailable`` (no answer, 5xx, 429) ends the pass without journaling anything
for the request at hand; ``follow`` logs it and backs off (doubling up to ``max_backoff``, or
the API's ``Retry-After``), then tries again, for ever; so does a refusal of the sign-in or of
the inbox itself (a suspended bank, a wrong URL), which no request can fix. A refusal about one
request (a 4xx the desk did not expect) is logged, the request is retried on a later pass with
its own back-off, and the others go on. ``stop`` (an event the command line sets on SIGTERM or SIGINT)
is checked between requests and while waiting, so the desk stops after the request in hand,
with its journal whole.
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
from api.desk.errors import ApiRefused, ApiUnavailable, DeskError, SignInFailed, TypedDataMismatch
from api.desk.inputs import is_core, published_limit, quote_request, unsellable
from api.desk.journal import DECLINED, INTENT, LAPSED, OFFERED, Journal
from ledger.eth import eip712
from scoring.errors import QuoteRequestError
from scoring.policy import Policy
from scoring.pricing import Decline, Quote, Reason, quote

#: Back-off of one request the API refused unexpectedly: from this many seconds, doubling, up to the cap.
RETRY_FIRST, RETRY_CAP = 5.0, 600.0


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
    latencies: list[float] = field(default_factory=list)  # seconds from picking a request up to its offer posted

    def add(self, other: PassReport) -> None:
        self.offered += other.offered
        self.declined += other.declined
        self.recovered += other.recovered
        self.deferred += other.deferred
        self.latencies.extend(other.latencies)

    def summary(self) -> str:
        took = f", {max(self.latencies):.2f} s at most per offer" if self.latencies else ""
        return (
            f"offered {self.offered}, declined {self.declined}, recovered {self.recovered}, "
            f"deferred {self.deferred}{took}"
        )


def offer_nonce(bank: str, request_id: str) -> int:
    """The offer nonce for ``request_id``: 128 bits of keccak(bank, request), the same after any restart."""
    return int.from_bytes(keccak(text=f"scf-desk offer {bank.lower()} {request_id}")[:16], "big")


def idempotency_key(request_id: str) -> str:
    return f"scf-desk-offer-{request_id}"


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
        self._limits: list[dict[str, Any]] | None = None  # the limits this bank published, read once per pass

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
            request_id = str(request.get("id"))
            if self.journal.handled(request_id) or request_id in self.journal.intents:
                continue
            if self.clock() < self._later.get(request_id, (0.0, 0.0))[0]:
                continue
            try:
                self._handle(request, report)
            except (ApiRefused, TypedDataMismatch) as exc:
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
            if done.offered or done.declined or done.recovered or done.deferred:
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
        piece_id = int(request["pieceId"])
        if _count(request.get("offers")) > 0:
            # This bank offered under the request before, and the journal does not know (lost or moved): say
            # so, and never offer again. The inbox counts only this bank's own offers.
            mine = [o for o in self.api.offers(piece_id) or [] if o.get("bank") == self.bank]
            last = mine[-1] if mine else {}
            record = {"offer": last.get("id"), "nonce": last.get("nonce"), "recovered": "the inbox shows its offer"}
            self._outcome(OFFERED, request, record, report, recovered=True)
            return
        piece = self.api.piece(piece_id)
        root = self.api.receivable(piece["rootId"]) if piece is not None else None
        reasons = unsellable(request, piece, root)
        if reasons or piece is None or root is None:
            self._decline(request, reasons, None, report)
            return
        seller, obligor = str(request["holder"]), str(root["debtor"])
        exposure = self.api.exposure(obligor, seller)
        now = int(exposure["now"])
        obligor_decision = self.api.decision(obligor)
        obligor_record = self.api.obligor(obligor) if is_core(obligor_decision) else None
        seller_decision = self.api.decision(seller)
        if self._limits is None:
            self._limits = self.api.limits()
        limit = published_limit(self._limits, self.bank, seller, now)
        try:
            built = quote_request(
                piece=piece,
                root=root,
                now=now,
                obligor_decision=obligor_decision,
                obligor_record=obligor_record,
                seller_decision=seller_decision,
                seller_limit=limit,
                exposure=exposure,
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
        self._offer(request, priced, now, int(root["maturity"]), started, report)

    def _decline(
        self, request: dict[str, Any], reasons: list[Reason], priced: Decline | None, report: PassReport
    ) -> None:
        record = {
            "reasons": [r.to_json() for r in reasons],
            "pricing": None if priced is None else priced.to_json(),
            "policy": self.policy.hash,
        }
        self._outcome(DECLINED, request, record, report)
        words = "; ".join(r.text for r in reasons)
        self.log(f"declined request {request['id']} (piece {request['pieceId']}): {words}")

    def _offer(
        self, request: dict[str, Any], priced: Quote, now: int, maturity: int, started: float, report: PassReport
    ) -> None:
        request_id, piece_id = str(request["id"]), int(request["pieceId"])
        deadline = min(now + self.settings.offer_ttl, maturity)
        nonce = offer_nonce(self.bank, request_id)
        terms = {"price": str(priced.price), "deadline": str(deadline), "nonce": str(nonce)}
        served = self.api.offer_typed_data(piece_id, terms)
        document = self._checked(served, piece_id, priced.price, deadline, nonce)
        signature = "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=document).signature).hex()
        pricing = {"policyHash": self.policy.hash, "modelVersion": priced.model, "quote": priced.to_json()}
        intent = self.journal.append(
            {
                "kind": INTENT,
                "request": request_id,
                "piece": str(piece_id),
                "holder": request.get("holder"),
                "requestedAt": request.get("createdAt"),
                "pricedAt": now,
                "idempotencyKey": idempotency_key(request_id),
                "body": {**terms, "signature": signature, "pricing": pricing},
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
                "seconds": seconds,
                "waited": waited,
            },
            report,
        )
        report.latencies.append(seconds)
        self.log(
            f"offered {_money(self.policy, int(body['price']))} for piece {piece_id} (request {request_id}): "
            f"discount {quoted['discount_bps'] / 100:.2f}%, rate {quoted['rate_bps'] / 100:.2f}% a year; "
            f"offer {posted.get('id')} in {seconds:.2f} s"
        )

    # -- after a crash --------------------------------------------------------------------------

    def _recover(self, report: PassReport) -> None:
        """Settle every intent without an outcome: found among the piece's offers, posted again, or lapsed."""
        for intent in self.journal.pending():
            if self.stop.is_set():
                return
            try:
                self._settle(intent, report)
            except (ApiRefused, TypedDataMismatch) as exc:
                self._defer(str(intent["request"]), exc, report)

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
            # Used, but not by an offer this bank sees: never post another for this request.
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
            "recovered": how,
        }
        self._outcome(OFFERED, intent, record, report, recovered=True)
        self.log(f"request {intent['request']}: offer {mine.get('id')} was posted before ({how})")
        return True

    def _lapse(self, intent: dict[str, Any], report: PassReport, why: str) -> None:
        self._outcome(LAPSED, intent, {"reasons": [{"code": "OFFER_LAPSED", "text": why}]}, report, recovered=True)
        self.log(f"request {intent['request']}: no offer ({why})")

    def _outcome(
        self, kind: str, source: dict[str, Any], record: dict[str, Any], report: PassReport, *, recovered: bool = False
    ) -> None:
        request_id = str(source.get("request", source.get("id")))
        piece = str(source.get("piece", source.get("pieceId")))
        self.journal.append(
            {"kind": kind, "request": request_id, "piece": piece, "holder": source.get("holder"), **record}
        )
        self._later.pop(request_id, None)
        if recovered:
            report.recovered += 1
        elif kind == OFFERED:
            report.offered += 1
        elif kind == DECLINED:
            report.declined += 1


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
