"""``/v1/credit``: decisions, reports, limit history and the evaluation, per party, from the cached scorer.

The history is the indexer scenario's (a real chain, indexed): tier 1 supplies every order, so
it is scored; tier 2 never delivered anything and gets INSUFFICIENT_HISTORY. A second app
over a synthetic world's index (hundreds of parties, flags included) checks that every decision
the cache serves is byte for byte what ``scoring.decision.Scorer`` says when called directly.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.v1.app import create_app
from api.v1.credit import CreditDesk
from api.v1.deps import Services
from ledger.index.sql import open_engine
from scoring import features
from scoring.decision import Decision, Scorer
from scoring.scorecard import Model
from scoring.source import SqlSource
from tests.support.api_world import World, sign_in
from tests.support.fitted import Evaluated

RANDOM = "0x" + "5a" * 20


@dataclasses.dataclass
class Credit:
    world: World
    client: TestClient
    evaluation: Path
    model: Model
    tokens: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def desk(self) -> CreditDesk:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services.credit

    def get(self, role: str, path: str, **params: object) -> tuple[int, Any]:
        if role not in self.tokens:  # one sign-in per party and module: sign-in is rate limited
            self.tokens[role] = self.world.sign_in(role)
        answer = self.client.get(f"/v1/credit/{path}", headers=self.tokens[role], params=params)
        return answer.status_code, answer.json()

    def address(self, role: str) -> str:
        return self.world.account(role).address


@pytest.fixture(scope="module")
def credit(world: World, fitted: Evaluated, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Credit]:
    # Confirmations 0: the scenario's last block is final; no warm-up thread, so builds are counted exactly.
    evaluation = tmp_path_factory.mktemp("credit") / "evaluation.json"
    settings = dataclasses.replace(
        world.settings,
        score_model=fitted.model_file,
        score_confirmations=0,
        score_refresh=0,
        evaluation_report=evaluation,
    )
    with TestClient(create_app(settings)) as client:
        yield Credit(dataclasses.replace(world, client=client), client, evaluation, fitted.model)


def head(db_url: str) -> int:
    engine = open_engine(db_url)
    try:
        return SqlSource(engine).cursor_block
    finally:
        engine.dispose()


def direct(db_url: str, party: str, model: Model, block: int | None = None) -> Decision:
    """The decision ``scf score`` makes: the scorer called on the index, no API, no cache."""
    engine = open_engine(db_url)
    try:
        history = SqlSource(engine).history(block, 0)
    finally:
        engine.dispose()
    return Scorer(features.build(history), model).decide(party)


def same_as(body: Any, decision: Decision) -> None:
    assert body["decisionHash"] == "0x" + keccak(decision.canonical()).hex()
    assert body["status"] == decision.status and body["score"] == decision.score
    assert body["pdBps"] == decision.pd_bps and body["grade"] == decision.grade
    assert body["limit"] == str(decision.limit) and body["model"] == decision.model
    assert body["asOfBlock"] == decision.as_of_block and body["asOfTime"] == decision.as_of_time
    assert [r["code"] for r in body["reasons"]] == [r["code"] for r in decision.reasons]
    assert [r["text"] for r in body["reasons"]] == [r["text"] for r in decision.reasons]


def test_every_credit_route_needs_a_token(credit: Credit) -> None:
    party = credit.address("tier1")
    for path in (f"decisions/{party}", f"reports/{party}", f"history/{party}", "evaluation"):
        answer = credit.client.get(f"/v1/credit/{path}")
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_party_reads_its_own_decision_as_the_scorer_makes_it(credit: Credit) -> None:
    party = credit.address("tier1")
    status, body = credit.get("tier1", f"decisions/{party}")
    assert status == 200, body
    assert body["status"] == "SCORED" and isinstance(body["score"], int) and body["grade"]
    assert 1 <= len(body["reasons"]) <= 4
    assert all(r["text"] for r in body["reasons"])
    assert body["asOfBlock"] == head(credit.world.db_url)  # the indexed head, less 0 confirmations
    same_as(body, direct(credit.world.db_url, party, credit.model))


def test_insufficient_history_is_a_decision_not_an_error(credit: Credit) -> None:
    party = credit.address("tier2")  # never delivered anything (tier 3 is also a core enterprise here)
    status, body = credit.get("tier2", f"decisions/{party}")
    assert status == 200, body
    assert body["status"] == "INSUFFICIENT_HISTORY"
    assert body["score"] is None and body["grade"] is None and body["limit"] == "0"
    assert "INSUFFICIENT_HISTORY" in [r["code"] for r in body["reasons"]]
    same_as(body, direct(credit.world.db_url, party, credit.model))


def test_another_partys_decision_answers_like_an_unknown_party(credit: Credit) -> None:
    tier1 = credit.address("tier1")
    for role in ("tier2", "core"):
        status, body = credit.get(role, f"decisions/{tier1}")
        assert status == 404 and body["error"] == "not_found", (role, body)
    status, unknown = credit.get("auditor", f"decisions/{RANDOM}")
    assert status == 404 and unknown["error"] == "not_found"


def test_a_bank_reads_any_trading_partys_decision_and_an_auditor_everyones(credit: Credit) -> None:
    for role in ("tier1", "tier3", "core"):
        status, body = credit.get("bank", f"decisions/{credit.address(role)}")
        assert status == 200 and body["party"] == credit.address(role), (role, body)
    # Another bank's or an auditor's decision is no business of a bank: they do not borrow on the ledger.
    assert credit.get("bank", f"decisions/{credit.address('auditor')}")[0] == 404
    assert credit.get("auditor", f"decisions/{credit.address('tier2')}")[0] == 200


def test_an_as_of_block_in_the_future_is_a_422_naming_the_field(credit: Credit) -> None:
    party = credit.address("tier1")
    last = head(credit.world.db_url)
    status, body = credit.get("tier1", f"decisions/{party}", as_of_block=last + 1)
    assert status == 422, body
    assert body["field"] == "as_of_block" and "in the future" in json.dumps(body["detail"])
    assert credit.get("tier1", f"decisions/{party}", as_of_block=-1)[0] == 422


def test_an_earlier_as_of_block_decides_on_the_history_up_to_it(credit: Credit) -> None:
    party = credit.address("tier1")
    earlier = head(credit.world.db_url) * 2 // 3
    status, body = credit.get("tier1", f"decisions/{party}", as_of_block=earlier)
    assert status == 200 and body["asOfBlock"] == earlier
    same_as(body, direct(credit.world.db_url, party, credit.model, earlier))
    now = credit.get("tier1", f"decisions/{party}")[1]
    assert now["decisionHash"] != body["decisionHash"]
    # Before the ledger existed there is nothing to decide on: no such decision.
    status, before = credit.get("tier1", f"decisions/{party}", as_of_block=0)
    assert status == 404 and before["error"] == "not_found"


def test_concurrent_requests_for_a_new_block_build_its_table_once(credit: Credit) -> None:
    desk = credit.desk
    block = head(credit.world.db_url) - 1
    assert desk.peek(block) is None
    before = desk.builds
    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: desk.scored(block), range(8)))
    assert desk.builds == before + 1
    assert all(b is built[0] for b in built)


def test_a_report_carries_the_features_by_window_for_the_party_and_auditors_only(credit: Credit) -> None:
    tier1 = credit.address("tier1")
    status, own = credit.get("tier1", f"reports/{tier1}")
    assert status == 200, own
    assert set(own["features"]) == {"3m", "6m", "12m", "asOf"}
    windows = own["features"]
    assert windows["12m"]["deliveries_12m"] >= 3 and "volume_6m" in windows["6m"]
    assert "tenure_days" in windows["asOf"]
    assert set(own["modelFeatures"]) <= {name for w in windows.values() for name in w}
    assert own["points"]["base"] > 0
    same_as(own["decision"], direct(credit.world.db_url, tier1, credit.model))
    # Nothing the bank did on its own opens a report: a limit it published (tier 2), a limit it revoked and a
    # piece it bought (tier 3), orders it guaranteed (tier 1). Consents and financing requests do
    # (tests/api/v1/test_credit_consent.py).
    for role in ("tier1", "tier2", "tier3", "core"):
        assert credit.get("bank", f"reports/{credit.address(role)}")[0] == 404, role
    assert credit.get("tier2", f"reports/{tier1}")[0] == 404
    assert credit.get("auditor", f"reports/{credit.address('core')}")[0] == 200


def test_the_limit_history_lists_publications_and_revocations(credit: Credit) -> None:
    tier3 = credit.address("tier3")
    status, own = credit.get("tier3", f"history/{tier3}")
    assert status == 200, own
    kinds = [item["kind"] for item in own["items"]]
    assert kinds[0] == "published" and kinds[-1] == "revoked"
    assert own["items"][0]["bank"] == credit.address("bank")
    tier2 = credit.address("tier2")
    status, bank = credit.get("bank", f"history/{tier2}")
    assert status == 200 and [item["limit"] for item in bank["items"]][-1] == str(2**255 + 12_345)
    assert credit.get("core", f"history/{tier2}")[0] == 404
    assert credit.get("auditor", f"history/{RANDOM}")[0] == 404
    page = credit.get("tier3", f"history/{tier3}", limit=1)[1]
    assert len(page["items"]) == 1 and page["nextAfter"] is not None
    rest = credit.get("tier3", f"history/{tier3}", after=page["nextAfter"])[1]
    assert [*page["items"], *rest["items"]] == own["items"]


def test_the_evaluation_is_served_once_written_and_names_bad_actors_to_auditors_only(
    credit: Credit, fitted: Evaluated
) -> None:
    credit.evaluation.unlink(missing_ok=True)
    status, missing = credit.get("bank", "evaluation")
    assert status == 404 and "scf score evaluate" in str(missing["detail"])
    report = fitted.report
    credit.evaluation.write_text(json.dumps(report))
    status, bank = credit.get("bank", "evaluation")
    assert status == 200 and bank["report"]["auc"] == report["auc"]
    assert bank["sameModel"] is True and bank["servingModel"] == fitted.model.version
    assert all("party" not in a for a in bank["report"]["bad_actors"])
    audited = credit.get("auditor", "evaluation")[1]
    assert [a["party"] for a in audited["report"]["bad_actors"]] == [a["party"] for a in report["bad_actors"]]


def test_the_warm_up_thread_builds_the_last_final_block_before_anyone_asks(credit: Credit) -> None:
    desk = CreditDesk(credit.desk.engine, credit.desk.store, credit.desk.chain_id, credit.desk.model, confirmations=1)
    final = desk.last_final_block()
    stop = threading.Event()
    thread = threading.Thread(target=desk.warm, args=(stop, 0.01), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60  # a bound on waiting, not a timing assertion
        while desk.peek(final) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert desk.peek(final) is not None and desk.builds == 1


def test_every_decision_the_cache_serves_is_the_scorers_byte_for_byte(world: World, fitted: Evaluated) -> None:
    """A synthetic world (a hundred and more parties, double financers and circular traders among them)
    indexed under the same chain id, read by an auditor through a second app."""
    settings = dataclasses.replace(
        world.settings,
        db_url=fitted.db_url,
        score_model=fitted.model_file,
        score_confirmations=0,
        score_refresh=0,
    )
    engine = open_engine(fitted.db_url)
    scorer = Scorer(features.build(SqlSource(engine).history(None, 0)), fitted.model)
    engine.dispose()
    parties = [scorer.table.parties[i] for i in scorer.eligible()]
    assert len(parties) > 100
    statuses = set()
    with TestClient(create_app(settings)) as client:
        headers = sign_in(client, world.account("auditor"))
        for party in parties:
            answer = client.get(f"/v1/credit/decisions/{party}", headers=headers)
            assert answer.status_code == 200, answer.text
            expected = scorer.decide(party)
            assert answer.json()["decisionHash"] == "0x" + keccak(expected.canonical()).hex(), party
            statuses.add((answer.json()["status"], bool(answer.json()["flags"])))
        desk: CreditDesk = client.app.state.services.credit  # type: ignore[attr-defined]
        assert desk.builds == 1
    assert {("SCORED", False), ("SCORED", True)} <= statuses  # flagged parties among them
