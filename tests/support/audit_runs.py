"""Audit runs over HTTP, for any suite: start one (``POST /v1/audit/runs``) and wait until it ended.

    from tests.support.audit_runs import run_to_the_end
    run = run_to_the_end(lambda path, body: client.post(path, json=body, headers=h),
                         lambda path: client.get(path, headers=h), {"limits": True})

``post`` and ``get`` take a path and answer an ``httpx.Response`` (a FastAPI ``TestClient``'s, or a
client of a served API's), so the same helper serves the in-process suites and a served world.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

#: A replay of the test worlds takes seconds; a minute and a half is a hung run, not a slow one.
WAIT = 90.0


def run_to_the_end(
    post: Callable[[str, dict[str, Any] | None], httpx.Response],
    get: Callable[[str], httpx.Response],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a run with ``body`` (None: no body at all) and poll it until it is not running; the run's JSON."""
    started = post("/v1/audit/runs", body)
    assert started.status_code == 202, started.text
    url = started.headers["location"]
    run: dict[str, Any] = started.json()
    deadline = time.monotonic() + WAIT
    while run["state"] == "running":
        assert time.monotonic() < deadline, f"audit run {run['id']} still running after {WAIT} s"
        time.sleep(0.2)
        answer = get(url)
        assert answer.status_code == 200, answer.text
        run = answer.json()
    return run
