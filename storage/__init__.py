"""Storage: patients, programmes, assessments and recorded sessions; reports and exports.

``open_store(url_or_path)`` is the one way in; everything else talks to ``storage.base.Store``.
"""

from __future__ import annotations

import os
from pathlib import Path

from storage.background import BackgroundWriter
from storage.base import SessionWriter, Store
from storage.errors import (
    BackendNotAvailable,
    CorruptDatabase,
    DatabaseLocked,
    NotFound,
    SchemaTooNew,
    StorageError,
)
from storage.paths import default_db_path
from storage.records import (
    Assessment,
    Calibration,
    CueEvent,
    PainScore,
    Patient,
    PatientHistory,
    ProgrammeItem,
    RepRecord,
    SafetyEvent,
    SessionInfo,
    SessionRecord,
    SessionSummary,
    SetRecord,
    TraceRecord,
)

__all__ = [
    "Assessment",
    "BackendNotAvailable",
    "BackgroundWriter",
    "Calibration",
    "CorruptDatabase",
    "CueEvent",
    "DatabaseLocked",
    "NotFound",
    "PainScore",
    "Patient",
    "PatientHistory",
    "ProgrammeItem",
    "RepRecord",
    "SafetyEvent",
    "SchemaTooNew",
    "SessionInfo",
    "SessionRecord",
    "SessionSummary",
    "SessionWriter",
    "SetRecord",
    "StorageError",
    "Store",
    "TraceRecord",
    "default_db_path",
    "open_store",
]


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    timeout_s: float = 5.0,
    create: bool = True,
) -> Store:
    """Open the store named by a path or URL; ``None`` means the default file in the user's
    data directory.

    - a plain path, or ``sqlite:///relative/path`` / ``sqlite:////absolute/path``: SQLite;
    - ``postgresql://...``: planned (a clinic with several kiosks on one server), not built yet.

    ``timeout_s`` is how long to wait for another program's lock before ``DatabaseLocked``;
    ``create=False`` (reports, exports) raises ``NotFound`` instead of creating a new file.
    """
    from storage.sqlite_store import SQLiteStore

    if url_or_path is None:
        return SQLiteStore(default_db_path(), timeout_s=timeout_s, create=create)
    if isinstance(url_or_path, os.PathLike):
        return SQLiteStore(Path(url_or_path), timeout_s=timeout_s, create=create)
    text = str(url_or_path)
    if "://" not in text:
        if not text.strip():
            raise StorageError("empty database path; expected a file path or a sqlite:/// URL")
        return SQLiteStore(Path(text), timeout_s=timeout_s, create=create)
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme == "sqlite":
        # sqlite:///rel/path and sqlite:////abs/path, as other Python tools spell them.
        if not rest.startswith("/") or rest == "/":
            raise StorageError(
                f"database URL {text!r}: expected sqlite:///relative/path or "
                "sqlite:////absolute/path (an in-memory database would not keep sessions)"
            )
        return SQLiteStore(Path(rest[1:]), timeout_s=timeout_s, create=create)
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        raise BackendNotAvailable(
            "PostgreSQL storage is planned (one server shared by several kiosks) but not built "
            "yet; use a SQLite file path for now"
        )
    raise StorageError(
        f"database URL {text!r}: unknown scheme {scheme!r}; expected a file path, sqlite:/// "
        "or (later) postgresql://"
    )
