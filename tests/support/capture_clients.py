"""An oracle service's HTTP app in process, with one capture client whose credential the test holds.

``oracle_client(service)`` is a TestClient that sends that client's bearer token with every request,
as a carrier's WMS would; ``stranger(service)`` is the same app reached without one.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.oracle_app import CaptureClients, create_oracle_app
from oracles.capture import CaptureService

CLIENTS, TOKEN = CaptureClients().issue("test-wms")
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}


def oracle_client(service: CaptureService) -> TestClient:
    return TestClient(create_oracle_app(service, clients=CLIENTS), headers=AUTHORIZATION)


def stranger(service: CaptureService) -> TestClient:
    return TestClient(create_oracle_app(service, clients=CLIENTS))
