"""Raw log paging, fast decoding and the history digest, against web3's own decoding."""

from __future__ import annotations

import pytest
from hexbytes import HexBytes

from ledger.eth.events import EventDecoder
from ledger.eth.history import HistoryDigest, LogDecoder, RawLog, UnknownEvent, fetch_logs
from tests.support.deployments import Deployed
from tests.support.escrow import World, open_world
from tests.support.worlds import world_fixtures

# Both backends: without an HTTP endpoint the pages come through web3 from eth-tester's filters.
pytestmark = pytest.mark.parity


module_world = world_fixtures(open_world).module_world


def decoder_of(deployed: Deployed) -> LogDecoder:
    return LogDecoder(deployed.addresses, {name: deployed.build[name].abi for name in deployed.addresses})


def all_logs(deployed: Deployed, span: int) -> list[RawLog]:
    decoder = decoder_of(deployed)
    head = deployed.chain.block_number
    return [log for _, _, page in fetch_logs(deployed.chain, decoder.addresses, 0, head, span=span) for log in page]


def test_paged_logs_are_every_log_in_chain_order_whatever_the_span(module_world: World, deployed: Deployed) -> None:
    whole = all_logs(deployed, 100_000)
    assert len(whole) > 50
    assert all_logs(deployed, 1) == whole == all_logs(deployed, 7)
    positions = [(log.block_number, log.log_index) for log in whole]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_the_fast_decoder_agrees_with_web3_on_every_log(module_world: World, deployed: Deployed) -> None:
    decoder = decoder_of(deployed)
    for raw in all_logs(deployed, 1_000):
        decoded = decoder.decode(raw)
        contract = deployed.chain.contract(deployed.build[decoded.contract], raw.address)
        receipt = {"logs": [_web3_log(raw)]}
        (expected,) = EventDecoder(contract).decode(receipt)  # type: ignore[arg-type]
        assert decoded.event == expected.name
        assert decoded.args == {k: _plain(v) for k, v in expected.args.items()}, decoded.event


def test_a_log_of_an_unknown_event_is_refused_by_name(module_world: World, deployed: Deployed) -> None:
    raw = all_logs(deployed, 1_000)[0]
    forged = RawLog(
        raw.block_number,
        raw.block_hash,
        raw.tx_hash,
        raw.tx_index,
        raw.log_index,
        raw.address,
        ("0x" + "00" * 32,),
        raw.data,
    )
    with pytest.raises(UnknownEvent):
        decoder_of(deployed).decode(forged)


def test_the_digest_names_the_history_and_changes_with_any_log(module_world: World, deployed: Deployed) -> None:
    logs = all_logs(deployed, 1_000)
    first, second = HistoryDigest(deployed.chain.chain_id), HistoryDigest(deployed.chain.chain_id)
    first.extend(logs)
    second.extend(logs)
    assert first.hex == second.hex and first.count == len(logs)
    changed = HistoryDigest(deployed.chain.chain_id)
    changed.extend(logs[:-1])
    last = logs[-1]
    changed.add(
        RawLog(
            last.block_number,
            last.block_hash,
            last.tx_hash,
            last.tx_index,
            last.log_index,
            last.address,
            last.topics,
            last.data + "00",
        )
    )
    assert changed.hex != first.hex


def _web3_log(raw: RawLog) -> dict[str, object]:
    return {
        "address": raw.address,
        "topics": [HexBytes(t) for t in raw.topics],
        "data": HexBytes(raw.data),
        "blockNumber": raw.block_number,
        "blockHash": HexBytes(raw.block_hash),
        "transactionHash": HexBytes(raw.tx_hash),
        "transactionIndex": raw.tx_index,
        "logIndex": raw.log_index,
    }


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
