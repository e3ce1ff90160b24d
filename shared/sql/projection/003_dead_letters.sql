-- The messages a consumer passed over without applying them (it sent them to the dead-letter
-- topic: undecodable, or a handler failed), written in the transaction that stores the offsets
-- moving past them; and, once one is replayed (`python -m deploy.dead_letters replay`), when,
-- by whom and under which access-audit record, in the transaction that applies it. A replay
-- applies only a message with a row here not yet replayed: a message this consumer applied
-- after all (a retry after the dead-letter send succeeded), or dropped as a duplicate, has no
-- row, and a second replay finds `replayed_at` set. So each message is applied at most once.
CREATE TABLE projection_dead_letters (
    consumer         text        NOT NULL,
    topic            text        NOT NULL,
    partition        integer     NOT NULL,
    message_offset   bigint      NOT NULL,
    event_id         uuid,       -- null: the bytes were not an event's envelope
    event_type       text,
    stream_id        text,
    stream_version   integer,
    reason           text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    replayed_at      timestamptz,
    replayed_by      text,
    replay_audit_id  uuid,
    PRIMARY KEY (consumer, topic, partition, message_offset)
);
