-- Each subject's key (a child's, or a record's own), wrapped with the key-encryption key
-- so a copy of this database alone opens nothing. Erasure sets the wrapped key to NULL and
-- keeps the row as the record of when and why: the sealed fields in every event, topic and
-- backup then read as erased, and a key can never be made again for that child.
CREATE TABLE child_keys (
    child_id    text        PRIMARY KEY,
    wrapped_key bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    erased_by   text,
    CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);
