"""Setup of the oracle pipeline on a deployed ledger: witnesses, the aggregator, an order and its shipment.

Shared by the oracle suite (capture -> witness -> aggregator on a chain) and the API's tests of
the oracle services over HTTP and of hostile input.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from ledger.model.common import OracleKind
from oracles.aggregator import Aggregator
from oracles.simulator import SimOrder, simulate
from oracles.store import open_database
from oracles.witness import Witness
from tests.support.deployments import Deployed
from tests.support.escrow import DAY, HOUR, acct, advance_to, new_order, read_order


def witness_of(deployed: Deployed, key: LocalAccount, kind: OracleKind) -> Witness:
    return Witness(
        deployed.chain,
        deployed.build,
        escrow=deployed.addresses["TradeEscrow"],
        membership=deployed.addresses["Membership"],
        key=key,
        kind=kind,
    )


def aggregator_of(deployed: Deployed) -> Aggregator:
    """An aggregator on a fresh in-memory store; the dev relayer pays the gas."""
    return Aggregator(
        deployed.chain,
        deployed.build,
        escrow=deployed.addresses["TradeEscrow"],
        membership=deployed.addresses["Membership"],
        relayer=acct(deployed, "relayer"),
        engine=open_database("sqlite://"),
    )


def shipment(
    deployed: Deployed, po: str, *, inspection: bool = False, outcome: str = "on_time", seed: int = 7
) -> tuple[int, dict[str, Any]]:
    """A funded order and the simulated EPCIS document of its shipment; the chain clock is moved
    an hour past the document's last event."""
    nonce = int.from_bytes(keccak(text=po)[:4], "big")
    order_id = new_order(deployed, po=po, ship_in=2 * DAY, deliver_in=5 * DAY, nonce=nonce, inspection=inspection)
    terms = read_order(deployed, order_id).terms
    simulated = simulate(SimOrder(po, terms.ship_by, terms.deliver_by, inspection), outcome, seed=seed)
    advance_to(deployed, max(e.occurred_at for e in simulated.expected) + HOUR)
    return order_id, simulated.document
