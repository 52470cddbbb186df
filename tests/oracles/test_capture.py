"""Capture → witness → aggregator → TradeEscrow, on a real chain (anvil and embedded).

Two carrier services (the dev carrier and carrier-2) share one aggregator; the carriers'
threshold is 2. Each service keeps its own SQL store, and so does the aggregator: in-memory SQLite,
and on anvil a second time on PostgreSQL (``oracle_stores``: ``tests.support.oracle_pipeline``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.domain.escrow import ErrorDeclaration, OrderStatus
from ledger.eth.reads import RawView, ViewBatch
from ledger.model.common import OracleKind
from oracles.aggregator import Aggregator, DeclarationReceipt, Receipt, Rejection, Status, Submission
from oracles.capture import CaptureJob, CaptureService, Outcome
from oracles.epcis import parse_document
from oracles.errors import AggregatorUnavailable, EpcisDocumentError, OracleInactive
from oracles.hashing import evidence_bytes32
from oracles.mapping import Mapped, map_event
from oracles.simulator import declare_error, epcis_document
from oracles.witness import OrderFacts
from tests.support.deployments import Deployed
from tests.support.escrow import (
    CARRIER,
    DAY,
    World,
    acct,
    advance_to,
    escrow_of,
    open_world,
    read_order,
    reinstate,
    send_trusted,
    suspend,
)
from tests.support.oracle_pipeline import OracleStores, aggregator_of, shipment, witness_of
from tests.support.worlds import world_fixtures

pytestmark = pytest.mark.parity  # both backends, as the docstring says (tests/conftest.py)


module_world = world_fixtures(open_world).module_world


@dataclass
class Oracles:
    deployed: Deployed
    aggregator: Aggregator
    carriers: tuple[CaptureService, CaptureService]
    inspector: CaptureService
    stores: OracleStores

    def service(self, key: LocalAccount, kind: OracleKind) -> CaptureService:
        return CaptureService(witness_of(self.deployed, key, kind), self.aggregator, self.stores.new())


@pytest.fixture
def oracles(module_world: World, deployed: Deployed, oracle_stores: OracleStores) -> Iterator[Oracles]:
    escrow = escrow_of(deployed)
    send_trusted(deployed, escrow.contract.functions.setThreshold(CARRIER, 2), acct(deployed, "admin"))
    aggregator = aggregator_of(deployed, oracle_stores)
    o = Oracles(deployed, aggregator, None, None, oracle_stores)  # type: ignore[arg-type]
    o.carriers = (
        o.service(module_world.carriers[0], OracleKind.CARRIER),
        o.service(module_world.carriers[1], OracleKind.CARRIER),
    )
    o.inspector = o.service(module_world.inspectors[0], OracleKind.INSPECTOR)
    yield o
    aggregator.close()
    oracle_stores.release()


def shipped_order(
    deployed: Deployed, po: str, *, outcome: str = "on_time", inspection: bool = False
) -> tuple[int, bytes]:
    order_id, document = shipment(deployed, po, inspection=inspection, outcome=outcome)
    return order_id, json.dumps(document).encode()


def assert_as_recorded(service: CaptureService, job: CaptureJob) -> None:
    """The job a capture returns is what its record reads back, value for value and type for type."""
    assert repr(service.job(job.capture_id)) == repr(job)


def outcomes(job_events: Sequence[object]) -> list[tuple[str, str | None]]:
    return [(e.outcome, e.reason) for e in job_events]  # type: ignore[attr-defined]


def test_a_quorum_of_two_carriers_moves_the_order_and_the_evidence_is_the_stored_events_hash(
    oracles: Oracles, deployed: Deployed
) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-1")
    first = oracles.carriers[0].capture(document)
    assert_as_recorded(oracles.carriers[0], first)
    assert first.status == "done" and first.document_kind == "EPCISDocument"
    assert [e.outcome for e in first.events] == [Outcome.PENDING, Outcome.PENDING]
    assert all(e.detail == "1 of 2 signatures" for e in first.events)
    assert read_order(deployed, order_id).status == OrderStatus.FUNDED

    second = oracles.carriers[1].capture(document)
    assert_as_recorded(oracles.carriers[1], second)
    assert [e.outcome for e in second.events] == [Outcome.ATTESTED, Outcome.ATTESTED]
    order = read_order(deployed, order_id)
    assert order.status == OrderStatus.DELIVERED
    # An auditor recomputes each evidence hash from the document the oracle stored.
    stored = parse_document(oracles.carriers[0].document(first.capture_id))
    assert [e.occurred_at for e in stored.events] == [order.shipped_at, order.delivered_at]
    logs = escrow_of(deployed).contract.events.MilestoneAttested().get_logs(from_block=0)
    on_chain = [bytes(log["args"]["evidenceHash"]) for log in logs if log["args"]["orderId"] == order_id]
    assert on_chain == [evidence_bytes32(e.event_hash) for e in stored.events if e.event_hash]


def test_the_same_document_again_is_answered_from_the_record(oracles: Oracles, deployed: Deployed) -> None:
    _, document = shipped_order(deployed, "PO-CAPTURE-2")
    first = oracles.carriers[0].capture(document)
    again = oracles.carriers[0].capture(document)
    assert again.repeated and again.capture_id == first.capture_id and again.events == first.events
    # The same events in another document are not signed twice.
    doc = json.loads(document)
    doc["creationDate"] = "2030-01-01T00:00:00Z"
    other = oracles.carriers[0].capture(json.dumps(doc).encode())
    assert_as_recorded(oracles.carriers[0], other)
    assert other.capture_id != first.capture_id
    assert [e.outcome for e in other.events] == [Outcome.DUPLICATE, Outcome.DUPLICATE]


def test_unknown_pos_other_kinds_and_closed_orders_are_refused_with_a_reason(
    oracles: Oracles, deployed: Deployed
) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-3", inspection=True, outcome="failed_inspection")
    doc = json.loads(document)
    unknown = json.loads(json.dumps(doc).replace("PO-CAPTURE-3", "PO-NOBODY-KNOWS"))
    job = oracles.carriers[0].capture(json.dumps(unknown).encode())
    assert_as_recorded(oracles.carriers[0], job)
    by_step = {e.biz_step: (e.outcome, e.reason) for e in job.events}
    assert by_step["shipping"] == by_step["receiving"] == (Outcome.REFUSED, "unknown_po")
    assert by_step["inspecting"] == (Outcome.REFUSED, "wrong_kind")  # the kind is checked first
    job = oracles.carriers[0].capture(document)
    by_step = {e.biz_step: (e.outcome, e.reason) for e in job.events}
    assert by_step["inspecting"] == (Outcome.REFUSED, "wrong_kind")
    assert by_step["shipping"] == (Outcome.PENDING, None)
    assert read_order(deployed, order_id).status == OrderStatus.FUNDED


def test_a_closed_order_is_refused(oracles: Oracles, deployed: Deployed) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-10")
    send_trusted(deployed, escrow_of(deployed).contract.functions.refundUnshipped(order_id), acct(deployed, "core"))
    job = oracles.carriers[0].capture(document)
    assert {(e.outcome, e.reason) for e in job.events} == {(Outcome.REFUSED, "order_closed")}


def test_a_suspended_oracle_key_captures_nothing_until_reinstated(
    oracles: Oracles, deployed: Deployed, module_world: World
) -> None:
    _, document = shipped_order(deployed, "PO-CAPTURE-4")
    suspend(deployed, module_world.carriers[0].address)
    with pytest.raises(OracleInactive):
        oracles.carriers[0].capture(document)
    reinstate(deployed, module_world.carriers[0].address)
    job = oracles.carriers[0].capture(document)
    assert [e.outcome for e in job.events] == [Outcome.PENDING, Outcome.PENDING]


def test_the_witness_reads_its_standing_and_the_chain_clock_as_the_separate_reads_give_them(
    oracles: Oracles, deployed: Deployed, module_world: World
) -> None:
    witness = oracles.carriers[0].witness
    assert (
        witness.active_at() == (True, deployed.chain.timestamp()) == (witness.is_active(), deployed.chain.timestamp())
    )
    suspend(deployed, module_world.carriers[0].address)
    assert witness.active_at() == (False, deployed.chain.timestamp())
    reinstate(deployed, module_world.carriers[0].address)


def test_events_older_than_the_window_or_from_the_future_are_refused(oracles: Oracles, deployed: Deployed) -> None:
    _, document = shipped_order(deployed, "PO-CAPTURE-5")
    advance_to(deployed, deployed.chain.timestamp() + 40 * DAY)
    job = oracles.carriers[0].capture(document)
    assert {e.reason for e in job.events} == {"stale"}


def test_a_bad_document_is_refused_whole_and_leaves_no_record(oracles: Oracles, deployed: Deployed) -> None:
    _, document = shipped_order(deployed, "PO-CAPTURE-6")
    doc = json.loads(document)
    del doc["epcisBody"]["eventList"][1]["eventTime"]
    with pytest.raises(EpcisDocumentError) as info:
        oracles.carriers[0].capture(json.dumps(doc).encode())
    assert info.value.path == "epcisBody.eventList[1].eventTime"
    # nothing was signed: the good document's events are fresh, not duplicates
    assert [e.outcome for e in oracles.carriers[0].capture(document).events] == [Outcome.PENDING, Outcome.PENDING]


class Unreachable:
    def __init__(self, aggregator: Aggregator) -> None:
        self.aggregator = aggregator
        self.down = True

    def add(self, submissions: Sequence[Submission]) -> list[Receipt]:
        if self.down:
            raise AggregatorUnavailable("connection refused")
        return self.aggregator.add(submissions)

    def declare(self, declaration: ErrorDeclaration, oracle: str, signature: bytes) -> DeclarationReceipt:
        return self.aggregator.declare(declaration, oracle, signature)


def test_a_capture_the_aggregator_missed_is_completed_by_capturing_it_again(
    oracles: Oracles, deployed: Deployed
) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-7")
    oracles.carriers[1].capture(document)  # the other carrier's signature is already there
    sink = Unreachable(oracles.aggregator)
    flaky = CaptureService(oracles.carriers[0].witness, sink, oracles.stores.new())
    job = flaky.capture(document)
    assert job.status == "incomplete" and {e.outcome for e in job.events} == {Outcome.FAILED}
    sink.down = False
    retried = flaky.capture(document)
    assert retried.capture_id == job.capture_id and retried.status == "done" and retried.attempts == 2
    assert {e.outcome for e in retried.events} == {Outcome.ATTESTED}
    assert read_order(deployed, order_id).status == OrderStatus.DELIVERED


def test_the_aggregator_refuses_forged_mismatched_and_suspended_signatures(
    oracles: Oracles, deployed: Deployed, module_world: World
) -> None:
    _, document = shipped_order(deployed, "PO-CAPTURE-8")
    witness = oracles.carriers[0].witness
    mapped = [m for m in map(map_event, parse_document(document).events) if isinstance(m, Mapped)]
    signed = [j for judged in witness.judge(mapped, deployed.chain.timestamp()) for j in judged]
    good = signed[0]
    mismatched = Submission(good.attestation, module_world.carriers[1].address, good.signature)  # type: ignore[union-attr]
    garbage = Submission(good.attestation, good.oracle, b"\x01" * 65)  # type: ignore[union-attr]
    stranger = oracles.service(
        module_world.inspectors[0], OracleKind.CARRIER
    ).witness  # an inspector signing as carrier
    wrong = next(j for judged in stranger.judge(mapped, deployed.chain.timestamp()) for j in judged)
    receipts = oracles.aggregator.add(
        [mismatched, garbage, Submission(wrong.attestation, wrong.oracle, wrong.signature)]  # type: ignore[union-attr]
    )
    assert [r.rejection for r in receipts] == [
        Rejection.SIGNER_MISMATCH,
        Rejection.BAD_SIGNATURE,
        Rejection.NOT_AN_ORACLE,
    ]
    assert oracles.aggregator.status(receipts[0].key) is None  # nothing kept


def test_an_error_declaration_withdraws_a_signature_still_below_the_quorum(
    oracles: Oracles, deployed: Deployed
) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-9")
    doc = json.loads(document)
    shipping = doc["epcisBody"]["eventList"][0]
    first = oracles.carriers[0].capture(
        json.dumps(epcis_document([shipping], created_at=deployed.chain.timestamp())).encode()
    )
    key_status = [e.aggregation for e in first.events]
    assert key_status == [Status.COLLECTING]
    declaration = declare_error(shipping, declared_at=deployed.chain.timestamp(), reason="incorrect_data")
    job = oracles.carriers[0].capture(
        json.dumps(epcis_document([declaration], created_at=deployed.chain.timestamp())).encode()
    )
    assert [(e.outcome, e.reason) for e in job.events] == [(Outcome.DECLARED, "withdrawn")]
    # the other carrier's signature alone no longer reaches the quorum of 2
    later = oracles.carriers[1].capture(
        json.dumps(epcis_document([shipping], created_at=deployed.chain.timestamp())).encode()
    )
    assert [e.outcome for e in later.events] == [Outcome.REFUSED] and later.events[0].reason == "withdrawn"
    assert read_order(deployed, order_id).status == OrderStatus.FUNDED


def test_an_error_declaration_by_a_quorum_contests_an_attested_milestone(oracles: Oracles, deployed: Deployed) -> None:
    order_id, document = shipped_order(deployed, "PO-CAPTURE-11")
    for carrier in oracles.carriers:
        carrier.capture(document)
    assert read_order(deployed, order_id).status == OrderStatus.DELIVERED
    receiving = json.loads(document)["epcisBody"]["eventList"][1]
    declaration = declare_error(receiving, declared_at=deployed.chain.timestamp(), reason="did_not_occur")
    body = json.dumps(epcis_document([declaration], created_at=deployed.chain.timestamp())).encode()
    first = oracles.carriers[0].capture(body)
    assert [(e.outcome, e.reason) for e in first.events] == [(Outcome.DECLARED, "collecting")]
    second = oracles.carriers[1].capture(body)
    assert [(e.outcome, e.reason) for e in second.events] == [(Outcome.DECLARED, "contested")]
    assert read_order(deployed, order_id).status == OrderStatus.DISPUTED
    dispute = escrow_of(deployed).dispute(order_id)
    assert dispute.reason_hash == keccak(text="did_not_occur")


def test_the_witness_reads_the_same_order_facts_as_the_full_decoder(oracles: Oracles, deployed: Deployed) -> None:
    escrow = escrow_of(deployed)
    view = RawView.of(escrow.address, deployed.build["TradeEscrow"].abi, "orderOf")
    ids = list(range(1, int(escrow.contract.functions.orderCount().call()) + 1))
    raws = ViewBatch(deployed.chain).read_raw([(view, (i,)) for i in ids])
    assert len(ids) >= 5
    for order_id, raw in zip(ids, raws, strict=True):
        order = read_order(deployed, order_id)
        facts = OrderFacts.of(order_id, raw)
        assert (facts.status, facts.inspection_required, facts.shipped_at, facts.delivered_at, facts.inspected_at) == (
            order.status,
            order.terms.inspection_required,
            order.shipped_at,
            order.delivered_at,
            order.inspected_at,
        )
