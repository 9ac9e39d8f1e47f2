-- The trace id of the event whose handling produced the action (NULL for rows from before
-- traces, or enqueued outside a step). Deliveries run inside a span with this id.
ALTER TABLE outbox ADD COLUMN trace TEXT;
CREATE INDEX outbox_trace ON outbox (trace) WHERE trace IS NOT NULL;
