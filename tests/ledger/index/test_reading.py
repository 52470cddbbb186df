"""The reading side: fast decoding, the stored JSON, the digest, the range policy, the embedded chain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.eth.history import HistoryDigest, LogDecoder, RawLog, fetch_logs, fetch_raw_logs
from ledger.index import reader
from ledger.index.indexer import Indexer
from ledger.index.pages import PAGE_EVENTS, next_span
from ledger.index.projections import HANDLERS
from ledger.index.sql import database_digest, models, open_engine
from ledger.toolchain.deploy import deploy, enrol_dev_members
from tests.ledger.index.checks import assert_database_is_the_chain, chain_digest
from tests.support.deployments import Deployed
from tests.support.escrow import acct, addr, tokens_of
from tests.support.index_chain import IndexChain


def all_logs(index_chain: IndexChain) -> tuple[LogDecoder, list[RawLog]]:
    deployed = index_chain.deployed
    decoder = LogDecoder(deployed.addresses, {name: deployed.build[name].abi for name in deployed.addresses})
    head = index_chain.chain.block_number
    return decoder, [log for _, _, page in fetch_logs(index_chain.chain, decoder.addresses, 0, head) for log in page]


def test_the_fast_decoder_agrees_with_the_abi_decoder_on_every_log(index_chain: IndexChain) -> None:
    decoder, raws = all_logs(index_chain)
    fast = decoder.decode_many(raws)
    slow = [decoder.decode(raw) for raw in raws]
    assert fast == slow
    assert [log.args for log in fast] == [log.args for log in slow]  # args are not part of equality
    assert all(plan is not None for plan in decoder.__dict__["_plans"].values())  # no event needed eth_abi


def test_the_history_has_every_event_the_projections_handle(index_chain: IndexChain) -> None:
    decoder, raws = all_logs(index_chain)
    assert set(HANDLERS) <= {(log.contract, log.event) for log in decoder.decode_many(raws)}


def test_the_stored_json_is_the_arguments_with_wide_integers_as_strings(index_chain: IndexChain) -> None:
    decoder, raws = all_logs(index_chain)
    engine = open_engine("sqlite://")
    indexer = Indexer(index_chain.chain, engine, index_chain.deployed.addresses, _abis(index_chain.deployed))
    writers = indexer._pager.writers
    for log in decoder.decode_many(raws):
        stored = json.loads(writers[(log.contract, log.event)](log.args))
        assert stored == indexer.json_args(log)
        for name, value in log.args.items():
            assert stored[name] == (
                str(value)
                if isinstance(value, int) and name in indexer._wide.get((log.contract, log.event), ())
                else value
            )


def test_the_fast_digests_are_the_history_digest(index_chain: IndexChain) -> None:
    decoder, raws = all_logs(index_chain)
    chain_id = index_chain.chain.chain_id
    slow, fast, by_json, by_fields = (HistoryDigest(chain_id) for _ in range(4))
    slow.extend(raws)
    fast.add_many(raws)
    dicts = [
        log
        for _, _, page in fetch_raw_logs(index_chain.chain, decoder.addresses, 0, raws[-1].block_number)
        for log in page
    ]
    assert [RawLog.of(log) for log in dicts] == raws
    by_json.add_json(dicts)
    by_fields.add_fields((r.block_hash, r.tx_hash, r.log_index, r.address, r.topics, r.data) for r in raws)
    assert {(d.hex, d.count) for d in (fast, by_json, by_fields)} == {(slow.hex, slow.count)}


def test_the_range_aims_at_a_page_of_events_and_moves_by_at_most_a_factor_of_two() -> None:
    assert next_span(100, 0, 100) == 200
    assert next_span(100, PAGE_EVENTS, 100) == 100
    assert next_span(100, PAGE_EVENTS * 10, 100) == 50
    assert next_span(100, PAGE_EVENTS // 10, 100) == 200
    assert next_span(1, PAGE_EVENTS * 100, 1) == 1
    assert next_span(80_000, 0, 80_000, max_span=100_000) == 100_000


def test_a_page_read_with_far_more_events_than_a_page_is_written_as_several_to_the_same_database(
    index_chain: IndexChain, new_database: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = new_database()
    with index_chain.indexer(whole) as indexer:
        read_whole = indexer.run()
    # The range policy still aims at pages of 5,000 events; the reader cuts what it reads at 40.
    monkeypatch.setattr(reader, "PAGE_EVENTS", 40)
    monkeypatch.setattr(reader, "SPLIT_EVENTS", 60)
    cut = new_database()
    with index_chain.indexer(cut) as indexer:
        read_cut = indexer.run()
    assert read_cut.written == read_whole.written > 120
    assert read_cut.pages >= read_whole.pages + read_whole.written // 60
    assert_database_is_the_chain(cut, index_chain.deployed)
    assert table_rows(cut) == table_rows(whole)


def table_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted, but the cursor's wall-clock ``updated_at``."""
    with engine.connect() as conn:
        return {
            table.name: sorted(
                map(tuple, conn.execute(select(*(c for c in table.columns if c.name != "updated_at"))).all()), key=repr
            )
            for table in models.metadata.sorted_tables
        }


def test_the_embedded_chain_indexes_through_a_reader_thread(build: BuildResult, tmp_path: Path) -> None:
    chain = Chain.embedded(errors=ErrorDecoder(build.artifacts.values()))
    assert chain.accounts is not None
    record = tmp_path / f"{chain.chain_id}.json"
    result = deploy(chain, build, chain.accounts["admin"], record)
    enrol_dev_members(chain, build, result.addresses["Membership"], chain.accounts)
    deployed = Deployed("embedded", chain, build, chain.accounts, result.addresses)
    tokens = tokens_of(deployed)
    tokens.mint(addr(deployed, "tier1"), 10**9, acct(deployed, "bank"))
    tokens.transfer(addr(deployed, "tier2"), 10**6, acct(deployed, "tier1"))
    engine = open_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with Indexer.for_deployment(chain, engine, build, record) as indexer:
        assert indexer.reader_kind == "thread"
        done = indexer.run()
    assert done.caught_up and done.block == chain.block_number
    assert database_digest(engine, chain.chain_id) == chain_digest(deployed)
    with engine.connect() as conn:
        stamps = conn.execute(select(models.EVENTS.c.block_timestamp)).scalars().all()
    assert all(stamp > 0 for stamp in stamps)  # eth-tester's logs carry no time: the headers gave it


def _abis(deployed: Deployed) -> dict[str, list[dict[str, object]]]:
    return {name: deployed.build[name].abi for name in deployed.addresses}
