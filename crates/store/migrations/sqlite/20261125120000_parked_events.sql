-- flexcord-store: Twilio webhooks that arrived before their conversation's SID was recorded.
-- They wait here (in arrival order, `id`) until the creation result is applied, then are
-- replayed; rows older than the parking bound are dropped and reported.
CREATE TABLE parked_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sid        TEXT NOT NULL,
    event      TEXT NOT NULL,
    dedupe_key TEXT,
    parked_at  INTEGER NOT NULL,
    trace      TEXT
);
-- A Twilio retry of a parked webhook is parked once (NULL keys never conflict).
CREATE UNIQUE INDEX parked_events_dedupe_key ON parked_events (dedupe_key);
CREATE INDEX parked_events_sid ON parked_events (sid, id);
CREATE INDEX parked_events_parked_at ON parked_events (parked_at);
