"""``api.errors``' own handlers: FastAPI's validation errors and HTTP errors in the project's shape, and
never a 500 while echoing what a client sent, even behind no body check at all."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api import errors


class _Order(BaseModel):
    amount: Annotated[int, Field(ge=0)]
    memo: Annotated[str, Field(pattern=r"^[ -~]*$")] = ""  # a pattern makes pydantic read the string: it echoes it


def _bare() -> TestClient:
    """An app with the project's handlers and no body check in front: what FastAPI parses, it echoes."""
    app = FastAPI()
    errors.install(app)

    @app.post("/orders")
    def create(order: _Order) -> dict[str, int]:
        return {"amount": order.amount}

    @app.get("/orders/{order_id}")
    def read(order_id: int, block: Annotated[int | None, Query(ge=0)] = None) -> dict[str, int]:
        return {"order": order_id}

    return TestClient(app)


def test_a_validation_error_echoing_nan_or_a_surrogate_is_a_422_naming_the_field() -> None:
    client = _bare()
    json_type = {"content-type": "application/json"}
    for body, field in (
        (b'{"amount": NaN}', "amount"),
        (b'{"amount": -Infinity}', "amount"),
        (b'{"amount": 1e400}', "amount"),
        (b'{"amount": 1, "memo": "\\ud800"}', "memo"),
        (b'{"amount": 1, "memo": "\xed\xa0\x80"}', "memo"),  # surrogate bytes Python's decoder lets through
    ):
        answer = client.post("/orders", content=body, headers=json_type)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "invalid_field" and answer.json()["field"] == field
        assert answer.json()["detail"][0]["loc"] == ["body", field]


def test_a_body_fastapi_cannot_parse_is_400_malformed_json() -> None:
    client = _bare()
    answer = client.post("/orders", content=b'{"amount": ', headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"] == "malformed_json"
    huge = client.post(
        "/orders", content=b'{"amount": ' + b"9" * 5000 + b"}", headers={"content-type": "application/json"}
    )
    assert huge.status_code == 400 and huge.json()["error"] == "bad_request"  # FastAPI's own: ValueError on parse


def test_path_and_query_values_name_their_parameter() -> None:
    client = _bare()
    answer = client.get("/orders/" + "9" * 5000 + "?block=NaN")
    assert answer.status_code == 422
    assert {tuple(item["loc"]) for item in answer.json()["detail"]} == {("path", "order_id"), ("query", "block")}
    assert answer.json()["field"] == "order_id"


def test_unknown_routes_and_methods_answer_in_the_same_shape() -> None:
    client = _bare()
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json() == {"error": "not_found", "detail": "Not Found"}
    wrong = client.delete("/orders")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"


def test_json_safe_keeps_what_json_can_carry_and_cuts_the_rest_short() -> None:
    echoed: Any = errors.json_safe(
        {
            "nan": math.nan,
            "big": 10**5000,
            "sur": "a\udfffb",
            "long": "x" * 10_000,
            "raw": b"\xff",
            "ok": [1, 2.5, None],
        }
    )
    assert echoed["nan"] == "nan" and echoed["big"] == f"<an integer of {(10**5000).bit_length()} bits>"
    assert echoed["sur"] == "a\\udfffb" and len(echoed["long"]) < 300 and echoed["raw"] == "\\xff"
    assert echoed["ok"] == [1, 2.5, None]
    deep: Any = []
    for _ in range(1000):
        deep = [deep]
    assert "..." in str(errors.json_safe(deep))  # bounded: echoing never recurses far
