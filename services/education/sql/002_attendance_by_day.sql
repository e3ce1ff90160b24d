-- The register feed refuses marks already recorded from the same school (a true repeat: the
-- same child, date and session, from an earlier feed under another Idempotency-Key), and
-- reads them in the same query as the school rolls (services/education/routes/attendance.py).
-- A child's AttendanceRecorded events by day: `occurred_at` is the attendance date (at the
-- start of that day, UTC: DatedEvent takes its first date field), so a feed's few dates find
-- the few events recorded for them however long the child's stream is. The query's predicate
-- must stay the one below, or PostgreSQL will not use the index.
CREATE INDEX events_attendance_by_day ON events (stream_id, occurred_at)
    WHERE event_type = 'AttendanceRecorded';
