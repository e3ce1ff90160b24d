-- A child's chronology (services/projections/chronology): every fact from every service about
-- one child, a row per event, read by GET /children/{child_id}/chronology and its page.
--
-- Both times are kept, unlike the boards: "as at D" is what had happened by the end of D
-- (occurred_on <= D) AND what the platform had been told by then (recorded_at before the end
-- of D, London time), so a chronology as at a past day reads as it could have been read then.
--
-- Filled from offset 0 like every table of a build: a build made before this script gets the
-- table empty when a worker starts (build_migrations), and `make rebuild` fills it.

-- The children a chronology can be read for, each with its locality (the caller's localities
-- are checked against it): from the event that registered the child, born or unborn.
CREATE TABLE chronology_children (
    child_id text PRIMARY KEY,
    locality text NOT NULL
);

-- One row per event. `summary` is its constrained fields as a person reads them, `details`
-- the same as JSON (codes, days, numbers, ids), `sealed` the names of the sealed personal
-- fields it recorded: never a personal value, sealed or not, and never free text.
CREATE TABLE chronology (
    event_id       uuid        PRIMARY KEY,
    child_id       text        NOT NULL,
    occurred_on    date        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    service        text        NOT NULL,
    event_type     text        NOT NULL,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL,
    user_id        text        NOT NULL,
    agency         text        NOT NULL,
    role           text        NOT NULL,
    summary        text        NOT NULL,
    details        jsonb       NOT NULL,
    sealed         text[]      NOT NULL
);

CREATE INDEX chronology_of_a_child ON chronology (child_id, occurred_on);
