"""Start, inspect, stop and reset the local anvil devnet, without Hardhat.

Config lives in ``hardhat-free-devnet/devnet.json``; runtime files (state, log, and
``devnet.json`` saying what is running) in ``hardhat-free-devnet/run/`` for the configured
port and in ``run/port-P/`` for any other port P (``ledger.paths.devnet_run_dir``). anvil's
``--state`` file is loaded at start and dumped at exit (and every ``stateInterval`` seconds),
so the chain, and every deployment on it, survives ``down`` / ``up``; each port has a state
file of its own, so ``up`` on a new port starts from genesis and never loads another
devnet's chain. Other commands find a devnet on another port through ``SCF_DEVNET_PORT``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ledger import paths
from ledger.errors import DevnetError, PortTaken, ToolchainMissing
from ledger.eth.accounts import DevnetConfig, dev_accounts

Mining = Literal["interval", "auto"]

_PLATFORM_PACKAGES = {
    ("Linux", "x86_64"): "anvil-linux-amd64",
    ("Linux", "aarch64"): "anvil-linux-arm64",
    ("Darwin", "x86_64"): "anvil-darwin-amd64",
    ("Darwin", "arm64"): "anvil-darwin-arm64",
}


@dataclass(frozen=True)
class DevnetInfo:
    """What is running: written to ``run/devnet.json`` for every other command to find."""

    url: str
    host: str
    port: int
    pid: int | None
    chain_id: int
    mining: str
    block_time: float | None
    gas_limit: int
    state_file: str
    log_file: str
    client: str
    started_at: int
    accounts: dict[str, str]
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("reused")
        return data


@dataclass(frozen=True)
class DevnetStatus:
    running: bool
    info: DevnetInfo | None
    block_number: int | None
    detail: str


def anvil_binary(root: Path | None = None) -> Path:
    """The anvil executable shipped by the npm package ``@foundry-rs/anvil``."""
    modules = (root or paths.project_root()) / "node_modules" / "@foundry-rs"
    package = _PLATFORM_PACKAGES.get((platform.system(), platform.machine()))
    if package:
        candidate = modules / package / "bin" / "anvil"
        if candidate.is_file():
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolchainMissing("anvil", f"{modules}/{package or 'anvil-<platform>'} not found; run `make setup` (npm ci)")


def rpc(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """One plain JSON-RPC call; used before any Web3 object exists."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        payload = json.loads(answer.read())
    if "error" in payload:
        raise DevnetError(f"{method} failed at {url}: {payload['error']}")
    return payload["result"]


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie; others are not ours."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class Devnet:
    """One devnet: a port, a run folder, a mining mode."""

    def __init__(
        self,
        *,
        config: DevnetConfig | None = None,
        run_dir: Path | None = None,
        port: int | None = None,
        mining: Mining = "interval",
        block_time: float | None = None,
        node_args: tuple[str, ...] = (),
    ) -> None:
        self.config = config or DevnetConfig.load()
        self.host = self.config.host
        self.port = port or int(os.environ.get(paths.PORT_ENV) or self.config.port)
        self.run_dir = run_dir or paths.devnet_run_dir(self.port)
        self.mining = mining
        self.block_time = block_time if block_time is not None else self.config.block_time
        #: More of anvil's options (a test's network: ``--block-base-fee-per-gas 0`` for a free-gas one).
        self.node_args = node_args
        self.url = f"http://{self.host}:{self.port}"

    @property
    def info_file(self) -> Path:
        return self.run_dir / "devnet.json"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "anvil.log"

    def read_info(self) -> DevnetInfo | None:
        if not self.info_file.is_file():
            return None
        try:
            return DevnetInfo(**json.loads(self.info_file.read_text()))
        except (ValueError, TypeError):
            return None

    def _client_version(self) -> str | None:
        try:
            return str(rpc(self.url, "web3_clientVersion"))
        except (urllib.error.URLError, OSError, ValueError, DevnetError):
            return None

    def _settled_client_version(self, patience: float = 5.0) -> str | None:
        """The client version of whatever holds the port, asked again for a few seconds while it says
        nothing: an anvil still starting, or one that stopped serving and is writing its state on the way out."""
        deadline = time.monotonic() + patience
        while True:
            version = self._client_version()
            if version is not None or time.monotonic() >= deadline or not _port_open(self.host, self.port):
                return version
            time.sleep(0.2)

    def up(self, timeout: float = 30.0) -> DevnetInfo:
        """Start anvil, or reuse the anvil already answering on the port."""
        if _port_open(self.host, self.port):
            version = self._settled_client_version()
            if version is None or not version.startswith("anvil"):
                raise PortTaken(self.host, self.port, f"it answered {version!r}" if version else "no JSON-RPC answer")
            known = self.read_info()
            if known is not None and known.port == self.port:
                return DevnetInfo(**{**known.to_json(), "reused": True})
            info = self._describe(pid=None, client=version)
            self._write_info(info)
            return DevnetInfo(**{**info.to_json(), "reused": True})

        binary = anvil_binary()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(binary),
            "--host", self.host,
            "--port", str(self.port),
            "--chain-id", str(self.config.chain_id),
            "--mnemonic", self.config.mnemonic,
            "--accounts", str(len(self.config.roles)),
            "--balance", str(self.config.balance_eth),
            "--gas-limit", str(self.config.gas_limit),
            "--hardfork", self.config.hardfork,
            "--state", str(self.state_file),
            "--state-interval", str(self.config.state_interval),
            *self.node_args,
        ]  # fmt: skip
        # A chain reloaded from its state file starts without blocks of its own: it keeps its clock first.
        resuming = self.state_file.is_file()
        if self.mining == "interval":
            cmd += ["--no-mining"] if resuming else ["--block-time", f"{self.block_time:g}"]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        version = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DevnetError(f"anvil exited with code {proc.returncode} at start:\n{self._log_tail()}")
            version = self._client_version()
            if version:
                break
            time.sleep(0.1)
        if not version:
            proc.terminate()
            raise DevnetError(f"anvil did not answer on {self.url} within {timeout:.0f}s:\n{self._log_tail()}")
        if resuming:
            self._resume_clock()
        info = self._describe(pid=proc.pid, client=version)
        self._write_info(info)
        return info

    def _resume_clock(self) -> None:
        """Keep the reloaded chain's clock going forward. anvil's state file keeps the blocks but not the time
        offset ``evm_increaseTime`` built up (a played world runs years ahead of the wall): without this, the
        next block would be stamped at the wall clock, before its parent, and everything that reads time from
        blocks (the world's recovery, deadlines, maturities) would see time go back. Interval mining starts
        only once the clock is set, so no block is stamped in between."""
        latest = int(rpc(self.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        behind = latest - int(time.time())
        if behind >= 0:
            rpc(self.url, "evm_increaseTime", [behind + 1])
        if self.mining == "interval":
            # Whole seconds only, as evm_setIntervalMining takes them: a sub-second devnet resumes at 1 s blocks.
            self.block_time = max(1, round(self.block_time or 1))
            rpc(self.url, "evm_setIntervalMining", [int(self.block_time)])

    def _describe(self, pid: int | None, client: str) -> DevnetInfo:
        return DevnetInfo(
            url=self.url,
            host=self.host,
            port=self.port,
            pid=pid,
            chain_id=int(rpc(self.url, "eth_chainId"), 16),
            mining=self.mining if pid is not None else "unknown (not started by scf)",
            block_time=self.block_time if self.mining == "interval" and pid is not None else None,
            gas_limit=self.config.gas_limit,
            state_file=str(self.state_file),
            log_file=str(self.log_file),
            client=client,
            started_at=int(time.time()),
            accounts=dev_accounts(self.config).addresses(),
        )

    def _write_info(self, info: DevnetInfo) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.info_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(info.to_json(), indent=2) + "\n")
        tmp.replace(self.info_file)

    def _log_tail(self, lines: int = 15) -> str:
        if not self.log_file.is_file():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def status(self) -> DevnetStatus:
        info = self.read_info()
        if info is None:
            if _port_open(self.host, self.port):
                return DevnetStatus(False, None, None, f"{self.url} is open but was not started by scf")
            return DevnetStatus(False, None, None, "not running")
        if info.pid is not None and not _alive(info.pid):
            return DevnetStatus(False, info, None, f"process {info.pid} is gone (stale {self.info_file})")
        try:
            block = int(rpc(info.url, "eth_blockNumber"), 16)
        except (urllib.error.URLError, OSError, DevnetError) as exc:
            return DevnetStatus(False, info, None, f"{info.url} does not answer: {exc}")
        return DevnetStatus(True, info, block, "running")

    def down(self, timeout: float = 20.0) -> str:
        """Stop the devnet this tool started; anvil writes its state file on the way out."""
        info = self.read_info()
        if info is None:
            return "not running"
        if info.pid is None:
            self.info_file.unlink(missing_ok=True)
            return f"forgot the anvil at {info.url}; it was not started by scf, so it is left running"
        if _alive(info.pid):
            os.kill(info.pid, signal.SIGINT)  # SIGINT is anvil's graceful path: it dumps --state
            deadline = time.monotonic() + timeout
            while _alive(info.pid) and time.monotonic() < deadline:
                _reap(info.pid)
                time.sleep(0.05)
            if _alive(info.pid):
                os.kill(info.pid, signal.SIGKILL)
                _reap(info.pid)
        _reap(info.pid)
        # The process is gone; wait (briefly) for the kernel to let go of its port too, so an `up` right
        # after this one finds the port free instead of a listener that will not answer.
        deadline = time.monotonic() + 5.0
        while _port_open(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.info_file.unlink(missing_ok=True)
        return f"stopped anvil (pid {info.pid}); state kept in {info.state_file}"

    def reset(self) -> str:
        """Stop the devnet and forget its chain: the next ``up`` starts from genesis."""
        said = self.down()
        self.state_file.unlink(missing_ok=True)
        return f"{said}; state removed"
