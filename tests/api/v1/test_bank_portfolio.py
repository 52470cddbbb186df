"""The bank's portfolio: ``GET /v1/banks/me/portfolio`` (the browser's proof verifier: tests/api/portal/test_proof.py).

Two worlds. On a ``fresh`` ledger the bank buys seven pieces and each comes to a different end (one
of a split receivable, partly repaid; one not yet due; one repaid and not claimed; one repaid and
claimed; one overdue on another obligor; one defaulted and partly repaid after; one sold on), so every
state, bucket and sum has a known answer. On the played small world (``tests.support.desk_world``,
served over HTTP with its own indexer), every bank's portfolio is checked against the chain itself
(``PieceFinanced`` logs, ``pieceOf``, ``rootOf``, ``ownerOf``: never the index), and the dev bank's
desk prices a tier-3 supplier's piece that the supplier accepts: it shows in the portfolio as financed
on that offer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.clients.receivables import ReceivablesClient
from ledger.clients.token import TokenClient
from ledger.eth.artifacts import BuildResult
from tests.support.api_world import World
from tests.support.desk_world import DeskWorld, Party, served_desk_world
from tests.support.escrow import acct, addr
from tests.support.receivables import (
    children,
    claim,
    finance,
    issue,
    issue_terms,
    offer_of,
    receivables_of,
    repay,
    split,
)

ROOT = Path(__file__).resolve().parents[3]
PROOF_TS = ROOT / "api" / "portal" / "web" / "src" / "proof.ts"
UNIT = 10**6
DAY = 86_400
MAX_UINT256 = 2**256 - 1
BUCKETS = ["overdue", "0-30", "31-60", "61-90", "91-180", ">180"]
OPEN = {"outstanding", "overdue", "defaulted"}


def _portfolio(world: World, role: str) -> Any:
    return world.client.get("/v1/banks/me/portfolio", headers=world.sign_in(role))


def _bucket(maturity: int, now: int) -> str:
    if maturity < now:
        return "overdue"
    days = (maturity - now) // DAY
    return next(name for name, last in zip(BUCKETS[1:], (30, 60, 90, 180, 10**12), strict=True) if days <= last)


def test_a_banks_portfolio_gives_each_held_piece_its_state_and_sums_exposure_ladder_and_return(fresh: World) -> None:
    deployed, bank = fresh.deployed, fresh.account("bank")
    tokens = TokenClient(fresh.chain, deployed.build, deployed.addresses["SettlementToken"])
    for payer in ("bank", "core", "tier2"):
        tokens.mint(addr(deployed, payer), 1_000_000 * UNIT, bank)
        tokens.approve(deployed.addresses["Receivables"], MAX_UINT256, acct(deployed, payer))
    receivables = receivables_of(deployed)
    receivables.set_grace_period(DAY, acct(deployed, "admin"))

    def bought(face: int, price: int, maturity_days: int, nonce: int, debtor: str = "core") -> int:
        root, _ = issue(
            deployed,
            issue_terms(
                deployed,
                debtor=debtor,
                face=face * UNIT,
                maturity_in=maturity_days * DAY,
                invoice=f"PF-{nonce}",
                nonce=nonce,
            ),
            submitter=debtor,
        )
        finance(deployed, offer_of(deployed, root, price=price * UNIT, nonce=nonce), "tier1")
        return root

    # A: a piece of a split receivable, which is then half repaid (its share: 30,000 of its 60,000).
    split_root, _ = issue(
        deployed, issue_terms(deployed, face=100_000 * UNIT, maturity_in=200 * DAY, invoice="PF-A", nonce=1)
    )
    piece_a, _rest = split(
        deployed,
        split_root,
        children(deployed, (60_000 * UNIT, "tier1", "A"), (40_000 * UNIT, "tier1", "rest")),
        "tier1",
    )
    finance(deployed, offer_of(deployed, piece_a, price=58_800 * UNIT, nonce=1), "tier1")
    not_due = bought(40_000, 39_500, 20, 2)
    waiting = bought(50_000, 49_500, 45, 3)
    closed = bought(20_000, 19_800, 45, 4)
    overdue = bought(30_000, 29_700, 3, 5, debtor="tier2")
    defaulted = bought(10_000, 9_500, 2, 6)
    sold_on = bought(5_000, 4_900, 45, 7)
    issue(deployed, issue_terms(deployed, face=8_000 * UNIT, invoice="PF-unfinanced", nonce=8))

    repay(deployed, split_root, 50_000 * UNIT)
    repay(deployed, waiting, 50_000 * UNIT)
    repay(deployed, closed, 20_000 * UNIT)
    claim(deployed, closed, bank)
    receivables.transfer(sold_on, addr(deployed, "tier2"), bank)
    fresh.chain.advance_time(4 * DAY)  # the 2- and 3-day maturities pass, and the 1-day grace after the first
    receivables.mark_defaulted(defaulted, acct(deployed, "relayer"))
    repay(deployed, defaulted, 3_000 * UNIT)
    fresh.index()

    answer = _portfolio(fresh, "bank")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    now = body["now"]
    assert body["bank"] == bank.address and now >= fresh.chain.timestamp()
    rows = {int(p["pieceId"]): p for p in body["pieces"]}
    assert sorted(rows) == sorted([piece_a, not_due, waiting, closed, overdue, defaulted])
    assert body["notHeld"] == 1  # the piece sold on

    core, tier1, tier2 = addr(deployed, "core"), addr(deployed, "tier1"), addr(deployed, "tier2")
    expected = {
        piece_a: ("outstanding", 60_000, 58_800, 0, 30_000, 30_000, core),
        not_due: ("outstanding", 40_000, 39_500, 0, 0, 40_000, core),
        waiting: ("repaid", 50_000, 49_500, 0, 50_000, 0, core),
        closed: ("claimed", 20_000, 19_800, 20_000, 0, 0, core),
        overdue: ("overdue", 30_000, 29_700, 0, 0, 30_000, tier2),
        defaulted: ("defaulted", 10_000, 9_500, 0, 3_000, 7_000, core),
    }
    for piece_id, (state, amount, price, collected, claimable, due, obligor) in expected.items():
        row = rows[piece_id]
        assert row["state"] == state, (piece_id, row)
        assert (row["amount"], row["price"], row["collected"], row["claimable"], row["due"]) == tuple(
            str(x * UNIT) for x in (amount, price, collected, claimable, due)
        ), (piece_id, row)
        assert (row["obligor"], row["seller"]) == (obligor, tier1)
        assert row["bucket"] == (_bucket(int(row["maturity"]), now) if state in OPEN else None)
    assert rows[piece_a]["rootId"] == str(split_root) and rows[piece_a]["nonce"] == "1"
    assert rows[defaulted]["defaultedAt"] > 0 and rows[overdue]["defaultedAt"] == 0
    assert rows[piece_a]["bucket"] == ">180" and rows[not_due]["bucket"] == "0-30"
    assert rows[overdue]["bucket"] == rows[defaulted]["bucket"] == "overdue"

    assert body["counts"] == {"outstanding": 2, "overdue": 1, "defaulted": 1, "repaid": 1, "claimed": 1}
    assert body["byObligor"] == [
        {"obligor": core, "pieces": 3, "due": str(77_000 * UNIT), "paid": str(107_800 * UNIT)},
        {"obligor": tier2, "pieces": 1, "due": str(30_000 * UNIT), "paid": str(29_700 * UNIT)},
    ]
    ladder = {b["bucket"]: (b["pieces"], int(b["due"]) // UNIT) for b in body["ladder"]}
    assert [b["bucket"] for b in body["ladder"]] == BUCKETS
    assert ladder == {
        "overdue": (2, 37_000),
        "0-30": (1, 40_000),
        "31-60": (0, 0),
        "61-90": (0, 0),
        "91-180": (0, 0),
        ">180": (1, 30_000),
    }
    assert body["totals"] == {
        "paid": str(206_800 * UNIT),
        "amount": str(210_000 * UNIT),
        "collected": str(20_000 * UNIT),
        "claimable": str(83_000 * UNIT),
        "due": str(107_000 * UNIT),
    }
    assert body["returnSoFar"] == {
        "pieces": 1,
        "paid": str(19_800 * UNIT),
        "collected": str(20_000 * UNIT),
        "net": str(200 * UNIT),
    }
    # No chain of verified sales to a core in this ledger: no tier, and the answer says why.
    assert rows[not_due]["sellerTier"] is None and body["tiers"]["note"]


def test_only_a_bank_reads_a_portfolio(fresh: World) -> None:
    answer = _portfolio(fresh, "tier1")
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"


# -- the played world ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desk(build: BuildResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeskWorld]:
    with served_desk_world(build, tmp_path_factory.mktemp("bank-portfolio"), slices=1) as world:
        yield world


def _from_chain(world: DeskWorld, bank: str, now: int) -> tuple[dict[int, dict[str, Any]], int]:
    """The pieces ``bank`` financed and holds, as the chain says (its logs and its storage, never the index),
    and how many it financed and no longer holds as one piece."""
    assert world.build is not None
    client = ReceivablesClient(world.world.chain, world.build, world.world.result.addresses["Receivables"])
    logs = client.contract.events.PieceFinanced().get_logs(from_block=0, argument_filters={"bank": bank})
    held: dict[int, dict[str, Any]] = {}
    for log in logs:
        piece_id = int(log.args.pieceId)
        piece, root = client.piece(piece_id), client.root(int(log.args.rootId))
        if client.holder_of(piece_id) != bank or piece.child_count:
            continue
        collectible = piece.amount * root.repaid // root.face_value
        if piece.claimed >= piece.amount:
            state = "claimed"
        elif root.repaid == root.face_value:
            state = "repaid"
        elif root.defaulted_at:
            state = "defaulted"
        elif root.maturity < now:
            state = "overdue"
        else:
            state = "outstanding"
        held[piece_id] = {
            "pieceId": str(piece_id),
            "rootId": str(root.root_id),
            "obligor": root.debtor,
            "seller": log.args.seller,
            "price": str(log.args.price),
            "amount": str(piece.amount),
            "collected": str(piece.claimed),
            "claimable": str(collectible - piece.claimed),
            "due": str(piece.amount - collectible),
            "maturity": str(root.maturity),
            "defaultedAt": root.defaulted_at,
            "nonce": str(log.args.nonce),
            "state": state,
        }
    return held, len(logs) - len(held)


def _sums(rows: list[dict[str, Any]], name: str) -> int:
    return sum(int(r[name]) for r in rows)


def test_every_banks_portfolio_in_a_played_world_is_what_the_chain_says(desk: DeskWorld) -> None:
    tiers = {p.address: p.tier for p in desk.parties.parties}  # the world's own (hidden from the ledger)
    banks = [p for p in desk.parties.parties if p.kind == "bank"]
    seen, placed = 0, []
    for bank in banks:
        body = Party(desk, desk.keys[bank.address]).get("/v1/banks/me/portfolio")
        held, not_held = _from_chain(desk, bank.address, body["now"])
        fields = list(next(iter(held.values()), {}))
        assert {p["pieceId"]: {k: p[k] for k in fields} for p in body["pieces"]} == {str(k): v for k, v in held.items()}
        assert body["notHeld"] == not_held
        rows = body["pieces"]
        seen += len(rows)
        open_rows = [r for r in rows if r["state"] in OPEN]
        assert sum(b["pieces"] for b in body["ladder"]) == len(open_rows)
        assert _sums(body["ladder"], "due") == _sums(open_rows, "due") == int(body["totals"]["due"])
        assert _sums(body["byObligor"], "due") == _sums(open_rows, "due")
        for bucket in body["ladder"]:
            assert bucket["pieces"] == sum(
                1 for r in open_rows if _bucket(int(r["maturity"]), body["now"]) == bucket["bucket"]
            )
        closed = [r for r in rows if r["state"] == "claimed"]
        assert int(body["returnSoFar"]["net"]) == _sums(closed, "collected") - _sums(closed, "price")
        assert body["counts"] == {s: sum(1 for r in rows if r["state"] == s) for s in body["counts"]}
        # The scorer places a world's sellers by their verified trade: where it does, as the world made them.
        placed += [row["sellerTier"] == tiers[row["seller"]] for row in rows if row["sellerTier"] is not None]
    assert seen > 0, "the played world's banks financed pieces"
    assert placed and all(placed), "every seller the scorer places is at its tier in the world"


def test_a_piece_the_desk_priced_and_the_supplier_accepted_is_in_the_dev_banks_portfolio(
    desk: DeskWorld, tmp_path: Path
) -> None:
    tier3 = Party(desk, desk.keys[desk.tier3])
    dev_bank = Party(desk, desk.bank)
    before = dev_bank.get("/v1/banks/me/portfolio")
    assert str(desk.piece_id) not in {p["pieceId"] for p in before["pieces"]}
    tier3.ask(desk.piece_id, desk.bank.address)
    desk.desk(tmp_path / "journal.jsonl")
    [offer] = tier3.get(f"/v1/receivables/pieces/{desk.piece_id}/offers")
    assert offer["pricing"] is not None, "the desk records how it priced the offer"
    tier3.act(f"/v1/receivables/offers/{offer['id']}/accept")

    after = dev_bank.get("/v1/banks/me/portfolio")
    [row] = [p for p in after["pieces"] if p["pieceId"] == str(desk.piece_id)]
    assert (row["state"], row["price"], row["nonce"], row["seller"]) == (
        "outstanding",
        offer["price"],
        offer["nonce"],
        desk.tier3,
    )
    assert row["obligor"] == desk.core and row["due"] == row["amount"]
    exposure = {o["obligor"]: o for o in after["byObligor"]}[desk.core]
    earlier = {o["obligor"]: o for o in before["byObligor"]}.get(desk.core, {"due": "0", "pieces": 0})
    assert int(exposure["due"]) - int(earlier["due"]) == int(row["amount"])
    assert exposure["pieces"] == earlier["pieces"] + 1
