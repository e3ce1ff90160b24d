-- The worker erases a child's key in its subscription's transaction (services/quality/
-- policies.py), where VACUUM cannot run: autovacuum removes the destroyed key's old row
-- version as soon as there is one dead row, within autovacuum_naptime (a minute).
ALTER TABLE child_keys SET (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0);
