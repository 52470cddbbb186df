"""The audit's exceptions: ``AuditError`` is the root (the replay could not run), apart from the
mismatches it finds, which are in its report."""

from __future__ import annotations

from ledger.errors import LedgerError


class AuditError(LedgerError):
    """The replay could not run (not: it found a mismatch; that is in the report)."""


class ReaderStopped(AuditError):
    """The replay's reader process ended before it sent the whole range (killed, or it crashed)."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(f"the audit replay's reader process stopped unexpectedly (exit code {exitcode})")
