-- Schema version 7: the form score of each rep (0-100: how close the rep came to the
-- exercise's reference movement over the judged angles); NULL where there was no reference.

ALTER TABLE reps ADD COLUMN form_score REAL CHECK (form_score >= 0 AND form_score <= 100);
