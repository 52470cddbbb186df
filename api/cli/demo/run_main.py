"""``scf demo run-main``: what ``make run`` runs. Set everything up (``stage.prepare``), stage the story,
print the banner (where the API is, the demo parties, three requests to try), then serve the API with the
indexer following the chain in the same process (``serve.serve``), unless told not to serve.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel

from api.cli.demo.base import DemoError, out_dir, scf_command
from api.cli.demo.stage import prepare, stage, step
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
    banner(host, port, cast, out, console)
    if not serving:
        return 0
    # `scf serve --index`: the API in the foreground, the indexer following the chain in the same process;
    # --devnet: the demo's own devnet, so random secrets and the dev relayer are what it should use.
    return serve(ServeOptions(host=host, port=port, db=stack.db_url, index=True, devnet=True))
