"""The storage tests' backends: a SQLite file or a database on the test session's PostgreSQL
server (``tests/pg_server.py``), opened the same way, plus a connection of the test's own
that reads and changes rows behind the store's back (written with ``?`` parameters)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import Store, open_store

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Backend:
    name: str  # "sqlite" or "postgresql"
    url: str  # what open_store and --db take
    journal_dir: Path  # where the store keeps writes it could not make

    def open(self, **kw: Any) -> Store:
        if self.name == "postgresql":
            kw.setdefault("journal_dir", self.journal_dir)
        return open_store(self.url, **kw)

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run one statement on a connection of its own, committed; returns the rows."""
        if self.name == "sqlite":
            conn = sqlite3.connect(self.url)
            try:
                rows = conn.execute(statement, params).fetchall()
                conn.commit()
                return rows
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement.replace("%", "%%").replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    def count(self, statement: str, params: tuple = ()) -> int:
        return int(self.sql(statement, params)[0][0])


def sqlite_backend(tmp_path: Path) -> Backend:
    db = tmp_path / "clinic.sqlite"
    return Backend("sqlite", str(db), Path(f"{db}.pending"))


def postgres_backend(server: Any, tmp_path: Path) -> Backend:
    return Backend("postgresql", server.url(server.new_database()), tmp_path / "pending")
