"""Schema migrations: a database written by schema version 1 (frozen below as released)
opens in today's SpineCoach with its data intact; a failing migration changes nothing."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from session.snapshot import RepView
from storage import SchemaTooNew, StorageError, migrate, open_store
from storage.migrate import APPLICATION_ID, LATEST_VERSION, Migration

# A version-1 database with data, as `sqlite3 .dump` writes it. Frozen: never edit this to
# follow schema changes; it stands for files already in clinics.
V1_FIXTURE = """
BEGIN TRANSACTION;
CREATE TABLE assessments (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    assessed_at TEXT NOT NULL,
    exercise_id TEXT NOT NULL,
    side TEXT NOT NULL DEFAULT '',
    rom_deg REAL,
    max_force_n REAL,
    pain_free_rom_deg REAL,
    test_angle_deg REAL,
    notes TEXT NOT NULL DEFAULT ''
);
INSERT INTO "assessments" VALUES(1,1,'2026-03-02T09:05:00.000+00:00','squat','',72.5,NULL,60.0,
    NULL,'baseline');
CREATE TABLE calibrations (
    id INTEGER PRIMARY KEY,
    machine_serial TEXT NOT NULL,
    channel TEXT NOT NULL,
    offset_value REAL NOT NULL,
    scale_factor REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
INSERT INTO "calibrations" VALUES(1,'MX-0042','force',-3.5,1.02,'N',
    '2026-03-01T08:00:00.000+00:00');
CREATE TABLE cues (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    t_s REAL NOT NULL,
    cue_key TEXT NOT NULL,
    cue_text TEXT NOT NULL DEFAULT '',
    severity INTEGER NOT NULL
);
INSERT INTO "cues" VALUES(1,1,7.5,'squat.knee_valgus','Knees out',2);
CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,          -- pseudonymous code, the only exported identifier
    display_name TEXT,                  -- optional; never exported
    created_at TEXT NOT NULL
);
INSERT INTO "patients" VALUES(1,'LBP-017',NULL,'2026-03-02T09:00:00.000+00:00');
CREATE TABLE programme_items (
    id INTEGER PRIMARY KEY,
    programme_id INTEGER NOT NULL REFERENCES programmes (id),
    exercise_id TEXT NOT NULL,
    side TEXT NOT NULL DEFAULT '',
    sets INTEGER NOT NULL CHECK (sets > 0),
    reps INTEGER NOT NULL CHECK (reps > 0),
    tempo_s REAL,
    hold_s REAL,
    load_low_n REAL,
    load_high_n REAL,
    range_target_deg REAL,
    norm_rom_deg REAL,
    pain_free_limit_deg REAL
);
INSERT INTO "programme_items" VALUES(1,1,'squat','',2,3,4.5,NULL,NULL,NULL,90.0,110.0,NULL);
CREATE TABLE programmes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
INSERT INTO "programmes" VALUES(1,1,'phase 1','2026-03-02T09:10:00.000+00:00',1);
CREATE TABLE rep_faults (
    rep_id INTEGER NOT NULL REFERENCES reps (id),
    rule_key TEXT NOT NULL,
    PRIMARY KEY (rep_id, rule_key)
);
INSERT INTO "rep_faults" VALUES(2,'squat.knee_valgus');
INSERT INTO "rep_faults" VALUES(3,'squat.trunk_lean');
INSERT INTO "rep_faults" VALUES(3,'squat.knee_valgus');
CREATE TABLE reps (
    id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES sets (id),
    rep_index INTEGER NOT NULL,
    start_s REAL,
    end_s REAL,
    min_angle_deg REAL,
    max_angle_deg REAL,
    range_fraction REAL,
    duration_s REAL,
    tempo_ok INTEGER NOT NULL CHECK (tempo_ok IN (0, 1)),
    counted INTEGER NOT NULL CHECK (counted IN (0, 1)),
    UNIQUE (set_id, rep_index)
);
INSERT INTO "reps" VALUES(1,1,1,2.0,6.5,95.0,170.0,0.83,4.5,1,1);
INSERT INTO "reps" VALUES(2,1,2,7.0,11.2,88.0,171.0,0.92,4.2,1,1);
INSERT INTO "reps" VALUES(3,1,3,12.0,14.0,120.0,169.0,0.54,2.0,0,0);
CREATE TABLE safety_events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    measured_value REAL,
    limit_value REAL,
    unit TEXT NOT NULL DEFAULT ''
);
INSERT INTO "safety_events" VALUES(1,1,13.0,'pain_stop','patient pressed pain button',NULL,NULL,'');
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    programme_item_id INTEGER REFERENCES programme_items (id),
    exercise_id TEXT NOT NULL,
    side TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'finished', 'interrupted')),
    end_reason TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    machine_serial TEXT NOT NULL DEFAULT '',
    app_version TEXT NOT NULL DEFAULT '',
    writer_host TEXT NOT NULL DEFAULT '',   -- who wrote it: decides whether an active session
    writer_pid INTEGER,                     -- whose writer has died is "interrupted"
    last_activity_at TEXT,
    notes TEXT NOT NULL DEFAULT ''
);
INSERT INTO "sessions" VALUES(1,1,1,'squat','','2026-03-04T10:00:00.000+00:00',
    '2026-03-04T10:06:00.000+00:00','finished','completed','camera','','0.1.0','kiosk-1',4242,
    '2026-03-04T10:05:40.000+00:00','');
INSERT INTO "sessions" VALUES(2,1,1,'squat','','2026-03-06T10:00:00.000+00:00',NULL,'active','',
    'camera','','0.1.0','kiosk-1',4243,'2026-03-06T10:01:00.000+00:00','');
CREATE TABLE sets (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    set_index INTEGER NOT NULL,
    target_reps INTEGER NOT NULL DEFAULT 0,
    load_low_n REAL,
    load_high_n REAL,
    started_s REAL,
    UNIQUE (session_id, set_index)
);
INSERT INTO "sets" VALUES(1,1,1,3,NULL,NULL,2.0);
CREATE TABLE traces (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    label TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    t0_s REAL NOT NULL,
    n_points INTEGER NOT NULL,
    t_data BLOB NOT NULL,
    v_data BLOB NOT NULL
);
INSERT INTO "traces" VALUES(1,1,'knee angle','deg',2.0,4,X'000000000000003F0000803F0000C03F',
    X'00002A430000F0420000BE4200002843');
CREATE INDEX sessions_by_patient ON sessions (patient_id, started_at);
CREATE INDEX sessions_by_status ON sessions (status);
CREATE INDEX assessments_by_patient ON assessments (patient_id, assessed_at);
CREATE INDEX programmes_by_patient ON programmes (patient_id);
CREATE INDEX calibrations_by_machine ON calibrations (machine_serial, channel, created_at);
CREATE INDEX cues_by_session ON cues (session_id, t_s);
CREATE INDEX safety_by_session ON safety_events (session_id, t_s);
CREATE INDEX traces_by_session ON traces (session_id, label, t0_s);
COMMIT;"""


def _make_v1(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_FIXTURE)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def _schema(path: Path) -> dict[str, list[tuple]]:
    """Tables with their columns (name, type, not null, default, pk) and indexes."""
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        out = {n: conn.execute(f"PRAGMA table_info({n})").fetchall() for n in names}
        out["__indexes__"] = conn.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' "
            "AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name"
        ).fetchall()
        return out
    finally:
        conn.close()


def test_fixture_matches_the_released_version_1_migration(tmp_path: Path) -> None:
    # The shipped 0001 file must still produce exactly the schema clinics have on disk.
    fixture, fresh = tmp_path / "fixture.sqlite", tmp_path / "fresh.sqlite"
    _make_v1(fixture)
    conn = sqlite3.connect(fresh, isolation_level=None)
    assert migrate.migrate(conn, target=1) == [1]
    conn.close()
    assert _schema(fixture) == _schema(fresh)


def test_version_1_database_migrates_with_data_intact(tmp_path: Path) -> None:
    db = tmp_path / "clinic.sqlite"
    _make_v1(db)
    with open_store(db) as store:
        assert store.schema_version == LATEST_VERSION > 1
        assert store.get_patient("LBP-017").code == "LBP-017"
        sessions = store.sessions("LBP-017")
        # Left active on another kiosk months ago: stale, so interrupted.
        assert [s.status for s in sessions] == ["finished", "interrupted"]
        rec = store.load_session(1)
        assert [r.index for r in rec.reps] == [1, 2, 3]
        assert rec.reps[2].faults == ("squat.knee_valgus", "squat.trunk_lean")
        assert rec.reps[1].max_angle_deg == 171.0 and not rec.reps[2].counted
        assert math.isnan(rec.reps[0].peak_force_n)  # column added by v2: NaN, not 0
        assert rec.traces[0].values.tolist() == [170.0, 120.0, 95.0, 168.0]
        assert rec.traces[0].t.tolist() == [2.0, 2.5, 3.0, 3.5]
        assert rec.cues[0].text == "Knees out"
        assert store.programme("LBP-017")[0].norm_rom_deg == 110.0
        # What version 2 added works on the migrated file.
        w = store.begin_session("LBP-017", "lumbar_extension")
        w.add_rep(RepView(1, 0.0, 4.8, 0.0, 55.0, 0.9, 4.8, True, True), peak_force_n=120.0)
        w.add_pain_score(2)
        w.finish()
        assert store.load_session(w.session_id).reps[0].peak_force_n == 120.0
    # Same schema as a database created new today.
    fresh = tmp_path / "fresh.sqlite"
    open_store(fresh).close()
    assert _schema(db) == _schema(fresh)
    # The pre-migration copy is kept, owner-only, still at version 1.
    backup = tmp_path / "clinic.sqlite.v1.bak"
    assert backup.stat().st_mode & 0o777 == 0o600
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM reps").fetchone()[0] == 3
    conn.close()


def test_failing_migration_rolls_back_and_keeps_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "clinic.sqlite"
    _make_v1(db)
    good = migrate.migrations()
    broken = Migration(
        2, "0002_broken", "CREATE TABLE half_done (x INTEGER);\nALTER TABLE nowhere ADD y INT;"
    )
    monkeypatch.setattr(migrate, "migrations", lambda dialect=None: (good[0], broken))
    with pytest.raises(StorageError, match="migrate the schema from version 1") as err:
        open_store(db)
    assert str(db) in str(err.value)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables and "pain_scores" not in tables
    assert conn.execute("SELECT count(*) FROM reps").fetchone()[0] == 3
    conn.close()


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite"
    open_store(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST_VERSION + 5}"):
        open_store(db)
    assert db.read_bytes() == before


def test_migrations_are_numbered_without_gaps() -> None:
    ms = migrate.migrations()
    assert [m.version for m in ms] == list(range(1, LATEST_VERSION + 1))
    assert all(m.sql.strip() for m in ms)
