-- Schema version 4 (PostgreSQL): the table of schema versions applied. It is how this
-- backend knows its version; a new database gets all versions in one transaction, so the
-- table appears together with the tables it describes.

CREATE TABLE schema_versions (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at text                     -- NULL: applied before this table existed
);

INSERT INTO schema_versions (version, name) VALUES
    (1, '0001_initial'),
    (2, '0002_machine_load_and_pain'),
    (3, '0003_patient_sign_in');
