-- A CP plan's watch is now due the day before its nine months (the last day in time:
-- services/escalations/domain/rules.py), so its alert comes on the day the plan reaches nine
-- months, as the boards count it. Watches kept before fell due on that day: moved back one.
-- PostgreSQL adds months as add_months does (the 31st of a shorter month is its last day).
UPDATE drift_watch SET due = due - 1
 WHERE rule = 'cp_plan_9_months' AND due = (since + interval '9 months')::date;
