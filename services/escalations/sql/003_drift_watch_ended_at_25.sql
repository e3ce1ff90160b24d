-- A care leaver's watch that the drift check closed because the duty had ended by its due day
-- (25: services/escalations/domain/rules.py `duty_ended`) is marked so. A contact or a
-- review entered late, dated before the watch's own `since`, must not open it again from that
-- older day: its due day would fall before 25 and raise an alert about a lapse that the later
-- contact already answered. An open watch refuses such a change; an ended one now does too.
ALTER TABLE drift_watch ADD COLUMN ended boolean NOT NULL DEFAULT false;

-- Those the check closed so before this script: closed, never alerted, a leaving-care rule,
-- due on or after the 25th birthday (PostgreSQL adds years as add_months does: a birthday on
-- 29 February is the 28th in a year without one).
UPDATE drift_watch w SET ended = true
  FROM known_children k
 WHERE k.child_id = w.child_id AND NOT w.open AND NOT w.alerted
   AND w.rule IN ('no_contact', 'pathway_plan_review_overdue')
   AND (k.date_of_birth + interval '25 years')::date <= w.due;
