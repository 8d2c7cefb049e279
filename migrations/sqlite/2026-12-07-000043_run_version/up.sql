-- The agent version a run's latest delivery ran (set when it is claimed): its charge is priced by it, even
-- when the deployment was upgraded while the run was under way.
ALTER TABLE runs ADD COLUMN version TEXT;
