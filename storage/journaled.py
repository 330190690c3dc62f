"""A session writer that loses nothing when the database cannot take a write.

Each call goes to the database as usual. If the database is unavailable (locked by another
program, disk full, read-only, server gone), the write goes to the session's journal
(``storage.journal``) instead, fsynced, and every later call of the session follows it there,
so order is kept. The waiting writes are tried again with back-off (0.5 s doubling to 8 s)
and written in order, skipping what the database already holds. A session whose writes are
still waiting when it ends is not marked finished: its finish waits in the journal behind
its reps, and the next program to open the store writes them all.

Not thread-safe: call it from one thread (``BackgroundWriter``'s worker); ``write_status``
may be read from any thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from storage.base import SessionWriter
from storage.errors import DatabaseUnavailable, StorageError
from storage.journal import AbandonSession, FinishSession, Journal, WriteOp
from storage.op_writer import OpWriter
from storage.records import SessionInfo, SessionSummary, WriteStatus

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 8.0


class JournaledWriter(OpWriter):
    """Wraps a writer from ``Store.begin_session``; ``journal_dir`` is ``Store.journal_dir``.

    ``on_status`` is called when writes start waiting, when the journal itself cannot be
    written, and when everything waiting has reached the database (not on every call)."""

    def __init__(
        self,
        writer: SessionWriter,
        journal_dir: Path,
        *,
        on_status: Callable[[WriteStatus], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        first_retry_s: float = FIRST_RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
    ) -> None:
        self._inner = writer
        self.session_id = writer.session_id
        self.key = writer.key
        self._dir = Path(journal_dir)
        self._on_status = on_status
        self._clock = clock
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        self._delay = first_retry_s
        self._next_try = -math.inf
        self._journal: Journal | None = None
        # Writes not in the database, in call order: (journal sequence number or None while
        # the journal could not take it either, write).
        self._waiting: list[tuple[int | None, WriteOp]] = []
        self._status = WriteStatus()
        self._written_late = 0
        self._set_index = 0
        self._closed = False

    # state -------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._closed

    def write_status(self) -> WriteStatus:
        return self._status

    def retry_in(self) -> float | None:
        if not self._waiting:
            return None
        return max(0.0, self._next_try - self._clock())

    def info(self) -> SessionInfo:
        return self._inner.info()

    def detach(self) -> None:
        self._inner.detach()

    def _set_status(self, reason: str | None = None, *, notify: bool = False) -> None:
        old = self._status
        in_memory = sum(1 for seq, _ in self._waiting if seq is None)
        self._status = WriteStatus(
            waiting=len(self._waiting),
            in_memory=in_memory,
            journal=str(self._journal.path) if self._journal is not None else "",
            reason=old.reason if reason is None else reason,
            written_later=self._written_late,
        )
        started = old.waiting == 0 and self._waiting
        memory_began = old.in_memory == 0 and in_memory
        if self._on_status is not None and (notify or started or memory_began):
            self._on_status(self._status)

    # the calls (storage.op_writer) -------------------------------------------------------------
    def apply(self, op: WriteOp, *, replay: bool = False) -> bool:
        self._write(op)
        return True

    def finish(self, summary: SessionSummary | None = None) -> SessionInfo:
        s = summary or SessionSummary()
        self._end(FinishSession(str(s.end_reason), s.notes))
        if self._waiting:
            return SessionInfo(
                self.session_id,
                self.key.patient_code,
                self.key.exercise_id,
                self.key.started_at,
                "active",
                end_reason=str(s.end_reason),
                notes=f"not finished in the database yet: {len(self._waiting)} write(s) wait "
                f"in {self._status.journal or 'memory'}",
            )
        return self._inner.info()

    def abandon(self, reason: str) -> None:
        if not self._closed:
            self._end(AbandonSession(reason))

    def _end(self, op: FinishSession | AbandonSession) -> None:
        self._write(op)
        self.retry(force=True)  # the database may be back: the session can end whole now
        self._closed = True
        if self._waiting:
            # The session's end waits in the journal behind its writes; the next start (or
            # the next session in this process) writes them, so nobody may end it meanwhile.
            self._inner.detach()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # writing -----------------------------------------------------------------------------------
    def _write(self, op: WriteOp) -> None:
        if self._closed:
            raise StorageError(f"session {self.session_id} is already finished")
        if not self._waiting:
            try:
                self._inner.apply(op)
                return
            except DatabaseUnavailable as exc:
                self._back_off(exc)
                self._hold(op)
                return
        self._hold(op)
        self.retry()

    def _hold(self, op: WriteOp) -> None:
        """Keep a write for later: in the journal, or in memory while that fails too."""
        self._waiting.append((None, op))
        journal_error = None
        try:
            if self._journal is None:
                self._journal = Journal.create(self._dir, self.key)
            for i, (seq, held) in enumerate(self._waiting):
                if seq is None:  # in order: earlier ones held in memory go first
                    self._waiting[i] = (self._journal.append(held), held)
        except (OSError, StorageError) as exc:
            journal_error = (
                f"{self._status.reason}; the journal cannot be written either ({_one_line(exc)})"
            )
        self._set_status(journal_error)

    def _back_off(self, exc: StorageError) -> None:
        self._next_try = self._clock() + self._delay
        self._delay = min(self._delay * 2.0, self._max_retry_s)
        if self._waiting:
            self._set_status(_one_line(exc))
        else:
            self._status = WriteStatus(reason=_one_line(exc), written_later=self._written_late)

    def retry(self, *, force: bool = False) -> bool:
        if not self._waiting:
            return True
        if not force and self._clock() < self._next_try:
            return False
        while self._waiting:
            seq, op = self._waiting[0]
            try:
                self._inner.apply(op, replay=True)
            except StorageError as exc:
                # Unavailable, or refused: either way it stays, in order, and is kept.
                self._back_off(exc)
                return False
            self._waiting.pop(0)
            self._written_late += 1
            if seq is not None and self._journal is not None:
                self._journal.mark_done(seq)
        if self._journal is not None:
            self._journal.remove()
            self._journal = None
        self._delay = self._first_retry_s
        self._set_status("", notify=True)
        return True


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
