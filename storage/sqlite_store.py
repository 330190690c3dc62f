"""The SQLite store: one file, WAL journal, full sync, foreign keys on."""

from __future__ import annotations

import os
import sqlite3
from glob import escape as glob_escape
from pathlib import Path

from storage import paths
from storage.errors import NotFound, StorageError
from storage.migrate import LATEST_VERSION, migrate, user_version
from storage.sql_store import SqlStore
from storage.sqlite_db import DB_ERRORS, Db
from storage.sqlite_open import backup_before_migration, check_header, inspect
from storage.station_status import PollingListener, StatusLink, StatusListener


class SQLiteStore(SqlStore):
    def __init__(
        self, path: str | os.PathLike[str], *, timeout_s: float = 5.0, create: bool = True
    ) -> None:
        """Open (or, with ``create``, create) the database at ``path``; migrate it; mark
        crashed sessions.

        An existing file is never recreated or overwritten: if it is not a readable
        SpineCoach database, ``CorruptDatabase`` says so and the file stays byte-identical."""
        self._path = Path(os.path.realpath(Path(path).expanduser()))
        p = str(self._path)
        if self._path.is_dir():
            raise StorageError(f"{p} is a folder; expected a database file path", path=p)
        exists = self._path.exists()
        if exists:
            check_header(self._path)
            paths.restrict(self._path)
        elif not create:
            raise NotFound(f"no database at {p}; expected an existing SpineCoach file", path=p)
        else:
            wal = Path(p + "-wal")
            if wal.exists():
                # A journal without its database could replay stale pages into a new file.
                raise StorageError(
                    f"{wal} exists but {p} does not; move the journal aside before creating a "
                    "new database there",
                    path=p,
                )
            paths.create_private_file(self._path)
        version = inspect(self._path, timeout_s)
        uri = self._path.as_uri() + "?mode=rw"  # rw, never rwc: a vanished file is an error
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {p}: {exc}", path=p) from None
        conn.row_factory = sqlite3.Row
        self._db = Db(conn, p, timeout_s)
        self._writers = []
        try:
            self._version = self._prepare(version)
        except BaseException:
            conn.close()
            raise

    # opening ----------------------------------------------------------------------------
    def _prepare(self, version: int) -> int:
        db, p = self._db, self._db.path
        try:
            db.conn.execute("PRAGMA foreign_keys = ON")
            mode = db.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL: each commit is fsynced, so a committed rep survives power loss, not only a
            # killed process. At one commit a rep the cost is negligible (docs/storage.md).
            db.conn.execute("PRAGMA synchronous = FULL")
        except DB_ERRORS as exc:
            raise db.error(exc, "open the database") from None
        if str(mode).lower() != "wal":
            raise StorageError(f"cannot switch {p} to WAL journal mode (got {mode!r})", path=p)
        if 0 < version < LATEST_VERSION:
            backup_before_migration(self._db, self._path, version)
        try:
            migrate(db.conn)
        except DB_ERRORS as exc:
            raise db.error(exc, f"migrate the schema from version {version}") from None
        for suffix in ("-wal", "-shm"):
            side = Path(p + suffix)
            if side.exists():
                paths.restrict(side)
        version = user_version(db.conn)
        self._ready()
        return version

    # Store ------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return self._version

    def _sibling(self, timeout_s: float) -> Db:
        """Another connection to the file, for the live status (never the session's)."""
        uri = self._path.as_uri() + "?mode=rw"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self._db.path}: {exc}", path=self._db.path) from None
        return Db(conn, self._db.path, timeout_s)

    def status_link(self) -> StatusLink:
        # A short wait: a status that cannot be written now is stale by the next one.
        return StatusLink(self._sibling(0.5), notify=False)

    def status_listener(self) -> StatusListener:
        return PollingListener(self._sibling(self._db.timeout_s))

    @property
    def journal_dir(self) -> Path:
        return Path(self._db.path + ".pending")

    def owned_paths(self) -> tuple[Path, ...]:
        return sqlite_files(self._path)


def sqlite_files(path: Path) -> tuple[Path, ...]:
    """The files of the database at ``path`` (resolved): itself, its SQLite journals, the
    folder of writes waiting for it and the backups made before migrations."""
    found = [Path(f"{path}{s}") for s in ("", "-wal", "-shm", "-journal", ".pending")]
    found += sorted(path.parent.glob(glob_escape(path.name) + ".v*.bak"))
    return tuple(Path(os.path.realpath(f)) for f in found)
