-- An optional ledger of every event a projection applied (CSP_PROJECTION_LEDGER=on), written
-- in the same transaction as the read models and the offsets. No unique key on purpose: it is
-- the evidence the reliability checks count, so an event applied twice shows up as two rows.
CREATE TABLE projection_applied (
    consumer       text        NOT NULL,
    event_id       uuid        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL,
    event_type     text        NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);
