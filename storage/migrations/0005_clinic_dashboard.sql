-- Schema version 5: the clinic's live view and its therapists. Each station keeps one row of
-- station_status up to date a few times a second (a server also tells listeners at once, by
-- NOTIFY); the therapist dashboard signs therapists in against therapists and writes every
-- change it makes (and every patient file it hands out) to audit_log.

CREATE TABLE station_status (
    station TEXT PRIMARY KEY,               -- --station NAME, default the host name
    seq INTEGER NOT NULL,                   -- the station's publish counter since it started
    published_at TEXT NOT NULL,             -- UTC ISO 8601
    published_unix REAL NOT NULL,           -- the same, unix seconds (status-to-screen latency)
    host TEXT NOT NULL,
    pid INTEGER,
    patient_code TEXT,                      -- NULL: nobody signed in
    session_id INTEGER,                     -- NULL: the session is not stored
    exercise_id TEXT NOT NULL DEFAULT '',
    phase TEXT NOT NULL,                    -- session.snapshot.ScreenPhase, or 'idle'
    set_index INTEGER NOT NULL DEFAULT 0,
    sets_total INTEGER NOT NULL DEFAULT 0,
    rep_count INTEGER NOT NULL DEFAULT 0,
    reps_target INTEGER NOT NULL DEFAULT 0,
    cue_key TEXT NOT NULL DEFAULT '',
    cue_text TEXT NOT NULL DEFAULT '',
    cue_severity TEXT NOT NULL DEFAULT '',
    safety_stop INTEGER NOT NULL DEFAULT 0 CHECK (safety_stop IN (0, 1)),
    safety_kind TEXT NOT NULL DEFAULT '',
    pain_flag INTEGER CHECK (pain_flag IN (0, 1)),  -- NULL: pain not asked at this station
    camera_state TEXT NOT NULL DEFAULT 'off',       -- session.snapshot.SourceState
    machine_state TEXT NOT NULL DEFAULT 'off',
    storage_state TEXT NOT NULL DEFAULT 'ok'
);

CREATE TABLE therapists (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,              -- the account name a therapist signs in with
    password_record TEXT NOT NULL,          -- salted scrypt record, never the password
    failures INTEGER NOT NULL DEFAULT 0,
    lockouts INTEGER NOT NULL DEFAULT 0,
    locked_until REAL,                      -- unix time (s)
    last_failure REAL,                      -- unix time (s)
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,                       -- UTC ISO 8601
    therapist TEXT NOT NULL,                -- account name; '' before anyone signed in
    action TEXT NOT NULL,                   -- dashboard.audit.AuditAction
    patient_id INTEGER REFERENCES patients (id),
    detail TEXT NOT NULL DEFAULT '',        -- JSON: what changed, from what to what
    client TEXT NOT NULL DEFAULT ''         -- the browser's address as the dashboard saw it
);

CREATE INDEX audit_log_patient ON audit_log (patient_id);
