-- Dead letters an operator re-queued (`flexcord outbox retry`): one row per re-queue, the record
-- of what was retried, when and after which failure. Counted in the metrics; never pruned (a
-- handful of rows per incident).
CREATE TABLE outbox_retries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    reason     TEXT,
    retried_at BIGINT NOT NULL
);
CREATE INDEX outbox_retries_action ON outbox_retries (action_id);
-- Finished rows are pruned by age: find them without reading the unfinished ones.
CREATE INDEX outbox_done_at ON outbox (updated_at) WHERE state = 'done';
