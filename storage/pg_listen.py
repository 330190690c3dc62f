"""The dashboard's ear on a server: LISTEN on the stations' status channel, on a connection of
its own. A lost connection is taken up again with back-off; the first answer after that is
every station's row, so a change missed while away is not missed for good."""

from __future__ import annotations

import threading
from contextlib import suppress

import psycopg

from storage.errors import StorageError
from storage.pg_db import translate
from storage.station_status import _SELECT, CHANNEL, StationStatus, _from_row

_BACKOFF_S = (0.25, 0.5, 1.0, 2.0)


class PgListener:
    def __init__(self, params: dict[str, str], location: str, timeout_s: float) -> None:
        self._params = params
        self._location = location
        self._timeout_s = timeout_s
        self._conn: psycopg.Connection | None = None
        self._failures = 0
        self._stop = threading.Event()
        self.reconnects = 0  # connections taken up again after one was lost
        self.resynced = False  # the last answer was every row (a re-read), not changes

    @property
    def connected(self) -> bool:
        """False from a lost connection until it is taken up again."""
        conn = self._conn
        return conn is not None and not conn.broken and not conn.closed

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(**self._params, autocommit=True)
        try:
            conn.execute(f"LISTEN {CHANNEL}")  # before reading the rows: nothing falls between
        except BaseException:
            conn.close()
            raise
        return conn

    def _rows(self, conn: psycopg.Connection) -> list[StationStatus]:
        return [_from_row(r) for r in conn.execute(_SELECT + " ORDER BY station").fetchall()]

    def current(self) -> tuple[StationStatus, ...]:
        """Every station's row (connecting if need be); ``StorageError`` when unreachable."""
        try:
            if self._conn is None or self._conn.broken or self._conn.closed:
                self._drop()
                self._conn = self._connect()
            return tuple(self._rows(self._conn))
        except psycopg.Error as exc:
            self._drop()
            raise translate(
                exc, self._location, "read the stations' status", self._timeout_s
            ) from None

    def wait(self, timeout_s: float) -> list[StationStatus]:
        self.resynced = False
        if self._stop.is_set():
            return []
        try:
            if self._conn is None or self._conn.broken or self._conn.closed:
                self._drop()
                conn = self._connect()
                self._conn = conn
                if self._failures:
                    self.reconnects += 1
                self._failures = 0
                self.resynced = True
                return self._rows(conn)  # catch up on what was missed
            conn = self._conn
            out = []
            # Wait for the first, then take what is already there without waiting more.
            for n in conn.notifies(timeout=timeout_s, stop_after=1):
                out.append(n)
            if out:
                out.extend(conn.notifies(timeout=0.001))
            return [s for s in (_parse(n.payload) for n in out) if s is not None]
        except psycopg.Error:
            self._drop()
            self._failures += 1
            self._stop.wait(_BACKOFF_S[min(self._failures, len(_BACKOFF_S)) - 1])
            return []

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._stop.set()
        self._drop()


def _parse(payload: str) -> StationStatus | None:
    try:
        return StationStatus.from_json(payload)
    except (ValueError, TypeError, StorageError):
        return None  # not a status this version reads: the table still has the row
