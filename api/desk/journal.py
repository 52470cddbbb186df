"""The desk's journal: one JSON object per line, appended and fsync'd, read back on start.

Every decision the desk takes is a line: an **offer** (the quote with every input, the signed
terms, the offer's id) or a **decline** (each reason in plain words with its code, and the
pricer's record when it priced). A bank reads it to see why; an auditor recomputes every price
from it (``scoring.pricing.recompute``). It is also the desk's memory: an ask with an outcome
line is never priced again, across restarts.

**An ask, not a request id, is what gets one answer.** The API keeps one row per piece, holder
and bank, and reopens it when the holder asks again after it was withdrawn, expired or declined:
same id, a new ``createdAt``. Each line names its ``round`` (the request's ``createdAt``), so a
new ask is a new decision while the old one stays decided. A line from before rounds were
recorded (no ``round``) decides its request for every round, as it always did.

**Telling the holder.** A decline is journaled, then posted to the API
(``POST /v1/financing-requests/{id}/decline``), then a ``told`` line follows; a decline without
its ``told`` line is posted again on the next pass (the API keeps the first), so a holder always
learns why, even after a crash or an outage between the two.

**Crash safety** (``kill -9`` at any instant):

* Appends, not rewrites: each line is written with one ``write`` of the whole line, then
  ``flush`` and ``fsync`` (and the directory is fsync'd when the file is created), before the
  desk goes on. A crash leaves at most the last line torn; on open, a tail without its newline
  is cut off (truncate, fsync), so the next line starts clean. A whole line that is not a JSON
  object was not written by a desk, and the desk refuses to start on it rather than guess.
  Nothing is lost that the desk had acted on, because of the next point.
* Write-ahead for offers: the desk journals an **intent** (terms, nonce, signature, quote) and
  only then posts the offer; the outcome line follows the API's answer. A crash between the two
  leaves an intent without an outcome, which the next start resolves without offering twice:
  it finds the offer among the piece's offers by its nonce, or posts the very same signed offer
  again under the same Idempotency-Key, and the API either replays its first answer or refuses
  the nonce as used (``api.desk.desk``).
* One desk per journal: the file is locked (``flock``, exclusive, non-blocking) for as long as
  the desk runs, so a second desk on the same journal stops at once instead of interleaving.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from api.desk.errors import JournalError

FORMAT = 1
#: Line kinds. An intent precedes its offer; offered, declined and lapsed are outcomes, final for their ask (an
#: offered or lapsed ask still open after its offer's deadline is closed by a decline that says so: the last
#: outcome line counts); told follows a decline the API has recorded.
INTENT, OFFERED, DECLINED, LAPSED, TOLD = "intent", "offered", "declined", "lapsed", "told"
OUTCOMES = (OFFERED, DECLINED, LAPSED)

#: An ask: the request's id and its round (its ``createdAt``; None on a line from before rounds were recorded).
Ask = tuple[str, int | None]


def ask_of(record: dict[str, Any]) -> Ask | None:
    """The ask a line is about, or None for a line about none."""
    request = record.get("request")
    if not isinstance(request, str):
        return None
    found = record.get("round")
    return request, found if isinstance(found, int) and not isinstance(found, bool) else None


class Journal:
    """The journal at ``path``: opened (created if missing), locked, its torn tail cut; ``append`` one record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self.outcomes: dict[Ask, dict[str, Any]] = {}
        self.intents: dict[Ask, dict[str, Any]] = {}
        self.untold: dict[Ask, dict[str, Any]] = {}  # declines (with a round) not yet recorded by the API
        self.repaired = 0  # bytes of a torn tail cut off on open
        self._file = self._open()
        try:
            self._lock()
            self._load()
        except BaseException:
            self._file.close()
            raise

    def _open(self) -> IO[bytes]:
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+b")  # noqa: SIM115 (held open, with its lock, until close())
        except OSError as exc:
            raise JournalError(str(self.path), f"cannot open: {exc.strerror or exc}") from exc
        if created:
            _fsync_dir(self.path.parent)
        return handle

    def _lock(self) -> None:
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalError(str(self.path), "another desk is running with this journal") from None

    def _load(self) -> None:
        self._file.seek(0)
        raw = self._file.read()
        good = 0  # the length of the prefix made of whole lines
        for number, line in enumerate(raw.splitlines(keepends=True), start=1):
            if not line.endswith(b"\n"):
                break  # the torn last line of a process that died mid-write
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                # A whole line that is not a record was not written by a desk: refuse rather than guess.
                raise JournalError(str(self.path), f"line {number} is not a JSON object: fix the file or move it away")
            good += len(line)
            self._remember(record)
        if good < len(raw):
            # Cut the torn tail so the next line starts clean; it was never acted on (see the module's docstring).
            self.repaired = len(raw) - good
            self._file.truncate(good)
            os.fsync(self._file.fileno())
        self._file.seek(0, os.SEEK_END)

    def _remember(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        ask = ask_of(record)
        if ask is None:
            return
        kind = record.get("kind")
        if kind == INTENT:
            self.intents[ask] = record
        elif kind in OUTCOMES:
            self.outcomes[ask] = record
            self.intents.pop(ask, None)
            if kind == DECLINED and ask[1] is not None:
                self.untold[ask] = record
        elif kind == TOLD:
            self.untold.pop(ask, None)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write ``record`` (stamped with the format and the time) as one line, durably, before returning it."""
        stamped = {"v": FORMAT, "at": int(time.time()), **record}
        line = json.dumps(stamped, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        try:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise JournalError(str(self.path), f"cannot write: {exc.strerror or exc}") from exc
        self._remember(stamped)
        return stamped

    def outcome(self, request_id: str, round_: int | None) -> dict[str, Any] | None:
        """The last outcome of the ask (a line from before rounds were recorded answers every round)."""
        return self.outcomes.get((request_id, round_)) or self.outcomes.get((request_id, None))

    def handled(self, request_id: str, round_: int | None = None) -> bool:
        return self.outcome(request_id, round_) is not None

    def intended(self, request_id: str, round_: int | None) -> bool:
        """Whether an offer for the ask was signed and not yet settled (``pending``)."""
        return (request_id, round_) in self.intents or (request_id, None) in self.intents

    def pending(self) -> Iterator[dict[str, Any]]:
        """Intents without an outcome: offers that may or may not have reached the API before a crash."""
        yield from list(self.intents.values())

    def to_tell(self) -> Iterator[dict[str, Any]]:
        """Declines the API has not recorded yet (journaled, then the desk stopped or the API was away)."""
        yield from list(self.untold.values())

    def close(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable (a crash right after creation keeps the file)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_path(keystore: Path) -> Path:
    """Beside the keystore: ``bank.json`` -> ``bank.desk-journal.jsonl``."""
    return keystore.with_name(f"{keystore.stem}.desk-journal.jsonl")
