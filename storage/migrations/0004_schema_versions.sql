-- Schema version 4: a table of the schema versions applied, kept the same way on every
-- backend (SQLite also keeps the version in PRAGMA user_version, which it reads before
-- anything else; a PostgreSQL server has only this table).

CREATE TABLE schema_versions (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT                     -- NULL: applied before this table existed
);

INSERT INTO schema_versions (version, name) VALUES
    (1, '0001_initial'),
    (2, '0002_machine_load_and_pain'),
    (3, '0003_patient_sign_in');
