-- What the rule-driven escalations need to know, kept from other services' topics.

-- Sessions missed per child and day (from education-events AttendanceRecorded).
CREATE TABLE absence_days (
    child_id text    NOT NULL,
    day      date    NOT NULL,
    missed   integer NOT NULL,
    PRIMARY KEY (child_id, day)
);

-- What could drift (from case-events): open while the plan, proceedings or care leaver
-- record is open; `alerted` once a DriftAlertRaised was recorded for it.
CREATE TABLE drift_watch (
    child_id   text    NOT NULL,
    rule       text    NOT NULL,
    subject_id text    NOT NULL,
    since      date    NOT NULL,
    due        date    NOT NULL,
    open       boolean NOT NULL,
    alerted    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (child_id, rule, subject_id)
);

CREATE INDEX drift_watch_due ON drift_watch (due) WHERE open AND NOT alerted;
