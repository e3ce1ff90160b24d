-- The audit of every read of person-level data, and every information-governance action
-- (subject access, erasure): who, what, why, when. Every API writes here before it answers
-- (no audit, no answer). Append-only: no UPDATE, DELETE or TRUNCATE.
CREATE TABLE access_log (
    audit_id    uuid        PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id     text        NOT NULL,
    agency      text        NOT NULL,
    role        text        NOT NULL,
    service     text        NOT NULL,
    action      text        NOT NULL,   -- the endpoint, e.g. "GET /children/{child_id}"
    request     text        NOT NULL,   -- the path and query asked for
    child_ids   text[]      NOT NULL,   -- whose data was read (may be many: a list of plans)
    purpose     text        NOT NULL,   -- why (X-Purpose, or the role's lawful purpose)
    token_id    text
);

CREATE INDEX access_log_by_child ON access_log USING gin (child_ids);
CREATE INDEX access_log_by_time ON access_log (recorded_at);
CREATE INDEX access_log_by_user ON access_log (user_id, recorded_at);

CREATE FUNCTION access_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access audit is append-only: % is not allowed', TG_OP;
END $$;

CREATE TRIGGER access_log_no_update_or_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_is_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_append_only();
