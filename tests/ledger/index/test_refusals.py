"""Refused calls: a mined, reverted call to a ledger contract becomes a row naming who tried what.

On the suite's chain (put back after each test): a receivable financed by the bank and passed on
to tier2, then tier2's attempt to finance it again (``ReceivablesAlreadyFinanced``) and the
debtor's second issuance of the same invoice (``ReceivablesInvoiceAlreadyIssued``), both mined
and failed. The indexer records both, on SQLite and PostgreSQL; the audit replay agrees with the
rows; a reorg that drops their blocks drops the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import Engine, select

from ledger.audit import Deployment, replay
from ledger.audit.sql import compare_sql
from ledger.eth.batch import BatchSender, Call
from ledger.index.sql import models
from ledger.toolchain.deploy import load_record
from tests.ledger.index.checks import assert_database_is_the_chain
from tests.support.chains import manual_mining
from tests.support.escrow import REVERT_GAS, acct, addr, mined_revert
from tests.support.index_chain import IndexChain
from tests.support.receivables import finance, finance_fn, issue, issue_fn, issue_terms, offer_of

UNIT = 10**6


@dataclass
class Refused:
    piece: int
    root: int
    finance_tx: str
    issue_tx: str
    fingerprint: str
    before: int  # a snapshot taken before the refused calls


@pytest.fixture
def refused(index_chain: IndexChain) -> Iterator[Refused]:
    deployed = index_chain.deployed
    chain = deployed.chain
    snapshot = chain.snapshot()
    try:
        terms = issue_terms(deployed, face=20_000 * UNIT, invoice="IDX-REFUSED-1", nonce=77)
        root, _ = issue(deployed, terms)
        finance(deployed, offer_of(deployed, root, price=19_000 * UNIT, nonce=70), "tier1")
        deployed.receivables.transfer(root, addr(deployed, "tier2"), acct(deployed, "bank"))
        before = chain.snapshot()
        again = offer_of(deployed, root, price=18_000 * UNIT, nonce=71)
        financed = mined_revert(deployed, finance_fn(deployed, again), acct(deployed, "tier2"))
        assert "ReceivablesAlreadyFinanced" in str(financed)
        # The same invoice re-spelled: the same fingerprint, so refused as already issued.
        duplicate = issue_terms(deployed, face=20_000 * UNIT, invoice=" idx refused 001 ", nonce=78)
        issued = mined_revert(deployed, issue_fn(deployed, duplicate), acct(deployed, "core"))
        assert "ReceivablesInvoiceAlreadyIssued" in str(issued)
        assert financed.tx_hash is not None and issued.tx_hash is not None
        tag = deployed.receivables.root(root).fingerprint
        yield Refused(root, root, _hex(financed.tx_hash), _hex(issued.tx_hash), "0x" + bytes(tag).hex(), before)
    finally:
        chain.revert(snapshot)


def _hex(value: Any) -> str:
    return HexBytes(value).to_0x_hex()


def refused_rows(engine: Engine, chain_id: int) -> dict[str, dict[str, Any]]:
    table = models.REFUSED_CALLS
    with engine.connect() as conn:
        found = conn.execute(select(table).where(table.c.chain_id == chain_id)).mappings().all()
    return {row["tx_hash"]: dict(row) for row in found}


def test_a_refused_finance_and_a_refused_issue_become_rows_naming_sender_function_error_and_args(
    index_chain: IndexChain, refused: Refused, database: Engine
) -> None:
    deployed, chain = index_chain.deployed, index_chain.chain
    with index_chain.indexer(database) as indexer:
        indexer.run()
    rows = refused_rows(database, chain.chain_id)
    assert set(rows) == {refused.finance_tx, refused.issue_tx}

    financing = rows[refused.finance_tx]
    receipt = chain.w3.eth.get_transaction_receipt(refused.finance_tx)  # type: ignore[arg-type]
    assert (financing["block_number"], financing["block_hash"], financing["tx_index"]) == (
        receipt["blockNumber"],
        _hex(receipt["blockHash"]),
        receipt["transactionIndex"],
    )
    assert financing["sender"] == addr(deployed, "tier2")
    assert (financing["contract"], financing["function"]) == ("Receivables", "finance")
    assert financing["error"] == "ReceivablesAlreadyFinanced"
    assert financing["error_args"] == {"pieceId": str(refused.piece)}
    offer = financing["args"]["offer"]
    assert offer["pieceId"] == str(refused.piece) and offer["bank"] == addr(deployed, "bank")
    assert offer["price"] == str(18_000 * UNIT) and offer["nonce"] == "71"
    assert financing["args"]["bankSignature"].startswith("0x") and len(financing["args"]["bankSignature"]) == 132

    issuing = rows[refused.issue_tx]
    assert issuing["sender"] == addr(deployed, "core")
    assert (issuing["contract"], issuing["function"], issuing["error"]) == (
        "Receivables",
        "issue",
        "ReceivablesInvoiceAlreadyIssued",
    )
    assert issuing["error_args"] == {"fingerprint": refused.fingerprint, "rootId": str(refused.root)}
    terms = issuing["args"]["terms"]
    assert terms["fingerprint"] == refused.fingerprint and terms["nonce"] == "78"
    assert to_checksum_address(terms["debtor"]) == terms["debtor"] == addr(deployed, "core")

    # The rest of the database is as before, and the audit replay agrees with every row, these too.
    assert_database_is_the_chain(database, deployed)
    record = load_record(index_chain.record)
    assert record is not None
    deployment = Deployment.from_record(record, deployed.build)
    result = replay(chain, deployment, keep_logs=True, check_views=False)
    assert result.report.counts.quiet_calls == 2
    comparison = compare_sql(result, deployment, database)
    assert [str(m) for m in comparison.mismatches] == [] and comparison.rows["refused_calls"] == 2
    with database.begin() as conn:
        table = models.REFUSED_CALLS
        conn.execute(table.update().where(table.c.tx_hash == refused.issue_tx).values(sender=addr(deployed, "tier1")))
    (mismatch,) = compare_sql(result, deployment, database).mismatches
    assert (mismatch.location.table, mismatch.location.column) == ("refused_calls", "sender")
    assert mismatch.location.key == f"refused_calls[tx_hash={refused.issue_tx}]"


def test_a_reorg_that_drops_the_refused_calls_drops_their_rows(
    index_chain: IndexChain, refused: Refused, database: Engine
) -> None:
    chain = index_chain.chain
    with index_chain.indexer(database) as indexer:
        indexer.run()
        assert len(refused_rows(database, chain.chain_id)) == 2
        chain.revert(refused.before)
        for _ in range(4):  # a longer chain without them
            chain.mine()
        done = indexer.run()
    assert done.reorgs == 1
    assert refused_rows(database, chain.chain_id) == {}
    assert_database_is_the_chain(database, index_chain.deployed)


def test_an_indexer_told_not_to_record_refusals_reads_only_the_headers_it_did_before(
    index_chain: IndexChain, refused: Refused, database: Engine
) -> None:
    with index_chain.indexer(database, refusals=False) as indexer:
        indexer.run()
    assert refused_rows(database, index_chain.chain.chain_id) == {}
    assert_database_is_the_chain(database, index_chain.deployed)


def test_refused_calls_are_found_in_blocks_read_whole_and_in_blocks_read_by_hash(
    index_chain: IndexChain, refused: Refused, database: Engine
) -> None:
    """A block mostly of quiet transactions is read whole (its top-level calls), one mostly of logged
    ones has its quiet transactions read by hash: both ways find the refused call and skip the rest."""
    deployed, chain = index_chain.deployed, index_chain.chain
    token, bank = deployed.token, acct(deployed, "bank")
    again = offer_of(deployed, refused.root, price=17_000 * UNIT, nonce=72)
    with manual_mining(chain):
        sender = BatchSender(chain, mine=True, raise_on_failure=False)
        # Two approvals (logged) and one refused financing: read by hash.
        by_hash = sender.send(
            [
                Call.of(token.functions.approve(addr(deployed, "tier1"), 1), bank),
                Call.of(token.functions.approve(addr(deployed, "tier3"), 1), bank),
                Call.of(finance_fn(deployed, again), acct(deployed, "tier2"), gas=REVERT_GAS),
            ]
        )
        # One approval, gas money (no log, to no ledger contract) and a refused financing by a non-holder: read whole.
        whole = sender.send(
            [
                Call.of(token.functions.approve(addr(deployed, "tier1"), 2), bank),
                Call(addr(deployed, "tier3"), b"", bank, value=1, label="gas money"),
                Call.of(finance_fn(deployed, again), acct(deployed, "tier1"), gas=REVERT_GAS),
            ]
        )
    mined = [{chain.w3.eth.get_transaction_receipt(h)["blockNumber"] for h in r.tx_hashes} for r in (by_hash, whole)]  # type: ignore[arg-type]
    assert [len(numbers) for numbers in mined] == [1, 1]  # each batch in a block of its own
    blocks = mined[0] | mined[1]
    assert len(blocks) == 2
    new = {result.tx_hashes[failure.index] for result in (by_hash, whole) for failure in result.failures}
    assert len(new) == 2

    with index_chain.indexer(database) as indexer:
        indexer.run()
    rows = refused_rows(database, chain.chain_id)
    assert set(rows) == {refused.finance_tx, refused.issue_tx, *new}
    assert {rows[h]["block_number"] for h in new} == blocks
    by_block = {row["block_number"]: row for h, row in rows.items() if h in new}
    # tier2 holds the financed piece (already financed); tier1 does not hold it.
    assert [by_block[min(blocks)]["error"], by_block[max(blocks)]["error"]] == [
        "ReceivablesAlreadyFinanced",
        "ReceivablesNotHolder",
    ]
    record = load_record(index_chain.record)
    assert record is not None
    deployment = Deployment.from_record(record, deployed.build)
    result = replay(chain, deployment, keep_logs=True, check_views=False)
    comparison = compare_sql(result, deployment, database)
    assert [str(m) for m in comparison.mismatches] == [] and comparison.rows["refused_calls"] == 4
