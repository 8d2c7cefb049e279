ALTER TABLE runs DROP COLUMN max_charge_micros;
ALTER TABLE orgs DROP COLUMN monthly_spend_cap_micros;
ALTER TABLE orgs DROP COLUMN monthly_run_quota;
