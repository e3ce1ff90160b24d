-- What a projection has consumed, kept in the same database and the same transaction as the
-- read models it builds, so that a read-model change and the offsets that produced it are
-- committed together or not at all. Kafka's own committed offsets are informational only.
-- `consumer` names a set of read models: a rebuild runs beside the live set under a new name.
CREATE TABLE projection_offsets (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- The last stream version applied per source stream. The relay may publish an event twice
-- (it re-publishes after a crash rather than skip); a version at or below this one is a
-- duplicate and has no effect.
CREATE TABLE projection_streams (
    consumer       text    NOT NULL,
    topic          text    NOT NULL,
    stream_id      text    NOT NULL,
    stream_version integer NOT NULL,
    PRIMARY KEY (consumer, topic, stream_id)
);
