"""The bank's desk end to end: ``scf serve --index`` over a played world, the desk a client of it over HTTP.

The world is ``tests.support.desk_world``'s, one for the module: the session's ``small_world`` (30
firms, 6 months) on its own anvil, snapshotted first and reverted at the end. The dev bank scores
every party and publishes its limits (``scf score --all --publish``), mints itself deposits and
lets Receivables take them; a tier-3 supplier that never sold to a core comes to hold a piece of a
core's receivable (its buyers pay it down the tiers); three slices of one supplier's piece well
within its limit give the other tests requests of their own. The desk runs as the dev bank from an
encrypted keystore, under the dev bank's policy file; the tests drive it with ``--once`` in process
(``api.desk.run.run_desk``) and, once, as ``scf bank desk`` following the inbox until SIGTERM.

The issue's story as the parties live it (declines the holder reads, a lapsed offer and a new ask,
the auditor's ``--offers`` replay) is ``tests/e2e/test_bank_desk_story.py``, with the desk following.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.desk.desk import offer_nonce
from ledger.eth.artifacts import BuildResult
from scoring.policy import DEV_BANK, Policy
from scoring.pricing import audit, recompute
from tests.support.desk_world import ROOT, WAIT, DeskWorld, Party, rpc, served_desk_world, wait_indexed


@pytest.fixture(scope="module")
def bench(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    """The desk's world (``tests.support.desk_world``), shared by the module and reverted after it."""
    with served_desk_world(build, tmp_path_factory.mktemp("desk")) as world:
        yield world


@pytest.fixture(autouse=True)
def withdrawn(bench: DeskWorld) -> Iterator[None]:
    """Each test's requests are withdrawn when it ends (an accepted one stays), so another test's desk never finds
    them open: every desk of this module answers the same inbox."""
    yield
    for headers, request_id in bench.asked:
        httpx.post(f"{bench.base}/v1/financing-requests/{request_id}/withdraw", headers=headers, timeout=30)
    bench.asked.clear()


def _journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _outcomes(path: Path, request_id: str) -> list[dict[str, Any]]:
    return [r for r in _journal(path) if r["request"] == request_id and r["kind"] != "intent"]


def test_a_tier3_suppliers_request_is_priced_offered_with_its_pricing_record_and_financed_on_acceptance(
    bench: DeskWorld,
) -> None:
    seller = Party(bench, bench.keys[bench.tier3])
    request = seller.ask(bench.piece_id, bench.bank.address)
    assert request["state"] == "open"
    journal = bench.root / "journal-main.jsonl"

    started = time.monotonic()
    report = bench.desk(journal)
    took = time.monotonic() - started
    assert (report.offered, report.deferred) == (1, 0), bench.logs

    # The offer is on the piece, signed by the bank, with the pricing record an auditor recomputes to the unit.
    offers = seller.get(f"/v1/receivables/pieces/{bench.piece_id}/offers")
    assert len(offers) == 1
    offer = offers[0]
    nonce = offer_nonce(bench.bank.address, request["id"], request["createdAt"])
    assert offer["bank"] == bench.bank.address and int(offer["nonce"]) == nonce
    policy = Policy.load(DEV_BANK)
    pricing = offer["pricing"]
    assert pricing["policyHash"] == policy.hash
    quote = pricing["quote"]
    assert quote["result"] == "quoted" and quote["price"] == offer["price"]
    assert audit(policy, quote) == [] and recompute(policy, quote).price == int(offer["price"])
    request_in = quote["inputs"]["request"]
    # Every input was read as of one indexed block, recorded with them and shown with the offer's pricing.
    indexed = httpx.get(f"{bench.base}/v1/health", timeout=10).json()["indexedBlock"]
    assert 0 < pricing["asOfBlock"] == request_in["as_of_block"] <= indexed
    assert request_in["obligor_kind"] == "core" and request_in["obligor_record"] is not None
    assert (
        int(request_in["seller_limit"]) > 0
        and request_in["face"] == seller.get(f"/v1/receivables/pieces/{bench.piece_id}")["amount"]
    )
    assert 0 < int(offer["price"]) < int(request_in["face"])

    # The journal says why: the quote's reasons in words, the offer's id, how long it took.
    [intent] = [r for r in _journal(journal) if r["kind"] == "intent"]
    [outcome] = _outcomes(journal, request["id"])
    assert intent["body"]["nonce"] == offer["nonce"]
    assert outcome["kind"] == "offered" and outcome["offer"] == offer["id"]
    assert {r["code"] for r in outcome["pricing"]["quote"]["reasons"]} >= {"BASE_RATE", "OBLIGOR_SPREAD", "PRICE"}
    assert outcome["waited"] >= 0 and outcome["seconds"] <= took
    print(f"\ndesk --once: {took:.2f} s for the pass, {outcome['seconds']:.2f} s from picking the request up to its "
          "offer posted")  # fmt: skip

    # The core obligor was priced from its record as a debtor, which a bank reads (and its holder does not).
    bank = Party(bench, bench.bank)
    record = bank.get(f"/v1/banks/obligors/{bench.core}")
    assert record["core"] is True and record["model"] == pricing["modelVersion"]
    assert request_in["obligor_record"]["paydex_12m"] == record["paydex12m"]
    assert request_in["obligor_record"]["defaults_12m"] == record["defaults12m"]
    assert httpx.get(f"{bench.base}/v1/banks/obligors/{bench.core}", headers=seller.headers).status_code == 404
    # Until the holder takes it, the offer counts in the bank's exposure as offered.
    pending = bank.get("/v1/banks/me/exposure", obligor=bench.core, seller=bench.tier3)
    assert pending["seller"]["offered"] == offer["price"] and pending["seller"]["financed"] == "0"

    # The holder accepts; the bank pays and holds the piece; its exposure shows the price on both parties.
    assert seller.get("/v1/financing-requests", state="offered")["items"][0]["id"] == request["id"]
    seller.act(f"/v1/receivables/offers/{offer['id']}/accept")
    sold = bank.get(f"/v1/receivables/pieces/{bench.piece_id}")
    assert sold["holder"] == bench.bank.address and sold["financed"] is True
    exposure = bank.get("/v1/banks/me/exposure", obligor=bench.core, seller=bench.tier3)
    assert exposure["seller"]["financed"] == offer["price"] == exposure["obligor"]["financed"]
    assert exposure["seller"]["offered"] == "0"
    assert int(exposure["total"]["outstanding"]) >= int(offer["price"])


def test_a_restart_with_the_same_journal_never_offers_twice_even_after_a_crash_or_a_lost_journal(
    bench: DeskWorld,
) -> None:
    piece_id = bench.slices[1]
    seller = Party(bench, bench.keys[bench.slicer])
    request = seller.ask(piece_id, bench.bank.address)
    journal = bench.root / "journal-restart.jsonl"
    # A short-lived offer, so that the request waits for this bank again once it lapses.
    assert bench.desk(journal, offer_ttl=3).offered == 1, bench.logs
    offers = seller.get(f"/v1/receivables/pieces/{piece_id}/offers")
    assert len(offers) == 1

    # Killed between posting and journaling (the outcome line torn mid-write): the intent is whole.
    lines = journal.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["kind"] == "offered" and json.loads(lines[-2])["kind"] == "intent"
    journal.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    report = bench.desk(journal)
    assert (report.offered, report.recovered) == (0, 1), bench.logs
    [outcome] = _outcomes(journal, request["id"])
    assert outcome["offer"] == offers[0]["id"] and "found" in outcome["recovered"]

    # The offer lapses and the request waits for this bank again.
    # (The played world steps block times itself: set the next block's time rather than increase it.)
    rpc(bench.rpc, "evm_setNextBlockTimestamp", [int(offers[0]["deadline"]) + 1])
    rpc(bench.rpc, "evm_mine", [])
    wait_indexed(bench.base, bench.rpc)
    assert seller.get("/v1/financing-requests", pieceId=piece_id)["items"][0]["state"] == "open"
    # A desk that lost its journal does not offer again: it finds its offer for this ask by the ask's nonce.
    lost = bench.root / "journal-lost.jsonl"
    report = bench.desk(lost)
    assert (report.offered, report.recovered) == (0, 1), bench.logs
    assert _outcomes(lost, request["id"])[0]["offer"] == offers[0]["id"]
    # A restart with the same journal prices it no more: it closes the ask in words, once, for the holder to read.
    report = bench.desk(journal)
    assert (report.offered, report.declined, report.lapsed) == (0, 0, 1), bench.logs
    [item] = seller.get("/v1/financing-requests", pieceId=piece_id)["items"]
    assert item["state"] == "declined" and [r["code"] for r in item["declines"][0]["reasons"]] == ["OFFER_LAPSED"]
    assert not bench.desk(journal).busy and not bench.desk(lost).busy
    assert len(seller.get(f"/v1/receivables/pieces/{piece_id}/offers")) == 1


def test_scf_bank_desk_follows_the_inbox_beside_scf_serve_and_stops_cleanly_on_sigterm(bench: DeskWorld) -> None:
    piece_id = bench.slices[2]
    seller = Party(bench, bench.keys[bench.slicer])
    journal = bench.root / "journal-follow.jsonl"
    command = [
        sys.executable, "-m", "api", "bank", "desk", "--api", bench.base, "--bank", bench.bank.address,
        "--keystore", str(bench.keystore), "--password-file", str(bench.password_file), "--policy", str(DEV_BANK),
        "--journal", str(journal), "--interval", "0.2",
    ]  # fmt: skip
    desk = subprocess.Popen(command, cwd=ROOT, env=bench.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while not journal.exists():  # the desk opens its journal before it signs in and polls
            assert desk.poll() is None, desk.communicate()
            assert time.monotonic() < deadline, "the desk did not start"
            time.sleep(0.05)
        time.sleep(2)  # signed in and polling an inbox with nothing for it
        asked = time.monotonic()
        request = seller.ask(piece_id, bench.bank.address)
        while not seller.get(f"/v1/receivables/pieces/{piece_id}/offers"):
            assert desk.poll() is None, desk.communicate()
            assert time.monotonic() < deadline, "no offer from the desk"
            time.sleep(0.05)
        latency = time.monotonic() - asked
        print(f"\nscf bank desk (following, --interval 0.2): request -> offer seen by the holder in {latency:.2f} s")
        desk.send_signal(signal.SIGTERM)
        out, err = desk.communicate(timeout=30)
    finally:
        if desk.poll() is None:
            desk.kill()
            desk.wait()
    assert desk.returncode == 0, err
    assert "stopped: offered 1," in err and out.startswith("offered 1,")
    [outcome] = _outcomes(journal, request["id"])
    assert outcome["kind"] == "offered"
