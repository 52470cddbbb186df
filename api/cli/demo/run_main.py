"""``scf demo run-main``: what ``make run`` runs. Set everything up (``stage.prepare``), stage the story,
print the banner (where the portal and the API are, the demo parties, three requests to try), then serve the
API and the portal with the indexer following the chain in the same process (``serve.serve``), unless told
not to serve. The portal's dev wallet gets the demo parties' keys (``dev-wallet.json`` in the demo's folder).

Beside the API runs the dev bank's desk (``scf bank desk``, a process of its own as a bank would run it):
it follows the financing inbox and offers prices from ``scoring/policies/dev-bank.json`` with no human
step. Its keystore, password file, journal and log live in the demo's folder (``desk/``); the dev bank's
key is anvil's public test key, so its password protects nothing and is written beside it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from api.cli.demo.base import DemoError, out_dir, scf_command
from api.cli.demo.stage import EVALUATION_FILE, prepare, stage, step
from api.cli.serve import ServeOptions, serve


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def banner(host: str, port: int, cast: dict[str, Any], out: Path, console: Console) -> None:
    base = f"http://{host}:{port}"
    console.print(
        Panel.fit(
            f"portal   {base}/app    (sign in with the dev wallet: devnet only)\n"
            f"API      {base}/v1\ndocs     {base}/docs   (works offline)\nOpenAPI  {base}/openapi.json",
            title="scf-ledger is serving",
        )
    )
    console.print("[bold]demo parties[/bold] (keys derived from the world's seed, or the devnet's dev accounts)")
    for label in ("core", "tier1", "tier3", "bank", "dev-bank", "auditor"):
        party = cast[label]
        console.print(
            f"  {label:<9} {party['address']}  {party['name']}: {party['does']}", highlight=False, soft_wrap=True
        )
    token = f"{scf_command()} demo token tier3" + (f" --out {out}" if out != out_dir(None) else "")
    console.print(
        "[bold]three requests to try[/bold] (copy-paste; the token command signs the API's sign-in challenge with "
        "the demo party's seed-derived key: a [yellow]devnet convenience[/yellow], never a way to handle real keys)",
    )
    console.print(
        f"  curl -s {base}/v1/health\n"
        f"  TOKEN=$({token} --api {base})\n"
        f'  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/receivables/pieces\n'
        f'  (and: curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/credit/limits)',
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"Stop with Ctrl-C; the devnet keeps running (`{scf_command()} devnet down` stops it, keeping its state).",
        highlight=False,
        soft_wrap=True,
    )


DEV_POLICY = Path(__file__).resolve().parents[3] / "scoring" / "policies" / "dev-bank.json"
DESK_PASSWORD = "dev-bank-demo"  # protects anvil's public test key: nothing


def start_desk(stack: Any, host: str, port: int, out: Path) -> subprocess.Popen[bytes]:
    """The dev bank's desk following ``host``:``port``'s inbox, logging to ``out/desk/desk.log``.

    It starts before the API answers and waits for it (the desk backs off while the API is unreachable)."""
    from ledger.eth.keys import write_keystore

    bank = stack.chain.accounts["bank"]
    folder = out / "desk"
    keystore, password = folder / "dev-bank.json", folder / "password"
    if not keystore.is_file():
        write_keystore(bank, keystore, DESK_PASSWORD)
        password.write_text(DESK_PASSWORD + "\n")
    command = [scf_command(), "bank", "desk", "--api", f"http://{host}:{port}", "--bank", bank.address]
    command += ["--keystore", str(keystore), "--password-file", str(password), "--policy", str(DEV_POLICY)]
    command += ["--journal", str(folder / "journal.jsonl")]
    with (folder / "desk.log").open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


DEV_WALLET_FILE = "dev-wallet.json"
DEV_WALLET_PARTIES = ("tier3", "tier1", "core", "dev-bank", "bank", "auditor")


def write_dev_wallet(out: Path, cast: dict[str, Any]) -> Path:
    """The demo parties' keys for the portal's dev wallet (``scf serve --devnet --dev-wallet``): seed-derived
    or the devnet's public dev keys, nothing a real party holds; the file is readable by its owner only."""
    from api.cli.demo.token import demo_account

    parties = []
    for label in DEV_WALLET_PARTIES:
        party = cast[label]
        key = demo_account(out, party["address"]).key.hex()
        parties.append(
            {
                "label": label,
                "name": party["name"],
                "does": party["does"],
                "address": party["address"],
                "key": "0x" + key.removeprefix("0x"),
            }
        )
    path = out / DEV_WALLET_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)  # also when an earlier run left it wider
    path.write_text(json.dumps({"devnetOnly": True, "parties": parties}, indent=1) + "\n")
    return path


def stop_desk(desk: subprocess.Popen[bytes]) -> None:
    desk.terminate()  # SIGTERM: the desk finishes the request in hand and stops
    try:
        desk.wait(timeout=20)
    except subprocess.TimeoutExpired:
        desk.kill()
        desk.wait()


def run_main(*, host: str, port: int, out: Path, db: str | None, serving: bool = True) -> int:
    """Set up and stage (only what is missing), print the banner, then serve on ``host``:``port`` until stopped
    (``serving`` False: return once the banner is printed)."""
    console = Console()
    if serving and not port_free(host, port):
        raise DemoError(f"{host}:{port} is in use: stop what listens there, or pass --port")
    started = time.monotonic()
    stack = prepare(out, db, console)
    step(console, "the tier-3 supplier of the story")
    _story, _piece, cast = stage(stack, console)
    console.print(f"ready in {time.monotonic() - started:.1f} s")
    wallet = write_dev_wallet(out, cast)
    banner(host, port, cast, out, console)
    if not serving:
        return 0
    desk = start_desk(stack, host, port, out)
    console.print(f"the dev bank's desk follows the inbox (log: {out / 'desk' / 'desk.log'})")
    try:
        # `scf serve --index`: the API in the foreground, the indexer following the chain in the same process;
        # --devnet: the demo's own devnet, so random secrets and the dev relayer are what it should use.
        # The demo consortium's fingerprint key (derived from the world's seed), so the portal's core can issue
        # receivables by invoice number: the API fingerprints them, as a member's server would.
        key_file = out / "consortium.key"
        key_file.write_text(stack.world.config.consortium_key().file_text())
        key_file.chmod(0o600)
        options = ServeOptions(
            host=host,
            port=port,
            db=stack.db_url,
            index=True,
            devnet=True,
            dev_wallet=str(wallet),
            evaluation=str(out / EVALUATION_FILE),
            fingerprint_key=str(key_file),
        )
        return serve(options)
    finally:
        stop_desk(desk)
