"""Past audit runs over HTTP: newest first, one line each (verdicts, digest, counts), paged; auditors only."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api_world import World
from tests.support.audit_runs import run_to_the_end


def _client(world: World, headers: dict[str, str]) -> tuple[Any, Any]:
    def post(path: str, body: dict[str, Any] | None) -> httpx.Response:
        if body is None:
            return world.client.post(path, headers=headers)
        return world.client.post(path, json=body, headers=headers)

    def get(path: str) -> httpx.Response:
        return world.client.get(path, headers=headers)

    return post, get


def test_runs_are_listed_newest_first_each_in_a_line_that_says_what_its_report_says(world: World) -> None:
    post, get = _client(world, world.sign_in("auditor"))
    mine = [run_to_the_end(post, get, body) for body in (None, {"limits": True}, {"offers": True})]
    assert all(run["state"] == "done" for run in mine), mine

    answer = get("/v1/audit/runs?limit=200")
    assert answer.status_code == 200, answer.text
    lines = {line["id"]: line for line in answer.json()["items"]}
    ids = list(lines)
    positions = [ids.index(run["id"]) for run in mine]
    assert positions == sorted(positions, reverse=True), "the last run started is listed first"
    for run in mine:
        line, report = lines[run["id"]], run["report"]
        assert (line["state"], line["ok"], line["requestedBy"]) == ("done", run["ok"], run["requestedBy"])
        assert (line["toBlock"], line["digest"]) == (report["toBlock"], report["digest"])
        assert line["mismatches"] == len(report["mismatches"]) and line["seconds"] == report["seconds"]
        assert (line["createdAt"], line["finishedAt"]) == (run["createdAt"], run["finishedAt"])
    plain, limits, offers = (lines[run["id"]] for run in mine)
    assert (plain["limitsOk"], plain["offersOk"]) == (None, None)  # not asked for
    assert limits["limitsOk"] == mine[1]["report"]["scores"]["ok"] and limits["offersOk"] is None
    assert offers["offersOk"] == mine[2]["report"]["offers"]["ok"] and offers["limitsOk"] is None
    assert mine[0]["report"]["requested"] == {"limits": False, "offers": False}


def test_paging_one_run_at_a_time_walks_the_same_list(world: World) -> None:
    post, get = _client(world, world.sign_in("auditor"))
    for _ in range(2):
        run_to_the_end(post, get)
    everything = [line["id"] for line in get("/v1/audit/runs?limit=200").json()["items"]]
    assert len(everything) >= 2
    walked: list[str] = []
    after: str | None = None
    while True:
        page = get("/v1/audit/runs?limit=1" + (f"&after={after}" if after else "")).json()
        walked += [line["id"] for line in page["items"]]
        after = page["nextAfter"]
        if after is None:
            break
        assert after == walked[-1]
    assert walked == everything


def test_only_auditors_list_runs_and_an_unknown_cursor_is_404(world: World) -> None:
    for role in ("bank", "tier1", "core"):
        assert world.client.get("/v1/audit/runs", headers=world.sign_in(role)).status_code == 403
    auditor = world.sign_in("auditor")
    unknown = world.client.get("/v1/audit/runs?after=00000000-0000-0000-0000-000000000000", headers=auditor)
    assert unknown.status_code == 404, unknown.text
    assert world.client.get("/v1/audit/runs?limit=0", headers=auditor).status_code == 422
    assert world.client.get("/v1/audit/runs?after=not-a-run", headers=auditor).status_code == 422
