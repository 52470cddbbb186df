"""``run_desk(DeskOptions(...))``: a desk put together from its files and run, once or until stopped.

The order of the checks is the order of what a bank gets wrong most: the policy file first (a
``PolicyError`` names the field), then the keystore (file, password), then that the keystore holds
the bank it says (``--bank``), then the journal (a second desk on it is refused). Nothing touches
the API before all of these hold, so a typo never costs a sign-in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_utils import is_address, to_checksum_address

from api.desk.client import BankApi
from api.desk.desk import Desk, DeskSettings, PassReport, stderr_log
from api.desk.errors import DeskSetupError
from api.desk.journal import Journal, default_path
from ledger.eth.keys import KeystoreError, load_keystore
from scoring.policy import Policy


@dataclass(frozen=True)
class DeskOptions:
    api: str
    bank: str
    keystore: Path
    policy: Path
    password_file: Path | None = None  # None: the password is in SCF_KEYSTORE_PASSWORD
    journal: Path | None = None  # None: beside the keystore
    once: bool = False
    interval: float = 5.0
    offer_ttl: int = 86_400
    timeout: float = 15.0

    @property
    def journal_path(self) -> Path:
        return self.journal if self.journal is not None else default_path(self.keystore)


def _password(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError as exc:
        raise DeskSetupError(f"password file {path}: cannot read: {exc.strerror or exc}") from exc
    return text.rstrip("\r\n")


def open_desk(
    options: DeskOptions,
    *,
    http: httpx.Client | None = None,
    log: Callable[[str], None] = stderr_log,
    stop: threading.Event | None = None,
) -> Desk:
    """The desk ``options`` describe, its journal open and locked (close it with ``close_desk``)."""
    policy = Policy.load(options.policy)
    if not is_address(options.bank):
        raise DeskSetupError(f"--bank {options.bank!r} is not an address (0x and 40 hex digits)")
    try:
        account = load_keystore(options.keystore, _password(options.password_file))
    except KeystoreError as exc:
        raise DeskSetupError(str(exc)) from exc
    if account.address != to_checksum_address(options.bank):
        raise DeskSetupError(f"the keystore {options.keystore} holds {account.address}, not the bank {options.bank}")
    if options.interval <= 0 or options.offer_ttl <= 0:
        raise DeskSetupError("--interval and --offer-ttl must be positive")
    journal = Journal(options.journal_path)
    if journal.repaired:
        log(f"journal {journal.path}: cut a torn last line ({journal.repaired} bytes) left by a crash")
    api = BankApi(options.api, account, http=http, timeout=options.timeout)
    settings = DeskSettings(interval=options.interval, offer_ttl=options.offer_ttl)
    return Desk(api, policy, account, journal, settings=settings, log=log, stop=stop)


def close_desk(desk: Desk) -> None:
    desk.journal.close()
    desk.api.close()


def run_desk(
    options: DeskOptions,
    *,
    http: httpx.Client | None = None,
    log: Callable[[str], None] = stderr_log,
    stop: threading.Event | None = None,
) -> PassReport:
    """Run the desk: one pass with ``once`` (API errors raise), else until ``stop`` is set (API errors wait)."""
    desk = open_desk(options, http=http, log=log, stop=stop)
    try:
        return desk.run_once() if options.once else desk.follow()
    finally:
        close_desk(desk)
