-- The run that started this one over A2A, when the caller named it: a parent whose child ran an approved
-- remediation has remediated too.
ALTER TABLE runs ADD COLUMN parent_run_id uuid REFERENCES runs (id) ON DELETE SET NULL;
CREATE INDEX runs_parent_run_id ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
