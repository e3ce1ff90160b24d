-- The HTTP feed is held back only by this database's transactions still in flight, as the
-- relay is (shared/sql/event_store/004_*.sql, whose argument holds here unchanged): not by
-- every transaction of the cluster, which 002's pg_snapshot_xmin(pg_current_snapshot()) was.
-- A rebuild's batch of seconds, or a projection's, in any other database held every agency's
-- page back until it ended.
--
-- The horizon (this_databases_horizon, shared/sql/event_store/005_*.sql, applied to this
-- database too) in one statement, the page in the next, so with a later snapshot.
CREATE FUNCTION partner_feed_page(
    feed_agency text, after_transaction xid8, after_seq bigint, max_rows integer
) RETURNS TABLE (
    txid bigint, seq bigint, record_key text, record_value json, record_headers jsonb,
    child_id text
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    horizon xid8;
BEGIN
    horizon := this_databases_horizon();
    RETURN QUERY SELECT f.transaction_id::text::bigint, f.seq, f.record_key, f.record_value,
                        f.record_headers, s.child_id
      FROM partner_feed f JOIN shares s USING (message_id)
     WHERE f.agency = feed_agency AND (f.transaction_id, f.seq) > (after_transaction, after_seq)
       AND f.transaction_id < horizon
     ORDER BY f.transaction_id, f.seq LIMIT max_rows;
END $$;
