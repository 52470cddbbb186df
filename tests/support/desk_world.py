"""A bank's desk world for any suite: ``scf serve --index`` over the played small world, the dev bank ready to offer.

    from tests.support.desk_world import Party, served_desk_world
    with served_desk_world(build, tmp_dir) as world:   # a module fixture: ~20 s, reverted on exit
        seller = Party(world, world.keys[world.tier3])
        seller.ask(world.piece_id, world.bank.address)
        world.desk(tmp_dir / "journal.jsonl")          # one pass of the dev bank's desk (``--once``)

One setup for every suite that needs this world (the desk's end-to-end tests, the auditor's
``--offers`` replay), kept here so it is never copied: the session's ``small_world`` on its own
anvil, snapshotted on entry and reverted on exit; its deployment record; the dev members enrolled;
the index; the dev bank's limits published (``scf score --all --publish``), its deposits minted and
Receivables allowed to take them; a tier-3 supplier that never sold to a core holding a live piece
of a core's receivable (``piece_id``); ``slices`` small pieces split off the piece of the supplier
with the largest limit (``slicer``), well within its limit, for requests of their own; ``barred``, a
piece of another supplier that the dev bank published a limit of 0 for (it does not deal with it:
any price is beyond that limit); the dev bank's encrypted keystore; and the API serving it all with
its own indexer (``--index --devnet``), caught up with the chain.

Every request a ``Party`` asks is recorded in ``DeskWorld.asked``: a module whose desks all answer
the one inbox withdraws them after each test, so that no desk of a later test finds them open.
A ``Party`` also speaks to any other served API (``Api``: anything with its ``base`` URL, such as the
tier-3 story's), signing in with its key or with an access token it was given (``token=``).

A suite that drives the web portal asks for ``dev_wallet=True``: the served API then hands the portal's dev
wallet (``scf serve --devnet --dev-wallet FILE``, ``api.portal``) the keys of the story's parties, labelled as
``scf demo`` labels them (``DEV_WALLET_LABELS``: tier3, core, dev-bank, auditor).

For pre-shipment finance a module puts the dev bank's deposits in its guarantee pool (``fund_pool``) and
makes orders of the story's core from a supplier (``funded_order``: co-signed, created and funded on chain,
then indexed by the API); ``Party.ask_prepayment`` asks for a pre-payment and records the request too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import select

from api.cli import index as index_cli
from api.cli import score as score_cli
from api.cli.demo.cast import keys_of
from api.cli.demo.story import pay_down, plan_story
from api.cli.score import DEFAULT_MODEL
from api.desk.desk import PassReport
from api.desk.run import DeskOptions, run_desk
from ledger.clients.credit import CreditRegistryClient
from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.domain.escrow import OrderTerms, po_ref_hash
from ledger.domain.receivables import Child
from ledger.eth.artifacts import BuildResult
from ledger.index.sql.db import make_engine
from ledger.index.sql.models import CreditLimit, Piece, Root
from ledger.toolchain.deploy import enrol_dev_members
from scenarios.world import CORE, DAY, UNIT, World, generate
from scoring.policy import DEV_BANK
from scoring.scorecard import Model
from tests.support import serve
from tests.support.keystores import cheap_keystore
from tests.support.played_world import SMALL, PlayedWorld, small_world
from tests.support.ports import free_port
from tests.support.wallet import sign_prepared

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0
PASSWORD = "desk-world-password"
MAX_UINT256 = 2**256 - 1


@dataclass
class DeskWorld:
    """The served world, the dev bank's desk files, the tier-3 supplier's piece, the slices and the barred piece."""

    world: PlayedWorld
    parties: World
    base: str
    rpc: str
    db_url: str
    record: Path  # the deployment record (``--deployment``)
    env: dict[str, str]
    root: Path
    bank: LocalAccount
    keystore: Path
    password_file: Path
    keys: dict[str, LocalAccount]
    tier3: str
    piece_id: int
    core: str
    #: pieces well within their holder's limit (one holder's, split for requests of their own)
    slices: list[int]
    slicer: str
    #: a piece of a supplier the dev bank published a limit of 0 for: (piece id, holder)
    barred: tuple[int, str]
    logs: list[str] = field(default_factory=list)
    #: (the asker's headers, the request's id) of every request a ``Party`` asked, for a module to withdraw
    asked: list[tuple[dict[str, str], str]] = field(default_factory=list)
    #: the same for pre-payment requests (``/v1/prepayment-requests/{id}/withdraw``)
    asked_prepayments: list[tuple[dict[str, str], str]] = field(default_factory=list)
    build: BuildResult | None = None
    #: the dev wallet's file the API serves at /app/dev-wallet.json (``dev_wallet=True``), else None
    dev_wallet: Path | None = None

    def options(self, journal: Path, policy: Path = DEV_BANK, **overrides: Any) -> DeskOptions:
        return DeskOptions(
            api=self.base,
            bank=self.bank.address,
            keystore=self.keystore,
            policy=policy,
            password_file=self.password_file,
            journal=journal,
            **{"once": True, **overrides},
        )

    def policy_file(self, name: str, **changes: Any) -> Path:
        """The dev bank's policy with ``changes`` to its top-level fields, as ``NAME.json`` in the world's folder."""
        body = json.loads(DEV_BANK.read_text())
        body.update(changes)
        path = self.root / f"{name}.json"
        path.write_text(json.dumps(body))
        return path

    def escrow(self) -> TradeEscrowClient:
        assert self.build is not None
        return TradeEscrowClient(self.world.chain, self.build, self.world.result.addresses["TradeEscrow"])

    def fund_pool(self, amount: int) -> None:
        """The dev bank puts ``amount`` of its deposits in its TradeEscrow guarantee pool, and the API indexes it."""
        assert self.build is not None
        addresses = self.world.result.addresses
        TokenClient(self.world.chain, self.build, addresses["SettlementToken"]).approve(
            addresses["TradeEscrow"], MAX_UINT256, self.bank
        )
        self.escrow().fund_pool(amount, self.bank)
        wait_indexed(self.base, self.rpc)

    def funded_order(self, supplier: str, amount: int, *, ship_in: int = 20 * DAY, deliver_in: int = 40 * DAY) -> int:
        """An order of the story's core from ``supplier`` for ``amount``: co-signed by both, created and funded on
        chain (the dev bank mints the core the deposits), indexed by the API; its id."""
        assert self.build is not None
        chain, addresses = self.world.chain, self.world.result.addresses
        core, seller = self.keys[self.core], self.keys[supplier]
        tokens = TokenClient(chain, self.build, addresses["SettlementToken"])
        tokens.mint(core.address, amount, self.bank)
        tokens.approve(addresses["TradeEscrow"], MAX_UINT256, core)
        now = chain.timestamp()
        reference = f"DESK-WORLD-PO-{now}-{supplier}-{amount}"
        terms = OrderTerms(
            core.address, seller.address, addresses["SettlementToken"], amount, now + ship_in, now + deliver_in, False,
            keccak(text=f"terms of {reference}"), po_ref_hash(reference),
            int.from_bytes(keccak(text=reference)[:8], "big"), now + DAY,
        )  # fmt: skip
        escrow = self.escrow()
        order_id, _ = escrow.create_order(terms, escrow.sign_order(core, terms), escrow.sign_order(seller, terms), core)
        escrow.fund(order_id, core)
        wait_indexed(self.base, self.rpc)
        return order_id

    def desk(self, journal: Path, policy: Path = DEV_BANK, **overrides: Any) -> PassReport:
        """One pass of the dev bank's desk over its inbox (``scf bank desk --once``), in process."""
        report: PassReport = run_desk(self.options(journal, policy, **overrides), log=self.logs.append)
        return report


def rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
    assert "error" not in answer, answer
    return answer["result"]


def wait_indexed(base: str, rpc_url: str) -> None:
    """Until the API's indexer has reached the chain's head."""
    head = int(rpc(rpc_url, "eth_blockNumber", []), 16)
    deadline = time.monotonic() + WAIT
    while (indexed := httpx.get(f"{base}/v1/health", timeout=10).json().get("indexedBlock") or -1) < head:
        assert time.monotonic() < deadline, f"the API's indexer is stuck at {indexed} < {head}"
        time.sleep(0.2)


class Api(Protocol):
    """What a ``Party`` speaks to: a served API (a ``DeskWorld``, or a suite's own)."""

    @property
    def base(self) -> str: ...


class Party:
    """One party speaking to the API with its own key: signed in with it, or with the access ``token`` it was given."""

    def __init__(self, world: Api, account: LocalAccount, *, token: str | None = None) -> None:
        self.world = world
        self.account = account
        self.headers = serve.sign_in(world.base, account) if token is None else {"Authorization": f"Bearer {token}"}

    @property
    def token(self) -> str:
        """The access token it speaks with (for a command's ``--token``)."""
        return self.headers["Authorization"].removeprefix("Bearer ")

    def desk_world(self) -> DeskWorld:
        """The desk world it speaks to, which records the requests its parties ask."""
        assert isinstance(self.world, DeskWorld), "only a desk world records the requests a party asks"
        return self.world

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.world.base}{path}", headers=self.headers, params=params, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        answer = httpx.post(f"{self.world.base}{path}", json=body or {}, headers=self.headers, timeout=60)
        assert answer.status_code == expect, answer.text
        return answer.json()

    def act(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST an action, sign the prepared transaction, submit it, wait until mined and indexed."""
        raw = sign_prepared(self.account, self.post(path, body))
        submitted = self.post("/v1/submissions", {"rawTransaction": raw}, expect=202)
        deadline = time.monotonic() + WAIT
        while True:
            status: dict[str, Any] = self.get(submitted["statusUrl"])
            if status["status"] != "pending" and status["indexed"]:
                assert status["status"] == "mined", status
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.2)

    def ask(self, piece_id: int, bank: str) -> dict[str, Any]:
        """A financing request on ``piece_id`` to ``bank``, recorded in the world's ``asked``."""
        request: dict[str, Any] = self.post(
            f"/v1/receivables/pieces/{piece_id}/financing-requests", {"bank": bank}, expect=201
        )
        self.desk_world().asked.append((self.headers, request["id"]))
        return request

    def ask_prepayment(self, order_id: int, amount: int, bank: str) -> dict[str, Any]:
        """A pre-payment request of ``amount`` on ``order_id`` to ``bank``, recorded in ``asked_prepayments``."""
        request: dict[str, Any] = self.post(
            f"/v1/orders/{order_id}/prepayment-requests", {"amount": str(amount), "bank": bank}, expect=201
        )
        self.desk_world().asked_prepayments.append((self.headers, request["id"]))
        return request


#: The parties the portal's dev wallet holds (``dev_wallet=True``), labelled as ``scf demo``'s dev wallet labels them.
DEV_WALLET_LABELS = ("tier3", "core", "dev-bank", "auditor")


def write_dev_wallet(path: Path, parties: World, cast: dict[str, tuple[LocalAccount, str]]) -> Path:
    """The dev wallet's file (``{"devnetOnly": true, "parties": [{label, name, does, address, key}]}``) holding
    ``cast``'s keys (label -> (account, what it does)), named as in the played world; readable by its owner only."""
    names = {p.address: p.name for p in parties.parties}
    held = [
        {
            "label": label,
            "name": names.get(account.address, label),
            "does": does,
            "address": account.address,
            "key": "0x" + bytes(account.key).hex(),
        }
        for label, (account, does) in cast.items()
    ]
    path.touch(mode=0o600)
    path.write_text(json.dumps({"devnetOnly": True, "parties": held}, indent=1) + "\n")
    return path


@contextmanager
def served_desk_world(
    build: BuildResult, root: Path, *, slices: int = 3, dev_wallet: bool = False
) -> Iterator[DeskWorld]:
    """The desk's world (the module's docstring) in ``root``, reverted to the played world on exit; ``dev_wallet``:
    the API also serves the portal's dev wallet with the story's parties (``DEV_WALLET_LABELS``)."""
    world = small_world(build)
    chain, rpc_url = world.chain, world.devnet.url
    assert chain.accounts is not None
    snapshot = chain.snapshot()  # Chain.revert also forgets the nonces it counted past the snapshot
    server: subprocess.Popen[bytes] | None = None
    try:
        record = root / "deployments" / f"{chain.chain_id}.json"
        record.parent.mkdir(parents=True)
        contracts = {name: {"address": address, "blockNumber": 0} for name, address in world.result.addresses.items()}
        record.write_text(json.dumps({"chainId": chain.chain_id, "contracts": contracts}))
        addresses = world.result.addresses
        enrol_dev_members(chain, build, addresses["Membership"], chain.accounts)
        db_url = f"sqlite:///{root / 'ledger.db'}"
        where = ["--db", db_url, "--chain", rpc_url, "--deployment", str(record)]
        assert index_cli.main([*where, "--quiet"]) == 0
        assert score_cli.main(["--all", "--publish", "--bank", "dev-bank", *where]) == 0

        # The dev bank's deposits, and Receivables allowed to take a price from them when a holder accepts.
        bank = chain.accounts["bank"]
        tokens = TokenClient(chain, build, addresses["SettlementToken"])
        tokens.mint(bank.address, 10**9 * UNIT, bank)
        tokens.approve(addresses["Receivables"], MAX_UINT256, bank)
        assert index_cli.main([*where, "--quiet"]) == 0  # the limits just published, for the plan to read

        # A tier-3 supplier that never sold to a core comes to hold a live piece of a core's receivable.
        parties = generate(SMALL)
        keys = keys_of(parties, chain)
        engine = make_engine(db_url)
        try:
            story = plan_story(engine, chain.chain_id, parties, bank.address, chain.timestamp())
        finally:
            engine.dispose()
        assert story.limit > 0, "the tier-3 supplier of the story has a limit from the dev bank"
        receivables = ReceivablesClient(chain, build, addresses["Receivables"])
        piece_id = pay_down(chain, receivables, story, keys)
        assert index_cli.main([*where, "--quiet"]) == 0
        cores = {p.address for p in parties.of_kind(CORE)}
        found = _sellable(db_url, bank.address, cores, chain.timestamp())
        sliced, slicer = _slice(found, keys, receivables, slices, exclude=story.tier3)
        barred = _barred(found, keys, exclude={story.tier3, slicer})
        # The dev bank stops dealing with its holder: a limit of 0, under the model its other limits were set by.
        registry = CreditRegistryClient(chain, build, addresses["CreditRegistry"])
        model = bytes.fromhex(Model.load(DEFAULT_MODEL).version[2:])
        registry.grant(bank, barred[1], 0, chain.timestamp() + 365 * DAY, model_hash=model)
        assert index_cli.main([*where, "--quiet"]) == 0

        keystore = cheap_keystore(bank, root / "keys" / "bank.json", PASSWORD)
        password_file = root / "keys" / "password"
        password_file.write_text(PASSWORD + "\n")

        env = {**os.environ, "SCF_DEPLOYMENTS_DIR": str(record.parent), "SCF_DEVNET_RUN_DIR": str(root / "run")}
        port = free_port()
        command = [sys.executable, "-m", "api", "serve", "--port", str(port), "--chain", rpc_url, "--db", db_url]
        wallet: Path | None = None
        if dev_wallet:
            cast = {
                "tier3": (keys[story.tier3], f"never sold to a core; holds piece {piece_id} of a core's receivable"),
                "core": (keys[story.core], "owes the receivable (its debtor)"),
                "dev-bank": (bank, "the dev bank: published the limits, its desk prices the requests"),
                "auditor": (chain.accounts["auditor"], "reads everything; replays the chain"),
            }
            wallet = write_dev_wallet(root / "dev-wallet.json", parties, cast)
            command += ["--dev-wallet", str(wallet)]
        server = subprocess.Popen([*command, "--index", "--devnet"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        serve.wait_until_up(serve.Served(server, base), WAIT)
        wait_indexed(base, rpc_url)
        yield DeskWorld(
            world, parties, base, rpc_url, db_url, record, env, root, bank, keystore, password_file, keys,
            story.tier3, piece_id, story.core, sliced, slicer, barred, build=build, dev_wallet=wallet,
        )  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        chain.revert(snapshot)


def _sellable(db_url: str, bank: str, cores: set[str], now: int) -> list[tuple[Any, int]]:
    """Live, whole pieces of a core's receivable held by a supplier ``bank`` published a limit for, with the limit."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            limits = {
                row.party: int(row.limit)
                for row in connection.execute(
                    select(CreditLimit.party, CreditLimit.limit).where(
                        CreditLimit.bank == bank, CreditLimit.revoked.is_(False)
                    )
                )
            }
            rows = connection.execute(
                select(Piece.piece_id, Piece.holder, Piece.amount, Root.debtor)
                .join(Root, (Root.chain_id == Piece.chain_id) & (Root.root_id == Piece.root_id))
                .where(
                    Piece.child_count == 0,
                    Piece.financed.is_(False),
                    Piece.claimed == 0,
                    Root.status == "OUTSTANDING",
                    Root.maturity > now + 14 * DAY,
                )
                .order_by(Piece.piece_id)
            ).all()
    finally:
        engine.dispose()
    return [(row, limits[row.holder]) for row in rows if row.debtor in cores and row.holder in limits]


def _slice(
    found: list[tuple[Any, int]],
    keys: dict[str, LocalAccount],
    receivables: ReceivablesClient,
    count: int,
    *,
    exclude: str,
) -> tuple[list[int], str]:
    """``count`` pieces well within their holder's limit, split off a piece of the holder with the largest limit."""
    found = [(row, limit) for row, limit in found if row.holder != exclude and row.holder in keys]
    row, limit = max(found, key=lambda f: (f[1], int(f[0].amount)))
    size = min(limit // 10, int(row.amount) // (count + 1)) // UNIT * UNIT
    assert size > 0, (row, limit)
    children = [Child(size, row.holder, keccak(text=f"desk world slice {i}")) for i in range(count)]
    children.append(Child(int(row.amount) - count * size, row.holder, keccak(text="desk world rest")))
    created, _ = receivables.split(int(row.piece_id), children, keys[row.holder])
    return list(created[:count]), str(row.holder)


def _barred(found: list[tuple[Any, int]], keys: dict[str, LocalAccount], *, exclude: set[str]) -> tuple[int, str]:
    """The first piece of a holder whose key we have and not in ``exclude`` (the tier-3 supplier and the slicer,
    whose pieces other requests use): the piece and its holder, whom the dev bank then bars (a limit of 0)."""
    others = [row for row, _ in found if row.holder not in exclude and row.holder in keys]
    assert others, "the world has a piece of a third supplier with a limit from the dev bank"
    return int(others[0].piece_id), str(others[0].holder)
