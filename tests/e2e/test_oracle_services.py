"""The oracle services as an operator runs them: `scf oracle aggregate` and `scf oracle serve`,
each one command, each with its key from an encrypted keystore, against a devnet.

An order is co-signed and funded on the devnet; the carrier's EPCIS document is posted over
HTTP with the capture client's credential (``scf oracle client add``; without it, 401); the
attestations land on chain and the order is DELIVERED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_utils import keccak

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import OrderStatus, OrderTerms, po_ref_hash
from ledger.eth.chain import Chain, ErrorDecoder
from ledger.toolchain import compiler
from oracles.simulator import SimOrder, simulate
from tests.support.ports import free_port

SCF = [sys.executable, "-m", "api"]
DAY = 86_400


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    values = {
        **os.environ,
        "SCF_DEVNET_PORT": str(free_port()),
        "SCF_DEVNET_RUN_DIR": str(tmp_path / "run"),
        "SCF_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "SCF_CHAIN": "devnet",
        "SCF_KEYSTORE_PASSWORD": "correct horse battery staple",
    }
    yield values
    subprocess.run([*SCF, "devnet", "down"], env=values, capture_output=True, timeout=60)


def scf(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*SCF, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"scf {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def start(env: dict[str, str], *args: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([*SCF, *args, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"scf {' '.join(args)} exited {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"scf {' '.join(args)} did not answer within 60 s:\n{log.read_text()}")


def test_an_epcis_document_posted_to_a_carrier_service_moves_the_order_on_chain(
    env: dict[str, str], tmp_path: Path
) -> None:
    scf(env, "devnet", "up", "--mining", "auto")
    scf(env, "deploy")
    for role in ("carrier", "relayer"):
        scf(env, "keys", "export-dev", role, "--out", str(tmp_path / f"{role}.json"))
    secret = json.loads((tmp_path / "carrier.json").read_text())
    assert "crypto" in secret and "private" not in json.dumps(secret).lower()
    clients = tmp_path / "clients.json"
    issued = subprocess.run(
        [*SCF, "oracle", "client", "add", "wms-1", "--clients", str(clients)], env=env, capture_output=True, text=True
    )
    assert issued.returncode == 0, issued.stderr
    credential = issued.stdout.strip()

    hub_port, carrier_port = free_port(), free_port()
    processes = [
        start(
            env,
            "oracle",
            "aggregate",
            "--keystore",
            str(tmp_path / "relayer.json"),
            port=hub_port,
            log=tmp_path / "hub.log",
        ),
        start(
            env,
            "oracle",
            "serve",
            "--kind",
            "carrier",
            "--keystore",
            str(tmp_path / "carrier.json"),
            "--aggregator",
            f"http://127.0.0.1:{hub_port}",
            "--clients",
            str(clients),
            port=carrier_port,
            log=tmp_path / "carrier.log",
        ),
    ]
    try:
        build = compiler.build()
        chain = Chain.connect(
            f"http://127.0.0.1:{env['SCF_DEVNET_PORT']}", errors=ErrorDecoder(build.artifacts.values())
        )
        record = json.loads((tmp_path / "deployments" / f"{chain.chain_id}.json").read_text())
        address = {name: entry["address"] for name, entry in record["contracts"].items()}
        accounts = chain.accounts
        assert accounts is not None
        core, tier1, bank = accounts["core"], accounts["tier1"], accounts["bank"]
        escrow = TradeEscrowClient(chain, build, address["TradeEscrow"])
        token = TokenClient(chain, build, address["SettlementToken"])
        chain.transact(token.contract.functions.mint(core.address, 5_000 * 10**6), bank)
        chain.transact(token.contract.functions.approve(escrow.address, 5_000 * 10**6), core)
        now = chain.timestamp()
        terms = OrderTerms(
            core.address, tier1.address, token.address, 5_000 * 10**6, now + 2 * DAY, now + 5 * DAY, False,
            keccak(text="incoterms FCA"), po_ref_hash("PO-E2E-1"), 1, now + DAY,
        )  # fmt: skip
        order_id, _ = escrow.create_order(terms, escrow.sign_order(core, terms), escrow.sign_order(tier1, terms), core)
        escrow.fund(order_id, core)
        shipment = simulate(SimOrder("PO-E2E-1", terms.ship_by, terms.deliver_by), "on_time", seed=11)
        chain.advance_time(max(e.occurred_at for e in shipment.expected) + 3_600 - chain.timestamp())

        capture = f"http://127.0.0.1:{carrier_port}/capture"
        body, media = json.dumps(shipment.document).encode(), {"content-type": "application/ld+json"}
        refused = httpx.post(capture, content=body, headers=media, timeout=60)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        answer = httpx.post(
            capture, content=body, headers={**media, "authorization": f"Bearer {credential}"}, timeout=60
        )
        assert answer.status_code == 202, answer.text
        assert {e["outcome"] for e in answer.json()["events"] if e["reason"] != "unmapped_biz_step"} == {"attested"}
        assert escrow.order(order_id).status == OrderStatus.DELIVERED
        health = httpx.get(f"http://127.0.0.1:{carrier_port}/health").json()
        assert health == {"oracle": accounts["carrier"].address, "kind": "carrier", "active": True}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    logs = (tmp_path / "carrier.log").read_text() + (tmp_path / "hub.log").read_text()
    assert credential.partition(".")[2] not in logs + clients.read_text()  # nor a client's secret
    for role in ("carrier", "relayer"):
        assert accounts[role].key.hex()[2:] not in logs and accounts[role].key.hex() not in logs  # never a key in a log
