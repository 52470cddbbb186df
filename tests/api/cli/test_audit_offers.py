"""``scf audit replay --offers``: every signed offer's price recomputed from the chain, the model and the policy.

One world for the module (``tests.support.desk_world``: ``scf serve --index`` over the played small
world): the tier-3 supplier and a supplier with a large limit each ask the dev bank for financing,
the dev bank's desk prices both under the shipped policy and offers, and the tier-3 supplier
accepts its offer on chain. The chain is replayed once; each test then checks the offers in the
API's store, or in a copy of it tampered with, and the command runs end to end twice (agreeing,
and with a doctored policy file).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.cli import audit as audit_cli
from api.cli.audit_offers import OfferSources, check_offers, offer_lines
from api.cli.score import DEFAULT_MODEL
from ledger.audit import Deployment, ReplayResult, replay
from ledger.eth.artifacts import BuildResult
from ledger.index.sql.db import make_engine, sqlite_path
from ledger.index.sql.models import Financing
from ledger.toolchain.deploy import recorded_deployment
from scoring.audit import refused_calls
from scoring.history import RefusedCall
from scoring.policy import DEV_BANK, Policy
from scoring.price_audit import OfferAudit
from scoring.scorecard import Model
from tests.support.desk_world import DeskWorld, Party, served_desk_world, wait_indexed


@dataclass
class Offered:
    """The world, its replay, and the two offers: one the holder accepted on chain, one still open."""

    world: DeskWorld
    deployment: Deployment
    result: ReplayResult
    refused: list[RefusedCall]
    models: list[Model]
    accepted: dict[str, Any]
    open: dict[str, Any]
    financing_tx: str
    financing_block: int

    def check(self, store_db: str | None = None, policies: tuple[Path, ...] = (DEV_BANK,)) -> OfferAudit:
        sources = OfferSources(store_db=store_db or self.world.db_url, policies=policies)
        chain = self.world.world.chain
        return check_offers(chain, self.deployment, self.result, sources, models=self.models, refused=self.refused)

    def argv(self, *extra: str) -> list[str]:
        return ["audit", "replay", "--chain", self.world.rpc, "--deployment", str(self.world.record), "--quiet",
                "--offers", "--store-db", self.world.db_url, *extra]  # fmt: skip


@pytest.fixture(scope="module")
def offered(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offered]:
    root = tmp_path_factory.mktemp("audit-offers")
    with served_desk_world(build, root, slices=1) as world:
        tier3 = Party(world, world.keys[world.tier3])
        slicer = Party(world, world.keys[world.slicer])
        tier3.ask(world.piece_id, world.bank.address)
        slicer.ask(world.slices[0], world.bank.address)
        report = world.desk(root / "journal.jsonl")
        assert (report.offered, report.declined, report.deferred) == (2, 0, 0), world.logs
        [accepted] = tier3.get(f"/v1/receivables/pieces/{world.piece_id}/offers")
        [still_open] = slicer.get(f"/v1/receivables/pieces/{world.slices[0]}/offers")
        tier3.act(f"/v1/receivables/offers/{accepted['id']}/accept")
        wait_indexed(world.base, world.rpc)

        engine = make_engine(world.db_url)
        try:
            with engine.connect() as connection:
                financing = connection.execute(
                    select(Financing.tx_hash, Financing.block_number).where(Financing.piece_id == world.piece_id)
                ).one()
        finally:
            engine.dispose()
        chain = world.world.chain
        _, record = recorded_deployment(chain.chain_id, world.record)
        deployment = Deployment.from_record(record, build)
        result = replay(chain, deployment, check_views=False, keep_logs=True)
        assert result.report.ok, result.report.lines()
        yield Offered(
            world,
            deployment,
            result,
            refused_calls(deployment, result),
            [Model.load(DEFAULT_MODEL)],
            accepted,
            still_open,
            financing.tx_hash,
            financing.block_number,
        )


def _store_copy(offered: Offered, tmp_path: Path, change: str, *params: Any) -> str:
    """A copy of the API's store (SQLite's online backup: the API keeps writing to the original) with ``change``."""
    source = sqlite_path(offered.world.db_url)
    assert source is not None
    copy = tmp_path / "store-copy.db"
    with sqlite3.connect(source) as original, sqlite3.connect(copy) as target:
        original.backup(target)
        assert target.execute(change, params).rowcount == 1
    return f"sqlite:///{copy}"


def _fields(audited: OfferAudit, offer: dict[str, Any]) -> set[str]:
    return {f.field for f in audited.mismatches if f.offer == offer["id"]}


def test_the_offers_replay_with_the_true_policy_agrees_for_an_offered_and_an_accepted_offer(offered: Offered) -> None:
    audited = offered.check()
    assert audited.ok, [str(f) for f in audited.mismatches]
    assert sorted(audited.agree) == sorted([offered.accepted["id"], offered.open["id"]])
    assert audited.accepted == {offered.accepted["id"]: offered.financing_tx}
    assert audited.unchecked == [] and audited.undated == []  # each quote records the block its inputs were read at
    assert offered.accepted["pricing"]["quote"]["price"] == offered.accepted["price"]


def test_the_command_with_the_true_policy_agrees_and_exits_0(
    offered: Offered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit.json"
    assert audit_cli.main(offered.argv("--policy", str(DEV_BANK), "--json", str(out))) == 0
    printed = capsys.readouterr().out
    assert "signed offers: 2 recomputed from the chain (1 accepted on chain), 0 differ, 0 not checked" in printed
    document = json.loads(out.read_text())
    assert document["ok"] is True and document["offers"]["ok"] is True
    assert sorted(document["offers"]["agree"]) == sorted([offered.accepted["id"], offered.open["id"]])


def test_a_doctored_policy_file_with_one_spread_changed_is_named_with_each_offer_it_priced(
    offered: Offered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.loads(DEV_BANK.read_text())
    body["obligor_spread"][-1]["spread_bps"] += 1  # the dearest band, one basis point dearer: still a valid policy
    doctored = tmp_path / "dev-bank.json"
    doctored.write_text(json.dumps(body))
    true_hash, doctored_hash = Policy.load(DEV_BANK).hash, Policy.load(doctored).hash
    assert true_hash != doctored_hash

    out = tmp_path / "audit.json"
    assert audit_cli.main(offered.argv("--policy", str(doctored), "--json", str(out))) == audit_cli.EXIT_MISMATCH
    printed = capsys.readouterr().out
    assert "signed offers: 2 recomputed from the chain (1 accepted on chain), 2 differ, 0 not checked" in printed
    for offer in (offered.accepted, offered.open):
        assert (
            f"[offer] offer {offer['id']}, piece {offer['pieceId']}, bank {offer['bank']}: policy_hash: policy file "
            f"{doctored} has hash {doctored_hash}, offer {offer['id']} was priced under {true_hash}"
        ) in printed
    document = json.loads(out.read_text())
    assert document["ok"] is True, "the replay itself agrees: only the offers differ"
    assert document["offers"]["ok"] is False
    assert {(m["offer"], m["field"]) for m in document["offers"]["mismatches"]} == {
        (offered.accepted["id"], "policy_hash"),
        (offered.open["id"], "policy_hash"),
    }


def test_a_quote_whose_price_was_edited_in_the_store_is_named_by_its_field(offered: Offered, tmp_path: Path) -> None:
    quote = dict(offered.open["pricing"]["quote"])
    quote["price"] = str(int(quote["price"]) + 1)
    text = json.dumps(quote, sort_keys=True, separators=(",", ":"))
    store_db = _store_copy(offered, tmp_path, "UPDATE api_offers SET quote = ? WHERE id = ?", text, offered.open["id"])
    audited = offered.check(store_db)
    assert not audited.ok
    # Recomputed under the true policy the quote's price is not reproduced, and it no longer prices the signed offer.
    assert _fields(audited, offered.open) == {"quote.price", "price"}
    [field] = [f for f in audited.mismatches if f.field == "quote.price"]
    assert field.recorded == quote["price"] and field.expected == offered.open["price"]
    assert audited.agree == [offered.accepted["id"]]


def test_an_accepted_offer_whose_price_differs_from_its_financing_on_chain_is_named_with_its_tx(
    offered: Offered, tmp_path: Path
) -> None:
    signed = int(offered.accepted["price"])
    store_db = _store_copy(
        offered, tmp_path, "UPDATE api_offers SET price = ? WHERE id = ?", str(signed + 1), offered.accepted["id"]
    )
    audited = offered.check(store_db)
    assert "chain.price" in _fields(audited, offered.accepted)
    [on_chain] = [f for f in audited.mismatches if f.field == "chain.price"]
    assert (on_chain.tx, on_chain.block) == (offered.financing_tx, offered.financing_block)
    assert (on_chain.recorded, on_chain.expected) == (signed + 1, signed)
    assert f"tx {offered.financing_tx}" in str(on_chain) and f"piece {offered.accepted['pieceId']}" in str(on_chain)


def test_an_offer_without_a_pricing_record_is_listed_as_not_checked_not_as_a_mismatch(
    offered: Offered, tmp_path: Path
) -> None:
    store_db = _store_copy(
        offered,
        tmp_path,
        "UPDATE api_offers SET policy_hash = NULL, model_version = NULL, quote = NULL WHERE id = ?",
        offered.open["id"],
    )
    audited = offered.check(store_db)
    assert audited.ok and audited.agree == [offered.accepted["id"]]
    assert [(f.offer, f.field) for f in audited.unchecked] == [(offered.open["id"], "pricing")]
    replayed = audit_cli.Audited(offered.result.report, None, audited)
    assert (replayed.exit_status(), replayed.exit_status(strict=True)) == (0, audit_cli.EXIT_UNCHECKED)


def test_a_quote_whose_seller_pd_disagrees_with_the_scorer_on_chain_is_named_by_the_input(
    offered: Offered, tmp_path: Path
) -> None:
    quote = json.loads(json.dumps(offered.open["pricing"]["quote"]))
    request = quote["inputs"]["request"]
    true_pd = request["seller_pd_bps"]
    assert request["recourse"] is False, "without recourse the seller's PD is recorded but does not move the price"
    request["seller_pd_bps"] = true_pd + 1
    text = json.dumps(quote, sort_keys=True, separators=(",", ":"))
    store_db = _store_copy(offered, tmp_path, "UPDATE api_offers SET quote = ? WHERE id = ?", text, offered.open["id"])
    audited = offered.check(store_db)
    # The price still follows from the record (b, c): only the record's account of the ledger (d) is wrong.
    assert _fields(audited, offered.open) == {"inputs.seller_pd_bps"}
    [finding] = audited.mismatches
    assert (finding.recorded, finding.expected) == (true_pd + 1, true_pd)
    assert offered.open["holder"] in finding.detail and f"as of block {finding.block}" in finding.detail


def _requoted(offered: Offered, tmp_path: Path, change: Any) -> str:
    """A store copy where the open offer's quote is ``change``d (a function of the quote's request)."""
    quote = json.loads(json.dumps(offered.open["pricing"]["quote"]))
    change(quote["inputs"]["request"])
    text = json.dumps(quote, sort_keys=True, separators=(",", ":"))
    return _store_copy(offered, tmp_path, "UPDATE api_offers SET quote = ? WHERE id = ?", text, offered.open["id"])


def test_a_quote_from_before_desks_recorded_the_block_is_checked_by_its_time_and_listed_undated(
    offered: Offered, tmp_path: Path
) -> None:
    audited = offered.check(_requoted(offered, tmp_path, lambda request: request.pop("as_of_block")))
    assert audited.ok and sorted(audited.agree) == sorted([offered.accepted["id"], offered.open["id"]])
    [undated] = audited.undated
    assert undated.offer == offered.open["id"] and undated.field == "inputs.as_of_block"
    assert "no as-of block recorded" in str(undated) and undated.block is not None
    lines = offer_lines(audited)
    assert "1 with no as-of block recorded" in lines[0]
    assert any(line.startswith(f"  [undated] offer {offered.open['id']}") for line in lines)


def test_a_quote_whose_as_of_block_is_moved_is_checked_as_of_that_block_and_named_there(
    offered: Offered, tmp_path: Path
) -> None:
    recorded = int(offered.open["pricing"]["asOfBlock"])
    # Long before the piece was split off: the ledger the quote describes did not exist as of that block.
    early = offered.check(_requoted(offered, tmp_path, lambda request: request.update(as_of_block=1)))
    [face] = [f for f in early.mismatches if f.field == "inputs.face"]
    assert (face.offer, face.block) == (offered.open["id"], 1) and "does not exist as of block 1" in face.detail
    assert str(face).startswith(f"offer {offered.open['id']}, piece {offered.open['pieceId']}, bank ")
    assert early.agree == [offered.accepted["id"]]
    # A block the chain has not made: the record is wrong, not merely unchecked.
    future = offered.check(_requoted(offered, tmp_path, lambda request: request.update(as_of_block=recorded + 10**6)))
    assert [(f.offer, f.field) for f in future.mismatches] == [(offered.open["id"], "inputs.as_of_block")]
    assert "beyond the chain's head" in future.mismatches[0].detail


def test_a_quote_priced_with_another_model_than_the_sellers_published_limit_is_named(
    offered: Offered, tmp_path: Path
) -> None:
    other = "0x" + "ab" * 32
    quote = json.loads(json.dumps(offered.open["pricing"]["quote"]))
    quote["inputs"]["request"]["model_version"] = quote["model"] = other
    text = json.dumps(quote, sort_keys=True, separators=(",", ":"))
    change = "UPDATE api_offers SET quote = ?, model_version = ? WHERE id = ?"
    audited = offered.check(_store_copy(offered, tmp_path, change, text, other, offered.open["id"]))
    [published] = [f for f in audited.mismatches if "published under model" in f.detail]
    assert published.field == "inputs.model_version" and published.recorded == other
    assert published.block == int(offered.open["pricing"]["asOfBlock"])
    assert published.expected == offered.models[0].version
