ALTER TABLE audit_head DROP COLUMN prev_hash;
