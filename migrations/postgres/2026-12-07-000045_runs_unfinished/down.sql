DROP INDEX runs_unfinished;
