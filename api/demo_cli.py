"""``scf demo``: the product's front door, and the tier-3 story told in the terminal.

    scf demo [story] [--out DIR] [--db URL]          the story, step by step, no HTTP server
    scf demo run-main [--host H] [--port P] [--no-serve]   what ``make run`` runs: set up, then serve the API
    scf demo token PARTY [--api URL] [--out DIR]     a bearer token for a demo party (devnet only)

Both ``story`` and ``run-main`` first set the ledger up, doing only what is missing: compile,
start the devnet (or reuse it), deploy (a no-op when unchanged) and check the bytecode, play
the demo world (30 firms, 6 months, seed 7, into ``out/demo``; when the chain already holds it on
this deployment it is reused, and ``out/demo``'s files are rebuilt from the chain if they are
gone), index it, and have the dev bank score every party and publish the limits it signs
(skipped while the limits it published are still valid). ``run-main --no-serve`` stops before
serving.

The story is about a tier-3 supplier that never sold to a core enterprise. When none holds a
live piece of a core's receivable yet (in the world as played, the tier-3 suppliers have
sold or been repaid theirs by the end), its buyers pay it the way the world does: each holder
up the supply chain splits a piece of the core's receivable it holds and passes part down,
signed with its own key. The demo parties' keys are derived from the world's seed
(``scenarios.world``), so the demo can act as any of them: that is a devnet convenience
only; real parties keep their keys and sign for themselves through the API.

Exit codes: 0 done, 1 a step of the story found something that does not hold (a proof, the
audit), 2 the demo could not run (no node, no world, a port in use, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import itertools
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine, func, select

from api.errors import ApiError
from ledger import compiler, paths
from ledger.chain import Chain, ErrorDecoder
from ledger.deploy import load_record, record_path_for
from ledger.errors import LedgerError
from ledger.receivables import BPS, YEAR, Child, FinanceOffer, ReceivablesClient
from ledger.sql import database_url
from ledger.sql.db import make_engine
from ledger.sql.models import CreditLimit, Cursor, Milestone, Order, Piece, Root
from scenarios import ScenarioConfig
from scenarios.errors import ScenarioError
from scenarios.recover import find_played, rebuild_outputs
from scenarios.world import BANK, CORE, DAY, UNIT, World, generate
from scoring.errors import ScoringError

SEED, FIRMS, MONTHS = 7, 30, 6
DEFAULT_OUT = "out/demo"  # under the project's root, wherever the command is run from
PARTIES_FILE = "demo-parties.json"
DEFAULT_API = "http://127.0.0.1:8000"
#: A piece is worth a story only if it matures far enough ahead for an offer to be made and accepted.
MATURITY_MARGIN = 14 * DAY
#: How far up the supply chain (tier 3 → 2 → 1) a payment with a piece may come from.
MAX_HOPS = 3
#: A bank's discount on a core's receivable, per year: what the world's banks ask of a strong core.
DISCOUNT_BPS = 500
RETAINED = keccak(text="retained")
EXIT_REFUSED = 1
EXIT_ERROR = 2


class DemoError(ApiError):
    """The demo cannot go on: a step it depends on failed, or the world offers no story."""


# -- who the story is about ---------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """``payer`` pays ``payee`` (its supplier) ``amount`` with a piece split off a piece it holds."""

    payer: str
    payee: str
    amount: int


@dataclass(frozen=True)
class Story:
    """The tier-3 supplier, the core-rooted piece the story starts from, and the payments down to it.

    ``hops`` is empty when the supplier already holds ``piece_id``; otherwise ``piece_id`` is
    held by ``hops[0].payer`` and each hop passes part of it one tier down.
    """

    tier3: str
    piece_id: int
    root_id: int
    core: str
    limit: int
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class _Usable:
    piece_id: int
    root_id: int
    holder: str
    amount: int
    debtor: str
    maturity: int


def _usable_core_pieces(engine: Engine, chain_id: int, cores: set[str], now: int) -> list[_Usable]:
    """Pieces that can still be passed on or sold: unsplit, unfinanced, unclaimed, of a live core receivable."""
    query = (
        select(Piece.piece_id, Piece.root_id, Piece.holder, Piece.amount, Root.debtor, Root.maturity)
        .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
        .where(
            Piece.chain_id == chain_id,
            Piece.child_count == 0,
            Piece.financed.is_(False),
            Root.status == "OUTSTANDING",
            Root.maturity >= now + MATURITY_MARGIN,
        )
        .order_by(Piece.piece_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        _Usable(r.piece_id, r.root_id, r.holder, int(r.amount), r.debtor, int(r.maturity))
        for r in rows
        if r.debtor in cores
    ]


def plan_story(engine: Engine, chain_id: int, world: World, limits_bank: str, now: int) -> Story:
    """The tier-3 supplier to follow and how it comes to hold a live piece of a core's receivable.

    Candidates are the world's tier-3 suppliers that never sold to a core (no order on the
    ledger with a core as buyer), best published limit first (``limits_bank``'s). A candidate
    that holds a usable core piece is taken as is; otherwise the shortest chain of its buyers
    (at most ``MAX_HOPS`` tiers up) that ends at a holder of one, biggest piece first.
    """
    cores = {p.address for p in world.of_kind(CORE)}
    with engine.connect() as connection:
        orders = connection.execute(select(Order.buyer, Order.supplier).where(Order.chain_id == chain_id)).all()
        limits = {
            row.party: int(row.limit)
            for row in connection.execute(
                select(CreditLimit.party, CreditLimit.limit).where(
                    CreditLimit.chain_id == chain_id,
                    CreditLimit.bank == limits_bank,
                    CreditLimit.revoked.is_(False),
                )
            )
        }
    buyers: dict[str, set[str]] = {}
    for buyer, supplier in orders:
        buyers.setdefault(supplier, set()).add(buyer)
    candidates = [
        p.address for p in world.suppliers if p.tier == 3 and p.address in buyers and not buyers[p.address] & cores
    ]
    if not candidates:
        raise DemoError("the world has no tier-3 supplier with orders that never sold to a core")
    candidates.sort(key=lambda a: (-limits.get(a, 0), a))
    usable = _usable_core_pieces(engine, chain_id, cores, now)
    by_holder: dict[str, list[_Usable]] = {}
    for piece in usable:
        by_holder.setdefault(piece.holder, []).append(piece)
    for tier3 in candidates:
        held = by_holder.get(tier3)
        if held:
            best = max(held, key=lambda p: (p.amount, -p.piece_id))
            return Story(tier3, best.piece_id, best.root_id, best.debtor, limits.get(tier3, 0), ())
        route = _route_to(tier3, buyers, by_holder, cores)
        if route is not None:
            return _story_along(tier3, route, limits.get(tier3, 0))
    raise DemoError(
        "no live piece of a core's receivable can reach a tier-3 supplier that never sold to a core "
        f"(checked {len(candidates)} suppliers, {len(usable)} usable pieces): play a fresh world"
    )


def _route_to(
    tier3: str, buyers: dict[str, set[str]], by_holder: dict[str, list[_Usable]], cores: set[str]
) -> tuple[_Usable, list[str]] | None:
    """Breadth first up the buyers of ``tier3``: the nearest holder of a usable piece and the path down."""
    frontier: list[list[str]] = [[tier3]]
    seen = {tier3}
    for _ in range(MAX_HOPS):
        found: list[tuple[_Usable, list[str]]] = []
        following: list[list[str]] = []
        for path in frontier:
            for buyer in sorted(buyers.get(path[0], set()) - seen - cores):
                chain_down = [buyer, *path]
                found.extend((piece, chain_down) for piece in by_holder.get(buyer, []))
                following.append(chain_down)
                seen.add(buyer)
        if found:
            return max(found, key=lambda f: (f[0].amount, -f[0].piece_id))
        frontier = following
    return None


def _story_along(tier3: str, route: tuple[_Usable, list[str]], limit: int) -> Story:
    piece, path = route
    hops: list[Hop] = []
    amount = piece.amount
    for payer, payee in itertools.pairwise(path):
        # Each tier passes a quarter of what it holds down, in whole tokens: a payment, not a giveaway.
        amount = max(UNIT, amount // 4 // UNIT * UNIT)
        hops.append(Hop(payer, payee, amount))
    return Story(tier3, piece.piece_id, piece.root_id, piece.debtor, limit, tuple(hops))


def payment_ref(payer: str, payee: str, piece_id: int) -> bytes:
    """The ``ref`` a demo payment records on its child piece: which payment this was, for ever."""
    return keccak(text=f"scf-demo payment {payer} -> {payee} from piece {piece_id}")


def pay_down(chain: Chain, client: ReceivablesClient, story: Story, keys: dict[str, LocalAccount]) -> int:
    """Carry out the story's hops (each holder splits and signs); the piece the tier-3 supplier now holds."""
    piece_id = story.piece_id
    for hop in story.hops:
        held = client.piece(piece_id).amount
        children = [Child(hop.amount, hop.payee, payment_ref(hop.payer, hop.payee, piece_id))]
        if held > hop.amount:
            children.append(Child(held - hop.amount, hop.payer, RETAINED))
        created, _receipt = client.split(piece_id, children, keys[hop.payer])
        piece_id = created[0]
    return piece_id


# -- the demo's files -----------------------------------------------------------------------------


def out_dir(given: str | None) -> Path:
    """The demo world's directory: ``given``, else ``out/demo`` under the project's root."""
    return Path(given) if given else paths.project_root() / DEFAULT_OUT


def world_config(out: Path) -> ScenarioConfig:
    try:
        data = json.loads((out / "world.json").read_text())
        return ScenarioConfig(int(data["firms"]), int(data["months"]), int(data["seed"]), int(data["holdout_months"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"no demo world in {out} ({exc}): run `scf demo` or `make run` first") from exc


def keys_of(world: World, chain: Chain | None = None) -> dict[str, LocalAccount]:
    """Every key the demo may sign with: the world's parties (seed-derived) and the devnet's dev accounts."""
    keys = {p.address: p.account for p in world.parties}
    if chain is not None and chain.accounts is not None:
        keys.update({account.address: account for _, account in chain.accounts})
    return keys


def cast_of(world: World, story: Story, piece_id: int, engine: Engine, chain_id: int, chain: Chain) -> dict[str, Any]:
    """The demo parties (label → address, name, what they do in the story)."""
    names = {p.address: p.name for p in world.parties}
    with engine.connect() as connection:
        creditor = connection.execute(
            select(Root.creditor).where(Root.chain_id == chain_id, Root.root_id == story.root_id)
        ).scalar_one()
    tier1 = creditor if any(p.address == creditor and p.tier == 1 for p in world.parties) else world.tier(1)[0].address
    bank = world.of_kind(BANK)[0]
    assert chain.accounts is not None
    dev_bank, auditor = chain.accounts["bank"], chain.accounts["auditor"]
    return {
        "core": {"address": story.core, "name": names[story.core], "does": "owes the receivable (its debtor)"},
        "tier1": {"address": tier1, "name": names[tier1], "does": "sold to the core; the receivable was issued to it"},
        "tier3": {
            "address": story.tier3,
            "name": names[story.tier3],
            "does": f"never sold to a core; holds piece {piece_id} of the core's receivable {story.root_id}",
        },
        "bank": {"address": bank.address, "name": bank.name, "does": "buys receivable pieces (world bank)"},
        "dev-bank": {"address": dev_bank.address, "name": "dev bank", "does": "scored every party, signed the limits"},
        "auditor": {"address": auditor.address, "name": "dev auditor", "does": "reads everything; replays the chain"},
        "piece": piece_id,
        "root": story.root_id,
    }


def write_cast(out: Path, cast: dict[str, Any]) -> Path:
    path = out / PARTIES_FILE
    path.write_text(json.dumps(cast, indent=1) + "\n")
    return path


def read_cast(out: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((out / PARTIES_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"no demo parties in {out} ({exc}): run `scf demo` or `make run` first") from exc
    return data


# -- setting up (idempotent) ------------------------------------------------------------------------


@dataclass
class Stack:
    chain: Chain
    build: compiler.BuildResult
    record: Path
    addresses: dict[str, str]
    db_url: str
    out: Path
    world: World

    def engine(self) -> Engine:
        return make_engine(self.db_url)


def _step(console: Console, title: str) -> None:
    console.rule(f"[bold]{title}", align="left")


def _run(name: str, main: Callable[[list[str]], int], argv: list[str], *, quiet: bool = False) -> str:
    """Run one ``scf`` command in process; its output is shown, or kept when ``quiet``."""
    kept = io.StringIO()
    with contextlib.redirect_stdout(kept) if quiet else contextlib.nullcontext():
        code = main(argv)
    if code != 0:
        raise DemoError(
            f"`scf {name} {' '.join(argv)}` failed (exit {code}){': ' + kept.getvalue()[-500:] if quiet else ''}"
        )
    return kept.getvalue()


def prepare(out: Path, db: str | None, console: Console) -> Stack:
    """Everything the story needs, doing only what is missing (what ``make run`` does before serving).

    Whether the world was played is the chain's to say (``scenarios.recover``): its files in ``out``
    may be gone (``rm -rf out``) or written elsewhere (``scf simulate --out``) while the chain holds it.
    """
    from api import cli, index_cli, score_cli

    _step(console, "setting up: contracts, devnet, deployment")
    for argv in (["contracts", "build"], ["devnet", "up"], ["deploy"], ["deploy", "--verify"]):
        _run(argv[0], cli.main, argv)
    build = compiler.build()
    chain = Chain.connect(None, errors=ErrorDecoder(build.artifacts.values()), timeout=120)
    if chain.accounts is None:
        raise DemoError(f"{chain.endpoint} is not a devnet: the demo acts as seed-derived parties only on one")
    record = record_path_for(paths.deployments_dir(), chain.chain_id)
    loaded = load_record(record)
    if loaded is None:
        raise DemoError(f"no deployment record at {record} after `scf deploy`")
    addresses = {name: str(entry["address"]) for name, entry in loaded["contracts"].items()}
    db_url = database_url(db)

    _step(console, f"the world: {FIRMS} firms, {MONTHS} months, seed {SEED} (played once per deployment)")
    world = _world(chain, build, addresses, out, console)

    _step(console, "indexing the chain into SQL")
    index_args = ["--db", db_url, "--quiet"]
    _run("index", index_cli.main, index_args)
    stack = Stack(chain, build, record, addresses, db_url, out, world)

    _step(console, "credit: the dev bank scores every party and publishes the limits it signs")
    dev_bank = chain.accounts["bank"].address
    live = _live_limits(stack, dev_bank)
    if live:
        console.print(f"{live} limits signed by the dev bank {dev_bank} are still valid on chain: not re-published")
    else:
        _run("score", score_cli.main, ["--all", "--publish", "--bank", "dev-bank", "--db", db_url], quiet=True)
        _run("index", index_cli.main, index_args)
        console.print(f"published {_live_limits(stack, dev_bank)} limits signed by the dev bank {dev_bank}")
    return stack


def _world(chain: Chain, build: compiler.BuildResult, addresses: dict[str, str], out: Path, console: Console) -> World:
    """The demo world on this deployment: played now if the chain does not hold it, else taken as it is
    on chain, with ``out``'s files rebuilt from the chain when they are missing or describe another play."""
    from api import simulate_cli

    config = ScenarioConfig(FIRMS, MONTHS, SEED)
    found = find_played(chain, build, config, addresses)
    if found is None:
        world_args = ["--firms", str(FIRMS), "--months", str(MONTHS), "--seed", str(SEED), "--out", str(out)]
        _run("simulate", simulate_cli.main, world_args)
        return generate(world_config(out))
    blocks = f"blocks {found.start.block}-{found.end.block}"
    try:
        recorded = simulate_cli.played_world(chain, build, config, out, addresses)
    except ScenarioError:
        recorded = None  # a file this command cannot read: rebuilt below, like a missing one
    if recorded is not None and int(recorded["start"]["block"]) == found.start.block:
        console.print(f"already played on this deployment ({blocks}): reusing {out}", highlight=False)
    else:
        rebuild_outputs(chain, build, found, addresses, out)
        console.print(
            f"already played on this deployment ({blocks}, found on chain): rebuilt {out / 'world.json'} and "
            "ground_truth.json from the chain and the seed",
            highlight=False,
        )
    return found.world


def _live_limits(stack: Stack, bank: str) -> int:
    now = stack.chain.timestamp()
    engine = stack.engine()
    try:
        with engine.connect() as connection:
            count = connection.execute(
                select(func.count()).where(
                    CreditLimit.chain_id == stack.chain.chain_id,
                    CreditLimit.bank == bank,
                    CreditLimit.revoked.is_(False),
                    CreditLimit.valid_until > now,
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count)


def stage(stack: Stack, console: Console) -> tuple[Story, int, dict[str, Any]]:
    """Pick the tier-3 supplier and make sure it holds a live piece of a core's receivable; the cast."""
    from api import index_cli

    assert stack.chain.accounts is not None
    engine = stack.engine()
    try:
        chain_id = stack.chain.chain_id
        story = plan_story(engine, chain_id, stack.world, stack.chain.accounts["bank"].address, stack.chain.timestamp())
        client = ReceivablesClient(stack.chain, stack.build, stack.addresses["Receivables"])
        names = {p.address: p.name for p in stack.world.parties}
        for hop in story.hops:
            console.print(
                f"{names[hop.payer]} pays its supplier {names[hop.payee]} {hop.amount // UNIT:,} dUSD with a piece "
                f"split off the core's receivable {story.root_id} (signed with {names[hop.payer]}'s own key)",
                highlight=False,
            )
        piece_id = pay_down(stack.chain, client, story, keys_of(stack.world))
        if story.hops:
            _run("index", index_cli.main, ["--db", stack.db_url, "--quiet"])
        cast = cast_of(stack.world, story, piece_id, engine, chain_id, stack.chain)
    finally:
        engine.dispose()
    write_cast(stack.out, cast)
    return story, piece_id, cast


# -- scf demo run-main ------------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _scf() -> str:
    """The ``scf`` command of this environment (a shell may not have the venv on its PATH)."""
    return str(Path(sys.executable).with_name("scf"))


def _demo() -> str:
    """How to call the demo from a shell."""
    return f"{_scf()} demo"


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
    token = f"{_demo()} token tier3" + (f" --out {out}" if out != out_dir(None) else "")
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
        f"Stop with Ctrl-C; the devnet keeps running (`{_scf()} devnet down` stops it, keeping its state).",
        highlight=False,
        soft_wrap=True,
    )


def cmd_run_main(args: argparse.Namespace) -> int:
    from api import serve_cli

    console = Console()
    if not args.no_serve and not _port_free(args.host, args.port):
        raise DemoError(f"{args.host}:{args.port} is in use: stop what listens there, or pass --port")
    started = time.monotonic()
    stack = prepare(out_dir(args.out), args.db, console)
    _step(console, "the tier-3 supplier of the story")
    _story, _piece, cast = stage(stack, console)
    console.print(f"ready in {time.monotonic() - started:.1f} s")
    banner(args.host, args.port, cast, out_dir(args.out), console)
    if args.no_serve:
        return 0
    # `scf serve --index`: the API in the foreground, the indexer following the chain in the same process;
    # --devnet: the demo's own devnet, so random secrets and the dev relayer are what it should use.
    command = ["serve", "--host", args.host, "--port", str(args.port), "--db", stack.db_url, "--index", "--devnet"]
    return serve_cli.main(command)


# -- scf demo token -----------------------------------------------------------------------------------


def sign_in(api: str, account: LocalAccount, timeout: float = 30.0) -> dict[str, Any]:
    """Sign the API's EIP-4361 challenge with ``account`` (EIP-191) and return its token answer."""
    import httpx

    base = api.rstrip("/")
    try:
        challenge = httpx.post(f"{base}/v1/auth/challenge", json={"address": account.address}, timeout=timeout)
        if challenge.status_code != 200:
            raise DemoError(f"the API refused the challenge ({challenge.status_code}): {challenge.text[:300]}")
        body = challenge.json()
        if f"\n{account.address}\n" not in body["message"]:
            raise DemoError("the API's challenge names another account: not signed")
        signature = Account.sign_message(encode_defunct(text=body["message"]), account.key).signature
        answer = httpx.post(
            f"{base}/v1/auth/token",
            json={"nonce": body["nonce"], "signature": "0x" + signature.hex()},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise DemoError(f"the API at {api} did not answer: {exc}") from exc
    if answer.status_code != 200:
        raise DemoError(f"the API refused the sign-in ({answer.status_code}): {answer.text[:300]}")
    token: dict[str, Any] = answer.json()
    return token


def demo_account(out: Path, party: str, accounts: Any = None) -> LocalAccount:
    """The key of a demo party: a label of ``demo-parties.json`` or an address of the world or a dev account."""
    from ledger.accounts import dev_accounts

    address = party
    if not party.startswith("0x"):
        cast = read_cast(out)
        if party not in cast or not isinstance(cast[party], dict):
            labels = ", ".join(k for k, v in cast.items() if isinstance(v, dict))
            raise DemoError(f"no demo party {party!r}; known: {labels}, or an address of the world")
        address = cast[party]["address"]
    keys = {p.address.lower(): p.account for p in generate(world_config(out)).parties}
    for _, account in accounts or dev_accounts():
        keys.setdefault(account.address.lower(), account)
    found = keys.get(address.lower())
    if found is None:
        raise DemoError(f"{address} is neither a party of the demo world nor a dev account: no key to sign with")
    return found


def cmd_token(args: argparse.Namespace) -> int:
    account = demo_account(out_dir(args.out), args.party)
    answer = sign_in(args.api, account)
    print(
        f"devnet convenience: signed {args.api}'s sign-in challenge with the seed-derived key of {account.address}; "
        f"token valid until {answer['expiresAt']}",
        file=sys.stderr,
    )
    print(answer["accessToken"])
    return 0


# -- scf demo (the story) -------------------------------------------------------------------------------


def _tokens(amount: int) -> str:
    return f"{amount // UNIT:,}" + (f".{amount % UNIT:06d}".rstrip("0") if amount % UNIT else "") + " dUSD"


def _when(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def cmd_story(args: argparse.Namespace) -> int:
    console = Console()
    stack = prepare(out_dir(args.out), args.db, console)
    _step(console, "staging: the tier-3 supplier and its piece")
    story, piece_id, cast = stage(stack, console)
    teller = _Teller(stack, story, piece_id, cast, console)
    return teller.tell()


class _Teller:
    """The six steps of ``scf demo``, each saying what happened and why it can be trusted."""

    def __init__(self, stack: Stack, story: Story, piece_id: int, cast: dict[str, Any], console: Console) -> None:
        self.stack = stack
        self.story = story
        self.piece_id = piece_id
        self.cast = cast
        self.console = console
        self.names = {p.address: p.name for p in stack.world.parties}
        assert stack.chain.accounts is not None
        self.names[stack.chain.accounts["bank"].address] = "dev bank"
        self.client = ReceivablesClient(stack.chain, stack.build, stack.addresses["Receivables"])

    def name(self, address: str) -> str:
        return f"{self.names.get(address, address)} ({address[:8]}…)"

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def why(self, text: str) -> None:
        self.console.print(f"  [green]why it can be trusted:[/green] {text}", highlight=False)

    def tell(self) -> int:
        engine = self.stack.engine()
        try:
            self.world()
            self.supplier(engine)
            self.credit(engine)
        finally:
            engine.dispose()
        self.sale()
        if not self.proof():
            return EXIT_REFUSED
        return 0 if self.audit() else EXIT_REFUSED

    # 1
    def world(self) -> None:
        _step(self.console, "1. the world")
        table = Table(title=f"parties of the demo world (seed {SEED})")
        for column in ("tier", "parties", "for example"):
            table.add_column(column)
        w = self.stack.world
        rows: list[tuple[str, list[str]]] = [("core enterprises", [p.name for p in w.of_kind(CORE)])]
        rows += [(f"tier {t} suppliers", [p.name for p in w.tier(t)]) for t in (1, 2, 3)]
        rows += [(kind + "s", [p.name for p in w.of_kind(kind)]) for kind in ("bank", "carrier", "inspector")]
        for label, members in rows:
            table.add_row(label, str(len(members)), ", ".join(members[:3]) + (" …" if len(members) > 3 else ""))
        self.console.print(table)
        self.why(
            "every order, attestation, receivable and payment of this world is a transaction on the devnet, "
            f"signed by the party that would send it; {self.stack.out / 'world.json'} names the deployment and the "
            "blocks"
        )

    # 2
    def supplier(self, engine: Engine) -> None:
        _step(self.console, "2. the tier-3 supplier: its verified history and the piece it holds")
        chain_id, t3 = self.stack.chain.chain_id, self.story.tier3
        with engine.connect() as connection:
            orders = connection.execute(
                select(Order.status, func.count()).where(Order.chain_id == chain_id, Order.supplier == t3)
                .group_by(Order.status)
            ).all()  # fmt: skip
            buyers = connection.execute(
                select(Order.buyer).where(Order.chain_id == chain_id, Order.supplier == t3).distinct()
            ).scalars().all()  # fmt: skip
            attested = connection.execute(
                select(func.count()).select_from(Milestone)
                .join(Order, (Order.chain_id == Milestone.chain_id) & (Order.order_id == Milestone.order_id))
                .where(Milestone.chain_id == chain_id, Order.supplier == t3)
            ).scalar_one()  # fmt: skip
            path = self._path(connection)
        self.say(f"[bold]{self.name(t3)}[/bold], a tier-3 supplier")
        self.say(f"  orders as supplier: {', '.join(f'{n} {s.lower()}' for s, n in orders)}")
        self.say(f"  sells to: {', '.join(self.name(b) for b in buyers)}; never to a core enterprise")
        self.say(f"  oracle-attested milestones on its orders: {attested}")
        self.say("  its piece, up the receivable tree to the core:")
        for depth, (piece, root) in enumerate(path):
            pad = "    " + "  " * depth
            what = f"piece {piece.piece_id}: {_tokens(int(piece.amount))} held by {self.name(piece.holder)}"
            if piece.parent_id == 0:
                what = (
                    f"receivable {root.root_id}: {_tokens(int(root.face_value))} owed by {self.name(root.debtor)} to "
                    f"{self.name(root.creditor)}, invoice {root.invoice_number}, maturity {_when(int(root.maturity))}"
                )
            elif piece.child_count:
                what += " (split)"
            self.say(pad + ("└ " if depth else "") + what)
        self.why(
            "the core signed the receivable (EIP-712) when the delivery it pays for was accepted; each split was "
            "sent by the holder of the piece; every milestone counts only with a quorum of distinct oracles"
        )

    def _path(self, connection: Any) -> list[tuple[Any, Any]]:
        chain_id = self.stack.chain.chain_id
        root = connection.execute(
            select(Root).where(Root.chain_id == chain_id, Root.root_id == self.story.root_id)
        ).one()
        path, current = [], self.piece_id
        while current:
            piece = connection.execute(select(Piece).where(Piece.chain_id == chain_id, Piece.piece_id == current)).one()
            path.append((piece, root))
            current = piece.parent_id
        return list(reversed(path))

    # 3
    def credit(self, engine: Engine) -> None:
        from api.score_cli import DEFAULT_MODEL, MODEL_ENV
        from scoring import features
        from scoring.chain_source import block_at
        from scoring.decision import Scorer
        from scoring.scorecard import Model
        from scoring.source import SqlSource

        _step(self.console, "3. its credit decision, with reasons")
        assert self.stack.chain.accounts is not None
        dev_bank = self.stack.chain.accounts["bank"].address
        with engine.connect() as connection:
            published = connection.execute(
                select(CreditLimit).where(
                    CreditLimit.chain_id == self.stack.chain.chain_id,
                    CreditLimit.bank == dev_bank,
                    CreditLimit.party == self.story.tier3,
                )
            ).one_or_none()
        if published is None:
            self.say(f"the dev bank published no limit for {self.name(self.story.tier3)}")
            return
        # The model `scf score --publish` used: the same setting, and its hash must be the one published.
        model = Model.load(Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL))
        if model.version.lower() != str(published.model_hash).lower():
            self.say(f"the published limit names model {published.model_hash}, not {model.version}: not recomputed")
            return
        as_of_time = int(published.valid_until) - model.validity
        as_of_block = block_at(self.stack.chain, as_of_time, head=int(published.updated_block))
        source = SqlSource(engine, self.stack.chain.chain_id)
        history = dataclasses.replace(source.history(as_of_block, 0), as_of_time=as_of_time)
        decision = Scorer(features.build(history), model).decide(self.story.tier3)
        self.say(
            f"published on chain by the dev bank: limit [bold]{_tokens(int(published.limit))}[/bold], score "
            f"{published.score}, grade code {published.grade}, valid until {_when(int(published.valid_until))}"
        )
        self.say(
            f"recomputed now from the index as of block {as_of_block}: limit {_tokens(decision.limit)}, score "
            f"{decision.score}, grade {decision.grade}, PD {(decision.pd_bps or 0) / 100:.2f}%"
        )
        for reason in decision.reasons:
            lost = f" (-{reason['points_lost']} points)" if reason.get("points_lost") else ""
            self.say(f"  - {reason['text']}{lost}")
        agrees = decision.limit == int(published.limit) and (decision.score or 0) == int(published.score)
        self.why(
            "the decision uses verified history only (oracle-attested deliveries, on-chain payments), the model's "
            f"hash {str(published.model_hash)[:12]}… is in the signed limit, and the recomputation "
            + ("[bold]agrees[/bold]" if agrees else "[red]DOES NOT AGREE[/red]")
        )

    # 4
    def sale(self) -> None:
        _step(self.console, "4. it sells the piece to a bank")
        chain, client = self.stack.chain, self.client
        bank = self.stack.world.of_kind(BANK)[0].account
        seller = keys_of(self.stack.world)[self.story.tier3]
        piece = client.piece(self.piece_id)
        root = client.root(piece.root_id)
        now = chain.timestamp()
        price = piece.amount - piece.amount * DISCOUNT_BPS * (root.maturity - now) // (BPS * YEAR)
        nonce = 1_000_000 + self.piece_id
        while client.offer_nonce_used(bank.address, nonce):
            nonce += 1
        offer = FinanceOffer(self.piece_id, bank.address, price, now + 2 * DAY, nonce)
        signature = client.sign_offer(bank, offer)
        self.say(
            f"{self.name(bank.address)} signs an EIP-712 offer: piece {self.piece_id} ({_tokens(piece.amount)}, "
            f"matures {_when(root.maturity)}) for {_tokens(price)} ({DISCOUNT_BPS / 100:.1f}% a year), valid 2 days"
        )
        receipt = client.finance(offer, signature, seller)
        self.say(
            f"{self.name(seller.address)} sends `finance` with the offer: mined in block {receipt['blockNumber']}, "
            f"tx {receipt['transactionHash'].to_0x_hex()}"
        )
        self.say(
            f"now: holder {self.name(client.holder_of(self.piece_id))}, financed {client.piece(self.piece_id).financed}"
        )
        self.why(
            "the contract checked the bank's signature and role, that the piece is live, unfinanced and unclaimed, "
            "then moved the piece to the bank and the price to the supplier in one transaction: it cannot be sold twice"
        )

    # 5
    def proof(self) -> bool:
        from ledger.proofs import ClaimMismatch, ProofError, ReceivableLayout, fetch_bundle, verify_bundle, web3_rpc

        _step(self.console, "5. the bank verifies the piece against the node, with a storage proof")
        chain = self.stack.chain
        contract = self.stack.addresses["Receivables"]
        layout = ReceivableLayout.from_storage_layout(self.stack.build["Receivables"].storage_layout)
        rpc = web3_rpc(chain.w3, chain.endpoint)
        bundle = fetch_bundle(rpc, contract, self.piece_id, layout)
        header = rpc("eth_getBlockByNumber", [hex(int(bundle["block"]["number"])), False])
        try:
            state = verify_bundle(bundle, header, layout, contract=contract)
        except ProofError as exc:
            self.say(f"[red]REFUSED[/red]: {exc}")
            return False
        proved = state.to_json()
        self.say(
            f"eth_getProof at block {bundle['block']['number']}: account proof to the header's stateRoot "
            f"{str(bundle['block']['stateRoot'])[:18]}…, {len(bundle['proof']['storageProof'])} storage slots to "
            "the contract's storageRoot"
        )
        for key in ("piece_id", "root_id", "holder", "amount", "financed", "debtor", "maturity"):
            if key in proved:
                self.say(f"  {key:<10} {proved[key]}")
        tampered = json.loads(json.dumps(bundle))
        tampered["claim"]["holder"] = self.story.tier3
        try:
            verify_bundle(tampered, header, layout, contract=contract)
            self.say("[red]a tampered claim was accepted[/red]")
            return False
        except ClaimMismatch as exc:
            self.say(f"  a claim doctored to say the supplier still holds it is refused: {exc}")
        self.why(
            "the proof is checked against the block header of the verifier's own node, with the storage layout of "
            f"its own compile of the sources; a bank runs the same check with `{_scf()} verify "
            f"receivable {self.piece_id} --rpc URL`"
        )
        return True

    # 6
    def audit(self) -> bool:
        from api import audit_cli, index_cli

        _step(self.console, "6. the auditor's replay agrees")
        _run("index", index_cli.main, ["--db", self.stack.db_url, "--quiet"])
        code = audit_cli.main(["audit", "replay", "--db", self.stack.db_url, "--quiet", "--show", "10"])
        engine = self.stack.engine()
        try:
            with engine.connect() as connection:
                cursor = connection.execute(select(Cursor).where(Cursor.chain_id == self.stack.chain.chain_id)).one()
        finally:
            engine.dispose()
        self.why(
            "the replay re-reads every event from the chain (not the SQL), re-verifies every signature, re-derives "
            "all state with the contracts' rules in Python and compares it with the on-chain views and with every "
            f"row of the index (cursor at block {cursor.block_number}); two auditors compare the one-line digest"
        )
        return code == 0


# -- command line ------------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # An action's own defaults would override what was given before it (`scf demo --out X token`).
    out, db = (None, None) if top else (argparse.SUPPRESS, argparse.SUPPRESS)
    parser.add_argument("--out", default=out, help=f"the demo world's directory (default {DEFAULT_OUT})")
    parser.add_argument(
        "--db", default=db, help="the indexer's database URL (default: SCF_DB_URL, else the devnet's SQLite file)"
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scf demo`` to ``scf``'s subcommands (``subparsers`` of the top-level parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the tier-3 story in the terminal; run-main (make run); a token for a demo party",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    _add(parser)
    return parser


def _add(parser: argparse.ArgumentParser) -> None:
    _common(parser, top=True)
    parser.set_defaults(func=_guarded(cmd_story))
    actions = parser.add_subparsers(dest="demo_action")
    story = actions.add_parser("story", help="the story, step by step, no HTTP server (the default)")
    _common(story)
    story.set_defaults(func=_guarded(cmd_story))
    run_main = actions.add_parser("run-main", help="set everything up, then serve the API (what make run does)")
    _common(run_main)
    run_main.add_argument("--host", default="127.0.0.1")
    run_main.add_argument("--port", type=int, default=8000)
    run_main.add_argument(
        "--no-serve", action="store_true", help="set everything up and print the banner, then exit instead of serving"
    )
    run_main.set_defaults(func=_guarded(cmd_run_main))
    token = actions.add_parser("token", help="sign the API's challenge as a demo party; print a bearer token")
    token.add_argument("party", help="core, tier1, tier3, bank, dev-bank, auditor, or an address of the world")
    token.add_argument("--api", default=DEFAULT_API, help=f"the API's base URL (default {DEFAULT_API})")
    _common(token)
    token.set_defaults(func=_guarded(cmd_token))


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Domain errors of every package the demo drives become one line and exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ApiError, LedgerError, ScenarioError, ScoringError) as exc:
            print(f"scf demo: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scf demo", description=__doc__.split("\n\n")[0] if __doc__ else None)
    _add(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
