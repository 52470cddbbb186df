"""What each bank of a played world made and lost, counted from the chain; its fill rate from its book.

Every ``PieceFinanced`` names the bank, the seller, the price paid and the face bought. A piece
ends one of three ways by the world's last block:

* **repaid**: the bank claimed on it (``PieceClaimed``). Its interest is what it claimed minus
  the price it paid.
* **lost**: its receivable was marked defaulted (``ReceivableDefaulted``) and the bank claimed
  less than the price. The loss is the price minus what it claimed. The ledger has no recovery
  beyond a late repayment, which would show as a claim.
* **outstanding**: neither, because the receivable matures after the world ends. It is counted
  apart, and it enters no rate.

Per bank this gives the amount financed by the seller's tier, the interest earned, the losses,
the return net of losses, and the loss rate and net return in basis points of the resolved
financed amount (repaid or lost). A rate over everything financed would flatter a bank whose
pieces have not matured yet.

**Pre-shipment finance** (``pre_shipment``, see ``scenarios.prepayment``) is counted apart, from
``PrepaymentReleased`` (the amount guaranteed, the seller's tier, the fee the bank took),
``GuaranteeClaimed`` (what its pool paid a buyer for a supplier that did not deliver) and
``ShortfallRepaid`` (what suppliers repaid it). Its loss is what the pools paid and were not repaid
by the world's end, and its return the fees net of that loss. A guarantee is resolved once its order
ended (released, refunded or its dispute resolved), and its rates are over the resolved amount.
``total`` adds both products.

The fill rate of tier-2/3 requests is the share of those requests that got an offer. It comes
from the market's books (``scenarios.market.BankBook``), because requests and declines never
reach the chain. A world whose files are rebuilt from the chain alone reports it as None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from scenarios.facts import ChainFacts
from scenarios.market import BankBook
from scenarios.world import BANK, World

BPS = 10_000


def bank_returns(world: World, facts: ChainFacts, books: Mapping[str, BankBook] | None) -> list[dict[str, Any]]:
    """One summary per bank, in the world's bank order (see the module's docstring)."""
    tier_of = {p.address: p.tier for p in world.parties}
    claimed: Counter[tuple[int, str]] = Counter()
    for fact in facts.named("PieceClaimed"):
        claimed[(int(fact.args["pieceId"]), fact.args["holder"])] += int(fact.args["amount"])
    defaulted = {int(f.args["rootId"]) for f in facts.named("ReceivableDefaulted")}
    rows: dict[str, dict[str, Any]] = {}
    for bank in world.of_kind(BANK):
        rows[bank.address] = {
            "financed": Counter({"tier1": 0, "tier2": 0, "tier3": 0}),
            "pieces": 0,
            "interest": 0,
            "losses": 0,
            "repaid": 0,
            "lost": 0,
            "outstanding": 0,
        }
    for fact in facts.named("PieceFinanced"):
        row = rows.get(fact.args["bank"])
        if row is None:
            continue
        piece, price = int(fact.args["pieceId"]), int(fact.args["price"])
        row["financed"][f"tier{tier_of.get(fact.args['seller']) or 0}"] += price
        row["pieces"] += 1
        got = claimed[(piece, fact.args["bank"])]
        if got >= int(fact.args["amount"]):
            row["interest"] += got - price
            row["repaid"] += price
        elif int(fact.args["rootId"]) in defaulted:
            row["losses"] += max(0, price - got)
            row["interest"] += max(0, got - price)
            row["lost"] += price
        else:
            row["outstanding"] += price
    pre = pre_shipment_returns(world, facts)
    out = []
    for bank in world.of_kind(BANK):
        row = rows[bank.address]
        resolved = row["repaid"] + row["lost"]
        net = row["interest"] - row["losses"]
        financed: Counter[str] = row["financed"]
        book = books.get(bank.address) if books is not None else None
        out.append(
            {
                "name": bank.name,
                "address": bank.address,
                "pricing": book.pricing if book else None,
                "financed": {"total": sum(financed.values()), **dict(sorted(financed.items()))},
                "pieces": row["pieces"],
                "interest": row["interest"],
                "losses": row["losses"],
                "net_return": net,
                "resolved": resolved,
                "outstanding": row["outstanding"],
                "loss_rate_bps": round(row["losses"] * BPS / resolved) if resolved else None,
                "net_return_bps": round(net * BPS / resolved) if resolved else None,
                "fill_rate_tier23": _fill(book),
                "pre_shipment": pre[bank.address],
                "total": _total(net, resolved, pre[bank.address]),
                "market": book.to_json() if book else None,
            }
        )
    return out


def _rate(amount: int, resolved: int) -> int | None:
    return round(amount * BPS / resolved) if resolved else None


def _total(net: int, resolved: int, pre: dict[str, Any]) -> dict[str, Any]:
    net, resolved = net + pre["net_return"], resolved + pre["resolved"]
    return {"net_return": net, "resolved": resolved, "net_return_bps": _rate(net, resolved)}


def pre_shipment_returns(world: World, facts: ChainFacts) -> dict[str, dict[str, Any]]:
    """Per bank address: what it guaranteed before shipment, the fees, what its pool paid and got back."""
    tier_of = {p.address: p.tier for p in world.parties}
    ended = {int(f.args["orderId"]) for f in facts.named("OrderReleased", "OrderRefunded", "DisputeResolved")}
    rows: dict[str, dict[str, Any]] = {}
    for bank in world.of_kind(BANK):
        rows[bank.address] = {"guaranteed": Counter({"tier1": 0, "tier2": 0, "tier3": 0}), "fees": 0, "claimed": 0,
                              "recovered": 0, "resolved": 0, "outstanding": 0, "prepayments": 0}  # fmt: skip
    for fact in facts.named("PrepaymentReleased"):
        row = rows.get(fact.args["guarantor"])
        if row is None:
            continue
        amount = int(fact.args["amount"])
        row["guaranteed"][f"tier{tier_of.get(fact.args['supplier']) or 0}"] += amount
        row["fees"] += int(fact.args["fee"])
        row["prepayments"] += 1
        row["resolved" if int(fact.args["orderId"]) in ended else "outstanding"] += amount
    for fact in facts.named("GuaranteeClaimed"):
        if fact.args["guarantor"] in rows:
            rows[fact.args["guarantor"]]["claimed"] += int(fact.args["amount"])
    for fact in facts.named("ShortfallRepaid"):
        if fact.args["guarantor"] in rows:
            rows[fact.args["guarantor"]]["recovered"] += int(fact.args["amount"])
    out = {}
    for address, row in rows.items():
        guaranteed: Counter[str] = row.pop("guaranteed")
        losses = row["claimed"] - row["recovered"]
        net = row["fees"] - losses
        out[address] = {
            "guaranteed": {"total": sum(guaranteed.values()), **dict(sorted(guaranteed.items()))},
            **row,
            "losses": losses,
            "net_return": net,
            "loss_rate_bps": _rate(losses, row["resolved"]),
            "net_return_bps": _rate(net, row["resolved"]),
        }
    return out


def _fill(book: BankBook | None) -> float | None:
    if book is None:
        return None
    asked = book.asked[2] + book.asked[3]
    return round((book.offered[2] + book.offered[3]) / asked, 4) if asked else None
