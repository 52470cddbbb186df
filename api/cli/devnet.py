"""``scf devnet up|status|down|reset``: the local anvil chain (``ledger.toolchain.devnet``)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.toolchain.devnet import Devnet, DevnetInfo, DevnetStatus


def devnet(*, port: int | None = None, mining: str | None = None, block_time: float | None = None) -> Devnet:
    """The devnet on ``port`` (None: 8545, or SCF_DEVNET_PORT), interval mining unless ``mining`` says auto."""
    from ledger.toolchain.devnet import Devnet

    return Devnet(port=port, mining="auto" if mining == "auto" else "interval", block_time=block_time)


def devnet_up(*, port: int | None = None, mining: str | None = None, block_time: float | None = None) -> DevnetInfo:
    """Start anvil, or reuse the one answering on the port."""
    return devnet(port=port, mining=mining, block_time=block_time).up()


def devnet_status(*, port: int | None = None) -> DevnetStatus:
    return devnet(port=port).status()


def print_up(info: DevnetInfo) -> None:
    verb = "reusing the anvil already running" if info.reused else f"started anvil (pid {info.pid})"
    mining = f"interval mining every {info.block_time:g}s" if info.block_time else f"mining: {info.mining}"
    print(f"{verb} at {info.url}: chain {info.chain_id}, {mining}, state {info.state_file}")


def cmd_devnet_up(args: argparse.Namespace) -> int:
    print_up(devnet_up(port=args.port, mining=args.mining, block_time=args.block_time))
    return 0


def cmd_devnet_status(args: argparse.Namespace) -> int:
    status = devnet_status(port=args.port)
    if args.json:
        described = status.info.to_json() if status.info else None
        summary = {"running": status.running, "blockNumber": status.block_number, "detail": status.detail}
        print(json.dumps({**summary, "devnet": described}))
        return 0 if status.running else 1
    if not status.running or status.info is None:
        print(f"devnet: {status.detail}")
        return 1
    info = status.info
    print(f"devnet running at {info.url} (pid {info.pid}, chain {info.chain_id}, block {status.block_number})")
    print(f"  client {info.client}; mining {info.mining}; state {info.state_file}; log {info.log_file}")
    for role, address in info.accounts.items():
        print(f"  {role:<10} {address}")
    return 0


def cmd_devnet_down(args: argparse.Namespace) -> int:
    print(devnet(port=args.port).down())
    return 0


def cmd_devnet_reset(args: argparse.Namespace) -> int:
    print(devnet(port=args.port).reset())
    return 0


def register(subparsers: Any) -> None:
    actions = subparsers.add_parser("devnet", help="the local anvil chain").add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("up", cmd_devnet_up, "start anvil (or reuse the one running)"),
        ("status", cmd_devnet_status, "what is running"),
        ("down", cmd_devnet_down, "stop anvil, keeping its state"),
        ("reset", cmd_devnet_reset, "stop anvil and forget its chain"),
    ):
        p = actions.add_parser(name, help=text)
        p.add_argument("--port", type=int, help="RPC port (default 8545, or SCF_DEVNET_PORT)")
        if name == "up":
            p.add_argument(
                "--mining", choices=["interval", "auto"], help="interval (default) or a block per transaction"
            )
            p.add_argument("--block-time", type=float, help="seconds between blocks in interval mode")
        if name == "status":
            p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=func)
