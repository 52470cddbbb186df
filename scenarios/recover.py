"""A played world found again from the chain alone: "already played" is the chain's to say, not a file's.

A world's parties, keys and plan follow from its settings (``world.generate``, ``plan.make_plan``).
Where its play sits on a chain follows from how ``play`` stamps time, so ``find_played`` reads it
back with views and block headers only:

* played at all: every party of the world is a member of the deployment (``play`` admits them all
  in its first batch, before anything else); none is: not played here;
* start: the block that admitted the world's first party, the play's first block, stamped with the
  plan's start; the plan is rebuilt from that timestamp, so a world played later than usual (on a
  chain whose clock had moved on) is found as well;
* observation end: the last block before tick ``observation_ticks``'s first block (each tick's first
  block is stamped with the tick's time and later blocks with later times);
* end: the last block of the last tick holding a transaction of the world's own accounts, before
  any block that holds someone else's or a long run of empty ones. The play's own end is not
  written on chain; this is it whenever the play was followed by anyone else's transaction or by
  nothing (``make run`` publishes the dev bank's limits next; ``scf simulate`` returns).

A world whose parties are members but whose last week is not on chain was interrupted; one whose
purchase-order references belong to another world (same seed, firm and month count, another
hold-out) cannot be played here. Both are errors that say what to do, raised before anything is
sent.

``rebuild_outputs`` writes ``world.json`` and ``ground_truth.json`` from what was found, as ``play``
would have written them, except what a play keeps off chain: the EPCIS documents the oracle
services captured (counts), and the bad actors' refused attempts (reverted transactions leave no
log; ``scf index`` keeps them as refused calls). Both files say so under ``recovered``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.clients.escrow import TradeEscrowClient
from ledger.clients.membership import MembershipClient
from ledger.eth.artifacts import BuildResult
from ledger.eth.chain import Chain
from scenarios.errors import WorldIncomplete
from scenarios.facts import read_facts
from scenarios.plan import Plan, make_plan
from scenarios.player import po_ref_conflict
from scenarios.records import Checkpoint
from scenarios.summary import summarise
from scenarios.truth import write_outputs
from scenarios.world import DEFAULT_START, WEEK, ScenarioConfig, World, generate

#: Empty blocks in a row after which the play is taken to be over (an interval-mining node makes one a
#: second once the play has returned; the play itself mines a block only for transactions it sent).
MAX_EMPTY_RUN: Final = 16
#: What a rebuilt file cannot say, because the play kept it off chain.
NOT_ON_CHAIN: Final = (
    "summary.epcis_events",
    "summary.refused_double_financing",
    "summary.banks[].pricing",
    "summary.banks[].fill_rate_tier23",
    "summary.banks[].market",
    "refused_attempts",
)


@dataclass(frozen=True)
class FoundWorld:
    """A world of ``world.config`` whose whole play is on chain, between ``start`` and ``end``."""

    world: World
    plan: Plan
    start: Checkpoint
    observation_end: Checkpoint
    end: Checkpoint


def find_played(
    chain: Chain, build: BuildResult, config: ScenarioConfig, addresses: Mapping[str, str]
) -> FoundWorld | None:
    """The world of ``config`` as played on the deployment at ``addresses``; None when it was not played
    there. Raises ``WorldIncomplete`` (its play was interrupted) or ``WorldConflict`` (another world holds
    its purchase orders: playing it would fail part-way)."""
    world = generate(config)
    client = MembershipClient(chain, build, addresses["Membership"])
    membership = client.contract
    members = [p for p in world.parties if client.member_of(p.address).admitted]
    if not members:
        conflict = po_ref_conflict(
            TradeEscrowClient(chain, build, addresses["TradeEscrow"]), make_plan(world, DEFAULT_START)
        )
        if conflict is not None:
            raise conflict
        return None
    if len(members) < len(world.parties):
        counted = f"only {len(members)} of its {len(world.parties)} parties are members"
        raise WorldIncomplete(membership.address, counted)

    head = chain.block_number
    admitted = membership.events.MemberAdmitted.get_logs(
        argument_filters={"party": world.parties[0].address}, from_block=0, to_block=head
    )
    if not admitted:
        raise WorldIncomplete(membership.address, f"no admission of {world.parties[0].address} is on chain")
    start_block = int(admitted[0]["blockNumber"])
    start = Checkpoint(start_block, _time(chain, start_block))
    plan = make_plan(world, start.timestamp)

    last_tick = plan.tick_time(plan.ticks - 1)
    first_of_last = _first_at_or_after(chain, last_tick, start_block, head)
    if first_of_last is None or _time(chain, first_of_last) != last_tick:
        raise WorldIncomplete(membership.address, f"its last week (week {plan.ticks}) is not on chain")
    accounts = {p.address for p in world.parties} | {world.relayer.address}
    end_block = _last_block_of(chain, accounts, first_of_last, head, until=last_tick + WEEK)
    end = Checkpoint(end_block, _time(chain, end_block))
    if plan.observation_ticks < plan.ticks:
        tick = _first_at_or_after(chain, plan.tick_time(plan.observation_ticks), start_block, end_block)
        assert tick is not None, "the last tick is on chain, so every earlier one is"
        observation_end = Checkpoint(tick - 1, _time(chain, tick - 1))
    else:
        observation_end = end
    return FoundWorld(world, plan, start, observation_end, end)


def rebuild_outputs(
    chain: Chain, build: BuildResult, found: FoundWorld, addresses: Mapping[str, str], out_dir: Path
) -> tuple[Path, Path]:
    """``world.json`` and ``ground_truth.json`` of ``found`` in ``out_dir``, from the chain and the settings."""
    facts = read_facts(chain, build, addresses, found.start.block, found.end.block)
    summary: dict[str, Any] = summarise(found.world, facts, [], {})
    for key in NOT_ON_CHAIN:
        if key.startswith("summary.") and "[]" not in key:  # a bank's market figures: None without its books
            summary[key.removeprefix("summary.")] = None
    recovered = {
        "at_block": chain.block_number,
        "not_on_chain": list(NOT_ON_CHAIN),
        "why": "the world's files were rebuilt from the chain and its settings; what the play kept off chain "
        "(oracle capture counts, reverted attempts, the banks' quotes and declines) is not in them",
    }
    return write_outputs(
        out_dir, found.world, found.plan, facts, chain.chain_id, addresses, found.start, found.observation_end,
        found.end, summary, [], recovered=recovered,
    )  # fmt: skip


def _time(chain: Chain, block: int) -> int:
    return int(chain.w3.eth.get_block(block)["timestamp"])


def _first_at_or_after(chain: Chain, timestamp: int, low: int, high: int) -> int | None:
    """The first block in ``low..high`` stamped at or after ``timestamp`` (stamps never go back)."""
    if low > high or _time(chain, high) < timestamp:
        return None
    while low < high:
        middle = (low + high) // 2
        if _time(chain, middle) >= timestamp:
            high = middle
        else:
            low = middle + 1
    return low


def _last_block_of(chain: Chain, accounts: set[str], first: int, head: int, *, until: int) -> int:
    """From ``first`` (a block of ours), the last block holding transactions of ``accounts`` only, before
    a block with anyone else's, ``MAX_EMPTY_RUN`` empty blocks in a row, or a block stamped ``until``."""
    last, empty = first, 0
    for number in range(first, head + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        if int(block["timestamp"]) >= until:
            break
        senders = {str(tx["from"]) for tx in block["transactions"] if not isinstance(tx, bytes)}
        if not senders:
            empty += 1
            if empty >= MAX_EMPTY_RUN:
                break
            continue
        if senders - accounts:
            break
        last, empty = number, 0
    return last
