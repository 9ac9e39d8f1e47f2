-- Idempotent creation (a key per create) and transcript messages (an external id per message).
ALTER TABLE cases ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS cases_idempotency_key_idx ON cases (idempotency_key);
ALTER TABLE case_events ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS case_events_external_id_idx ON case_events (case_number, external_id);
