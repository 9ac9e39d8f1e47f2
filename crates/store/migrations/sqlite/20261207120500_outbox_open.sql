-- The outbox's unfinished rows, by conversation and sequence: finding each conversation's next
-- deliverable row visits only these, however many finished rows the table holds.
CREATE INDEX outbox_open ON outbox (scope, seq) WHERE state IN ('pending', 'running');
