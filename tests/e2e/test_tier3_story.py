"""The tier-3 story end to end over HTTP, on the small world played through the contracts.

A tier-3 supplier that never sold to a core enterprise comes to hold a piece of a core's
receivable (its buyers pay it down the tiers with pieces split off one, each signing its own
split), gets a credit limit (scored and published by the dev bank with ``scf score``), signs
in and sells the piece to a bank through the API's financing flow (request, bank-signed
offer, acceptance, every transaction signed by its own party); the bank checks the piece
with ``scf verify receivable`` against the node; the auditor's ``scf audit replay --db``
agrees with the chain and the index. The API is ``scf serve --index`` as a process on a free
loopback port, spoken to with httpx, each party through the kit's ``Party`` (``tests.support.desk_world``).

The world is the session's ``small_world`` on its own anvil; the module takes a snapshot of
that chain first and reverts to it at the end, so the other suites see the world as played.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.cli import demo as demo_cli
from api.cli import index as index_cli
from api.cli import score as score_cli
from api.cli import simulate as simulate_cli
from api.cli.demo.cast import keys_of, write_cast
from api.cli.demo.story import RETAINED, payment_ref, plan_story
from ledger.eth.artifacts import BuildResult
from ledger.index.sql.db import make_engine
from ledger.toolchain.deploy import enrol_dev_members
from scenarios.world import BANK, DAY, World, generate
from tests.support import serve
from tests.support.desk_world import Party, wait_indexed
from tests.support.played_world import SMALL, PlayedWorld, small_world
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds for the server to come up


@dataclass
class Story:
    world: PlayedWorld
    parties: World
    base: str
    rpc: str
    db_url: str
    record: Path
    out: Path
    env: dict[str, str]

    @property
    def chain_id(self) -> int:
        return self.world.chain.chain_id

    def scf(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``scf ARGV`` as its own process, the way a bank or an auditor runs it."""
        command = [sys.executable, "-m", "api", *argv]
        return subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def story(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    world = small_world(build)
    chain, rpc = world.chain, world.devnet.url
    assert chain.accounts is not None
    snapshot = chain.snapshot()  # Chain.revert also forgets the nonces it counted past the snapshot
    root = tmp_path_factory.mktemp("tier3-story")
    server: subprocess.Popen[bytes] | None = None
    try:
        # The world's deployment as `scf deploy` would have recorded it, and the dev bank and auditor as members.
        record = root / "deployments" / f"{chain.chain_id}.json"
        record.parent.mkdir()
        contracts = {name: {"address": address, "blockNumber": 0} for name, address in world.result.addresses.items()}
        record.write_text(json.dumps({"chainId": chain.chain_id, "contracts": contracts}))
        enrol_dev_members(chain, build, world.result.addresses["Membership"], chain.accounts)
        out = root / "world"
        out.mkdir()
        for name in ("world.json", "ground_truth.json"):
            shutil.copy(world.out_dir / name, out / name)
        db_url = f"sqlite:///{root / 'ledger.db'}"
        where = ["--db", db_url, "--chain", rpc, "--deployment", str(record)]
        assert index_cli.main([*where, "--quiet"]) == 0
        assert score_cli.main(["--all", "--publish", "--bank", "dev-bank", "--json", *where]) == 0

        env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(record.parent), "SCF_DEVNET_RUN_DIR": str(root / "run")}
        port = free_port()
        command = [sys.executable, "-m", "api", "serve", "--port", str(port), "--chain", rpc, "--db", db_url, "--index"]
        server = subprocess.Popen([*command, "--devnet"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        serve.wait_until_up(serve.Served(server, base), WAIT)
        wait_indexed(base, rpc)
        yield Story(world, generate(SMALL), base, rpc, db_url, record, out, env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        chain.revert(snapshot)


def _sign_typed(account: LocalAccount, typed: dict[str, Any]) -> str:
    return "0x" + Account.sign_typed_data(account.key, full_message=typed).signature.hex()


def test_a_tier3_supplier_sells_its_piece_of_a_cores_receivable_and_bank_and_auditor_check_it(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    chain, parties = story.world.chain, story.parties
    assert chain.accounts is not None
    keys = keys_of(parties)
    cores = {p.address for p in parties.of_kind("core")}
    dev_bank = chain.accounts["bank"].address

    # Who: a tier-3 supplier that never sold to a core, and the payments that bring it a piece of a core's receivable.
    engine = make_engine(story.db_url)
    try:
        plan = plan_story(engine, story.chain_id, parties, dev_bank, chain.timestamp())
    finally:
        engine.dispose()
    tier3 = plan.tier3
    assert next(p for p in parties.parties if p.address == tier3).tier == 3
    assert plan.core in cores
    assert plan.limit > 0, "the tier-3 supplier of the story gets a limit from its verified history"

    # It receives the piece over HTTP: each buyer up the chain splits what it holds and passes part down.
    piece_id = plan.piece_id
    for hop in plan.hops:
        payer = Party(story, keys[hop.payer])
        held = int(payer.get(f"/v1/receivables/pieces/{piece_id}")["amount"])
        children = [
            {
                "amount": str(hop.amount),
                "holder": hop.payee,
                "ref": "0x" + payment_ref(hop.payer, hop.payee, piece_id).hex(),
            },
            {"amount": str(held - hop.amount), "holder": hop.payer, "ref": "0x" + RETAINED.hex()},
        ]
        created = payer.act(f"/v1/receivables/pieces/{piece_id}/split", {"children": children})["created"]
        payee_pieces = Party(story, keys[hop.payee]).get("/v1/receivables/pieces", limit=200)["items"]
        piece_id = next(int(p["pieceId"]) for p in payee_pieces if p["parentId"] == str(piece_id))
        assert created["pieceIds"][0] == str(piece_id)  # the status names the payee's new piece

    # It signs in with the demo's token command (the devnet convenience make run prints), and sees its piece and limit.
    write_cast(story.out, {"tier3": {"address": tier3, "name": "t3", "does": "the story"}})
    assert demo_cli.main(["token", "tier3", "--api", story.base, "--out", str(story.out)]) == 0
    seller = Party(story, keys[tier3], token=capsys.readouterr().out.strip().splitlines()[-1])
    assert seller.get("/v1/auth/me")["address"] == tier3
    mine = {int(p["pieceId"]): p for p in seller.get("/v1/receivables/pieces", limit=200)["items"]}
    assert piece_id in mine and mine[piece_id]["financed"] is False
    tree = seller.get(f"/v1/receivables/{plan.root_id}")
    assert tree["debtor"] == plan.core
    limits = {row["bank"]: row for row in seller.get("/v1/credit/limits")}
    assert int(limits[dev_bank]["limit"]) == plan.limit > 0
    assert limits[dev_bank]["party"] == tier3 and int(limits[dev_bank]["validUntil"]) > chain.timestamp()
    sells_to = {o["buyer"] for o in seller.get("/v1/orders", limit=200)["items"]}
    assert sells_to and not sells_to & cores, "it never sold to a core"

    # It sells the piece to a bank: financing request, bank-signed offer, acceptance signed by the supplier.
    bank_account = parties.of_kind(BANK)[0].account
    bank = Party(story, bank_account)
    assert httpx.get(f"{story.base}/v1/receivables/pieces/{piece_id}", headers=bank.headers).status_code == 404
    seller.post(f"/v1/receivables/pieces/{piece_id}/financing-requests", {"bank": bank_account.address}, expect=201)
    amount = int(bank.get(f"/v1/receivables/pieces/{piece_id}")["amount"])
    terms = {"price": str(amount * 97 // 100), "deadline": chain.timestamp() + DAY, "nonce": 10**9 + piece_id}
    typed = bank.post(f"/v1/receivables/pieces/{piece_id}/offers/typed-data", terms)["typedData"]
    offer = bank.post(
        f"/v1/receivables/pieces/{piece_id}/offers",
        {**terms, "signature": _sign_typed(bank_account, typed)},
        expect=201,
    )
    assert [o["id"] for o in seller.get(f"/v1/receivables/pieces/{piece_id}/offers")] == [offer["id"]]
    seller.act(f"/v1/receivables/offers/{offer['id']}/accept")
    sold = bank.get(f"/v1/receivables/pieces/{piece_id}")
    assert sold["holder"] == bank_account.address and sold["financed"] is True

    # The bank verifies the piece on the node itself, from the API's proof bundle; a doctored bundle is refused.
    verify = ["verify", "receivable", str(piece_id), "--rpc", story.rpc]
    checked = story.scf(*verify, "--api", story.base, "--token", bank.token, "--json")
    assert checked.returncode == 0, checked.stderr
    state = json.loads(checked.stdout.strip().splitlines()[-1])["state"]
    assert state["holder"] == bank_account.address and state["financed"] is True and state["debtor"] == plan.core
    bundle = bank.get(f"/v1/receivables/pieces/{piece_id}/proof")
    bundle["claim"]["holder"] = tier3
    doctored = story.out / "doctored-proof.json"
    doctored.write_text(json.dumps(bundle))
    refused = story.scf(*verify, "--proof", str(doctored))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "REFUSED" in refused.stderr

    # The auditor's replay re-derives everything from the chain and agrees with it and with the API's index.
    wait_indexed(story.base, story.rpc)
    # With --scores it also recomputes every limit the dev bank published, from the chain's logs alone.
    audit = story.scf(
        "audit", "replay", "--db", story.db_url, "--chain", story.rpc, "--deployment", str(story.record), "--scores"
    )
    assert audit.returncode == 0, audit.stdout[-3000:] + audit.stderr[-2000:]
    assert "mismatches: 0" in audit.stdout
    recomputed = re.search(r"published limits: (\d+) recomputed from the chain, 0 differ", audit.stdout)
    assert recomputed is not None and int(recomputed.group(1)) > 0, audit.stdout[-3000:]


def test_a_world_already_played_on_the_deployment_is_reused_not_replayed(
    story: Story, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ["--firms", str(SMALL.firms), "--months", str(SMALL.months), "--seed", str(SMALL.seed)]
    where = ["--chain", story.rpc, "--deployment", str(story.record), "--out", str(story.out), "--quiet"]
    head = story.world.chain.block_number
    assert simulate_cli.main([*config, *where, "--reuse"]) == 0
    assert "reusing" in capsys.readouterr().err
    assert story.world.chain.block_number == head, "nothing was sent"
    # Without --reuse the world is refused as already played.
    assert simulate_cli.main([*config, *where]) == 2
    assert "WorldAlreadyPlayed" in capsys.readouterr().err
