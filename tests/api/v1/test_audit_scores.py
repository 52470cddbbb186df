"""Every trading member's score with its supply tier (``GET /v1/audit/scores``): what the scorer decides, auditors only.

The API in process over the ``/v1`` world's index, scoring with the model fitted on a synthetic world
(``fitted``), confirmations 0: its answer must be the scorer's own decisions as of the indexed head,
member by member, and each member's tier the supply tier its features say.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.auth import role_names
from ledger.index.sql import open_engine
from scoring import features
from scoring.decision import Scorer
from scoring.features import ROLE_CORE, ROLE_SUPPLIER
from scoring.source import SqlSource
from tests.support.api_world import World, sign_in
from tests.support.fitted import Evaluated


@pytest.fixture(scope="module")
def scored(world: World, fitted: Evaluated) -> Iterator[TestClient]:
    settings = dataclasses.replace(
        world.settings, score_model=fitted.model_file, score_confirmations=0, score_refresh=0
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_every_trading_member_is_listed_with_the_scorers_decision_and_its_supply_tier(
    world: World, fitted: Evaluated, scored: TestClient
) -> None:
    answer = scored.get("/v1/audit/scores", headers=sign_in(scored, world.account("auditor")))
    assert answer.status_code == 200, answer.text
    body = answer.json()

    engine = open_engine(world.db_url)
    try:
        source = SqlSource(engine)
        history = source.history(None, 0)
        head = source.cursor_block
    finally:
        engine.dispose()
    table = features.build(history)
    scorer = Scorer(table, fitted.model)
    assert (body["model"], body["asOfBlock"]) == (fitted.model.version, head)

    trading = [
        party
        for party, i in table.index.items()
        if table.member[i] and int(table.roles[i]) & (ROLE_SUPPLIER | ROLE_CORE)
    ]
    assert sorted(item["party"] for item in body["items"]) == sorted(trading)
    assert {world.account(label).address for label in ("core", "tier1", "tier2")} <= set(trading)
    for item in body["items"]:
        i = table.index[item["party"]]
        decision = scorer.decide(item["party"])
        assert (item["status"], item["score"], item["pdBps"]) == (decision.status, decision.score, decision.pd_bps)
        assert (item["grade"], item["gradeCode"], item["limit"]) == (
            decision.grade,
            decision.grade_code,
            str(decision.limit),
        )
        tier = table.values["supply_tier"][i]
        assert item["tier"] == (None if math.isnan(tier) else int(tier))
        assert item["roles"] == role_names(int(table.roles[i]))
    core = next(item for item in body["items"] if item["party"] == world.account("core").address)
    assert core["tier"] == 0  # a core is where every supply chain ends


def test_only_auditors_read_every_partys_score(world: World, scored: TestClient) -> None:
    for role in ("bank", "core", "tier1"):
        answer = scored.get("/v1/audit/scores", headers=sign_in(scored, world.account(role)))
        assert answer.status_code == 403, answer.text
