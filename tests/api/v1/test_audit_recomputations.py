"""Published limits and offers recomputed by an audit run over HTTP (``POST /v1/audit/runs {"limits", "offers"}``).

On the ``/v1`` suite's world the limits name a model no one holds: each is listed, as published on
chain, as a mismatch saying so. On a desk world (``tests.support.desk_world``: ``scf serve`` over the
played small world, its dev bank's limits published with the shipped model, its desk pricing
requests) every limit published under that model recomputes to what was published; the offer
priced under the shipped policy recomputes and is found accepted on chain, and the one priced
under the bank's own policy file, which the server does not hold, is listed as not checked here,
not as a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from sqlalchemy import func, select

from api.v1 import store
from api.v1.deps import Services
from ledger.clients.credit import CreditRegistryClient
from ledger.eth.artifacts import BuildResult
from scoring.policy import DEV_BANK, Policy
from tests.support.api_world import World
from tests.support.audit_runs import run_to_the_end
from tests.support.desk_world import DeskWorld, Party, served_desk_world, wait_indexed


def _in_process(world: World, body: dict[str, Any]) -> dict[str, Any]:
    headers = world.sign_in("auditor")
    return run_to_the_end(
        lambda path, sent: world.client.post(path, json=sent, headers=headers),
        lambda path: world.client.get(path, headers=headers),
        body,
    )


def test_limits_under_a_model_no_one_holds_are_each_a_mismatch_as_published_on_chain(world: World) -> None:
    run = _in_process(world, {"limits": True, "offers": True})
    assert run["state"] == "done", run
    scores = run["report"]["scores"]
    services: Services = world.client.app.state.services  # type: ignore[attr-defined]
    assert services.credit.model is not None
    assert scores["models"] == [services.credit.model.version]

    logs = world.deployed.registry.contract.events.LimitPublished().get_logs(from_block=0)
    assert len(logs) >= 2
    checks = scores["matches"] + scores["mismatches"] + scores["unmodelled"]
    published = sorted((c["block"], c["party"], c["published"]["limit"], c["published"]["model"]) for c in checks)
    on_chain = sorted(
        (log["blockNumber"], log["args"]["party"], str(log["args"]["limit"]), "0x" + log["args"]["modelHash"].hex())
        for log in logs
    )
    assert published == on_chain  # every limit, its uint256 exact as a decimal string (one is above 2**255)
    assert any(int(c["published"]["limit"]) > 2**255 for c in checks)
    unknown = "0x" + keccak(text="scoring model v3").hex()
    assert {c["problem"] for c in scores["mismatches"]} == {"unknown model"}
    assert {c["published"]["model"] for c in scores["mismatches"]} == {unknown}
    assert scores["ok"] is False and scores["checked"] == len(scores["matches"]) + len(scores["mismatches"])

    offers = run["report"]["offers"]
    with services.store.connect() as connection:
        held = connection.execute(select(func.count()).select_from(store.offers)).scalar_one()
    assert len(offers["rows"]) == held
    assert [p["hash"] for p in offers["policies"]] == [Policy.load(DEV_BANK).hash]


@pytest.fixture(scope="module")
def desk(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    root = tmp_path_factory.mktemp("audit-recomputations")
    with served_desk_world(build, root, slices=1) as world:
        yield world


def test_a_desk_worlds_limits_and_offers_recompute_and_what_the_server_cannot_check_is_said(desk: DeskWorld) -> None:
    tier3 = Party(desk, desk.keys[desk.tier3])
    slicer = Party(desk, desk.keys[desk.slicer])
    tier3.ask(desk.piece_id, desk.bank.address)
    assert desk.desk(desk.root / "journal.jsonl").offered == 1, desk.logs
    slicer.ask(desk.slices[0], desk.bank.address)
    own = desk.policy_file("own-desk", version="own desk 1")
    assert Policy.load(own).hash != Policy.load(DEV_BANK).hash
    assert desk.desk(desk.root / "journal-own.jsonl", policy=own).offered >= 1, desk.logs
    [shipped] = tier3.get(f"/v1/receivables/pieces/{desk.piece_id}/offers")
    [priced_own] = slicer.get(f"/v1/receivables/pieces/{desk.slices[0]}/offers")
    tier3.act(f"/v1/receivables/offers/{shipped['id']}/accept")
    wait_indexed(desk.base, desk.rpc)

    auditor = Party(desk, desk.world.chain.accounts["auditor"])
    run = run_to_the_end(
        lambda path, body: httpx.post(f"{desk.base}{path}", json=body, headers=auditor.headers, timeout=60),
        lambda path: httpx.get(f"{desk.base}{path}", headers=auditor.headers, timeout=60),
        {"limits": True, "offers": True},
    )
    assert (run["state"], run["ok"]) == ("done", True), run

    # Limits: every one published under the shipped model (the dev bank's, the world's banks') recomputes to
    # what was published, the model hash with it; those naming no model are listed apart.
    scores = run["report"]["scores"]
    assert scores["ok"] is True and scores["mismatches"] == []
    assert desk.build is not None
    registry = CreditRegistryClient(desk.world.chain, desk.build, desk.world.result.addresses["CreditRegistry"])
    logs = registry.contract.events.LimitPublished().get_logs(from_block=0)
    modelled = [log for log in logs if int.from_bytes(log["args"]["modelHash"], "big") != 0]
    assert len(scores["matches"]) == scores["checked"] == len(modelled) > 0
    assert len(scores["unmodelled"]) == len(logs) - len(modelled)
    ours = [c for c in scores["matches"] if c["bank"] == desk.bank.address]
    assert len(ours) == sum(1 for log in modelled if log["args"]["bank"] == desk.bank.address) > 0
    for check in scores["matches"]:
        assert check["expected"] == check["published"] and check["published"]["model"] in scores["models"]

    # Offers: the shipped policy's offer agrees and was accepted; the own policy's is not checked here.
    offers = run["report"]["offers"]
    rows = {row["offer"]: row for row in offers["rows"]}
    assert rows[shipped["id"]]["verdict"] == "agrees" and rows[shipped["id"]]["acceptedTx"]
    assert rows[shipped["id"]]["price"] == shipped["price"]
    assert rows[priced_own["id"]]["verdict"] == "policy not held"
    [not_held] = offers["policyNotHeld"]
    assert (not_held["offer"], not_held["policy"]) == (priced_own["id"], Policy.load(own).hash.lower())
    assert offers["mismatches"] == [] and offers["ok"] is True
    assert priced_own["id"] not in offers["agree"]

    listed = httpx.get(f"{desk.base}/v1/audit/runs", headers=auditor.headers, timeout=30).json()["items"][0]
    assert (listed["id"], listed["limitsOk"], listed["offersOk"]) == (run["id"], True, True)
