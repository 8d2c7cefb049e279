-- The hash the head held before the last row: the one statement that appends a row advances the head and
-- returns the link it replaced, so the row can carry it as its previous hash.
ALTER TABLE audit_head ADD COLUMN prev_hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex');
