"""Errors of the bank's desk: one root, typed subclasses that keep their context.

The desk tells two kinds of API failure apart because it acts on them differently:
``ApiUnavailable`` (no answer, a 5xx, a 429) is weather: the desk logs it, backs off and tries
again, and never journals anything because of it; ``ApiRefused`` (any other 4xx) is an answer
about one request, which the desk records or retries later as the case says.
"""

from __future__ import annotations


class DeskError(Exception):
    """Root of every error the desk raises (the command line prints it as one line)."""


class ApiUnavailable(DeskError):
    """The API did not answer, or answered 5xx or 429: try again later (``retry_after`` seconds if it said)."""

    def __init__(self, api: str, reason: str, retry_after: float | None = None) -> None:
        self.api = api
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"the API at {api} is unavailable: {reason}")


class ApiRefused(DeskError):
    """The API answered a 4xx: ``code`` is its error code, ``field`` the field it names, if any."""

    def __init__(self, method: str, path: str, status: int, code: str, detail: str, field: str | None) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        named = f" ({field})" if field else ""
        super().__init__(f"{method} {path} refused with {status} {code}{named}: {detail}")


class SignInFailed(DeskError):
    """The API refused the bank's sign-in (not an active member, a challenge for another account)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"{address} cannot sign in: {reason}")


class TypedDataMismatch(DeskError):
    """The typed data the API served is not the offer the desk asked for: the desk never signs it."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"the API served typed data the desk did not ask for: {what}")


class JournalError(DeskError):
    """The journal cannot be opened, read or written (``path`` says which file)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"desk journal {path}: {reason}")


class InputsMoved(DeskError):
    """The API's index moved on every time the desk read one request's inputs: it prices the request on a later pass."""

    def __init__(self, reads: int) -> None:
        self.reads = reads
        super().__init__(f"the API's index moved on each of {reads} reads of the request's inputs")


class DeskSetupError(DeskError):
    """The desk cannot start as asked (the keystore holds another address, ...)."""
