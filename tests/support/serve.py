"""``scf serve`` as a real process on a loopback port, for tests whose behaviour needs one (a kill -9, a socket).

``start`` runs ``python -m api.cli.serve serve --devnet`` against a test devnet, its deployment
record and its database, waits until ``/v1/health`` answers, and returns the process and its
base URL; ``sign_in`` gets a bearer token from it over HTTP, as any client does. Processes that
share a database and must accept each other's tokens and documents need the same
``SCF_API_SECRET`` and ``SCF_API_WEBHOOK_KEY`` (``shared_secrets``).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    """What a served API runs against: a devnet, the folder of its deployment records, a database."""

    devnet_url: str
    deployments: Path
    db_url: str


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    group: bool = False  # started in a session of its own: stop its whole process group (the workers)

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.group:
                os.killpg(self.process.pid, signal.SIGTERM)
            else:
                self.process.terminate()
            self.process.wait(timeout=20)


def shared_secrets() -> dict[str, str]:
    return {"SCF_API_SECRET": secrets.token_hex(32), "SCF_API_WEBHOOK_KEY": secrets.token_hex(32)}


def start(
    target: Target,
    run_dir: Path,
    env: Mapping[str, str | None] | None = None,
    options: Sequence[str] = (),
    *,
    group: bool = False,
) -> Served:
    """A running ``scf serve --devnet`` (the dev relayer) with ``env`` laid over this process's environment
    (``None`` removes a variable) and ``options`` on its command line; ``group``: in a session of its own
    (``--workers`` forks), stopped as a whole process group."""
    port = free_port()
    laid: dict[str, str | None] = {
        **os.environ,
        "SCF_DEPLOYMENTS_DIR": str(target.deployments),
        "SCF_DEVNET_RUN_DIR": str(run_dir),
        **(env or {}),
    }
    environment = {name: value for name, value in laid.items() if value is not None}
    command = [sys.executable, "-m", "api.cli.serve", "serve", "--devnet", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--chain", target.devnet_url, "--db", target.db_url, *options],
        cwd=ROOT,
        env=environment,
        start_new_session=group,
    )
    served = Served(process, f"http://127.0.0.1:{port}", group)
    try:
        wait_until_up(served)
    except BaseException:
        served.stop()
        raise
    return served


def wait_until_up(served: Served, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            if httpx.get(f"{served.base}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert served.process.poll() is None, "scf serve exited"
        assert time.monotonic() < deadline, "scf serve did not come up"
        time.sleep(0.2)


def sign_in(base: str, account: LocalAccount) -> dict[str, str]:
    challenge = httpx.post(f"{base}/v1/auth/challenge", json={"address": account.address}, timeout=30)
    assert challenge.status_code == 200, challenge.text
    body = challenge.json()
    signature = "0x" + Account.sign_message(encode_defunct(text=body["message"]), account.key).signature.hex()
    answer = httpx.post(f"{base}/v1/auth/token", json={"nonce": body["nonce"], "signature": signature}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def killed_mid_request(
    target: Target,
    run_dir: Path,
    env: Mapping[str, str | None],
    fault: str,
    account: LocalAccount,
    path: str,
    body: object,
    key: str,
) -> dict[str, str]:
    """POST ``body`` to ``path`` of a ``scf serve`` that kills itself (SIGKILL) at ``fault``
    (``SCF_FAULT``, ``api.v1.faults``) before it answers; returns the headers sent (token and
    Idempotency-Key), for the retry on another process."""
    dying = start(target, run_dir, {**env, "SCF_FAULT": fault})
    try:
        headers = {**sign_in(dying.base, account), "Idempotency-Key": key}
        try:
            httpx.post(f"{dying.base}{path}", json=body, headers=headers, timeout=60)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError(f"scf serve answered {path} instead of dying at {fault}")
        assert dying.process.wait(timeout=30) == -signal.SIGKILL, f"scf serve did not die at {fault}"
    finally:
        dying.stop()
    return headers
