-- The run that started this one over A2A, when the caller named it: a parent whose child ran an approved
-- remediation has remediated too. (No foreign key here: SQLite cannot drop a column that has one; the control
-- plane only stores the id of a run of the same org it has just read.)
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
CREATE INDEX runs_parent_run_id ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
