-- An org's monthly limits (none: unlimited): runs it may start, and what it may spend, per UTC month.
ALTER TABLE orgs ADD COLUMN monthly_run_quota BIGINT;
ALTER TABLE orgs ADD COLUMN monthly_spend_cap_micros BIGINT;
-- The most a run may be charged, as its caller set it.
ALTER TABLE runs ADD COLUMN max_charge_micros BIGINT;
