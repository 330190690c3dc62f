"""What the SQL shared by the SQLite and PostgreSQL backends needs from a connection.

Statements are written once, with ``?`` parameters; the PostgreSQL connection turns them into
``%s``. ``storage.sqlite_db.Db`` and ``storage.pg_db.PgDb`` implement this."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

Params = Mapping[str, Any] | Sequence[Any]


def to_sql(x: float | None) -> float | None:
    """A number for a nullable column: NaN as NULL, explicitly (SQLite would do it too;
    PostgreSQL would store a NaN)."""
    return None if x is None or math.isnan(x) else float(x)


def from_sql(x: float | None) -> float:
    """A nullable column's number: NULL as NaN (a missing value is NaN, never 0)."""
    return math.nan if x is None else float(x)


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """Inside a transaction: ``execute`` returns a cursor."""

    def execute(self, sql: str, params: Params = ...) -> Cursor: ...


class SqlDb(Protocol):
    path: str  # where the data lives, for messages (a file path, a URL without password)
    lock: threading.RLock

    def transaction(self, action: str) -> AbstractContextManager[Conn]:
        """One transaction, committed when the block ends; errors become ``StorageError``s
        whose message says ``action``."""
        ...

    def query(self, sql: str, params: Params = (), action: str = "read") -> list[Any]: ...

    def close(self) -> None: ...
