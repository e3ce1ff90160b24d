-- The live data-quality board of the statutory returns (services/projections/returns/
-- quality.py): which of the DfE's rules this collection year's SSDA903 and CIN census break,
-- child by child, kept up to date as events arrive. Read by GET /returns/quality.
--
-- A build's tables like the chronology's (010): a build made before this script gets them
-- empty when a worker starts (build_migrations), and the checker's first full check of the
-- county fills them. A rebuild touches every child again, so its build is checked whole.

-- The children to check again: the chronology projection upserts each child of a batch here,
-- in the batch's transaction (a child is never touched without its facts there to read); the
-- checker's sweep queues every child (`swept`), behind those events touched. `touched_at` is
-- when it began to wait on an event (kept while it waits, so a child touched again and again
-- is not put back in the queue); `mark` changes on every touch, so the checker deletes only
-- the rows it read, never a touch that came after.
CREATE SEQUENCE returns_touch_marks;

CREATE TABLE returns_touched (
    child_id   text        PRIMARY KEY,
    touched_at timestamptz NOT NULL DEFAULT now(),
    mark       bigint      NOT NULL DEFAULT nextval('returns_touch_marks'),
    swept      boolean     NOT NULL DEFAULT false
);

CREATE INDEX returns_touched_next ON returns_touched (swept, touched_at, child_id);

-- What the validators found: a row per rule broken, child, table and field. `child_id` NULL:
-- a rule of the council's whole return (a header's, or a count over every child), found by a
-- full check only. `known`: why the platform cannot pass the rule yet (returns/rules.py
-- NOT_YET), NULL for a rule it should pass. `found_at`: when the check first found it (kept
-- while the child still breaks the rule); `checked_at`: the last check that found it.
CREATE TABLE returns_issues (
    return_name text        NOT NULL,
    rule        text        NOT NULL,
    message     text        NOT NULL,
    child_id    text,
    locality    text,
    worker_id   text,
    table_name  text        NOT NULL,
    field       text        NOT NULL,
    known       text,
    found_at    timestamptz NOT NULL,
    checked_at  timestamptz NOT NULL
);

CREATE INDEX returns_issues_of_a_child ON returns_issues (child_id);

-- The checker's own state: one row. The collection year checked, when a check last wrote and
-- when the council's whole return was last checked (`county_at`), the validators' versions,
-- and why there is no board when there cannot be one (the validators are not installed) or
-- the last check failed.
CREATE TABLE returns_quality_state (
    id              boolean     PRIMARY KEY DEFAULT true CHECK (id),
    year            integer,
    checked_at      timestamptz,
    county_at       timestamptz,
    validators      jsonb       NOT NULL DEFAULT '{}',
    unavailable     text,
    last_error      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO returns_quality_state (id) VALUES (true);
