DROP INDEX runs_parent_run_id;
ALTER TABLE runs DROP COLUMN parent_run_id;
