"""Pure-Python models of the contracts' rules, shared by the property tests and the audit replay."""

from ledger.model.common import (
    Effect,
    Member,
    ModelError,
    ModelInconsistent,
    ModelInputError,
    ModelRejected,
    OracleKind,
    Roster,
    Transfer,
)
from ledger.model.credit import CreditLimits, LimitRecord
from ledger.model.escrow import EscrowModel, EscrowState
from ledger.model.receivables import OrderBook, ReceivablesModel, ReceivablesState

__all__ = [
    "CreditLimits",
    "Effect",
    "EscrowModel",
    "EscrowState",
    "LimitRecord",
    "Member",
    "ModelError",
    "ModelInconsistent",
    "ModelInputError",
    "ModelRejected",
    "OracleKind",
    "OrderBook",
    "ReceivablesModel",
    "ReceivablesState",
    "Roster",
    "Transfer",
]
