"""Session recording, one SQL transaction per call, committed before returning; the same
statements for SQLite and PostgreSQL (``storage.sql_db``)."""

from __future__ import annotations

import threading

import numpy as np

from storage import traces
from storage.errors import StorageError
from storage.journal import (
    AbandonSession,
    AddCue,
    AddPainScore,
    AddRep,
    AddSafetyEvent,
    AddTrace,
    BeginSet,
    FinishSession,
    WriteOp,
)
from storage.op_writer import OpWriter
from storage.records import SessionInfo, SessionKey, SessionSummary
from storage.sql_db import Conn, SqlDb
from storage.sql_db import to_sql as _n
from storage.sql_read import session_info

# Sessions being written by this process (by database location), so opening a second store
# in the same process does not take a live session for a crashed one.
_LIVE: set[tuple[str, int]] = set()
_LIVE_LOCK = threading.Lock()


def is_live(location: str, session_id: int) -> bool:
    with _LIVE_LOCK:
        return (location, session_id) in _LIVE


class SqlSessionWriter(OpWriter):
    """Every call is one write (``storage.journal.WriteOp``) in its own transaction.

    ``live=False`` is a writer that replays a journal for a session whose own writer is gone."""

    def __init__(self, db: SqlDb, key: SessionKey, patient_id: int, *, live: bool = True) -> None:
        self._db = db
        self.key = key
        self.session_id = key.session_id
        self._patient_id = patient_id
        self._set_index = 0
        self._finished = False
        self._live = live
        if live:
            with _LIVE_LOCK:
                _LIVE.add((db.path, self.session_id))

    @property
    def finished(self) -> bool:
        return self._finished

    def _check_open(self) -> None:
        if self._finished:
            raise StorageError(
                f"session {self.session_id} is already finished; start a new one",
                path=self._db.path,
            )

    def _not_live(self) -> None:
        self._finished = True
        with _LIVE_LOCK:
            _LIVE.discard((self._db.path, self.session_id))

    def detach(self) -> None:
        self._not_live()

    def info(self) -> SessionInfo:
        return session_info(self._db, self.session_id)

    # the calls (storage.op_writer), each one write -------------------------------------------
    def _write(self, op: WriteOp) -> None:
        self.apply(op)

    def finish(self, summary: SessionSummary | None = None) -> SessionInfo:
        s = summary or SessionSummary()
        self.apply(FinishSession(str(s.end_reason), s.notes))
        return self.info()

    def abandon(self, reason: str) -> None:
        if not self._finished:
            self.apply(AbandonSession(reason))

    # writes --------------------------------------------------------------------------------
    def apply(self, op: WriteOp, *, replay: bool = False) -> bool:
        if not replay:
            self._check_open()
        name = type(op).__name__
        handler = getattr(self, f"_w_{name}")
        with self._db.transaction(_ACTIONS[name](op)) as c:
            wrote = bool(handler(c, op, replay))
        if isinstance(op, FinishSession | AbandonSession):
            self._not_live()
        return wrote

    def _touch(self, c: Conn, at: str) -> None:
        """Kept per rep so a crashed session ends at its last activity, not at its start."""
        c.execute(
            "UPDATE sessions SET last_activity_at = ? WHERE id = ? "
            "AND (last_activity_at IS NULL OR last_activity_at < ?)",
            (at, self.session_id, at),
        )

    def _set_id(self, c: Conn, set_index: int) -> int | None:
        row = c.execute(
            "SELECT id FROM sets WHERE session_id = ? AND set_index = ?",
            (self.session_id, set_index),
        ).fetchone()
        return None if row is None else int(row[0])

    def _w_BeginSet(self, c: Conn, op: BeginSet, replay: bool) -> bool:
        # A replay skips a set the database already has: (session, set index) is unique.
        conflict = " ON CONFLICT (session_id, set_index) DO NOTHING" if replay else ""
        cur = c.execute(
            "INSERT INTO sets (session_id, set_index, target_reps, load_low_n, load_high_n, "
            f"started_s) VALUES (?, ?, ?, ?, ?, ?){conflict}",
            (
                self.session_id,
                op.set_index,
                op.target_reps,
                _n(op.load_low_n),
                _n(op.load_high_n),
                _n(op.started_s),
            ),
        )
        self._touch(c, op.at)
        return cur.rowcount == 1

    def _w_AddRep(self, c: Conn, op: AddRep, replay: bool) -> bool:
        set_id = self._set_id(c, op.set_index)
        if set_id is None:  # a rep outside any set that was stored: its set, with defaults
            self._w_BeginSet(c, BeginSet(op.set_index, at=op.at), replay)
            set_id = self._set_id(c, op.set_index)
        r = op.rep
        conflict = " ON CONFLICT (set_id, rep_index) DO NOTHING" if replay else ""
        row = c.execute(
            "INSERT INTO reps (set_id, rep_index, start_s, end_s, min_angle_deg, "
            "max_angle_deg, range_fraction, duration_s, tempo_ok, counted, hold_s, "
            "peak_force_n, form_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f"{conflict} RETURNING id",
            (
                set_id,
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
                _n(r.form_score),
            ),
        ).fetchone()
        if row is None:
            return False  # replayed: this rep is already stored
        for key in dict.fromkeys(r.faults):  # a fault counts once per rep
            c.execute("INSERT INTO rep_faults (rep_id, rule_key) VALUES (?, ?)", (row[0], key))
        self._touch(c, op.at)
        return True

    def _insert_once(
        self, c: Conn, replay: bool, table: str, values: dict, same: tuple[str, ...]
    ) -> bool:
        """Insert a row; a replay skips it when a row with the same ``same`` columns exists
        (these tables have no natural unique key, the time and kind make one; the columns are
        NOT NULL, so ``=`` finds it on both backends). One writer per session, so the check
        and the insert need no lock between them."""
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        if replay:
            where = " AND ".join(f"{k} = ?" for k in same)
            found = c.execute(
                f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", tuple(values[k] for k in same)
            ).fetchone()
            if found is not None:
                return False
        c.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return True

    def _w_AddCue(self, c: Conn, op: AddCue, replay: bool) -> bool:
        values = {"session_id": self.session_id, "t_s": op.t_s, "cue_key": op.key,
                  "cue_text": op.text, "severity": op.severity}  # fmt: skip
        return self._insert_once(c, replay, "cues", values, ("session_id", "t_s", "cue_key"))

    def _w_AddSafetyEvent(self, c: Conn, op: AddSafetyEvent, replay: bool) -> bool:
        values = {"session_id": self.session_id, "t_s": op.t_s, "kind": op.kind,
                  "message": op.message, "measured_value": _n(op.value),
                  "limit_value": _n(op.limit), "unit": op.unit}  # fmt: skip
        wrote = self._insert_once(c, replay, "safety_events", values, ("session_id", "t_s", "kind"))
        self._touch(c, op.at)
        return wrote

    def _w_AddTrace(self, c: Conn, op: AddTrace, replay: bool) -> bool:
        t = np.asarray(op.t, dtype=np.float64)
        t0 = float(t[0])
        values = {"session_id": self.session_id, "label": op.label, "unit": op.unit,
                  "t0_s": t0, "n_points": int(t.size), "t_data": traces.encode(t - t0),
                  "v_data": traces.encode(np.asarray(op.values))}  # fmt: skip
        return self._insert_once(c, replay, "traces", values, ("session_id", "label", "t0_s"))

    def _w_AddPainScore(self, c: Conn, op: AddPainScore, replay: bool) -> bool:
        values = {"patient_id": self._patient_id, "session_id": self.session_id,
                  "recorded_at": op.at, "moment": op.moment, "score": op.score}  # fmt: skip
        return self._insert_once(
            c, replay, "pain_scores", values, ("session_id", "moment", "recorded_at")
        )

    def _w_FinishSession(self, c: Conn, op: FinishSession, replay: bool) -> bool:
        # A replay finishes a session its writer's death had marked interrupted: the journal
        # proves it ended, and all its writes came before this one.
        cur = c.execute(
            "UPDATE sessions SET status = 'finished', ended_at = ?, end_reason = ?, "
            "notes = COALESCE(NULLIF(?, ''), notes) WHERE id = ? AND status != 'finished'",
            (op.at, op.end_reason, op.notes, self.session_id),
        )
        return cur.rowcount == 1

    def _w_AbandonSession(self, c: Conn, op: AbandonSession, replay: bool) -> bool:
        only = " AND status = 'active'" if replay else ""
        cur = c.execute(
            f"UPDATE sessions SET status = 'interrupted', ended_at = ?, end_reason = ? "
            f"WHERE id = ?{only}",
            (op.at, op.reason, self.session_id),
        )
        return cur.rowcount == 1


_ACTIONS = {
    "BeginSet": lambda op: f"start set {op.set_index}",
    "AddRep": lambda op: f"store rep {op.rep.index}",
    "AddCue": lambda op: f"store cue {op.key}",
    "AddSafetyEvent": lambda op: f"store safety event {op.kind}",
    "AddTrace": lambda op: f"store trace {op.label}",
    "AddPainScore": lambda op: "store pain score",
    "FinishSession": lambda op: "finish session",
    "AbandonSession": lambda op: "mark the session interrupted",
}
