"""A 30-firm, 6-month world played on anvil: its shape, its bad actors and its ground truth, read from the chain;
and what the chain does not hold: the invoice numbers, kept in the world's off-chain ``invoices.json``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.domain.fingerprints import InvoiceSecret, canonical_invoice_number, fingerprint
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.eth.proofs import ReceivableLayout, mapping_slot
from scenarios import ChainNotSupported, ScenarioConfig, WorldAlreadyPlayed, play
from scenarios.facts import read_facts
from tests.support.played_world import PlayedWorld


def world_file(world: PlayedWorld) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(world.result.world_path.read_text())
    return data


def truth_file(world: PlayedWorld) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(world.result.truth_path.read_text())
    return data


def invoices_file(world: PlayedWorld) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((world.out_dir / "invoices.json").read_text())
    return data


def test_world_file_names_the_deployment_the_periods_and_the_parties(world: PlayedWorld) -> None:
    public = world_file(world)
    assert public["format"] == 1 and (public["seed"], public["firms"], public["months"]) == (7, 30, 6)
    assert public["chain_id"] == world.chain.chain_id
    assert set(public["addresses"]) >= {"Membership", "SettlementToken", "TradeEscrow", "Receivables", "CreditRegistry"}
    start, middle, end = public["start"], public["observation_end"], public["end"]
    assert start["block"] < middle["block"] < end["block"]
    assert start["timestamp"] == 1893456000  # 2030-01-01 UTC on a fresh chain
    assert start["timestamp"] < middle["timestamp"] < end["timestamp"]
    kinds = [p["kind"] for p in public["parties"]]
    assert kinds.count("core") == 2 and kinds.count("supplier") == 28 and kinds.count("bank") == 2
    assert all(p["address"] == to_checksum_address(p["address"]) for p in public["parties"])
    assert "traits" not in json.dumps(public)  # hidden traits stay in the ground truth
    assert world.chain.w3.eth.get_block(middle["block"])["timestamp"] == middle["timestamp"]


def test_every_kind_of_activity_happened(world: PlayedWorld) -> None:
    summary = world.result.summary
    assert summary["parties"] == {
        "cores": 2, "tier1": 3, "tier2": 9, "tier3": 16, "banks": 2, "carriers": 3, "inspectors": 3, "arbiters": 1,
    }  # fmt: skip
    assert summary["escrowed_orders"] > 20 and summary["open_account_orders"] > 20
    assert summary["attested_milestones"] > 2 * summary["released"]
    assert summary["refunds"] > 0 and summary["disputes"] > 0 and summary["disputes_resolved"] > 0
    assert summary["receivables_issued"] > 10 and summary["receivables_split"] > 5
    assert summary["financings"] > 0 and 0 < summary["financed_amount"] < summary["financed_face"]
    assert summary["repayments"] > 0 and summary["claims"] > 0
    assert summary["transactions"] > 500


def test_core_receivables_reach_tier_three(world: PlayedWorld) -> None:
    assert world.result.summary["tier_depth"] == 3
    assert world.result.summary["split_depth"] >= 3


def test_most_lower_tier_suppliers_never_sell_to_a_core(world: PlayedWorld) -> None:
    parties = truth_file(world)["parties"].values()
    lower = [p for p in parties if p["tier"] in (2, 3)]
    traded = [p for p in lower if p["first_trade"] is not None]
    assert len(traded) >= 0.8 * len(lower)
    assert sum(1 for p in lower if p["sells_to_core"]) <= 0.15 * len(lower)
    assert all(p["sells_to_core"] for p in parties if p["tier"] == 1 and p["first_trade"] is not None)


def test_the_double_financing_attempts_are_mined_reverted_and_recorded(world: PlayedWorld, build: BuildResult) -> None:
    truth = truth_file(world)
    actor = truth["double_financer"]
    attempts = {a["scheme"]: a for a in truth["refused_attempts"]}
    assert set(attempts) == {"second_sale", "duplicate_invoice"}
    expected = {"second_sale": "ReceivablesNotHolder", "duplicate_invoice": "ReceivablesInvoiceAlreadyIssued"}
    w3 = world.chain.w3
    for scheme, attempt in attempts.items():
        tx = w3.eth.get_transaction(attempt["tx_hash"])
        receipt = w3.eth.get_transaction_receipt(attempt["tx_hash"])
        assert tx["from"] == actor and receipt["status"] == 0 and receipt["blockNumber"] == attempt["block"]
        # The error as the transaction ran inside its block, decoded from the node's trace.
        trace = w3.provider.make_request(
            "debug_traceTransaction",  # type: ignore[arg-type]
            [attempt["tx_hash"], {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}}],
        )["result"]
        error = world.chain.errors.decode(trace["output"])
        assert error.error == attempt["error"] == expected[scheme]
    assert world.result.summary["refused_double_financing"] == 2
    # The piece stays with the bank that bought it first; the invoice keeps its one receivable.
    receivables = ReceivablesClient(world.chain, build, world.result.addresses["Receivables"])
    assert receivables.holder_of(attempts["second_sale"]["piece_id"]) in world_file(world)["banks"]
    root_id = attempts["duplicate_invoice"]["root_id"]
    root = receivables.root(root_id)
    issued = [
        f
        for f in world.result.facts.named("ReceivableIssued")
        if f.args["fingerprint"] == "0x" + root.fingerprint.hex()
    ]
    assert [int(f.args["rootId"]) for f in issued] == [root_id]
    # A bank handed the invoice re-spelled fingerprints it on its own under the consortium's key and finds the root;
    # the creditor proves the number with the salt it kept.
    kept = invoices_file(world)["roots"][str(root_id)]
    cosmetic = " " + kept["invoiceNumber"].lower().replace("-0", "-") + " "
    key = world.result.config.consortium_key()
    tag = fingerprint(
        key,
        debtor=root.debtor,
        creditor=root.creditor,
        invoice_number=cosmetic,
        amount=int(kept["amount"]),
        invoice_date=kept["date"],
    )
    assert receivables.root_id_of_fingerprint(tag) == root_id
    secret = InvoiceSecret(kept["invoiceNumber"], bytes.fromhex(kept["salt"][2:]), root.invoice_commitment)
    assert secret.opens(root.invoice_commitment)


#: Names an invoice number would go by in an ABI.
INVOICE_NUMBER_NAME = re.compile(r"invoice_?(number|no|num|key|id)\b", re.IGNORECASE)


def _abi_names(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(item, argument or component name, type) of every input, output and component, recursively."""
    found: list[tuple[str, str, str]] = []

    def walk(item: str, params: list[dict[str, Any]]) -> None:
        for param in params:
            found.append((item, param.get("name", ""), param["type"]))
            walk(item, param.get("components", []))

    for entry in entries:
        walk(entry.get("name", entry["type"]), entry.get("inputs", []) + entry.get("outputs", []))
    return found


def test_no_abi_of_the_ledger_names_or_carries_an_invoice_number(build: BuildResult) -> None:
    for contract in ("Receivables", "TradeEscrow", "CreditRegistry", "Membership", "SettlementToken"):
        for item, name, kind in _abi_names(build[contract].abi):
            assert not INVOICE_NUMBER_NAME.search(name), (contract, item, name)
            assert not (item in ("issue", "issueDigest", "ReceivableIssued", "rootOf") and kind == "string"), (
                contract,
                item,
                name,
            )
    issued = next(e for e in build["Receivables"].abi if e.get("name") == "ReceivableIssued")
    assert {"fingerprint", "invoiceCommitment"} <= {i["name"] for i in issued["inputs"]}


def test_the_demo_invoice_numbers_are_in_no_log_and_no_storage_slot(world: PlayedWorld, build: BuildResult) -> None:
    kept = invoices_file(world)
    assert kept["consortium_key_id"] == world.result.config.consortium_key().key_id
    roots = {int(root_id): invoice for root_id, invoice in kept["roots"].items()}
    assert len(roots) == world.result.summary["receivables_issued"] > 10
    numbers = {invoice["invoiceNumber"] for invoice in roots.values()}
    assert all(re.fullmatch(r"INV-S7-30x6-\d{6}", n) for n in numbers), sorted(numbers)[:3]
    needles = {n.encode() for n in numbers} | {canonical_invoice_number(n).encode() for n in numbers}
    needles |= {n.lower().encode() for n in numbers} | {n.split("-")[-1].encode() + b"\x00" for n in numbers}

    w3, addresses = world.chain.w3, world.result.addresses
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": list(addresses.values())})
    assert len(logs) > 1_000
    logged = b"".join(bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]) for log in logs)
    assert not [n for n in needles if n in logged]

    receivables = ReceivablesClient(world.chain, build, addresses["Receivables"])
    layout = ReceivableLayout.from_storage_layout(build["Receivables"].storage_layout)
    stored = bytearray()
    for root_id, invoice in roots.items():
        root = receivables.root(root_id)
        assert "0x" + root.fingerprint.hex() == invoice["fingerprint"]
        assert "0x" + root.invoice_commitment.hex() == invoice["commitment"]
        for slot in layout.root_slots(root_id):
            stored += bytes(w3.eth.get_storage_at(addresses["Receivables"], slot))
    assert mapping_slot(1, layout.roots) in layout.root_slots(1)
    assert not [n for n in needles if n in stored]


def test_the_circular_traders_trade_in_both_directions(world: PlayedWorld) -> None:
    first, second = truth_file(world)["circle"]
    orders = world.result.facts.named("OrderCreated")
    circle = [f for f in orders if {f.args["buyer"], f.args["supplier"]} == {first, second}]
    assert len(circle) >= 6
    assert {f.args["buyer"] for f in circle} == {first, second}


def test_a_failed_suppliers_orders_after_its_failure_are_never_shipped(world: PlayedWorld) -> None:
    truth = truth_file(world)
    failed = {a: p["failed_at"] for a, p in truth["parties"].items() if p["failed"]}
    assert failed
    facts = world.result.facts
    shipped = {int(f.args["orderId"]) for f in facts.named("MilestoneAttested") if int(f.args["milestone"]) == 1}
    closed = {int(f.args["orderId"]) for f in facts.named("OrderRefunded", "OrderCancelled")}
    end = truth["end"]["timestamp"]
    due = [
        f for f in facts.named("OrderCreated")
        if f.args["supplier"] in failed and int(f.args["shipBy"]) >= failed[f.args["supplier"]]
    ]  # fmt: skip
    assert due
    for order in due:
        order_id = int(order.args["orderId"])
        assert order_id not in shipped
        if int(order.args["shipBy"]) < end - 7 * 86_400:
            assert order_id in closed


def test_ground_truth_holds_every_partys_hidden_side(world: PlayedWorld) -> None:
    truth = truth_file(world)
    public = world_file(world)
    assert set(truth["parties"]) == {p["address"] for p in public["parties"]}
    suppliers = [p for p in truth["parties"].values() if p["kind"] == "supplier"]
    assert all(set(p["traits"]) >= {"reliability", "late_rate", "scale", "growth", "p_fail"} for p in suppliers)
    assert all(p["tier"] == 0 and p["traits"] is None for p in truth["parties"].values() if p["kind"] == "core")
    assert truth["observation_end"] == public["observation_end"]


def test_the_facts_read_again_give_the_recorded_digest(world: PlayedWorld, build: BuildResult) -> None:
    result = world.result
    again = read_facts(world.chain, build, result.addresses, result.start.block, result.end.block)
    assert again.digest == result.digest == world_file(world)["facts_digest"]


def test_a_world_is_played_once_per_deployment(world: PlayedWorld, build: BuildResult, tmp_path: Path) -> None:
    with pytest.raises(WorldAlreadyPlayed) as caught:
        play(world.chain, build, world.result.config, tmp_path, deployment=world.result.addresses)
    assert caught.value.party == world.result.world.parties[0].address
    assert not (tmp_path / "world.json").exists()
    assert world.chain.w3.provider.make_request("anvil_getAutomine", [])["result"] is True  # type: ignore[arg-type]


def test_a_chain_without_time_control_is_refused(build: BuildResult, tmp_path: Path) -> None:
    with pytest.raises(ChainNotSupported):
        play(Chain.embedded(), build, ScenarioConfig(20, 3, 1, holdout_months=1), tmp_path)


def test_milestones_are_attested_by_a_quorum_of_the_worlds_oracles(world: PlayedWorld) -> None:
    parties = world.result.world.parties
    carriers = {p.address for p in parties if p.kind == "carrier"}
    inspectors = {p.address for p in parties if p.kind == "inspector"}
    attested = world.result.facts.named("MilestoneAttested")
    assert attested
    for fact in attested:
        signers = set(fact.args["signers"])
        assert len(signers) >= 2
        assert signers <= (carriers if int(fact.args["milestone"]) in (1, 2) else inspectors)
    # Every attestation came from an EPCIS event the oracle services captured.
    assert world.result.summary["epcis_events"]["attested"] >= len(attested)


def test_every_financing_is_one_banks_and_the_banks_compete_by_price(world: PlayedWorld) -> None:
    summary = world.result.summary
    policy, flat = summary["banks"]
    assert policy["pricing"].startswith("desk policy") and flat["pricing"].startswith("flat")
    assert sum(b["financed"]["total"] for b in summary["banks"]) == summary["financed_amount"]
    assert sum(b["pieces"] for b in summary["banks"]) == summary["financings"]
    for bank in summary["banks"]:
        market = bank["market"]
        assert sum(market["won"].values()) <= sum(market["offers"].values()) <= sum(market["requests"].values())
        assert bank["resolved"] + bank["outstanding"] == bank["financed"]["total"]
    # The flat bank answers every request in tenor; the policy bank only what its policy prices.
    assert flat["fill_rate_tier23"] == 1.0 and flat["market"]["declined"] == {}
    assert policy["market"]["won"] != {"tier1": 0, "tier2": 0, "tier3": 0}


def test_suppliers_draw_before_shipment_from_the_lowest_fee_within_each_banks_published_limit(
    world: PlayedWorld, build: BuildResult
) -> None:
    facts = world.result.facts
    summary = world.result.summary
    released = facts.named("PrepaymentReleased")
    assert released, "no supplier drew a pre-payment"
    banks = {b["address"]: b for b in summary["banks"]}
    for fact in released:
        amount, fee = int(fact.args["amount"]), int(fact.args["fee"])
        assert 0 < fee < amount and fact.args["guarantor"] in banks
    published = {(f.args["bank"], f.args["party"]) for f in facts.named("LimitPublished")}
    assert all((f.args["guarantor"], f.args["supplier"]) in published for f in released)
    for bank in summary["banks"]:
        pre, market = bank["pre_shipment"], bank["market"]["pre_shipment"]
        assert pre["prepayments"] == sum(market["won"].values()) <= sum(market["offers"].values())
        assert pre["resolved"] + pre["outstanding"] == pre["guaranteed"]["total"]
        assert pre["losses"] == pre["claimed"] - pre["recovered"] and pre["net_return"] == pre["fees"] - pre["losses"]
    # The chain agrees with the books: the fees reached the guarantors, each pool reserved what is still open.
    escrow = TradeEscrowClient(world.chain, build, world.result.addresses["TradeEscrow"])
    ended = {int(f.args["orderId"]) for f in facts.named("OrderReleased", "OrderRefunded", "DisputeResolved")}
    for address, bank in banks.items():
        open_orders = {int(f.args["orderId"]) for f in released if f.args["guarantor"] == address}
        still = sum(int(f.args["amount"]) for f in released if int(f.args["orderId"]) in open_orders - ended)
        assert escrow.pool(address)[1] == still
        assert bank["pre_shipment"]["outstanding"] == still
