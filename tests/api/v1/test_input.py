"""Malformed input is a 4xx naming the field; the OpenAPI document and offline docs are served."""

from __future__ import annotations

from tests.support.api_world import World


def test_a_bad_checksum_address_is_422_naming_the_field(world: World) -> None:
    address = world.account("core").address
    wrong = address[:2] + (address[2:].lower() if address[2:] != address[2:].lower() else address[2:].upper())
    answer = world.client.post("/v1/auth/challenge", json={"address": wrong})
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"] == ["body", "address"]
    assert "checksum" in detail["msg"]
    short = world.client.post("/v1/auth/challenge", json={"address": "0x1234"})
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "address"]


def test_a_server_owned_field_is_refused(world: World) -> None:
    answer = world.client.post("/v1/auth/challenge", json={"address": world.account("core").address, "roles": 64})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "roles"]


def test_a_body_that_is_not_json_is_415_naming_content_type(world: World) -> None:
    answer = world.client.post(
        "/v1/auth/challenge", content=b"address=0x00", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 415
    assert answer.json()["field"] == "Content-Type"


def test_an_oversized_body_is_413(world: World) -> None:
    big = b'{"address": "' + b"0" * (world.settings.max_body + 10) + b'"}'
    answer = world.client.post("/v1/auth/challenge", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["limit"] == world.settings.max_body


def test_a_path_id_out_of_range_is_422(world: World) -> None:
    headers = world.sign_in("core")
    for bad in ("-1", "0", str(2**70), "abc"):
        answer = world.client.get(f"/v1/orders/{bad}", headers=headers)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"][0]["loc"] == ["path", "order_id"]


def test_health_reports_the_head_and_the_index(world: World) -> None:
    body = world.client.get("/v1/health").json()
    assert body["status"] == "ok" and body["chainId"] == world.chain.chain_id
    assert body["indexedBlock"] is not None and body["lagBlocks"] >= 0


def test_openapi_and_docs_work_without_the_internet(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    assert "/v1/orders/{order_id}" in spec["paths"]
    page = world.client.get("/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "https://" not in page.replace("https://fastapi", "")
    script = world.client.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
