"""``scf network check FILE``: is a network file right, and is the network what it says? Ask before serving.

    scf network check NETWORK.json [--json]

The file is parsed at the boundary (``ledger.toolchain.network``: every field named when wrong). Then, with
standard JSON-RPC only (``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``, ``eth_gasPrice``,
``eth_getCode``: what any node answers, permissioned or not), every RPC URL is asked:

* its chain id is the file's ``chainId`` (a URL of another chain is the worst mistake a profile can hold);
* its head block and time, so an operator sees a stalled node;
* the gas policy holds: under ``zero`` the node must price gas at 0 (``eth_gasPrice``), under ``legacy`` it
  must not ask more than the file's price;
* the ``contracts`` of the file carry the runtime bytecode of this checkout's build (the same check as
  ``scf deploy``'s verification), so the profile names the ledger it should.

Each keystore the file names must exist and be an encrypted keystore (a ``crypto`` section, never a raw key).
Exit 0 when everything holds, 1 when a finding says otherwise (each printed with where it is), 2 when the
file itself is unusable. In process: ``check_network(path)`` returns the findings and what was read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.cli.errors import dispatch

EXIT_FINDINGS = 1
RPC_TIMEOUT = 5.0


@dataclass
class NetworkCheck:
    """What ``check_network`` read from each URL, and what it found wrong (empty: all holds)."""

    profile: dict[str, Any]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "profile": self.profile, "nodes": self.nodes, "findings": self.findings}


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    import httpx

    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=RPC_TIMEOUT)
    body = answer.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error'].get('message', body['error'])}")
    return body["result"]


def check_network(path: Path) -> NetworkCheck:
    """Check the profile at ``path`` against its nodes (``NetworkFileInvalid`` when the file is unusable)."""
    from api.cli.contracts import build_contracts
    from ledger.eth.chain import Chain
    from ledger.toolchain.deploy import compare_runtime
    from ledger.toolchain.network import load_network

    profile = load_network(path)
    check = NetworkCheck(profile.to_json())
    build = build_contracts() if profile.contracts else None
    for url in profile.rpc_urls:
        node: dict[str, Any] = {"url": url}
        check.nodes.append(node)
        try:
            chain_id = int(_rpc(url, "eth_chainId", []), 16)
            head = _rpc(url, "eth_getBlockByNumber", ["latest", False])
            node.update(chainId=chain_id, headBlock=int(head["number"], 16), headTime=int(head["timestamp"], 16))
            gas_price = int(_rpc(url, "eth_gasPrice", []), 16)
            node["gasPriceWei"] = str(gas_price)
        except Exception as exc:  # any transport or answer failure is a finding about this URL, not a crash
            check.findings.append(f"{url}: does not answer as a JSON-RPC node of this chain ({exc})")
            continue
        if chain_id != profile.chain_id:
            check.findings.append(f"{url}: chain id {chain_id}, but the file says {profile.chain_id}")
            continue
        policy = profile.gas_price
        if policy.policy == "zero" and gas_price != 0:
            check.findings.append(f"{url}: gas policy zero, but the node prices gas at {gas_price} wei")
        if (
            policy.policy == "legacy"
            and policy.gas_price_gwei is not None
            and gas_price > policy.gas_price_gwei * 10**9
        ):
            check.findings.append(
                f"{url}: the node asks {gas_price} wei per gas, above the file's {policy.gas_price_gwei} gwei"
            )
        if build is not None:
            chain = Chain.http(url, backend="rpc", timeout=RPC_TIMEOUT)
            for name, address in profile.contracts.items():
                why = compare_runtime(chain, build[name], address)  # immutables masked, as scf deploy verifies
                if why is not None:
                    check.findings.append(f"{url}: contracts.{name} {address} is not this build's {name} ({why})")
    for role, keystore in profile.keystores.items():
        try:
            data = json.loads(keystore.read_text())
            encrypted = isinstance(data, dict) and isinstance(data.get("crypto") or data.get("Crypto"), dict)
        except (OSError, ValueError) as exc:
            check.findings.append(f"keystores.{role}: {keystore} cannot be read as a keystore ({exc})")
            continue
        if not encrypted:
            check.findings.append(f"keystores.{role}: {keystore} is not an encrypted keystore (no crypto section)")
    return check


def cmd_check(args: argparse.Namespace) -> int:
    check = check_network(Path(args.file))
    if args.json:
        print(json.dumps(check.to_json(), indent=1))
    else:
        profile = check.profile
        print(
            f"network {profile['name']}: chain {profile['chainId']}, finality depth {profile['finalityDepth']}, "
            f"gas {profile['gasPrice']['policy']}"
        )
        for node in check.nodes:
            seen = f"head {node['headBlock']} at {node['headTime']}" if "headBlock" in node else "no answer"
            print(f"  {node['url']}: {seen}")
        for finding in check.findings:
            print(f"finding: {finding}")
        print("ok" if check.ok else f"{len(check.findings)} findings")
    return 0 if check.ok else EXIT_FINDINGS


def register(subparsers: Any) -> None:
    network = subparsers.add_parser("network", help="network files: check one against its nodes")
    commands = network.add_subparsers(dest="network_command", required=True)
    check = commands.add_parser("check", help="parse a network file and check each RPC URL, contract and keystore")
    check.add_argument("file", help="the network file (JSON: chainId, rpcUrls, finalityDepth, gasPrice, ...)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=cmd_check)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scf")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
