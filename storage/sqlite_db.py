"""One SQLite connection shared by a store and its session writers: locking, transactions,
and turning sqlite3 exceptions into ``StorageError`` messages a person can act on."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from storage.errors import (
    CorruptDatabase,
    DatabaseFull,
    DatabaseLocked,
    DatabaseReadOnly,
    DatabaseUnavailable,
    StorageError,
)

# Primary result codes (sqlite3.h); Python 3.11 exposes them as ``exc.sqlite_errorcode``.
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26

Params = Mapping[str, Any] | Sequence[Any]


# Python's sqlite3 decodes SQLite's error text as UTF-8; when a damaged page puts stray bytes
# into that text (a CHECK clause in the schema, say) it raises UnicodeDecodeError instead.
DB_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def translate(
    exc: sqlite3.Error | UnicodeDecodeError, path: str, action: str, timeout_s: float
) -> StorageError:
    if isinstance(exc, UnicodeDecodeError):
        return CorruptDatabase(
            f"cannot {action}: {path} is damaged (text that is not UTF-8 where SQLite keeps its "
            "own); it was left untouched - restore it from a backup or move it aside",
            path=path,
        )
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    if code in (_BUSY, _LOCKED) or "locked" in text:
        return DatabaseLocked(
            f"cannot {action}: database {path} is locked by another program "
            f"(waited {timeout_s:g} s for it to let go); close the other program and retry",
            path=path,
        )
    if code in (_CORRUPT, _NOTADB) or "malformed" in text or "not a database" in text:
        return CorruptDatabase(
            f"cannot {action}: {path} is damaged or not an SQLite database ({text}); "
            "it was left untouched - restore it from a backup or move it aside",
            path=path,
        )
    if code == _FULL:
        return DatabaseFull(f"cannot {action}: disk full while writing {path}", path=path)
    if code == _READONLY:
        return DatabaseReadOnly(f"cannot {action}: {path} is read-only for this user", path=path)
    if code == _IOERR:
        # A file-size limit or a failing disk: the write did not reach the file.
        return DatabaseUnavailable(
            f"cannot {action}: disk error writing {path} ({text})", path=path
        )
    if code == _CANTOPEN:
        return DatabaseUnavailable(f"cannot {action}: cannot open {path} ({text})", path=path)
    if isinstance(exc, sqlite3.IntegrityError):
        return StorageError(f"cannot {action}: {text} in {path}", path=path)
    return StorageError(f"cannot {action}: {text} ({path})", path=path)


class Db:
    """Serialises use of one connection across threads (the live loop may record from its own
    thread while a therapist screen reads)."""

    def __init__(self, conn: sqlite3.Connection, path: str, timeout_s: float) -> None:
        self.conn = conn
        self.path = path
        self.timeout_s = timeout_s
        self.lock = threading.RLock()

    def error(self, exc: sqlite3.Error | UnicodeDecodeError, action: str) -> StorageError:
        return translate(exc, self.path, action, self.timeout_s)

    @contextmanager
    def transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``: the write lock is taken up front, so a busy
        database fails at the start, not halfway."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except DB_ERRORS as exc:
                raise self.error(exc, action) from None
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    # If even this fails the connection is unusable; the original error says why.
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                if isinstance(exc, DB_ERRORS):
                    raise self.error(exc, action) from None
                raise

    def query(self, sql: str, params: Params = (), action: str = "read") -> list[sqlite3.Row]:
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except DB_ERRORS as exc:
                raise self.error(exc, action) from None

    def close(self) -> None:
        with self.lock:
            self.conn.close()
