"""Live station status: each station keeps one row of ``station_status`` up to date, a few
times a second; on a server it also tells listeners at once (``pg_notify`` in the same
transaction, channel ``CHANNEL``), so the therapist dashboard hears a change without polling.

The status is the station's present, not its history: a publish that fails (the server is
away) is dropped, and the next one says where the station is by then. Publishing uses a
connection of its own (``StatusLink``), so it never waits behind, or delays, a session's
writes. Values that come from the session are plain strings here (the ``.value`` of
``session.snapshot.ScreenPhase``, ``SourceState``, ``Severity`` names and
``session.events.SafetyKind``), as the table keeps them.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from storage.errors import StorageError
from storage.sql_db import SqlDb

CHANNEL = "spinecoach_station_status"
IDLE = "idle"  # the phase of a station with nobody signed in
VISIT = "visit"  # a patient's visit between exercises: pain, the rest between items, summary
MAX_TEXT = 200  # a NOTIFY payload is at most 8000 bytes; a cue is one short line
STALE_AFTER_S = 15.0  # a station not heard from for this long is shown as offline


@dataclass(frozen=True, slots=True)
class StationStatus:
    station: str
    seq: int  # the station's publish counter since it started
    published_unix: float  # wall clock, unix seconds: the moment the station published
    host: str = ""
    pid: int = 0
    patient_code: str = ""  # "" nobody signed in
    session_id: int | None = None  # None: the session is not stored
    exercise_id: str = ""
    phase: str = IDLE
    set_index: int = 0
    sets_total: int = 0
    rep_count: int = 0
    reps_target: int = 0
    cue_key: str = ""
    cue_text: str = ""
    cue_severity: str = ""
    safety_stop: bool = False
    safety_kind: str = ""
    pain_flag: bool | None = None  # None: pain not asked at this station (yet)
    camera_state: str = "off"
    machine_state: str = "off"
    storage_state: str = "ok"

    def __post_init__(self) -> None:
        if not self.station or len(self.station) > 64:
            raise ValueError(f"station name: expected 1-64 characters, got {self.station!r}")
        if not math.isfinite(self.published_unix):
            raise ValueError(
                f"station status time: expected a finite time, got {self.published_unix}"
            )
        for name in ("cue_text", "cue_key"):
            text = getattr(self, name)
            if len(text) > MAX_TEXT:
                object.__setattr__(self, name, text[: MAX_TEXT - 3] + "...")

    @property
    def published_at(self) -> str:
        return datetime.fromtimestamp(self.published_unix, UTC).isoformat(timespec="milliseconds")

    def same_state(self, other: StationStatus | None) -> bool:
        """Equal but for the counter and the time: nothing a therapist would see changed."""
        if other is None:
            return False
        return replace(self, seq=other.seq, published_unix=other.published_unix) == other

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> StationStatus:
        """Strict: a payload that is not a status is ``ValueError``."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("station status: expected a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_COLUMNS = tuple(f.name for f in fields(StationStatus))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM station_status"
_UPSERT = (
    f"INSERT INTO station_status ({', '.join(_COLUMNS)}, published_at) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}, ?) "
    "ON CONFLICT (station) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_COLUMNS[1:], "published_at"))
)


def _row_params(s: StationStatus) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        v = getattr(s, name)
        if isinstance(v, bool):
            v = int(v)
        values.append(v)
    return (*values, s.published_at)


def _from_row(row: Any) -> StationStatus:
    d = dict(zip(_COLUMNS, tuple(row), strict=True))
    d["safety_stop"] = bool(d["safety_stop"])
    d["pain_flag"] = None if d["pain_flag"] is None else bool(d["pain_flag"])
    d["patient_code"] = d["patient_code"] or ""
    d["pid"] = d["pid"] or 0
    d["published_unix"] = float(d["published_unix"])
    return StationStatus(**d)


def read_statuses(db: SqlDb) -> tuple[StationStatus, ...]:
    rows = db.query(_SELECT + " ORDER BY station", (), "read the stations' status")
    return tuple(_from_row(r) for r in rows)


class StatusLink:
    """A station's own connection for publishing its status (``Store.status_link()``)."""

    def __init__(self, db: SqlDb, *, notify: bool) -> None:
        self._db = db
        self._notify = notify
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return self._db.path

    def publish(self, status: StationStatus) -> None:
        """Upsert the station's row and, on a server, NOTIFY in the same transaction, so a
        listener that hears it finds the row already there. ``StorageError`` when it fails."""
        with self._lock, self._db.transaction("publish the station's status") as c:
            c.execute(_UPSERT, _row_params(status))
            if self._notify:
                c.execute("SELECT pg_notify(?, ?)", (CHANNEL, status.to_json()))

    def close(self) -> None:
        self._db.close()


class StatusListener(Protocol):
    """The dashboard's side: every station's row now, then each change as it comes."""

    def current(self) -> tuple[StationStatus, ...]: ...

    def wait(self, timeout_s: float) -> list[StationStatus]:
        """Changes heard within ``timeout_s`` (empty when none). After a lost connection it
        returns every row again, so nothing missed meanwhile stays unseen."""
        ...

    def close(self) -> None: ...


class PollingListener:
    """For a SQLite file (no NOTIFY): reads the table every ``period_s`` and returns the rows
    whose counter or time moved."""

    def __init__(self, db: SqlDb, period_s: float = 0.25) -> None:
        self._db = db
        self._period_s = period_s
        self._seen: dict[str, tuple[int, float]] = {}
        self._stop = threading.Event()

    def current(self) -> tuple[StationStatus, ...]:
        rows = read_statuses(self._db)
        self._seen = {s.station: (s.seq, s.published_unix) for s in rows}
        return rows

    def wait(self, timeout_s: float) -> list[StationStatus]:
        if self._stop.wait(min(timeout_s, self._period_s)):
            return []
        try:
            rows = read_statuses(self._db)
        except StorageError:
            return []
        changed = [s for s in rows if self._seen.get(s.station) != (s.seq, s.published_unix)]
        for s in changed:
            self._seen[s.station] = (s.seq, s.published_unix)
        return changed

    def close(self) -> None:
        self._stop.set()
        self._db.close()
