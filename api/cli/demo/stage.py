"""Setting the demo up, doing only what is missing (what ``make run`` does before serving), and staging
its story: the same in-process functions the ``scf`` commands are shells over, in order.

``prepare``: compile (``contracts.build_contracts``), start the devnet or reuse it (``devnet.devnet_up``),
deploy (``deploy.deploy_contracts``, a no-op when unchanged) and check the bytecode
(``deploy.verify_deployment``); play the demo world unless the chain already holds it on this deployment
(``simulate.simulate``; ``scenarios.recover`` decides from the chain, and rebuilds ``out``'s files when
they are gone); index it (``index.index_chain``); have the dev bank score every party and publish the
limits it signs (``score.decide``, ``score.publish_limits``) unless the ones it published are still
valid. Each step prints what its command prints. ``stage``: pick the tier-3 supplier, pay it down the
tiers when it holds no live core piece yet, and write the cast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console
from sqlalchemy import Engine, func, select

from api.cli.common import connect
from api.cli.contracts import build_contracts, print_build
from api.cli.demo.base import FIRMS, MONTHS, SEED, DemoError
from api.cli.demo.cast import cast_of, keys_of, write_cast
from api.cli.demo.story import Story, pay_down, plan_story
from api.cli.deploy import deploy_contracts, print_deployed, print_verified, verify_deployment
from api.cli.devnet import devnet_up, print_up
from api.cli.index import index_chain, print_indexed
from api.cli.score import (
    DEFAULT_MODEL,
    bank_account,
    decide,
    evaluate_world,
    load_model,
    print_published,
    publish_limits,
)
from api.cli.simulate import PLAY_RPC_TIMEOUT, played_world, print_simulated, simulate
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from ledger.index.sql import database_url
from ledger.index.sql.db import make_engine
from ledger.index.sql.models import CreditLimit
from scenarios import ScenarioConfig
from scenarios.errors import ScenarioError
from scenarios.recover import find_played, rebuild_outputs
from scenarios.world import UNIT, World


@dataclass
class Stack:
    chain: Chain
    build: BuildResult
    record: Path
    addresses: dict[str, str]
    db_url: str
    out: Path
    world: World

    def engine(self) -> Engine:
        return make_engine(self.db_url)

    def index(self) -> None:
        """Bring the index up to the chain's head, printing what ``scf index --quiet`` prints."""
        print_indexed(index_chain(self.chain, self.build, db=self.db_url, deployment=self.record, quiet=True))


def step(console: Console, title: str) -> None:
    console.rule(f"[bold]{title}", align="left")


def prepare(out: Path, db: str | None, console: Console) -> Stack:
    """Everything the story needs, doing only what is missing (what ``make run`` does before serving).

    Whether the world was played is the chain's to say (``scenarios.recover``): its files in ``out``
    may be gone (``rm -rf out``) or written elsewhere (``scf simulate --out``) while the chain holds it.
    """
    step(console, "setting up: contracts, devnet, deployment")
    build = build_contracts()
    print_build(build)
    print_up(devnet_up())
    chain = connect(None, build, timeout=PLAY_RPC_TIMEOUT)
    if chain.accounts is None:
        raise DemoError(f"{chain.endpoint} is not a devnet: the demo acts as seed-derived parties only on one")
    deployed = deploy_contracts(chain, build)
    print_deployed(deployed)
    print_verified(verify_deployment(chain, build))
    db_url = database_url(db)

    step(console, f"the world: {FIRMS} firms, {MONTHS} months, seed {SEED} (played once per deployment)")
    world = _world(chain, build, deployed.addresses, out, console)

    step(console, "indexing the chain into SQL")
    stack = Stack(chain, build, deployed.record, dict(deployed.addresses), db_url, out, world)
    stack.index()

    step(console, "credit: the dev bank scores every party and publishes the limits it signs")
    dev_bank = chain.accounts["bank"]
    live = _live_limits(stack, dev_bank.address)
    if live:
        console.print(
            f"{live} limits signed by the dev bank {dev_bank.address} are still valid on chain: not re-published"
        )
    else:
        model = load_model()
        decisions = decide(model=model, db=db_url, publishing_on=chain)
        bank = bank_account(chain, "dev-bank", None)
        registry = stack.addresses["CreditRegistry"]
        print_published(publish_limits(chain, build, decisions, model, bank=bank, registry=registry))
        stack.index()
        console.print(
            f"published {_live_limits(stack, dev_bank.address)} limits signed by the dev bank {dev_bank.address}"
        )
    _fund_dev_bank(stack, dev_bank, console)
    _evaluate(stack, console)
    return stack


EVALUATION_FILE = "evaluation.json"


def _evaluate(stack: Stack, console: Console) -> Path:
    """The shipped model measured on the demo world's held-out suppliers (``scf score evaluate --model``), the
    report ``GET /v1/credit/evaluation`` serves and the auditor's calibration chart draws; written again only
    when the world's files are newer (rebuilt or played again). A 30-firm world is small: the report says how
    few it measured and how many failed."""
    path = stack.out / EVALUATION_FILE
    world = stack.out / "world.json"
    if not path.is_file() or path.stat().st_mtime < world.stat().st_mtime:
        report = evaluate_world(stack.out, model=DEFAULT_MODEL, db=stack.db_url)
        path.write_text(json.dumps(report, sort_keys=True) + "\n")
        console.print(
            f"the shipped model measured on {report['n']} held-out suppliers ({report['failures']} failed): {path}",
            highlight=False,
        )
    return path


#: The dev bank's deposits for its desk's purchases (the devnet's token is minted by banks), topped up below half.
DEV_BANK_DEPOSITS = 100_000_000 * UNIT
MAX_UINT256 = 2**256 - 1


def _fund_dev_bank(stack: Stack, bank: LocalAccount, console: Console) -> None:
    """The dev bank's desk offers to buy pieces; a holder's acceptance pulls the price from the bank's deposits:
    so the bank holds deposits and lets Receivables take them (each done only when missing)."""
    tokens = TokenClient(stack.chain, stack.build, stack.addresses["SettlementToken"])
    receivables = stack.addresses["Receivables"]
    done = []
    if tokens.balance_of(bank.address) < DEV_BANK_DEPOSITS // 2:
        tokens.mint(bank.address, DEV_BANK_DEPOSITS, bank)
        done.append(f"minted {DEV_BANK_DEPOSITS // UNIT:,} dUSD of deposits")
    if tokens.allowance(bank.address, receivables) < MAX_UINT256 // 2:
        tokens.approve(receivables, MAX_UINT256, bank)
        done.append("let Receivables take them when a holder accepts its offer")
    if done:
        console.print(f"the dev bank {'; '.join(done)}", highlight=False)
        stack.index()


def _world(chain: Chain, build: BuildResult, addresses: dict[str, str], out: Path, console: Console) -> World:
    """The demo world on this deployment: played now if the chain does not hold it, else taken as it is
    on chain, with ``out``'s files rebuilt from the chain when they are missing or describe another play."""
    config = ScenarioConfig(FIRMS, MONTHS, SEED)
    found = find_played(chain, build, config, addresses)
    if found is None:
        notes = Console(stderr=True)
        simulated = simulate(chain, build, config, out, deployment=addresses, progress=notes.is_terminal, notes=notes)
        print_simulated(simulated, notes)
        assert simulated.played is not None  # not asked to reuse: played now
        return simulated.played.world
    blocks = f"blocks {found.start.block}-{found.end.block}"
    try:
        recorded = played_world(chain, build, config, out, addresses)
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
            stack.index()
        cast = cast_of(stack.world, story, piece_id, engine, chain_id, stack.chain)
    finally:
        engine.dispose()
    write_cast(stack.out, cast)
    return story, piece_id, cast
