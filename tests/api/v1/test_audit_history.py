"""The decoded history of an order or a piece, over HTTP: its events, the calls that made them, its refused calls.

On the module's own chain (``fresh``): the indexer scenario's history, then two calls mined and
reverted: the buyer funding an order that was released long ago, and the tier-3 supplier financing
a piece the bank bought from it. The answers are checked against the chain itself (its logs by
topic, its transactions), not against the index they were read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hexbytes import HexBytes

from ledger.errors import ContractReverted
from tests.support.api_world import World
from tests.support.escrow import acct, addr, escrow_of, mined_revert
from tests.support.index_scenario import Scenario, play
from tests.support.receivables import finance_fn, offer_of

UNIT = 10**6


@dataclass
class Played:
    world: World
    scenario: Scenario
    fund: ContractReverted  # core funding the released order again
    finance: ContractReverted  # tier3 financing the piece the bank holds
    headers: dict[str, str]

    def history(self, kind: str, object_id: int, headers: dict[str, str] | None = None) -> Any:
        answer = self.world.client.get(f"/v1/audit/history/{kind}/{object_id}", headers=headers or self.headers)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def played(fresh: World) -> Played:
    deployed = fresh.deployed
    scenario = play(deployed)
    released = scenario.orders["prepaid_released"]
    fund = mined_revert(deployed, escrow_of(deployed).contract.functions.fund(released), acct(deployed, "core"))
    piece = scenario.pieces["financed"]
    again = offer_of(deployed, piece, price=1_000 * UNIT, nonce=99)
    finance = mined_revert(deployed, finance_fn(deployed, again), acct(deployed, "tier3"))
    fresh.index()
    return Played(fresh, scenario, fund, finance, fresh.sign_in("auditor"))


def _hex(value: Any) -> str:
    return HexBytes(value).to_0x_hex()


def _logs_naming(world: World, contract: str, topic_index: int, value: int) -> set[tuple[str, int]]:
    """(tx hash, log index) of every log of ``contract`` whose topic ``topic_index`` is ``value``: from the node."""
    topics: list[Any] = [None] * topic_index + ["0x" + value.to_bytes(32, "big").hex()]
    logs = world.chain.w3.eth.get_logs(
        {"address": world.deployed.addresses[contract], "fromBlock": 0, "toBlock": "latest", "topics": topics}
    )
    return {(_hex(log["transactionHash"]), int(log["logIndex"])) for log in logs}


def test_an_orders_history_is_its_logs_the_calls_that_made_them_and_the_refused_call_naming_it(
    played: Played,
) -> None:
    world, order_id = played.world, played.scenario.orders["prepaid_released"]
    history = played.history("orders", order_id)
    assert (history["kind"], history["id"], history["rootId"]) == ("order", str(order_id), None)

    about = [e for e in history["events"] if e["about"]]
    assert {(e["txHash"], e["logIndex"]) for e in about} == _logs_naming(world, "TradeEscrow", 1, order_id)
    assert all(e["args"]["orderId"] == str(order_id) for e in about)
    names = [e["event"] for e in about]
    for expected in ("OrderCreated", "OrderFunded", "PrepaymentReleased", "MilestoneAttested", "OrderReleased"):
        assert expected in names
    # The other logs of those transactions come along (the escrow's token movements), in chain order.
    assert any(e["contract"] == "SettlementToken" and e["event"] == "Transfer" for e in history["events"])
    places = [(e["blockNumber"], e["logIndex"]) for e in history["events"]]
    assert places == sorted(places)

    # One call per transaction, decoded from its calldata, sent by whoever the node says sent it.
    calls = history["calls"]
    assert [c["txHash"] for c in calls] == list(dict.fromkeys(e["txHash"] for e in history["events"]))
    assert {c["function"] for c in calls} == {"createOrder", "fund", "requestPrepayment", "attest", "release"}
    for call in calls:
        assert call["sender"] == world.chain.w3.eth.get_transaction(call["txHash"])["from"]
        assert call["contract"] == "TradeEscrow"
    created = next(c for c in calls if c["function"] == "createOrder")
    assert created["args"]["terms"]["buyer"] == addr(world.deployed, "core")
    assert created["args"]["terms"]["supplier"] == addr(world.deployed, "tier1")
    assert next(c for c in calls if c["function"] == "fund")["args"] == {"orderId": str(order_id)}

    # The refused call: the buyer's second funding, mined and reverted, with the contract's error decoded.
    [refused] = history["refused"]
    assert refused["txHash"] == _hex(played.fund.tx_hash)
    assert (refused["contract"], refused["function"], refused["sender"]) == (
        "TradeEscrow",
        "fund",
        addr(world.deployed, "core"),
    )
    assert refused["error"] == played.fund.error and refused["error"] is not None
    assert refused["args"] == {"orderId": str(order_id)}
    block = world.chain.w3.eth.get_block(refused["blockNumber"])
    assert refused["blockTime"] == block["timestamp"]
    assert "traces" in history["refusedScope"]
    assert history["indexedBlock"] == world.chain.block_number


def test_an_open_account_orders_history_holds_the_receivable_issued_for_it(played: Played) -> None:
    order_id, root = played.scenario.orders["open_account"], played.scenario.roots["tree"]
    history = played.history("orders", order_id)
    assert history["rootId"] == str(root)
    issued = [e for e in history["events"] if e["event"] == "ReceivableIssued"]
    assert [(e["args"]["rootId"], e["args"]["orderId"], e["about"]) for e in issued] == [
        (str(root), str(order_id), True)
    ]
    assert "issue" in {c["function"] for c in history["calls"]}
    assert history["refused"] == []  # nothing refused names it


def test_a_pieces_history_is_its_own_logs_its_receivables_and_the_refused_financing(played: Played) -> None:
    world, piece, root = played.world, played.scenario.pieces["financed"], played.scenario.roots["tree"]
    history = played.history("pieces", piece)
    assert (history["kind"], history["id"], history["rootId"]) == ("piece", str(piece), str(root))

    about = {(e["txHash"], e["logIndex"]) for e in history["events"] if e["about"]}
    # Its own logs (pieceId first, or the ERC-721 tokenId third) and its receivable's issue and repayments.
    own = _logs_naming(world, "Receivables", 1, piece) | _logs_naming(world, "Receivables", 3, piece)
    receivable = {
        (e["txHash"], e["logIndex"])
        for e in history["events"]
        if e["event"] in ("ReceivableIssued", "ReceivableRepaid", "ReceivableDefaulted")
    }
    assert own <= about and about == own | receivable
    assert receivable <= _logs_naming(world, "Receivables", 1, root)
    in_order = [e["event"] for e in history["events"] if (e["txHash"], e["logIndex"]) in receivable]
    assert in_order == ["ReceivableIssued", "ReceivableRepaid", "ReceivableRepaid"]  # issued, repaid in two parts
    by_name = {e["event"] for e in history["events"] if e["about"]}
    assert {
        "PieceCreated",
        "PieceFinanced",
        "PieceClaimed",
        "Transfer",
        "ReceivableIssued",
        "ReceivableRepaid",
    } <= by_name
    assert {c["function"] for c in history["calls"]} == {"issue", "split", "finance", "repay", "claim"}
    financed = next(c for c in history["calls"] if c["function"] == "finance")
    assert financed["args"]["offer"]["pieceId"] == str(piece)
    assert financed["args"]["bankSignature"].startswith("0x")

    [refused] = history["refused"]
    assert refused["txHash"] == _hex(played.finance.tx_hash)
    assert (refused["function"], refused["sender"]) == ("finance", addr(world.deployed, "tier3"))
    assert refused["error"] == played.finance.error and refused["error"] is not None
    assert refused["args"]["offer"]["pieceId"] == str(piece) and refused["args"]["offer"]["nonce"] == "99"


def test_a_piece_of_another_branch_has_its_own_history_not_its_siblings(played: Played) -> None:
    moved, financed = played.scenario.pieces["moved"], played.scenario.pieces["financed"]
    history = played.history("pieces", moved)
    piece_events = [e for e in history["events"] if e["about"] and "pieceId" in e["args"]]
    assert piece_events and all(e["args"]["pieceId"] == str(moved) for e in piece_events)
    assert "finance" not in {c["function"] for c in history["calls"]}  # its sibling's financing is not its own
    assert history["refused"] == []
    assert str(financed) not in {str(e["args"].get("pieceId")) for e in history["events"] if e["about"]}


def test_histories_are_for_auditors_and_an_unknown_id_is_404(played: Played) -> None:
    client, order_id = played.world.client, played.scenario.orders["prepaid_released"]
    buyer = played.world.sign_in("core")
    assert client.get(f"/v1/audit/history/orders/{order_id}", headers=buyer).status_code == 403
    assert (
        client.get(f"/v1/audit/history/pieces/{played.scenario.pieces['financed']}", headers=buyer).status_code == 403
    )
    for kind in ("orders", "pieces"):
        missing = client.get(f"/v1/audit/history/{kind}/999999", headers=played.headers)
        assert missing.status_code == 404, missing.text
        assert client.get(f"/v1/audit/history/{kind}/0", headers=played.headers).status_code == 422
