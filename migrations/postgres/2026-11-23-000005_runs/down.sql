DROP TABLE data_planes;
DROP TABLE run_events;
DROP TABLE tasks;
DROP TABLE runs;
