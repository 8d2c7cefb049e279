-- The W3C trace context of the request that started the run (none when traces are off), handed to the
-- data plane with each of its tasks so one trace covers the request, the queue and the nodes.
ALTER TABLE runs ADD COLUMN traceparent text;
ALTER TABLE runs ADD COLUMN tracestate text;
