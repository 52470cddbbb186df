"""A bank's desk end to end over HTTP, as issue 16 tells it: priced, financed, declined in words, audited.

One world for the module (``tests.support.desk_world``): ``scf serve --index`` over the played small
world on its own anvil, the dev bank's limits published, a tier-3 supplier that never sold to a core
holding a piece of a core's receivable, and a supplier the dev bank has barred (a limit of 0). The
dev bank's desk follows its inbox for the whole module: the loop ``scf bank desk`` runs
(``api.desk.run.run_desk`` without ``--once``, in a thread, a pass every 0.2 s), a client of the API
over HTTP like any bank's program, under a story policy: the dev bank's, with a cap per seller that
the tier-3 supplier's first and third pieces fit under together and its second does not. Every
party speaks HTTP with its own key. The tests run in order, as the story does:

1. the tier-3 supplier splits its piece in three (A, B, C) and asks for A: the desk prices it within
   the limit the bank published for the supplier, the supplier accepts over HTTP, and the index shows
   the piece financed by the bank and the request accepted;
2. it asks for B: beyond the cap per seller, declined, the reasons in words in its own inbox;
3. the barred supplier asks: beyond the limit the bank published for it (0), declined in words;
4. it asks for C: offered; the offer lapses unaccepted: the desk closes the ask in words and never
   prices it again, pass after pass; the supplier asks again and gets one new price, no more;
5. the auditor's ``scf audit replay --offers`` over the API's store agrees (exit 0), every offer
   recomputed as of the block its quote records; with the policy file doctored (one spread changed)
   it names every offer with its location (exit 1).

Prices stay monotone in grade by construction (``scoring.pricing``), which the property tests of
``tests/scoring/test_pricing.py`` check for every obligor, seller, product and tenor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from api.cli import audit as audit_cli
from api.desk.desk import PassReport, offer_nonce
from api.desk.run import run_desk
from ledger.eth.artifacts import BuildResult
from scoring.policy import Policy
from tests.support.desk_world import WAIT, DeskWorld, Party, rpc, served_desk_world, wait_indexed

#: Offers live this long (chain seconds): the lapse is one block's time step away.
OFFER_TTL = 900
#: Passes the desk makes after an event before a test says it did nothing more.
QUIET_PASSES = 3


@dataclass
class Story:
    """The world, the following desk (its journal, its passes counted by the inbox reads), and what each step made."""

    world: DeskWorld
    policy: Path
    journal: Path
    thread: threading.Thread
    stop: threading.Event
    inbox_reads: list[int]
    failures: list[BaseException]
    pieces: dict[str, int]  # A, B, C: the tier-3 supplier's pieces
    limit: int  # the limit the dev bank published for the tier-3 supplier
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def tier3(self) -> Party:
        return Party(self.world, self.world.keys[self.world.tier3])

    def until(self, what: str, check: Callable[[], Any]) -> Any:
        """``check()``'s first true answer, while the desk is alive (it runs on its own: no timing asserted)."""
        deadline = threading.Event()
        timer = threading.Timer(WAIT, deadline.set)
        timer.start()
        try:
            while True:
                assert self.thread.is_alive() and not self.failures, (self.failures, self.world.logs[-5:])
                found = check()
                if found:
                    return found
                assert not deadline.is_set(), f"{what}: not within {WAIT} s; desk log: {self.world.logs[-5:]}"
                self.stop.wait(0.1)
        finally:
            timer.cancel()

    def quiet(self) -> None:
        """Until the desk has made ``QUIET_PASSES`` more passes over its inbox."""
        start = self.inbox_reads[0]
        self.until("the desk's passes", lambda: self.inbox_reads[0] >= start + QUIET_PASSES)

    def request_of(self, party: Party, piece_id: int) -> dict[str, Any]:
        [item] = party.get("/v1/financing-requests", pieceId=piece_id)["items"]
        return dict(item)

    def reads(self, party: Party, piece_id: int, state: str) -> dict[str, Any]:
        """The party's request on the piece once it reads ``state``, as it reads then."""
        return self.until(
            f"piece {piece_id}'s request {state}",
            lambda: (item := self.request_of(party, piece_id))["state"] == state and item,
        )

    def journal_lines(self) -> list[dict[str, Any]]:
        """The journal's whole lines: the desk may be writing the next one as the test reads."""
        text = self.journal.read_text()
        return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


@pytest.fixture(scope="module")
def story(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("bank-desk-story")
    with served_desk_world(build, root, slices=1) as world:
        tier3 = Party(world, world.keys[world.tier3])
        face = int(tier3.get(f"/v1/receivables/pieces/{world.piece_id}")["amount"])
        [limit] = [int(r["limit"]) for r in tier3.get("/v1/credit/limits") if r["bank"] == world.bank.address]
        # A and C fit under the cap per seller together, B with A does not, and A is well within the supplier's limit.
        unit = min(face, limit)
        amounts = {"A": unit * 2 // 5, "C": unit // 5}
        amounts["B"] = face - amounts["A"] - amounts["C"]
        children = [
            {"amount": str(amounts[name]), "holder": world.tier3, "ref": "0x" + keccak(text=f"story {name}").hex()}
            for name in "ABC"
        ]
        split = tier3.act(f"/v1/receivables/pieces/{world.piece_id}/split", {"children": children})
        pieces = dict(zip("ABC", split["created"]["pieceIds"], strict=True))
        policy = world.policy_file(
            "story-bank",
            concentration={"max_per_obligor": str(10**20), "max_per_seller": str(amounts["A"] + amounts["C"])},
        )

        inbox_reads = [0]

        def count(request: httpx.Request) -> None:
            if request.method == "GET" and request.url.path == "/v1/financing-requests":
                inbox_reads[0] += 1

        client = httpx.Client(base_url=world.base, timeout=15, event_hooks={"request": [count]})
        journal = root / "story-journal.jsonl"
        options = world.options(journal, policy, once=False, interval=0.2, offer_ttl=OFFER_TTL)
        stop, failures, reports = threading.Event(), [], []

        def follow() -> None:
            try:
                reports.append(run_desk(options, http=client, log=world.logs.append, stop=stop))
            except BaseException as exc:  # the test sees it in ``until``
                failures.append(exc)

        thread = threading.Thread(target=follow, name="bank-desk", daemon=True)
        thread.start()
        try:
            yield Story(world, policy, journal, thread, stop, inbox_reads, failures, pieces, limit)
        finally:
            stop.set()
            thread.join(timeout=WAIT)
            client.close()
        assert not thread.is_alive() and not failures, failures
        assert isinstance(reports[0], PassReport)


def test_a_tier3_suppliers_piece_is_priced_within_its_limit_accepted_over_http_and_indexed_as_financed(
    story: Story,
) -> None:
    tier3, world = story.tier3, story.world
    piece = story.pieces["A"]
    request = tier3.ask(piece, world.bank.address)
    [offer] = story.until("the desk's offer on A", lambda: tier3.get(f"/v1/receivables/pieces/{piece}/offers"))
    story.offers["A"] = offer
    quoted = offer["pricing"]["quote"]["inputs"]["request"]
    # Priced by the bank's desk under its policy, from the limit it published for the supplier, within it.
    assert offer["bank"] == world.bank.address and offer["pricing"]["policyHash"] == Policy.load(story.policy).hash
    assert int(offer["nonce"]) == offer_nonce(world.bank.address, request["id"], request["createdAt"])
    assert int(quoted["seller_limit"]) == story.limit and 0 < int(offer["price"]) <= story.limit
    assert int(offer["price"]) < int(quoted["face"]) == int(tier3.get(f"/v1/receivables/pieces/{piece}")["amount"])
    assert offer["pricing"]["asOfBlock"] == quoted["as_of_block"] > 0
    assert story.request_of(tier3, piece)["state"] == "offered"

    tier3.act(f"/v1/receivables/offers/{offer['id']}/accept")
    sold = tier3.get(f"/v1/receivables/pieces/{piece}")
    assert (sold["holder"], sold["financed"]) == (world.bank.address, True)
    assert story.request_of(tier3, piece)["state"] == "accepted"
    bank = Party(world, world.bank)
    exposure = bank.get("/v1/banks/me/exposure", seller=world.tier3)
    assert exposure["seller"]["financed"] == offer["price"] and exposure["seller"]["offered"] == "0"


def test_a_request_beyond_the_cap_per_seller_is_declined_with_reasons_the_supplier_reads(story: Story) -> None:
    tier3, world = story.tier3, story.world
    piece = story.pieces["B"]
    tier3.ask(piece, world.bank.address)
    item = story.reads(tier3, piece, "declined")
    [declined] = item["declines"]
    assert declined["bank"] == world.bank.address
    codes = [r["code"] for r in declined["reasons"]]
    assert "SELLER_CONCENTRATION" in codes, declined
    [words] = [r["text"] for r in declined["reasons"] if r["code"] == "SELLER_CONCENTRATION"]
    assert "this bank's outstanding financing bought from the seller" in words and "cap per seller" in words
    assert tier3.get(f"/v1/receivables/pieces/{piece}/offers") == []


def test_a_request_beyond_the_limit_the_bank_published_for_the_seller_is_declined_in_words(story: Story) -> None:
    world = story.world
    piece, holder = world.barred
    seller = Party(world, world.keys[holder])
    limits = [r for r in seller.get("/v1/credit/limits") if r["bank"] == world.bank.address]
    assert [int(r["limit"]) for r in limits] == [0]
    seller.ask(piece, world.bank.address)
    item = story.reads(seller, piece, "declined")
    [declined] = item["declines"]
    assert [r["code"] for r in declined["reasons"]] == ["SELLER_LIMIT_ZERO"], declined
    assert "this bank published a limit of 0 for the seller" in declined["reasons"][0]["text"]
    assert seller.get(f"/v1/receivables/pieces/{piece}/offers") == []


def test_a_lapsed_offer_is_closed_in_words_never_priced_again_and_a_new_ask_gets_one_new_price(story: Story) -> None:
    tier3, world = story.tier3, story.world
    piece = story.pieces["C"]
    asked = tier3.ask(piece, world.bank.address)
    [first] = story.until("the desk's offer on C", lambda: tier3.get(f"/v1/receivables/pieces/{piece}/offers"))
    story.offers["C1"] = first

    # Nobody accepts it; its deadline passes on chain (the played world sets its blocks' times: set the next one).
    rpc(world.rpc, "evm_setNextBlockTimestamp", [int(first["deadline"]) + 1])
    rpc(world.rpc, "evm_mine", [])
    wait_indexed(world.base, world.rpc)
    item = story.reads(tier3, piece, "declined")
    [closed] = item["declines"]
    assert [r["code"] for r in closed["reasons"]] == ["OFFER_LAPSED"]
    assert first["id"] in closed["reasons"][0]["text"] and "ask again for a new price" in closed["reasons"][0]["text"]
    story.quiet()
    assert [o["id"] for o in tier3.get(f"/v1/receivables/pieces/{piece}/offers")] == [first["id"]]
    assert story.request_of(tier3, piece)["state"] == "declined"

    # The supplier asks again: a new ask, priced afresh, once, with a nonce of its own, journaled as a re-quote.
    again = tier3.ask(piece, world.bank.address)
    assert again["id"] == asked["id"] and again["createdAt"] > asked["createdAt"] and again["state"] == "open"
    offers = story.until("the re-quote", lambda: (o := tier3.get(f"/v1/receivables/pieces/{piece}/offers"))[1:] and o)
    second = offers[1]
    story.offers["C2"] = second
    assert int(second["nonce"]) == offer_nonce(world.bank.address, asked["id"], again["createdAt"])
    assert second["nonce"] != first["nonce"] and second["pricing"]["asOfBlock"] > first["pricing"]["asOfBlock"]
    # The offer shows in the API before the desk journals its outcome: wait for the line.
    [requote] = story.until(
        "the re-quote's journal line",
        lambda: [r for r in story.journal_lines() if r["kind"] == "offered" and r.get("requote")],
    )
    assert [o["offer"] for o in requote["requote"]["after"]] == [first["id"]] and requote["offer"] == second["id"]
    story.quiet()
    assert len(tier3.get(f"/v1/receivables/pieces/{piece}/offers")) == 2
    assert story.request_of(tier3, piece)["state"] == "offered"


def test_the_auditors_offers_replay_agrees_and_a_doctored_policy_file_is_named_with_each_offers_location(
    story: Story, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = story.world
    assert set(story.offers) == {"A", "C1", "C2"}, "the story's offers (the tests before this one)"
    argv = ["audit", "replay", "--chain", world.rpc, "--deployment", str(world.record), "--quiet", "--offers",
            "--store-db", world.db_url]  # fmt: skip
    out = tmp_path / "audit.json"
    assert audit_cli.main([*argv, "--policy", str(story.policy), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "signed offers: 3 recomputed from the chain (1 accepted on chain), 0 differ, 0 not checked" in printed
    offers = json.loads(out.read_text())["offers"]
    assert sorted(offers["agree"]) == sorted(o["id"] for o in story.offers.values())
    assert offers["accepted"].keys() == {story.offers["A"]["id"]} and offers["undated"] == []

    body = json.loads(story.policy.read_text())
    body["obligor_spread"][-1]["spread_bps"] += 1  # one spread changed after the fact: still a valid policy
    doctored = tmp_path / "story-bank.json"
    doctored.write_text(json.dumps(body))
    true_hash, doctored_hash = Policy.load(story.policy).hash, Policy.load(doctored).hash
    assert audit_cli.main([*argv, "--policy", str(doctored)]) == audit_cli.EXIT_MISMATCH
    printed = capsys.readouterr().out
    assert "signed offers: 3 recomputed from the chain (1 accepted on chain), 3 differ, 0 not checked" in printed
    for offer in story.offers.values():
        assert (
            f"[offer] offer {offer['id']}, piece {offer['pieceId']}, bank {offer['bank']}: policy_hash: policy file "
            f"{doctored} has hash {doctored_hash}, offer {offer['id']} was priced under {true_hash}"
        ) in printed
