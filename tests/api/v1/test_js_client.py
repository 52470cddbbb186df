"""A JavaScript client (ethers v6 from npm, on Node) uses the API's JSON as it is, with amounts above 2^53.

The API is served over a real socket (uvicorn in a thread, on the ``fresh`` world's app) with the
indexer following the chain beside it, as ``scf serve --index`` runs them; the Node script
(``js/ethers_client.mjs``) signs in, signs the typed data and the prepared transactions with
ethers' ``Wallet`` exactly as served (only ``EIP712Domain`` is left out of ``types``, as ethers
requires), submits them and reads the results back from the chain itself. This test then checks
the same objects from Python: the exact big values on chain and in the API's reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ledger.eth.chain import Chain
from ledger.index.indexer import Indexer
from ledger.index.sql.db import make_engine
from tests.support.api_world import World
from tests.support.ports import free_port

pytestmark = pytest.mark.one_database("an ethers client signing what the API serves, not SQL")

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("js") / "ethers_client.mjs"
#: A hang guard only: the script takes a few seconds.
NODE_TIMEOUT = 180


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "ethers" / "package.json").is_file():
        reason = "node or node_modules/ethers is missing: run `npm ci` (ethers is a devDependency)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return node


@pytest.fixture(scope="module")
def served(fresh: World) -> Iterator[str]:
    """``fresh``'s API on a loopback port, with an indexer following the chain (what ``scf serve --index`` runs)."""
    stop = threading.Event()
    # A chain object of its own: the indexer's reads must not share the API's HTTP session.
    chain = Chain.http(fresh.devnet.url, backend="devnet", errors=fresh.chain.errors)
    engine = make_engine(fresh.db_url)
    indexer = Indexer.for_deployment(
        chain, engine, fresh.deployed.build, fresh.record, confirmations=0, reader="thread", poll=0.1
    )

    def follow() -> None:
        with indexer:
            indexer.run(follow=True, stop=stop)

    following = threading.Thread(target=follow, name="js-client-indexer", daemon=True)
    following.start()
    port = free_port()
    # The app's lifespan already runs under the fixture's TestClient: uvicorn only serves it.
    server = uvicorn.Server(
        uvicorn.Config(fresh.client.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = threading.Thread(target=server.run, name="js-client-api", daemon=True)
    serving.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert serving.is_alive() and following.is_alive(), "the API or its indexer stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        serving.join(timeout=30)
        stop.set()
        following.join(timeout=30)
        engine.dispose()


def test_an_ethers_client_signs_served_typed_data_and_transactions_as_they_are_with_amounts_above_2_53(
    fresh: World, served: str, tmp_path: Path
) -> None:
    node = _node()
    keys = {role: "0x" + bytes(fresh.account(role).key).hex() for role in ("core", "tier1", "tier2")}
    names = ("TradeEscrow", "Receivables")
    config = {
        "api": served,
        "rpc": fresh.devnet.url,
        "chainId": fresh.chain.chain_id,
        "now": fresh.chain.timestamp(),
        "keys": keys,
        "contracts": {name: fresh.deployed.addresses[name] for name in names},
        "abis": {name: fresh.deployed.build[name].abi for name in names},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    run = subprocess.run(
        [node, str(SCRIPT), str(tmp_path / "config.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    print(f"ethers client: {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    made = json.loads(run.stdout.strip().splitlines()[-1])

    # What the Node client made, checked again from Python: exact on chain and in the reads.
    assert made["amount"] == str(2**53 + 1) and made["face"] == str(2**60 + 7)
    escrow = fresh.chain.contract(fresh.deployed.build["TradeEscrow"], fresh.deployed.addresses["TradeEscrow"])
    order = escrow.functions.orderOf(int(made["orderId"])).call()
    assert order[0][3] == 2**53 + 1  # terms.amount
    receivables = fresh.chain.contract(fresh.deployed.build["Receivables"], fresh.deployed.addresses["Receivables"])
    amounts = [receivables.functions.pieceOf(int(piece)).call()[2] for piece in made["pieceIds"]]
    assert amounts == [2**60 + 7 - (2**55 + 3), 2**55 + 3]
    headers = fresh.sign_in("tier1")
    read = fresh.client.get(f"/v1/orders/{made['orderId']}", headers=headers).json()
    assert read["amount"] == str(2**53 + 1) and read["orderId"] == made["orderId"]
    root = fresh.client.get(f"/v1/receivables/{made['rootId']}", headers=headers).json()
    assert root["faceValue"] == str(2**60 + 7)
    assert [p["pieceId"] for p in root["pieces"] if p["parentId"] == made["rootId"]] == made["pieceIds"]
