"""The product on a standard JSON-RPC node: nothing but eth_*, net_* and web3_*, blocks on a fixed period.

Every chain here is reached only through ``tests.support.standard_rpc``'s proxy, which refuses
every non-standard method and records it. The module lives in ``e2e`` because one flow crosses
the whole product: ``scf deploy --chain URL --keystore FILE``, a co-signed order funded and
delivered through the oracle aggregator (``oracles``), a receivable issued and a piece financed,
the indexer, the scorer publishing a limit and the auditor recomputing it (``scoring``), the audit
replay (``ledger.audit``), and ``scf serve`` in production mode reading the flow and relaying a
party's signed transaction. The node presents itself as Besu, so the product takes its production
path (no dev accounts on the chain, the finality depth it is told); a second, pass-through proxy
keeps anvil's client name so the product's dev-node probes are sent and refused, and their
fallbacks are under test too.

Funding comes from anvil's genesis balances (the dev mnemonic's accounts, ``dev_accounts``), never
from ``anvil_setBalance``. Blocks come every ``BLOCK_TIME`` seconds: every transaction waits for
the next one, as on the network, so the flow is kept to a few dozen transactions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select

from ledger import paths
from ledger.audit import Deployment, replay
from ledger.clients.credit import CreditLimit, CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import Milestone, OrderStatus
from ledger.domain.receivables import FinanceOffer
from ledger.errors import UnsupportedOperation
from ledger.eth.accounts import dev_accounts
from ledger.eth.artifacts import BuildResult
from ledger.eth.batch import BatchSender
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.index.indexer import Indexer
from ledger.index.sql import database_digest, models
from ledger.index.sql.db import open_engine
from ledger.toolchain.deploy import enrol_dev_members, load_record
from ledger.toolchain.devnet import Devnet
from oracles.aggregator import Status, Submission
from scoring import features
from scoring.audit import recompute_published
from scoring.chain_source import ChainEvents, decision_point
from scoring.decision import Scorer
from scoring.scorecard import Model
from tests.support import serve
from tests.support.deployments import Deployed
from tests.support.escrow import AMOUNT, DAY, MAX_UINT256, attestation_of, make_terms
from tests.support.oracle_pipeline import aggregator_of
from tests.support.ports import free_port
from tests.support.receivables import FACE, issue_terms
from tests.support.standard_rpc import (
    BESU,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    StandardRpcProxy,
    interval_devnet,
)

BLOCK_TIME = 0.25
FINALITY_DEPTH = 2
#: What the product asks a node for and does without when refused: the audit replay reads a
#: block's transactions from ``trace_block`` and a refused call's outcome from ``trace_transaction``
#: where the node keeps traces, else from full blocks and receipts.
TRACE_PROBES = {"trace_block", "trace_transaction"}
WAIT = 30.0  # seconds a wait for the chain may take before the test fails


@dataclass
class Flow:
    """What the flow did on the standard node, for each test to check its part."""

    devnet: Devnet
    proxy: StandardRpcProxy
    deployed: Deployed
    record: Path
    order_id: int
    piece_id: int
    offer: FinanceOffer
    limit: CreditLimit
    scored_deliveries: int | None  # the scorer's deliveries_12m for tier1
    refused_before_audit: list[str]


def wait_for_second_after(chain: Chain, block: int) -> int:
    """The first final block whose time is more than a second after ``block``'s (the scorer's decision
    point steps back one second from a final block's time, and blocks 0.25 s apart share seconds)."""
    after = int(chain.w3.eth.get_block(block)["timestamp"]) + 1
    deadline = time.monotonic() + WAIT
    while True:
        final = chain.block_number - FINALITY_DEPTH
        if int(chain.w3.eth.get_block(final)["timestamp"]) > after:
            return final
        assert time.monotonic() < deadline, f"no final block after time {after} within {WAIT} s"
        time.sleep(BLOCK_TIME / 4)


def scf_deploy(url: str, deployer: LocalAccount, root: Path) -> Path:
    """``scf deploy --chain URL --keystore FILE`` as an operator runs it on a network; the record's path."""
    password = "standard-rpc"
    keystore = root / "deployer.json"
    # pbkdf2 with few rounds: the default scrypt costs a second per decryption, and this key guards nothing.
    keystore.write_text(json.dumps(Account.encrypt(deployer.key, password, kdf="pbkdf2", iterations=1_000)))
    env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(root / "deployments"), "SCF_KEYSTORE_PASSWORD": password}
    env.pop("SCF_CHAIN", None)
    scf = [sys.executable, "-c", "from api.cli import run; run()"]
    done = subprocess.run(
        [*scf, "deploy", "--chain", url, "--keystore", str(keystore)],
        cwd=serve.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    records = list((root / "deployments").glob("*.json"))
    assert len(records) == 1, records
    return records[0]


def run_flow(build: BuildResult, proxy: StandardRpcProxy, devnet: Devnet, root: Path) -> Flow:
    chain = Chain.http(proxy.url, backend="rpc", errors=ErrorDecoder(build.artifacts.values()), timeout=60)
    assert chain.accounts is None, "a standard node holds no dev accounts the product would know of"
    accounts = dev_accounts()  # funded at genesis: their keys sign here, the node never holds one
    record = scf_deploy(proxy.url, accounts["admin"], root)
    contracts = (load_record(record) or {})["contracts"]
    addresses = {name: str(entry["address"]) for name, entry in contracts.items()}
    enrol_dev_members(chain, build, addresses["Membership"], accounts)  # as the admin would, member by member
    deployed = Deployed("standard-rpc", chain, build, accounts, addresses)

    tokens = TokenClient(chain, build, addresses["SettlementToken"])
    escrow = TradeEscrowClient(chain, build, addresses["TradeEscrow"])
    receivables = ReceivablesClient(chain, build, addresses["Receivables"])
    core, tier1, bank = accounts["core"], accounts["tier1"], accounts["bank"]
    tokens.mint(core.address, AMOUNT, bank)
    tokens.mint(bank.address, FACE, bank)
    chain.send(tokens.calls.approve(escrow.address, MAX_UINT256), core)
    chain.send(tokens.calls.approve(receivables.address, MAX_UINT256), bank)

    # An order co-signed by buyer and supplier, funded by the buyer.
    terms = make_terms(deployed, po="STD-RPC-PO-1", nonce=1, deadline_in=DAY)
    order_id, _ = escrow.create_order(terms, escrow.sign_order(core, terms), escrow.sign_order(tier1, terms), core)
    escrow.fund(order_id, core)

    # Shipped and delivered: the carrier's signatures go through the aggregator, which relays them.
    aggregator = aggregator_of(deployed)
    try:
        for milestone in (Milestone.SHIPPED, Milestone.DELIVERED):
            attestation = attestation_of(deployed, order_id, milestone, salt="standard-rpc")
            signature = escrow.sign_attestation(accounts["carrier"], attestation)
            (receipt,) = aggregator.add([Submission(attestation, accounts["carrier"].address, signature)])
            assert receipt.status is Status.SUBMITTED, receipt
    finally:
        aggregator.close()

    # A receivable: core owes tier1, tier1 sells the piece to the bank.
    issued = issue_terms(deployed, invoice="STD-RPC-INV-1", nonce=1)
    piece_id, _ = receivables.issue(issued, receivables.sign_issue(core, issued), core)
    offer = FinanceOffer(piece_id, bank.address, FACE * 98 // 100, chain.timestamp() + DAY, 1)
    receivables.finance(offer, receivables.sign_offer(bank, offer), tier1)

    # The scorer decides tier1's limit as of a final block and the bank publishes it.
    final = wait_for_second_after(chain, chain.block_number)
    model = Model.load(paths.project_root() / "scoring" / "models" / "default.json")
    abis = {name: build[name].abi for name in addresses}
    as_of, when = decision_point(chain, final)
    history = ChainEvents(chain, addresses, abis, as_of).history(as_of, as_of_time=when)
    decision = Scorer(features.build(history), model).decide(tier1.address)
    registry = CreditRegistryClient(chain, build, addresses["CreditRegistry"])
    limit = CreditLimit(
        bank.address,
        decision.party,
        decision.limit,
        decision.score or 0,
        decision.grade_code,
        bytes.fromhex(model.version[2:]),
        when + model.validity,
        registry.nonce(bank.address),
    )
    registry.publish(limit, registry.sign(bank, limit), bank)
    deliveries = decision.features.get("deliveries_12m")
    return Flow(devnet, proxy, deployed, record, order_id, piece_id, offer, limit, deliveries, proxy.refused)


@pytest.fixture(scope="module")
def flow(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    devnet = interval_devnet(BLOCK_TIME)
    try:
        with StandardRpcProxy(devnet.url, finality_depth=FINALITY_DEPTH) as proxy:
            yield run_flow(build, proxy, devnet, tmp_path_factory.mktemp("standard-rpc"))
    finally:
        devnet.down()


def test_the_proxy_refuses_dev_methods_as_a_standard_node_and_forwards_the_standard_ones(flow: Flow) -> None:
    # A proxy of its own on the same anvil: the flow's proxy records only what the product asked.
    with StandardRpcProxy(flow.devnet.url, finality_depth=FINALITY_DEPTH) as proxy:
        answers = httpx_post(
            proxy.url,
            [
                {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                {"jsonrpc": "2.0", "id": 2, "method": "evm_mine", "params": []},
                {"jsonrpc": "2.0", "id": 3, "method": "net_version", "params": []},
                {"jsonrpc": "2.0", "id": 4, "method": "anvil_setBalance", "params": ["0x" + "11" * 20, "0x1"]},
                {"jsonrpc": "2.0", "id": 5, "method": "web3_clientVersion", "params": []},
            ],
        )
        assert [a["id"] for a in answers] == [1, 2, 3, 4, 5]
        assert int(answers[0]["result"], 16) == flow.deployed.chain.chain_id and answers[2]["result"].isdigit()
        assert answers[1]["error"]["code"] == answers[3]["error"]["code"] == METHOD_NOT_FOUND
        assert answers[4]["result"] == BESU
        single = httpx_post(proxy.url, {"jsonrpc": "2.0", "id": 9, "method": "debug_traceTransaction", "params": []})
        assert single["id"] == 9 and single["error"]["code"] == METHOD_NOT_FOUND
        assert proxy.refused == ["evm_mine", "anvil_setBalance", "debug_traceTransaction"]
        assert proxy.forwarded == {"eth_chainId": 1, "net_version": 1}
        assert httpx_post(proxy.url, [])["error"]["code"] == INVALID_REQUEST
        assert httpx.post(proxy.url, content=b"{not json", timeout=10).json()["error"]["code"] == PARSE_ERROR

        # The finality rule: "finalized" and "safe" are FINALITY_DEPTH below the head, not anvil's 64 and 32.
        chain = Chain.http(proxy.url, backend="rpc")
        head = chain.block_number
        for tag in ("finalized", "safe"):
            final = int(chain.w3.eth.get_block(tag)["number"])
            assert head - FINALITY_DEPTH <= final <= chain.block_number - FINALITY_DEPTH


def test_deploy_orders_oracles_and_receivables_ask_the_node_for_nothing_but_standard_methods(flow: Flow) -> None:
    deployed, accounts = flow.deployed, flow.deployed.accounts
    assert flow.refused_before_audit == []
    record = load_record(flow.record)
    assert record is not None and set(record["contracts"]) == set(deployed.addresses)
    assert deployed.escrow.order(flow.order_id).status is OrderStatus.DELIVERED
    assert deployed.receivables.holder_of(flow.piece_id) == accounts["bank"].address
    assert deployed.receivables.piece(flow.piece_id).financed
    assert deployed.tokens.balance_of(accounts["tier1"].address) == flow.offer.price
    assert deployed.registry.nonce(accounts["bank"].address) == flow.limit.nonce + 1
    assert not {m for m in flow.proxy.forwarded if not m.startswith(("eth_", "net_", "web3_"))}
    assert flow.proxy.forwarded.get("eth_sendRawTransaction", 0) >= 10


def test_the_indexer_stops_at_the_finality_depth_and_stores_what_the_replay_reads(flow: Flow) -> None:
    chain, build = flow.deployed.chain, flow.deployed.build
    engine = open_engine(f"sqlite:///{flow.record.parent.parent / 'index.sqlite'}")
    with Indexer.for_deployment(chain, engine, build, flow.record, reader="thread") as indexer:
        assert indexer.confirmations == 12, "no dev accounts: the production default"
    with Indexer.for_deployment(
        chain, engine, build, flow.record, confirmations=FINALITY_DEPTH, reader="thread"
    ) as indexer:
        done = indexer.run()
    assert done.caught_up and done.written > 0
    assert done.head - FINALITY_DEPTH <= done.target and done.target < done.head
    with engine.connect() as conn:
        last = conn.execute(select(func.max(models.EVENTS.c.block_number))).scalar()
    assert last is not None and last <= done.target

    deployment = Deployment.from_record(load_record(flow.record) or {}, build)
    result = replay(chain, deployment, to_block=done.target)
    assert result.ok, result.report.mismatches
    assert result.report.digest == database_digest(engine, chain.chain_id)[0]
    assert set(flow.proxy.refused) <= TRACE_PROBES


def test_the_audit_replay_and_the_limit_audit_pass_on_a_node_without_traces(flow: Flow) -> None:
    chain, build, proxy = flow.deployed.chain, flow.deployed.build, flow.proxy
    deployment = Deployment.from_record(load_record(flow.record) or {}, build)
    result = replay(chain, deployment)
    assert result.ok, result.report.mismatches
    assert result.state is not None
    model = Model.load(paths.project_root() / "scoring" / "models" / "default.json")
    abis = {name: build[name].abi for name in flow.deployed.addresses}
    assert flow.scored_deliveries == 1  # the scorer saw the delivery it read through the node
    audit = recompute_published(chain, flow.deployed.addresses, model, abis=abis)
    assert [c.published["limit"] for c in audit.matches] == [flow.limit.limit] and not audit.mismatches
    # The replay asked for traces; a standard node has none and it read full blocks instead.
    assert "trace_block" in proxy.refused and set(proxy.refused) <= TRACE_PROBES


def test_dev_node_probes_are_refused_and_the_product_falls_back(flow: Flow) -> None:
    """A node that says "anvil" gets the product's dev-node probes; refused, each falls back."""
    with StandardRpcProxy(flow.devnet.url, client_version=None) as anvil_named:
        chain = Chain.http(anvil_named.url, backend="rpc", timeout=60)
        assert chain.accounts is not None  # a dev node by name: the dev accounts are offered
        admin, stranger = chain.accounts["admin"], chain.accounts["auditor"]
        receipt = chain.send_value(admin, stranger.address, 1)
        assert receipt["status"] == 1
        assert anvil_named.refused == ["anvil_getAutomine"]
        with BatchSender(chain) as sender:
            assert sender.mining() is False  # the interval miner mines; the sender does not
            sender.send(
                [
                    (
                        TokenClient(
                            chain, flow.deployed.build, flow.deployed.addresses["SettlementToken"]
                        ).calls.approve(stranger.address, 1),
                        admin,
                    )
                ]
            )
        assert anvil_named.refused == ["anvil_getAutomine", "anvil_getAutomine"]
        with pytest.raises(UnsupportedOperation):
            chain.advance_time(60)
        with pytest.raises(UnsupportedOperation):
            chain.snapshot()


def httpx_post(url: str, body: object) -> Any:
    return httpx.post(url, json=body, timeout=10).json()


def serve_production(proxy_url: str, deployments: Path, db_url: str) -> serve.Served:
    """``scf serve`` in production mode (no ``--devnet``: secrets given, no dev relayer) on the standard node.

    ``tests.support.serve.start`` runs devnet mode, which a node without dev accounts is refused."""
    port = free_port()
    env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(deployments), **serve.shared_secrets()}
    env.pop("SCF_DEVNET", None)
    command = [sys.executable, "-m", "api.cli.serve", "serve", "--port", str(port), "--chain", proxy_url]
    process = subprocess.Popen([*command, "--db", db_url], cwd=serve.ROOT, env=env)
    served = serve.Served(process, f"http://127.0.0.1:{port}")
    try:
        serve.wait_until_up(served)
    except BaseException:
        served.stop()
        raise
    return served


def signed(account: LocalAccount, transaction: dict[str, Any]) -> str:
    """The raw bytes of the API's unsigned transaction signed by ``account`` (eth-account's field names)."""
    tx = {
        "type": 2,
        "chainId": int(transaction["chainId"]),
        "to": transaction["to"],
        "data": transaction["data"],
        "value": int(transaction["value"]),
        "nonce": int(transaction["nonce"]),
        "gas": int(transaction["gasLimit"]),
        "maxFeePerGas": int(transaction["maxFeePerGas"]),
        "maxPriorityFeePerGas": int(transaction["maxPriorityFeePerGas"]),
    }
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def until_settled(url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The submission's status once it is no longer pending (the next block settles it)."""
    deadline = time.monotonic() + WAIT
    while True:
        status: dict[str, Any] = httpx.get(url, headers=headers, timeout=30).json()
        if status["status"] != "pending":
            return status
        assert time.monotonic() < deadline, f"still pending after {WAIT} s: {status}"
        time.sleep(BLOCK_TIME / 2)


def test_the_api_serves_the_flow_from_the_standard_node(flow: Flow, tmp_path: Path) -> None:
    chain, build = flow.deployed.chain, flow.deployed.build
    db_url = f"sqlite:///{tmp_path / 'api-index.sqlite'}"
    with Indexer.for_deployment(
        chain, open_engine(db_url), build, flow.record, confirmations=FINALITY_DEPTH, reader="thread"
    ) as indexer:
        indexer.run()
    served = serve_production(flow.proxy.url, flow.record.parent, db_url)
    try:
        health = httpx.get(f"{served.base}/v1/health", timeout=30).json()
        assert (health["status"], health["chainId"], health["contracts"]) == (
            "ok",
            chain.chain_id,
            flow.deployed.addresses,
        )
        assert health["indexedBlock"] <= health["headBlock"] - FINALITY_DEPTH
        headers = serve.sign_in(served.base, flow.deployed.accounts["tier1"])
        order = httpx.get(f"{served.base}/v1/orders/{flow.order_id}", headers=headers, timeout=30).json()
        assert order["status"] == "DELIVERED" and [m["name"] for m in order["milestones"]] == ["SHIPPED", "DELIVERED"]
        piece = httpx.get(f"{served.base}/v1/receivables/pieces/{flow.piece_id}", headers=headers, timeout=30).json()
        assert piece["financed"] and piece["holder"] == flow.deployed.accounts["bank"].address

        # A write through the API: it prepares tier1's approval, tier1 signs it, the API broadcasts it.
        tier1 = flow.deployed.accounts["tier1"]
        body = {"spender": "Receivables", "amount": "5"}
        prepared = httpx.post(f"{served.base}/v1/token/approvals", json=body, headers=headers, timeout=30)
        assert prepared.status_code == 200, prepared.text
        raw = signed(tier1, prepared.json()["transaction"])
        sent = httpx.post(f"{served.base}/v1/submissions", json={"rawTransaction": raw}, headers=headers, timeout=30)
        assert sent.status_code == 202, sent.text
        status = until_settled(served.base + sent.json()["statusUrl"], headers)
        assert (status["status"], status["txHash"]) == ("mined", sent.json()["txHash"])
        chain.forget_nonce(tier1.address)  # the API's transaction took tier1's next nonce
        allowance = flow.deployed.tokens.allowance(tier1.address, flow.deployed.addresses["Receivables"])
        assert allowance == 5
    finally:
        served.stop()
    assert set(flow.proxy.refused) <= TRACE_PROBES
