-- A care leaver's watch that the drift check closed because the duty had ended by its due day
-- (25: services/escalations/domain/rules.py `duty_ended`) is marked so. A contact or a
-- review entered late, dated before the watch's own `since`, must not open it again from that
-- older day: its due day would fall before 25 and raise an alert about a lapse that the later
-- contact already answered. An open watch refuses such a change; an ended one now does too.
ALTER TABLE drift_watch ADD COLUMN ended boolean NOT NULL DEFAULT false;
