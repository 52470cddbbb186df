"""The pool-hashed parser (``oracles.parallel``) gives what ``parse_document`` gives, byte for byte.

Every GS1 example, every reference document of the event-hash implementation and simulator
documents of every outcome and vocabulary spelling, parsed in process and by a
``DocumentParser`` (its threshold lowered so that small documents take the pool too), must give
equal ``ParsedDocument``s with the same event hashes (or the same hash errors); broken documents
must raise the same error, and a pool that is gone must change nothing but the speed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.model.common import OracleKind
from oracles.capture import CaptureService
from oracles.epcis import ParsedDocument, assemble, parse_document
from oracles.errors import InvalidEpcis, OracleInactive
from oracles.parallel import DocumentParser, HashPool, _slice
from oracles.simulator import Outcome, SimOrder, epcis_document, simulate
from oracles.store import open_database
from oracles.vocab import VocabularyStyle
from tests.support.epcis import DATA_DIR

DAY = 86_400
STYLES: tuple[VocabularyStyle, ...] = ("bare", "urn", "web")


@pytest.fixture(scope="module")
def pool() -> Iterator[HashPool]:
    with HashPool(2) as started:
        started.start()
        yield started


@pytest.fixture
def parser(pool: HashPool) -> DocumentParser:
    return DocumentParser(pool, min_bytes=0)


def assert_same(parsed: ParsedDocument, expected: ParsedDocument) -> None:
    assert parsed == expected
    assert [e.event_hash for e in parsed.events] == [e.event_hash for e in expected.events]
    assert [e.hash_error for e in parsed.events] == [e.hash_error for e in expected.events]
    assert [dict(e.raw) for e in parsed.events] == [dict(e.raw) for e in expected.events]


def simulated_documents() -> list[bytes]:
    rng = random.Random(19)
    bodies = []
    for style in STYLES:
        shipments = [
            simulate(SimOrder(f"PO-PAR-{style}-{i}", 1_800_000_000, 1_800_000_000 + 5 * DAY, i % 2 == 0), outcome,
                     seed=rng, style=style)
            for i, outcome in enumerate(list(Outcome) * 4)
        ]  # fmt: skip
        events = [event for shipment in shipments for event in shipment.events]
        bodies.append(json.dumps(epcis_document(events, created_at=1_800_000_000 + 9 * DAY)).encode())
    return bodies


def test_simulated_documents_hash_the_same(parser: DocumentParser) -> None:
    for body in simulated_documents():
        expected = parse_document(body)
        assert len(expected.events) > 20
        assert_same(parser.parse(body), expected)


def test_prefetched_documents_hash_the_same(parser: DocumentParser) -> None:
    bodies = simulated_documents()
    for body in bodies:
        parser.prefetch(body)
    for body in bodies:
        assert_same(parser.parse(body), parse_document(body))


def reference_documents(examples_dir: Path) -> list[Path]:
    return sorted(examples_dir.glob("*.json*")) + sorted(DATA_DIR.glob("reference_hashes/*.jsonld"))


def test_gs1_examples_and_reference_documents_hash_the_same(parser: DocumentParser, examples_dir: Path) -> None:
    paths = reference_documents(examples_dir)
    assert len(paths) > 40
    hash_errors = 0
    for path in paths:
        body = path.read_bytes()
        try:
            expected = parse_document(body)
        except InvalidEpcis as exc:
            with pytest.raises(type(exc)) as raised:
                parser.parse(body)
            assert str(raised.value) == str(exc)
            continue
        assert_same(parser.parse(body), expected)
        hash_errors += sum(e.hash_error is not None for e in expected.events)
    assert hash_errors >= 2  # the examples' unhashable events come back as errors from the workers too


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "ObjectEvent"}]}}',
        b'{"type": "EPCISDocument", "epcisBody": {"eventList": [1, 2]}}',
        b'{"type": "EPCISDocument", "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": NaN}]}}',
        b'{"type": "EPCISDocument", "epcisBody": {}}',
        b"[]",
        "\u00e9".encode("latin-1"),
    ],
)
def test_broken_documents_fail_alike(parser: DocumentParser, body: bytes) -> None:
    with pytest.raises(InvalidEpcis) as expected:
        parse_document(body)
    with pytest.raises(type(expected.value)) as raised:
        parser.parse(body)
    assert str(raised.value) == str(expected.value)


def test_a_worker_answers_none_where_the_parser_must_decide() -> None:
    assert _slice(b"{not json", 0, 1, 1 << 20) is None
    assert _slice(b'{"type": "ObjectEvent"}', 0, 1, 1 << 20) is None  # a bare event: parsed in process
    body = json.dumps({"type": "EPCISDocument", "epcisBody": {"eventList": [1, {"type": "ObjectEvent"}]}}).encode()
    assert _slice(body, 0, 1, 1 << 20) is None


def test_slices_cover_the_event_list_once() -> None:
    body = simulated_documents()[0]
    expected = parse_document(body)
    for parts in (1, 2, 3, 5):
        slices = [_slice(body, part, parts, 1 << 20) for part in range(parts)]
        assert all(s is not None for s in slices)
        assembled = assemble(body, [s for s in slices if s is not None])
        assert assembled is not None
        assert_same(assembled, expected)
    whole = _slice(body, 0, 1, 1 << 20)
    assert whole is not None
    assert assemble(body, [whole, whole]) is None  # overlapping slices make no document


def test_a_closed_pool_changes_nothing_but_the_speed() -> None:
    body = simulated_documents()[0]
    pool = HashPool(1)
    parser = DocumentParser(pool, min_bytes=0)
    pool.close()
    assert_same(parser.parse(body), parse_document(body))


class _Inactive:
    """Just enough of a Witness for a capture to parse its document and stop (no chain)."""

    address = "0x" + "00" * 20
    kind = OracleKind.CARRIER

    def is_active(self) -> bool:
        return False


def test_a_capture_service_parses_with_its_parser(pool: HashPool) -> None:
    parser = DocumentParser(pool, min_bytes=0)
    calls: list[tuple[bytes, int]] = []
    parse = parser.parse

    def spy(data: bytes, *, max_bytes: int) -> ParsedDocument:
        calls.append((data, max_bytes))
        return parse(data, max_bytes=max_bytes)

    parser.parse = spy  # type: ignore[method-assign,assignment]
    witness: Any = _Inactive()
    service = CaptureService(witness, witness, open_database("sqlite://"), clock=lambda: 0, parser=parser)
    body = simulated_documents()[0]
    service.prefetch(body)
    with pytest.raises(OracleInactive):
        service.capture(body)
    assert calls == [(body, service.max_bytes)]
