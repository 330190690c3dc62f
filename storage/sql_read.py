"""Reading sessions back into records (the same SQL for SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from storage import traces
from storage.errors import NotFound
from storage.records import (
    CueEvent,
    PainScore,
    RepRecord,
    SafetyEvent,
    SessionInfo,
    SessionRecord,
    SetRecord,
    TraceRecord,
)
from storage.sql_db import SqlDb
from storage.sql_db import from_sql as _f


def session_info(db: SqlDb, session_id: int) -> SessionInfo:
    rows = db.query(
        "SELECT s.id, p.code, s.exercise_id, s.started_at, s.status, s.side, s.ended_at, "
        "s.end_reason, s.source, s.machine_serial, s.programme_item_id, s.notes "
        "FROM sessions s JOIN patients p ON p.id = s.patient_id WHERE s.id = ?",
        (int(session_id),),
    )
    if not rows:
        raise NotFound(f"no session {session_id} in {db.path}", path=db.path)
    return SessionInfo(*rows[0])


def pain_rows(db: SqlDb, where: str, arg: int) -> tuple[PainScore, ...]:
    rows = db.query(
        f"SELECT score, moment, recorded_at, session_id, visit_id FROM pain_scores WHERE {where} "
        "ORDER BY recorded_at, id",
        (arg,),
    )
    return tuple(PainScore(float(r[0]), r[1], r[2], r[3], r[4]) for r in rows)


def load_session(db: SqlDb, session_id: int) -> SessionRecord:
    info = session_info(db, session_id)
    sid = info.id
    faults: dict[int, list[str]] = defaultdict(list)
    for rep_id, key in db.query(
        "SELECT f.rep_id, f.rule_key FROM rep_faults f JOIN reps r ON r.id = f.rep_id "
        "JOIN sets s ON s.id = r.set_id WHERE s.session_id = ? ORDER BY f.rep_id, f.rule_key",
        (sid,),
    ):
        faults[rep_id].append(key)
    reps: dict[int, list[RepRecord]] = defaultdict(list)
    for r in db.query(
        "SELECT r.id, r.set_id, r.rep_index, r.start_s, r.end_s, r.min_angle_deg, "
        "r.max_angle_deg, r.range_fraction, r.duration_s, r.tempo_ok, r.counted, r.hold_s, "
        "r.peak_force_n, r.form_score FROM reps r JOIN sets s ON s.id = r.set_id "
        "WHERE s.session_id = ? "
        "ORDER BY r.set_id, r.rep_index",
        (sid,),
    ):
        reps[r[1]].append(
            RepRecord(
                index=r[2],
                start_s=_f(r[3]),
                end_s=_f(r[4]),
                min_angle_deg=_f(r[5]),
                max_angle_deg=_f(r[6]),
                range_fraction=_f(r[7]),
                duration_s=_f(r[8]),
                tempo_ok=bool(r[9]),
                counted=bool(r[10]),
                faults=tuple(faults.get(r[0], ())),
                hold_s=_f(r[11]),
                peak_force_n=_f(r[12]),
                form_score=_f(r[13]),
            )
        )
    sets = tuple(
        SetRecord(
            index=r[1],
            target_reps=r[2],
            load_band_n=(_f(r[3]), _f(r[4])),
            started_s=_f(r[5]),
            reps=tuple(reps.get(r[0], ())),
        )
        for r in db.query(
            "SELECT id, set_index, target_reps, load_low_n, load_high_n, started_s FROM sets "
            "WHERE session_id = ? ORDER BY set_index",
            (sid,),
        )
    )
    cues = tuple(
        CueEvent(r[0], r[1], r[2], r[3])
        for r in db.query(
            "SELECT t_s, cue_key, cue_text, severity FROM cues WHERE session_id = ? "
            "ORDER BY t_s, id",
            (sid,),
        )
    )
    safety = tuple(
        SafetyEvent(r[0], r[1], r[2], _f(r[3]), _f(r[4]), r[5])
        for r in db.query(
            "SELECT t_s, kind, message, measured_value, limit_value, unit FROM safety_events "
            "WHERE session_id = ? ORDER BY t_s, id",
            (sid,),
        )
    )
    chunks: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for label, unit, t0, t_data, v_data in db.query(
        "SELECT label, unit, t0_s, t_data, v_data FROM traces WHERE session_id = ? "
        "ORDER BY label, t0_s, id",
        (sid,),
    ):
        chunks[(label, unit)].append((traces.decode(t_data) + t0, traces.decode(v_data)))
    trace_records = tuple(
        TraceRecord(
            label,
            unit,
            np.concatenate([c[0] for c in parts]).astype(np.float64),
            np.concatenate([c[1] for c in parts]),
        )
        for (label, unit), parts in chunks.items()
    )
    return SessionRecord(
        info=info,
        sets=sets,
        cues=cues,
        safety_events=safety,
        traces=trace_records,
        pain_scores=pain_rows(db, "session_id = ?", sid),
    )
