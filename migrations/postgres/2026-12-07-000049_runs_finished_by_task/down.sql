DROP INDEX runs_finished_by_task;
