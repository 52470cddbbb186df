"""Setup of the oracle pipeline on a deployed ledger: witnesses, the aggregator, an order and its shipment.

Shared by the oracle suite (capture -> witness -> aggregator on a chain) and the API's tests of
the oracle services over HTTP and of hostile input. ``OracleStores`` gives each service and aggregator a
store of its own on one database kind: in-memory SQLite, or a PostgreSQL database (made once per module and
emptied for the next test that takes it, since making a database costs more than a test's captures).
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Engine

from ledger.model.common import OracleKind
from oracles.aggregator import Aggregator
from oracles.simulator import SimOrder, simulate
from oracles.store import metadata, open_database
from oracles.witness import Witness
from tests.support.databases import Databases
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


class OracleStores:
    """Empty oracle stores of one kind (``databases``' kind, or in-memory SQLite when None): ``new()`` one per service
    or aggregator; ``release()`` when the test is over, so its PostgreSQL databases serve the next test, emptied."""

    def __init__(self, databases: Databases | None) -> None:
        self.databases = databases
        self.kind = "sqlite" if databases is None else databases.kind
        self._free: list[Engine] = []
        self._taken: list[Engine] = []

    def new(self) -> Engine:
        if self.databases is None or self.databases.kind == "sqlite":
            return open_database("sqlite://")
        if self._free:
            engine = self._free.pop()
            with engine.begin() as connection:
                names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
                connection.exec_driver_sql(f"TRUNCATE {names}")
        else:
            engine = open_database(self.databases.url())
            self.databases.engines.append(engine)
        self._taken.append(engine)
        return engine

    def release(self) -> None:
        self._free.extend(self._taken)
        self._taken.clear()


def aggregator_of(deployed: Deployed, stores: OracleStores | None = None) -> Aggregator:
    """An aggregator on a fresh store of ``stores`` (default: in memory); the dev relayer pays the gas."""
    return Aggregator(
        deployed.chain,
        deployed.build,
        escrow=deployed.addresses["TradeEscrow"],
        membership=deployed.addresses["Membership"],
        relayer=acct(deployed, "relayer"),
        engine=(stores or OracleStores(None)).new(),
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
