-- Schema version 1: patients, programmes, assessments, calibrations, sessions with sets, reps,
-- form faults, cues, safety events and downsampled traces.

CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,          -- pseudonymous code, the only exported identifier
    display_name TEXT,                  -- optional; never exported
    created_at TEXT NOT NULL
);

CREATE TABLE programmes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);

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

CREATE TABLE calibrations (
    id INTEGER PRIMARY KEY,
    machine_serial TEXT NOT NULL,
    channel TEXT NOT NULL,
    offset_value REAL NOT NULL,
    scale_factor REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

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

CREATE TABLE rep_faults (
    rep_id INTEGER NOT NULL REFERENCES reps (id),
    rule_key TEXT NOT NULL,
    PRIMARY KEY (rep_id, rule_key)
);

CREATE TABLE cues (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    t_s REAL NOT NULL,
    cue_key TEXT NOT NULL,
    cue_text TEXT NOT NULL DEFAULT '',
    severity INTEGER NOT NULL
);

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

-- Traces are stored in chunks (one per set or per flush): float32 little-endian arrays.
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

CREATE INDEX sessions_by_patient ON sessions (patient_id, started_at);
CREATE INDEX sessions_by_status ON sessions (status);
CREATE INDEX assessments_by_patient ON assessments (patient_id, assessed_at);
CREATE INDEX programmes_by_patient ON programmes (patient_id);
CREATE INDEX calibrations_by_machine ON calibrations (machine_serial, channel, created_at);
CREATE INDEX cues_by_session ON cues (session_id, t_s);
CREATE INDEX safety_by_session ON safety_events (session_id, t_s);
CREATE INDEX traces_by_session ON traces (session_id, label, t0_s);
