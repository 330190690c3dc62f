"""Ordered schema migrations kept in ``PRAGMA user_version``."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

# Marks the file as ours (``PRAGMA application_id``), so another program's SQLite file is
# refused instead of being "migrated". The bytes spell "SpCh".
APPLICATION_ID = 0x53704368

_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> tuple[Migration, ...]:
    found = []
    for f in sorted(_DIR.glob("*.sql")):
        m = _NAME.fullmatch(f.name)
        if m is None:
            raise RuntimeError(f"migration file name {f.name!r}: expected NNNN_name.sql")
        found.append(Migration(int(m.group(1)), f.stem, f.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, got {versions}")
    return tuple(found)


LATEST_VERSION = len(migrations())


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply the migrations after the current version up to ``target``, each in its own
    transaction together with its ``user_version`` bump. Returns the versions applied.
    ``conn`` must be in autocommit mode (``isolation_level=None``)."""
    applied = []
    for m in migrations():
        if m.version <= user_version(conn) or m.version > target:
            continue
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{m.sql}\n"
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
