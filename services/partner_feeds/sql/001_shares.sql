-- The audit of every share with a partner agency: who received what, about whom, why, when.
-- Written in the same transaction as the consumed offsets, after the partner's topic has
-- acknowledged the message. Append-only: no UPDATE, DELETE or TRUNCATE.
CREATE TABLE shares (
    message_id      uuid        PRIMARY KEY,  -- per event and agency: a re-send is not a new share
    agency          text        NOT NULL,
    topic           text        NOT NULL,
    subject         text        NOT NULL,     -- the agency's pseudonym of the child
    child_id        text        NOT NULL,     -- the council's id, for the council's auditors only
    event_type      text        NOT NULL,
    source_event_id uuid        NOT NULL,
    fields          text[]      NOT NULL,     -- the fields the agency received
    purpose         text        NOT NULL,
    shared_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX shares_by_child ON shares (child_id, shared_at);
CREATE INDEX shares_by_agency ON shares (agency, shared_at);

CREATE FUNCTION shares_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the share audit is append-only: % is not allowed', TG_OP;
END $$;

CREATE TRIGGER shares_no_update_or_delete BEFORE UPDATE OR DELETE ON shares
    FOR EACH ROW EXECUTE FUNCTION shares_are_append_only();
CREATE TRIGGER shares_no_truncate BEFORE TRUNCATE ON shares
    FOR EACH STATEMENT EXECUTE FUNCTION shares_are_append_only();
