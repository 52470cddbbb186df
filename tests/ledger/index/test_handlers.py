"""Every event the projections handled before they became a package still has its handler.

Handlers register themselves (``on``) when their module is imported, so a handler module that
nobody imports would silently drop its events. ``HANDLED`` is the list ``handled()`` gave over
every event of every compiled contract's ABI before ``ledger/index/projections.py`` was split
into modules; it must stay exactly that, whichever module of the package is imported first.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import ledger.index.projections
from ledger.eth.artifacts import BuildResult
from ledger.index.projections import HANDLERS, handled

REPO = Path(__file__).resolve().parents[3]

HANDLED = frozenset(
    {
        ("CreditRegistry", "LimitPublished"),
        ("CreditRegistry", "LimitRevoked"),
        ("Membership", "MemberAdmitted"),
        ("Membership", "MemberKycUpdated"),
        ("Membership", "MemberReinstated"),
        ("Membership", "MemberRolesChanged"),
        ("Membership", "MemberSuspended"),
        ("Receivables", "GracePeriodSet"),
        ("Receivables", "PieceClaimed"),
        ("Receivables", "PieceCreated"),
        ("Receivables", "PieceFinanced"),
        ("Receivables", "PieceSplit"),
        ("Receivables", "ReceivableDefaulted"),
        ("Receivables", "ReceivableIssued"),
        ("Receivables", "ReceivableRepaid"),
        ("Receivables", "Transfer"),
        ("SettlementToken", "Transfer"),
        ("TradeEscrow", "DisputeAnswered"),
        ("TradeEscrow", "DisputeOpened"),
        ("TradeEscrow", "DisputeResolved"),
        ("TradeEscrow", "ExposureReleased"),
        ("TradeEscrow", "GuaranteeClaimed"),
        ("TradeEscrow", "MilestoneAttested"),
        ("TradeEscrow", "MilestoneContested"),
        ("TradeEscrow", "OpenAccountOrderCreated"),
        ("TradeEscrow", "OrderCancelled"),
        ("TradeEscrow", "OrderCreated"),
        ("TradeEscrow", "OrderFunded"),
        ("TradeEscrow", "OrderRefunded"),
        ("TradeEscrow", "OrderReleased"),
        ("TradeEscrow", "PoolFunded"),
        ("TradeEscrow", "PoolWithdrawn"),
        ("TradeEscrow", "PrepaymentReleased"),
        ("TradeEscrow", "ReceiptConfirmed"),
        ("TradeEscrow", "ShortfallRepaid"),
        ("TradeEscrow", "ThresholdSet"),
        ("TradeEscrow", "TokenAllowed"),
        ("TradeEscrow", "WindowsSet"),
    }
)

#: Every module of the package, the package itself first.
MODULES = [
    ledger.index.projections.__name__,
    *(
        f"{ledger.index.projections.__name__}.{module.name}"
        for module in pkgutil.iter_modules(ledger.index.projections.__path__)
    ),
]


def test_every_event_of_the_contracts_handled_before_the_split_is_handled(build: BuildResult) -> None:
    events = {
        (name, item["name"])
        for name, artifact in build.artifacts.items()
        for item in artifact.abi
        if item.get("type") == "event"
    }
    assert {event for event in events if handled(*event)} == HANDLED
    assert set(HANDLERS) == HANDLED


def test_importing_any_module_of_the_package_first_registers_every_handler() -> None:
    # A fresh interpreter (in this one the package is imported already), where each module in
    # turn is imported first: the package's modules are dropped from sys.modules before each.
    code = f"""
import importlib, json, sys
package = {ledger.index.projections.__name__!r}
found = {{}}
for module in {MODULES!r}:
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        del sys.modules[name]
    importlib.import_module(module)
    found[module] = sorted(sys.modules[package + ".projector"].HANDLERS)
print(json.dumps(found))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert list(found) == MODULES
    for module, registry in found.items():
        assert {tuple(pair) for pair in registry} == HANDLED, module
