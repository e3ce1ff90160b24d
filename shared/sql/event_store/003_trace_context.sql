-- The trace context of the command that recorded each event (shared/tracing.py): the relay
-- publishes later, in batches, in another process, so the context the command ran in must be
-- kept with the event for the relay's span to join that command's trace. A JSON object of the
-- W3C headers (`traceparent`, and `tracestate` when there is one); NULL when tracing was off.
-- Beside the payload, never in it: it is about how the platform ran, not a fact, and it is
-- not published in the record's body (the relay sends its own span's context as headers).
-- Nullable with no default, so adding it rewrites no row (the events stay as recorded).
ALTER TABLE events ADD COLUMN trace_context jsonb;
