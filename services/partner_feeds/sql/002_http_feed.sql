-- The HTTP feed: every message sent to a partner's topic, as its record was sent (key, value,
-- headers), for agencies that read over HTTPS instead of Kafka (GET /feeds/{agency}).
-- Written by the worker in the transaction that records the share and the consumed offsets,
-- after the topic acknowledged the record: the feed holds what the topic holds, no more.
--
-- An agency pages through it with a cursor it keeps, and must never miss a message that
-- commits late. `seq` alone would not do: a sequence numbers rows as transactions insert
-- them, not as they commit, so a reader past 10 could later find 9. As in the event store
-- (shared/sql/event_store/001_event_store.sql), each row keeps the id of the transaction
-- that wrote it, readers read only below the oldest transaction still in flight
-- (pg_snapshot_xmin(pg_current_snapshot())), and the cursor is (transaction_id, seq).
CREATE TABLE partner_feed (
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    message_id      uuid        PRIMARY KEY REFERENCES shares (message_id),
    agency          text        NOT NULL,
    record_key      text        NOT NULL,  -- the record's key: the agency's pseudonym
    record_value    json        NOT NULL,  -- the record's value, the text exactly as sent
    record_headers  jsonb       NOT NULL,  -- name -> value, as sent
    shared_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX partner_feed_commit_order ON partner_feed (agency, transaction_id, seq);
CREATE INDEX partner_feed_by_age ON partner_feed (shared_at);

-- Where each agency's feed was cut by retention: the last place pruned. A cursor before it
-- may have missed messages (answered 410, never a silent gap).
CREATE TABLE partner_feed_expired (
    agency          text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    seq             bigint      NOT NULL,
    pruned_at       timestamptz NOT NULL DEFAULT now()
);

-- Kept as long as the partner topics keep their records (contracts/topics.py NINETY_DAYS;
-- tests/unit/test_partner_http_feed.py holds the two equal): a message no agency could still
-- read from Kafka is not kept for HTTP either. Nothing else is ever changed or removed.
CREATE FUNCTION partner_feed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.shared_at < now() - interval '90 days' THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the partner feed is append-only until retention: % is not allowed', TG_OP;
END $$;

CREATE TRIGGER partner_feed_append_only BEFORE UPDATE OR DELETE ON partner_feed
    FOR EACH ROW EXECUTE FUNCTION partner_feed_guard();
CREATE TRIGGER partner_feed_no_truncate BEFORE TRUNCATE ON partner_feed
    FOR EACH STATEMENT EXECUTE FUNCTION partner_feed_guard();

-- Retention, the one way rows leave: the runtime role may not DELETE (deploy/database.py
-- grants none), so the worker calls this, which runs as the table's owner and removes only
-- what the trigger above lets go, noting each agency's cut first. Returns the rows removed.
-- Whoever may call it (PUBLIC may execute functions) can do no more than retention would.
CREATE FUNCTION prune_partner_feed() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    removed bigint;
BEGIN
    INSERT INTO partner_feed_expired AS e (agency, transaction_id, seq)
    SELECT DISTINCT ON (agency) agency, transaction_id, seq FROM partner_feed
     WHERE shared_at < now() - interval '90 days'
     ORDER BY agency, transaction_id DESC, seq DESC
    ON CONFLICT (agency) DO UPDATE
       SET transaction_id = EXCLUDED.transaction_id, seq = EXCLUDED.seq, pruned_at = now()
     WHERE (e.transaction_id, e.seq) < (EXCLUDED.transaction_id, EXCLUDED.seq);
    DELETE FROM partner_feed WHERE shared_at < now() - interval '90 days';
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
