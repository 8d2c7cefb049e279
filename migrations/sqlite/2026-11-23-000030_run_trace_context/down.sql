ALTER TABLE runs DROP COLUMN tracestate;
ALTER TABLE runs DROP COLUMN traceparent;
