-- The boards' read model: created afresh in each build's schema (see board_builds).
--
-- World time, not recording time: "as at D" means the state of the child's record on day D
-- as the platform knows it now. Late records correct the past; the event log keeps when each
-- fact was learned (recorded_at) for anyone who needs to ask what was known then.

-- Children, from ChildRegistered: the population every board counts from.
CREATE TABLE children (
    child_id      text PRIMARY KEY,
    locality      text NOT NULL,
    date_of_birth date NOT NULL
);

-- Each attribute of a child over time: `value` holds from `valid_from` until the next row of
-- the same child and attribute (NULL value: no longer applies). `seq` (the source event's
-- stream version) orders two changes on the same day, so a rebuild orders them the same way.
CREATE TABLE child_facts (
    attribute  text    NOT NULL,
    child_id   text    NOT NULL,
    valid_from date    NOT NULL,
    seq        integer NOT NULL,
    value      text,
    PRIMARY KEY (attribute, child_id, valid_from, seq)
);

-- Things that happened on a day, counted by the boards (triage discussions, escalations,
-- dip samples, attendance days...). `subject_id` is the stream (child, family, escalation).
CREATE TABLE occurrences (
    kind       text    NOT NULL,
    subject_id text    NOT NULL,
    seq        integer NOT NULL,
    day        date    NOT NULL,
    a          text,
    b          text,
    n          integer,
    m          integer,
    PRIMARY KEY (kind, subject_id, seq)
);

CREATE INDEX occurrences_by_day ON occurrences (kind, day);
