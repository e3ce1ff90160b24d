-- Occurrences kept their details in four slots (a, b, n, m) whose meaning depended on the kind,
-- so `h.n == 1` meant "the dip sample agreed" only to someone who knew the mapping. Each detail
-- now has a column named for what it is; a kind leaves the others NULL.
--
--   kind                                   columns
--   referral                               source
--   triage                                 locality (of the discussion)
--   breach                                 breach, accommodation, age
--   attendance                             school_urn, sessions_attended, sessions_missed
--   dip_sample                             rating, moderated_to, agreed
--   escalation_raised, escalation_resolved reason, child_id (the child escalated)
--   ewo                                    (none)
--
-- Attendance is nearly every row, so its slots are renamed in place (no rewrite) and only the
-- few rows of the other kinds move to their own columns.

ALTER TABLE occurrences RENAME COLUMN a TO school_urn;
ALTER TABLE occurrences RENAME COLUMN n TO sessions_attended;
ALTER TABLE occurrences RENAME COLUMN m TO sessions_missed;
ALTER TABLE occurrences RENAME COLUMN b TO child_id;

ALTER TABLE occurrences
    ADD COLUMN source       text,
    ADD COLUMN locality     text,
    ADD COLUMN breach       text,
    ADD COLUMN accommodation text,
    ADD COLUMN age          integer,
    ADD COLUMN rating       text,
    ADD COLUMN moderated_to text,
    ADD COLUMN agreed       boolean,
    ADD COLUMN reason       text;

UPDATE occurrences SET source = school_urn, school_urn = NULL
 WHERE kind = 'referral';

UPDATE occurrences SET locality = school_urn, school_urn = NULL
 WHERE kind = 'triage';

UPDATE occurrences
   SET breach = school_urn, accommodation = child_id, age = sessions_attended,
       school_urn = NULL, child_id = NULL, sessions_attended = NULL
 WHERE kind = 'breach';

UPDATE occurrences
   SET rating = school_urn, moderated_to = child_id, agreed = sessions_attended = 1,
       school_urn = NULL, child_id = NULL, sessions_attended = NULL
 WHERE kind = 'dip_sample';

UPDATE occurrences SET reason = school_urn, school_urn = NULL
 WHERE kind IN ('escalation_raised', 'escalation_resolved');
