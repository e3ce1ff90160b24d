-- The event store of one service. Every service database gets this schema.
--
-- Optimistic concurrency: the primary key (stream_id, stream_version) lets exactly one of two
-- writers that expected the same version insert; the other gets a unique violation, which
-- the store turns into a typed ConcurrencyConflict (HTTP 409). No isolation-level tricks.
--
-- A global order that tailing readers can trust: `position` comes from a sequence, and a
-- sequence hands out numbers in the order transactions *start* their inserts, not the order
-- they *commit*. A reader that has seen position 10 could later find 9 committed. Instead of
-- serialising writers with a table lock (about 4x slower at 8 writers on 2 cores), every row
-- records the id of the transaction that wrote it, and readers only read rows whose
-- transaction id is below the oldest transaction still in flight
-- (pg_snapshot_xmin(pg_current_snapshot())). Every transaction below that horizon has
-- finished, so nothing can later commit behind a reader's cursor. The cursor is the pair
-- (transaction_id, position), and that pair is the platform's commit order.
-- See docs/architecture.md, "The global position".
CREATE TABLE events (
    position        bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version >= 1),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor           jsonb       NOT NULL,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    payload         jsonb       NOT NULL,
    PRIMARY KEY (stream_id, stream_version),
    UNIQUE (event_id)
);

CREATE INDEX events_commit_order ON events (transaction_id, position);

-- Facts are never edited or removed: corrections are new events. (Erasure of personal data
-- deletes per-subject keys elsewhere; it never touches this table.)
CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % is not allowed on the event store', TG_OP;
END $$;

CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();

-- Wake the relay when events commit (NOTIFY is delivered at commit, once per transaction).
-- The relay also polls, so a lost notification only delays, never loses.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_appended', '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_appended AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- Commands carry an idempotency key: integrations retry, and the same command delivered
-- twice must record one set of events. The key is inserted in the same transaction as the
-- events, so either both are recorded or neither is.
CREATE TABLE commands (
    idempotency_key text        PRIMARY KEY,
    request_hash    text        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Where the relay got to, per topic: the last (transaction_id, position) it saw acknowledged.
CREATE TABLE relay_checkpoints (
    topic          text        PRIMARY KEY,
    transaction_id xid8        NOT NULL,
    position       bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
