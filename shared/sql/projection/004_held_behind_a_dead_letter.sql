-- A consumer applies each stream's events in order, or holds them. Once it has passed over an
-- event of a stream (dead-lettered it: `projection_dead_letters`), every later event of that
-- stream is held here, unapplied, with its message, in the transaction that moves the offsets
-- past it. A replay of the dead letter applies it and then the events held behind it, in their
-- order, in one transaction; skipping it (never to be applied: bad data corrected by a new
-- event) applies the held ones alone. Either marks them released and forgets their messages
-- (a runtime role never deletes). Before, the stream moved on past its dead letter, and a
-- replay applied an event after the ones that followed it: a partner was sent a child's older
-- message after newer ones, a board moved back.
CREATE TABLE projection_held (
    consumer       text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    message_offset bigint      NOT NULL,
    stream_id      text        NOT NULL,
    stream_version integer     NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    message        bytea,      -- null once released
    held_at        timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    PRIMARY KEY (consumer, topic, partition, message_offset)
);
CREATE INDEX projection_held_by_stream ON projection_held (consumer, topic, stream_id)
    WHERE released_at IS NULL;

-- Whether the dead letter holds its stream's later events: written by the runner that passes
-- over it. Those passed over before this script, or by a runner of the code before it still
-- running beside it, let their streams move on, and the events after them were applied: they
-- hold nothing (a replay of one applies it alone, as it did).
ALTER TABLE projection_dead_letters ADD COLUMN holds_stream boolean NOT NULL DEFAULT false;
-- Skipped, not replayed: `replayed_at` and `replayed_by` then say when and by whom.
ALTER TABLE projection_dead_letters ADD COLUMN skipped boolean NOT NULL DEFAULT false;
-- A batch looks up whether each of its streams is held: almost always none is.
CREATE INDEX projection_dead_letters_holding ON projection_dead_letters (consumer, topic, stream_id)
    WHERE holds_stream AND replayed_at IS NULL;
