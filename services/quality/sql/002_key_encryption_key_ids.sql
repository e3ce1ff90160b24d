-- Which key-encryption key wrapped each child's key, so the KEK can be rotated online and a
-- retired one destroyed (services/case_events/personal.py, `rotate-keys`). NULL: wrapped
-- before KEKs had ids, by the first key (id "1").
ALTER TABLE child_keys ADD COLUMN kek_id text;
