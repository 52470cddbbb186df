"""The audit replay against real histories: clean ones agree, tampered ones are named.

Every test runs on anvil and on the in-process eth-tester chain (``deployed``), except those
that need anvil's storage editing or an HTTP URL for the command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from api.cli import audit as audit_cli
from ledger.audit import Kind, LedgerModels, Replayer, ReplayResult, check_continuity
from ledger.domain.escrow import OrderStatus, Windows
from ledger.eth.history import HistoryDigest, fetch_logs
from ledger.eth.rpc import Header, Rpc
from ledger.model.common import ROLE_ADMIN
from tests.ledger.audit.helpers import audit, deployment_of, explain
from tests.ledger.audit.history_writer import HistoryWriter
from tests.support.deployments import Deployed
from tests.support.escrow import DAY, World, acct, escrow_of, open_world
from tests.support.receivables import FACE, open_rworld, receivables_of
from tests.support.worlds import world_fixtures

# Both backends (see above): on eth-tester the replay reads without traces or batched requests.
pytestmark = pytest.mark.parity


module_world, world = world_fixtures(open_world)


def all_logs_digest(deployed: Deployed, first: int, last: int) -> str:
    digest = HistoryDigest(deployed.chain.chain_id)
    for _, _, logs in fetch_logs(deployed.chain, sorted(deployed.addresses.values()), first, last):
        digest.extend(logs)
    return digest.hex


# -- clean histories --------------------------------------------------------------------------


def test_a_clean_replay_of_the_escrow_world_finds_nothing_and_names_its_history_alike_twice(
    world: World, deployed: Deployed
) -> None:
    first = audit(deployed)
    report = first.report
    assert report.ok and report.mismatches == [], explain(first)
    assert report.gaps == []
    counts = report.counts
    # The world: 5 co-signed orders, 4 funded, 5 attestations (one signature each), 1 bank limit.
    assert counts.calls["TradeEscrow.createOrder"] == 5
    assert counts.calls["TradeEscrow.fund"] == 4
    assert counts.calls["TradeEscrow.attest"] == 5
    assert counts.calls["CreditRegistry.publish"] == 1
    assert counts.signatures == 5 * 2 + 5 + 1
    assert counts.blocks == report.to_block + 1 and counts.views > 50
    assert counts.events["TradeEscrow.MilestoneAttested"] == 5
    # The digest is HistoryDigest's over every log of the deployment: the same line the indexer can give.
    assert report.digest == all_logs_digest(deployed, 0, report.to_block)
    assert report.digest_line.endswith(report.digest) and str(report.counts.logs) in report.digest_line

    second = audit(deployed, check_views=False)
    assert second.report.digest == report.digest
    assert second.report.counts.logs == counts.logs and second.report.counts.views == 0
    json.dumps(report.to_json())  # every value JSON-ready


def test_the_replayed_state_is_returned_as_data_for_later_comparisons(world: World, deployed: Deployed) -> None:
    result = audit(deployed)
    escrow = escrow_of(deployed)
    assert result.models.escrow.order(world.delivered) == escrow.order(world.delivered)
    assert result.models.escrow.order_count == 5
    bank = acct(deployed, "bank").address
    assert result.models.escrow.pool(bank) == escrow.pool(bank)
    assert result.models.membership.member(bank).roles
    assert (
        result.report.to_block_hash
        == HexBytes(deployed.chain.w3.eth.get_block(result.report.to_block)["hash"]).to_0x_hex()
    )
    assert result.to_block_timestamp == deployed.chain.w3.eth.get_block(result.report.to_block)["timestamp"]


def test_a_from_block_narrows_the_digest_not_the_replay(world: World, deployed: Deployed) -> None:
    whole = audit(deployed, check_views=False)
    # Half way through the ledger's own history: the session's node may hold other tests' blocks before it.
    addresses = sorted(deployed.addresses.values())
    logged = [
        log.block_number
        for _, _, logs in fetch_logs(deployed.chain, addresses, 0, whole.report.to_block)
        for log in logs
    ]
    middle = (logged[0] + whole.report.to_block) // 2
    narrowed = audit(deployed, from_block=middle)
    assert narrowed.report.ok, explain(narrowed)
    assert narrowed.report.replayed_from == 0 and narrowed.report.from_block == middle
    assert narrowed.report.digest == all_logs_digest(deployed, middle, whole.report.to_block)
    assert narrowed.report.counts.logs < whole.report.counts.logs
    assert narrowed.report.counts.transactions == whole.report.counts.transactions


def test_a_replay_to_an_earlier_block_compares_the_views_of_that_block(world: World, deployed: Deployed) -> None:
    before = deployed.chain.block_number
    escrow = escrow_of(deployed)
    deployed.chain.transact(escrow.contract.functions.fund(world.created), acct(deployed, "core"))
    earlier = audit(deployed, to_block=before)
    assert earlier.report.ok, explain(earlier)
    assert (
        earlier.report.to_block == before and earlier.models.escrow.order(world.created).status == OrderStatus.CREATED
    )
    latest = audit(deployed)
    assert latest.report.ok, explain(latest)
    assert latest.report.counts.calls["TradeEscrow.fund"] == earlier.report.counts.calls["TradeEscrow.fund"] + 1
    assert latest.models.escrow.order(world.created).status == OrderStatus.FUNDED


def test_a_clean_replay_of_the_receivables_world_finds_nothing(deployed: Deployed) -> None:
    for rworld in open_rworld(deployed):
        result = audit(deployed)
        assert result.report.ok, explain(result)
        calls = result.report.counts.calls
        assert calls["TradeEscrow.createOpenAccountOrder"] == 3 and calls["Receivables.issue"] == 1
        assert result.models.receivables.root(rworld.root) == receivables_of(deployed).root(rworld.root)


def test_a_random_history_of_every_kind_of_call_replays_without_a_mismatch(world: World, deployed: Deployed) -> None:
    steps = 220 if deployed.backend == "anvil" else 60
    writer = HistoryWriter(deployed, world, seed=20_240_601)
    stats = writer.run(steps)
    result = audit(deployed)
    report = result.report
    assert report.ok, explain(result) + f"\nwritten: {dict(stats)}"
    assert report.gaps == []
    # Calls mined as failed left no log: counted, not replayed.
    assert report.counts.quiet_calls == writer.mined_failures
    assert writer.mined_failures > 0
    # Each of them reverted on chain, with the contract's custom error (or the token's, bubbled up) as revert data.
    assert report.counts.reverted_calls == writer.mined_failures
    assert all(tx.reverted and tx.output and len(tx.output) >= 10 for tx in result.quiet_calls)
    # The writer's tour calls every function the replay models (a safe transfer is a transfer).
    modelled = {f"{contract}.{function}" for contract, function in result_handlers(result)} - {
        "Receivables.safeTransferFrom"
    }
    assert modelled - set(report.counts.calls) == set()
    again = audit(deployed, check_views=False)
    assert again.report.digest == report.digest


def result_handlers(result: ReplayResult) -> list[tuple[str, str]]:
    return list(Replayer(result.models, 1, "any").handlers)


# -- what the replay catches ----------------------------------------------------------------


def _storage_base(deployed: Deployed, contract: str, key: int, words: dict[int, int], slots: int = 64) -> int:
    """The storage slot of ``mapping[key]`` (a struct) of ``contract``, found by the words it must hold."""
    w3, at = deployed.chain.w3, deployed.addresses[contract]
    for position in range(slots):
        base = int.from_bytes(keccak(key.to_bytes(32, "big") + position.to_bytes(32, "big")), "big")
        found = all(
            int.from_bytes(bytes(w3.eth.get_storage_at(at, base + offset)), "big") == value
            for offset, value in words.items()
        )
        if found:
            return base
    raise AssertionError(f"no mapping of {contract} holds {words} at key {key}")


def _set_storage(deployed: Deployed, contract: str, slot: int, value: int) -> None:
    answer = deployed.chain.w3.provider.make_request(  # type: ignore[arg-type]
        "anvil_setStorageAt", [deployed.addresses[contract], hex(slot), "0x" + value.to_bytes(32, "big").hex()]
    )
    assert "error" not in answer, answer
    deployed.chain.mine()


def test_an_order_status_changed_in_storage_is_named_by_the_view_that_disagrees(
    world: World, deployed: Deployed
) -> None:
    if deployed.backend != "anvil":
        pytest.skip("storage is edited with anvil_setStorageAt")
    escrow = escrow_of(deployed)
    order = escrow.order(world.funded)
    base = _storage_base(deployed, "TradeEscrow", world.funded, {0: int(order.terms.buyer, 16), 3: order.terms.amount})
    word = int.from_bytes(
        bytes(deployed.chain.w3.eth.get_storage_at(deployed.addresses["TradeEscrow"], base + 9)), "big"
    )
    _set_storage(deployed, "TradeEscrow", base + 9, (word & ~0xFF) | OrderStatus.RELEASED)
    assert escrow.order(world.funded).status is OrderStatus.RELEASED  # the chain now says so

    result = audit(deployed)
    assert not result.report.ok
    (mismatch,) = result.report.mismatches
    assert mismatch.kind is Kind.VIEW
    assert (mismatch.location.contract, mismatch.location.view, mismatch.location.key) == (
        "TradeEscrow",
        "orderOf",
        str(world.funded),
    )
    assert mismatch.expected["status"] == OrderStatus.FUNDED and mismatch.actual["status"] == OrderStatus.RELEASED
    assert f"view orderOf({world.funded})" in "\n".join(result.report.lines())


def test_a_receivable_amount_changed_in_storage_is_named_by_its_piece(deployed: Deployed) -> None:
    if deployed.backend != "anvil":
        pytest.skip("storage is edited with anvil_setStorageAt")
    for rworld in open_rworld(deployed):
        base = _storage_base(deployed, "Receivables", rworld.root, {0: rworld.root, 2: FACE})
        _set_storage(deployed, "Receivables", base + 2, FACE * 2)
        result = audit(deployed)
        found = {(m.kind, m.location.view, m.location.key) for m in result.report.mismatches}
        assert (Kind.VIEW, "pieceOf", str(rworld.root)) in found, explain(result)
        assert all(m.location.key == str(rworld.root) for m in result.report.mismatches)


def test_a_replay_whose_roster_differs_from_the_chain_names_every_call_it_then_rejects(
    world: World, deployed: Deployed
) -> None:
    carrier = acct(deployed, "carrier").address
    models = LedgerModels(deployment_of(deployed).addresses)
    # The auditor's models believe the carrier was an admin from the start: wrong.
    models.membership.constructor(carrier, bytes(32), now=0)
    assert models.roster.has_role(carrier, ROLE_ADMIN)
    result = audit(deployed, models=models)
    assert not result.report.ok
    rejected = [m for m in result.report.mismatches if m.kind is Kind.REJECTED]
    functions = {(m.location.contract, m.location.function) for m in rejected}
    assert ("Membership", "admit") in functions  # the carrier's admission: MembershipAlreadyMember
    assert ("TradeEscrow", "attest") in functions  # its signatures: not an oracle's
    admit = next(m for m in rejected if m.location.function == "admit")
    assert "MembershipAlreadyMember" in admit.expected and admit.location.tx and admit.location.block
    assert admit.actual == ["Membership.MemberAdmitted"]


def test_a_replay_whose_windows_differ_names_the_event_argument_and_the_view(world: World, deployed: Deployed) -> None:
    escrow = escrow_of(deployed)
    receipt = deployed.chain.transact(
        escrow.contract.functions.openDispute(world.delivered, keccak(text="damaged")), acct(deployed, "core")
    )
    models = LedgerModels(deployment_of(deployed).addresses)
    # The auditor's escrow believes the supplier has two days to answer, not three.
    models.escrow.windows = Windows(30 * DAY, 2 * DAY, 15 * DAY, 30 * DAY)
    result = audit(deployed, models=models)
    found = {(m.kind, m.location.function, m.location.view) for m in result.report.mismatches}
    assert found >= {
        (Kind.EVENT_ARGS, "openDispute", None),
        (Kind.VIEW, None, "disputeOf"),
        (Kind.VIEW, None, "windows"),
    }
    event = next(m for m in result.report.mismatches if m.kind is Kind.EVENT_ARGS)
    assert event.location.tx == HexBytes(receipt["transactionHash"]).to_0x_hex()
    assert event.actual - event.expected == DAY and "DisputeOpened.answerBy" in event.detail


def test_a_broken_parent_hash_is_a_continuity_mismatch_at_its_block(deployed: Deployed) -> None:
    headers = Rpc(deployed.chain).headers(0, min(5, deployed.chain.block_number))
    assert check_continuity(headers) == []
    broken = list(headers)
    third = broken[2]
    broken[2] = Header(third.number, third.hash, "0x" + "ee" * 32, third.timestamp, third.transactions)
    (mismatch,) = check_continuity(broken)
    assert mismatch.kind is Kind.CONTINUITY and mismatch.location.block == third.number
    assert (mismatch.expected, mismatch.actual) == (headers[1].hash, "0x" + "ee" * 32)
    gap = [*headers[:2], *headers[3:]]
    (skipped,) = check_continuity(gap)
    assert skipped.detail == "blocks out of sequence" and skipped.location.block == headers[3].number


def test_a_call_no_model_covers_is_a_gap_not_a_mismatch(deployed: Deployed) -> None:
    for rworld in open_rworld(deployed):
        client = receivables_of(deployed)
        tier1, relayer = acct(deployed, "tier1"), acct(deployed, "relayer")
        deployed.chain.transact(client.contract.functions.approve(relayer.address, rworld.root), tier1)
        result = audit(deployed)
        assert result.report.ok, explain(result)
        (gap,) = result.report.gaps
        assert (gap.location.contract, gap.location.function) == ("Receivables", "approve")
        assert "not modelled" in gap.reason


# -- the command line -------------------------------------------------------------------------


def _record(deployed: Deployed, path: Path) -> Path:
    contracts = {name: {"address": at, "blockNumber": 0} for name, at in deployed.addresses.items()}
    path.write_text(json.dumps({"format": 1, "chainId": deployed.chain.chain_id, "contracts": contracts}))
    return path


def test_the_command_writes_the_report_and_exits_by_what_it_found(
    world: World, deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if deployed.backend != "anvil":
        pytest.skip("the command connects to a node by URL")
    record = _record(deployed, tmp_path / "deployment.json")
    out = tmp_path / "report.json"
    argv = ["audit", "replay", "--chain", deployed.chain.endpoint, "--deployment", str(record), "--quiet"]
    assert audit_cli.main([*argv, "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["ok"] is True and written["mismatches"] == []
    assert written["digest"] == all_logs_digest(deployed, 0, written["toBlock"])
    printed = capsys.readouterr().out
    assert f"OK chain {deployed.chain.chain_id}" in printed and written["digest"] in printed

    order = escrow_of(deployed).order(world.funded)
    base = _storage_base(deployed, "TradeEscrow", world.funded, {0: int(order.terms.buyer, 16), 3: order.terms.amount})
    _set_storage(deployed, "TradeEscrow", base + 9, 0)
    assert audit_cli.main([*argv, "--json", str(out)]) == audit_cli.EXIT_MISMATCH
    written = json.loads(out.read_text())
    assert written["ok"] is False and written["mismatchKinds"] == {"view": 1}
    assert written["mismatches"][0]["location"] == {
        "block": written["toBlock"],
        "contract": "TradeEscrow",
        "view": "orderOf",
        "key": str(world.funded),
    }
    assert "MISMATCH" in capsys.readouterr().out


def test_the_command_refuses_a_deployment_of_another_chain(deployed: Deployed, tmp_path: Path) -> None:
    if deployed.backend != "anvil":
        pytest.skip("the command connects to a node by URL")
    record = _record(deployed, tmp_path / "deployment.json")
    data = json.loads(record.read_text())
    data["chainId"] = 1
    record.write_text(json.dumps(data))
    argv = ["audit", "replay", "--chain", deployed.chain.endpoint, "--deployment", str(record), "--quiet"]
    assert audit_cli.main(argv) == 2


def test_addresses_in_the_report_are_checksummed(world: World, deployed: Deployed) -> None:
    report = audit(deployed, check_views=False).report.to_json()
    assert report["addresses"] == {k: to_checksum_address(v) for k, v in deployed.addresses.items()}
