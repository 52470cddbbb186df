"""The relayer pays gas only for transactions that can succeed, only the shortfall, within its caps.

Each test uses a newly admitted supplier that holds no native currency, so any top-up shows in
its balance and in the relayer's. The drains of issue 14 (a stale nonce, gas above the block
limit; 6,500 ETH moved before the node refused them) are replayed with the same numbers; the
balances before and after are printed (``pytest -s``) and must not move. The last test kills a
real ``scf serve`` between the top-up and the broadcast (``SCF_FAULT=after-top-up``) and
retries on a new process: one transaction, one top-up.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.v1 import store
from api.v1.app import create_app
from api.v1.settings import Settings
from ledger.toolchain.deploy import ROLE
from tests.support import serve
from tests.support.api_world import World, sign_in

ETH = 10**18
GWEI = 10**9


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def newcomer(world: World) -> LocalAccount:
    """A supplier admitted just now, with no native currency of its own."""
    account = Account.create()
    membership = world.chain.contract(world.deployed.build["Membership"], world.deployed.addresses["Membership"])
    admit = membership.functions.admit(account.address, ROLE["supplier"], 0, keccak(text=f"kyc {account.address}"))
    world.chain.transact(admit, world.account("admin"))
    assert world.chain.w3.eth.get_balance(account.address) == 0
    return account


def base_fee(world: World) -> int:
    return int(world.chain.w3.eth.get_block("latest").get("baseFeePerGas") or 0)


def signed(world: World, signer: LocalAccount, **changes: Any) -> tuple[str, dict[str, Any]]:
    """A valid ledger call (an ERC-20 approval of Receivables) signed by ``signer``, with ``changes``."""
    token = world.chain.contract(world.deployed.build["SettlementToken"], world.deployed.addresses["SettlementToken"])
    tx = {
        "type": 2,
        "chainId": world.chain.chain_id,
        "to": token.address,
        "data": token.encode_abi("approve", [world.deployed.addresses["Receivables"], 1]),
        "value": 0,
        "nonce": world.chain.w3.eth.get_transaction_count(signer.address, "pending"),
        "gas": 100_000,
        "maxFeePerGas": 2 * base_fee(world) + GWEI,
        "maxPriorityFeePerGas": GWEI,
        **changes,
    }
    return _hex(signer.sign_transaction(tx).raw_transaction), tx


def balances(world: World, *addresses: str) -> list[int]:
    return [int(world.chain.w3.eth.get_balance(to_checksum_address(a))) for a in addresses]


def top_ups(world: World, party: str) -> list[Any]:
    with world.client.app.state.services.store.connect() as connection:  # type: ignore[attr-defined]
        return list(
            connection.execute(
                select(store.top_ups).where(store.top_ups.c.party == party).order_by(store.top_ups.c.created_at)
            ).all()
        )


_TOKENS: dict[tuple[int, str], dict[str, str]] = {}


def signed_in(client: TestClient, account: LocalAccount) -> dict[str, str]:
    """One sign-in per party and client: sign-in is rate-limited (``api.v1.ratelimit``), a token is not."""
    key = (id(client), account.address)
    if key not in _TOKENS:
        _TOKENS[key] = sign_in(client, account)
    return _TOKENS[key]


def submit(client: TestClient, account: LocalAccount, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/submissions", json=body, headers=signed_in(client, account))


def mined(world: World, tx_hash: str) -> Any:
    return world.chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)  # type: ignore[arg-type]


@contextlib.contextmanager
def api(world: World, **options: Any) -> Iterator[TestClient]:
    """A second API on the same chain and database with other relay settings (a poor relayer, low caps)."""
    relayer = options.pop("relayer", world.account("relayer"))
    settings = Settings(
        world.chain,
        world.deployed.build,
        world.deployed.addresses,
        world.db_url,
        domain="testserver",
        relayer=relayer,
        score_refresh=0,
        **options,
    )
    with TestClient(create_app(settings)) as client:
        yield client


# -- drains: nothing moves for a transaction that cannot succeed --------------------------------------


def _stale_nonce_6500_eth(world: World, account: LocalAccount) -> dict[str, Any]:
    # The numbers: a nonce already used, a block's worth of gas at a fee making gas x fee 6,500 ETH.
    limit = int(world.chain.w3.eth.get_block("latest")["gasLimit"])
    return {"nonce": 0, "gas": limit, "maxFeePerGas": 6_500 * ETH // limit, "maxPriorityFeePerGas": GWEI}


DRAINS: dict[str, tuple[Any, int, str]] = {
    "stale-nonce-6500-eth": (_stale_nonce_6500_eth, 422, "is not"),
    "stale-nonce": (lambda w, a: {"nonce": 0}, 422, "next nonce 1"),
    "nonce-gap": (lambda w, a: {"nonce": 5}, 422, "next nonce 1"),
    "gas-above-block-limit": (
        lambda w, a: {"gas": int(w.chain.w3.eth.get_block("latest")["gasLimit"]) + 1},
        422,
        "above the block gas limit",
    ),
    "fee-above-policy": (
        lambda w, a: {"maxFeePerGas": 3 * base_fee(w) + GWEI + 1, "maxPriorityFeePerGas": GWEI},
        422,
        "above the relayer's policy",
    ),
    "priority-above-cap": (
        lambda w, a: {"maxFeePerGas": 3 * base_fee(w) + 2 * GWEI + 1, "maxPriorityFeePerGas": 2 * GWEI + 1},
        422,
        "above the relayer's cap",
    ),
    "reverting-call": (
        lambda w, a: {
            "to": w.deployed.addresses["TradeEscrow"],
            "data": w.chain.contract(w.deployed.build["TradeEscrow"], w.deployed.addresses["TradeEscrow"]).encode_abi(
                "fund", [999_999]
            ),
        },
        409,
        "TradeEscrow",
    ),
}


@pytest.mark.parametrize("case", list(DRAINS))
def test_a_transaction_that_cannot_succeed_moves_no_gas_money(fresh: World, case: str) -> None:
    changes, status, says = DRAINS[case]
    account = newcomer(fresh)
    # One good transaction first, so the account has a used nonce (0) and a little gas money left.
    raw, _ = signed(fresh, account)
    first = submit(fresh.client, account, {"rawTransaction": raw})
    assert first.status_code == 202, first.text
    mined(fresh, first.json()["txHash"])
    relayer = fresh.account("relayer").address
    before = balances(fresh, relayer, account.address)
    nonces = [fresh.chain.w3.eth.get_transaction_count(a) for a in (relayer, account.address)]
    raw, tx = signed(fresh, account, **changes(fresh, account))

    answer = submit(fresh.client, account, {"rawTransaction": raw})

    after = balances(fresh, relayer, account.address)
    print(
        f"\n{case}: gas x maxFeePerGas = {tx['gas'] * tx['maxFeePerGas']} wei -> {answer.status_code}; "
        f"relayer {before[0]} -> {after[0]}; submitter {before[1]} -> {after[1]}"
    )
    assert answer.status_code == status, answer.text
    assert says in answer.text
    if status == 422:
        assert answer.json()["field"] == "rawTransaction"
    else:
        assert answer.json()["contract_error"].startswith("TradeEscrow")
    assert after == before
    assert [fresh.chain.w3.eth.get_transaction_count(a) for a in (relayer, account.address)] == nonces
    assert len(top_ups(fresh, account.address)) == 1  # the first transaction's only


def test_the_relayer_sends_only_the_shortfall_and_records_every_top_up(fresh: World) -> None:
    account = newcomer(fresh)
    relayer = fresh.account("relayer").address
    relayer_before = balances(fresh, relayer)[0]
    raw, tx = signed(fresh, account)
    needed = tx["gas"] * tx["maxFeePerGas"]

    answer = submit(fresh.client, account, {"rawTransaction": raw})

    assert answer.status_code == 202, answer.text
    receipt = mined(fresh, answer.json()["txHash"])
    [first] = top_ups(fresh, account.address)
    assert (first.amount, first.state, first.for_tx) == (needed, "mined", answer.json()["txHash"])
    paid = mined(fresh, first.tx_hash)
    assert balances(fresh, relayer)[0] == relayer_before - needed - paid["gasUsed"] * paid["effectiveGasPrice"]
    left = needed - receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert balances(fresh, account.address)[0] == left
    # The next transaction gets what the leftover does not cover, and no more.
    raw, tx = signed(fresh, account)
    second = submit(fresh.client, account, {"rawTransaction": raw})
    assert second.status_code == 202, second.text
    assert [row.amount for row in top_ups(fresh, account.address)] == [needed, tx["gas"] * tx["maxFeePerGas"] - left]


def test_a_top_up_above_the_per_transaction_cap_is_403_naming_the_cap(fresh: World) -> None:
    account = newcomer(fresh)
    raw, tx = signed(fresh, account)
    cap = tx["gas"] * tx["maxFeePerGas"] - 1
    relayer = fresh.account("relayer").address
    before = balances(fresh, relayer, account.address)
    with api(fresh, relay_max_top_up=cap) as client:
        answer = submit(client, account, {"rawTransaction": raw})
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert (body["error"], body["scope"], body["cap"], body["needed"]) == (
        "relay_cap_exceeded",
        "transaction",
        str(cap),
        str(cap + 1),
    )
    assert f"at most {cap} wei per transaction" in body["detail"]
    assert balances(fresh, relayer, account.address) == before
    assert fresh.chain.w3.eth.get_transaction_count(account.address) == 0


def test_the_daily_cap_answers_429_with_when_it_resets(fresh: World) -> None:
    account = newcomer(fresh)
    raw, tx = signed(fresh, account)
    needed = tx["gas"] * tx["maxFeePerGas"]
    relayer = fresh.account("relayer").address
    with api(fresh, relay_daily_top_up=needed + 1) as client:
        first = submit(client, account, {"rawTransaction": raw})
        assert first.status_code == 202, first.text
        mined(fresh, first.json()["txHash"])
        before = balances(fresh, relayer, account.address)
        raw, _ = signed(fresh, account)
        answer = submit(client, account, {"rawTransaction": raw})
    assert answer.status_code == 429, answer.text
    body = answer.json()
    midnight = datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)
    resets = int(datetime.datetime.combine(midnight, datetime.time(), datetime.UTC).timestamp())
    assert (body["scope"], body["cap"], body["used"], body["resetsAt"]) == ("day", str(needed + 1), str(needed), resets)
    assert 0 < int(answer.headers["retry-after"]) <= 86_400
    assert str(resets) in body["detail"]
    assert balances(fresh, relayer, account.address) == before
    assert fresh.chain.w3.eth.get_transaction_count(account.address) == 1


def test_a_relayer_out_of_funds_is_503_and_sends_nothing(fresh: World) -> None:
    poor = Account.create()
    fresh.chain.send_value(fresh.account("relayer"), poor.address, 10**12)
    account = newcomer(fresh)
    raw, _ = signed(fresh, account)
    before = balances(fresh, poor.address, account.address)
    with api(fresh, relayer=poor) as client:
        answer = submit(client, account, {"rawTransaction": raw})
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "relayer_out_of_funds"
    assert poor.address in answer.json()["detail"] and "refill" in answer.json()["detail"]
    assert balances(fresh, poor.address, account.address) == before
    assert top_ups(fresh, account.address) == []
    # Nothing was broadcast: the same bytes go through once a relayer can pay.
    retry = submit(fresh.client, account, {"rawTransaction": raw})
    assert retry.status_code == 202, retry.text
    assert mined(fresh, retry.json()["txHash"])["status"] == 1


# -- a transaction the party broadcast itself ---------------------------------------------------------


def test_a_transaction_the_party_broadcast_itself_is_recorded_without_a_top_up(fresh: World) -> None:
    core = fresh.account("core")
    token = fresh.chain.contract(fresh.deployed.build["SettlementToken"], fresh.deployed.addresses["SettlementToken"])
    receipt = fresh.chain.transact(token.functions.approve(fresh.deployed.addresses["TradeEscrow"], 7), core)
    tx_hash = _hex(receipt["transactionHash"])
    relayer = fresh.account("relayer").address
    before = balances(fresh, relayer)

    answer = submit(fresh.client, core, {"txHash": tx_hash})

    assert answer.status_code == 202, answer.text
    assert (answer.json()["txHash"], answer.json()["function"]) == (tx_hash, "approve")
    assert balances(fresh, relayer) == before and top_ups(fresh, core.address) == []
    status = fresh.client.get(answer.json()["statusUrl"], headers=signed_in(fresh.client, core)).json()
    assert status["status"] == "mined"
    again = submit(fresh.client, core, {"txHash": tx_hash})
    assert again.status_code == 409 and again.json()["error"] == "already_submitted"


def test_a_self_broadcast_transaction_must_be_the_partys_own_ledger_call(fresh: World) -> None:
    core, tier1 = fresh.account("core"), fresh.account("tier1")
    token = fresh.chain.contract(fresh.deployed.build["SettlementToken"], fresh.deployed.addresses["SettlementToken"])
    theirs = fresh.chain.transact(token.functions.approve(fresh.deployed.addresses["TradeEscrow"], 3), tier1)
    answer = submit(fresh.client, core, {"txHash": _hex(theirs["transactionHash"])})
    assert answer.status_code == 403 and "sent by" in answer.json()["detail"]
    transfer = fresh.chain.send_value(core, fresh.account("tier2").address, 1)
    answer = submit(fresh.client, core, {"txHash": _hex(transfer["transactionHash"])})
    assert answer.status_code == 422 and answer.json()["field"] == "txHash"
    answer = submit(fresh.client, core, {"txHash": "0x" + "ab" * 32})
    assert answer.status_code == 422 and answer.json()["field"] == "txHash"
    assert "does not know" in answer.json()["detail"][0]["msg"]


def test_a_submission_is_exactly_one_of_raw_transaction_and_tx_hash(fresh: World) -> None:
    core = fresh.account("core")
    raw, _ = signed(fresh, core)
    both = submit(fresh.client, core, {"rawTransaction": raw, "txHash": "0x" + "ab" * 32})
    assert both.status_code == 422 and both.json()["field"] == "txHash"
    neither = submit(fresh.client, core, {})
    assert neither.status_code == 422 and neither.json()["field"] == "rawTransaction"
    bad = submit(fresh.client, core, {"txHash": "0x1234"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "txHash"]


# -- kill -9 between the top-up and the broadcast -----------------------------------------------------


@pytest.mark.one_database("a killed scf serve, and its recovery from the store, cost a whole process to repeat")
def test_a_submission_killed_between_top_up_and_broadcast_ends_with_one_transaction_and_one_top_up(
    fresh: World, tmp_path: Path
) -> None:
    account = newcomer(fresh)
    relayer = fresh.account("relayer").address
    relayer_nonce = fresh.chain.w3.eth.get_transaction_count(relayer)
    raw, tx = signed(fresh, account)
    body = {"rawTransaction": raw}
    env = {**serve.shared_secrets(), "SCF_API_IDEMPOTENCY_LEASE": "1"}
    where = serve.Target(fresh.devnet.url, fresh.record.parent, fresh.db_url)

    headers = serve.killed_mid_request(
        where, tmp_path / "a", env, "after-top-up", account, "/v1/submissions", body, "kill-after-top-up"
    )
    # Dead between the two: the top-up is mined, the transaction never went out.
    [paid] = top_ups(fresh, account.address)
    assert paid.state == "mined" and balances(fresh, account.address) == [tx["gas"] * tx["maxFeePerGas"]]
    assert fresh.chain.w3.eth.get_transaction_count(account.address, "pending") == 0

    second = serve.start(where, tmp_path / "b", env)
    try:
        started = time.monotonic()
        retry = httpx.post(f"{second.base}/v1/submissions", json=body, headers=headers, timeout=60)
        print(f"\nresumed submission answered in {time.monotonic() - started:.2f} s (lease 1 s)")
        assert retry.status_code == 202, retry.text
        assert mined(fresh, retry.json()["txHash"])["status"] == 1
        replay = httpx.post(f"{second.base}/v1/submissions", json=body, headers=headers, timeout=60)
        assert replay.json() == retry.json() and replay.headers["idempotent-replayed"] == "true"
    finally:
        second.stop()
    assert fresh.chain.w3.eth.get_transaction_count(account.address) == 1  # one transaction
    assert len(top_ups(fresh, account.address)) == 1  # one top-up
    assert fresh.chain.w3.eth.get_transaction_count(relayer) == relayer_nonce + 1
    with fresh.client.app.state.services.store.connect() as connection:  # type: ignore[attr-defined]
        rows = connection.execute(
            select(func.count()).select_from(store.submissions).where(store.submissions.c.party == account.address)
        ).scalar_one()
    assert rows == 1
