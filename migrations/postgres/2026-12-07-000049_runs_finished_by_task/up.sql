-- A repeated report on a task finds the run that delivery finished by this index, not by reading every run.
CREATE INDEX runs_finished_by_task ON runs (finished_by_task) WHERE finished_by_task IS NOT NULL;
