"""Session recording into SQLite: one transaction per call, committed before returning."""

from __future__ import annotations

import math
import sqlite3
import threading
from datetime import UTC, datetime

import numpy as np

from storage import traces
from storage.base import SessionWriter, check_pain_score
from storage.errors import StorageError
from storage.records import CueLike, RepLike, RepRecord, SessionInfo, SessionSummary
from storage.sqlite_db import Db
from storage.sqlite_read import session_info

# Sessions being written by this process, so opening a second store in the same process does
# not take a live session for a crashed one.
_LIVE: set[tuple[str, int]] = set()
_LIVE_LOCK = threading.Lock()


def is_live(db_path: str, session_id: int) -> bool:
    with _LIVE_LOCK:
        return (db_path, session_id) in _LIVE


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _n(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


class SQLiteSessionWriter(SessionWriter):
    def __init__(self, db: Db, session_id: int, patient_id: int) -> None:
        self._db = db
        self.session_id = session_id
        self._patient_id = patient_id
        self._set_id: int | None = None
        self._set_index = 0
        self._finished = False
        with _LIVE_LOCK:
            _LIVE.add((db.path, session_id))

    @property
    def finished(self) -> bool:
        return self._finished

    def _check_open(self) -> None:
        if self._finished:
            raise StorageError(
                f"session {self.session_id} is already finished; start a new one",
                path=self._db.path,
            )

    def begin_set(
        self,
        set_index: int | None = None,
        *,
        target_reps: int = 0,
        load_band_n: tuple[float, float] = (math.nan, math.nan),
        started_s: float = math.nan,
    ) -> int:
        self._check_open()
        index = self._set_index + 1 if set_index is None else int(set_index)
        if index < 1:
            raise ValueError(f"set index: expected 1 or more, got {index}")
        with self._db.transaction(f"start set {index}") as c:
            self._set_id = int(
                c.execute(
                    "INSERT INTO sets (session_id, set_index, target_reps, load_low_n, "
                    "load_high_n, started_s) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        self.session_id,
                        index,
                        int(target_reps),
                        _n(load_band_n[0]),
                        _n(load_band_n[1]),
                        _n(started_s),
                    ),
                ).fetchone()[0]
            )
            self._touch(c)
        self._set_index = index
        return index

    def _touch(self, c: sqlite3.Connection) -> None:
        """Kept per rep so a crashed session ends at its last activity, not at its start."""
        c.execute(
            "UPDATE sessions SET last_activity_at = ? WHERE id = ?", (now_utc(), self.session_id)
        )

    def add_rep(
        self, rep: RepLike, *, hold_s: float | None = None, peak_force_n: float | None = None
    ) -> None:
        self._check_open()
        r = RepRecord.from_rep(rep, hold_s=hold_s, peak_force_n=peak_force_n)
        if self._set_id is None:
            self.begin_set()
        with self._db.transaction(f"store rep {r.index}") as c:
            rep_id = c.execute(
                "INSERT INTO reps (set_id, rep_index, start_s, end_s, min_angle_deg, "
                "max_angle_deg, range_fraction, duration_s, tempo_ok, counted, hold_s, "
                "peak_force_n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    self._set_id,
                    r.index,
                    _n(r.start_s),
                    _n(r.end_s),
                    _n(r.min_angle_deg),
                    _n(r.max_angle_deg),
                    _n(r.range_fraction),
                    _n(r.duration_s),
                    int(r.tempo_ok),
                    int(r.counted),
                    _n(r.hold_s),
                    _n(r.peak_force_n),
                ),
            ).fetchone()[0]
            for key in dict.fromkeys(r.faults):  # a fault counts once per rep
                c.execute("INSERT INTO rep_faults (rep_id, rule_key) VALUES (?, ?)", (rep_id, key))
            self._touch(c)

    def add_cue(self, cue: CueLike, t_s: float | None = None) -> None:
        self._check_open()
        t = float(cue.since_s if t_s is None else t_s)
        with self._db.transaction(f"store cue {cue.key}") as c:
            c.execute(
                "INSERT INTO cues (session_id, t_s, cue_key, cue_text, severity) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.session_id, t, cue.key, cue.text, int(cue.severity)),
            )

    def add_safety_event(
        self,
        kind: str,
        t_s: float,
        message: str = "",
        *,
        value: float = math.nan,
        limit: float = math.nan,
        unit: str = "",
    ) -> None:
        self._check_open()
        with self._db.transaction(f"store safety event {kind}") as c:
            c.execute(
                "INSERT INTO safety_events (session_id, t_s, kind, message, measured_value, "
                "limit_value, unit) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.session_id, float(t_s), kind, message, _n(value), _n(limit), unit),
            )
            self._touch(c)

    def add_trace(
        self,
        label: str,
        unit: str,
        t: np.ndarray,
        values: np.ndarray,
        *,
        max_rate_hz: float | None = None,
    ) -> int:
        self._check_open()
        rate = traces.DEFAULT_RATE_HZ if max_rate_hz is None else max_rate_hz
        td, vd = traces.downsample(t, values, rate)
        if td.size == 0:
            return 0
        t0 = float(td[0])
        with self._db.transaction(f"store trace {label}") as c:
            c.execute(
                "INSERT INTO traces (session_id, label, unit, t0_s, n_points, t_data, v_data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.session_id,
                    label,
                    unit,
                    t0,
                    int(td.size),
                    traces.encode(td - t0),
                    traces.encode(vd),
                ),
            )
        return int(td.size)

    def add_pain_score(self, score: float, moment: str = "after") -> None:
        self._check_open()
        score = check_pain_score(score, moment)
        with self._db.transaction("store pain score") as c:
            c.execute(
                "INSERT INTO pain_scores (patient_id, session_id, recorded_at, moment, score) "
                "VALUES (?, ?, ?, ?, ?)",
                (self._patient_id, self.session_id, now_utc(), moment, score),
            )

    def _end(self, status: str, reason: str, notes: str | None) -> None:
        with self._db.transaction("finish session") as c:
            c.execute(
                "UPDATE sessions SET status = ?, ended_at = ?, end_reason = ?, "
                "notes = COALESCE(?, notes) WHERE id = ?",
                (status, now_utc(), reason, notes, self.session_id),
            )
        self._finished = True
        with _LIVE_LOCK:
            _LIVE.discard((self._db.path, self.session_id))

    def finish(self, summary: SessionSummary | None = None) -> SessionInfo:
        self._check_open()
        s = summary or SessionSummary()
        self._end("finished", s.end_reason, s.notes or None)
        return session_info(self._db, self.session_id)

    def abandon(self, reason: str) -> None:
        if not self._finished:
            self._end("interrupted", reason, None)
