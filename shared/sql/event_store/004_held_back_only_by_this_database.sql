-- A reader of the commit order (the relay) is held back only by this database's transactions
-- still in flight, not by every transaction of the cluster.
--
-- `transaction_id < pg_snapshot_xmin(pg_current_snapshot())` (001) is safe but is the
-- cluster's horizon: every service's database shares one PostgreSQL, so a projection's batch,
-- a rebuild's batch of seconds or another service's append held back every relay of the
-- platform until it ended. Only a transaction of this database can write to this table, so
-- the horizon is the oldest of this database's transactions in flight, as at a snapshot:
--
-- 1. S1, a snapshot: every transaction id below its xmax is finished or in its xip list.
-- 2. A1, after S1: the transaction ids of this database's backends (and of its prepared
--    transactions) now. An id of xip(S1) still running is in A1; one not in A1 has finished.
-- 3. The horizon: the least of xmax(S1) and the ids of xip(S1) that A1 shows in this database.
--    Every transaction of this database below it has finished by A1.
-- 4. S2, a snapshot after A1, reads the rows below the horizon: every one of those
--    transactions is committed (its rows seen) or rolled back (none) in S2.
--
-- S2 must be taken after A1: one statement's scan uses a snapshot taken before anything in it
-- runs, so the horizon and the read are two statements of a VOLATILE function (each takes a new
-- snapshot under READ COMMITTED). pg_stat_clear_snapshot() first, so that A1 is not the
-- activity this transaction read earlier. Under REPEATABLE READ or SERIALIZABLE every
-- statement shares the transaction's snapshot, and the cluster's horizon of that snapshot
-- is used, as before. Every role may read backend_xid and datid of pg_stat_activity.
-- docs/architecture.md, "The global position"; tests/integration/test_event_store_postgres.py.
CREATE FUNCTION events_horizon() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $$
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

-- The events after a cursor (transaction_id, position) that are below the horizon, in the
-- commit order: the horizon in one statement, the read in the next (see above).
CREATE FUNCTION events_committed_after(after_transaction xid8, after_position bigint, max_rows integer)
RETURNS SETOF events LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    horizon xid8;
BEGIN
    horizon := events_horizon();
    RETURN QUERY SELECT * FROM events e
     WHERE (e.transaction_id, e.position) > (after_transaction, after_position)
       AND e.transaction_id < horizon
     ORDER BY e.transaction_id, e.position LIMIT max_rows;
END $$;
