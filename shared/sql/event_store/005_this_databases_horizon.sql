-- The horizon of 004 for any table of this database that is read in commit order, not for the
-- events alone: the partners' HTTP feed (services/partner_feeds/sql/003_*.sql) applies this
-- file too, and reads its own table below it. The argument that nothing is skipped is 004's:
-- the snapshot first, then this database's backends, then (in the caller's next statement,
-- so with a later snapshot) the rows below the horizon.
CREATE FUNCTION this_databases_horizon() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    snapshot pg_snapshot;
    oldest xid8;
BEGIN
    snapshot := pg_current_snapshot();
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN pg_snapshot_xmin(snapshot);
    END IF;
    PERFORM pg_stat_clear_snapshot();
    -- backend_xid is the 32-bit id; xip's are 64-bit (epoch and id): matched on the low half.
    SELECT min(x.xid) INTO oldest FROM pg_snapshot_xip(snapshot) AS x(xid)
     WHERE x.xid::text::bigint % 4294967296 IN (
            SELECT a.backend_xid::text::bigint FROM pg_stat_get_activity(NULL) AS a
             WHERE a.datid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND a.backend_xid IS NOT NULL
            UNION ALL
            SELECT p.transaction::text::bigint FROM pg_prepared_xacts AS p
             WHERE p.database = current_database());
    RETURN least(pg_snapshot_xmax(snapshot), oldest);
END $$;
