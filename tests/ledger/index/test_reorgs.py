"""Reorgs: anvil's evm_snapshot / evm_revert replace blocks the indexer has written with others."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_utils import keccak
from sqlalchemy import Engine

from ledger.index.errors import FinalityViolated, ReorgTooDeep
from ledger.index.sql import database_digest, table_snapshot
from tests.ledger.index.checks import assert_database_is_the_chain, cursor_of
from tests.support.escrow import acct, addr, create_order, fund, make_terms, send_trusted, tokens_of
from tests.support.index_chain import IndexChain
from tests.support.receivables import repay

UNIT = 10**6


@pytest.fixture
def fork_point(index_chain: IndexChain) -> Iterator[IndexChain]:
    """The scenario's chain, put back as it was after the test."""
    snapshot = index_chain.chain.snapshot()
    yield index_chain
    index_chain.chain.revert(snapshot)


def fork_a(index_chain: IndexChain, blocks: int) -> None:
    """Blocks that touch rows the scenario made: balances, a member, an order, a defaulted root."""
    deployed = index_chain.deployed
    tokens = tokens_of(deployed)
    actions: list[Callable[[], object]] = [
        lambda: tokens.transfer(addr(deployed, "tier3"), 11 * UNIT, acct(deployed, "core")),
        lambda: send_trusted(
            deployed,
            deployed.membership.functions.suspend(addr(deployed, "tier2"), keccak(text="fork a")),
            acct(deployed, "admin"),
        ),
        lambda: fund(deployed, create_order(deployed, make_terms(deployed, po="FORK-A", nonce=901))[0]),
        lambda: repay(deployed, index_chain.scenario.roots["defaulted"], 1_000 * UNIT),
        lambda: tokens.transfer(addr(deployed, "tier1"), 13 * UNIT, acct(deployed, "tier3")),
        lambda: deployed.chain.mine(),
    ]
    for action in actions[:blocks]:
        action()


def fork_b(index_chain: IndexChain, blocks: int) -> None:
    """Other blocks at the same heights: other amounts, other parties, other times."""
    deployed = index_chain.deployed
    tokens = tokens_of(deployed)
    deployed.chain.advance_time(600)
    actions: list[Callable[[], object]] = [
        lambda: tokens.transfer(addr(deployed, "tier2"), 5 * UNIT, acct(deployed, "core")),
        lambda: repay(deployed, index_chain.scenario.roots["defaulted"], 2_500 * UNIT),
        lambda: create_order(deployed, make_terms(deployed, po="FORK-B", nonce=902, amount=77 * UNIT)),
        lambda: tokens.transfer(addr(deployed, "tier3"), 3 * UNIT, acct(deployed, "tier1")),
        lambda: deployed.chain.mine(),
        lambda: tokens.transfer(addr(deployed, "core"), 1 * UNIT, acct(deployed, "tier2")),
        lambda: deployed.chain.mine(),
    ]
    for action in actions[: blocks - 1]:
        action()


@pytest.mark.parametrize(("a_blocks", "b_blocks"), [(5, 7), (6, 3)], ids=["longer", "shorter"])
def test_a_reorg_ends_with_the_canonical_chain(
    fork_point: IndexChain, database: Engine, new_database: Callable[[], Engine], a_blocks: int, b_blocks: int
) -> None:
    chain = fork_point.chain
    with fork_point.indexer(database) as indexer:
        indexer.run()
        base = chain.snapshot()
        fork_a(fork_point, a_blocks)
        indexer.run()
        on_a = database_digest(database, chain.chain_id)
        chain.revert(base)
        fork_b(fork_point, b_blocks)
        done = indexer.run()
    assert done.reorgs == 1 and done.rolled_back > 0
    assert database_digest(database, chain.chain_id) != on_a
    assert_database_is_the_chain(database, fork_point.deployed)
    fresh = new_database()
    with fork_point.indexer(fresh) as indexer:
        indexer.run()
    assert table_snapshot(database, chain.chain_id) == table_snapshot(fresh, chain.chain_id)


def test_a_reorg_found_by_a_synchronous_step_rolls_back_too(fork_point: IndexChain, database: Engine) -> None:
    chain = fork_point.chain
    with fork_point.indexer(database, reader="thread") as indexer:
        indexer.run()
        base = chain.snapshot()
        fork_a(fork_point, 3)
        while indexer.step():
            pass
        chain.revert(base)
        fork_b(fork_point, 4)
        assert indexer.step()  # the rollback
        assert indexer.cursor[0] < chain.block_number
        while indexer.step():
            pass
    assert_database_is_the_chain(database, fork_point.deployed)


def test_a_reorg_deeper_than_the_window_is_refused_and_nothing_written(
    fork_point: IndexChain, database: Engine
) -> None:
    chain = fork_point.chain
    with fork_point.indexer(database, window=3) as indexer:
        indexer.run()
        base = chain.snapshot()
        fork_a(fork_point, 6)
        indexer.run()
        before = (table_snapshot(database, chain.chain_id), cursor_of(database, chain.chain_id))
        chain.revert(base)
        fork_b(fork_point, 7)
        with pytest.raises(ReorgTooDeep, match="deeper than the indexer's window"):
            indexer.run()
    assert (table_snapshot(database, chain.chain_id), cursor_of(database, chain.chain_id)) == before


def test_a_reorg_of_a_block_the_network_calls_final_is_refused_and_nothing_written(
    fork_point: IndexChain, database: Engine
) -> None:
    """A network file's finality depth makes a reorg below it impossible: the indexer stops instead of following."""
    chain = fork_point.chain
    with fork_point.indexer(database, confirmations=0, finality_depth=2) as indexer:
        indexer.run()
        base, forked_at = chain.snapshot(), chain.block_number
        fork_a(fork_point, 5)
        indexer.run()
        before = (table_snapshot(database, chain.chain_id), cursor_of(database, chain.chain_id))
        chain.revert(base)
        fork_b(fork_point, 7)
        with pytest.raises(FinalityViolated, match=f"replaced block {forked_at + 1}, which was final"):
            indexer.run()
    assert (table_snapshot(database, chain.chain_id), cursor_of(database, chain.chain_id)) == before


def test_a_reorg_of_blocks_not_yet_final_is_followed_under_a_finality_depth(
    fork_point: IndexChain, database: Engine, new_database: Callable[[], Engine]
) -> None:
    chain = fork_point.chain
    with fork_point.indexer(database, confirmations=0, finality_depth=10) as indexer:
        indexer.run()
        base = chain.snapshot()
        fork_a(fork_point, 2)
        indexer.run()
        chain.revert(base)
        fork_b(fork_point, 4)
        done = indexer.run()
    assert done.reorgs == 1
    fresh = new_database()
    with fork_point.indexer(fresh) as indexer:
        indexer.run()
    assert table_snapshot(database, chain.chain_id) == table_snapshot(fresh, chain.chain_id)


def test_at_the_finality_depth_a_reorg_shallower_than_it_never_reaches_the_index(
    fork_point: IndexChain, database: Engine, new_database: Callable[[], Engine]
) -> None:
    """Confirmations at the finality depth (what ``scf index --chain NETWORK.json`` uses) index final blocks only."""
    chain = fork_point.chain
    with fork_point.indexer(database, confirmations=3, finality_depth=3) as indexer:
        indexer.run()
        base = chain.snapshot()
        fork_a(fork_point, 2)
        indexer.run()
        chain.revert(base)
        fork_b(fork_point, 4)
        done = indexer.run()
    assert done.reorgs == 0 and done.rolled_back == 0
    fresh = new_database()
    with fork_point.indexer(fresh, confirmations=3) as indexer:
        indexer.run()
    assert table_snapshot(database, chain.chain_id) == table_snapshot(fresh, chain.chain_id)
