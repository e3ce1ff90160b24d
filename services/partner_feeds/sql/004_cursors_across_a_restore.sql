-- An agency's cursor must not stand past messages kept after a restore. Restoring the cluster
-- to an earlier time (docs/operations.md, "The whole cluster back to a time"), or a failover
-- to a standby that had not every commit, takes the database back to that point and hands
-- transaction ids out again from there. The worker then shares again what came after it,
-- and shares what is new, under transaction ids an agency's cursor from before the restore
-- may already be past: that agency would never be served them.
--
-- Each such start is a new timeline of the cluster's WAL. So each message keeps the timeline
-- it was kept on, and a cursor the timeline it was given on. Every message kept on a later
-- timeline than a cursor's comes, in the commit order, after every message of the cursor's
-- timeline or before it that the restored copy holds (the copy's transaction ids are all
-- below those handed out after it). So a cursor from an earlier timeline is read on from
-- where it stands or, if that is further, from the last message the copy holds of its own
-- timeline or before: every message kept since the restore is served (those the agency had
-- been served before it again, under their message ids), none is missed.
--
-- Messages kept before this script are timeline 0, as are version 1 cursors (given before
-- it): every message kept after it is served to such a cursor.

-- The timeline this server writes WAL on: the first eight hex digits of its current WAL
-- file's name.
CREATE FUNCTION feed_timeline() RETURNS integer LANGUAGE sql VOLATILE AS $$
    SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer
$$;

ALTER TABLE partner_feed ADD COLUMN timeline integer NOT NULL DEFAULT 0;
ALTER TABLE partner_feed ALTER COLUMN timeline SET DEFAULT feed_timeline();

-- Where a cursor (its timeline and place) reads on from, on this server's timeline.
CREATE FUNCTION partner_feed_from(
    feed_agency text, after_timeline integer, after_transaction xid8, after_seq bigint
) RETURNS TABLE (timeline integer, transaction_id xid8, seq bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    now_on integer := feed_timeline();
    kept_transaction xid8;
    kept_seq bigint;
BEGIN
    IF after_timeline >= now_on OR (after_transaction, after_seq) = ('0'::xid8, 0::bigint) THEN
        RETURN QUERY SELECT now_on, after_transaction, after_seq;
        RETURN;
    END IF;
    SELECT f.transaction_id, f.seq INTO kept_transaction, kept_seq FROM partner_feed f
     WHERE f.agency = feed_agency AND f.timeline <= after_timeline
     ORDER BY f.transaction_id DESC, f.seq DESC LIMIT 1;
    IF kept_transaction IS NULL THEN  -- none of the cursor's timeline or before is kept
        RETURN QUERY SELECT now_on, '0'::xid8, 0::bigint;
    ELSIF (kept_transaction, kept_seq) < (after_transaction, after_seq) THEN
        RETURN QUERY SELECT now_on, kept_transaction, kept_seq;
    ELSE
        RETURN QUERY SELECT now_on, after_transaction, after_seq;
    END IF;
END $$;
