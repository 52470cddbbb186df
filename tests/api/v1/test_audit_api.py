"""Audit replays over HTTP: auditors only, run from the chain, report served."""

from __future__ import annotations

import time

from tests.support.api_world import World


def test_an_auditor_runs_a_replay_and_reads_a_clean_report(world: World) -> None:
    headers = world.sign_in("auditor")
    started = world.client.post("/v1/audit/runs", headers=headers)
    assert started.status_code == 202, started.text
    url = started.headers["location"]
    deadline = time.monotonic() + 120
    body = started.json()
    while body["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        body = world.client.get(url, headers=headers).json()
    assert body["state"] == "done", body
    assert body["ok"] is True
    assert body["report"]["digest"]


def test_other_parties_may_not_run_or_read_audits(world: World) -> None:
    assert world.client.post("/v1/audit/runs", headers=world.sign_in("bank")).status_code == 403
    fake = "00000000-0000-0000-0000-000000000000"
    assert world.client.get(f"/v1/audit/runs/{fake}", headers=world.sign_in("tier1")).status_code == 403
    assert world.client.get(f"/v1/audit/runs/{fake}", headers=world.sign_in("auditor")).status_code == 404
