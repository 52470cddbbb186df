"""What a reader process sends the writer: a page, marshalled, comes back equal; the writer's digest of it
is the one the node's logs give."""

from __future__ import annotations

from typing import Any

from ledger.eth.history import HistoryDigest
from ledger.index.indexer import _digested_fields
from ledger.index.pages import _Cursor, _Message, _Prepared
from ledger.index.reader import _decoded, _encoded

BLOCK = "0x" + "ab" * 32
TX = "0x" + "cd" * 32
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _log(log_index: int, topics: list[str], data: str) -> dict[str, Any]:
    return {
        "blockHash": BLOCK,
        "transactionHash": TX,
        "logIndex": hex(log_index),
        "address": ADDRESS.lower(),
        "topics": topics,
        "data": data,
    }


def _row(log: dict[str, Any]) -> tuple[Any, ...]:
    """An events row as the reader makes it (the columns the digest reads, the others made up)."""
    topics = log["topics"] + [None] * (4 - len(log["topics"]))
    return (31337, 7, log["blockHash"], 1_700_000_000, log["transactionHash"], 0, int(log["logIndex"], 16),
            ADDRESS, "C", "E", *topics, log["data"], "{}")  # fmt: skip


def _page(refused: list[dict[str, Any]]) -> _Prepared:
    topic = "0x" + "11" * 32
    logs = [_log(0, [topic, topic], "0x" + "00" * 64), _log(1, [], "0x")]
    events = [("C", "E", {"amount": 2**200, "who": ADDRESS, "ok": True, "ids": [1, 2]}, 7, 0, TX, ADDRESS, 5)]
    return _Prepared(
        _Cursor(6, "0x" + "01" * 32, "", 3),
        BLOCK,
        7,
        7,
        [_row(log) for log in logs],
        events,
        [(7, BLOCK, "0x" + "01" * 32, 1_700_000_000)],
        refused,
    )


def test_a_page_sent_by_marshal_comes_back_equal_value_for_value_and_type_for_type() -> None:
    page = _page([{"chain_id": 31337, "function": "fund", "args": "[]"}])
    blob = _encoded(_Message("page", 3, 10, 9, page))
    assert blob[:1] == b"M"
    message = _decoded(blob)
    assert (message.kind, message.generation, message.head, message.target) == ("page", 3, 10, 9)
    assert message.page == page
    assert message.page is not None
    assert [type(v) for v in message.page.rows[0]] == [type(v) for v in page.rows[0]]
    assert message.page.events[0][2]["amount"] == 2**200 and isinstance(message.page.events[0], tuple)


def test_a_page_marshal_cannot_write_is_pickled_and_other_messages_too() -> None:
    page = _page([{"chain_id": 31337, "reason": ValueError("not marshal's")}])
    blob = _encoded(_Message("page", 1, 2, 2, page))
    assert blob[:1] == b"P"
    back = _decoded(blob).page
    assert back is not None and back.rows == page.rows and str(back.refused[0]["reason"]) == "not marshal's"
    idle = _decoded(_encoded(_Message("idle", 4, 5, 5)))
    assert (idle.kind, idle.generation, idle.page) == ("idle", 4, None)


def test_the_writer_digests_the_rows_as_the_node_logs_give_it() -> None:
    topic = "0x" + "22" * 32
    logs = [
        _log(0, [], "0x"),
        _log(1, [topic], "0x" + "ff" * 32),
        _log(2, [topic] * 3, "0x" + "0a" * 96),
        _log(3, [topic] * 4, "0x"),
    ]
    expected = HistoryDigest(31337, bytes(32))
    expected.add_json(logs)
    written = HistoryDigest(31337, bytes(32))
    written.add_fields(_digested_fields([_row(log) for log in logs], 0, len(logs)))
    assert (written.hex, written.count) == (expected.hex, expected.count) == (expected.hex, 4)
