-- Schema version 3: kiosk sign-in. A patient proves who they are with a personal PIN the
-- therapist sets (a salted scrypt record, never the PIN); wrong tries lock that patient out
-- for longer each time; lock-outs are kept as alerts for the therapist.

ALTER TABLE patients ADD COLUMN pin_record TEXT;          -- NULL: cannot sign in at a kiosk
ALTER TABLE patients ADD COLUMN pin_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE patients ADD COLUMN pin_lockouts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE patients ADD COLUMN pin_locked_until REAL;    -- unix time (s)
ALTER TABLE patients ADD COLUMN pin_last_failure REAL;    -- unix time (s)

CREATE TABLE access_alerts (
    id INTEGER PRIMARY KEY,
    raised_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    patient_id INTEGER REFERENCES patients (id),
    station TEXT NOT NULL DEFAULT '',                     -- host name of the kiosk
    message TEXT NOT NULL
);
