-- A school's register marks a day's sessions in one feed or in two (the morning's and the
-- afternoon's apart), and a dual-registered pupil's days come from two schools: the absences
-- are kept a session of a school at a time, so a later feed adds to the day rather than
-- overwriting it. The days kept before are kept as they were, under no school and no session.
ALTER TABLE absence_days
    ADD COLUMN school_urn text NOT NULL DEFAULT '',
    ADD COLUMN session    text NOT NULL DEFAULT '';
ALTER TABLE absence_days DROP CONSTRAINT absence_days_pkey;
ALTER TABLE absence_days ADD PRIMARY KEY (child_id, day, school_urn, session);
ALTER TABLE absence_days ALTER COLUMN school_urn DROP DEFAULT, ALTER COLUMN session DROP DEFAULT;
