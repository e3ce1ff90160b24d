-- The relay is no longer woken by a trigger in every appending transaction. A transaction that
-- has sent NOTIFY takes a database-wide lock while it commits, so concurrent appends committed
-- one at a time: with 8 writers, appends measured 4,600/s with the trigger and 6,500/s without
-- (docs/performance.md). Writers now wake the relay themselves (shared/eventstore.py): an API
-- sends one NOTIFY after its commits, at most one in flight per process; a subscription
-- appending inside its own transaction still notifies in that transaction (one writer, no
-- contention). The relay also polls, so a lost notification only delays, never loses.
DROP TRIGGER events_appended ON events;
DROP FUNCTION events_notify();
