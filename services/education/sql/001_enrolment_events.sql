-- The school rolls the register feed is held to, read from the education event store itself:
-- each child's SchoolEnrolled and SchoolLeft events (services/education/routes/attendance.py
-- reads them for a whole feed in one query). A partial index keeps that read to those few
-- events, however many attendance days a child's stream has. The query's predicate must stay
-- the one below, or PostgreSQL will not use the index.
CREATE INDEX events_enrolments ON events (stream_id, stream_version)
    WHERE event_type IN ('SchoolEnrolled', 'SchoolLeft');
