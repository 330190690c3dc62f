"""Storage: patients, programmes, assessments and recorded sessions; reports and exports.

``open_store(url_or_path)`` is the one way in; everything else talks to ``storage.base.Store``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage.background import BackgroundWriter
from storage.base import SessionWriter, Store
from storage.errors import (
    BackendNotAvailable,
    CorruptDatabase,
    DatabaseFull,
    DatabaseLocked,
    DatabaseReadOnly,
    DatabaseUnavailable,
    NotFound,
    ProgrammeChanged,
    SchemaTooNew,
    StorageError,
)
from storage.journal import ReplayReport
from storage.journaled import JournaledWriter
from storage.paths import default_db_path, redact_url
from storage.records import (
    Assessment,
    CueEvent,
    EndReason,
    PainScore,
    Patient,
    PatientHistory,
    ProgrammeItem,
    RepRecord,
    SafetyEvent,
    SessionInfo,
    SessionKey,
    SessionRecord,
    SessionSummary,
    SetRecord,
    TraceRecord,
    WriteStatus,
)

__all__ = [
    "Assessment",
    "BackendNotAvailable",
    "BackgroundWriter",
    "CorruptDatabase",
    "CueEvent",
    "DatabaseFull",
    "DatabaseLocked",
    "DatabaseReadOnly",
    "DatabaseUnavailable",
    "EndReason",
    "JournaledWriter",
    "NotFound",
    "PainScore",
    "Patient",
    "PatientHistory",
    "ProgrammeChanged",
    "ProgrammeItem",
    "RepRecord",
    "ReplayReport",
    "SafetyEvent",
    "SchemaTooNew",
    "SessionInfo",
    "SessionKey",
    "SessionRecord",
    "SessionSummary",
    "SessionWriter",
    "SetRecord",
    "StorageError",
    "Store",
    "TraceRecord",
    "WriteStatus",
    "default_db_path",
    "open_store",
    "record_session",
    "store_files",
]


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    timeout_s: float = 5.0,
    create: bool = True,
    journal_dir: str | os.PathLike[str] | None = None,
) -> Store:
    """Open the store named by a path or URL; ``None`` means the default file in the user's
    data directory.

    - a plain path, or ``sqlite:///relative/path`` / ``sqlite:////absolute/path``: SQLite;
    - ``postgresql://[user@]host[:port]/database[?sslmode=...]`` (or ``postgres://``): a
      PostgreSQL server shared by a clinic's stations (docs/storage.md).

    ``timeout_s`` is how long to wait for another program's lock before ``DatabaseLocked``
    (and, for a server, to connect); ``create=False`` (reports, exports) raises ``NotFound``
    instead of creating a new database. ``journal_dir``: for a server, the station's folder
    for writes the server could not take (a SQLite file keeps them beside itself).
    """
    from storage.sqlite_store import SQLiteStore

    if journal_dir is not None and not str(url_or_path or "").startswith("postgres"):
        raise StorageError("journal_dir is for a server database; a SQLite file keeps its own")
    path = _sqlite_path(url_or_path)
    if path is not None:
        return SQLiteStore(path, timeout_s=timeout_s, create=create)
    try:
        from storage.pg_store import PostgresStore
    except ImportError:
        raise BackendNotAvailable(
            "PostgreSQL storage needs the psycopg package: pip install 'psycopg[binary]'"
        ) from None
    return PostgresStore(
        str(url_or_path), timeout_s=timeout_s, create=create, journal_dir=journal_dir
    )


def _sqlite_path(url_or_path: str | os.PathLike[str] | None) -> Path | None:
    """The file of a SQLite store named as ``open_store`` takes it; None for a server URL."""
    if url_or_path is None:
        return default_db_path()
    if isinstance(url_or_path, os.PathLike):
        return Path(url_or_path)
    text = str(url_or_path)
    if "://" not in text:
        if not text.strip():
            raise StorageError("empty database path; expected a file path or a sqlite:/// URL")
        return Path(text)
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///rel/path and sqlite:////abs/path, as other Python tools spell them.
        if not rest.startswith("/") or rest == "/":
            raise StorageError(
                f"database URL {text!r}: expected sqlite:///relative/path or "
                "sqlite:////absolute/path (an in-memory database would not keep sessions)"
            )
        return Path(rest[1:])
    if scheme in ("postgresql", "postgres"):
        return None
    raise StorageError(
        f"database URL {redact_url(text)!r}: unknown scheme {scheme!r}; expected a file path, "
        "sqlite:/// or postgresql://"
    )


def store_files(url_or_path: str | os.PathLike[str] | None) -> tuple[str, tuple[Path, ...]]:
    """Where the store ``open_store(url_or_path)`` opens is and the files it owns
    (``Store.owned_paths``), known without opening it, so that nothing is written before an
    output that would overwrite them is refused. A server keeps no file here: ``()``."""
    from storage.sqlite_store import sqlite_files

    path = _sqlite_path(url_or_path)
    if path is None:
        return redact_url(str(url_or_path)), ()
    location = os.path.realpath(path.expanduser())
    return location, sqlite_files(Path(location))


def record_session(
    store: Store,
    patient_code: str,
    exercise_id: str,
    *,
    on_status: Callable[[WriteStatus], None] | None = None,
    on_error: Callable[[StorageError], None] | None = None,
    **session: Any,
) -> BackgroundWriter:
    """Start recording a session for the live loop: calls return at once and are committed on
    a worker thread; writes the database cannot take wait in the session's journal, are
    retried with back-off, and are never lost or stored twice (``storage.journaled``).

    ``on_status``: writes started waiting or all reached the database (``WriteStatus``);
    ``on_error``: a write the database refused for good (a bug, not an outage)."""
    writer = store.begin_session(patient_code, exercise_id, **session)
    journaled = JournaledWriter(writer, store.journal_dir, on_status=on_status)
    return BackgroundWriter(journaled, on_error=on_error)
