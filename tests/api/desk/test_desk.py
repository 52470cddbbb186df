"""The bank's desk end to end: ``scf serve --index`` over a played world, the desk a client of it over HTTP.

The world is the session's ``small_world`` (30 firms, 6 months) on its own anvil; the module takes a
snapshot first and reverts to it at the end. The dev bank scores every party and publishes its
limits (``scf score --all --publish``), mints itself deposits and lets Receivables take them; a
tier-3 supplier that never sold to a core comes to hold a piece of a core's receivable (its buyers
pay it down the tiers). The desk runs as the dev bank from an encrypted keystore, under the dev
bank's policy file; the tests drive it with ``--once`` in process (``api.desk.run.run_desk``) and,
once, as ``scf bank desk`` following the inbox until SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import select

from api.cli import index as index_cli
from api.cli import score as score_cli
from api.cli.demo.cast import keys_of
from api.cli.demo.story import pay_down, plan_story
from api.desk.desk import offer_nonce
from api.desk.run import DeskOptions, run_desk
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.domain.receivables import Child
from ledger.eth.artifacts import BuildResult
from ledger.eth.keys import write_keystore
from ledger.index.sql.db import make_engine
from ledger.index.sql.models import CreditLimit, Piece, Root
from ledger.toolchain.deploy import enrol_dev_members
from scenarios.world import CORE, DAY, UNIT, World, generate
from scoring.policy import DEV_BANK, Policy
from scoring.pricing import audit, recompute
from tests.support import serve
from tests.support.played_world import SMALL, PlayedWorld, small_world
from tests.support.ports import free_port
from tests.support.wallet import sign_prepared

ROOT = Path(__file__).resolve().parents[3]
WAIT = 60.0
PASSWORD = "desk-test-password"
MAX_UINT256 = 2**256 - 1


@dataclass
class Bench:
    """The served world, the dev bank's desk files, and the tier-3 supplier's piece."""

    world: PlayedWorld
    parties: World
    base: str
    rpc: str
    db_url: str
    env: dict[str, str]
    root: Path
    bank: LocalAccount
    keystore: Path
    password_file: Path
    keys: dict[str, LocalAccount]
    tier3: str
    piece_id: int
    core: str
    #: pieces within their holder's limit (one holder's, split for the tests), and one beyond its holder's limit
    slices: list[int]
    slicer: str
    beyond: tuple[int, str, int]
    logs: list[str] = field(default_factory=list)
    asked: list[tuple[dict[str, str], str]] = field(default_factory=list)

    def options(self, journal: Path, policy: Path = DEV_BANK, **overrides: Any) -> DeskOptions:
        return DeskOptions(
            api=self.base,
            bank=self.bank.address,
            keystore=self.keystore,
            policy=policy,
            password_file=self.password_file,
            journal=journal,
            once=True,
            **overrides,
        )

    def desk(self, journal: Path, policy: Path = DEV_BANK, **overrides: Any) -> Any:
        return run_desk(self.options(journal, policy, **overrides), log=self.logs.append)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]


def _wait_indexed(base: str, rpc: str) -> None:
    head = int(_rpc(rpc, "eth_blockNumber", []), 16)
    deadline = time.monotonic() + WAIT
    while (httpx.get(f"{base}/v1/health", timeout=10).json().get("indexedBlock") or -1) < head:
        assert time.monotonic() < deadline, "the API's indexer did not reach the head"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def bench(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    world = small_world(build)
    chain, rpc = world.chain, world.devnet.url
    assert chain.accounts is not None
    snapshot = chain.snapshot()  # Chain.revert also forgets the nonces it counted past the snapshot
    root = tmp_path_factory.mktemp("desk")
    server: subprocess.Popen[bytes] | None = None
    try:
        record = root / "deployments" / f"{chain.chain_id}.json"
        record.parent.mkdir()
        contracts = {name: {"address": address, "blockNumber": 0} for name, address in world.result.addresses.items()}
        record.write_text(json.dumps({"chainId": chain.chain_id, "contracts": contracts}))
        addresses = world.result.addresses
        enrol_dev_members(chain, build, addresses["Membership"], chain.accounts)
        db_url = f"sqlite:///{root / 'ledger.db'}"
        where = ["--db", db_url, "--chain", rpc, "--deployment", str(record)]
        assert index_cli.main([*where, "--quiet"]) == 0
        assert score_cli.main(["--all", "--publish", "--bank", "dev-bank", *where]) == 0

        # The dev bank's deposits, and Receivables allowed to take a price from them when a holder accepts.
        bank = chain.accounts["bank"]
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        tokens.mint(bank.address, 10**9 * UNIT, bank)
        tokens.approve(addresses["Receivables"], MAX_UINT256, bank)
        assert index_cli.main([*where, "--quiet"]) == 0  # the limits just published, for the plan to read

        # A tier-3 supplier that never sold to a core comes to hold a live piece of a core's receivable.
        parties = generate(SMALL)
        keys = keys_of(parties, chain)
        engine = make_engine(db_url)
        try:
            story = plan_story(engine, chain.chain_id, parties, bank.address, chain.timestamp())
        finally:
            engine.dispose()
        assert story.limit > 0, "the tier-3 supplier of the story has a limit from the dev bank"
        receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        piece_id = pay_down(chain, receivables, story, keys)
        assert index_cli.main([*where, "--quiet"]) == 0
        slices, slicer, beyond = _carve(
            _sellable(db_url, bank.address, {p.address for p in parties.of_kind(CORE)}, chain.timestamp()),
            keys,
            receivables,
            exclude=story.tier3,
        )

        keystore = write_keystore(bank, root / "keys" / "bank.json", PASSWORD)
        password_file = root / "keys" / "password"
        password_file.write_text(PASSWORD + "\n")

        env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(record.parent), "SCF_DEVNET_RUN_DIR": str(root / "run")}
        port = free_port()
        command = [sys.executable, "-m", "api", "serve", "--port", str(port), "--chain", rpc, "--db", db_url]
        server = subprocess.Popen([*command, "--index", "--devnet"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        serve.wait_until_up(serve.Served(server, base), WAIT)
        _wait_indexed(base, rpc)
        yield Bench(
            world, parties, base, rpc, db_url, env, root, bank, keystore, password_file, keys,
            story.tier3, piece_id, story.core, slices, slicer, beyond,
        )  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        chain.revert(snapshot)


class Party:
    """One party speaking to the API with its own key."""

    def __init__(self, bench: Bench, account: LocalAccount) -> None:
        self.bench = bench
        self.account = account
        self.headers = serve.sign_in(bench.base, account)

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.bench.base}{path}", headers=self.headers, params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        answer = httpx.post(f"{self.bench.base}{path}", json=body or {}, headers=self.headers, timeout=60)
        assert answer.status_code == expect, answer.text
        return answer.json()

    def act(self, path: str) -> dict[str, Any]:
        """POST an action, sign the prepared transaction, submit it, wait until mined and indexed."""
        raw = sign_prepared(self.account, self.post(path))
        submitted = self.post("/v1/submissions", {"rawTransaction": raw}, expect=202)
        deadline = time.monotonic() + WAIT
        while True:
            status: dict[str, Any] = self.get(submitted["statusUrl"])
            if status["status"] != "pending" and status["indexed"]:
                assert status["status"] == "mined", status
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.2)

    def ask(self, piece_id: int, bank: str) -> dict[str, Any]:
        """A financing request on ``piece_id`` to ``bank``, withdrawn after the test (``withdrawn``)."""
        path = f"/v1/receivables/pieces/{piece_id}/financing-requests"
        request: dict[str, Any] = self.post(path, {"bank": bank}, expect=201)
        self.bench.asked.append((self.headers, request["id"]))
        return request


@pytest.fixture(autouse=True)
def withdrawn(bench: Bench) -> Iterator[None]:
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


def _policy_file(bench: Bench, name: str, **changes: Any) -> Path:
    body = json.loads(DEV_BANK.read_text())
    body.update(changes)
    path = bench.root / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def _sellable(db_url: str, bank: str, cores: set[str], now: int) -> list[tuple[Any, int]]:
    """Live, whole pieces of a core's receivable held by a supplier ``bank`` published a limit for, with the limit."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            limits = {
                row.party: int(row.limit)
                for row in connection.execute(
                    select(CreditLimit.party, CreditLimit.limit).where(
                        CreditLimit.bank == bank, CreditLimit.revoked.is_(False)
                    )
                )
            }
            rows = connection.execute(
                select(Piece.piece_id, Piece.holder, Piece.amount, Root.debtor)
                .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
                .where(
                    Piece.child_count == 0,
                    Piece.financed.is_(False),
                    Piece.claimed == 0,
                    Root.status == "OUTSTANDING",
                    Root.maturity > now + 14 * DAY,
                )
                .order_by(Piece.piece_id)
            ).all()
    finally:
        engine.dispose()
    return [(row, limits[row.holder]) for row in rows if row.debtor in cores and row.holder in limits]


def _carve(
    found: list[tuple[Any, int]], keys: dict[str, LocalAccount], receivables: ReceivablesClient, *, exclude: str
) -> tuple[list[int], str, tuple[int, str, int]]:
    """Three pieces well within their holder's limit (split off a piece of the holder with the largest limit),
    and a piece beyond its holder's limit: each test asks for financing on pieces of its own."""
    found = [(row, limit) for row, limit in found if row.holder != exclude and row.holder in keys]
    row, limit = max(found, key=lambda f: (f[1], int(f[0].amount)))
    size = min(limit // 10, int(row.amount) // 4) // UNIT * UNIT
    assert size > 0, (row, limit)
    children = [Child(size, row.holder, keccak(text=f"desk test slice {i}")) for i in range(3)]
    children.append(Child(int(row.amount) - 3 * size, row.holder, keccak(text="desk test rest")))
    created, _ = receivables.split(int(row.piece_id), children, keys[row.holder])
    over = [(r, lim) for r, lim in found if r.holder != row.holder and int(r.amount) * 9 // 10 > lim]
    assert over, "the world has a piece bigger than its holder's published limit"
    beyond, beyond_limit = over[0]
    return created[:3], row.holder, (int(beyond.piece_id), beyond.holder, beyond_limit)


def test_a_tier3_suppliers_request_is_priced_offered_with_its_pricing_record_and_financed_on_acceptance(
    bench: Bench,
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
    assert offer["bank"] == bench.bank.address and int(offer["nonce"]) == offer_nonce(bench.bank.address, request["id"])
    policy = Policy.load(DEV_BANK)
    pricing = offer["pricing"]
    assert pricing["policyHash"] == policy.hash
    quote = pricing["quote"]
    assert quote["result"] == "quoted" and quote["price"] == offer["price"]
    assert audit(policy, quote) == [] and recompute(policy, quote).price == int(offer["price"])
    request_in = quote["inputs"]["request"]
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


def test_a_request_beyond_the_limit_the_bank_published_for_the_seller_is_declined_in_words(bench: Bench) -> None:
    piece_id, holder, limit = bench.beyond
    seller = Party(bench, bench.keys[holder])
    request = seller.ask(piece_id, bench.bank.address)
    journal = bench.root / "journal-limit.jsonl"
    report = bench.desk(journal)
    assert report.offered == 0 and report.declined >= 1, bench.logs
    [declined] = _outcomes(journal, request["id"])
    assert declined["kind"] == "declined"
    assert [r["code"] for r in declined["reasons"]] == ["EXPOSURE_LIMIT"]
    words = declined["reasons"][0]["text"]
    assert f"{limit // UNIT:,}" in words and "limit this bank published" in words
    assert declined["pricing"]["result"] == "declined" and int(declined["pricing"]["price"]) > limit
    assert not [r for r in _journal(journal) if r["kind"] == "intent" and r["request"] == request["id"]]
    assert seller.get(f"/v1/receivables/pieces/{piece_id}/offers") == []


def test_a_request_beyond_the_policys_concentration_caps_is_declined_in_words(bench: Bench) -> None:
    piece_id = bench.slices[0]
    seller = Party(bench, bench.keys[bench.slicer])
    request = seller.ask(piece_id, bench.bank.address)
    caps = {"max_per_obligor": str(10 * UNIT), "max_per_seller": str(5 * UNIT)}
    tight = _policy_file(bench, "tight", concentration=caps)
    journal = bench.root / "journal-tight.jsonl"
    report = bench.desk(journal, tight)
    assert report.offered == 0, bench.logs
    [declined] = _outcomes(journal, request["id"])
    assert [r["code"] for r in declined["reasons"]] == ["OBLIGOR_CONCENTRATION", "SELLER_CONCENTRATION"]
    words = " ".join(r["text"] for r in declined["reasons"])
    assert "10 dUSD cap per obligor" in words and "5 dUSD cap per seller" in words
    assert declined["pricing"]["policy"] == Policy.load(tight).hash
    assert seller.get(f"/v1/receivables/pieces/{piece_id}/offers") == []


def test_a_restart_with_the_same_journal_never_offers_twice_even_after_a_crash_or_a_lost_journal(
    bench: Bench,
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

    # The offer lapses and the request waits for this bank again: a restart with the same journal skips it.
    # (The played world steps block times itself: set the next block's time rather than increase it.)
    _rpc(bench.rpc, "evm_setNextBlockTimestamp", [int(offers[0]["deadline"]) + 1])
    _rpc(bench.rpc, "evm_mine", [])
    _wait_indexed(bench.base, bench.rpc)
    assert seller.get("/v1/financing-requests", pieceId=piece_id)["items"][0]["state"] == "open"
    report = bench.desk(journal)
    assert (report.offered, report.declined, report.recovered) == (0, 0, 0), bench.logs
    # Even a desk that lost its journal does not offer again: the inbox shows this bank offered under it.
    lost = bench.root / "journal-lost.jsonl"
    report = bench.desk(lost)
    assert (report.offered, report.recovered) == (0, 1), bench.logs
    assert _outcomes(lost, request["id"])[0]["offer"] == offers[0]["id"]
    assert len(seller.get(f"/v1/receivables/pieces/{piece_id}/offers")) == 1


def test_scf_bank_desk_follows_the_inbox_beside_scf_serve_and_stops_cleanly_on_sigterm(bench: Bench) -> None:
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
