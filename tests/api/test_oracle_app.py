"""The oracle services over HTTP: capture, bad input as 4xx, capture credentials, and the whole quorum path.

Every service runs in process behind its ASGI app (FastAPI's TestClient speaks HTTP to it);
the oracle services reach the aggregator through ``HttpAggregator`` on that aggregator's
own TestClient, so signatures cross a real HTTP boundary, and the aggregator sends real
transactions to the test chain. Capture clients hold a credential (``tests.support.capture_clients``).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api import cli
from api.aggregator_client import HttpAggregator
from api.errors import Unauthenticated
from api.oracle_app import CaptureClients, CaptureClientsError, create_aggregator_app, create_oracle_app
from ledger.domain.escrow import OrderStatus
from ledger.model.common import OracleKind
from oracles.capture import CaptureService
from oracles.epcis import parse_document
from oracles.hashing import event_hash, evidence_bytes32
from oracles.mapping import Mapped, map_event
from oracles.parallel import MIN_PARALLEL_BYTES, HashPool
from oracles.simulator import SimOrder, simulate
from oracles.store import open_database
from tests.support.capture_clients import AUTHORIZATION, CLIENTS, TOKEN, stranger
from tests.support.capture_clients import oracle_client as capture_client
from tests.support.deployments import Deployed
from tests.support.epcis import EPCIS_DIR
from tests.support.escrow import (
    CARRIER,
    CLAIM_WINDOW,
    INSPECTOR,
    World,
    acct,
    advance_to,
    balances,
    escrow_of,
    open_world,
    read_order,
    reinstate,
    send_trusted,
    suspend,
)
from tests.support.oracle_pipeline import aggregator_of, shipment, witness_of
from tests.support.processes import alive
from tests.support.worlds import world_fixtures

LIMIT = 64 * 1024


module_world = world_fixtures(open_world).module_world


@dataclass
class Services:
    aggregator: TestClient
    carriers: tuple[TestClient, TestClient]
    inspectors: tuple[TestClient, TestClient]


def capture_service(deployed: Deployed, key: LocalAccount, kind: OracleKind, aggregator: TestClient) -> CaptureService:
    witness = witness_of(deployed, key, kind)
    return CaptureService(witness, HttpAggregator(aggregator), open_database("sqlite://"), max_bytes=LIMIT)


def oracle_client(deployed: Deployed, key: LocalAccount, kind: OracleKind, aggregator: TestClient) -> TestClient:
    return capture_client(capture_service(deployed, key, kind, aggregator))


@pytest.fixture
def services(module_world: World, deployed: Deployed) -> Iterator[Services]:
    escrow = escrow_of(deployed)
    admin = acct(deployed, "admin")
    send_trusted(deployed, escrow.contract.functions.setThreshold(CARRIER, 2), admin)
    send_trusted(deployed, escrow.contract.functions.setThreshold(INSPECTOR, 2), admin)
    aggregator = aggregator_of(deployed)
    hub = TestClient(create_aggregator_app(aggregator))
    carriers = tuple(oracle_client(deployed, k, OracleKind.CARRIER, hub) for k in module_world.carriers[:2])
    inspectors = tuple(oracle_client(deployed, k, OracleKind.INSPECTOR, hub) for k in module_world.inspectors[:2])
    yield Services(hub, carriers, inspectors)  # type: ignore[arg-type]
    aggregator.close()


def oracle_app_of(service: CaptureService, *, parse_workers: int) -> TestClient:
    """The app of ``service`` with ``parse_workers``; its pool lives while the client is entered (``with``)."""
    app = create_oracle_app(service, clients=CLIENTS, parse_workers=parse_workers)
    return TestClient(app, headers=AUTHORIZATION)


def post(client: TestClient, document: object, content_type: str = "application/ld+json") -> httpx.Response:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post("/capture", content=body, headers={"content-type": content_type})


def test_shipping_receiving_and_inspection_through_two_carriers_and_two_inspectors_release_the_order(
    services: Services, deployed: Deployed
) -> None:
    order_id, document = shipment(deployed, "PO-HTTP-1", inspection=True, seed=3)
    events = document["epcisBody"]["eventList"]
    inspecting = [e for e in events if "inspecting" in e.get("bizStep", "")]
    logistics = {**document, "epcisBody": {"eventList": [e for e in events if e not in inspecting]}}
    inspection = {**document, "epcisBody": {"eventList": inspecting}}
    captured = []
    for client in services.carriers:
        answer = post(client, logistics)
        assert answer.status_code == 202 and answer.headers["location"] == f"/capture/{answer.json()['captureID']}"
        captured.append((client, answer.json()["captureID"]))
    assert read_order(deployed, order_id).status == OrderStatus.DELIVERED
    for client in services.inspectors:
        answer = post(client, inspection)
        assert answer.status_code == 202
        captured.append((client, answer.json()["captureID"]))
    order = read_order(deployed, order_id)
    assert order.status == OrderStatus.INSPECTED

    # the claim window passes; anyone releases; the supplier is paid
    advance_to(deployed, order.delivered_recorded_at + CLAIM_WINDOW + 1)
    _, supplier_before = balances(deployed)
    escrow_of(deployed).release(order_id, acct(deployed, "relayer"))
    assert read_order(deployed, order_id).status == OrderStatus.RELEASED
    assert balances(deployed)[1] == supplier_before + order.terms.amount

    # An auditor fetches each stored document and recomputes the evidence behind every milestone.
    recomputed = []
    for client, capture_id in captured[::2]:  # one service of each kind holds each document
        stored = client.get(f"/capture/{capture_id}/document")
        assert stored.status_code == 200
        parsed = parse_document(stored.content)
        milestones = [e for e in parsed.events if isinstance(map_event(e), Mapped)]
        recomputed += [evidence_bytes32(event_hash(dict(e.raw), parsed.context)) for e in milestones]
    logs = escrow_of(deployed).contract.events.MilestoneAttested().get_logs(from_block=0)
    assert [bytes(log["args"]["evidenceHash"]) for log in logs if log["args"]["orderId"] == order_id] == recomputed


def test_a_capture_job_can_be_polled_and_the_same_document_is_answered_200(
    services: Services, deployed: Deployed
) -> None:
    _, document = shipment(deployed, "PO-HTTP-2", seed=3)
    first = post(services.carriers[0], document)
    job = services.carriers[0].get(first.headers["location"])
    assert job.status_code == 200 and job.json() == first.json()
    assert job.headers["gs1-epcis-version"] == "2.0.0"
    assert [e["outcome"] for e in job.json()["events"]] == ["pending", "ignored", "pending"]  # transporting
    again = post(services.carriers[0], document)
    assert again.status_code == 200 and again.json()["captureID"] == first.json()["captureID"]
    assert again.json()["repeated"] is True


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error", "field"),
    [
        (b'{"type": "EPCISDocument", "epcisBody": ', "application/json", 400, "malformed_json", "epcisBody"),
        (b"[1, 2, 3]", "application/json", 422, "invalid_epcis", None),
        (b"{}", "text/plain", 415, "unsupported_media_type", None),
        (b"x" * (LIMIT + 1), "application/json", 413, "document_too_large", None),
        ("missing eventTime", "application/ld+json", 422, "invalid_epcis", "epcisBody.eventList[0].eventTime"),
        ("eventTime without zone", "application/ld+json", 422, "invalid_epcis", "epcisBody.eventList[0].eventTime"),
    ],
)
def test_bad_documents_get_a_4xx_naming_the_problem_and_leave_nothing_behind(
    services: Services, deployed: Deployed, body: object, content_type: str, status: int, error: str, field: str | None
) -> None:
    _, document = shipment(deployed, "PO-HTTP-3", seed=3)
    if body == "missing eventTime":
        del document["epcisBody"]["eventList"][0]["eventTime"]
        body = document
    elif body == "eventTime without zone":
        document["epcisBody"]["eventList"][0]["eventTime"] = "2026-11-26T10:00:00"
        document["epcisBody"]["eventList"][0].pop("eventTimeZoneOffset", None)
        body = document
    answer = post(services.carriers[0], body, content_type)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    assert answer.json().get("field") == field


def test_an_unknown_capture_is_404_and_a_suspended_oracle_403_until_reinstated(
    services: Services, deployed: Deployed, module_world: World
) -> None:
    assert services.carriers[0].get("/capture/cap_nothing").status_code == 404
    _, document = shipment(deployed, "PO-HTTP-4", seed=3)
    suspend(deployed, module_world.carriers[0].address)
    refused = post(services.carriers[0], document)
    assert refused.status_code == 403 and refused.json()["error"] == "oracle_inactive"
    assert services.carriers[0].get("/health").json()["active"] is False
    reinstate(deployed, module_world.carriers[0].address)
    assert post(services.carriers[0], document).status_code == 202


def test_the_aggregator_names_the_field_of_a_malformed_submission_and_refuses_forgeries(
    services: Services, deployed: Deployed, module_world: World
) -> None:
    bad = services.aggregator.post("/attestations", json=[{"attestation": {"orderId": 1}, "oracle": "0x12"}])
    assert bad.status_code == 422
    fields = {tuple(item["loc"]) for item in bad.json()["detail"]}
    assert ("body", 0, "attestation", "milestone") in fields and ("body", 0, "oracle") in fields
    forged = {
        "attestation": {"orderId": 1, "milestone": 1, "occurredAt": 1, "evidenceHash": "0x" + "11" * 32},
        "oracle": module_world.carriers[0].address,
        "signature": "0x" + "22" * 65,
    }
    answer = services.aggregator.post("/attestations", json=[forged])
    assert answer.status_code == 200 and answer.json()[0]["rejection"] in ("bad_signature", "signer_mismatch")


def test_every_gs1_example_is_answered_with_a_job_or_a_4xx_never_a_500(services: Services) -> None:
    if not (EPCIS_DIR / "examples").is_dir():
        pytest.skip(f"GS1 EPCIS reference data not found at {EPCIS_DIR}")
    answered = {}
    for path in sorted((EPCIS_DIR / "examples").glob("*.jsonld")):
        for client in (services.carriers[0], services.inspectors[0]):
            answer = post(client, path.read_bytes())
            assert answer.status_code < 500, f"{path.name}: {answer.status_code} {answer.text[:300]}"
            answered[path.name] = answer.status_code
    assert answered["Example_9.6.1-ObjectEvent.jsonld"] == 202
    assert set(answered.values()) <= {200, 202, 413, 422}


# -- parse workers ------------------------------------------------------------------------------


def large_shipment(deployed: Deployed, po: str) -> bytes:
    """A document above ``MIN_PARALLEL_BYTES`` (so a pool parses it): one funded order's shipment among
    the events of orders the chain does not know."""
    _, document = shipment(deployed, po, seed=3)
    events = list(document["epcisBody"]["eventList"])
    now = deployed.chain.timestamp()
    for i in range(8):
        events += simulate(SimOrder(f"{po}-UNKNOWN-{i}", now - 4 * 86_400, now - 86_400), "on_time", seed=i).events
    body = json.dumps({**document, "epcisBody": {"eventList": events}}).encode()
    assert MIN_PARALLEL_BYTES <= len(body) <= LIMIT
    return body


def test_an_oracle_with_parse_workers_captures_a_large_document_as_one_parsing_in_process(
    services: Services, deployed: Deployed, module_world: World
) -> None:
    body = large_shipment(deployed, "PO-HTTP-POOL-1")
    # The same carrier key twice, each service with its own store: the second signature is the
    # first one again (RFC 6979), so the aggregator answers both captures alike.
    pooled = capture_service(deployed, module_world.carriers[0], OracleKind.CARRIER, services.aggregator)
    plain = capture_service(deployed, module_world.carriers[0], OracleKind.CARRIER, services.aggregator)
    with oracle_app_of(pooled, parse_workers=1) as client:
        pool = client.app.state.hash_pool  # type: ignore[attr-defined]
        assert isinstance(pool, HashPool) and pooled.parser is not None and pooled.parser.pool is pool
        with_pool = post(client, body)
    without = post(oracle_app_of(plain, parse_workers=0), body)
    assert with_pool.status_code == without.status_code == 202
    jobs = [answer.json() for answer in (with_pool, without)]
    for job in jobs:
        del job["captureID"], job["received_at"]
    assert jobs[0] == jobs[1]
    outcomes = {e["outcome"] for e in jobs[0]["events"]}
    assert {"pending", "refused"} <= outcomes  # signed for the funded order, unknown POs refused
    hashes = [e.event_hash for e in parse_document(body).events]
    assert [e["event_hash"] for e in jobs[0]["events"]] == hashes


def test_closing_an_oracle_app_stops_its_parse_workers(
    services: Services, deployed: Deployed, module_world: World
) -> None:
    service = capture_service(deployed, module_world.carriers[0], OracleKind.CARRIER, services.aggregator)
    client = oracle_app_of(service, parse_workers=1)
    assert client.app.state.hash_pool is None  # type: ignore[attr-defined]  # not started: in process
    with client:
        pids = client.app.state.hash_pool.pids()  # type: ignore[attr-defined]
        assert len(pids) == 1 and all(alive(pid) for pid in pids)
    assert client.app.state.hash_pool is None and service.parser is None  # type: ignore[attr-defined]
    assert not any(alive(pid) for pid in pids)  # shut down and reaped, not left behind


# -- capture credentials -----------------------------------------------------------------------


def test_capture_and_its_records_need_a_client_credential_and_health_does_not(
    services: Services, deployed: Deployed, module_world: World
) -> None:
    _, document = shipment(deployed, "PO-HTTP-5", seed=3)
    service = capture_service(deployed, module_world.carriers[0], OracleKind.CARRIER, services.aggregator)
    outsider = stranger(service)
    client_id, _, secret = TOKEN.partition(".")
    wrong: dict[str, dict[str, str | bytes]] = {
        "none": {},
        "basic": {"Authorization": "Basic dGVzdC13bXM6eA=="},
        "no secret": {"Authorization": f"Bearer {client_id}"},
        "wrong secret": {"Authorization": f"Bearer {client_id}.{secret[::-1]}"},
        "unknown client": {"Authorization": f"Bearer someone-else.{secret}"},
        "not ascii": {"Authorization": b"Bearer test-wms.\xe9\xff" + secret.encode()},
    }
    body = json.dumps(document).encode()
    for name, headers in wrong.items():
        answer = outsider.post("/capture", content=body, headers={"content-type": "application/ld+json", **headers})
        assert answer.status_code == 401, name
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["error"] == "unauthenticated" and "scf oracle client add" in answer.json()["detail"]
    assert outsider.get("/health").status_code == 200

    # 202, not 200: none of the refused posts left a record (nor had the oracle sign anything).
    accepted = outsider.post("/capture", content=body, headers={"content-type": "application/ld+json", **AUTHORIZATION})
    assert accepted.status_code == 202
    location = accepted.headers["location"]
    for path in (location, f"{location}/document"):
        assert outsider.get(path).status_code == 401, path
        assert outsider.get(path, headers=AUTHORIZATION).status_code == 200, path
    # A second client's own token works; once removed, it no longer does.
    clients, other = CLIENTS.issue("scanner-hub")
    app = TestClient(create_oracle_app(service, clients=clients))
    assert app.get(location, headers={"Authorization": f"Bearer {other}"}).status_code == 200
    removed = TestClient(create_oracle_app(service, clients=clients.without("scanner-hub")))
    assert removed.get(location, headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_the_clients_file_holds_salted_digests_never_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "clients.json"
    assert cli.main(["oracle", "client", "add", "wms-1", "--clients", str(path)]) == 0
    first = capsys.readouterr().out.strip()
    assert cli.main(["oracle", "client", "add", "wms-2", "--clients", str(path)]) == 0
    second = capsys.readouterr().out.strip()
    text = path.read_text()
    for token in (first, second):
        assert token.partition(".")[2] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = json.loads(text)["clients"]
    assert entries["wms-1"]["salt"] != entries["wms-2"]["salt"]  # the same secret would not give the same digest
    clients = CaptureClients.load(path)
    assert clients.verify(f"Bearer {first}") == "wms-1" and clients.verify(f"bearer {second}") == "wms-2"
    assert cli.main(["oracle", "client", "add", "wms-1", "--clients", str(path)]) == 0  # a new secret: rotation
    rotated = capsys.readouterr().out.strip()
    assert CaptureClients.load(path).verify(f"Bearer {rotated}") == "wms-1"
    with pytest.raises(Unauthenticated):
        CaptureClients.load(path).verify(f"Bearer {first}")
    assert cli.main(["oracle", "client", "remove", "wms-2", "--clients", str(path)]) == 0
    with pytest.raises(Unauthenticated):
        CaptureClients.load(path).verify(f"Bearer {second}")


def test_an_oracle_service_does_not_start_without_capture_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCF_ORACLE_CLIENTS", raising=False)
    assert cli.main(["oracle", "serve", "--kind", "carrier", "--port", "1"]) == 2
    assert "--clients FILE or set SCF_ORACLE_CLIENTS" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text('{"clients": {"wms-1": {"salt": "zz"}}}')
    with pytest.raises(CaptureClientsError, match="cannot read"):
        CaptureClients.from_env(str(tmp_path / "broken.json"))
    (tmp_path / "empty.json").write_text('{"clients": {}}')
    monkeypatch.setenv("SCF_ORACLE_CLIENTS", str(tmp_path / "empty.json"))
    with pytest.raises(CaptureClientsError, match="names no capture client"):
        CaptureClients.from_env()
    with pytest.raises(CaptureClientsError, match="client id"):
        CaptureClients().issue("with space")


def test_an_oracle_service_refuses_a_negative_number_of_parse_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    CLIENTS.save(tmp_path / "clients.json")
    serve = ["oracle", "serve", "--kind", "carrier", "--port", "1", "--clients", str(tmp_path / "clients.json")]
    assert cli.main([*serve, "--parse-workers", "-1"]) == 2  # refused before the chain is asked anything
    assert "--parse-workers is a number of processes, 0 or more" in capsys.readouterr().err
    assert cli.parser().parse_args(serve).parse_workers is None  # one per core but one, decided by oracles
