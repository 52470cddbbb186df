"""The auditor's replay: re-read the chain, re-derive the ledger with the models, compare, report.

``replay`` (in ``ledger.audit.replay``) is the entry point; ``scf audit replay`` its command line.
"""

from ledger.audit.errors import ReaderStopped
from ledger.audit.machine import Replayer
from ledger.audit.replay import AuditError, Deployment, ReplayResult, check_continuity, replay
from ledger.audit.report import Gap, Kind, Location, Mismatch, Report
from ledger.audit.state import LedgerModels, LedgerState

__all__ = [
    "AuditError",
    "Deployment",
    "Gap",
    "Kind",
    "LedgerModels",
    "LedgerState",
    "Location",
    "Mismatch",
    "ReaderStopped",
    "ReplayResult",
    "Replayer",
    "Report",
    "check_continuity",
    "replay",
]
