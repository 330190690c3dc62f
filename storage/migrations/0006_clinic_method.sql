-- Schema version 6: the clinic's method. A patient's sex and birth year (norms are by sex and
-- age), assessment runs with each test's result against its norm, the programme's progression
-- setting and each item's start angle and rest, visits with pain before and after and what
-- became of each item, and every change of dose with who, when and why.

ALTER TABLE patients ADD COLUMN sex TEXT CHECK (sex IN ('female', 'male'));  -- NULL: not recorded
ALTER TABLE patients ADD COLUMN birth_year INTEGER;                          -- NULL: not recorded

CREATE TABLE assessment_runs (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    protocol_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    device TEXT NOT NULL DEFAULT '',
    machine_serial TEXT NOT NULL DEFAULT '',
    norm_version TEXT NOT NULL DEFAULT '',  -- the norm file the results were compared with
    sex TEXT NOT NULL DEFAULT '',           -- as used for the norm lookup
    age_years INTEGER,
    status TEXT NOT NULL CHECK (status IN ('finished', 'stopped')),
    notes TEXT NOT NULL DEFAULT ''
);

CREATE TABLE assessment_results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES assessment_runs (id),
    test_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    unit TEXT NOT NULL,
    value REAL,                             -- NULL: could not be measured (reason says why)
    reason TEXT NOT NULL DEFAULT '',
    trials TEXT NOT NULL DEFAULT '[]',      -- JSON list of the counted trials' values
    rejected TEXT NOT NULL DEFAULT '[]',    -- JSON list of why each other trial did not count
    angle_deg REAL,
    direction TEXT NOT NULL DEFAULT '',
    side TEXT NOT NULL DEFAULT '',
    at_least INTEGER NOT NULL DEFAULT 0 CHECK (at_least IN (0, 1)),
    norm_test TEXT NOT NULL DEFAULT '',
    norm_mean REAL,
    norm_sd REAL,
    norm_low REAL,
    norm_high REAL,
    percent_of_norm REAL,
    z_score REAL,
    position TEXT NOT NULL DEFAULT 'unknown'
        CHECK (position IN ('below', 'within', 'above', 'unknown')),
    norm_source TEXT NOT NULL DEFAULT '',
    norm_verified INTEGER NOT NULL DEFAULT 0 CHECK (norm_verified IN (0, 1)),
    no_norm TEXT NOT NULL DEFAULT '',
    flag_note TEXT NOT NULL DEFAULT '',
    UNIQUE (run_id, test_id)
);

ALTER TABLE programmes ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE programmes ADD COLUMN auto_progress INTEGER NOT NULL DEFAULT 0
    CHECK (auto_progress IN (0, 1));
ALTER TABLE programmes ADD COLUMN assessment_run_id INTEGER REFERENCES assessment_runs (id);
ALTER TABLE programme_items ADD COLUMN start_deg REAL;  -- NULL: the exercise's own start
ALTER TABLE programme_items ADD COLUMN rest_s REAL;     -- NULL: the exercise's own rest
ALTER TABLE programme_items ADD COLUMN tested_max_n REAL;  -- the maximum the load band is a share of

CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    programme_id INTEGER REFERENCES programmes (id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    station TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('open', 'finished', 'abandoned')),
    flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    flag_reason TEXT NOT NULL DEFAULT ''
);

CREATE TABLE visit_items (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES visits (id),
    programme_item_id INTEGER REFERENCES programme_items (id),
    exercise_id TEXT NOT NULL,
    side TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('done', 'unfinished', 'skipped', 'stopped', 'not_here')),
    reason TEXT NOT NULL DEFAULT '',
    session_id INTEGER REFERENCES sessions (id),
    sets_done INTEGER NOT NULL DEFAULT 0,
    sets_target INTEGER NOT NULL DEFAULT 0,
    reps_done INTEGER NOT NULL DEFAULT 0,
    reps_target INTEGER NOT NULL DEFAULT 0,
    fault_reps INTEGER NOT NULL DEFAULT 0,
    hold_s REAL,
    UNIQUE (visit_id, position)
);

ALTER TABLE pain_scores ADD COLUMN visit_id INTEGER REFERENCES visits (id);

CREATE TABLE dose_changes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    visit_id INTEGER REFERENCES visits (id),
    programme_id INTEGER REFERENCES programmes (id),  -- the version it made, once applied
    exercise_id TEXT NOT NULL,
    side TEXT NOT NULL DEFAULT '',
    proposed_at TEXT NOT NULL,
    decided_at TEXT,
    decided_by TEXT NOT NULL DEFAULT '',    -- a therapist, or the rules when automatic
    decision TEXT NOT NULL
        CHECK (decision IN ('proposed', 'applied', 'declined', 'overridden', 'superseded')),
    action TEXT NOT NULL,                   -- progress, hold, step_back, set
    rule_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    dose_before TEXT NOT NULL,              -- JSON: sets, reps, hold, load band, range target
    dose_after TEXT NOT NULL
);

CREATE INDEX assessment_runs_by_patient ON assessment_runs (patient_id, started_at);
CREATE INDEX visits_by_patient ON visits (patient_id, started_at);
CREATE INDEX dose_changes_by_patient ON dose_changes (patient_id, proposed_at);
CREATE INDEX pain_by_visit ON pain_scores (visit_id);
