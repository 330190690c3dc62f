-- Schema version 2: machine work (hold time and peak force per rep) and pain scores.

ALTER TABLE reps ADD COLUMN hold_s REAL;
ALTER TABLE reps ADD COLUMN peak_force_n REAL;

CREATE TABLE pain_scores (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    session_id INTEGER REFERENCES sessions (id),
    recorded_at TEXT NOT NULL,
    moment TEXT NOT NULL DEFAULT 'after'
        CHECK (moment IN ('before', 'during', 'after', 'assessment')),
    score REAL NOT NULL CHECK (score >= 0 AND score <= 10)
);

CREATE INDEX pain_by_patient ON pain_scores (patient_id, recorded_at);
