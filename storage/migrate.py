"""Ordered schema migrations, one SQL file per version and backend.

``storage/migrations/NNNN_name.sql`` is SQLite's, ``storage/migrations/postgresql/NNNN_name.sql``
PostgreSQL's; both backends have the same versions, names and tables (tested). From version 4
on, every version applied is also a row of ``schema_versions``; SQLite keeps the version in
``PRAGMA user_version`` as well, because that can be read before the file is trusted.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

# Marks the file as ours (``PRAGMA application_id``), so another program's SQLite file is
# refused instead of being "migrated". The bytes spell "SpCh". PostgreSQL also takes it as
# the advisory lock that keeps two kiosks from migrating one database at once.
APPLICATION_ID = 0x53704368

# The version whose migration creates ``schema_versions``; later ones add their row to it.
VERSION_TABLE_SINCE = 4

_ROOT = Path(__file__).with_name("migrations")
_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class Dialect(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


_DIRS = {Dialect.SQLITE: _ROOT, Dialect.POSTGRESQL: _ROOT / "postgresql"}


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: Dialect = Dialect.SQLITE) -> tuple[Migration, ...]:
    found = []
    for f in sorted(_DIRS[dialect].glob("*.sql")):
        m = _NAME.fullmatch(f.name)
        if m is None:
            raise RuntimeError(f"migration file name {f.name!r}: expected NNNN_name.sql")
        found.append(Migration(int(m.group(1)), f.stem, f.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, got {versions}")
    return tuple(found)


LATEST_VERSION = len(migrations())


def version_rows_sql(m: Migration, applied_at: str) -> list[str]:
    """Statements that record ``m`` in ``schema_versions``: none before the table exists
    (version 4 itself lists the earlier versions, without a time)."""
    if m.version < VERSION_TABLE_SINCE:
        return []
    return [
        f"INSERT INTO schema_versions (version, name, applied_at) VALUES ({m.version}, "
        f"'{m.name}', '{applied_at}')"
    ]


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply the SQLite migrations after the current version up to ``target``, each in its
    own transaction together with its ``user_version`` bump. Returns the versions applied.
    ``conn`` must be in autocommit mode (``isolation_level=None``)."""
    applied = []
    for m in migrations(Dialect.SQLITE):
        if m.version <= user_version(conn) or m.version > target:
            continue
        rows = "\n".join(s + ";" for s in version_rows_sql(m, now_utc()))
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{m.sql}\n"
            f"{rows}\n"
            f"PRAGMA application_id = {APPLICATION_ID};\n"
            f"PRAGMA user_version = {m.version};\n"
            "COMMIT;\n"
        )
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(m.version)
    return applied
