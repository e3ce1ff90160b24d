-- Which build of the boards is live. Each build is a schema of its own (read models and
-- their tracking tables); a rebuild fills a new schema from offset 0 beside the live one,
-- then one UPDATE swaps them. The worker and the API follow this pointer.
CREATE TABLE board_builds (
    schema_name text        PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    live        boolean     NOT NULL DEFAULT false
);

CREATE UNIQUE INDEX board_builds_one_live ON board_builds (live) WHERE live;
