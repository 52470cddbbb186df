"""A history with every kind of ledger event, for the indexer's tests and the ``/v1`` suite's world.

On top of the escrow world of ``tests.support.escrow`` (orders created, funded, shipped,
delivered, inspecting; a credit limit; a guarantee pool) it plays: a confirmed receipt, a failed inspection, a
cancellation, assured pre-payments (one with the bank's fee, one without) ending in a release and in a
refund paid by the pool (and the supplier's shortfall repaid), an arbitrated dispute, a milestone
contested by the oracles and settled by both parties, a dispute refunded for want of an answer, a permit funding, an
open-account order paid by a receivable split down two tiers, financed by the bank, moved to
another holder, repaid in two parts and claimed; a second receivable defaulted and partly
recovered; membership, limit, token and settings changes; a credit limit wider than 2^255.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils import keccak, to_checksum_address

from ledger.domain.escrow import Milestone, Windows
from ledger.toolchain.deploy import ROLE
from tests.support.deployments import Deployed
from tests.support.escrow import (
    AMOUNT,
    DAY,
    MAX_UINT256,
    _build_world,
    acct,
    addr,
    advance_to,
    contest,
    create_order,
    deliver,
    escrow_of,
    evidence,
    fund,
    grant_of,
    inspect,
    make_terms,
    open_dispute,
    prepayment_offer_of,
    publish,
    registry_of,
    request_prepayment,
    send_trusted,
    ship,
    tokens_of,
)
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

UNIT = 10**6
HUGE_LIMIT = 2**255 + 12_345  # a limit no 64-bit column holds


@dataclass
class Scenario:
    orders: dict[str, int] = field(default_factory=dict)
    roots: dict[str, int] = field(default_factory=dict)
    pieces: dict[str, int] = field(default_factory=dict)
    parties: set[str] = field(default_factory=set)
    holders: set[str] = field(default_factory=set)
    allowed_token: str = ""


def play(deployed: Deployed) -> Scenario:
    done = Scenario()
    world = _build_world(deployed)  # open_world's setup, without its snapshot and rollback
    escrow, tokens, receivables = escrow_of(deployed), tokens_of(deployed), receivables_of(deployed)
    admin, bank, relayer = acct(deployed, "admin"), acct(deployed, "bank"), acct(deployed, "relayer")
    core, tier1 = acct(deployed, "core"), acct(deployed, "tier1")
    done.orders.update(
        cancelled=world.created, refunded_unshipped=world.funded, settled_by_arbiter=world.shipped,
        confirmed=world.delivered, inspection_failed=world.inspecting,
    )  # fmt: skip

    # Orders of the world, each to an end.
    escrow.confirm_receipt(world.delivered, core)
    inspect(deployed, world.inspecting, passed=False)
    escrow.cancel_unfunded(world.created, core)
    # The bank prices its guarantees: 1,000 on this one, none on the next.
    request_prepayment(deployed, prepayment_offer_of(deployed, world.funded, 40_000 * UNIT, fee=1_000 * UNIT), tier1)
    deliver(deployed, world.shipped)
    open_dispute(deployed, world.shipped)
    escrow.answer_dispute(world.shipped, keccak(text="goods were fine"), tier1)
    escrow.arbitrate(world.shipped, 30_000 * UNIT, acct(deployed, "arbiter"))

    # New orders: prepaid then released; permit-funded, contested, settled; disputed unanswered.
    def order(name: str, nonce: int, **terms: object) -> int:
        order_id, _ = create_order(deployed, make_terms(deployed, po=f"IDX-PO-{name}", nonce=nonce, **terms))  # type: ignore[arg-type]
        done.orders[name] = order_id
        return order_id

    prepaid = order("prepaid_released", 601)
    fund(deployed, prepaid)
    request_prepayment(deployed, prepayment_offer_of(deployed, prepaid, 30_000 * UNIT), tier1)
    ship(deployed, prepaid)
    deliver(deployed, prepaid)

    contested = order("contested_settled", 602)
    permit = tokens.sign_permit(core, escrow.address, AMOUNT, deployed.chain.timestamp() + DAY)
    escrow.fund_with_permit(contested, permit, relayer)
    tokens.approve(escrow.address, MAX_UINT256, core)  # the permit replaced the allowance and used it
    ship(deployed, contested)
    deliver(deployed, contested)
    contest(deployed, evidence(contested, Milestone.DELIVERED))
    deadline = deployed.chain.timestamp() + DAY
    signatures = [
        escrow.sign_settlement(acct(deployed, p), contested, 50_000 * UNIT, deadline) for p in ("core", "tier1")
    ]
    escrow.settle_dispute(contested, 50_000 * UNIT, deadline, signatures[0], signatures[1], relayer)

    unanswered = order("unanswered_refunded", 603)
    fund(deployed, unanswered)
    ship(deployed, unanswered)
    deliver(deployed, unanswered)
    open_dispute(deployed, unanswered)

    # An open-account order, delivered, paid by a receivable.
    terms = make_terms(deployed, po="IDX-PO-open", nonce=604, amount=120_000 * UNIT)
    open_account, _ = escrow.create_open_account_order(
        terms, escrow.sign_open_account_order(core, terms), escrow.sign_open_account_order(tier1, terms), core
    )
    done.orders["open_account"] = open_account
    ship(deployed, open_account)
    deliver(deployed, open_account)

    # Settings, membership, limits, tokens.
    escrow.set_threshold(3, 2, admin)
    escrow.set_windows(Windows(30 * DAY, 3 * DAY, 15 * DAY, 30 * DAY), admin)
    done.allowed_token = to_checksum_address("0x" + "ab" * 20)
    escrow.set_token_allowed(done.allowed_token, True, admin)
    members = deployed.membership.functions
    send_trusted(deployed, members.setRoles(addr(deployed, "tier3"), ROLE["supplier"] | ROLE["core"], 0), admin)
    send_trusted(deployed, members.updateKyc(addr(deployed, "tier2"), keccak(text="kyc v2")), admin)
    send_trusted(deployed, members.suspend(addr(deployed, "auditor"), keccak(text="audit paused")), admin)
    send_trusted(deployed, members.reinstate(addr(deployed, "auditor")), admin)
    send_trusted(deployed, members.suspend(addr(deployed, "tier3"), keccak(text="late filings")), admin)
    send_trusted(deployed, members.reinstate(addr(deployed, "tier3")), admin)
    publish(deployed, grant_of(deployed, party="tier2", limit=HUGE_LIMIT, score=801, grade=1))
    publish(deployed, grant_of(deployed, party="tier3", limit=5_000 * UNIT))
    registry_of(deployed).revoke(addr(deployed, "tier3"), bank)
    tokens.transfer(addr(deployed, "tier2"), 7_000 * UNIT, core)
    send_trusted(deployed, tokens.contract.functions.redeem(2_000 * UNIT), acct(deployed, "tier2"))
    tokens.mint(addr(deployed, "tier3"), 1_000 * UNIT, bank)

    # Receivables: a tree down two tiers, financed, moved, repaid and claimed.
    for payer in ("core", "bank", "tier1"):
        tokens.approve(receivables.address, MAX_UINT256, acct(deployed, payer))
    root, _ = issue(deployed, issue_terms(deployed, face=120_000 * UNIT, order_id=open_account, invoice="IDX-INV-1"))
    done.roots["tree"] = root
    tier2_piece, tier3_piece = split(
        deployed, root, children(deployed, (70_000 * UNIT, "tier2", "SUB-A"), (50_000 * UNIT, "tier3", "SUB-B")), tier1
    )
    kept, passed_on = split(
        deployed,
        tier2_piece,
        children(deployed, (40_000 * UNIT, "tier2", "SUB-C"), (30_000 * UNIT, "tier1", "SUB-D")),
        "tier2",
    )
    finance(deployed, offer_of(deployed, tier3_piece, price=49_000 * UNIT, nonce=7), "tier3")
    receivables.transfer(kept, addr(deployed, "tier3"), acct(deployed, "tier2"))
    done.pieces.update(financed=tier3_piece, moved=kept, tier1=passed_on, split=tier2_piece)
    repay(deployed, root, 60_000 * UNIT)
    claim(deployed, kept, "tier3")
    claim(deployed, tier3_piece, "bank")

    receivables.set_grace_period(DAY, admin)
    short, _ = issue(
        deployed, issue_terms(deployed, face=10_000 * UNIT, maturity_in=2 * DAY, invoice="IDX-INV-2", nonce=2)
    )
    done.roots["defaulted"] = short

    # Time passes: an unanswered dispute closes, a receivable defaults, ship-by and claim windows end.
    advance_to(deployed, deployed.chain.timestamp() + 4 * DAY)
    escrow.close_expired_dispute(unanswered, relayer)
    receivables.mark_defaulted(short, relayer)
    repay(deployed, short, 3_000 * UNIT)
    advance_to(deployed, deployed.chain.timestamp() + 7 * DAY)
    escrow.refund_unshipped(world.funded, relayer)
    escrow.repay_shortfall(addr(deployed, "tier1"), addr(deployed, "bank"), 40_000 * UNIT, tier1)
    escrow.withdraw_pool(10_000 * UNIT, bank)
    escrow.fund_pool(5_000 * UNIT, bank)
    advance_to(deployed, deployed.chain.timestamp() + 30 * DAY)
    escrow.release(prepaid, relayer)
    repay(deployed, root, 60_000 * UNIT)
    claim(deployed, kept, "tier3")
    claim(deployed, passed_on, "tier1")

    done.parties = {deployed.accounts[label].address for label in deployed.accounts.by_role} | {
        o.address for o in (*world.carriers, *world.inspectors)
    }
    done.holders = {to_checksum_address(a) for a in (*done.parties, escrow.address, receivables.address)}
    deployed.chain.mine()
    return done
