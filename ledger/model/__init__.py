"""Pure-Python models of the contracts' rules, shared by the property tests and the audit replay."""

from ledger.model.escrow import (
    CreditLimits,
    Effect,
    EscrowModel,
    EscrowState,
    LimitRecord,
    Member,
    ModelError,
    ModelInconsistent,
    ModelInputError,
    ModelRejected,
    OracleKind,
    Roster,
    Transfer,
)

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
    "Roster",
    "Transfer",
]
