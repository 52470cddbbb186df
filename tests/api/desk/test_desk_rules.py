"""The desk's rules without a server: its journal, its reading of the API's answers, and its loop over a fake inbox.

``FakeApi`` stands for the ``/v1`` API as ``api.desk.client.BankApi`` presents it: an inbox, the
pieces and their receivables, decisions, limits, the bank's exposure and the index's block, typed
data to sign, an offers table that refuses a nonce used before (422 naming ``nonce``) and replays
a POST under the same Idempotency-Key, as the API does, and the declines a bank posts. The
end-to-end suites (``test_desk.py``, ``tests/e2e/test_bank_desk_story.py``) run the same desk
against ``scf serve`` over a played world.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from api.desk.desk import READS, Desk, DeskSettings, offer_nonce
from api.desk.errors import ApiRefused, ApiUnavailable, JournalError
from api.desk.inputs import published_limit, quote_request, unsellable
from api.desk.journal import Journal
from api.v1.routes.common import wallet_typed_data
from ledger.domain.receivables import OFFER_FIELDS, FinanceOffer
from ledger.domain.typed_data import Domain, full_message
from ledger.eth import eip712
from scoring.policy import Policy
from scoring.pricing import audit, recompute

BANK = Account.from_key("0x" + "11" * 32)
CORE = "0x" + "c0" * 20
SELLER = "0x" + "5e" * 20
SUPPLIER_DEBTOR = "0x" + "d2" * 20  # a tier-1 supplier that issued the receivable to its own supplier
RECEIVABLES = "0x" + "ab" * 20
MODEL = "0x" + "4d" * 32
CHAIN_ID = 31337
NOW = 1_900_000_000
DAY = 86_400
UNIT = 10**6


def _request(n: int, *, piece: int | None = None, holder: str = SELLER) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "pieceId": str(piece or 100 + n),
        "holder": holder,
        "bank": BANK.address,
        "state": "open",
        "createdAt": NOW - 60,
        "expiresAt": NOW + 7 * DAY,
        "withdrawnAt": None,
        "offers": 0,
    }


class FakeApi:
    """The API as the desk's client shows it, in memory."""

    def __init__(
        self,
        requests: list[dict[str, Any]],
        *,
        face: int = 10_000 * UNIT,
        limit: int = 1_000_000 * UNIT,
        debtor: str = CORE,
    ):
        self.requests = requests
        self.face = face
        self.limit = limit  # the limit the bank published for every party
        self.debtor = debtor
        self.posted: list[dict[str, Any]] = []  # every offer stored, in order
        self.replays: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the stored answer
        self.posts = 0  # POSTs of offers received, replayed or not
        self.fail: list[Exception] = []  # raised, one per call, by the next calls that read the inbox
        self.tamper = False  # serve typed data for another price
        self.block = 500  # the index's block; ``moves`` more blocks are indexed, one per read of it
        self.moves = 0
        self.declined: list[tuple[str, list[dict[str, str]]]] = []  # (request id, reasons) the API recorded
        self.refuse_declines: list[Exception] = []  # raised, one per call, by the next declines posted

    # what Desk.start and the client's plumbing use
    def health(self) -> dict[str, Any]:
        return {"chainId": CHAIN_ID, "contracts": {"Receivables": RECEIVABLES}}

    def sign_in(self) -> None:
        pass

    def close(self) -> None:
        pass

    def inbox(self) -> list[dict[str, Any]]:
        if self.fail:
            raise self.fail.pop(0)
        return [r for r in self.requests if r["state"] == "open"]

    def prepayment_inbox(self) -> list[dict[str, Any]]:
        return []  # pre-shipment finance: tests/api/desk/test_desk_preshipment.py

    def piece(self, piece_id: int) -> dict[str, Any] | None:
        holder = next((r["holder"] for r in self.requests if int(r["pieceId"]) == piece_id), None)
        if holder is None:
            return None
        return {"pieceId": str(piece_id), "rootId": "1", "amount": str(self.face), "claimed": "0", "childCount": 0,
                "financed": False, "holder": holder}  # fmt: skip

    def receivable(self, root_id: Any) -> dict[str, Any]:
        return {"rootId": "1", "debtor": self.debtor, "maturity": str(NOW + 60 * DAY), "status": "OUTSTANDING"}

    def exposure(self, obligor: str | None = None, seller: str | None = None) -> dict[str, Any]:
        offered = sum(int(o["price"]) for o in self.posted)
        part = {"financed": "0", "offered": str(offered), "outstanding": str(offered)}
        return {"now": NOW, "indexedBlock": self.block, "obligor": part, "seller": part, "total": part}

    def indexed_block(self) -> int:
        if self.moves:
            self.moves -= 1
            self.block += 1
        return self.block

    def decline(self, request_id: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
        if self.refuse_declines:
            raise self.refuse_declines.pop(0)
        self.declined.append((request_id, reasons))
        request = next(r for r in self.requests if r["id"] == request_id)
        request["state"] = "declined"
        return request

    def found(self, path: str, params: Any = None) -> dict[str, Any]:
        assert path == "/v1/banks/me/exposure"
        return self.exposure()

    def decision(self, party: str) -> dict[str, Any]:
        if party == CORE:
            return {"status": "NOT_SCORED", "pdBps": None, "grade": None, "model": MODEL}
        return {"status": "SCORED", "pdBps": 180, "grade": "BBB", "model": MODEL}

    def obligor(self, party: str) -> dict[str, Any]:
        return {"party": party, "core": True, "paydex12m": 80, "defaults12m": 0, "receivablesOutstanding": "0"}

    def limits(self) -> list[dict[str, Any]]:
        row = {"bank": BANK.address, "limit": str(self.limit), "revoked": False, "validUntil": str(NOW + 30 * DAY)}
        return [{**row, "party": party} for party in {self.debtor, *(r["holder"] for r in self.requests)}]

    def offer_typed_data(self, piece_id: int, terms: dict[str, Any]) -> dict[str, Any]:
        price = int(terms["price"]) + (1 if self.tamper else 0)
        offer = FinanceOffer(piece_id, BANK.address, price, int(terms["deadline"]), int(terms["nonce"]))
        document = full_message(
            Domain("Receivables", "1", CHAIN_ID, RECEIVABLES), "FinanceOffer", OFFER_FIELDS, offer.message()
        )
        return {"typedData": wallet_typed_data(document), "digest": "0x" + eip712.digest(document).hex()}

    def post_offer(self, piece_id: int, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        self.posts += 1
        if idempotency_key in self.replays:
            return self.replays[idempotency_key]
        if any(o["nonce"] == body["nonce"] for o in self.posted):
            raise ApiRefused("POST", "/offers", 422, "invalid_field", "already used", "nonce")
        holder = next(r["holder"] for r in self.requests if int(r["pieceId"]) == piece_id)
        stored = {"id": f"offer-{len(self.posted)}", "pieceId": str(piece_id), "bank": BANK.address, "holder": holder,
                  **body}  # fmt: skip
        self.posted.append(stored)
        self.replays[idempotency_key] = stored
        for request in self.requests:
            if int(request["pieceId"]) == piece_id:
                request["state"], request["offers"] = "offered", request["offers"] + 1
        return stored

    def offers(self, piece_id: int) -> list[dict[str, Any]]:
        return [o for o in self.posted if int(o["pieceId"]) == piece_id]


def _desk(api: FakeApi, journal: Path, **settings: Any) -> Desk:
    stop = threading.Event()
    desk = Desk(api, Policy.load(), BANK, Journal(journal), settings=DeskSettings(**settings), log=lambda _: None,
                stop=stop)  # type: ignore[arg-type]  # fmt: skip
    return desk


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- the journal --------------------------------------------------------------------------------


def test_the_journal_cuts_a_torn_last_line_and_appends_after_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.append({"kind": "declined", "request": "a", "reasons": []})
    path.write_bytes(path.read_bytes() + b'{"kind": "offered", "requ')  # killed mid-write
    with Journal(path) as journal:
        assert journal.repaired == len(b'{"kind": "offered", "requ')
        assert journal.handled("a") and not journal.handled("b")
        journal.append({"kind": "declined", "request": "b", "reasons": []})
    assert [r["request"] for r in _lines(path)] == ["a", "b"]


def test_the_journal_refuses_a_whole_line_that_is_not_a_record(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"kind": "declined", "request": "a"}\nnot json\n{"kind": "declined", "request": "b"}\n')
    with pytest.raises(JournalError, match="line 2 is not a JSON object"):
        Journal(path)


def test_one_journal_serves_one_desk_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path), pytest.raises(JournalError, match="another desk is running"):
        Journal(path)
    Journal(path).close()  # free again once the first is closed


def test_an_intent_without_an_outcome_is_pending_until_its_outcome_is_written(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.jsonl") as journal:
        journal.append({"kind": "intent", "request": "a", "body": {}})
        assert [i["request"] for i in journal.pending()] == ["a"] and not journal.handled("a")
        journal.append({"kind": "offered", "request": "a"})
        assert list(journal.pending()) == [] and journal.handled("a")


# -- reading the API's answers --------------------------------------------------------------------


def test_a_piece_that_moved_was_split_or_financed_is_declined_before_any_credit_is_read() -> None:
    request = _request(1)
    api = FakeApi([request])
    piece, root = api.piece(101), api.receivable(1)
    assert unsellable(request, piece, root) == []
    moved = {**piece, "holder": CORE, "financed": True, "childCount": 2}
    assert [r.code for r in unsellable(request, moved, root)] == ["PIECE_MOVED", "PIECE_FINANCED", "PIECE_SPLIT"]
    assert [r.code for r in unsellable(request, None, None)] == ["PIECE_NOT_SHOWN"]
    assert [r.code for r in unsellable(request, piece, {**root, "status": "REPAID"})] == ["RECEIVABLE_CLOSED"]


def test_only_an_unrevoked_unexpired_limit_this_bank_published_for_the_seller_counts() -> None:
    row = {"bank": BANK.address, "party": SELLER, "limit": "5", "revoked": False, "validUntil": str(NOW + 1)}
    assert published_limit([row], BANK.address, SELLER, NOW) == 5
    assert published_limit([{**row, "validUntil": str(NOW)}], BANK.address, SELLER, NOW) is None
    assert published_limit([{**row, "revoked": True}], BANK.address, SELLER, NOW) is None
    assert published_limit([{**row, "bank": CORE}], BANK.address, SELLER, NOW) is None


def test_a_core_obligor_is_priced_from_its_record_and_a_supplier_obligor_from_its_pd() -> None:
    api = FakeApi([_request(1)])
    common = {"piece": api.piece(101), "root": api.receivable(1), "now": NOW, "seller_limit": 7,
              "exposure": api.exposure(), "seller_decision": api.decision(SELLER)}  # fmt: skip
    core = quote_request(obligor_decision=api.decision(CORE), obligor_record=api.obligor(CORE), **common)
    assert not isinstance(core, list)
    assert core.obligor_kind == "core" and core.obligor_record is not None and core.obligor_pd_bps is None
    assert core.seller_pd_bps == 180 and core.seller_grade == "BBB" and core.model_version == MODEL
    supplier = quote_request(obligor_decision={"status": "SCORED", "pdBps": 90, "model": MODEL}, obligor_record=None,
                             **common)  # fmt: skip
    assert not isinstance(supplier, list) and supplier.obligor_kind == "supplier" and supplier.obligor_pd_bps == 90
    thin = quote_request(obligor_decision={"status": "INSUFFICIENT_HISTORY", "pdBps": None, "model": MODEL},
                         obligor_record=None, **common)  # fmt: skip
    assert not isinstance(thin, list) and thin.obligor_pd_bps is None  # the pricer declines it in words


# -- the loop over a fake inbox -------------------------------------------------------------------


def test_each_request_is_priced_once_signed_by_the_bank_and_recorded_so_an_auditor_recomputes_it(
    tmp_path: Path,
) -> None:
    api = FakeApi([_request(1), _request(2)])
    desk = _desk(api, tmp_path / "j.jsonl")
    report = desk.run_once()
    assert (report.offered, report.declined) == (2, 0)
    policy = Policy.load()
    for offer, request in zip(api.posted, api.requests, strict=True):
        assert int(offer["nonce"]) == offer_nonce(BANK.address, request["id"], request["createdAt"])
        typed = api.offer_typed_data(int(offer["pieceId"]), offer)["typedData"]
        assert eip712.recover(typed, bytes.fromhex(offer["signature"][2:])) == BANK.address
        assert recompute(policy, offer["pricing"]["quote"]).price == int(offer["price"])
    # The second price counted the first as this bank's exposure (offered, not yet taken).
    second = api.posted[1]["pricing"]["quote"]["inputs"]["request"]
    assert int(second["seller_outstanding"]) == int(api.posted[0]["price"])
    desk.journal.close()

    api.requests[0]["state"] = "open"  # the offer lapsed: the request waits for this bank again
    again = _desk(api, tmp_path / "j.jsonl")
    report = again.run_once()
    assert (report.offered, report.lapsed) == (0, 1) and len(api.posted) == 2


def test_a_desk_killed_after_its_intent_posts_the_same_signed_offer_once_on_restart(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    desk = _desk(api, tmp_path / "j.jsonl")
    real_post = api.post_offer

    def killed(*args: Any) -> Any:
        raise KeyboardInterrupt  # the process dies after journaling the intent, before the API answers

    api.post_offer = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        desk.run_once()
    desk.journal.close()
    [intent] = _lines(tmp_path / "j.jsonl")
    assert intent["kind"] == "intent" and api.posted == []

    api.post_offer = real_post  # type: ignore[method-assign]
    restarted = _desk(api, tmp_path / "j.jsonl")
    restarted.run_once()
    assert len(api.posted) == 1 and api.posted[0]["signature"] == intent["body"]["signature"]
    # A desk that lost its journal, on an inbox that does not say it offered, prices the request again; its
    # offer has the same nonce, which the API refuses as used: the desk records the first offer, never a second.
    api.replays.clear()
    api.requests[0].update(state="open", offers=0)
    lost = _desk(api, tmp_path / "lost.jsonl")
    assert lost.run_once().recovered == 1
    assert len(api.posted) == 1
    outcome = _lines(tmp_path / "lost.jsonl")[-1]
    assert outcome["offer"] == api.posted[0]["id"] and "refused nonce" in outcome["recovered"]


def test_typed_data_other_than_the_offer_asked_for_is_never_signed(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    api.tamper = True
    desk = _desk(api, tmp_path / "j.jsonl")
    report = desk.run_once()
    assert report.deferred == 1 and api.posts == 0
    assert not (tmp_path / "j.jsonl").read_text()  # nothing signed, nothing journaled


def test_following_waits_out_an_api_that_fails_and_stops_when_told(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    api.fail = [ApiUnavailable("http://api", "503 service_unavailable"), ApiUnavailable("http://api", "refused")]
    logs: list[str] = []
    desk = Desk(api, Policy.load(), BANK, Journal(tmp_path / "j.jsonl"), settings=DeskSettings(interval=0.01),
                log=logs.append)  # type: ignore[arg-type]  # fmt: skip
    desk.settings = DeskSettings(interval=0.01, max_backoff=0.01)
    seen = threading.Event()

    def log(message: str) -> None:
        logs.append(message)
        if message.startswith("pass:"):
            seen.set()
            desk.stop.set()

    desk.log = log
    runner = threading.Thread(target=desk.follow)
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive() and seen.is_set()
    assert sum("unavailable" in line and "trying again" in line for line in logs) == 2
    assert len(api.posted) == 1 and logs[-1].startswith("stopped: offered 1")


def test_a_declined_request_is_journaled_with_its_reasons_in_words(tmp_path: Path) -> None:
    api = FakeApi([_request(1)], face=2_000_000 * UNIT)  # beyond the policy's 1,000,000 dUSD cap per seller
    desk = _desk(api, tmp_path / "j.jsonl")
    assert desk.run_once().declined == 1 and api.posted == []
    [declined, told] = _lines(tmp_path / "j.jsonl")
    assert declined["kind"] == "declined" and [r["code"] for r in declined["reasons"]] == ["SELLER_CONCENTRATION"]
    assert "1,000,000 dUSD cap per seller" in declined["reasons"][0]["text"]
    assert told["kind"] == "told" and api.declined == [(api.requests[0]["id"], declined["reasons"])]


def test_a_supplier_obligor_is_priced_from_its_pd_and_its_paper_needs_no_limit_of_the_seller(tmp_path: Path) -> None:
    """Credit to the obligor is priced from its PD; the seller's limit caps only where the bank bears its risk."""
    api = FakeApi([_request(1)], debtor=SUPPLIER_DEBTOR, limit=1_000 * UNIT)
    assert _desk(api, tmp_path / "j.jsonl").run_once().offered == 1
    request = api.posted[0]["pricing"]["quote"]["inputs"]["request"]
    assert request["obligor_kind"] == "supplier" and request["obligor_pd_bps"] == 180
    assert request["seller_limit"] == str(1_000 * UNIT) and int(api.posted[0]["price"]) > 1_000 * UNIT


def test_every_input_is_read_as_of_one_indexed_block_recorded_with_the_quote(tmp_path: Path) -> None:
    api = FakeApi([_request(1), _request(2)])
    api.moves = 1  # a block is indexed while the desk reads the first request's inputs: it reads them again
    desk = _desk(api, tmp_path / "j.jsonl")
    assert desk.run_once().offered == 2
    policy = Policy.load()
    for offer in api.posted:
        quote = offer["pricing"]["quote"]
        assert quote["inputs"]["request"]["as_of_block"] == 501 and audit(policy, quote) == []
        # A record from before desks recorded the block (none) still recomputes to itself.
        del quote["inputs"]["request"]["as_of_block"]
        assert audit(policy, quote) == [] and recompute(policy, quote).request.as_of_block is None
    intents = [r for r in _lines(tmp_path / "j.jsonl") if r["kind"] == "intent"]
    assert [r["asOfBlock"] for r in intents] == [501, 501]

    # An index that moves on every read leaves the request for a later pass, priced from nothing half-read.
    moving = FakeApi([_request(3)])
    moving.moves = READS
    report = _desk(moving, tmp_path / "moving.jsonl").run_once()
    assert (report.offered, report.deferred) == (0, 1) and moving.posted == []


def test_a_decline_is_posted_for_the_holder_and_told_once_even_after_the_api_was_away(tmp_path: Path) -> None:
    api = FakeApi([_request(1)], face=2_000_000 * UNIT)
    api.refuse_declines = [ApiUnavailable("http://api", "503 service_unavailable")]
    desk = _desk(api, tmp_path / "j.jsonl")
    with pytest.raises(ApiUnavailable):
        desk.run_once()  # journaled, then the API went away before it recorded the decline
    assert api.declined == [] and [r["kind"] for r in _lines(tmp_path / "j.jsonl")] == ["declined"]
    report = desk.run_once()  # the next pass tells it, and prices nothing again
    assert (report.offered, report.declined) == (0, 0)
    [(request_id, reasons)] = api.declined
    assert request_id == api.requests[0]["id"] and [r["code"] for r in reasons] == ["SELLER_CONCENTRATION"]
    assert [r["kind"] for r in _lines(tmp_path / "j.jsonl")] == ["declined", "told"]
    desk.run_once()
    assert len(api.declined) == 1

    # A request the API no longer shows this bank (withdrawn) or no longer open to it: nobody to tell, said so.
    gone = FakeApi([_request(2)], face=2_000_000 * UNIT)
    gone.refuse_declines = [ApiRefused("POST", "/decline", 404, "not_found", "no financing request", None)]
    _desk(gone, tmp_path / "gone.jsonl").run_once()
    told = _lines(tmp_path / "gone.jsonl")[-1]
    assert told["kind"] == "told" and told["told"].startswith("not recorded: 404")


def test_a_lapsed_offer_is_closed_in_words_and_never_priced_again_for_the_same_ask(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    desk = _desk(api, tmp_path / "j.jsonl")
    assert desk.run_once().offered == 1
    [offer] = api.posted
    request = api.requests[0]
    request["state"] = "open"  # its deadline passed unaccepted: the request waits for this bank again
    report = desk.run_once()
    assert (report.offered, report.declined, report.lapsed) == (0, 0, 1) and len(api.posted) == 1
    [(_, reasons)] = api.declined
    assert [r["code"] for r in reasons] == ["OFFER_LAPSED"]
    words = reasons[0]["text"]
    assert offer["id"] in words and "lapsed unaccepted" in words and "ask again for a new price" in words
    closed = [r for r in _lines(tmp_path / "j.jsonl") if r["kind"] == "declined"]
    assert [(r["lapsedOffer"], r["round"]) for r in closed] == [(offer["id"], request["createdAt"])]
    # However often it reads open, the same ask gets neither a new price nor a second decline.
    request["state"] = "open"
    for _ in range(3):
        assert not desk.run_once().busy
    assert len(api.posted) == 1 and len(api.declined) == 1


def test_asking_again_after_a_lapse_gets_one_new_price_journaled_as_a_re_quote(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    desk = _desk(api, tmp_path / "j.jsonl")
    desk.run_once()
    request = api.requests[0]
    request["state"] = "open"
    desk.run_once()  # lapsed: closed with a decline
    # The holder asks again: the API reopens the request as a new ask (same id, a new createdAt).
    request.update(state="open", createdAt=request["createdAt"] + 2 * DAY)
    report = desk.run_once()
    assert report.offered == 1 and len(api.posted) == 2
    first, second = api.posted
    assert int(second["nonce"]) == offer_nonce(BANK.address, request["id"], request["createdAt"]) != int(first["nonce"])
    [intent] = [r for r in _lines(tmp_path / "j.jsonl") if r["kind"] == "intent" and r["round"] == request["createdAt"]]
    lapsed = {"offer": first["id"], "price": first["price"], "deadline": first["deadline"]}
    assert intent["requote"]["after"] == [lapsed]
    # Once: the new ask is decided too, and a desk that lost its journal finds its offer for it by the nonce.
    assert not desk.run_once().busy and len(api.posted) == 2
    desk.journal.close()
    request["state"] = "open"  # (and that offer lapsed too)
    lost = _desk(api, tmp_path / "lost.jsonl")
    assert lost.run_once().recovered == 1 and len(api.posted) == 2
    assert _lines(tmp_path / "lost.jsonl")[-1]["offer"] == second["id"]


def test_a_journal_from_before_asks_had_rounds_still_decides_its_requests(tmp_path: Path) -> None:
    api = FakeApi([_request(1)])
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"kind": "offered", "request": api.requests[0]["id"], "offer": "offer-old"}) + "\n")
    report = _desk(api, path).run_once()
    assert not report.busy and api.posted == [] and api.declined == []
