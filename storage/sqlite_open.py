"""Opening checks for SQLite files: what is refused before anything is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage import paths
from storage.errors import CorruptDatabase, SchemaTooNew, StorageError
from storage.migrate import APPLICATION_ID, LATEST_VERSION, user_version
from storage.sqlite_db import DB_ERRORS, Db, translate

_MAGIC = b"SQLite format 3\x00"


def check_header(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(len(_MAGIC))
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}", path=str(path)) from None
    if head and head != _MAGIC:
        raise CorruptDatabase(
            f"{path} is not a SpineCoach database: expected an SQLite 3 file starting with "
            f"'SQLite format 3', found {head[:16]!r}; it was left untouched",
            path=str(path),
        )


def inspect(path: Path, timeout_s: float) -> int:
    """Check the file on a read-only connection; return its schema version.

    Read-only so that refusing a file cannot change it: a read-write connection would
    checkpoint a leftover WAL journal into the file as it closes."""
    p = str(path)
    try:
        conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {p}: {exc}", path=p) from None
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = user_version(conn)
        n_objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except DB_ERRORS as exc:
        raise translate(exc, p, "open the database", timeout_s) from None
    finally:
        conn.close()
    if problems != ["ok"]:
        found = "; ".join(line for r in problems for line in r.splitlines() if "***" not in line)
        raise CorruptDatabase(
            f"{p} is damaged (integrity check: {found}); it was left "
            "untouched - restore it from a backup or move it aside",
            path=p,
        )
    if app_id != APPLICATION_ID and (version != 0 or n_objects):
        raise CorruptDatabase(
            f"{p} is an SQLite database but not a SpineCoach one (application_id "
            f"{app_id:#x}, expected {APPLICATION_ID:#x}); it was left untouched",
            path=p,
        )
    if version > LATEST_VERSION:
        raise SchemaTooNew(
            f"{p} has schema version {version}, written by a newer SpineCoach; this one "
            f"knows versions up to {LATEST_VERSION}. Update SpineCoach to open it.",
            path=p,
        )
    return version


def backup_before_migration(db: Db, path: Path, version: int) -> None:
    """A copy of the old file beside it, so a failed or regretted migration loses nothing."""
    target = path.with_name(f"{path.name}.v{version}.bak")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.v{version}.{n}.bak")
    paths.create_private_file(target)
    dst = sqlite3.connect(target)
    try:
        with db.lock:
            db.conn.backup(dst)
    except sqlite3.Error as exc:
        dst.close()
        target.unlink(missing_ok=True)  # a partial copy would look like a good backup
        raise db.error(exc, f"back up before migrating to {target}") from None
    dst.close()
