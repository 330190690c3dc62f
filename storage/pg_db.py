"""One PostgreSQL connection shared by a store and its session writers: connecting (again,
after the server went away), transactions, and turning psycopg's exceptions into
``StorageError`` messages a person can act on. psycopg stays in this module and ``pg_store``.

The SQL shared with SQLite is written with ``?`` parameters; ``_Conn.execute`` turns them into
psycopg's ``%s``. A server that cannot be reached, shuts down or runs out of room is
``DatabaseUnavailable``: the session's writes wait in its journal and are tried again, and the
next try connects anew.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import conninfo as pg_conninfo

from storage.errors import (
    CorruptDatabase,
    DatabaseFull,
    DatabaseLocked,
    DatabaseReadOnly,
    DatabaseUnavailable,
    NotFound,
    StorageError,
)
from storage.paths import redact_url as redact
from storage.sql_db import Params

# Connection settings used unless the URL gives its own. Keep-alives and the TCP user timeout
# make a pulled network cable an error within seconds instead of a write that hangs for the
# quarter of an hour the kernel would otherwise wait.
_DEFAULTS = {
    "application_name": "spinecoach",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "15000",
}

# SQLSTATE codes (PostgreSQL manual, appendix A).
_BUSY = {"55P03", "40001", "40P01", "57014"}  # lock timeout, serialization, deadlock, cancel
_AUTH = {"28000", "28P01"}
_NO_DATABASE = "3D000"
_READ_ONLY = "25006"
_PRIVILEGE = "42501"
_DISK_FULL = "53100"


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def parse_url(url: str, timeout_s: float) -> dict[str, str]:
    """Connection parameters from a ``postgresql://`` URL, with this program's defaults for
    those it does not name. ``StorageError`` (without the password) when libpq refuses it."""
    try:
        params = pg_conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StorageError(
            f"database URL {redact(url)}: {one_line(exc)}; expected "
            "postgresql://[user@]host[:port]/database[?sslmode=...]"
        ) from None
    params = {k: str(v) for k, v in params.items()}
    if not params.get("dbname"):
        raise StorageError(
            f"database URL {redact(url)}: no database name; expected "
            "postgresql://[user@]host[:port]/database"
        )
    for key, value in _DEFAULTS.items():
        params.setdefault(key, value)
    # libpq takes whole seconds and treats 1 as 2.
    params.setdefault("connect_timeout", str(max(2, round(timeout_s))))
    return params


def describe(params: dict[str, str]) -> str:
    """Where the data lives, for messages: ``postgresql://user@host:port/database``."""
    user = f"{params['user']}@" if params.get("user") else ""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    if host.startswith("/"):  # a unix socket folder, as libpq spells it in a URL
        port = f"&port={params['port']}" if params.get("port") else ""
        return f"postgresql://{user}/{params['dbname']}?host={host}{port}"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{host}{port}/{params['dbname']}"


def translate(exc: psycopg.Error, location: str, action: str, timeout_s: float) -> StorageError:
    state = getattr(exc, "sqlstate", None) or ""
    text = one_line(exc) or type(exc).__name__
    if state in _BUSY:
        return DatabaseLocked(
            f"cannot {action}: {location} is busy (a lock held longer than {timeout_s:g} s, or "
            f"a conflict with another station: {text}); it is tried again",
            path=location,
        )
    if state == _DISK_FULL:
        return DatabaseFull(
            f"cannot {action}: the server's disk is full ({location})", path=location
        )
    if state == _READ_ONLY:
        return DatabaseReadOnly(
            f"cannot {action}: {location} is read-only (a standby server?): {text}", path=location
        )
    if state == _PRIVILEGE:
        return DatabaseReadOnly(
            f"cannot {action}: this role may not do that on {location} ({text}); "
            "docs/storage.md lists the grants a station needs",
            path=location,
        )
    if not state and "FATAL:" in text:
        # Refused while connecting: libpq gives the server's message, not its code.
        if re.search(r'database ".*" does not exist', text):
            state = _NO_DATABASE
        elif any(
            w in text
            for w in ("authentication failed", "no pg_hba.conf entry", "not permitted to log in")
        ) or re.search(r'role ".*" does not exist', text):
            state = "28000"
    if state == _NO_DATABASE:
        return NotFound(
            f"cannot {action}: no database {location} on the server ({text}); create it first "
            "(docs/storage.md)",
            path=location,
        )
    if state in _AUTH:
        return DatabaseUnavailable(
            f"cannot {action}: the server refused the login to {location} ({text})",
            path=location,
        )
    if state.startswith("53") or state.startswith("08") or state.startswith("57P"):
        return DatabaseUnavailable(f"cannot {action}: {location}: {text}", path=location)
    if state.startswith("XX"):
        return CorruptDatabase(
            f"cannot {action}: the server reports damaged data in {location} ({text})",
            path=location,
        )
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return DatabaseUnavailable(
            f"cannot {action}: PostgreSQL server {location} cannot be reached ({text})",
            path=location,
        )
    return StorageError(f"cannot {action}: {text} ({location})", path=location)


def _pg_sql(sql: str) -> str:
    """``?`` parameters as psycopg spells them (no statement has a ``?`` in a literal)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Conn:
    """A connection inside a transaction, with the ``execute`` the shared SQL uses."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor:
        return self._conn.execute(_pg_sql(sql), params)

    def script(self, sql: str) -> None:
        """Statements without parameters, several at once (a migration file)."""
        self._conn.execute(sql)


class PgDb:
    """Serialises use of one connection across threads, like ``sqlite_db.Db``; reconnects
    when the server has dropped it."""

    def __init__(self, url: str, timeout_s: float, *, connect: bool = True) -> None:
        """``connect=False``: the first use connects (a station's status link, which must
        not fail the session's start when the server is away)."""
        self.params = parse_url(url, timeout_s)
        self.path = describe(self.params)
        self.timeout_s = timeout_s
        self.lock = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._url = url
        if not connect:
            return
        try:
            self._live()
        except psycopg.Error as exc:
            raise self.error(exc, "connect") from None

    def sibling(self) -> PgDb:
        """Another connection to the same database, made on first use."""
        return PgDb(self._url, self.timeout_s, connect=False)

    def error(self, exc: psycopg.Error, action: str) -> StorageError:
        return translate(exc, self.path, action, self.timeout_s)

    def _live(self) -> psycopg.Connection:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._drop()
        conn = psycopg.connect(**self.params, autocommit=True)
        try:
            # A row lock held by another station fails as busy after the store's timeout
            # rather than waiting without end.
            ms = f"{max(1, round(self.timeout_s * 1000))}ms"
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (ms,))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self, action: str) -> Iterator[_Conn]:
        with self.lock:
            try:
                conn = self._live()
                with conn.transaction():
                    yield _Conn(conn)
            except psycopg.Error as exc:
                if self._conn is not None and (self._conn.broken or self._conn.closed):
                    self._drop()
                raise self.error(exc, action) from None

    def query(self, sql: str, params: Params = (), action: str = "read") -> list[Any]:
        with self.lock:
            try:
                return self._live().execute(_pg_sql(sql), params).fetchall()
            except psycopg.Error as exc:
                if self._conn is not None and (self._conn.broken or self._conn.closed):
                    self._drop()
                raise self.error(exc, action) from None

    def close(self) -> None:
        with self.lock:
            self._drop()
