"""The contracts' settings against the database's ``settings`` table: the escrow's thresholds,
windows and allowed tokens, Receivables' grace period.

The indexer keeps each setting's value as the arguments of the event that set it, in their JSON
form less the admin and the key; the expected value is written by the same function
(``Tables.writers``) from the models' settings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ledger.audit.sql.rows import ZERO_ADDRESS, Key, Row
from ledger.audit.sql.tables import Tables
from ledger.audit.state import ESCROW, RECEIVABLES
from ledger.index.sql import models


def compare_settings(tables: Tables) -> None:
    escrow, receivables = tables.result.models.escrow, tables.result.models.receivables

    def value(contract: str, event: str, args: Row, drop: Sequence[str]) -> Any:
        """The value as the indexer keeps it: the event's arguments in their JSON form, less the key's."""
        written = json.loads(tables.writers[(contract, event)]({**args, "admin": ZERO_ADDRESS}))
        kept = {k: v for k, v in written.items() if k not in ("admin", *drop)}
        return next(iter(kept.values())) if len(kept) == 1 else kept

    expected: dict[Key, Row] = {}
    for kind, threshold in escrow.thresholds.items():
        expected[(ESCROW, f"threshold:{int(kind)}")] = {
            "value": value(ESCROW, "ThresholdSet", {"kind": int(kind), "threshold": threshold}, ("kind",))
        }
    w = escrow.windows
    windows = {
        "claimWindow": w.claim_window,
        "answerWindow": w.answer_window,
        "resolveWindow": w.resolve_window,
        "maxAttestationAge": w.max_attestation_age,
    }
    expected[(ESCROW, "windows")] = {"value": value(ESCROW, "WindowsSet", windows, ())}
    for token, allowed in escrow.token_allowed.items():
        expected[(ESCROW, f"tokenAllowed:{token}")] = {
            "value": value(ESCROW, "TokenAllowed", {"token": token, "allowed": allowed}, ("token",))
        }
    expected[(RECEIVABLES, "gracePeriod")] = {
        "value": value(RECEIVABLES, "GracePeriodSet", {"gracePeriod": receivables.grace_period}, ())
    }
    tables.stateful(models.Setting, ("contract", "name"), expected)
